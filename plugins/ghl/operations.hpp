#pragma once

// The shape of one GHL operation as the generated ops_*.cpp files declare it, and the list
// functions those files define. Declarations only: the behaviour is in rest_action.cpp and
// webhook.cpp.

#include <string>
#include <utility>
#include <vector>

#include "ferry/sdk/spec.hpp"

namespace ferry::plugins::ghl {

namespace sdk = ferry::sdk;

// Where an input field goes in the request.
enum class Place { Path, Query, Body };

// One REST operation: its public declaration plus where each input goes. An input named
// `locationId` is filled from the connection setting `location_id` when a flow omits it.
struct RestOperation {
  sdk::OperationSpec spec;
  std::vector<std::pair<std::string, Place>> placement;  // every input, in declaration order
  int successStatus = 200;                               // what the spec documents (200 or 201)
};

// One webhook event type: the trigger's declaration and the `type` value on the wire.
struct WebhookEventSpec {
  sdk::OperationSpec spec;
  std::string type;  // "ContactCreate", "INSTALL", ...
};

// Generated from the official specs by tools/gen_operations.py.
std::vector<RestOperation> contactsOperations();
std::vector<RestOperation> tasksOperations();
std::vector<RestOperation> notesOperations();
std::vector<RestOperation> contactLinksOperations();
std::vector<RestOperation> businessesOperations();
std::vector<RestOperation> locationsOperations();
std::vector<WebhookEventSpec> webhookEvents();

}  // namespace ferry::plugins::ghl

#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ferry/sdk/json.hpp"
#include "ferry/sdk/schema.hpp"

namespace ferry::sdk {

enum class OperationKind { Action, Trigger };

inline std::string_view kindName(OperationKind kind) {
  return kind == OperationKind::Action ? "action" : "trigger";
}

// How a trigger's events reach ferry.
enum class Delivery { None, Webhook, Poll };

inline std::string_view deliveryName(Delivery d) {
  switch (d) {
    case Delivery::Webhook: return "webhook";
    case Delivery::Poll: return "poll";
    case Delivery::None: return "none";
  }
  return "none";
}

// A worked example of an operation: an input that validates and the output it produces.
// The conformance suite validates both against the declared schemas.
struct Example {
  std::string title;
  Json input = Json::object();
  Json output = Json::object();
};

// The declaration of one operation. Everything ferry knows about an operation comes from here:
// flow validation, `ferry catalog`, `--help`, docs and conformance tests.
struct OperationSpec {
  std::string id;  // "<plugin>.<resource>.<verb>", lower snake case: "ghl.contact.upsert"
  OperationKind kind = OperationKind::Action;
  std::string summary;      // one line, imperative for actions ("Create or update a contact")
  std::string description;  // longer prose, optional
  Schema input;             // action: parameters; trigger: filters (`with:` in a flow)
  Schema output;            // action: result; trigger: the event's payload
  std::vector<std::string> scopes;  // scopes the credential needs, all of them
  std::vector<Example> examples;
  // Actions: the HTTP request the operation sends, for docs and contract tests ("POST",
  // "/contacts/upsert"). Empty for operations that are not one request.
  std::string method;
  std::string path;
  Delivery delivery = Delivery::None;  // triggers only
  // A dotted path into the output that names the record an event or result is about
  // ("id", "contactId"). Events with the same record key run in order.
  std::string recordKey;
  // Triggers only: every event is a full snapshot of the record its recordKey names, so of
  // several queued events of one record only the newest needs to run (the older ones are
  // superseded: "pending updates coalesce"). Leave false when events are facts of their own
  // (created, deleted, a note or a call keyed by its contact): those must each run.
  bool coalesce = false;
  bool deprecated = false;
};

// One way of authenticating a connection.
struct AuthScheme {
  std::string id;           // "private_token", "oauth2", "api_key"
  std::string description;
  Schema settings;          // settings of a connection using this scheme (secrets marked "secret")
};

// The whole declaration of a connector plugin.
struct ConnectorSpec {
  std::string id;           // lower snake case; the first part of every operation id
  std::string name;         // human name: "HighLevel"
  std::string version;      // semantic version of the plugin: "1.2.0"
  std::string description;
  std::string homepage;
  std::vector<AuthScheme> auth;
  Schema settings;          // connection-level settings common to every scheme (base URL, ...)
  std::vector<std::string> scopes;  // every scope any operation requires, with a description
  std::vector<OperationSpec> operations;

  const OperationSpec* find(std::string_view operationId) const {
    for (const auto& op : operations) {
      if (op.id == operationId) {
        return &op;
      }
    }
    return nullptr;
  }
};

}  // namespace ferry::sdk

#pragma once

// Each resource declares its operations in its own file; connector.cpp adds them all.

#include <vector>

#include "operation.hpp"

namespace ferry::plugins::umsatzio {

std::vector<ActionDecl> contactActions();      // contacts.cpp
std::vector<ActionDecl> dealActions();         // deals.cpp (deals, pipelines)
std::vector<ActionDecl> noteActions();         // notes.cpp
std::vector<ActionDecl> activityActions();     // activities.cpp (e-mail, calls, call types)
std::vector<ActionDecl> directoryActions();    // directory.cpp (cards, accounts, forms)
std::vector<ActionDecl> webhookActions();      // webhooks.cpp
std::vector<TriggerDecl> webhookTriggers();    // webhook_triggers.cpp
std::vector<TriggerDecl> pollingTriggers();    // polling_triggers.cpp

}  // namespace ferry::plugins::umsatzio

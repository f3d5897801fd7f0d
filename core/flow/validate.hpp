#pragma once

#include <vector>

#include "catalog/catalog.hpp"
#include "flow/config.hpp"
#include "flow/flow.hpp"

namespace ferry::core::flow {

// Checks parsed flows against the operations of the catalog and the connections of the config,
// all together (fallbacks may point from one flow to another): operations exist and have the
// right kind, inputs are known, required inputs are mapped (or defaulted, or filled from the
// connection's settings), mappings type-check against the trigger's event and the action's
// inputs, steps are read only after they ran, connections exist, belong to the operation's
// plugin and grant every scope it needs, fallbacks name known flows and form no cycle.
//
// Without a config (`config == nullptr`) connections and scopes are not checked. Annotates every
// expression with its static type. Pure: no network, no files. Appends to `diagnostics`.
void validate(std::vector<Flow>& flows, const catalog::Catalog& catalog, const Config* config,
              std::vector<Diagnostic>& diagnostics);

}  // namespace ferry::core::flow

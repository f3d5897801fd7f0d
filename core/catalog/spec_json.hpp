#pragma once

#include "ferry/sdk/json.hpp"
#include "ferry/sdk/spec.hpp"

namespace ferry::core::catalog {

// The stable JSON form of declarations, used by `--json` output and catalog/ files.
// Documented in docs/catalog-json.md; fields are only ever added.
sdk::Json fieldToJson(const sdk::Field& field);
sdk::Json schemaToJson(const sdk::Schema& schema);
sdk::Json operationToJson(const sdk::OperationSpec& op, bool full);
sdk::Json connectorToJson(const sdk::ConnectorSpec& spec, bool withOperations);

}  // namespace ferry::core::catalog

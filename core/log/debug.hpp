#pragma once

// Helpers for `--log-level debug` lines: cheap checks before building their fields, and a
// value's shape (types and keys, never the values) so that a debug line can describe a step's
// input without carrying any data or secret.

#include "ferry/sdk/context.hpp"

namespace ferry::core::log {

// Whether a line at `level` would be written (so its fields need not be built otherwise).
bool enabled(sdk::LogLevel level);

// {"email": "string", "tags": ["string"], "n": "number"}: objects keep their keys, arrays show
// their first element's shape and their length, every scalar becomes its type name. Deeper than
// four levels is "...".
sdk::Json shapeOf(const sdk::Json& value);

}  // namespace ferry::core::log

#pragma once

// The JSON value type that crosses the plugin boundary. nlohmann::json is header-only, so the
// host and every plugin compiled against the same SDK agree on its layout.
#include <nlohmann/json.hpp>

namespace ferry::sdk {

using Json = nlohmann::json;

}  // namespace ferry::sdk

#pragma once

#include <memory>

#include "ferry/sdk/sdk.hpp"

namespace hello {

// The Hello connector: one action, `hello.greeting.send`, which posts a greeting to a
// greetings service (POST {base_url}/greetings) and returns the id the service gave it.
std::unique_ptr<ferry::sdk::Connector> makeConnector();

}  // namespace hello

#pragma once

#include <string>

#include "engine/runtime_config.hpp"

namespace ferry::core::engine {

// The stable identity of one `ferry run` process: `worker_id` from ferry.yaml when set, else
// "<host name>:<12 hex digits of the state directory's absolute path>". The same config on the
// same host gets the same identity across restarts, so a restarted process can release the
// leases its crashed predecessor still holds (Store::releaseLeases). Two processes running at
// once must not share it: on one host they need different state directories or worker ids.
std::string workerIdentity(const RuntimeConfig& config);

}  // namespace ferry::core::engine

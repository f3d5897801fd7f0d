#pragma once

#include <memory>

#include "alerts/monitor.hpp"
#include "cli/runtime_setup.hpp"
#include "http/client.hpp"

namespace ferry::core::cli {

// The alert monitor of one `ferry run` (and the HTTP client it posts with).
struct AlertsRuntime {
  http::Client http;
  std::unique_ptr<alerts::Monitor> monitor;
};

// Starts the monitor of the config's `alerts:` rules over the runtime's store, metrics and
// connection secrets; null when there are no rules (and nothing to resolve). `previous`: the
// monitor before a reload; the new one takes over its firing alerts (Monitor::adopt), so
// alerts still firing are not announced again and those of removed rules resolve.
std::unique_ptr<AlertsRuntime> startAlerts(RuntimeSetup& rt, AlertsRuntime* previous = nullptr);

}  // namespace ferry::core::cli

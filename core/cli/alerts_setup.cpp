#include "cli/alerts_setup.hpp"

#include "log/log.hpp"

namespace ferry::core::cli {

std::unique_ptr<AlertsRuntime> startAlerts(RuntimeSetup& rt, AlertsRuntime* previous) {
  const auto& cfg = rt.config.alerts;
  alerts::Monitor* before = previous != nullptr ? previous->monitor.get() : nullptr;
  if (before != nullptr) {
    before->stop();
  }
  if (cfg.rules.empty() && (before == nullptr || before->firing().empty())) {
    return nullptr;
  }
  auto out = std::make_unique<AlertsRuntime>();
  alerts::Sources sources;
  sources.store = rt.store.get();
  sources.metrics = &rt.engine->metrics();
  // A connection's token expiry is its secret `expires_at` (Unix seconds), when it has one:
  // GHL's OAuth connections write it on every refresh.
  auto* credentials = rt.credentials.get();
  const auto config = rt.config;
  sources.tokenExpiries = [credentials, config] {
    std::map<std::string, std::int64_t> out;
    for (const auto& [name, c] : config.base.connections) {
      const auto rt = config.connections.find(name);
      secrets::ConnectionSecrets secrets(
          name, rt == config.connections.end() ? std::map<std::string, std::string>{}
                                               : rt->second.secretEnv,
          credentials);
      try {
        if (const auto at = secrets.get("expires_at"); at && !at->empty()) {
          out[name] = std::stoll(*at);
        }
      } catch (const std::exception&) {
        // No readable expiry: the `token` rule then watches refused calls only.
      }
    }
    return out;
  };
  out->monitor = std::make_unique<alerts::Monitor>(cfg, std::move(sources), out->http);
  if (before != nullptr) {
    out->monitor->adopt(*before);
  }
  out->monitor->start();
  log::write(sdk::LogLevel::Info, "Alert rules are watched.",
             {{"rules", cfg.rules.size()},
              {"interval_seconds", cfg.interval.count()},
              {"webhook", cfg.webhook.has_value()}});
  return out;
}

}  // namespace ferry::core::cli

#pragma once

// The `alerts:` section of ferry.yaml (docs/alerts.md): rules evaluated by `ferry run`, and
// where firing and resolved alerts are sent.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "flow/diagnostic.hpp"

namespace YAML {
class Node;
}

namespace ferry::core::alerts {

enum class RuleKind {
  DeadLetters,          // dead letters not yet replayed or discarded > threshold
  QueueAge,             // the oldest unfinished event is older than threshold seconds
  RateBudgetExhausted,  // a daily budget left <= threshold, or steps failed as `exhausted`
  Token,                // a token expires within expires_within, or steps failed as `auth`
  SyncDrift,            // ferry_sync_drift{flow} > threshold
};

// The name used in ferry.yaml and in notifications ("dead_letters", ...).
const char* kindName(RuleKind kind);

struct Rule {
  std::string name;  // unique; names the alert in notifications and metrics
  RuleKind kind = RuleKind::DeadLetters;
  double threshold = 0;
  std::string flow;        // SyncDrift, Token, RateBudgetExhausted: only this flow ("" = all)
  std::string connection;  // Token, RateBudgetExhausted: only this connection ("" = all)
  std::chrono::seconds window{900};          // failures counted over this long
  std::chrono::seconds expiresWithin{86400};  // Token: warn this long before expires_at
  std::string severity = "warning";           // "warning" or "critical"
  flow::Location at;
  bool operator==(const Rule&) const = default;
};

struct Webhook {
  std::string url;  // http:// or https://
  int maxAttempts = 5;
  std::chrono::milliseconds initialBackoff{500};
  std::chrono::milliseconds maxBackoff{30000};
  std::chrono::milliseconds timeout{5000};
  bool operator==(const Webhook&) const = default;
};

struct Config {
  std::chrono::seconds interval{30};  // how often `ferry run` evaluates the rules
  std::chrono::seconds repeat{0};     // re-send a firing alert this often; 0 = only on changes
  std::optional<Webhook> webhook;     // none: alerts go to the log only
  std::vector<Rule> rules;
  bool operator==(const Config&) const = default;
};

// Parses `alerts:`; every problem goes to `diagnostics` with its place (codes config_error,
// unknown_key, missing_key).
Config parseAlerts(const YAML::Node& node, const std::string& file,
                   std::vector<flow::Diagnostic>& diagnostics);

}  // namespace ferry::core::alerts

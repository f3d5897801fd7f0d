#include "alerts/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "flow/yaml_util.hpp"

namespace ferry::core::alerts {

namespace yaml = flow::yaml;

namespace {

struct Kind {
  std::string_view name;
  RuleKind kind;
};
constexpr Kind kKinds[] = {
    {"dead_letters", RuleKind::DeadLetters},
    {"queue_age", RuleKind::QueueAge},
    {"rate_budget_exhausted", RuleKind::RateBudgetExhausted},
    {"token", RuleKind::Token},
    {"sync_drift", RuleKind::SyncDrift},
};

struct Parser {
  const std::string& file;
  std::vector<flow::Diagnostic>& out;

  void error(const YAML::Node& node, const std::string& code, const std::string& message,
             const std::string& hint) {
    out.push_back({file, yaml::at(node), code, message, hint});
  }

  void keys(const YAML::Node& node, const std::string& where,
            std::initializer_list<std::string_view> allowed) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      const auto key = it->first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        error(it->first, "unknown_key", "unknown key '" + key + "' in " + where,
              "allowed keys: " + yaml::joined(allowed));
      }
    }
  }

  // A number from min to max, or nothing (and a diagnostic).
  std::optional<double> number(const YAML::Node& node, const char* key, double min, double max) {
    const auto n = node[key];
    if (!n) {
      return std::nullopt;
    }
    try {
      const auto v = n.as<double>();
      if (v < min || v > max) {
        throw std::out_of_range("range");
      }
      return v;
    } catch (const std::exception&) {
      error(n, "config_error",
            std::string("`") + key + ":` must be a number from " + std::to_string(long(min)) +
                " to " + std::to_string(long(max)),
            std::string("for example `") + key + ": " + std::to_string(long(min)) + "`");
      return std::nullopt;
    }
  }

  std::string text(const YAML::Node& node, const char* key) {
    const auto n = node[key];
    if (!n) {
      return "";
    }
    if (!n.IsScalar()) {
      error(n, "config_error", std::string("`") + key + ":` must be a single value",
            "write it on one line");
      return "";
    }
    return n.Scalar();
  }
};

}  // namespace

const char* kindName(RuleKind kind) {
  for (const auto& k : kKinds) {
    if (k.kind == kind) {
      return k.name.data();
    }
  }
  return "dead_letters";
}

Config parseAlerts(const YAML::Node& node, const std::string& file,
                   std::vector<flow::Diagnostic>& diagnostics) {
  Config cfg;
  Parser p{file, diagnostics};
  if (!node.IsMap()) {
    p.error(node, "config_error", "`alerts:` must be a mapping",
            "write `alerts: {webhook: {url: ...}, rules: [...]}` (docs/alerts.md)");
    return cfg;
  }
  p.keys(node, "alerts", {"interval_seconds", "repeat_seconds", "webhook", "rules"});
  if (auto v = p.number(node, "interval_seconds", 1, 86400)) {
    cfg.interval = std::chrono::seconds(static_cast<long>(*v));
  }
  if (auto v = p.number(node, "repeat_seconds", 0, 604800)) {
    cfg.repeat = std::chrono::seconds(static_cast<long>(*v));
  }
  if (auto w = node["webhook"]) {
    if (!w.IsMap()) {
      p.error(w, "config_error", "`alerts.webhook:` must be a mapping",
              "write `webhook: {url: https://alerts.example.com/ferry}`");
    } else {
      p.keys(w, "alerts.webhook",
             {"url", "max_attempts", "initial_backoff_ms", "max_backoff_ms", "timeout_ms"});
      Webhook hook;
      hook.url = p.text(w, "url");
      if (!w["url"]) {
        p.error(w, "missing_key", "`alerts.webhook` has no `url:`",
                "write the URL alerts are POSTed to: `url: https://alerts.example.com/ferry`");
      } else if (hook.url.rfind("http://", 0) != 0 && hook.url.rfind("https://", 0) != 0) {
        p.error(w["url"], "config_error", "'" + hook.url + "' is not an http(s) URL",
                "write `url: https://alerts.example.com/ferry`");
      }
      if (auto v = p.number(w, "max_attempts", 1, 20)) {
        hook.maxAttempts = static_cast<int>(*v);
      }
      if (auto v = p.number(w, "initial_backoff_ms", 1, 600000)) {
        hook.initialBackoff = std::chrono::milliseconds(static_cast<long>(*v));
      }
      if (auto v = p.number(w, "max_backoff_ms", 1, 3600000)) {
        hook.maxBackoff = std::chrono::milliseconds(static_cast<long>(*v));
      }
      if (auto v = p.number(w, "timeout_ms", 100, 600000)) {
        hook.timeout = std::chrono::milliseconds(static_cast<long>(*v));
      }
      cfg.webhook = hook;
    }
  }
  const auto rules = node["rules"];
  if (!rules) {
    return cfg;
  }
  if (!rules.IsSequence()) {
    p.error(rules, "config_error", "`alerts.rules:` must be a list",
            "write `rules: [{name: dead-letters, kind: dead_letters, threshold: 0}]`");
    return cfg;
  }
  std::set<std::string> names;
  for (const auto& r : rules) {
    if (!r.IsMap()) {
      p.error(r, "config_error", "an alert rule must be a mapping",
              "write `{name: dead-letters, kind: dead_letters, threshold: 0}`");
      continue;
    }
    p.keys(r, "an alert rule",
           {"name", "kind", "threshold", "flow", "connection", "window_seconds",
            "expires_within_seconds", "severity"});
    Rule rule;
    rule.at = yaml::at(r);
    rule.name = p.text(r, "name");
    if (!r["name"]) {
      p.error(r, "missing_key", "the alert rule has no `name:`",
              "name it: `name: dead-letters` (letters, digits, - and _)");
    } else if (rule.name.empty() ||
               !std::all_of(rule.name.begin(), rule.name.end(), [](unsigned char c) {
                 return std::isalnum(c) || c == '-' || c == '_';
               })) {
      p.error(r["name"], "config_error", "'" + rule.name + "' is not a valid alert name",
              "use letters, digits, - and _");
    } else if (!names.insert(rule.name).second) {
      p.error(r["name"], "config_error", "two alert rules are named '" + rule.name + "'",
              "give each rule its own name");
    }
    const auto kind = p.text(r, "kind");
    const auto found = std::find_if(std::begin(kKinds), std::end(kKinds),
                                    [&](const Kind& k) { return k.name == kind; });
    if (!r["kind"]) {
      p.error(r, "missing_key", "the alert rule '" + rule.name + "' has no `kind:`",
              "kinds: dead_letters, queue_age, rate_budget_exhausted, token, sync_drift");
    } else if (found == std::end(kKinds)) {
      p.error(r["kind"], "config_error", "'" + kind + "' is not an alert kind",
              "kinds: dead_letters, queue_age, rate_budget_exhausted, token, sync_drift");
    } else {
      rule.kind = found->kind;
    }
    if (auto v = p.number(r, "threshold", 0, 1e12)) {
      rule.threshold = *v;
    } else if (!r["threshold"] && rule.kind == RuleKind::QueueAge) {
      rule.threshold = 600;  // ten minutes
    }
    rule.flow = p.text(r, "flow");
    rule.connection = p.text(r, "connection");
    if (auto v = p.number(r, "window_seconds", 1, 604800)) {
      rule.window = std::chrono::seconds(static_cast<long>(*v));
    }
    if (auto v = p.number(r, "expires_within_seconds", 0, 31536000)) {
      rule.expiresWithin = std::chrono::seconds(static_cast<long>(*v));
    }
    if (r["severity"]) {
      rule.severity = p.text(r, "severity");
      if (rule.severity != "warning" && rule.severity != "critical") {
        p.error(r["severity"], "config_error",
                "'" + rule.severity + "' is not a severity", "write `warning` or `critical`");
      }
    }
    cfg.rules.push_back(std::move(rule));
  }
  return cfg;
}

}  // namespace ferry::core::alerts

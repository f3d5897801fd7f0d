#include "alerts/monitor.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <sstream>

#include "log/log.hpp"
#include "secrets/masker.hpp"

namespace ferry::core::alerts {

namespace {

using sdk::Json;
using namespace std::chrono_literals;

constexpr std::size_t kMaxUndelivered = 100;

std::string iso(Clock::time_point t) {
  const auto secs = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string key(const Alert& a) { return a.rule + metrics::renderLabels(a.labels); }

std::string number(double v) {
  std::ostringstream out;
  out.precision(12);
  out << v;
  return out.str();
}

std::string labelText(const metrics::Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    out += (out.empty() ? "" : ", ") + k + " '" + v + "'";
  }
  return out;
}

bool accepts(const std::string& filter, const metrics::Labels& labels, const char* label) {
  if (filter.empty()) {
    return true;
  }
  const auto it = labels.find(label);
  return it != labels.end() && it->second == filter;
}

Json alertJson(const Alert& a, const char* status, Clock::time_point startsAt,
               std::optional<Clock::time_point> endsAt) {
  Json j = {{"status", status},       {"alert", a.rule},          {"kind", kindName(a.kind)},
            {"severity", a.severity}, {"labels", a.labels},       {"value", a.value},
            {"threshold", a.threshold}, {"summary", a.summary},   {"starts_at", iso(startsAt)}};
  if (endsAt) {
    j["ends_at"] = iso(*endsAt);
  }
  return j;
}

}  // namespace

void reportSyncDrift(metrics::Registry& registry, const std::string& flow, double drifted) {
  registry
      .gauge("ferry_sync_drift",
             "Records the last sync cycle found missing, different or orphaned.",
             {{"flow", flow}})
      .set(drifted);
}

Monitor::Monitor(Config config, Sources sources, sdk::HttpClient& http)
    : config_(std::move(config)), sources_(std::move(sources)), http_(http) {
  started_ = sources_.clock();
  if (sources_.metrics != nullptr) {
    for (const auto& rule : config_.rules) {
      sources_.metrics
          ->gauge("ferry_alerts_firing", "Alerts of a rule firing now.", {{"alert", rule.name}})
          .set(0);
    }
  }
}

Monitor::~Monitor() { stop(); }

void Monitor::start() {
  thread_ = std::thread([this] {
    do {
      try {
        evaluateOnce();
      } catch (const std::exception& e) {
        log::write(sdk::LogLevel::Error, "The alert rules could not be evaluated; trying again.",
                   {{"error", secrets::Masker::global().maskText(e.what())}});
      }
    } while (sleepFor(std::chrono::duration_cast<std::chrono::milliseconds>(config_.interval)));
  });
}

void Monitor::stop() {
  {
    std::lock_guard lock(waitMutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool Monitor::sleepFor(std::chrono::milliseconds duration) {
  std::unique_lock lock(waitMutex_);
  return !wake_.wait_for(lock, duration, [this] { return stopping_; });
}

double Monitor::increase(const std::string& series, double value, Clock::time_point now,
                         std::chrono::seconds window) {
  auto& s = samples_[series];
  if (s.empty()) {
    s.emplace_back(started_, 0.0);  // counters start at 0 with the process
  }
  s.emplace_back(now, value);
  // Keep one sample at or before the window's start as the baseline.
  while (s.size() > 2 && s[1].first <= now - window) {
    s.pop_front();
  }
  return value - s.front().second;
}

std::vector<Alert> Monitor::evaluate(Clock::time_point now) {
  std::vector<Alert> out;
  std::optional<store::QueueStats> queue;
  auto queueStats = [&]() -> const std::optional<store::QueueStats>& {
    if (!queue && sources_.store != nullptr) {
      try {
        queue = sources_.store->queueStats();
      } catch (const store::StoreError& e) {
        log::write(sdk::LogLevel::Warn, "The alert rules could not read the queue.",
                   {{"error", e.what()}});
      }
    }
    return queue;
  };
  auto metric = [&](const char* name) {
    return sources_.metrics != nullptr ? sources_.metrics->values(name)
                                       : std::vector<metrics::Registry::Sample>{};
  };
  // Failures of `kind` per flow that grew within the rule's window.
  auto failures = [&](const Rule& rule, const char* kind, const char* what) {
    for (const auto& s : metric("ferry_steps_failed_total")) {
      if (s.labels.count("kind") == 0 || s.labels.at("kind") != kind ||
          !accepts(rule.flow, s.labels, "flow")) {
        continue;
      }
      const auto flow = s.labels.count("flow") != 0 ? s.labels.at("flow") : "";
      const double grew =
          increase(rule.name + "/" + metrics::renderLabels(s.labels), s.value, now, rule.window);
      if (grew > rule.threshold) {
        out.push_back({rule.name, rule.kind, rule.severity, {{"flow", flow}, {"reason", kind}},
                       grew, rule.threshold,
                       number(grew) + " step(s) of flow '" + flow + "' failed as '" + kind +
                           "' in the last " + std::to_string(rule.window.count()) + " s: " +
                           what});
      }
    }
  };
  const auto unixNow =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  for (const auto& rule : config_.rules) {
    switch (rule.kind) {
      case RuleKind::DeadLetters: {
        const auto& q = queueStats();
        if (q && static_cast<double>(q->dead) > rule.threshold) {
          out.push_back({rule.name, rule.kind, rule.severity, {}, static_cast<double>(q->dead),
                         rule.threshold,
                         std::to_string(q->dead) + " dead letter(s) wait for `ferry dlq` (more "
                                                   "than " + number(rule.threshold) + ")."});
        }
        break;
      }
      case RuleKind::QueueAge: {
        const auto& q = queueStats();
        if (q && q->oldestQueuedAt != 0) {
          const double age =
              static_cast<double>(
                  std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch())
                      .count() -
                  q->oldestQueuedAt) /
              1e6;
          if (age > rule.threshold) {
            out.push_back({rule.name, rule.kind, rule.severity, {}, std::floor(age),
                           rule.threshold,
                           "The oldest unfinished event has waited " + number(std::floor(age)) +
                               " s (more than " + number(rule.threshold) + " s)."});
          }
        }
        break;
      }
      case RuleKind::RateBudgetExhausted: {
        for (const auto& s : metric("ferry_rate_budget_daily_remaining")) {
          if (!accepts(rule.connection, s.labels, "connection") || s.value > rule.threshold) {
            continue;
          }
          out.push_back({rule.name, rule.kind, rule.severity, s.labels, s.value, rule.threshold,
                         "The daily rate budget of " + labelText(s.labels) + " is down to " +
                             number(s.value) + " call(s)."});
        }
        if (rule.connection.empty()) {
          failures(rule, "exhausted", "a daily budget is spent; they wait in the dead letters.");
        }
        break;
      }
      case RuleKind::Token: {
        if (sources_.tokenExpiries) {
          for (const auto& [connection, expiresAt] : sources_.tokenExpiries()) {
            if (!rule.connection.empty() && rule.connection != connection) {
              continue;
            }
            const auto left = expiresAt - unixNow;
            if (left < rule.expiresWithin.count()) {
              out.push_back(
                  {rule.name, rule.kind, rule.severity,
                   {{"connection", connection}, {"reason", left <= 0 ? "expired" : "expiring"}},
                   static_cast<double>(left), static_cast<double>(rule.expiresWithin.count()),
                   left <= 0 ? "The token of connection '" + connection + "' has expired."
                             : "The token of connection '" + connection + "' expires in " +
                                   std::to_string(left) + " s."});
            }
          }
        }
        if (rule.connection.empty()) {
          failures(rule, "auth", "the service refused the credential; renew it, then replay.");
        }
        break;
      }
      case RuleKind::SyncDrift: {
        for (const auto& s : metric("ferry_sync_drift")) {
          if (!accepts(rule.flow, s.labels, "flow") || s.value <= rule.threshold) {
            continue;
          }
          out.push_back({rule.name, rule.kind, rule.severity, s.labels, s.value, rule.threshold,
                         "The last sync cycle of " + labelText(s.labels) + " found " +
                             number(s.value) + " drifted record(s) (more than " +
                             number(rule.threshold) + ")."});
        }
        break;
      }
    }
  }
  return out;
}

void Monitor::evaluateOnce() {
  const auto now = sources_.clock();
  std::vector<Json> changes;
  {
    std::lock_guard lock(mutex_);
    const auto active = evaluate(now);
    std::map<std::string, int> perRule;
    std::map<std::string, bool> seen;
    for (const auto& a : active) {
      const auto k = key(a);
      seen[k] = true;
      ++perRule[a.rule];
      auto it = states_.find(k);
      if (it == states_.end()) {
        states_[k] = {a, now, now};
        changes.push_back(alertJson(a, "firing", now, std::nullopt));
        log::write(sdk::LogLevel::Warn, "An alert is firing.",
                   {{"alert", a.rule}, {"kind", kindName(a.kind)}, {"labels", a.labels},
                    {"value", a.value}, {"threshold", a.threshold}, {"summary", a.summary}});
        continue;
      }
      it->second.alert = a;
      if (config_.repeat.count() > 0 && now - it->second.lastSent >= config_.repeat) {
        it->second.lastSent = now;
        changes.push_back(alertJson(a, "firing", it->second.startsAt, std::nullopt));
      }
    }
    for (auto it = states_.begin(); it != states_.end();) {
      if (seen.count(it->first) != 0) {
        ++it;
        continue;
      }
      const auto& a = it->second.alert;
      changes.push_back(alertJson(a, "resolved", it->second.startsAt, now));
      log::write(sdk::LogLevel::Info, "An alert resolved.",
                 {{"alert", a.rule}, {"kind", kindName(a.kind)}, {"labels", a.labels}});
      it = states_.erase(it);
    }
    if (sources_.metrics != nullptr) {
      for (const auto& rule : config_.rules) {
        sources_.metrics
            ->gauge("ferry_alerts_firing", "Alerts of a rule firing now.", {{"alert", rule.name}})
            .set(perRule[rule.name]);
      }
    }
  }
  if (!config_.webhook) {
    return;
  }
  auto batch = std::move(undelivered_);
  undelivered_.clear();
  batch.insert(batch.end(), changes.begin(), changes.end());
  if (batch.empty()) {
    return;
  }
  bool anyFiring = false;
  for (const auto& a : batch) {
    anyFiring = anyFiring || a["status"] == "firing";
  }
  const Json body = {{"version", 1},
                     {"source", "ferry"},
                     {"status", anyFiring ? "firing" : "resolved"},
                     {"sent_at", iso(now)},
                     {"alerts", batch}};
  if (deliver(body)) {
    return;
  }
  if (batch.size() > kMaxUndelivered) {
    log::write(sdk::LogLevel::Error, "Old alert notifications were dropped after failed deliveries.",
               {{"dropped", batch.size() - kMaxUndelivered}});
    batch.erase(batch.begin(), batch.end() - static_cast<std::ptrdiff_t>(kMaxUndelivered));
  }
  undelivered_ = std::move(batch);
}

bool Monitor::deliver(const Json& body) {
  const auto& hook = *config_.webhook;
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = hook.url;
  request.headers = {{"Content-Type", "application/json"}, {"User-Agent", "ferry-alerts"}};
  request.body = body.dump();
  request.timeout = hook.timeout;
  auto backoff = hook.initialBackoff;
  std::string lastError;
  auto count = [&](const char* result) {
    if (sources_.metrics != nullptr) {
      sources_.metrics
          ->counter("ferry_alert_notifications_total",
                    "Alert notifications POSTed to the alert webhook, by result.",
                    {{"result", result}})
          .add();
    }
  };
  for (int attempt = 1; attempt <= hook.maxAttempts; ++attempt) {
    bool retryable = true;
    try {
      const auto response = http_.send(request);
      if (response.status >= 200 && response.status < 300) {
        count("delivered");
        return true;
      }
      lastError = "HTTP " + std::to_string(response.status);
      retryable = response.status >= 500 || response.status == 429 || response.status == 408;
    } catch (const std::exception& e) {
      lastError = e.what();
    }
    log::write(sdk::LogLevel::Warn, "An alert notification was not accepted.",
               {{"attempt", attempt}, {"of", hook.maxAttempts}, {"error", lastError}});
    if (!retryable || attempt == hook.maxAttempts || !sleepFor(backoff)) {
      break;
    }
    backoff = std::min(backoff * 2, hook.maxBackoff);
  }
  count("failed");
  log::write(sdk::LogLevel::Error,
             "Alert notifications could not be delivered; the next evaluation sends them again.",
             {{"alerts", body["alerts"].size()}, {"error", lastError}});
  return false;
}

void Monitor::adopt(Monitor& previous) {
  previous.stop();
  std::scoped_lock lock(mutex_, previous.mutex_);
  states_ = std::move(previous.states_);
  samples_ = std::move(previous.samples_);
  undelivered_ = std::move(previous.undelivered_);
  started_ = previous.started_;
  if (sources_.metrics == nullptr) {
    return;
  }
  for (const auto& old : previous.config_.rules) {
    const bool kept = std::any_of(config_.rules.begin(), config_.rules.end(),
                                  [&](const Rule& r) { return r.name == old.name; });
    if (!kept) {
      sources_.metrics
          ->gauge("ferry_alerts_firing", "Alerts of a rule firing now.", {{"alert", old.name}})
          .set(0);
    }
  }
}

std::vector<Alert> Monitor::firing() const {
  std::lock_guard lock(mutex_);
  std::vector<Alert> out;
  for (const auto& [k, s] : states_) {
    out.push_back(s.alert);
  }
  return out;
}

}  // namespace ferry::core::alerts

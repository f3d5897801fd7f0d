#pragma once

// The alert monitor of `ferry run`: evaluates the rules of `alerts:` every interval against the
// store and the metrics, and sends each change (firing, resolved) once to the log and to the
// webhook, with bounded retries. docs/alerts.md describes the rules and the JSON body.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerts/config.hpp"
#include "ferry/sdk/http.hpp"
#include "ferry/sdk/json.hpp"
#include "metrics/metrics.hpp"
#include "store/store.hpp"

namespace ferry::core::alerts {

using Clock = std::chrono::system_clock;

// Sets the gauge ferry_sync_drift{flow}: how many records the last sync cycle of `flow` found
// missing, different or orphaned. The sync cycle calls it; the `sync_drift` rule reads it.
void reportSyncDrift(metrics::Registry& registry, const std::string& flow, double drifted);

// One alert: a rule and the labels it holds for (one per flow, connection, ... it concerns).
struct Alert {
  std::string rule;
  RuleKind kind = RuleKind::DeadLetters;
  std::string severity;
  metrics::Labels labels;
  double value = 0;
  double threshold = 0;
  std::string summary;  // a sentence for humans
};

// Where the monitor reads the state it judges.
struct Sources {
  store::Store* store = nullptr;          // queue stats (dead letters, oldest queued event)
  metrics::Registry* metrics = nullptr;   // failures by kind, budgets, drift; also written to
  // Token expiry (Unix seconds) per connection that has one (the secret `expires_at`).
  std::function<std::map<std::string, std::int64_t>()> tokenExpiries;
  std::function<Clock::time_point()> clock = [] { return Clock::now(); };
};

class Monitor {
 public:
  Monitor(Config config, Sources sources, sdk::HttpClient& http);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Evaluates every config.interval on a thread of its own, the first time at once.
  void start();
  // Stops the thread; an evaluation or a delivery in progress ends at its next wait.
  void stop();

  // One evaluation: what holds now, and a notification of every change (and of repeats) to the
  // log and the webhook. Notifications that could not be delivered are carried to the next
  // evaluation (at most 100 kept). Called by the thread; tests call it directly.
  void evaluateOnce();

  // The alerts firing after the last evaluation.
  std::vector<Alert> firing() const;

  // Takes over what `previous` (a monitor of the rules before a reload) knew, so that a reload
  // neither announces again an alert that is still firing nor forgets one whose rule is gone
  // (it resolves at the next evaluation, and its gauge drops to 0): the firing alerts, the
  // counters' samples and the notifications not yet delivered. Stops `previous` first. Call
  // before start().
  void adopt(Monitor& previous);

 private:
  struct State {
    Alert alert;
    Clock::time_point startsAt;
    Clock::time_point lastSent;
  };
  std::vector<Alert> evaluate(Clock::time_point now);
  double increase(const std::string& series, double value, Clock::time_point now,
                  std::chrono::seconds window);
  bool deliver(const sdk::Json& body);
  bool sleepFor(std::chrono::milliseconds duration);  // false when stopped meanwhile

  Config config_;
  Sources sources_;
  sdk::HttpClient& http_;
  Clock::time_point started_;
  std::map<std::string, State> states_;  // key: rule + labels
  std::map<std::string, std::deque<std::pair<Clock::time_point, double>>> samples_;
  std::vector<sdk::Json> undelivered_;
  mutable std::mutex mutex_;
  std::mutex waitMutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ferry::core::alerts

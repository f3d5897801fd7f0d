#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ferry/sdk/context.hpp"

namespace ferry::core::engine {

using Clock = std::chrono::steady_clock;

// The in-process pacer for one (connection, bucket): never lets more than `limit` calls start
// within any window of `interval` (a sliding log, so it is safe whether the service counts in
// fixed or sliding windows), and obeys what the service reports: remaining 0 pauses the bucket
// until the interval has passed; a spent daily budget stops it until the reported reset.
// Thread-safe. With several processes the store's shared budget is consulted as well.
class RateBudget {
 public:
  RateBudget(long limit, std::chrono::milliseconds interval);

  // Reserves one call at `now`. Returns 0 when the call may start now (and counts it), else how
  // long to wait before asking again (nothing is counted).
  std::chrono::milliseconds reserve(Clock::time_point now);
  // Feeds the headers of a response received at `now`.
  void observe(const sdk::RateLimitReport& report, Clock::time_point now);

  long limit() const;
  // Calls still allowed in the current window at `now` (for /metrics).
  long available(Clock::time_point now);
  std::optional<long> dailyRemaining() const;

 private:
  void expire(Clock::time_point now);

  mutable std::mutex mutex_;
  long limit_;
  std::chrono::milliseconds interval_;
  std::deque<Clock::time_point> starts_;
  Clock::time_point pausedUntil_{};
  std::optional<long> dailyRemaining_;
};

// Every budget of the process, by connection and bucket. A bucket is created with the
// connection's configured limit the first time it is used.
class Budgets {
 public:
  RateBudget& get(const std::string& connection, const std::string& bucket, long limit,
                  std::chrono::milliseconds interval);
  template <class Fn>
  void forEach(Fn fn) {
    std::lock_guard lock(mutex_);
    for (auto& [key, budget] : budgets_) {
      fn(key.first, key.second, *budget);
    }
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<RateBudget>> budgets_;
};

}  // namespace ferry::core::engine

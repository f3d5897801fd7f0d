#include "engine/budget.hpp"

#include <algorithm>

#include "ferry/sdk/errors.hpp"

namespace ferry::core::engine {

namespace {
// Requests leave a little after we count them and arrive a little later still; a small
// margin on the window keeps our count at or under the service's.
constexpr std::chrono::milliseconds kMargin{150};
}  // namespace

RateBudget::RateBudget(long limit, std::chrono::milliseconds interval)
    : limit_(std::max(1L, limit)), interval_(interval) {}

void RateBudget::expire(Clock::time_point now) {
  while (!starts_.empty() && now - starts_.front() >= interval_ + kMargin) {
    starts_.pop_front();
  }
}

std::chrono::milliseconds RateBudget::reserve(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (dailyRemaining_ && *dailyRemaining_ <= 0 && now < pausedUntil_) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(pausedUntil_ - now);
  }
  if (now < pausedUntil_) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(pausedUntil_ - now) +
           std::chrono::milliseconds(1);
  }
  expire(now);
  if (static_cast<long>(starts_.size()) < limit_) {
    starts_.push_back(now);
    return std::chrono::milliseconds(0);
  }
  const auto freeAt = starts_.front() + interval_ + kMargin;
  return std::chrono::duration_cast<std::chrono::milliseconds>(freeAt - now) +
         std::chrono::milliseconds(1);
}

void RateBudget::observe(const sdk::RateLimitReport& report, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (report.limit && *report.limit > 0) {
    limit_ = *report.limit;
  }
  if (report.interval && report.interval->count() > 0) {
    // Capped like every upstream wait: a window of years would overflow `now + interval_`.
    interval_ = std::min(*report.interval, sdk::kMaxUpstreamWait);
  }
  if (report.dailyRemaining) {
    dailyRemaining_ = report.dailyRemaining;
    if (*report.dailyRemaining <= 0) {
      // The daily reset time is not reported reliably: look again in an hour.
      pausedUntil_ = std::max(pausedUntil_, now + std::chrono::hours(1));
      return;
    }
  }
  if (report.remaining && *report.remaining <= 0) {
    // (The header's "remaining 0 pauses the bucket until the interval has passed" holds when
    // someone else spends the budget too.)
    // When this process itself started a whole window's worth of calls within the last
    // interval, the service's count is ours: the log already holds the next call back until
    // the oldest of them has left the window (+ margin), which is when the service's window
    // (fixed or sliding, started at or after that call) has room again. Pausing a full
    // interval from now instead would idle the budget for as long as the window's calls took
    // to make. Otherwise someone else spends this budget too: wait out the whole interval.
    expire(now);
    if (static_cast<long>(starts_.size()) < limit_) {
      pausedUntil_ = std::max(pausedUntil_, now + interval_);
    }
  }
}

long RateBudget::limit() const {
  std::lock_guard lock(mutex_);
  return limit_;
}

long RateBudget::available(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  if (now < pausedUntil_) {
    return 0;
  }
  return std::max(0L, limit_ - static_cast<long>(starts_.size()));
}

std::optional<long> RateBudget::dailyRemaining() const {
  std::lock_guard lock(mutex_);
  return dailyRemaining_;
}

RateBudget& Budgets::get(const std::string& connection, const std::string& bucket, long limit,
                         std::chrono::milliseconds interval) {
  std::lock_guard lock(mutex_);
  auto& slot = budgets_[{connection, bucket}];
  if (!slot) {
    slot = std::make_unique<RateBudget>(limit, interval);
  }
  return *slot;
}

}  // namespace ferry::core::engine

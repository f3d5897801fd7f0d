#include "engine/retry.hpp"

#include <algorithm>
#include <cmath>

namespace ferry::core::engine {

RetryDecision decideRetry(const RetryPolicy& policy, int attempt, sdk::ErrorKind kind,
                          std::optional<std::chrono::milliseconds> retryAfter,
                          std::mt19937_64& rng) {
  RetryDecision d;
  if (!sdk::isRetryable(kind)) {
    d.reason = "permanent";
    return d;
  }
  if (attempt >= policy.maxAttempts) {
    d.reason = "attempts_exhausted";
    return d;
  }
  const double ceiling =
      std::min(static_cast<double>(policy.max.count()),
               static_cast<double>(policy.initial.count()) *
                   std::pow(policy.multiplier, static_cast<double>(std::max(0, attempt - 1))));
  // Full jitter: a uniform wait in [ceiling/2, ceiling] keeps retries apart without ever
  // retrying immediately.
  std::uniform_real_distribution<double> jitter(ceiling / 2, ceiling);
  auto delay = std::chrono::milliseconds(static_cast<long>(jitter(rng)));
  // Whatever a plugin reports: a negative wait is none, and no upstream wait exceeds
  // sdk::kMaxUpstreamWait (the caller adds the delay to a clock, which a huge one overflows).
  if (retryAfter) {
    retryAfter = std::clamp(*retryAfter, std::chrono::milliseconds(0), sdk::kMaxUpstreamWait);
  }
  if (retryAfter && *retryAfter > delay) {
    delay = *retryAfter;
  }
  d.retry = true;
  d.delay = std::min(delay, std::max(policy.max, retryAfter.value_or(policy.max)));
  d.reason = "retryable";
  return d;
}

}  // namespace ferry::core::engine

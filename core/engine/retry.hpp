#pragma once

#include <chrono>
#include <optional>
#include <random>

#include "ferry/sdk/errors.hpp"

namespace ferry::core::engine {

// How a step is retried after a transient failure. Read from a flow's `on_error: retry` policy
// or the config's limits.
struct RetryPolicy {
  int maxAttempts = 8;                                  // including the first
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{5 * 60 * 1000};
  double multiplier = 2.0;
  bool operator==(const RetryPolicy&) const = default;
};

// What to do after attempt number `attempt` (1-based) failed.
struct RetryDecision {
  bool retry = false;
  std::chrono::milliseconds delay{0};
  const char* reason = "";  // "retryable", "permanent", "attempts_exhausted"
};

// Exponential backoff with full jitter, honouring the upstream's own wait (Retry-After,
// X-RateLimit-Interval-Milliseconds) as a floor. Permanent kinds are never retried.
// Pure apart from the random source; thread-compatible.
RetryDecision decideRetry(const RetryPolicy& policy, int attempt, sdk::ErrorKind kind,
                          std::optional<std::chrono::milliseconds> retryAfter,
                          std::mt19937_64& rng);

}  // namespace ferry::core::engine

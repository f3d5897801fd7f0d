#include "engine/retry.hpp"

#include <gtest/gtest.h>

namespace ferry::core::engine {
namespace {

using namespace std::chrono_literals;

TEST(Retry, PermanentFailuresAreNotRetried) {
  std::mt19937_64 rng(1);
  for (auto kind : {sdk::ErrorKind::Auth, sdk::ErrorKind::Scope, sdk::ErrorKind::Invalid,
                    sdk::ErrorKind::NotFound, sdk::ErrorKind::Exhausted,
                    sdk::ErrorKind::Permanent}) {
    const auto d = decideRetry({}, 1, kind, std::nullopt, rng);
    EXPECT_FALSE(d.retry) << sdk::errorKindName(kind);
    EXPECT_STREQ(d.reason, "permanent");
  }
}

TEST(Retry, BackoffGrowsWithinJitterBoundsAndStopsAtTheLimit) {
  std::mt19937_64 rng(7);
  RetryPolicy p;
  p.maxAttempts = 5;
  p.initial = 100ms;
  p.max = 10s;
  for (int attempt = 1; attempt < 5; ++attempt) {
    const double ceiling = 100.0 * (1 << (attempt - 1));
    for (int i = 0; i < 50; ++i) {
      const auto d = decideRetry(p, attempt, sdk::ErrorKind::Transient, std::nullopt, rng);
      ASSERT_TRUE(d.retry);
      EXPECT_GE(d.delay.count(), static_cast<long>(ceiling / 2) - 1);
      EXPECT_LE(d.delay.count(), static_cast<long>(ceiling));
    }
  }
  const auto last = decideRetry(p, 5, sdk::ErrorKind::Transient, std::nullopt, rng);
  EXPECT_FALSE(last.retry);
  EXPECT_STREQ(last.reason, "attempts_exhausted");
}

TEST(Retry, TheUpstreamWaitIsAFloor) {
  std::mt19937_64 rng(3);
  const auto d = decideRetry({}, 1, sdk::ErrorKind::RateLimited, 9000ms, rng);
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.delay, 9000ms);
}

// The engine bounds what any plugin reports (ours parse with sdk::upstreamWait; a third-party
// one may hand over anything): at most sdk::kMaxUpstreamWait, and a negative wait is none.
TEST(Retry, AnUpstreamWaitIsBoundedWhateverThePluginSays) {
  std::mt19937_64 rng(3);
  auto d = decideRetry({}, 1, sdk::ErrorKind::RateLimited, std::chrono::milliseconds::max(), rng);
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.delay, sdk::kMaxUpstreamWait);
  d = decideRetry({}, 1, sdk::ErrorKind::RateLimited, -5000ms, rng);
  ASSERT_TRUE(d.retry);
  EXPECT_GE(d.delay, 250ms);  // the policy's own first backoff, [initial/2, initial]
  EXPECT_LE(d.delay, 500ms);
}

TEST(Retry, TheCapHolds) {
  std::mt19937_64 rng(3);
  RetryPolicy p;
  p.maxAttempts = 100;
  p.max = 2s;
  const auto d = decideRetry(p, 40, sdk::ErrorKind::Transient, std::nullopt, rng);
  EXPECT_LE(d.delay, 2s);
  EXPECT_GE(d.delay, 1s);
}

}  // namespace
}  // namespace ferry::core::engine

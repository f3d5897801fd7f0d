#include "engine/budget.hpp"

#include <gtest/gtest.h>

#include <random>

#include "ferry/sdk/errors.hpp"

namespace ferry::core::engine {
namespace {

using namespace std::chrono_literals;

TEST(RateBudget, NeverExceedsTheLimitInAnyWindow) {
  RateBudget budget(100, 10s);
  const auto t0 = Clock::time_point{} + 1h;
  std::vector<Clock::time_point> granted;
  std::mt19937_64 rng(5);
  auto now = t0;
  // A simulated minute of eager callers, each retrying when told to wait.
  while (now < t0 + 60s) {
    const auto wait = budget.reserve(now);
    if (wait == 0ms) {
      granted.push_back(now);
      now += std::chrono::milliseconds(rng() % 20);
    } else {
      now += wait;
    }
  }
  for (std::size_t i = 0; i < granted.size(); ++i) {
    std::size_t inWindow = 0;
    for (std::size_t j = i; j < granted.size() && granted[j] - granted[i] < 10s; ++j) {
      ++inWindow;
    }
    ASSERT_LE(inWindow, 100u) << "window starting at call " << i;
  }
  // And it does not leave the budget idle: close to 100 per 10 s over a minute.
  EXPECT_GE(granted.size(), 570u);
}

TEST(RateBudget, RemainingZeroPausesForTheInterval) {
  RateBudget budget(100, 10s);
  const auto t0 = Clock::time_point{} + 1h;
  sdk::RateLimitReport report;
  report.remaining = 0;
  report.interval = 10000ms;
  budget.observe(report, t0);
  EXPECT_GT(budget.reserve(t0 + 1s), 8s);
  EXPECT_EQ(budget.reserve(t0 + 10s + 1ms), 0ms);
}

// A reported interval of centuries (a plugin passing an upstream header on unchecked) is capped
// at sdk::kMaxUpstreamWait: `now + interval` would overflow the clock's nanoseconds.
TEST(RateBudget, AnAbsurdIntervalIsCappedAtTheLongestUpstreamWait) {
  RateBudget budget(100, 10s);
  const auto t0 = Clock::time_point{} + 1h;
  sdk::RateLimitReport report;
  report.remaining = 0;
  report.interval = std::chrono::milliseconds(std::chrono::milliseconds::max());
  budget.observe(report, t0);
  EXPECT_GT(budget.reserve(t0 + 1s), 59min);
  EXPECT_EQ(budget.reserve(t0 + sdk::kMaxUpstreamWait + 1ms), 0ms);
}

// A service that says "0 left" after this process's own 100 calls: the next call waits only
// until the oldest of them leaves the window (+ margin), not a whole interval from the report
// (that idled the budget for as long as the 100 calls had taken to make).
TEST(RateBudget, RemainingZeroAfterItsOwnFullWindowWaitsOnlyForTheLog) {
  RateBudget budget(100, 10s);
  const auto t0 = Clock::time_point{} + 1h;
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(budget.reserve(t0 + i * 50ms), 0ms) << "call " << i;
  }
  const auto last = t0 + 99 * 50ms;
  sdk::RateLimitReport report;
  report.remaining = 0;
  report.interval = 10000ms;
  budget.observe(report, last + 20ms);
  // Still full: the first slot frees once call 0 is an interval and the margin old.
  EXPECT_GT(budget.reserve(t0 + 10s), 0ms);
  const auto firstFree = t0 + 10s + budget.reserve(t0 + 10s);
  EXPECT_LE(firstFree, t0 + 10s + 200ms);
  EXPECT_EQ(budget.reserve(firstFree), 0ms);
  // Never more than 100 in any interval: the next slot is call 1's.
  EXPECT_GT(budget.reserve(firstFree), 0ms);
  EXPECT_EQ(budget.reserve(t0 + 50ms + 10s + 200ms), 0ms);
}

// Fewer calls of its own than the service counts: someone else spends the budget too, so the
// report alone says when there is room again: a whole interval from now.
TEST(RateBudget, RemainingZeroWithFewOwnCallsPausesForTheInterval) {
  RateBudget budget(100, 10s);
  const auto t0 = Clock::time_point{} + 1h;
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(budget.reserve(t0 + i * 10ms), 0ms);
  }
  sdk::RateLimitReport report;
  report.remaining = 0;
  budget.observe(report, t0 + 1s);
  EXPECT_GT(budget.reserve(t0 + 10s + 500ms), 0ms);
  EXPECT_EQ(budget.reserve(t0 + 11s + 1ms), 0ms);
}

TEST(RateBudget, HeadersUpdateTheLimit) {
  RateBudget budget(100, 10s);
  const auto t0 = Clock::time_point{} + 1h;
  sdk::RateLimitReport report;
  report.limit = 3;
  budget.observe(report, t0);
  EXPECT_EQ(budget.reserve(t0), 0ms);
  EXPECT_EQ(budget.reserve(t0), 0ms);
  EXPECT_EQ(budget.reserve(t0), 0ms);
  EXPECT_GT(budget.reserve(t0), 0ms);
  EXPECT_EQ(budget.available(t0), 0);
}

TEST(RateBudget, ASpentDailyBudgetStopsTheBucket) {
  RateBudget budget(100, 10s);
  const auto t0 = Clock::time_point{} + 1h;
  sdk::RateLimitReport report;
  report.dailyRemaining = 0;
  budget.observe(report, t0);
  EXPECT_GE(budget.reserve(t0 + 10min), 49min);
  EXPECT_EQ(budget.dailyRemaining(), 0);
}

}  // namespace
}  // namespace ferry::core::engine

#include "metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace ferry::core::metrics {
namespace {

TEST(Metrics, RendersThePrometheusTextFormat) {
  Registry r;
  r.counter("ferry_events_total", "Events received.", {{"flow", "contact-sync"}}).add(3);
  r.gauge("ferry_queue_depth", "Queued events.").set(7);
  auto& h = r.histogram("ferry_step_seconds", "Step latency.", {0.1, 1}, {{"step", "up\"sert"}});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  EXPECT_EQ(r.render(),
            "# HELP ferry_events_total Events received.\n"
            "# TYPE ferry_events_total counter\n"
            "ferry_events_total{flow=\"contact-sync\"} 3\n"
            "# HELP ferry_queue_depth Queued events.\n"
            "# TYPE ferry_queue_depth gauge\n"
            "ferry_queue_depth 7\n"
            "# HELP ferry_step_seconds Step latency.\n"
            "# TYPE ferry_step_seconds histogram\n"
            "ferry_step_seconds_bucket{step=\"up\\\"sert\",le=\"0.1\"} 1\n"
            "ferry_step_seconds_bucket{step=\"up\\\"sert\",le=\"1\"} 2\n"
            "ferry_step_seconds_bucket{step=\"up\\\"sert\",le=\"+Inf\"} 3\n"
            "ferry_step_seconds_sum{step=\"up\\\"sert\"} 5.55\n"
            "ferry_step_seconds_count{step=\"up\\\"sert\"} 3\n");
}

TEST(Metrics, CountersAreExactUnderConcurrency) {
  Registry r;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&r] {
      for (int i = 0; i < 10000; ++i) {
        r.counter("c", "A counter.").add();
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(r.counter("c", "A counter.").value(), 40000);
}

TEST(Metrics, AFamilyKeepsItsType) {
  Registry r;
  r.counter("x", "X.");
  EXPECT_THROW(r.gauge("x", "X."), std::logic_error);
  EXPECT_THROW(r.counter("y", "Y.").add(-1), std::invalid_argument);
}

}  // namespace
}  // namespace ferry::core::metrics

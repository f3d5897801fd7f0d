// The store conformance suite, part 2: several workers, each with its own Store (its own
// connection or pool), on both engines. Every loop is bounded in count and in time.

#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gmock/gmock.h>

#include "store_fixture.hpp"

namespace ferry::core::store::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Releases all threads at once, so they really race.
class StartLine {
 public:
  explicit StartLine(int n) : waiting_(n) {}
  void arriveAndWait() {
    std::unique_lock lock(mutex_);
    if (--waiting_ == 0) {
      cv_.notify_all();
    } else {
      cv_.wait(lock, [this] { return waiting_ == 0; });
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int waiting_;
};

TEST_P(StoreTest, ConcurrentWorkersNeverDoubleClaimNorBreakPerKeyOrder) {
  constexpr int kEvents = 2000;
  constexpr int kKeys = 40;
  constexpr int kWorkers = 4;
  const auto deadline = Clock::now() + 180s;
  {
    auto store = openReal();
    std::vector<NewEvent> batch;
    for (int i = 0; i < kEvents; ++i) {
      const int key = i % kKeys;
      batch.push_back(event("e" + std::to_string(i), "contact:" + std::to_string(key),
                            {{"key", key}, {"seq", i / kKeys}}));
    }
    store->commitPoll("setup", Json::object(), batch);  // one transaction
  }

  std::mutex mutex;
  std::map<int, int> lastSeq;         // key -> last processed seq
  std::set<int> busyKeys;             // keys some worker is processing right now
  std::map<EventId, int> processed;   // event -> times processed
  std::vector<std::string> violations;
  std::atomic<int> done{0};
  std::atomic<long> emptyClaims{0};
  StartLine start(kWorkers);

  auto worker = [&](int n) {
    try {
      Options options;
      options.poolSize = 2;
      auto store = openReal(options);
      const std::string id = "worker-" + std::to_string(n);
      start.arriveAndWait();
      while (done.load() < kEvents && Clock::now() < deadline) {
        auto claimed = store->claim(id, ClaimOptions{5, 60s, false});
        if (claimed.empty()) {
          ++emptyClaims;
          std::this_thread::sleep_for(1ms);
          continue;
        }
        for (auto& c : claimed) {
          const int key = c.event.payload["key"];
          const int seq = c.event.payload["seq"];
          {
            std::lock_guard lock(mutex);
            if (!busyKeys.insert(key).second) {
              violations.push_back("key " + std::to_string(key) + " processed by two workers");
            }
            auto it = lastSeq.find(key);
            const int expected = it == lastSeq.end() ? 0 : it->second + 1;
            if (seq != expected) {
              violations.push_back("key " + std::to_string(key) + ": seq " + std::to_string(seq) +
                                   " after " + std::to_string(expected - 1));
            }
            lastSeq[key] = seq;
            ++processed[c.event.id];
          }
          {
            std::lock_guard lock(mutex);
            busyKeys.erase(key);
          }
          store->complete(c.lease);
          ++done;
        }
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex);
      violations.push_back(std::string("worker failed: ") + e.what());
    }
  };
  const auto began = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < kWorkers; ++i) {
    threads.emplace_back(worker, i);
  }
  for (auto& t : threads) {
    t.join();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
  std::cout << "[ perf ] " << GetParam() << ": " << kWorkers << " workers claimed and completed "
            << done.load() << " events in " << seconds << " s (" << done.load() / seconds
            << " events/s, " << emptyClaims.load() << " empty claims)\n";

  EXPECT_THAT(violations, ::testing::IsEmpty());
  EXPECT_EQ(done.load(), kEvents) << "not all events were processed before the time limit";
  EXPECT_EQ(processed.size(), static_cast<std::size_t>(kEvents));
  for (auto [id, times] : processed) {
    ASSERT_EQ(times, 1) << "event " << id << " was processed " << times << " times";
  }
  auto store = openReal();
  auto stats = store->queueStats();
  EXPECT_EQ(stats.queued, 0);
  EXPECT_EQ(stats.running, 0);
}

TEST_P(StoreTest, DeadWorkersLeasesAreTakenOverUnderConcurrency) {
  // Worker 0 claims a batch and "dies"; once the leases expire the others finish its work,
  // still in per-key order, and the dead worker's late complete is refused.
  constexpr int kEvents = 200;
  constexpr int kKeys = 10;
  auto store = open();
  for (int i = 0; i < kEvents; ++i) {
    store->enqueue(event("e" + std::to_string(i), "k" + std::to_string(i % kKeys),
                         {{"key", i % kKeys}, {"seq", i / kKeys}}));
  }
  auto dead = store->claim("dead", ClaimOptions{kKeys, 5s, false});
  ASSERT_EQ(dead.size(), static_cast<std::size_t>(kKeys));
  clock_ += 6'000'000;

  std::mutex mutex;
  std::map<int, int> lastSeq;
  std::vector<std::string> violations;
  std::atomic<int> done{0};
  const auto deadline = Clock::now() + 60s;
  auto worker = [&](int n) {
    try {
      auto mine = open();
      while (done.load() < kEvents && Clock::now() < deadline) {
        auto claimed = mine->claim("w" + std::to_string(n), ClaimOptions{3, 60s, false});
        if (claimed.empty()) {
          std::this_thread::sleep_for(1ms);
          continue;
        }
        for (auto& c : claimed) {
          const int key = c.event.payload["key"];
          const int seq = c.event.payload["seq"];
          {
            std::lock_guard lock(mutex);
            const int expected = lastSeq.count(key) ? lastSeq[key] + 1 : 0;
            if (seq != expected) {
              violations.push_back("key " + std::to_string(key) + " out of order");
            }
            lastSeq[key] = seq;
          }
          mine->complete(c.lease);
          ++done;
        }
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex);
      violations.push_back(e.what());
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back(worker, i);
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_THAT(violations, ::testing::IsEmpty());
  EXPECT_EQ(done.load(), kEvents);
  for (auto& c : dead) {
    EXPECT_EQ(store->getEvent(c.event.id)->attempts, 2);
    EXPECT_THROW(store->complete(c.lease), StoreError);
  }
}

TEST_P(StoreTest, CorrelationRaceHasExactlyOneWinner) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 20;
  open();  // migrate once up front
  std::vector<std::vector<CorrelateResult>> results(kThreads);
  std::vector<std::string> errors;
  std::mutex mutex;
  StartLine start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        auto store = openReal();
        start.arriveAndWait();
        for (int r = 0; r < kRounds; ++r) {
          results[t].push_back(store->correlate(
              {"contact", "umsatzio", "c" + std::to_string(r), "ghl", "g-" + std::to_string(t)}));
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        errors.push_back(e.what());
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  ASSERT_THAT(errors, ::testing::IsEmpty());
  auto store = openReal();
  for (int r = 0; r < kRounds; ++r) {
    auto stored = store->lookup("contact", "umsatzio", "c" + std::to_string(r), "ghl");
    ASSERT_TRUE(stored);
    int winners = 0;
    for (int t = 0; t < kThreads; ++t) {
      EXPECT_EQ(results[t][r].targetId, *stored) << "thread " << t << " round " << r;
      winners += results[t][r].created ? 1 : 0;
    }
    EXPECT_EQ(winners, 1) << "round " << r;
  }
}

TEST_P(StoreTest, RateBudgetIsNeverOverGrantedUnderConcurrency) {
  constexpr int kThreads = 6;
  constexpr int kCalls = 15;
  constexpr std::int64_t kCapacity = 25;
  constexpr TimeUs kWindow = 10'000'000;
  const TimeUs t0 = 1'900'000'000'000'000;
  open();
  // Two phases, each a window in which 6 threads race 90 requests for 25 tokens.
  for (int window = 0; window < 2; ++window) {
    std::atomic<int> granted{0};
    std::vector<std::string> errors;
    std::mutex mutex;
    StartLine start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        try {
          auto store = openReal();
          start.arriveAndWait();
          for (int i = 0; i < kCalls; ++i) {
            // Workers' clocks differ a little: one may be behind the window another opened.
            const TimeUs now = t0 + window * kWindow + i * 1000 + t;
            auto g = store->takeToken("ghl-main", "loc-1", now, kCapacity,
                                      std::chrono::microseconds(kWindow));
            if (g.granted) {
              ++granted;
            } else if (g.wait.count() <= 0 || g.wait.count() > kWindow + kCalls * 1000) {
              std::lock_guard lock(mutex);
              errors.push_back("bad wait " + std::to_string(g.wait.count()));
            }
          }
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex);
          errors.push_back(e.what());
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    ASSERT_THAT(errors, ::testing::IsEmpty());
    EXPECT_EQ(granted.load(), kCapacity) << "window " << window;
  }
}

}  // namespace
}  // namespace ferry::core::store::testing

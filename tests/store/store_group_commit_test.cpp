// SQLite group commit (SqliteStore::run), and PostgreSQL's queue for a pooled connection: concurrent write calls of one Store share one
// transaction and one fsync, yet every call that returns is committed, a call that fails rolls
// back only itself, and a failed COMMIT fails every call of its batch. Real files, real threads;
// every loop is bounded in count and in time.

#include <sys/mount.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gmock/gmock.h>

#include "store/sqlite_store.hpp"
#include "store_fixture.hpp"

namespace ferry::core::store::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using ::testing::HasSubstr;

// A temp directory; a small tmpfs when we may mount one (root), so the disk can really fill.
class TempDir {
 public:
  explicit TempDir(bool tmpfs)
      : dir_(std::filesystem::temp_directory_path() / ("ferry-group-" + randomSuffix())) {
    std::filesystem::create_directories(dir_);
    mounted_ = tmpfs && ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=2m") == 0;
  }
  ~TempDir() {
    if (mounted_) {
      ::umount2(dir_.c_str(), MNT_DETACH);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string db() const { return (dir_ / "store.db").string(); }
  const std::filesystem::path& path() const { return dir_; }
  bool mounted() const { return mounted_; }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

// Exposes the engine's run() so a test can give it a body that writes and then fails.
class ProbeStore : public SqliteStore {
 public:
  explicit ProbeStore(const std::string& path) : SqliteStore(path, Options{}) {}
  void writeThenFail(const std::string& key) {
    run("probe", Tx::Write, [&](Poco::Data::Session& s) {
      using namespace Poco::Data::Keywords;
      std::string k = key;
      s << "INSERT INTO plugin_state (plugin, conn, state_key, state_value, updated_at)"
           " VALUES ('probe', 'c', $1, 'written', 0)",
          bind(k), now;
      throw StoreError(ErrorKind::Invalid, "probe: failed on purpose after writing " + key);
    });
  }
};

template <class F>
void runThreads(int n, F&& fn) {
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&fn, t] { fn(t); });
  }
  for (auto& th : threads) {
    th.join();
  }
}

TEST(SqliteGroupCommit, ConcurrentCallsAreAllDurableAndDistinct) {
  constexpr int kThreads = 12;
  constexpr int kPerThread = 40;
  const auto deadline = Clock::now() + 240s;
  TempDir dir(false);
  // Two Stores of one file: threads of one Store share batches, the two Stores queue on the
  // file's writer lock.
  std::vector<std::unique_ptr<Store>> stores;
  stores.push_back(Store::open(dir.db()));
  stores.push_back(Store::open(dir.db()));

  std::mutex mutex;
  std::map<EventId, std::string> enqueued;  // id -> source event id
  std::vector<std::string> problems;
  runThreads(kThreads, [&](int t) {
    Store& store = *stores[t % 2];
    for (int i = 0; i < kPerThread && Clock::now() < deadline; ++i) {
      const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      try {
        const auto r = store.enqueue(event(id, "key:" + id, {{"t", t}, {"i", i}}));
        std::lock_guard lock(mutex);
        if (!r.created) {
          problems.push_back(id + " was not created");
        } else if (!enqueued.emplace(r.id, id).second) {
          problems.push_back(id + " got the id of " + enqueued[r.id]);
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        problems.push_back(id + ": " + e.what());
      }
    }
  });
  ASSERT_THAT(problems, ::testing::IsEmpty());
  ASSERT_EQ(enqueued.size(), static_cast<std::size_t>(kThreads * kPerThread));

  std::map<EventId, int> completed;  // id -> times claimed and completed
  runThreads(kThreads, [&](int t) {
    Store& store = *stores[t % 2];
    const std::string worker = "w" + std::to_string(t);
    for (int i = 0; i < kThreads * kPerThread && Clock::now() < deadline; ++i) {
      try {
        auto claimed = store.claim(worker, ClaimOptions{});
        if (claimed.empty()) {
          return;
        }
        store.complete(claimed[0].lease);
        std::lock_guard lock(mutex);
        ++completed[claimed[0].event.id];
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        problems.push_back(worker + ": " + e.what());
      }
    }
  });
  ASSERT_THAT(problems, ::testing::IsEmpty());
  EXPECT_EQ(completed.size(), enqueued.size());
  for (const auto& [id, times] : completed) {
    EXPECT_EQ(times, 1) << "event " << id << " was claimed and completed " << times << " times";
  }

  // A reopened store sees everything each call returned for.
  stores.clear();
  auto reopened = Store::open(dir.db());
  for (const auto& [id, sourceId] : enqueued) {
    auto e = reopened->getEvent(id);
    ASSERT_TRUE(e.has_value()) << "event " << id << " (" << sourceId << ") is gone";
    EXPECT_EQ(e->sourceEventId, sourceId);
    EXPECT_EQ(e->status, EventStatus::Done) << "event " << id;
  }
  const auto stats = reopened->queueStats();
  EXPECT_EQ(stats.queued, 0);
  EXPECT_EQ(stats.running, 0);
}

TEST(SqliteGroupCommit, AFailingCallRollsBackOnlyItself) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 30;
  const auto deadline = Clock::now() + 240s;
  TempDir dir(false);
  auto probe = std::make_unique<ProbeStore>(dir.db());

  std::mutex mutex;
  std::map<EventId, std::string> enqueued;
  std::vector<std::string> problems;
  int ownErrors = 0;
  runThreads(kThreads, [&](int t) {
    for (int i = 0; i < kPerThread && Clock::now() < deadline; ++i) {
      const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      try {
        if (i % 3 == 1) {
          // A write that fails after writing: only its own savepoint is rolled back.
          try {
            probe->writeThenFail(id);
            std::lock_guard lock(mutex);
            problems.push_back(id + ": the failing body did not fail");
          } catch (const StoreError& e) {
            std::lock_guard lock(mutex);
            if (e.kind() != ErrorKind::Invalid ||
                std::string(e.what()).find("failed on purpose after writing " + id) ==
                    std::string::npos) {
              problems.push_back(id + ": got another call's error: " + e.what());
            }
            ++ownErrors;
          }
        } else if (i % 3 == 2) {
          // A settling call whose lease does not exist fails inside its body (NotFound).
          try {
            probe->complete(Lease{1'000'000 + t * 1000 + i, "nobody", 1, 0});
            std::lock_guard lock(mutex);
            problems.push_back(id + ": completing a missing event did not fail");
          } catch (const StoreError& e) {
            std::lock_guard lock(mutex);
            if (e.kind() != ErrorKind::NotFound) {
              problems.push_back(id + ": complete of a missing event: " + e.what());
            }
            ++ownErrors;
          }
        } else {
          const auto r = probe->enqueue(event(id, "key:" + id));
          std::lock_guard lock(mutex);
          if (!r.created || !enqueued.emplace(r.id, id).second) {
            problems.push_back(id + ": not created or a duplicate id");
          }
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        problems.push_back(id + ": " + e.what());
      }
    }
  });
  ASSERT_THAT(problems, ::testing::IsEmpty());
  EXPECT_EQ(ownErrors, kThreads * (kPerThread - kPerThread / 3));
  ASSERT_EQ(enqueued.size(), static_cast<std::size_t>(kThreads * kPerThread / 3));

  probe.reset();
  auto reopened = Store::open(dir.db());
  EXPECT_EQ(reopened->queueStats().queued, static_cast<std::int64_t>(enqueued.size()));
  for (const auto& [id, sourceId] : enqueued) {
    auto e = reopened->getEvent(id);
    ASSERT_TRUE(e.has_value()) << sourceId;
    EXPECT_EQ(e->sourceEventId, sourceId);
  }
  // Nothing a failed body wrote was committed.
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 1; i < kPerThread; i += 3) {
      const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      EXPECT_FALSE(reopened->stateGet("probe", "c", id).has_value()) << id;
    }
  }
}

NewEvent bigEvent(const std::string& id) {
  return event(id, "key:" + id, {{"blob", std::string(6000, 'x')}});
}

// With a tmpfs the disk really fills and the WAL cannot grow at COMMIT; without one (not root),
// max_page_count makes the writes themselves fail with SQLITE_FULL, which may roll the whole
// batch back. Either way: every call that failed stored nothing, every call that returned did.
TEST(SqliteGroupCommit, AFullDiskFailsTheCallsOfItsBatchAndLosesNothingAcknowledged) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 60;
  const auto deadline = Clock::now() + 240s;
  TempDir dir(std::getenv("FERRY_TEST_NO_TMPFS") == nullptr);
  auto store = Store::open(dir.db());
  const std::filesystem::path filler = dir.path() / "filler";
  for (int i = 0; i < 20; ++i) {
    store->enqueue(bigEvent("warm-" + std::to_string(i)));  // let the WAL and file grow first
  }
  if (dir.mounted()) {
    std::ofstream out(filler, std::ios::binary);
    const std::string chunk(4096, 'f');
    for (int i = 0; i < 1024 && out.write(chunk.data(), chunk.size()); ++i) {
      out.flush();
    }
    out.close();
    // Leave room for a few commits, so that some calls succeed before the disk is full.
    std::filesystem::resize_file(filler, std::filesystem::file_size(filler) - 192 * 1024);
  } else {
    std::cout << "[ note ] cannot mount a tmpfs; simulating a full disk with max_page_count\n";
    std::vector<Poco::Int64> pages;
    Poco::Data::Session raw("SQLite", dir.db());
    raw << "PRAGMA page_count", Poco::Data::Keywords::into(pages), Poco::Data::Keywords::now;
    ASSERT_FALSE(pages.empty());
    auto* sqlite = dynamic_cast<SqliteStore*>(store.get());
    ASSERT_NE(sqlite, nullptr);
    sqlite->maxPageCount(pages[0] + 24);
  }

  std::mutex mutex;
  std::map<EventId, std::string> accepted;
  std::set<std::string> refused;
  std::string firstRefusal;
  std::vector<std::string> problems;
  runThreads(kThreads, [&](int t) {
    int failures = 0;
    for (int i = 0; i < kPerThread && failures < 5 && Clock::now() < deadline; ++i) {
      const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      try {
        const auto r = store->enqueue(bigEvent(id));
        std::lock_guard lock(mutex);
        accepted.emplace(r.id, id);
      } catch (const StoreError& e) {
        std::lock_guard lock(mutex);
        ++failures;
        refused.insert(id);
        if (firstRefusal.empty()) {
          firstRefusal = e.what();
        }
        if (e.kind() != ErrorKind::Full) {
          problems.push_back(id + ": " + e.what());
        }
      }
    }
  });
  ASSERT_THAT(problems, ::testing::IsEmpty());
  ASSERT_FALSE(refused.empty()) << "the disk never filled";
  std::cout << "[ info ] " << accepted.size() << " enqueues accepted, " << refused.size()
            << " refused as full, the first with: " << firstRefusal << "\n";

  // Free the space: the same Store works again, and a reopened one has exactly what was accepted.
  if (dir.mounted()) {
    std::filesystem::remove(filler);
  } else {
    dynamic_cast<SqliteStore*>(store.get())->maxPageCount(1'000'000);
  }
  EXPECT_TRUE(store->enqueue(bigEvent("after")).created);
  store.reset();
  auto reopened = Store::open(dir.db());
  EXPECT_EQ(reopened->queueStats().queued, static_cast<std::int64_t>(20 + accepted.size() + 1));
  for (const auto& [id, sourceId] : accepted) {
    auto e = reopened->getEvent(id);
    ASSERT_TRUE(e.has_value()) << sourceId << " was acknowledged and is lost";
    EXPECT_EQ(e->sourceEventId, sourceId);
  }
  // A refused enqueue stored nothing: sending it again creates it.
  for (const auto& id : refused) {
    EXPECT_TRUE(reopened->enqueue(bigEvent(id)).created) << id << " was refused yet stored";
  }
}

// Reads run on their own connection (they do not wait for a batch): each still sees at least
// every write acknowledged before it started.
TEST(SqliteGroupCommit, ReadsSeeEverythingAcknowledgedBeforeThemAndOnlyCommittedData) {
  constexpr int kWriters = 6;
  constexpr int kPerWriter = 40;
  const auto deadline = Clock::now() + 240s;
  TempDir dir(false);
  auto store = Store::open(dir.db());
  std::atomic<int> acknowledged{0};
  std::atomic<bool> writing{true};
  std::vector<std::string> problems;
  std::mutex mutex;
  std::thread reader([&] {
    // Every read sees at least what was acknowledged before it started.
    for (int i = 0; i < 2000 && writing && Clock::now() < deadline; ++i) {
      const int before = acknowledged.load();
      const auto queued = store->queueStats().queued;
      if (queued < before) {
        std::lock_guard lock(mutex);
        problems.push_back("a read saw " + std::to_string(queued) + " events after " +
                           std::to_string(before) + " were acknowledged");
      }
    }
  });
  runThreads(kWriters, [&](int t) {
    for (int i = 0; i < kPerWriter && Clock::now() < deadline; ++i) {
      const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      store->enqueue(event(id, "key:" + id));
      ++acknowledged;
    }
  });
  writing = false;
  reader.join();
  EXPECT_THAT(problems, ::testing::IsEmpty());
  EXPECT_EQ(store->queueStats().queued, kWriters * kPerWriter);
}

// Both engines: more threads than connections (PostgreSQL: a pool of 2) queue for the connection
// instead of failing (Poco's pool used to throw "exhausted" at once, which the webhook answered
// with 429).
TEST_P(StoreTest, MoreThreadsThanPooledConnectionsQueueInsteadOfFailing) {
  constexpr int kThreads = 12;
  constexpr int kPerThread = 15;
  const auto deadline = Clock::now() + 240s;
  Options options;
  options.poolSize = 2;
  options.busyTimeout = 120s;
  auto store = openReal(options);
  std::mutex mutex;
  std::set<EventId> ids;
  std::vector<std::string> problems;
  runThreads(kThreads, [&](int t) {
    for (int i = 0; i < kPerThread && Clock::now() < deadline; ++i) {
      const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      try {
        store->queueStats();
        const auto r = store->enqueue(event(id, "key:" + id));
        std::lock_guard lock(mutex);
        if (!r.created || !ids.insert(r.id).second) {
          problems.push_back(id + ": not created or a duplicate id");
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        problems.push_back(id + ": " + e.what());
      }
    }
  });
  EXPECT_THAT(problems, ::testing::IsEmpty());
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(store->queueStats().queued, kThreads * kPerThread);
}

}  // namespace
}  // namespace ferry::core::store::testing

// The store conformance suite: the guarded dead-letter replay (Store::replayDeadLetterGuarded),
// on both engines. A dead letter of a snapshot trigger (a contact's whole version) must not run
// again once a newer event of the same flow, record and trigger exists; anything else replays
// as replayDeadLetter does.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <gmock/gmock.h>

#include "store_fixture.hpp"

namespace ferry::core::store::testing {
namespace {

using namespace std::chrono_literals;

const std::string kContact = "umsatzio.contact.updated";
const std::string kNote = "umsatzio.note.created";

ClaimOptions claimOne() {
  ClaimOptions o;
  o.leaseDuration = 30s;
  o.coalesce = true;
  o.coalesceTrigger = [](const std::string& op) { return op == kContact; };
  return o;
}

ReplayOptions guarded(bool force = false) {
  ReplayOptions o;
  o.force = force;
  o.snapshotTrigger = [](const std::string& op) { return op == kContact; };
  o.actor = "test replay";
  return o;
}

NewEvent version(const std::string& contact, int v, const std::string& op = kContact) {
  return event(contact + "@" + std::to_string(v), "umsatzio:" + contact,
               {{"id", contact}, {"lastName", "v" + std::to_string(v)}}, op);
}

// Claims the next event, which must carry `expectLastName`; nullopt when there is none.
std::optional<Claimed> claimExpecting(Store& store, const std::string& expectLastName) {
  auto c = store.claim("w", claimOne());
  EXPECT_EQ(c.size(), 1u);
  if (c.empty()) {
    return std::nullopt;
  }
  EXPECT_EQ(c[0].event.payload.value("lastName", ""), expectLastName);
  return c[0];
}

// Claims the next event and settles it as dead (with a journal entry, as a failed step has).
EventId claimAndKill(Store& store, const std::string& expectLastName) {
  auto c = claimExpecting(store, expectLastName);
  if (!c) {
    return 0;
  }
  store.journalBegin(c->event.id, "upsert", "key-" + std::to_string(c->event.id),
                     {{"lastName", expectLastName}});
  store.deadLetter(c->lease, "upsert: 503 five times", {{"lastName", expectLastName}},
                   {{"status", 503}});
  return c->event.id;
}

EventId claimAndComplete(Store& store, const std::string& expectLastName) {
  auto c = claimExpecting(store, expectLastName);
  if (!c) {
    return 0;
  }
  store.complete(c->lease);
  return c->event.id;
}

std::vector<Run> runsOf(Store& store, EventId id, const std::string& status) {
  RunFilter f;
  f.eventId = id;
  f.status = status;
  return store.listRuns(f);
}

// The hole: v1 dead, v2 synced, v1 replayed. v1 must not run again.
TEST_P(StoreTest, ReplayOfAnOlderSnapshotAfterANewerOneIsDoneIsSuperseded) {
  auto store = open();
  store->enqueue(version("ct_1", 1));
  const EventId v1 = claimAndKill(*store, "v1");
  store->enqueue(version("ct_1", 2));
  const EventId v2 = claimAndComplete(*store, "v2");
  ASSERT_GT(v2, v1);

  clock_ += 1000;
  const auto r = store->replayDeadLetterGuarded(v1, guarded());
  EXPECT_FALSE(r.queued);
  EXPECT_FALSE(r.forced);
  EXPECT_EQ(r.newerEventId, v2);
  EXPECT_EQ(r.newerStatus, EventStatus::Done);
  EXPECT_THAT(r.message, ::testing::HasSubstr("newer event " + std::to_string(v2)));
  EXPECT_THAT(r.message, ::testing::HasSubstr("not replayed"));

  EXPECT_FALSE(store->getDeadLetter(v1)) << "the dead letter was kept";
  EXPECT_EQ(store->getEvent(v1)->status, EventStatus::Superseded);
  EXPECT_EQ(store->queueStats().dead, 0);
  EXPECT_EQ(store->queueStats().queued, 0);
  EXPECT_TRUE(store->claim("w", claimOne()).empty()) << "the stale version was queued";

  const auto history = runsOf(*store, v1, "superseded");
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].workerId, "test replay");
  EXPECT_THAT(history[0].error, ::testing::HasSubstr(std::to_string(v2)));
  EXPECT_EQ(store->replayCounts().superseded, 1);
  EXPECT_EQ(store->replayCounts().forced, 0);

  // Replaying it again: there is no dead letter any more.
  try {
    store->replayDeadLetterGuarded(v1, guarded());
    ADD_FAILURE() << "a second replay of a superseded dead letter was accepted";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  }
}

TEST_P(StoreTest, ForcedReplayQueuesTheOlderSnapshotAndRecordsIt) {
  auto store = open();
  store->enqueue(version("ct_1", 1));
  const EventId v1 = claimAndKill(*store, "v1");
  store->enqueue(version("ct_1", 2));
  const EventId v2 = claimAndComplete(*store, "v2");

  const auto r = store->replayDeadLetterGuarded(v1, guarded(true));
  EXPECT_TRUE(r.queued);
  EXPECT_TRUE(r.forced);
  EXPECT_EQ(r.newerEventId, v2);
  EXPECT_THAT(r.message, ::testing::HasSubstr("forced"));
  EXPECT_FALSE(store->getDeadLetter(v1));
  EXPECT_EQ(store->replayCounts().forced, 1);
  EXPECT_EQ(runsOf(*store, v1, "forced").size(), 1u);

  auto c = store->claim("w", claimOne());
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].event.id, v1) << "the forced replay runs under its own id";
  EXPECT_EQ(c[0].event.attempts, 1) << "attempts restart at a replay";
  EXPECT_EQ(store->journalList(v1).size(), 1u) << "the journal (idempotency keys) was lost";
}

// No newer event: replay works as replayDeadLetter does, and the later events wait behind it.
TEST_P(StoreTest, ReplayWithNoNewerVersionQueuesAndRunsBeforeLaterOnes) {
  auto store = open();
  store->enqueue(version("ct_1", 1));
  const EventId v1 = claimAndKill(*store, "v1");
  const auto r = store->replayDeadLetterGuarded(v1, guarded());
  EXPECT_TRUE(r.queued);
  EXPECT_FALSE(r.forced);
  EXPECT_EQ(r.newerEventId, 0);
  EXPECT_EQ(store->getEvent(v1)->status, EventStatus::Queued);
  EXPECT_EQ(store->replayCounts().superseded, 0);

  // An event of the record enqueued after the replay runs after it.
  store->enqueue(version("ct_1", 2));
  EXPECT_EQ(claimAndComplete(*store, "v1"), v1);
  claimAndComplete(*store, "v2");
}

// A newer version queued or running: the replay must neither run before it and then be
// overwritten (harmless) nor wait for its live lease and run after it (stale last): superseded.
TEST_P(StoreTest, ReplayWhileANewerVersionIsQueuedOrRunningIsSuperseded) {
  auto store = open();
  store->enqueue(version("ct_1", 1));
  const EventId v1 = claimAndKill(*store, "v1");
  store->enqueue(version("ct_2", 1));
  const EventId w1 = claimAndKill(*store, "v1");

  const EventId v2 = store->enqueue(version("ct_1", 2)).id;  // queued
  const auto queued = store->replayDeadLetterGuarded(v1, guarded());
  EXPECT_FALSE(queued.queued);
  EXPECT_EQ(queued.newerEventId, v2);
  EXPECT_EQ(queued.newerStatus, EventStatus::Queued);

  const EventId w2 = store->enqueue(version("ct_2", 2)).id;
  auto running = store->claim("w", claimOne());
  ASSERT_GE(running.size(), 1u);
  // Claim order is by id: ct_1's v2 first; take ct_2's v2 too.
  std::vector<Claimed> all = running;
  auto more = store->claim("w", claimOne());
  all.insert(all.end(), more.begin(), more.end());
  bool w2Running = false;
  for (const auto& c : all) {
    w2Running = w2Running || c.event.id == w2;
  }
  ASSERT_TRUE(w2Running);
  const auto whileRunning = store->replayDeadLetterGuarded(w1, guarded());
  EXPECT_FALSE(whileRunning.queued);
  EXPECT_EQ(whileRunning.newerEventId, w2);
  EXPECT_EQ(whileRunning.newerStatus, EventStatus::Running);
  for (const auto& c : all) {
    store->complete(c.lease);
  }
  EXPECT_TRUE(store->claim("w", claimOne()).empty()) << "a superseded replay ran after all";
  EXPECT_EQ(store->replayCounts().superseded, 2);
}

// Several dead letters of one record replayed at once, in either order: only the newest runs.
TEST_P(StoreTest, SeveralDeadVersionsOfOneRecordReplayOnlyTheNewest) {
  auto store = open();
  std::vector<EventId> dead;
  for (int v = 1; v <= 3; ++v) {
    store->enqueue(version("ct_1", v));
    dead.push_back(claimAndKill(*store, "v" + std::to_string(v)));
  }
  for (int v = 1; v <= 2; ++v) {
    store->enqueue(version("ct_9", v));
    dead.push_back(claimAndKill(*store, "v" + std::to_string(v)));
  }
  // ct_1 oldest first, ct_9 newest first.
  std::vector<ReplayResult> results;
  for (const EventId id : {dead[0], dead[1], dead[2], dead[4], dead[3]}) {
    results.push_back(store->replayDeadLetterGuarded(id, guarded()));
  }
  EXPECT_FALSE(results[0].queued);
  EXPECT_EQ(results[0].newerEventId, dead[2]) << "the newest newer event is named";
  EXPECT_EQ(results[0].newerStatus, EventStatus::Dead);
  EXPECT_FALSE(results[1].queued);
  EXPECT_TRUE(results[2].queued);
  EXPECT_TRUE(results[3].queued);
  EXPECT_FALSE(results[4].queued);
  EXPECT_EQ(results[4].newerStatus, EventStatus::Queued);
  EXPECT_EQ(store->queueStats().dead, 0);

  std::vector<EventId> ran;
  for (int i = 0; i < 5; ++i) {
    auto c = store->claim("w", claimOne());
    if (c.empty()) {
      break;
    }
    ran.push_back(c[0].event.id);
    store->complete(c[0].lease);
  }
  EXPECT_THAT(ran, ::testing::UnorderedElementsAre(dead[2], dead[4]));
}

// Facts of their own (notes keyed by their contact), events without a record key, other flows
// of the same record, and a discarded newer version: replay as today.
TEST_P(StoreTest, ReplayOfNonSnapshotsOrUnkeyedOrOtherFlowsQueuesAsBefore) {
  auto store = open();
  store->enqueue(version("ct_1", 1, kNote));
  const EventId note1 = claimAndKill(*store, "v1");
  store->enqueue(version("ct_1", 2, kNote));
  claimAndComplete(*store, "v2");
  EXPECT_TRUE(store->replayDeadLetterGuarded(note1, guarded()).queued)
      << "a note is a fact of its own; a newer note does not replace it";
  claimAndComplete(*store, "v1");

  store->enqueue(event("u1", "", {{"lastName", "v1"}}));
  const EventId unkeyed = claimAndKill(*store, "v1");
  store->enqueue(event("u2", "", {{"lastName", "v2"}}));
  claimAndComplete(*store, "v2");
  EXPECT_TRUE(store->replayDeadLetterGuarded(unkeyed, guarded()).queued);
  claimAndComplete(*store, "v1");

  store->enqueue(version("ct_3", 1));
  const EventId other = claimAndKill(*store, "v1");
  auto otherFlow = version("ct_3", 2);
  otherFlow.flowId = "another-flow";
  store->enqueue(otherFlow);
  claimAndComplete(*store, "v2");
  EXPECT_TRUE(store->replayDeadLetterGuarded(other, guarded()).queued);
  claimAndComplete(*store, "v1");

  store->enqueue(version("ct_4", 1));
  const EventId older = claimAndKill(*store, "v1");
  store->enqueue(version("ct_4", 2));
  const EventId newer = claimAndKill(*store, "v2");
  store->discardDeadLetter(newer);
  EXPECT_TRUE(store->replayDeadLetterGuarded(older, guarded()).queued)
      << "a discarded newer version does not supersede";
  EXPECT_EQ(claimAndComplete(*store, "v1"), older);

  // No snapshot predicate: nothing is a snapshot.
  store->enqueue(version("ct_5", 1));
  const EventId plain = claimAndKill(*store, "v1");
  store->enqueue(version("ct_5", 2));
  claimAndComplete(*store, "v2");
  EXPECT_TRUE(store->replayDeadLetterGuarded(plain, ReplayOptions{}).queued);
  EXPECT_EQ(store->replayCounts().superseded, 0);
}

// A replay racing the enqueue and claim of a newer version (several workers, real clock): the
// older version never runs after the newer one.
TEST_P(StoreTest, ReplayRacingANewerVersionNeverRunsTheOlderOneLast) {
  auto store = openReal();
  constexpr int kRecords = 12;
  std::vector<EventId> dead;
  for (int i = 0; i < kRecords; ++i) {
    store->enqueue(version("ct_" + std::to_string(i), 1));
    dead.push_back(claimAndKill(*store, "v1"));
  }
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::map<std::string, std::vector<std::string>> order;  // record -> versions run, in order
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  auto worker = [&](const std::string& id) {
    auto own = openReal();
    while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
      auto c = own->claim(id, claimOne());
      if (c.empty()) {
        std::this_thread::sleep_for(1ms);
        continue;
      }
      {
        std::lock_guard lock(mutex);
        order[c[0].event.recordKey].push_back(c[0].event.payload.value("lastName", ""));
      }
      own->complete(c[0].lease);
    }
  };
  std::thread a(worker, "wa");
  std::thread b(worker, "wb");
  std::thread replayer([&] {
    auto own = openReal();
    for (const EventId id : dead) {
      own->replayDeadLetterGuarded(id, guarded());
    }
  });
  for (int i = 0; i < kRecords; ++i) {
    store->enqueue(version("ct_" + std::to_string(i), 2));
  }
  replayer.join();
  while (std::chrono::steady_clock::now() < deadline) {
    const auto stats = store->queueStats();
    if (stats.queued + stats.running == 0) {
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  stop = true;
  a.join();
  b.join();
  EXPECT_EQ(store->queueStats().queued + store->queueStats().running, 0);
  for (int i = 0; i < kRecords; ++i) {
    const auto& ran = order["umsatzio:ct_" + std::to_string(i)];
    ASSERT_FALSE(ran.empty()) << "record " << i << " never ran";
    EXPECT_EQ(ran.back(), "v2") << "record " << i << " ran its older version last";
  }
}

}  // namespace
}  // namespace ferry::core::store::testing

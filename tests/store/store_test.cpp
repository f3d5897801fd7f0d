// The store conformance suite, part 1: single-threaded semantics. Runs on both engines.

#include <Poco/Data/Session.h>
#include <gmock/gmock.h>

#include "store_fixture.hpp"

namespace ferry::core::store::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

INSTANTIATE_TEST_SUITE_P(Engines, StoreTest, ::testing::Values("sqlite", "postgresql"), engineName);

constexpr TimeUs kSecond = 1'000'000;

ClaimOptions claimUpTo(int limit, std::chrono::microseconds lease = 30s, bool coalesce = false) {
  ClaimOptions o;
  o.limit = limit;
  o.leaseDuration = lease;
  o.coalesce = coalesce;
  return o;
}

std::vector<EventId> ids(const std::vector<Claimed>& claimed) {
  std::vector<EventId> out;
  for (const auto& c : claimed) {
    out.push_back(c.event.id);
  }
  return out;
}

// ---- migrations -----------------------------------------------------------------------------

TEST_P(StoreTest, FreshDatabaseIsAtTheLatestSchemaAndReopens) {
  {
    auto store = open();
    EXPECT_EQ(store->schemaVersion(), Store::latestSchemaVersion());
    EXPECT_EQ(store->engine(), GetParam());
    store->enqueue(event("e1", "k1"));
  }
  auto again = open();
  EXPECT_EQ(again->schemaVersion(), Store::latestSchemaVersion());
  EXPECT_EQ(again->queueStats().queued, 1);
  std::vector<Poco::Int64> rows;
  auto raw = rawSession();
  raw << "SELECT COUNT(*) FROM schema_migrations", Poco::Data::Keywords::into(rows),
      Poco::Data::Keywords::now;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], Store::latestSchemaVersion());
}

TEST_P(StoreTest, OldDatabaseIsMigratedOnOpenKeepingItsData) {
  ASSERT_GE(Store::latestSchemaVersion(), 2);
  EventId id = 0;
  {
    Options v1;
    v1.migrateTo = 1;
    auto old = open(v1);
    EXPECT_EQ(old->schemaVersion(), 1);
    id = old->enqueue(event("e1", "k1", {{"n", 1}})).id;
    // Version 2's tables do not exist yet.
    EXPECT_THROW(old->statePut("p", "c", "k", "v"), StoreError);
  }
  auto store = open();
  EXPECT_EQ(store->schemaVersion(), Store::latestSchemaVersion());
  auto e = store->getEvent(id);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->payload, Json({{"n", 1}}));
  store->statePut("p", "c", "k", "v");
  EXPECT_EQ(store->stateGet("p", "c", "k"), "v");
}

TEST_P(StoreTest, NewerSchemaThanTheBinaryIsAClearError) {
  open();
  {
    auto raw = rawSession();
    raw << "INSERT INTO schema_migrations (version, description, applied_at) VALUES (999, 'from "
           "the future', 0)",
        Poco::Data::Keywords::now;
  }
  try {
    open();
    FAIL() << "opening a schema newer than the binary must throw";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::SchemaTooNew);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("999"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("hint"));
  }
}

// ---- inbox ----------------------------------------------------------------------------------

TEST_P(StoreTest, EnqueueIsDurableAndDeduplicated) {
  NewEvent e = event("evt-1", "umsatzio:contact:1", {{"email", "a@example.com"}});
  e.rawBody = std::string("raw\0body\xff", 9);
  e.receivedAt = 1'700'000'000'123'456;
  EnqueueResult first;
  {
    auto store = open();
    first = store->enqueue(e);
    EXPECT_TRUE(first.created);
    EXPECT_GT(first.id, 0);
  }
  auto store = open();  // a new connection: the event was committed
  auto again = store->enqueue(e);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(store->queueStats().queued, 1);

  auto got = store->getEvent(first.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->source, "umsatzio.webhook");
  EXPECT_EQ(got->sourceEventId, "evt-1");
  EXPECT_EQ(got->flowId, "contacts");
  EXPECT_EQ(got->triggerOp, "umsatzio.contact.updated");
  EXPECT_EQ(got->recordKey, "umsatzio:contact:1");
  EXPECT_EQ(got->payload, Json({{"email", "a@example.com"}}));
  EXPECT_EQ(got->rawBody, std::string("raw\0body\xff", 9));
  EXPECT_EQ(got->receivedAt, 1'700'000'000'123'456);
  EXPECT_EQ(got->availableAt, got->receivedAt);
  EXPECT_EQ(got->status, EventStatus::Queued);
  EXPECT_EQ(got->attempts, 0);

  // Same event id from another source is another event.
  NewEvent other = e;
  other.source = "umsatzio.poll";
  EXPECT_TRUE(store->enqueue(other).created);
  EXPECT_FALSE(store->getEvent(first.id + 1000));
}

TEST_P(StoreTest, EnqueueRejectsIncompleteEvents) {
  auto store = open();
  NewEvent e = event("x", "k");
  e.flowId.clear();
  try {
    store->enqueue(e);
    FAIL() << "an event without a flow id must be refused";
  } catch (const StoreError& err) {
    EXPECT_EQ(err.kind(), ErrorKind::Invalid);
    EXPECT_THAT(err.what(), ::testing::HasSubstr("flow id"));
  }
  EXPECT_EQ(store->queueStats().queued, 0);
}

TEST_P(StoreTest, ClaimKeepsOneRecordKeyInOrder) {
  auto store = open();
  auto a1 = store->enqueue(event("a1", "A")).id;
  auto b1 = store->enqueue(event("b1", "B")).id;
  auto a2 = store->enqueue(event("a2", "A")).id;
  auto a3 = store->enqueue(event("a3", "A")).id;
  auto n1 = store->enqueue(event("n1", "")).id;  // no key: no ordering
  auto n2 = store->enqueue(event("n2", "")).id;

  auto first = store->claim("w1", claimUpTo(10, 3600s));
  EXPECT_THAT(ids(first), ElementsAre(a1, b1, n1, n2));
  EXPECT_EQ(first[0].lease.workerId, "w1");
  EXPECT_EQ(first[0].lease.attempt, 1);
  EXPECT_EQ(first[0].event.status, EventStatus::Running);
  // Nothing more: a2 waits for a1.
  EXPECT_TRUE(store->claim("w2", claimUpTo(10)).empty());

  store->complete(first[0].lease);
  auto second = store->claim("w2", claimUpTo(10, 3600s));
  EXPECT_THAT(ids(second), ElementsAre(a2));

  // A retry later keeps the key blocked until it is due and done.
  store->retryLater(second[0].lease, clock_ + 60 * kSecond, "HTTP 503");
  EXPECT_TRUE(store->claim("w2", claimUpTo(10)).empty());
  auto waiting = store->getEvent(a2);
  EXPECT_EQ(waiting->status, EventStatus::Queued);
  EXPECT_EQ(waiting->lastError, "HTTP 503");
  clock_ += 61 * kSecond;
  auto retried = store->claim("w3", claimUpTo(10));
  ASSERT_THAT(ids(retried), ElementsAre(a2));
  EXPECT_EQ(retried[0].lease.attempt, 2);
  store->complete(retried[0].lease);
  EXPECT_THAT(ids(store->claim("w3", claimUpTo(10))), ElementsAre(a3));
  EXPECT_EQ(store->getEvent(a1)->status, EventStatus::Done);
}

TEST_P(StoreTest, ExpiredLeaseIsTakenOverAndTheOldOwnerIsFenced) {
  auto store = open();
  auto id = store->enqueue(event("e1", "K")).id;
  store->enqueue(event("e2", "K"));
  auto mine = store->claim("w1", claimUpTo(1, 10s));
  ASSERT_EQ(mine.size(), 1u);

  clock_ += 5 * kSecond;
  EXPECT_TRUE(store->claim("w2", claimUpTo(5)).empty());  // live lease

  // A renewal keeps it alive past the first expiry.
  auto renewed = store->renew(mine[0].lease, 10s);
  EXPECT_EQ(renewed.until, clock_ + 10 * kSecond);
  clock_ += 8 * kSecond;
  EXPECT_TRUE(store->claim("w2", claimUpTo(5)).empty());

  // w1 dies: its lease expires and w2 takes the event over (not e2: order holds).
  clock_ += 3 * kSecond;
  auto taken = store->claim("w2", claimUpTo(5));
  ASSERT_THAT(ids(taken), ElementsAre(id));
  EXPECT_EQ(taken[0].lease.attempt, 2);
  EXPECT_EQ(taken[0].event.leaseOwner, "w2");

  for (auto call : {0, 1, 2}) {
    try {
      if (call == 0) {
        store->complete(renewed);
      } else if (call == 1) {
        store->renew(renewed, 10s);
      } else {
        store->retryLater(renewed, clock_, "late");
      }
      FAIL() << "a settled call with a lost lease must throw";
    } catch (const StoreError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::LeaseLost) << e.what();
      EXPECT_THAT(e.what(), ::testing::HasSubstr("w2"));
    }
  }
  store->complete(taken[0].lease);
  EXPECT_EQ(store->getEvent(id)->status, EventStatus::Done);
  EXPECT_EQ(store->claim("w2", claimUpTo(5)).size(), 1u);

  Lease ghost{987654, "w1", 1, 0};
  try {
    store->complete(ghost);
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  }
}

TEST_P(StoreTest, CoalescingReturnsTheNewestPendingPayload) {
  auto store = open();
  auto e1 = store->enqueue(event("e1", "C", {{"v", 1}})).id;
  auto e2 = store->enqueue(event("e2", "C", {{"v", 2}})).id;
  auto e3 = store->enqueue(event("e3", "C", {{"v", 3}})).id;
  auto d1 = store->enqueue(event("d1", "C", {{"v", 4}}, "umsatzio.contact.created")).id;  // barrier
  auto e5 = store->enqueue(event("e5", "C", {{"v", 5}})).id;
  auto e6 = store->enqueue(event("e6", "C", {{"v", 6}})).id;
  auto other = store->enqueue(event("o1", "D", {{"v", 7}})).id;

  auto got = store->claim("w", claimUpTo(10, 30s, true));
  ASSERT_THAT(ids(got), ElementsAre(e3, other));
  EXPECT_EQ(got[0].event.payload, Json({{"v", 3}}));
  EXPECT_THAT(got[0].event.coalesced, ElementsAre(e1, e2));
  EXPECT_TRUE(got[1].event.coalesced.empty());
  EXPECT_EQ(store->getEvent(e1)->status, EventStatus::Superseded);
  EXPECT_EQ(store->getEvent(e2)->status, EventStatus::Superseded);
  EXPECT_EQ(store->getEvent(e1)->attempts, 0);
  store->complete(got[0].lease);

  // The different trigger op is not folded in, and bounds the next run.
  auto next = store->claim("w", claimUpTo(10, 30s, true));
  ASSERT_THAT(ids(next), ElementsAre(d1));
  // An event with a journal entry (work started) is never superseded.
  store->journalBegin(e5, "upsert", "idem-e5", Json::object());
  store->complete(next[0].lease);
  auto after = store->claim("w", claimUpTo(10, 30s, true));
  ASSERT_THAT(ids(after), ElementsAre(e5));
  store->complete(after[0].lease);
  EXPECT_THAT(ids(store->claim("w", claimUpTo(10, 30s, true))), ElementsAre(e6));
}

TEST_P(StoreTest, WithoutTheFlagNothingCoalesces) {
  auto store = open();
  auto e1 = store->enqueue(event("e1", "C", {{"v", 1}})).id;
  store->enqueue(event("e2", "C", {{"v", 2}}));
  auto got = store->claim("w", claimUpTo(10));
  ASSERT_THAT(ids(got), ElementsAre(e1));
  EXPECT_TRUE(got[0].event.coalesced.empty());
  EXPECT_EQ(store->queueStats().queued, 1);
}

// ---- journal --------------------------------------------------------------------------------

TEST_P(StoreTest, JournalResumesAfterARestart) {
  EventId id = 0;
  {
    auto store = open();
    id = store->enqueue(event("e1", "K")).id;
    auto begun = store->journalBegin(id, "find", "idem-find", {{"q", "a@example.com"}});
    EXPECT_EQ(begun.status, StepStatus::Intent);
    EXPECT_EQ(begun.attempts, 1);
    store->journalFinish(id, "find", StepStatus::Done, {{"id", "g1"}}, {{"status", 200}});
    clock_ += kSecond;
    store->journalBegin(id, "create_task", "idem-task", {{"title", "Call back"}});
    // The process dies here, between the intent and GHL's answer.
  }
  auto store = open();
  auto entries = store->journalList(id);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].stepId, "find");
  EXPECT_EQ(entries[0].status, StepStatus::Done);
  EXPECT_EQ(entries[0].output, Json({{"id", "g1"}}));
  EXPECT_EQ(entries[0].response, Json({{"status", 200}}));
  EXPECT_GT(entries[0].finishedAt, 0);
  EXPECT_EQ(entries[1].stepId, "create_task");
  EXPECT_EQ(entries[1].status, StepStatus::Intent);

  // The retry learns that an intent exists and reuses its idempotency key.
  auto retry = store->journalBegin(id, "create_task", "idem-NEW", {{"title", "Call back"}});
  EXPECT_EQ(retry.idempotencyKey, "idem-task");
  EXPECT_EQ(retry.attempts, 2);
  store->journalFinish(id, "create_task", StepStatus::Done, {{"task", {{"id", "t1"}}}}, {});
  auto done = store->journalGet(id, "create_task");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, StepStatus::Done);
  EXPECT_EQ(done->output["task"]["id"], "t1");
  EXPECT_FALSE(store->journalGet(id, "nope"));
  try {
    store->journalFinish(id, "nope", StepStatus::Done, {}, {});
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  }
}

// ---- correlation ----------------------------------------------------------------------------

TEST_P(StoreTest, CorrelationFirstWriterWinsAndLooksUpBothWays) {
  auto store = open();
  Correlation m{"contact", "umsatzio", "42", "ghl", "g-1"};
  auto first = store->correlate(m);
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.targetId, "g-1");
  m.targetId = "g-2";
  auto second = store->correlate(m);
  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.targetId, "g-1");
  EXPECT_EQ(store->lookup("contact", "umsatzio", "42", "ghl"), "g-1");
  EXPECT_FALSE(store->lookup("contact", "umsatzio", "43", "ghl"));
  EXPECT_FALSE(store->lookup("task", "umsatzio", "42", "ghl"));

  store->correlate({"contact", "umsatzio", "77", "ghl", "g-1"});
  auto back = store->reverseLookup("contact", "ghl", "g-1");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].sourceId, "42");
  EXPECT_EQ(back[1].sourceId, "77");

  auto replaced = store->correlate(m, true);
  EXPECT_FALSE(replaced.created);
  EXPECT_EQ(store->lookup("contact", "umsatzio", "42", "ghl"), "g-2");
  store->uncorrelate("contact", "umsatzio", "42", "ghl");
  EXPECT_FALSE(store->lookup("contact", "umsatzio", "42", "ghl"));
  EXPECT_THROW(store->correlate({"contact", "umsatzio", "", "ghl", "x"}), StoreError);
}

// ---- poll cursors ---------------------------------------------------------------------------

TEST_P(StoreTest, PollCursorAndEventsCommitTogetherOrNotAtAll) {
  auto store = open();
  EXPECT_FALSE(store->pollCursor("umsatzio.note.created/main"));
  NewEvent p1 = event("n1", "N1");
  p1.source = "umsatzio.poll";
  NewEvent p2 = event("n2", "N2");
  p2.source = "umsatzio.poll";
  auto results = store->commitPoll("umsatzio.note.created/main", {{"since", 100}}, {p1, p2});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].created && results[1].created);
  EXPECT_EQ(store->pollCursor("umsatzio.note.created/main"), Json({{"since", 100}}));

  // The next page repeats n2 (overlap window) and then fails half-way: a bad event after the
  // cursor update and after n3's insert rolls everything back.
  NewEvent p3 = event("n3", "N3");
  p3.source = "umsatzio.poll";
  NewEvent bad = event("n4", "N4");
  bad.source = "umsatzio.poll";
  bad.flowId.clear();
  EXPECT_THROW(store->commitPoll("umsatzio.note.created/main", {{"since", 200}}, {p2, p3, bad}),
               StoreError);
  EXPECT_EQ(store->pollCursor("umsatzio.note.created/main"), Json({{"since", 100}}));
  EXPECT_EQ(store->queueStats().queued, 2);

  auto retry = store->commitPoll("umsatzio.note.created/main", {{"since", 200}}, {p2, p3});
  ASSERT_EQ(retry.size(), 2u);
  EXPECT_FALSE(retry[0].created);  // deduplicated against the first page
  EXPECT_EQ(retry[0].id, results[1].id);
  EXPECT_TRUE(retry[1].created);
  EXPECT_EQ(store->pollCursor("umsatzio.note.created/main"), Json({{"since", 200}}));
  EXPECT_EQ(store->queueStats().queued, 3);
}

// ---- rate budgets ---------------------------------------------------------------------------

TEST_P(StoreTest, RateBudgetGrantsCapacityPerWindowAndSaysHowLongToWait) {
  auto store = open();
  const TimeUs t0 = 1'800'000'000'000'000;
  int granted = 0;
  TokenGrant last;
  for (int i = 0; i < 15; ++i) {
    last = store->takeToken("ghl-main", "loc-1", t0 + i * 1000, 10, 10s);
    granted += last.granted ? 1 : 0;
  }
  EXPECT_EQ(granted, 10);
  EXPECT_FALSE(last.granted);
  EXPECT_EQ(last.wait.count(), 10 * kSecond - 14 * 1000);
  EXPECT_EQ(last.remaining, 0);
  // Another bucket is independent.
  EXPECT_TRUE(store->takeToken("ghl-main", "loc-2", t0, 10, 10s).granted);
  // The next window refills.
  auto next = store->takeToken("ghl-main", "loc-1", t0 + 10 * kSecond, 10, 10s);
  EXPECT_TRUE(next.granted);
  EXPECT_EQ(next.remaining, 9);

  // The server says 2 calls are left until resetAt: only 2 more are granted, then we wait.
  const TimeUs now = t0 + 11 * kSecond;
  store->recordLimits("ghl-main", "loc-1", 2, now + 3 * kSecond);
  EXPECT_TRUE(store->takeToken("ghl-main", "loc-1", now, 10, 10s).granted);
  EXPECT_TRUE(store->takeToken("ghl-main", "loc-1", now, 10, 10s).granted);
  auto denied = store->takeToken("ghl-main", "loc-1", now, 10, 10s);
  EXPECT_FALSE(denied.granted);
  EXPECT_EQ(denied.wait.count(), 3 * kSecond);
  // A stale, larger header of the same window does not raise the count again.
  store->recordLimits("ghl-main", "loc-1", 50, now + 3 * kSecond);
  EXPECT_FALSE(store->takeToken("ghl-main", "loc-1", now, 10, 10s).granted);
  // After the server's reset only the local window counts.
  EXPECT_TRUE(store->takeToken("ghl-main", "loc-1", now + 3 * kSecond, 10, 10s).granted);

  auto budgets = store->rateBudgets();
  ASSERT_EQ(budgets.size(), 2u);
  EXPECT_EQ(budgets[0].connection, "ghl-main");
  EXPECT_EQ(budgets[0].bucket, "loc-1");
  EXPECT_EQ(budgets[0].windowStart, t0 + 10 * kSecond);
  EXPECT_EQ(budgets[0].used, 4);
  EXPECT_EQ(budgets[0].remoteRemaining, 0);
  EXPECT_EQ(budgets[0].remoteResetAt, now + 3 * kSecond);
  EXPECT_EQ(budgets[1].bucket, "loc-2");
  EXPECT_EQ(budgets[1].used, 1);
}

// ---- dead letters ---------------------------------------------------------------------------

TEST_P(StoreTest, DeadLetterReplayKeepsTheEventIdAndIdempotencyKeys) {
  auto store = open();
  auto id = store->enqueue(event("e1", "K", {{"v", 1}})).id;
  auto discardId = store->enqueue(event("e2", "L")).id;
  auto claimed = store->claim("w1", claimUpTo(10));
  ASSERT_EQ(claimed.size(), 2u);
  store->journalBegin(id, "create", "idem-create-e1", {{"name", "A"}});
  store->deadLetter(claimed[0].lease, "HTTP 422: invalid email", {{"body", {{"email", "x"}}}},
                    {{"status", 422}});
  store->deadLetter(claimed[1].lease, "HTTP 400", {}, {});
  EXPECT_EQ(store->queueStats().dead, 2);
  EXPECT_TRUE(store->claim("w1", claimUpTo(10)).empty());

  auto list = store->listDeadLetters(10);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].eventId, id);
  EXPECT_EQ(list[0].reason, "HTTP 422: invalid email");
  EXPECT_EQ(list[0].request["body"]["email"], "x");
  EXPECT_EQ(list[0].response["status"], 422);
  EXPECT_EQ(list[0].flowId, "contacts");
  EXPECT_EQ(list[0].attempts, 1);
  EXPECT_EQ(store->listDeadLetters(10, id).size(), 1u);
  EXPECT_EQ(store->getEvent(id)->status, EventStatus::Dead);

  store->replayDeadLetter(id);
  EXPECT_FALSE(store->getDeadLetter(id));
  auto again = store->claim("w2", claimUpTo(10));
  ASSERT_THAT(ids(again), ElementsAre(id));
  EXPECT_EQ(again[0].event.payload, Json({{"v", 1}}));
  EXPECT_EQ(again[0].lease.attempt, 1);  // attempts start over
  EXPECT_EQ(store->journalBegin(id, "create", "idem-other", {}).idempotencyKey, "idem-create-e1");

  store->discardDeadLetter(discardId);
  EXPECT_EQ(store->getEvent(discardId)->status, EventStatus::Discarded);
  EXPECT_TRUE(store->listDeadLetters(10).empty());
  for (auto call : {0, 1}) {
    try {
      call == 0 ? store->replayDeadLetter(discardId) : store->discardDeadLetter(12345);
      FAIL();
    } catch (const StoreError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    }
  }
}

// ---- run history ----------------------------------------------------------------------------

TEST_P(StoreTest, RunHistoryRoundTripsWithMicrosecondTimes) {
  auto store = open();
  RunStart start{17, "contacts", "3", "sha256:abc", "w1", 2, 1'700'000'000'123'456};
  auto run = store->beginRun(start);
  store->recordStep(run, {"find",
                          "done",
                          1,
                          1'700'000'000'200'001,
                          1'700'000'000'300'999,
                          {{"method", "GET"}},
                          {{"status", 200}},
                          ""});
  store->recordStep(run, {"create",
                          "retry",
                          1,
                          1'700'000'000'400'000,
                          1'700'000'000'500'000,
                          {{"method", "POST"}},
                          {{"status", 503}},
                          "HTTP 503"});
  store->recordStep(run, {"create",
                          "done",
                          2,
                          1'700'000'000'400'000,
                          1'700'000'000'600'007,
                          {{"method", "POST"}},
                          {{"status", 201}},
                          ""});
  store->finishRun(run, "done", "", 1'700'000'000'700'001);
  auto got = store->getRun(run);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->eventId, 17);
  EXPECT_EQ(got->flowId, "contacts");
  EXPECT_EQ(got->flowVersion, "3");
  EXPECT_EQ(got->flowHash, "sha256:abc");
  EXPECT_EQ(got->workerId, "w1");
  EXPECT_EQ(got->attempt, 2);
  EXPECT_EQ(got->status, "done");
  EXPECT_EQ(got->startedAt, 1'700'000'000'123'456);
  EXPECT_EQ(got->finishedAt, 1'700'000'000'700'001);
  ASSERT_EQ(got->steps.size(), 2u);
  EXPECT_EQ(got->steps[0].stepId, "find");
  EXPECT_EQ(got->steps[0].startedAt, 1'700'000'000'200'001);
  EXPECT_EQ(got->steps[0].finishedAt, 1'700'000'000'300'999);
  EXPECT_EQ(got->steps[0].request, Json({{"method", "GET"}}));
  EXPECT_EQ(got->steps[1].stepId, "create");
  EXPECT_EQ(got->steps[1].status, "done");
  EXPECT_EQ(got->steps[1].attempts, 2);
  EXPECT_EQ(got->steps[1].finishedAt, 1'700'000'000'600'007);
  EXPECT_EQ(got->steps[1].response, Json({{"status", 201}}));

  auto other = store->beginRun({18, "notes", "1", "sha256:def", "w2", 1, 0});
  store->finishRun(other, "failed", "HTTP 400", 0);
  EXPECT_EQ(store->listRuns({}).size(), 2u);
  auto contacts = store->listRuns({"contacts", 0, "", 0, 10});
  ASSERT_EQ(contacts.size(), 1u);
  EXPECT_EQ(contacts[0].id, run);
  EXPECT_TRUE(contacts[0].steps.empty());
  auto failed = store->listRuns({"", 0, "failed", 0, 10});
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].error, "HTTP 400");
  EXPECT_EQ(store->listRuns({"", 18, "", 0, 10}).size(), 1u);
  auto page = store->listRuns({"", 0, "", other, 10});
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].id, run);
  EXPECT_FALSE(store->getRun(run + other + 100));
  EXPECT_THROW(store->finishRun(run + other + 100, "done", "", 0), StoreError);
}

// ---- stats, purge, state --------------------------------------------------------------------

TEST_P(StoreTest, QueueStatsAndPurge) {
  auto store = open();
  EXPECT_EQ(store->queueStats().oldestQueuedAt, 0);
  NewEvent old = event("e1", "A");
  old.receivedAt = clock_ - 90 * kSecond;
  store->enqueue(old);
  store->enqueue(event("e2", "B"));
  store->enqueue(event("e3", "C"));
  auto stats = store->queueStats();
  EXPECT_EQ(stats.queued, 3);
  EXPECT_EQ(stats.running, 0);
  EXPECT_EQ(stats.oldestQueuedAt, clock_ - 90 * kSecond);
  auto claimed = store->claim("w", claimUpTo(2));
  store->complete(claimed[0].lease);
  stats = store->queueStats();
  EXPECT_EQ(stats.queued, 1);
  EXPECT_EQ(stats.running, 1);
  EXPECT_EQ(stats.oldestQueuedAt, clock_);

  // Purge removes settled events before the cutoff; their dedupe key goes too.
  EXPECT_EQ(store->purge(clock_ - 60 * kSecond), 1);
  EXPECT_EQ(store->purge(clock_ - 60 * kSecond), 0);
  EXPECT_TRUE(store->enqueue(old).created);
}

// queueStats counts only open events by status, dates the oldest open one whether it waits or
// runs, and counts dead letters (answered from the index of migration 4 since then).
TEST_P(StoreTest, QueueStatsCountsOpenEventsByStatusAndDatesTheOldest) {
  auto store = open();
  NewEvent oldest = event("q1", "A");
  oldest.receivedAt = clock_ - 300 * kSecond;
  store->enqueue(oldest);
  NewEvent second = event("q2", "B");
  second.receivedAt = clock_ - 200 * kSecond;
  store->enqueue(second);
  store->enqueue(event("q3", "C"));
  store->enqueue(event("q4", "D"));
  auto claimed = store->claim("w", claimUpTo(1));
  ASSERT_EQ(claimed.size(), 1u);
  auto stats = store->queueStats();
  EXPECT_EQ(stats.queued, 3);
  EXPECT_EQ(stats.running, 1);
  EXPECT_EQ(stats.dead, 0);
  EXPECT_EQ(stats.oldestQueuedAt, clock_ - 300 * kSecond) << "the oldest open event is running";

  store->deadLetter(claimed[0].lease, "gave up", Json::object(), Json::object());
  stats = store->queueStats();
  EXPECT_EQ(stats.queued, 3);
  EXPECT_EQ(stats.running, 0);
  EXPECT_EQ(stats.dead, 1);
  EXPECT_EQ(stats.oldestQueuedAt, clock_ - 200 * kSecond);

  claimed = store->claim("w", claimUpTo(3));
  ASSERT_EQ(claimed.size(), 3u);
  store->complete(claimed[0].lease);
  store->complete(claimed[1].lease);
  stats = store->queueStats();
  EXPECT_EQ(stats.queued, 0);
  EXPECT_EQ(stats.running, 1);
  EXPECT_EQ(stats.oldestQueuedAt, claimed[2].event.receivedAt);
  store->complete(claimed[2].lease);
  stats = store->queueStats();
  EXPECT_EQ(stats.queued, 0);
  EXPECT_EQ(stats.running, 0);
  EXPECT_EQ(stats.dead, 1);
  EXPECT_EQ(stats.oldestQueuedAt, 0);
}

TEST_P(StoreTest, PluginStateIsKeyedByPluginAndConnection) {
  auto store = open();
  auto state = store->stateFor("umsatzio", "main");
  auto other = store->stateFor("umsatzio", "second");
  EXPECT_FALSE(state->get("webhook_id"));
  state->put("webhook_id", "wh-1");
  state->put("webhook_id", "wh-2");
  other->put("webhook_id", "wh-9");
  EXPECT_EQ(state->get("webhook_id"), "wh-2");
  EXPECT_EQ(other->get("webhook_id"), "wh-9");
  state->erase("webhook_id");
  EXPECT_FALSE(state->get("webhook_id"));
  EXPECT_EQ(other->get("webhook_id"), "wh-9");
}

}  // namespace
}  // namespace ferry::core::store::testing

namespace ferry::core::store::testing {
namespace {

// PostgreSQL: the server drops our connections (a restart, a failover): the next call runs on
// a fresh connection. SQLite: another process holds the write lock past the busy timeout: the
// call fails as Busy, and works once the lock is released.
TEST_P(StoreTest, ConnectionTroubleIsReportedAndRecovered) {
  Options options;
  options.busyTimeout = std::chrono::milliseconds(200);
  auto store = open(options);
  store->enqueue(event("before", "K"));
  auto raw = rawSession();
  if (isPg()) {
    std::vector<Poco::Int64> killed;
    raw << "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
           " WHERE datname = current_database() AND pid <> pg_backend_pid()",
        Poco::Data::Keywords::into(killed), Poco::Data::Keywords::now;
    ASSERT_EQ(killed.size(), 1u);
    EXPECT_GE(killed[0], 1);
    EXPECT_TRUE(store->enqueue(event("after", "K")).created);
  } else {
    raw << "BEGIN IMMEDIATE", Poco::Data::Keywords::now;
    try {
      store->enqueue(event("blocked", "K"));
      ADD_FAILURE() << "a write while another connection holds the lock must fail";
    } catch (const StoreError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Busy) << e.what();
    }
    raw << "ROLLBACK", Poco::Data::Keywords::now;
    EXPECT_TRUE(store->enqueue(event("after", "K")).created);
  }
  EXPECT_EQ(store->queueStats().queued, 2);
}

}  // namespace
}  // namespace ferry::core::store::testing

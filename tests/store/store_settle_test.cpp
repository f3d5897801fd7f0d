// The store conformance suite, part 4: a step's results (Store::finishStep) and a run's end
// (Store::finishEvent) are each settled in one write transaction, all or nothing. Runs on both
// engines.

#include <gmock/gmock.h>

#include <optional>

#include "store_fixture.hpp"

namespace ferry::core::store::testing {
namespace {

using namespace std::chrono_literals;

constexpr TimeUs kSecond = 1'000'000;

ClaimOptions one(std::chrono::microseconds lease) {
  ClaimOptions o;
  o.limit = 1;
  o.leaseDuration = lease;
  return o;
}

StepFinish doneStep(EventId event, RunId run, const std::string& step) {
  StepFinish f;
  f.eventId = event;
  f.stepId = step;
  f.output = {{"contact", {{"id", "g-1"}}}};
  f.response = Json::array({{{"request", {{"method", "POST"}}}, {"response", {{"status", 201}}}}});
  f.run = run;
  f.record.stepId = step;
  f.record.status = "done";
  f.record.attempts = 1;
  f.record.request = {{"method", "POST"}};
  f.record.response = {{"status", 201}};
  return f;
}

TEST_P(StoreTest, FinishStepWritesJournalCorrelationStateAndHistoryTogether) {
  auto store = open();
  const auto id = store->enqueue(event("e1", "K")).id;
  const auto run = store->beginRun({id, "contacts", "1", "sha256:a", "w1", 1, 0});
  // An older target for the same source: the step's id pair replaces it.
  store->correlate({"contact", "umsatzio", "u-1", "ghl", "g-old"});
  store->journalBegin(id, "upsert", "key-1", {{"email", "a@example.org"}});
  auto done = doneStep(id, run, "upsert");
  done.correlation = Correlation{"contact", "umsatzio", "u-1", "ghl", "g-1"};
  done.state = StepFinish::StateWrite{"ghl", "main", "sent:contacts:upsert:K", "{\"hash\":\"h\"}"};
  store->finishStep(done);

  const auto journal = store->journalGet(id, "upsert");
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->status, StepStatus::Done);
  EXPECT_EQ(journal->attempts, 1);
  EXPECT_EQ(journal->output, done.output);
  EXPECT_EQ(journal->request, Json({{"email", "a@example.org"}}));
  EXPECT_EQ(store->lookup("contact", "umsatzio", "u-1", "ghl"), "g-1");
  EXPECT_EQ(store->stateGet("ghl", "main", "sent:contacts:upsert:K"), "{\"hash\":\"h\"}");
  const auto got = store->getRun(run);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->steps.size(), 1u);
  EXPECT_EQ(got->steps[0].stepId, "upsert");
  EXPECT_EQ(got->steps[0].status, "done");
  EXPECT_EQ(got->steps[0].response, Json({{"status", 201}}));
}

// A step that made no call (skipped by its `when:`, or a suppressed no-op) begins and finishes
// its journal entry in the same transaction.
TEST_P(StoreTest, FinishStepCanBeginTheJournalEntryOfAStepThatMadeNoCall) {
  auto store = open();
  const auto id = store->enqueue(event("e1", "K")).id;
  const auto run = store->beginRun({id, "contacts", "1", "sha256:a", "w1", 1, 0});
  StepFinish skipped;
  skipped.eventId = id;
  skipped.stepId = "existing";
  skipped.begin = true;
  skipped.status = StepStatus::Skipped;
  skipped.run = run;
  skipped.record.stepId = "existing";
  skipped.record.status = "skipped";
  store->finishStep(skipped);
  const auto journal = store->journalGet(id, "existing");
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->status, StepStatus::Skipped);
  EXPECT_EQ(journal->attempts, 1);
  EXPECT_EQ(journal->idempotencyKey, "");
  ASSERT_EQ(store->getRun(run)->steps.size(), 1u);
  EXPECT_EQ(store->getRun(run)->steps[0].status, "skipped");
}

// All or nothing: a step whose journal entry was never begun is refused, and neither its id
// pair, nor its state, nor its history row is written.
TEST_P(StoreTest, FinishStepOfAStepNeverBegunChangesNothing) {
  auto store = open();
  const auto id = store->enqueue(event("e1", "K")).id;
  const auto run = store->beginRun({id, "contacts", "1", "sha256:a", "w1", 1, 0});
  auto done = doneStep(id, run, "never-begun");
  done.correlation = Correlation{"contact", "umsatzio", "u-2", "ghl", "g-2"};
  done.state = StepFinish::StateWrite{"ghl", "main", "sent:x", "v"};
  try {
    store->finishStep(done);
    FAIL() << "finishing a step that was never begun must throw";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound) << e.what();
    EXPECT_THAT(e.what(), ::testing::HasSubstr("never-begun"));
  }
  EXPECT_FALSE(store->lookup("contact", "umsatzio", "u-2", "ghl"));
  EXPECT_FALSE(store->stateGet("ghl", "main", "sent:x"));
  EXPECT_TRUE(store->getRun(run)->steps.empty());
  // The store is still usable after the rolled-back call.
  store->journalBegin(id, "never-begun", "k", Json::object());
  store->finishStep(done);
  EXPECT_EQ(store->lookup("contact", "umsatzio", "u-2", "ghl"), "g-2");
}

// One event claimed by w1 with a 10 s lease, and its run begun.
struct ClaimedRun {
  EventId id = 0;
  Lease lease;
  RunId run = 0;
};
std::optional<ClaimedRun> claimWithRun(Store& store) {
  ClaimedRun c;
  c.id = store.enqueue(event("e1", "K")).id;
  auto mine = store.claim("w1", one(10s));
  if (mine.size() != 1u) {
    ADD_FAILURE() << "w1 claimed " << mine.size() << " events, not 1";
    return std::nullopt;
  }
  c.lease = mine[0].lease;
  c.run = store.beginRun({c.id, "contacts", "1", "sha256:a", "w1", 1, 0});
  return c;
}

TEST_P(StoreTest, FinishEventSettlesTheRunAndTheEventTogether) {
  auto store = open();
  const auto c = claimWithRun(*store);
  ASSERT_TRUE(c);
  const auto id = c->id;
  const auto run = c->run;
  store->finishEvent(run, c->lease, "done", "");
  EXPECT_EQ(store->getEvent(id)->status, EventStatus::Done);
  EXPECT_EQ(store->getRun(run)->status, "done");
  EXPECT_NE(store->getRun(run)->finishedAt, 0);
}

// A run whose lease lapsed and was taken over: nothing is settled, the run is not marked done,
// and the new owner's event stays its own.
TEST_P(StoreTest, FinishEventWithALostLeaseChangesNothing) {
  auto store = open();
  const auto c = claimWithRun(*store);
  ASSERT_TRUE(c);
  const auto id = c->id;
  const auto run = c->run;
  clock_ += 11 * kSecond;
  auto taken = store->claim("w2", one(10s));
  ASSERT_EQ(taken.size(), 1u);
  try {
    store->finishEvent(run, c->lease, "done", "");
    FAIL() << "a settle with a lost lease must throw";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::LeaseLost) << e.what();
  }
  EXPECT_EQ(store->getRun(run)->status, "running");
  EXPECT_EQ(store->getEvent(id)->status, EventStatus::Running);
  EXPECT_EQ(store->getEvent(id)->leaseOwner, "w2");
}

}  // namespace
}  // namespace ferry::core::store::testing

// The store conformance suite, part 3: a restarted worker hands back its own leases at start
// (Store::releaseLeases) instead of waiting for them to expire. Runs on both engines.

#include <algorithm>

#include <gmock/gmock.h>

#include "store_fixture.hpp"

namespace ferry::core::store::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::UnorderedElementsAre;

ClaimOptions oneWithLease(std::chrono::microseconds lease) {
  ClaimOptions o;
  o.limit = 1;
  o.leaseDuration = lease;
  return o;
}

TEST_P(StoreTest, ReleasingOwnLeasesRequeuesThemAtOnceAndLeavesOthersAlone) {
  auto store = open();
  const auto a = store->enqueue(event("a", "KA")).id;
  const auto a2 = store->enqueue(event("a2", "KA")).id;  // waits behind a (same record)
  const auto b = store->enqueue(event("b", "KB")).id;
  const auto c = store->enqueue(event("c", "KC")).id;
  // The old incarnation "host-1/" held a and b; another process "host-2/" holds c. A worker
  // whose id merely shares a shorter prefix ("host-10/") is another process too.
  auto ca = store->claim("host-1/w0", oneWithLease(60s));
  auto cb = store->claim("host-1/w1", oneWithLease(60s));
  auto cc = store->claim("host-2/w0", oneWithLease(60s));
  ASSERT_EQ(ca.size(), 1u);
  ASSERT_EQ(cb.size(), 1u);
  ASSERT_EQ(cc.size(), 1u);
  ASSERT_EQ(ca[0].event.id, a);
  ASSERT_EQ(cb[0].event.id, b);
  ASSERT_EQ(cc[0].event.id, c);
  const auto d = store->enqueue(event("d", "KD")).id;
  auto cd = store->claim("host-10/w0", oneWithLease(60s));
  ASSERT_EQ(cd.size(), 1u);
  ASSERT_EQ(cd[0].event.id, d);
  RunStart run;
  run.eventId = a;
  run.flowId = "contacts";
  run.flowVersion = "1";
  run.flowHash = "h";
  run.workerId = "host-1/w0";
  run.attempt = 1;
  const RunId runA = store->beginRun(run);
  run.eventId = c;
  run.workerId = "host-2/w0";
  const RunId runC = store->beginRun(run);

  // Every lease is live: nothing is claimable before the release.
  EXPECT_TRUE(store->claim("host-1/w0", oneWithLease(60s)).empty());
  EXPECT_EQ(store->releaseLeases("host-1/"), 2);
  EXPECT_EQ(store->getEvent(a)->status, EventStatus::Queued);
  EXPECT_EQ(store->getEvent(a)->leaseOwner, "");
  EXPECT_EQ(store->getEvent(b)->status, EventStatus::Queued);
  EXPECT_EQ(store->getEvent(c)->status, EventStatus::Running);
  EXPECT_EQ(store->getEvent(c)->leaseOwner, "host-2/w0");
  EXPECT_EQ(store->getEvent(d)->leaseOwner, "host-10/w0");
  EXPECT_EQ(store->getRun(runA)->status, "interrupted");
  EXPECT_EQ(store->getRun(runC)->status, "running");

  // The new incarnation claims them at once (the clock has not moved), in order: a before a2.
  std::vector<EventId> got;
  for (int i = 0; i < 4; ++i) {
    for (const auto& cl : store->claim("host-1/w0", oneWithLease(60s))) {
      got.push_back(cl.event.id);
      // a and b: the crashed first attempt still counts; a2 was never claimed before.
      EXPECT_EQ(cl.lease.attempt, cl.event.id == a2 ? 1 : 2) << cl.event.id;
      store->complete(cl.lease);
    }
  }
  EXPECT_THAT(got, UnorderedElementsAre(a, b, a2));
  ASSERT_TRUE(std::find(got.begin(), got.end(), a) < std::find(got.begin(), got.end(), a2));

  // The old leases are fenced: the previous incarnation cannot settle them any more.
  EXPECT_THROW(store->complete(cb[0].lease), StoreError);
  // The other processes' events are still theirs to settle.
  store->complete(cc[0].lease);
  store->complete(cd[0].lease);
  EXPECT_EQ(store->releaseLeases("host-1/"), 0);
  EXPECT_THROW(store->releaseLeases(""), StoreError);
}

// Interruptions count the runs an event lost with its worker: a takeover after the lease expired
// and a release by the restarted process count one each; a retry does not. A dead-letter replay
// (plain or guarded) starts the count again, as it does the attempts.
TEST_P(StoreTest, InterruptionsCountTakeoversAndReleasesAndAReplayResetsThem) {
  constexpr TimeUs kSecond = 1'000'000;
  auto store = open();
  const auto id = store->enqueue(event("i1", "KI")).id;
  auto first = store->claim("host-1/w0", oneWithLease(10s));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].event.interruptions, 0);
  store->retryLater(first[0].lease, clock_, "503");
  auto second = store->claim("host-1/w0", oneWithLease(10s));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].event.interruptions, 0);  // a retry is not an interruption
  clock_ += 11 * kSecond;  // host-1 died: its lease expires, host-2 takes the event over
  auto third = store->claim("host-2/w0", oneWithLease(10s));
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].event.interruptions, 1);
  EXPECT_EQ(store->releaseLeases("host-2/"), 1);  // host-2 died too and was restarted
  EXPECT_EQ(store->getEvent(id)->interruptions, 2);
  auto fourth = store->claim("host-3/w0", oneWithLease(10s));
  ASSERT_EQ(fourth.size(), 1u);
  EXPECT_EQ(fourth[0].event.interruptions, 2);
  EXPECT_EQ(fourth[0].event.attempts, 4);
  store->deadLetter(fourth[0].lease, "interrupted: 2 runs", Json(), Json());
  store->replayDeadLetter(id);
  EXPECT_EQ(store->getEvent(id)->interruptions, 0);
  EXPECT_EQ(store->getEvent(id)->attempts, 0);

  auto fifth = store->claim("host-3/w0", oneWithLease(10s));
  ASSERT_EQ(fifth.size(), 1u);
  clock_ += 11 * kSecond;
  auto sixth = store->claim("host-4/w0", oneWithLease(10s));
  ASSERT_EQ(sixth.size(), 1u);
  EXPECT_EQ(sixth[0].event.interruptions, 1);
  store->deadLetter(sixth[0].lease, "interrupted: 1 run", Json(), Json());
  EXPECT_TRUE(store->replayDeadLetterGuarded(id, ReplayOptions{}).queued);
  EXPECT_EQ(store->getEvent(id)->interruptions, 0);
}

}  // namespace
}  // namespace ferry::core::store::testing

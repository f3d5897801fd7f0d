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

}  // namespace
}  // namespace ferry::core::store::testing

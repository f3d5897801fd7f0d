// The store conformance suite: the guarded poll commit (Store::commitPollFrom), on both engines.
// Two pollers of one trigger that read the same cursor must not both commit: the one that
// commits second may hold an older version of a record and would queue it under a later id.

#include <atomic>
#include <thread>

#include <gmock/gmock.h>

#include "store_fixture.hpp"

namespace ferry::core::store::testing {
namespace {

using namespace std::chrono_literals;

const std::string kKey = "contact-sync:umsatzio.contact.updated";

NewEvent version(const std::string& contact, int v) {
  NewEvent e = event(contact + "@" + std::to_string(v), "umsatzio:" + contact,
                     {{"id", contact}, {"lastName", "v" + std::to_string(v)}});
  e.source = "umsatzio.poll";
  return e;
}

ClaimOptions coalescing() {
  ClaimOptions o;
  o.leaseDuration = 30s;
  o.coalesce = true;
  return o;
}

// The lost update of the chaos run, replayed against the store: poller A reads cursor C0 and
// fetches the contact as created (v1); the contact is renamed (v2); poller B reads C0 too,
// fetches v2 and commits first. A's commit must be refused, so v2 is what runs last.
TEST_P(StoreTest, PollCommitFromAStaleCursorIsRefusedSoAnOlderVersionNeverRunsLast) {
  auto store = open();
  const Json c0 = {{"since", "2026-11-27T00:00:00.000Z"}, {"seen", Json::array()}};
  ASSERT_TRUE(store->commitPollFrom(kKey, nullptr, c0, {}));
  const Json cA = {{"since", "2026-11-27T00:00:01.000Z"}, {"seen", {{{"id", "ct_1@1"}}}}};
  const Json cB = {{"since", "2026-11-27T00:00:02.000Z"}, {"seen", {{{"id", "ct_1@2"}}}}};

  const auto b = store->commitPollFrom(kKey, c0, cB, {version("ct_1", 2)});
  ASSERT_TRUE(b);
  ASSERT_EQ(b->size(), 1u);
  EXPECT_TRUE((*b)[0].created);
  EXPECT_FALSE(store->commitPollFrom(kKey, c0, cA, {version("ct_1", 1)}))
      << "a poll from a cursor another poller has advanced was committed";
  EXPECT_EQ(store->pollCursor(kKey), cB) << "the cursor went back";
  EXPECT_EQ(store->queueStats().queued, 1) << "the stale poll's events were queued";

  auto claimed = store->claim("w", coalescing());
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].event.payload.value("lastName", ""), "v2");
  store->complete(claimed[0].lease);
  EXPECT_TRUE(store->claim("w", coalescing()).empty());

  // The refused poller's next poll starts from B's cursor and commits.
  EXPECT_TRUE(store->commitPollFrom(kKey, cB, cA, {}));
  EXPECT_EQ(store->pollCursor(kKey), cA);
}

// The first poll of a trigger (no cursor yet): only one of two pollers creates it.
TEST_P(StoreTest, OnlyOneFirstPollCreatesTheCursor) {
  auto store = open();
  EXPECT_TRUE(store->commitPollFrom(kKey, nullptr, {{"since", 1}}, {version("ct_2", 1)}));
  EXPECT_FALSE(store->commitPollFrom(kKey, nullptr, {{"since", 2}}, {version("ct_2", 2)}));
  EXPECT_EQ(store->pollCursor(kKey), Json({{"since", 1}}));
  EXPECT_EQ(store->queueStats().queued, 1);
  // A failure half-way commits neither the cursor nor the events.
  NewEvent bad = version("ct_3", 1);
  bad.flowId.clear();
  EXPECT_THROW(store->commitPollFrom(kKey, {{"since", 1}}, {{"since", 3}}, {version("ct_3", 2), bad}),
               StoreError);
  EXPECT_EQ(store->pollCursor(kKey), Json({{"since", 1}}));
  EXPECT_EQ(store->queueStats().queued, 1);
}

// Many pollers on their own Store (connection) race from one cursor, over and over: exactly one
// commit wins each round, and the cursor only ever moves forward.
TEST_P(StoreTest, RacingPollersCommitExactlyOncePerCursor) {
  constexpr int kPollers = 4;
  constexpr int kRounds = 15;
  auto setup = openReal();
  ASSERT_TRUE(setup->commitPollFrom(kKey, nullptr, {{"round", 0}}, {}));
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kPollers; ++i) {
    stores.push_back(openReal());
  }
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> won{0};
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kPollers; ++i) {
      threads.emplace_back([&, i] {
        try {
          if (stores[static_cast<std::size_t>(i)]->commitPollFrom(
                  kKey, {{"round", round}}, {{"round", round + 1}},
                  {version("ct_r" + std::to_string(round), i)})) {
            ++won;
          }
        } catch (const StoreError&) {
          ++errors;  // SQLite Busy after its timeout: not a commit
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    ASSERT_EQ(errors.load(), 0) << "round " << round;
    ASSERT_EQ(won.load(), 1) << "round " << round;
    ASSERT_EQ(setup->pollCursor(kKey), Json({{"round", round + 1}}));
  }
  EXPECT_EQ(setup->queueStats().queued, kRounds);
}

}  // namespace
}  // namespace ferry::core::store::testing

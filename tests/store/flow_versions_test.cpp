// The mapping changelog in the store: flow_versions (migration 3) joined with the runs. Runs on
// both engines through the conformance fixture.

#include <gmock/gmock.h>

#include "store_fixture.hpp"

namespace ferry::core::store::testing {
namespace {

constexpr TimeUs kSecond = 1'000'000;

FlowVersion version(const std::string& hash, const std::string& content) {
  return {"contacts", hash, "1", "/etc/ferry/flows/contacts.yaml", content, 0};
}

TEST_P(StoreTest, FlowVersionIsKeptOncePerHashWithItsContent) {
  auto store = open();
  const std::string content = "version: 1\nid: contacts\n# ä ünïcode and 'quotes'\n";
  store->recordFlowVersion(version("aaa", content));
  clock_ += 60 * kSecond;
  // A second load of the same bytes (a restart) keeps the first record.
  store->recordFlowVersion(version("aaa", "something else"));
  const auto v = store->getFlowVersion("contacts", "aaa");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->content, content);
  EXPECT_EQ(v->version, "1");
  EXPECT_EQ(v->path, "/etc/ferry/flows/contacts.yaml");
  EXPECT_EQ(v->recordedAt, clock_.load() - 60 * kSecond);
  EXPECT_FALSE(store->getFlowVersion("contacts", "bbb"));
  EXPECT_FALSE(store->getFlowVersion("other", "aaa"));
  EXPECT_THROW(store->recordFlowVersion(version("", content)), StoreError);
}

TEST_P(StoreTest, FlowHistoryListsTheVersionsThatRanWithTheirRuns) {
  auto store = open();
  const TimeUs t0 = clock_.load();
  store->recordFlowVersion(version("aaa", "v: 1\n"));
  store->beginRun({1, "contacts", "1", "aaa", "w1", 1, t0 + 1 * kSecond});
  store->beginRun({2, "contacts", "1", "aaa", "w1", 1, t0 + 5 * kSecond});
  clock_ += 100 * kSecond;
  store->recordFlowVersion({"contacts", "bbb", "2", "", "v: 2\n", 0});
  store->beginRun({3, "contacts", "2", "bbb", "w1", 1, t0 + 101 * kSecond});
  // Another flow's runs and a version that ran before flow files were kept.
  store->beginRun({4, "notes", "1", "ccc", "w1", 1, t0 + 102 * kSecond});
  store->beginRun({5, "contacts", "1", "old", "w1", 1, t0 - 50 * kSecond});

  const auto history = store->flowHistory("contacts");
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].hash, "bbb");
  EXPECT_EQ(history[0].runs, 1);
  EXPECT_EQ(history[0].version, "2");
  EXPECT_EQ(history[0].firstRunAt, t0 + 101 * kSecond);
  EXPECT_TRUE(history[0].hasContent);
  EXPECT_EQ(history[1].hash, "aaa");
  EXPECT_EQ(history[1].runs, 2);
  EXPECT_EQ(history[1].firstRunAt, t0 + 1 * kSecond);
  EXPECT_EQ(history[1].lastRunAt, t0 + 5 * kSecond);
  EXPECT_EQ(history[1].recordedAt, t0);
  EXPECT_EQ(history[2].hash, "old");
  EXPECT_FALSE(history[2].hasContent);
  EXPECT_EQ(history[2].recordedAt, 0);

  // A version loaded but not run yet is listed with no runs.
  store->recordFlowVersion({"notes", "ddd", "3", "", "v: 3\n", 0});
  const auto notes = store->flowHistory("notes");
  ASSERT_EQ(notes.size(), 2u);
  const auto fresh = std::find_if(notes.begin(), notes.end(),
                                  [](const FlowVersionUse& u) { return u.hash == "ddd"; });
  ASSERT_NE(fresh, notes.end());
  EXPECT_EQ(fresh->runs, 0);
  EXPECT_EQ(fresh->firstRunAt, 0);
  EXPECT_TRUE(store->flowHistory("nothing").empty());
}

TEST_P(StoreTest, DatabaseOfSchemaTwoGainsFlowVersionsOnOpen) {
  {
    Options v2;
    v2.migrateTo = 2;
    auto old = open(v2);
    EXPECT_EQ(old->schemaVersion(), 2);
    old->beginRun({1, "contacts", "1", "aaa", "w1", 1, 0});
    EXPECT_THROW(old->recordFlowVersion(version("aaa", "x")), StoreError);
  }
  auto store = open();
  EXPECT_GE(store->schemaVersion(), 3);
  store->recordFlowVersion(version("aaa", "x"));
  const auto history = store->flowHistory("contacts");
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].runs, 1);
  EXPECT_TRUE(history[0].hasContent);
}

}  // namespace
}  // namespace ferry::core::store::testing

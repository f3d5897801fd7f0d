// Sync cycles: `schedule:` parsing (pure), and real cycles in process (the Engine with the real
// plugins, both real sandboxes over HTTP on 127.0.0.1) on both store engines, for the sync cursor:
// a dry run writes nothing, the first cycle is full, later cycles list only what changed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <thread>

#include "engine/engine.hpp"
#include "flow/flow.hpp"
#include "flow/schedule.hpp"
#include "http/client.hpp"
#include "loader/loader.hpp"
#include "store/store_fixture.hpp"
#include "support/process.hpp"
#include "sync/scheduler.hpp"
#include "sync/sync.hpp"

namespace ferry::core::sync {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sdk::Json;
using ::testing::HasSubstr;
using SysClock = std::chrono::system_clock;

// ---- schedule parsing ----------------------------------------------------------------------

std::optional<flow::Schedule> parse(const std::string& yaml, std::vector<flow::Diagnostic>& d) {
  return flow::parseSchedule(YAML::Load(yaml), "f.yaml", d);
}

SysClock::time_point utc(int y, int mo, int d, int h, int mi) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return SysClock::from_time_t(timegm(&tm));
}

TEST(Schedule, IntervalsInEveryForm) {
  std::vector<flow::Diagnostic> d;
  auto a = parse("6h", d);
  auto b = parse("{every: 1h30m, full: true, budget_share: 0.5}", d);
  auto c = parse("{every: 45s}", d);
  ASSERT_TRUE(d.empty()) << flow::formatText(d);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->kind, flow::Schedule::Kind::Every);
  EXPECT_EQ(a->every, 6h);
  EXPECT_FALSE(a->full);
  EXPECT_DOUBLE_EQ(a->budgetShare, 0.3);
  EXPECT_EQ(b->every, 90min);
  EXPECT_TRUE(b->full);
  EXPECT_DOUBLE_EQ(b->budgetShare, 0.5);
  EXPECT_EQ(c->every, 45s);
  EXPECT_EQ(flow::parseInterval("1d"), std::chrono::seconds(86400));
  EXPECT_FALSE(flow::parseInterval("0s"));
  EXPECT_FALSE(flow::parseInterval("6"));
  EXPECT_FALSE(flow::parseInterval("h"));
  EXPECT_FALSE(flow::parseInterval("6x"));
}

TEST(Schedule, CronNextRunIsTheNextMatchingMinuteInUtc) {
  std::vector<flow::Diagnostic> d;
  auto sixHourly = parse("\"0 */6 * * *\"", d);
  auto weekdays = parse("{cron: \"30 3 * * mon-fri\"}", d);
  auto listed = parse("{cron: \"5,35 9-10 1 jan,jul *\"}", d);
  ASSERT_TRUE(d.empty()) << flow::formatText(d);
  ASSERT_TRUE(sixHourly && weekdays && listed);
  EXPECT_EQ(sixHourly->kind, flow::Schedule::Kind::Cron);
  EXPECT_EQ(flow::nextRun(*sixHourly, utc(2026, 11, 26, 23, 40)), utc(2026, 11, 27, 0, 0));
  EXPECT_EQ(flow::nextRun(*sixHourly, utc(2026, 11, 27, 0, 0)), utc(2026, 11, 27, 6, 0));
  // 2026-11-27 is a Friday: the next weekday 03:30 after Friday 04:00 is Monday the 30th.
  EXPECT_EQ(flow::nextRun(*weekdays, utc(2026, 11, 27, 4, 0)), utc(2026, 11, 30, 3, 30));
  EXPECT_EQ(flow::nextRun(*listed, utc(2026, 11, 27, 0, 0)), utc(2027, 1, 1, 9, 5));
  EXPECT_EQ(flow::nextRun(*listed, utc(2027, 1, 1, 9, 5)), utc(2027, 1, 1, 9, 35));
  EXPECT_EQ(flow::nextRun(*listed, utc(2027, 1, 1, 10, 35)), utc(2027, 7, 1, 9, 5));
  auto never = parse("\"0 0 31 2 *\"", d);
  ASSERT_TRUE(never);
  EXPECT_FALSE(flow::nextRun(*never, utc(2026, 1, 1, 0, 0)));
}

TEST(Schedule, EveryIntervalCountsFromTheLastCycle) {
  std::vector<flow::Diagnostic> d;
  auto s = parse("{every: 6h}", d);
  ASSERT_TRUE(s);
  const auto now = utc(2026, 11, 26, 12, 0);
  EXPECT_EQ(Scheduler::dueAt(*s, std::nullopt, now), now) << "a flow never synced is due at once";
  EXPECT_EQ(Scheduler::dueAt(*s, utc(2026, 11, 26, 10, 0), now), utc(2026, 11, 26, 16, 0));
}

TEST(Schedule, EveryMistakeHasItsPlaceAndAHint) {
  struct Case {
    std::string yaml;
    std::string code;
    std::string message;
    int line;
    int column;
  };
  const std::vector<Case> cases = {
      {"schedule: sometimes", "bad_value", "not an interval or a cron expression", 1, 11},
      {"schedule: \"0 * * *\"", "bad_value", "has 4 fields, not 5", 1, 11},
      {"schedule: \"61 * * * *\"", "bad_value", "out of range for the minute field", 1, 11},
      {"schedule: \"0 * * * funday\"", "bad_value", "not a valid day of week", 1, 11},
      {"schedule: \"*/0 * * * *\"", "bad_value", "not a positive number", 1, 11},
      {"schedule:\n  every: 6h\n  cron: \"0 * * * *\"", "bad_value", "both `every:` and `cron:`", 3,
       9},
      {"schedule:\n  full: true", "missing_key", "neither `every:` nor `cron:`", 2, 3},
      {"schedule:\n  every: 6h\n  budget_share: 2", "bad_value", "above 0 and at most 1", 3, 17},
      {"schedule:\n  every: 6h\n  full: maybe", "bad_value", "true or false", 3, 9},
      {"schedule:\n  every: soon", "bad_value", "must be an interval", 2, 10},
      {"schedule:\n  every: 6h\n  often: yes", "unknown_key", "unknown key 'often'", 3, 3},
      {"schedule: [6h]", "bad_value", "found a list", 1, 11},
  };
  for (const auto& c : cases) {
    std::vector<flow::Diagnostic> d;
    flow::parseSchedule(YAML::Load(c.yaml)["schedule"], "f.yaml", d);
    ASSERT_EQ(d.size(), 1U) << c.yaml << "\n" << flow::formatText(d);
    EXPECT_EQ(d[0].code, c.code) << c.yaml;
    EXPECT_THAT(d[0].message, HasSubstr(c.message)) << c.yaml;
    EXPECT_EQ(d[0].at.line, c.line) << c.yaml;
    EXPECT_EQ(d[0].at.column, c.column) << c.yaml;
    EXPECT_FALSE(d[0].hint.empty()) << c.yaml;
    EXPECT_TRUE(flow::isKnownCode(d[0].code)) << c.code;
  }
}

TEST(Schedule, AFlowFileCarriesItsScheduleAndReportsItsMistakesInPlace) {
  const std::string head =
      "version: 1\nid: contacts\ntrigger:\n  use: umsatzio.contact.updated\n"
      "  connection: umsatzio\n";
  const std::string steps =
      "steps:\n  - id: upsert\n    use: ghl.contact.upsert\n    connection: ghl\n"
      "    with:\n      email: ${event.email}\n";
  std::vector<flow::Diagnostic> d;
  auto ok = flow::parseFlow(head + "schedule: {every: 6h, budget_share: 0.2}\n" + steps, "c.yaml", d);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(d.empty()) << flow::formatText(d);
  ASSERT_TRUE(ok->schedule);
  EXPECT_EQ(ok->schedule->every, 6h);
  EXPECT_DOUBLE_EQ(ok->schedule->budgetShare, 0.2);

  auto none = flow::parseFlow(head + steps, "c.yaml", d);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->schedule);

  flow::parseFlow(head + "schedule: {every: 6h, cron: \"0 3 * * *\"}\n" + steps, "c.yaml", d);
  ASSERT_EQ(d.size(), 1U) << flow::formatText(d);
  EXPECT_THAT(flow::formatText(d), ::testing::StartsWith("c.yaml:6:29: error[bad_value]: "));
}

// ---- cycles on both store engines ------------------------------------------------------------

http::Client& client() {
  static http::Client c;
  return c;
}

Json call(const std::string& method, const std::string& url, const Json& body = nullptr) {
  sdk::HttpRequest req;
  req.method = method;
  req.url = url;
  if (!body.is_null()) {
    req.body = body.dump();
    req.headers.push_back({"Content-Type", "application/json"});
  }
  const auto res = client().send(req);
  if (res.status / 100 != 2) {
    throw std::runtime_error(method + " " + url + " answered " + std::to_string(res.status) +
                             ": " + res.body);
  }
  return res.body.empty() ? Json() : Json::parse(res.body);
}

class SyncCycleTest : public store::testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    ghlProc_ = std::make_unique<ferry::testing::ChildProcess>(std::vector<std::string>{
        std::string(FERRY_BINARY_DIR) + "/libexec/ferry/ferry-sandbox-ghl", "--port", "0"});
    ghl_ = Json::parse(ghlProc_->readLine());
    umzProc_ = std::make_unique<ferry::testing::ChildProcess>(std::vector<std::string>{
        std::string(FERRY_BINARY_DIR) + "/libexec/ferry/ferry-sandbox-umsatzio", "--port", "0",
        "--api-key", "umz-sync-test-key"});
    umz_ = Json::parse(umzProc_->readLine());
    dir_ = fs::temp_directory_path() / ("ferry-sync-" + store::testing::randomSuffix());
    fs::create_directories(dir_);
    fs::copy_file(fs::path(FERRY_SOURCE_DIR) / "flows" / "contact-sync.yaml",
                  dir_ / "contact-sync.yaml");
    ::setenv("SYNC_TEST_GHL_TOKEN", ghl_["tokens"]["full"]["token"].get<std::string>().c_str(), 1);
    ::setenv("SYNC_TEST_UMZ_KEY", "umz-sync-test-key", 1);
    std::ofstream(dir_ / "ferry.yaml")
        << "version: 1\nstate_dir: " << (dir_ / "state").string() << "\nstore: \"" << url_
        << "\"\nflows: [contact-sync.yaml]\nconnections:\n"
        << "  ghl:\n    plugin: ghl\n    auth: private_token\n    base_url: "
        << ghl_["base_url"].get<std::string>()
        << "\n    settings: {location_id: ferrySandboxLoc00001}\n"
        << "    secrets: {token: env:SYNC_TEST_GHL_TOKEN}\n"
        << "  umsatzio:\n    plugin: umsatzio\n    auth: api_key\n    base_url: "
        << umz_["base_url"].get<std::string>() << "\n    secrets: {api_key: env:SYNC_TEST_UMZ_KEY}\n";
    std::vector<flow::Diagnostic> diagnostics;
    auto config = engine::loadRuntimeConfig(dir_ / "ferry.yaml", diagnostics);
    ASSERT_TRUE(config && diagnostics.empty()) << flow::formatText(diagnostics);
    auto scan = loader::scan({fs::path(FERRY_BINARY_DIR) / "lib" / "ferry" / "plugins"});
    catalog_ = std::make_unique<catalog::Catalog>(std::move(scan.plugins));
    store_ = openReal();
    engine_ = std::make_unique<engine::Engine>(*config, *catalog_, *store_, nullptr);
    diagnostics = engine_->loadFlows();
    ASSERT_TRUE(diagnostics.empty()) << flow::formatText(diagnostics);
    engine_->allowCallsBeforeStart();
  }

  void TearDown() override {
    engine_.reset();
    store_.reset();
    umzProc_.reset();
    ghlProc_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
    StoreTest::TearDown();
  }

  const engine::LoadedFlow& flow() { return *engine_->flows().front(); }

  Report cycle(bool dryRun, bool full = false) {
    Options o;
    o.dryRun = dryRun;
    o.full = full;
    o.budgetShare = 1.0;
    return Cycle(*engine_, flow()).run(o);
  }

  // Runs the queued events in this process (the engine is not started), bounded.
  void drain() {
    for (int i = 0; i < 600; ++i) {
      if (!engine_->processOne("t")) {
        const auto stats = store_->queueStats();
        if (stats.queued == 0 && stats.running == 0) {
          return;
        }
        std::this_thread::sleep_for(50ms);
      }
    }
    FAIL() << "the queue did not drain";
  }

  Json newContact(const std::string& email, const std::string& first, const std::string& last) {
    return call("POST", umz_["admin_url"].get<std::string>() + "/contact",
                {{"data",
                  {{"global_contact_email", email},
                   {"global_contact_first_name", first},
                   {"global_contact_last_name", last}}}});
  }
  Json ghlContacts() {
    return call("GET", ghl_["admin_url"].get<std::string>() +
                           "/state")["locations"]["ferrySandboxLoc00001"]["contacts"];
  }

  fs::path dir_;
  Json ghl_;
  Json umz_;
  std::unique_ptr<ferry::testing::ChildProcess> ghlProc_;
  std::unique_ptr<ferry::testing::ChildProcess> umzProc_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<engine::Engine> engine_;
};

TEST_P(SyncCycleTest, TheCursorMakesLaterCyclesListOnlyWhatChanged) {
  const Json a = newContact("ada@sync.example", "Ada", "Lovelace");
  const Json b = newContact("bob@sync.example", "Bob", "Baker");
  const Json c = newContact("cem@sync.example", "Cem", "Yilmaz");
  const std::string key = cursorKey("contact-sync");

  // A dry run reports and writes nothing: no cursor, no event.
  const Report dry = cycle(true);
  EXPECT_TRUE(dry.full);
  EXPECT_EQ(dry.reason, "first cycle");
  EXPECT_EQ(dry.sourceRecords, 3);
  EXPECT_EQ(dry.count(Drift::Kind::Missing), 3);
  EXPECT_EQ(dry.queued, 0);
  EXPECT_FALSE(store_->pollCursor(key));
  EXPECT_EQ(store_->queueStats().queued, 0);

  // The first real cycle is full, queues the three, and stores the cursor.
  const Report first = cycle(false);
  EXPECT_TRUE(first.full);
  EXPECT_EQ(first.count(Drift::Kind::Missing), 3);
  EXPECT_EQ(first.queued, 3);
  const auto cursor = store_->pollCursor(key);
  ASSERT_TRUE(cursor);
  ASSERT_TRUE((*cursor)["source"].is_object()) << cursor->dump();
  EXPECT_EQ((*cursor)["last"]["missing"], 3);
  EXPECT_EQ((*cursor)["last"]["drift"], 3);
  drain();
  ASSERT_EQ(ghlContacts().size(), 3U) << ghlContacts().dump(2);

  // Nothing changed: the next cycle lists nothing and finds nothing.
  const Report quiet = cycle(false);
  EXPECT_FALSE(quiet.full);
  EXPECT_EQ(quiet.sourceRecords, 0);
  EXPECT_TRUE(quiet.drift.empty());

  // One contact changes in the source: only it is listed, and it differs in GHL.
  call("POST", umz_["admin_url"].get<std::string>() + "/contact",
       {{"id", b["id"]}, {"data", {{"global_contact_last_name", "bäcker"}}}});
  const Report changed = cycle(false);
  EXPECT_FALSE(changed.full);
  EXPECT_EQ(changed.sourceRecords, 1);
  ASSERT_EQ(changed.drift.size(), 1U) << changed.toText();
  EXPECT_EQ(changed.drift[0].kind, Drift::Kind::Different);
  EXPECT_EQ(changed.drift[0].sourceId, b["id"]);
  EXPECT_EQ(changed.drift[0].fields["lastName"]["source"], "Bäcker");
  EXPECT_EQ(changed.drift[0].fields["lastName"]["target"], "Baker");
  drain();

  // A full cycle still sees all three, all in sync now, whatever the cursor says.
  const Report full = cycle(true, true);
  EXPECT_TRUE(full.full);
  EXPECT_EQ(full.sourceRecords, 3);
  EXPECT_EQ(full.targetRecords, 3);
  EXPECT_EQ(full.inSync, 3) << full.toText();
  EXPECT_TRUE(full.drift.empty()) << full.toText();
  const Json contacts = ghlContacts();
  ASSERT_EQ(contacts.size(), 3U);
  std::set<std::string> last;
  for (const auto& x : contacts) {
    last.insert(x["lastName"].get<std::string>());
  }
  EXPECT_EQ(last, (std::set<std::string>{"Lovelace", "Bäcker", "Yilmaz"}));
  (void)a;
  (void)c;
}

TEST_P(SyncCycleTest, AFirstFullSyncOfThousandsReportsProgressAndTheBudgetEstimate) {
  const Json made = call("POST", umz_["admin_url"].get<std::string>() + "/generate",
                         {{"contacts", 1500}, {"seed", 7}});
  const long total = static_cast<long>(made["contacts"].size());
  ASSERT_EQ(total, 1500) << made.dump().substr(0, 300);
  std::vector<Progress> seen;
  Options o;
  o.dryRun = true;
  o.budgetShare = 0.3;  // GHL: 100 per 10 s -> 30 calls per 10 s for the cycle and its repairs
  o.progress = [&](const Progress& p) { seen.push_back(p); };
  const Report r = Cycle(*engine_, flow()).run(o);
  EXPECT_TRUE(r.full);
  EXPECT_EQ(r.sourceRecords, total);
  EXPECT_EQ(r.compared + r.skipped, total);
  EXPECT_EQ(r.count(Drift::Kind::Missing), r.compared) << "GHL is empty: every compared one is missing";
  EXPECT_GT(r.compared, 1000);
  // The estimate is the budget's arithmetic: repairs x 2 calls (get + upsert) / 3 calls per s.
  EXPECT_DOUBLE_EQ(r.callsPerSecond, 3.0);
  EXPECT_EQ(r.callsPerRepair, 2);
  EXPECT_EQ(r.repairEta.count(), (r.compared * 2 + 2) / 3);
  EXPECT_EQ(r.targetCalls, 1) << "one search page stands for all of GHL";
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().phase, "list");
  bool listedAll = false;
  for (const auto& p : seen) {
    listedAll = listedAll || (p.phase == "list" && p.done == total);
  }
  EXPECT_TRUE(listedAll);
  EXPECT_EQ(seen.back().phase, "queue");
  EXPECT_EQ(seen.back().total, r.compared);
  EXPECT_EQ(seen.back().eta, r.repairEta);
  const Json j = r.toJson();
  EXPECT_EQ(j["budget"]["repair_eta_seconds"], r.repairEta.count());
  EXPECT_EQ(j["counts"]["missing"], r.compared);
  EXPECT_THAT(r.toText(), HasSubstr("Dry run: nothing was queued"));
  EXPECT_FALSE(store_->pollCursor(cursorKey("contact-sync")));
}

// Another worker's cycle of the same flow commits while this one runs (the cursor this cycle
// started from has moved): this cycle's repairs are dropped, so an older copy of a record is
// never queued after a newer one. Nothing is queued, the other cycle's cursor stands, no cycle
// is counted; the next cycle starts from the cursor that stands and commits.
TEST_P(SyncCycleTest, ACycleWhoseCursorMovedMeanwhileQueuesNothing) {
  newContact("ada@sync.example", "Ada", "Lovelace");
  newContact("bob@sync.example", "Bob", "Baker");
  const std::string key = cursorKey("contact-sync");
  // What the other worker committed: no source cursor (so the next cycle lists everything).
  const Json other = {{"source", nullptr}, {"last", {{"queued", 0}, {"by", "another worker"}}}};
  int moves = 0;
  Options o;
  o.budgetShare = 1.0;
  o.progress = [&](const Progress& p) {
    // After this cycle read its cursor and compared, before it commits.
    if (p.phase == "compare" && moves == 0) {
      ++moves;
      EXPECT_TRUE(store_->commitPollFrom(key, Json(), other, {}).has_value());
    }
  };
  const Report refused = Cycle(*engine_, flow()).run(o);
  ASSERT_EQ(moves, 1) << "the cycle never reached its comparison";
  EXPECT_EQ(refused.count(Drift::Kind::Missing), 2) << refused.toText();
  EXPECT_EQ(refused.queued, 0);
  EXPECT_EQ(refused.alreadyQueued, 2);
  const auto stats = store_->queueStats();
  EXPECT_EQ(stats.queued, 0);
  EXPECT_EQ(stats.running, 0);
  EXPECT_EQ(store_->pollCursor(key), std::optional<Json>(other));
  EXPECT_EQ(engine_->metrics().render().find("ferry_sync_cycles_total"), std::string::npos)
      << engine_->metrics().render();
  drain();
  EXPECT_TRUE(ghlContacts().empty()) << ghlContacts().dump(2);

  // The next cycle reads the cursor that stands and commits its repairs.
  const Report next = cycle(false);
  EXPECT_EQ(next.queued, 2) << next.toText();
  const auto cursor = store_->pollCursor(key);
  ASSERT_TRUE(cursor);
  EXPECT_EQ((*cursor)["last"]["queued"], 2) << cursor->dump();
  drain();
  EXPECT_EQ(ghlContacts().size(), 2U) << ghlContacts().dump(2);
}

INSTANTIATE_TEST_SUITE_P(Engines, SyncCycleTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ferry::core::sync

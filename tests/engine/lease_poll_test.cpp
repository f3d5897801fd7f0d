// Issue 7, in process on both stores (SQLite file, PostgreSQL from FERRY_TEST_PG): two workers
// polling one trigger never queue an older version of a record after a newer one (the lost
// update of the chaos run), and a step whose call outlasts the lease keeps its event (the lease
// is renewed) or, when the event is taken over anyway, does not settle it.
//
// The "service" is the test's own loopback server, which holds a poll's fetch or a step's call
// until the test releases it: every interleaving below is forced, never left to timing.
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <thread>

#include "../store/store_fixture.hpp"
#include "engine/engine.hpp"
#include "kit.hpp"
#include "loader/loader.hpp"
#include "log/log.hpp"

namespace ferry::core::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sdk::Json;
using store::testing::StoreTest;

// Records (versions count up across all records) and the messages the flows send.
class RelayServer {
 public:
  RelayServer() : server_([this](const sandbox::Request& r) { return handle(r); }) {
    server_.start();
  }
  ~RelayServer() {
    release();
    server_.stop();
  }
  std::string url() const { return server_.baseUrl(); }

  void put(const std::string& record, const std::string& text) {
    std::lock_guard lock(mutex_);
    records_[record] = {++version_, text};
  }
  // The next fetch of /records takes its answer at once but sends it only after release().
  void holdNextFetch() {
    std::lock_guard lock(mutex_);
    holdFetch_ = true;
  }
  // Every call to /messages waits for release() before it answers.
  void holdMessages() {
    std::lock_guard lock(mutex_);
    holdMessages_ = true;
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    holdFetch_ = false;
    holdMessages_ = false;
    cv_.notify_all();
  }
  bool waitHeld(int& counter, int n, std::chrono::seconds timeout = 60s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return counter >= n; });
  }
  bool waitFetchHeld() { return waitHeld(fetchesHeld_, 1); }
  bool waitMessageHeld() { return waitHeld(messagesHeld_, 1); }
  std::vector<std::string> texts() {
    std::lock_guard lock(mutex_);
    return texts_;
  }

 private:
  sandbox::Response handle(const sandbox::Request& r) {
    std::unique_lock lock(mutex_);
    if (r.method == "GET" && r.path == "/records") {
      long long after = 0;
      if (const auto at = r.query.find("after"); at != r.query.end()) {
        after = std::stoll(at->second);
      }
      Json list = Json::array();
      for (const auto& [id, rec] : records_) {
        if (rec.first > after) {
          list.push_back({{"record", id}, {"version", rec.first}, {"text", rec.second}});
        }
      }
      if (holdFetch_) {  // answer what was read now, later
        holdFetch_ = false;
        ++fetchesHeld_;
        cv_.notify_all();
        cv_.wait_for(lock, 60s, [&] { return released_; });
      }
      return sandbox::Response::json(200, {{"records", list}});
    }
    const Json m = Json::parse(r.body, nullptr, false);
    texts_.push_back(m.is_object() ? m.value("text", "") : "");
    const auto n = texts_.size();
    if (holdMessages_) {
      ++messagesHeld_;
      cv_.notify_all();
      cv_.wait_for(lock, 60s, [&] { return released_; });
    }
    return sandbox::Response::json(201, {{"id", "m" + std::to_string(n)}});
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, std::pair<long long, std::string>> records_;
  long long version_ = 0;
  bool holdFetch_ = false;
  bool holdMessages_ = false;
  bool released_ = false;
  int fetchesHeld_ = 0;
  int messagesHeld_ = 0;
  std::vector<std::string> texts_;
  sandbox::Server server_;
};

class LeasePollTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    static std::once_flag logging;
    std::call_once(logging, [] { log::setup("info", log::Format::Text); });
    dir_ = fs::temp_directory_path() /
           ("ferry-lease-poll-" + std::to_string(::getpid()) + "-" + store::testing::randomSuffix());
    fs::create_directories(dir_);
    auto scan = loader::scan({fs::path(FERRY_FIXTURE_DIR) / "relay"});
    ASSERT_TRUE(scan.errors.empty());
    catalog_ = std::make_unique<catalog::Catalog>(std::move(scan.plugins));
    ASSERT_NE(catalog_->plugin("relay"), nullptr);
    std::ofstream(dir_ / "sync.yaml")
        << "version: 1\nid: relay-sync\ntrigger:\n  use: relay.record.polled\n  connection: r\n"
           "steps:\n  - id: first\n    use: relay.record.send\n    connection: r\n    with:\n"
           "      text: \"${event.text}\"\n  - id: second\n    use: relay.record.send\n"
           "    connection: r\n    with:\n      text: \"${event.text} (second step)\"\n";
  }
  void TearDown() override {
    engines_.clear();
    stores_.clear();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    StoreTest::TearDown();
  }

  // A worker process: its own Store and Engine on the shared database.
  Engine& addEngine(int workers, std::chrono::seconds lease, const std::string& name) {
    std::ofstream(dir_ / (name + ".yaml"))
        << "version: 1\nstate_dir: state-" << name << "\nworker_id: " << name
        << "\nflows: [sync.yaml]\nserver: {port: 0}\n"
        << "limits: {workers: " << workers << ", poll_interval_seconds: 3600}\n"
        << "connections:\n  r:\n    plugin: relay\n    base_url: " << server_.url() << "\n";
    std::vector<flow::Diagnostic> diagnostics;
    auto config = loadRuntimeConfig(dir_ / (name + ".yaml"), diagnostics);
    EXPECT_TRUE(config && diagnostics.empty()) << flow::formatText(diagnostics);
    config->lease = lease;  // below the 5 s the config file allows: the test's calls are short
    stores_.push_back(openReal());
    engines_.push_back(std::make_unique<Engine>(*config, *catalog_, *stores_.back(), nullptr));
    auto& engine = *engines_.back();
    const auto problems = engine.loadFlows();
    EXPECT_TRUE(problems.empty()) << flow::formatText(problems);
    engine.allowCallsBeforeStart();
    return engine;
  }

  store::EventId enqueue(store::Store& store, const std::string& record, const std::string& text) {
    store::NewEvent e;
    e.source = "relay.poll";
    e.sourceEventId = record + "@" + text;
    e.flowId = "relay-sync";
    e.triggerOp = "relay.record.polled";
    e.recordKey = "relay:" + record;
    e.payload = {{"record", record}, {"version", 1}, {"text", text}};
    return store.enqueue(e).id;
  }

  static bool waitFor(const std::function<bool()>& done, std::chrono::seconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) {
        return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return done();
  }

  static double metric(Engine& engine, const std::string& name) {
    std::istringstream text(engine.metrics().render());
    std::string line;
    double sum = 0;
    while (std::getline(text, line)) {
      if (line.rfind(name, 0) == 0 && (line[name.size()] == ' ' || line[name.size()] == '{')) {
        sum += std::stod(line.substr(line.rfind(' ') + 1));
      }
    }
    return sum;
  }

  fs::path dir_;
  RelayServer server_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::vector<std::unique_ptr<store::Store>> stores_;
  std::vector<std::unique_ptr<Engine>> engines_;
};

INSTANTIATE_TEST_SUITE_P(Engines, LeasePollTest, ::testing::Values("sqlite", "postgresql"),
                         store::testing::engineName);

// The chaos run's lost update, forced: worker A's poll fetches a record as created, and before
// A commits, the record is renamed and worker B polls from the same cursor and commits the
// rename. A's commit comes last; had it been taken, the created version would be queued under
// the later id, run last (or be the one coalescing keeps) and undo the rename.
TEST_P(LeasePollTest, TwoWorkersPollingOneCursorNeverRunAnOlderVersionLast) {
  auto& a = addEngine(1, 60s, "poller-a");
  auto& b = addEngine(1, 60s, "poller-b");
  const auto& flow = *a.flows().front();
  a.pollOnce(flow);  // the first poll sets the cursor
  server_.put("r1", "Schmidt");

  server_.holdNextFetch();
  std::thread slowPoll([&] { a.pollOnce(*a.flows().front()); });
  ASSERT_TRUE(server_.waitFetchHeld());
  server_.put("r1", "Chaos2373");
  b.pollOnce(*b.flows().front());
  server_.release();
  slowPoll.join();

  for (int i = 0; i < 20 && b.processOne("poller-b/w0"); ++i) {
  }
  const auto stats = stores_[1]->queueStats();
  EXPECT_EQ(stats.queued + stats.running, 0);
  const auto texts = server_.texts();
  ASSERT_FALSE(texts.empty());
  EXPECT_EQ(texts.back(), "Chaos2373 (second step)") << "an older version ran last";
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "Schmidt"), 0)
      << "the stale poll's version was queued";
  EXPECT_EQ(metric(a, "ferry_polls_superseded_total"), 1);
  // A carries on from B's cursor.
  a.pollOnce(*a.flows().front());
  EXPECT_EQ(stores_[0]->queueStats().queued, 0);
}

// A call that outlasts the lease several times over: the lease is renewed, the other worker
// never takes the event over, the call is made once and the event completes once.
TEST_P(LeasePollTest, SlowStepKeepsItsLeaseAndRunsOnceAcrossTwoWorkers) {
  constexpr auto kLease = 3s;
  auto& engine = addEngine(2, kLease, "slow");
  engine.start();
  server_.holdMessages();
  const auto id = enqueue(*stores_[0], "r2", "slow");
  ASSERT_TRUE(server_.waitMessageHeld()) << "the step's call never came";
  const auto first = stores_[0]->getEvent(id)->leaseUntil;
  // Two whole leases pass while the call is held: without renewals the other worker would have
  // taken the event over (and called again) by now.
  const store::TimeUs twoLeases = 2 * std::chrono::microseconds(kLease).count();
  EXPECT_TRUE(waitFor([&] { return stores_[0]->getEvent(id)->leaseUntil >= first + twoLeases; }))
      << "the lease was not renewed during the call";
  EXPECT_EQ(server_.texts().size(), 1u) << "another worker called while the first was calling";
  server_.release();
  ASSERT_TRUE(waitFor([&] { return stores_[0]->getEvent(id)->status == store::EventStatus::Done; }));
  engine.stop();
  EXPECT_EQ(server_.texts(), (std::vector<std::string>{"slow", "slow (second step)"}));
  EXPECT_EQ(stores_[0]->getEvent(id)->attempts, 1) << "the event was claimed more than once";
  EXPECT_EQ(metric(engine, "ferry_leases_lost_total"), 0);
}

// The event is taken over while its call runs (here: its lease released and claimed by another
// worker): the renewal finds out, the run says so in the log, does not run its next step and
// does not settle the event, which stays with its new owner.
TEST_P(LeasePollTest, LostLeaseIsDetectedAndTheRunDoesNotSettleTheEvent) {
  auto& engine = addEngine(1, 3s, "loser");
  ::testing::internal::CaptureStderr();
  engine.start();
  server_.holdMessages();
  const auto id = enqueue(*stores_[0], "r3", "taken");
  ASSERT_TRUE(server_.waitMessageHeld()) << "the step's call never came";
  // Another worker takes the event (the engine's only worker is busy in the held call).
  ASSERT_EQ(stores_[0]->releaseLeases("loser/"), 1);
  store::ClaimOptions options;
  options.leaseDuration = 120s;
  const auto taken = stores_[0]->claim("thief/w0", options);
  ASSERT_EQ(taken.size(), 1u);
  ASSERT_EQ(taken[0].event.id, id);
  EXPECT_TRUE(waitFor([&] { return metric(engine, "ferry_leases_lost_total") >= 1; }))
      << "the lost lease was not detected";
  server_.release();
  const auto lostRun = [&] {
    store::RunFilter f;
    f.eventId = id;
    for (const auto& r : stores_[0]->listRuns(f)) {
      if (r.status == "lease_lost") {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(waitFor(lostRun)) << "the run did not end as lease_lost";
  engine.stop();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("The lease of a running event was lost"), std::string::npos) << log;
  EXPECT_EQ(server_.texts(), (std::vector<std::string>{"taken"})) << "the run went on";
  const auto event = stores_[0]->getEvent(id);
  EXPECT_EQ(event->status, store::EventStatus::Running) << "the run settled an event not its own";
  EXPECT_EQ(event->leaseOwner, "thief/w0");
  stores_[0]->complete(taken[0].lease);  // the new owner settles it
}

}  // namespace
}  // namespace ferry::core::engine

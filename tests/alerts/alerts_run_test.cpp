// `ferry run` with alert rules: a dead letter already in the store fires an alert that a receiver
// on 127.0.0.1 gets; /metrics shows it, and promtool accepts /metrics and docs/prometheus's rules.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "http/client.hpp"
#include "http/server.hpp"
#include "support/ferry_run.hpp"
#include "store/store.hpp"

namespace ferry::core::alerts {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using sdk::Json;

using ferry::testing::slurp;
using ferry::testing::waitUntil;

// Runs a program to its end (bounded), stdin from `input`; its exit code and all it printed.
struct Ran {
  int status = -1;
  std::string out;
};
Ran runWithInput(const std::vector<std::string>& argv, const std::string& input,
                 const fs::path& scratch) {
  const auto run = ferry::testing::runProgram(
      argv.at(0), std::vector<std::string>(argv.begin() + 1, argv.end()), {}, scratch / "run",
      60s, input);
  return {run.exitCode, run.out + run.err};
}

// The path of promtool, or "" when it is not installed.
std::string promtool() {
  for (const auto* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
    const auto p = fs::path(dir) / "promtool";
    if (fs::exists(p)) {
      return p.string();
    }
  }
  return "";
}

// Skips (or, under FERRY_REQUIRE_PROMTOOL=1 as in CI, fails) without promtool.
#define REQUIRE_PROMTOOL(path)                                                                  \
  const std::string path = promtool();                                                          \
  if (path.empty()) {                                                                           \
    const char* required = std::getenv("FERRY_REQUIRE_PROMTOOL");                               \
    if (required != nullptr && std::string(required) == "1") {                                  \
      FAIL() << "promtool is not installed but FERRY_REQUIRE_PROMTOOL=1 (scripts/setup.sh "     \
                "installs Debian's prometheus package)";                                        \
    }                                                                                           \
    GTEST_SKIP() << "promtool is not installed (Debian package `prometheus`; "                  \
                    "scripts/setup.sh installs it): skipping the promtool check";               \
  }

class Receiver {
 public:
  Receiver() {
    http::ServerOptions options;
    options.port = 0;
    http::Routes routes;
    routes.webhook = [this](const std::string&, const sdk::WebhookRequest& request) {
      std::lock_guard lock(mutex_);
      bodies_.push_back(Json::parse(request.body));
      return http::Reply{200, "application/json", "{}", {}};
    };
    server_ = std::make_unique<http::Server>(options, routes);
    server_->start();
  }
  ~Receiver() { server_->stop(); }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/hooks/alerts";
  }
  std::vector<Json> bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

 private:
  std::mutex mutex_;
  std::vector<Json> bodies_;
  std::unique_ptr<http::Server> server_;
};

class FerryRunAlerts : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("ferry-alerts-run-" + std::to_string(rd()));
    fs::create_directories(dir_ / "state");
    {
      auto store = store::Store::open("sqlite://" + (dir_ / "state" / "ferry.db").string());
      store::NewEvent e;
      e.source = "test";
      e.sourceEventId = "e1";
      e.flowId = "contacts";
      e.triggerOp = "umsatzio.contact.created";
      store->enqueue(e);
      const auto claimed = store->claim("w1", {});
      ASSERT_EQ(claimed.size(), 1u);
      store->deadLetter(claimed[0].lease, "create: refused", Json::object(), Json::object());
    }
    writeConfig("    - {name: dlq, kind: dead_letters, threshold: 0}\n"
                "    - {name: stale, kind: queue_age, threshold: 3600}\n");
    start();
  }

  void TearDown() override {
    stop();
    fs::remove_all(dir_);
  }

  void writeConfig(const std::string& rules) {
    std::ofstream(dir_ / "ferry.yaml") << "version: 1\n"
                                          "state_dir: state\n"
                                          "server: {bind: 127.0.0.1, port: 0}\n"
                                          "alerts:\n"
                                          "  interval_seconds: 1\n"
                                          "  webhook: {url: \""
                                       << receiver_.url()
                                       << "\", initial_backoff_ms: 50, timeout_ms: 30000}\n"
                                          "  rules:\n"
                                       << rules;
  }

  // How often the receiver was told that `alert` is firing.
  int firingNotices(const std::string& alert) {
    int n = 0;
    for (const auto& body : receiver_.bodies()) {
      for (const auto& a : body["alerts"]) {
        n += (a["alert"] == alert && a["status"] == "firing") ? 1 : 0;
      }
    }
    return n;
  }

  void start() {
    ferry_ = std::make_unique<ferry::testing::FerryRun>(
        dir_, std::vector<std::string>{"--log-level", "info", "run", "--config",
                                       (dir_ / "ferry.yaml").string()},
        std::map<std::string, std::string>{});
    port_ = ferry_->waitListening();
    ASSERT_NE(port_, 0) << slurp(dir_ / "ferry.stderr");
  }

  void stop() { ferry_.reset(); }

  std::string metrics() {
    sdk::HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + "/metrics";
    const auto res = client_.send(req);
    EXPECT_EQ(res.status, 200);
    return res.body;
  }

  Receiver receiver_;
  http::Client client_;
  fs::path dir_;
  std::unique_ptr<ferry::testing::FerryRun> ferry_;
  unsigned short port_ = 0;
};

TEST_F(FerryRunAlerts, ADeadLetterFiresOnceToTheWebhookAndTheLog) {
  ASSERT_TRUE(waitUntil([&] { return !receiver_.bodies().empty(); }, 30s))
      << slurp(dir_ / "ferry.stderr");
  const auto first = receiver_.bodies().front();
  EXPECT_EQ(first["status"], "firing");
  ASSERT_EQ(first["alerts"].size(), 1u);
  EXPECT_EQ(first["alerts"][0]["alert"], "dlq");
  EXPECT_EQ(first["alerts"][0]["value"], 1);
  ASSERT_TRUE(waitUntil(
      [&] { return metrics().find("ferry_alerts_firing{alert=\"dlq\"} 1") != std::string::npos; },
      10s));
  EXPECT_THAT(metrics(), HasSubstr("ferry_alerts_firing{alert=\"stale\"} 0"));
  // Later evaluations (interval 1 s) send nothing new: the alert is still firing, not new.
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(receiver_.bodies().size(), 1u);
  stop();
  EXPECT_THAT(slurp(dir_ / "ferry.stderr"), HasSubstr("An alert is firing."));
}

TEST_F(FerryRunAlerts, SighupReloadsTheRulesWithoutAnnouncingFiringAlertsAgain) {
  ASSERT_TRUE(waitUntil([&] { return firingNotices("dlq") == 1; }, 30s))
      << slurp(dir_ / "ferry.stderr");
  // `stale` removed, `dlq_critical` added, `dlq` unchanged.
  writeConfig("    - {name: dlq, kind: dead_letters, threshold: 0}\n"
              "    - {name: dlq_critical, kind: dead_letters, threshold: 0, severity: critical}\n");
  ASSERT_TRUE(ferry_->signal(SIGHUP)) << "ferry run is not running";
  ASSERT_TRUE(waitUntil([&] { return firingNotices("dlq_critical") == 1; }, 30s))
      << slurp(dir_ / "ferry.stderr");
  ASSERT_TRUE(waitUntil(
      [&] {
        const auto m = metrics();
        return m.find("ferry_alerts_firing{alert=\"dlq_critical\"} 1") != std::string::npos &&
               m.find("ferry_alerts_firing{alert=\"stale\"} 0") != std::string::npos;
      },
      10s));
  // Two more evaluations: `dlq` kept firing across the reload and was not announced again.
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(firingNotices("dlq"), 1);
  EXPECT_EQ(firingNotices("dlq_critical"), 1);
  stop();
  const auto log = slurp(dir_ / "ferry.stderr");
  EXPECT_THAT(log, HasSubstr("Alert rules reloaded."));
  EXPECT_THAT(log, HasSubstr("ferry: reloaded"));
}

TEST_F(FerryRunAlerts, PromtoolAcceptsMetrics) {
  REQUIRE_PROMTOOL(tool);
  ASSERT_TRUE(waitUntil(
      [&] { return metrics().find("ferry_alerts_firing{alert=\"dlq\"} 1") != std::string::npos; },
      30s))
      << slurp(dir_ / "ferry.stderr");
  const auto text = metrics();
  const auto r = runWithInput({tool, "check", "metrics"}, text, dir_);
  EXPECT_EQ(r.status, 0) << r.out << "\n--- /metrics ---\n" << text;
}

TEST(PrometheusRules, PromtoolAcceptsTheAlertingRules) {
  REQUIRE_PROMTOOL(tool);
  const fs::path rules = fs::path(FERRY_SOURCE_DIR) / "docs/prometheus/ferry-rules.yml";
  ASSERT_TRUE(fs::exists(rules));
  const auto scratch = fs::temp_directory_path() / ("ferry-promtool-" + std::to_string(getpid()));
  fs::create_directories(scratch);
  const auto r = runWithInput({tool, "check", "rules", rules.string()}, "", scratch);
  fs::remove_all(scratch);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("SUCCESS"));
}

}  // namespace
}  // namespace ferry::core::alerts

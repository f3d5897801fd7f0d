// The alert rules: config validation with places, and the monitor's firing / resolved cycle
// against a real SQLite store, the metrics registry and a webhook receiver on 127.0.0.1.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>

#include "alerts/config.hpp"
#include "alerts/monitor.hpp"
#include "engine/runtime_config.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "store/store.hpp"

namespace ferry::core::alerts {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using sdk::Json;

// ---- config ---------------------------------------------------------------------------------

std::vector<flow::Diagnostic> parseConfig(const std::string& yaml,
                                          std::optional<engine::RuntimeConfig>* out = nullptr) {
  std::vector<flow::Diagnostic> diagnostics;
  auto cfg = engine::parseRuntimeConfig(yaml, "/tmp/ferry.yaml", diagnostics);
  if (out != nullptr) {
    *out = std::move(cfg);
  }
  return diagnostics;
}

TEST(AlertsConfig, ParsesRulesAndWebhook) {
  std::optional<engine::RuntimeConfig> cfg;
  const auto d = parseConfig(R"(version: 1
alerts:
  interval_seconds: 15
  repeat_seconds: 3600
  webhook: {url: "http://127.0.0.1:9/alerts", max_attempts: 3, initial_backoff_ms: 100,
            max_backoff_ms: 1000, timeout_ms: 2000}
  rules:
    - {name: dlq, kind: dead_letters, threshold: 5, severity: critical}
    - {name: stale, kind: queue_age}
    - {name: budget, kind: rate_budget_exhausted, connection: ghl_main}
    - {name: token, kind: token, expires_within_seconds: 7200, window_seconds: 600}
    - {name: drift, kind: sync_drift, threshold: 10, flow: contact-sync}
)",
                             &cfg);
  ASSERT_TRUE(d.empty()) << d.front().message;
  ASSERT_TRUE(cfg);
  const auto& a = cfg->alerts;
  EXPECT_EQ(a.interval, 15s);
  EXPECT_EQ(a.repeat, 3600s);
  ASSERT_TRUE(a.webhook);
  EXPECT_EQ(a.webhook->url, "http://127.0.0.1:9/alerts");
  EXPECT_EQ(a.webhook->maxAttempts, 3);
  EXPECT_EQ(a.webhook->initialBackoff, 100ms);
  EXPECT_EQ(a.webhook->maxBackoff, 1000ms);
  EXPECT_EQ(a.webhook->timeout, 2000ms);
  ASSERT_EQ(a.rules.size(), 5u);
  EXPECT_EQ(a.rules[0].kind, RuleKind::DeadLetters);
  EXPECT_EQ(a.rules[0].threshold, 5);
  EXPECT_EQ(a.rules[0].severity, "critical");
  EXPECT_EQ(a.rules[1].kind, RuleKind::QueueAge);
  EXPECT_EQ(a.rules[1].threshold, 600);  // the default: ten minutes
  EXPECT_EQ(a.rules[2].connection, "ghl_main");
  EXPECT_EQ(a.rules[3].expiresWithin, 7200s);
  EXPECT_EQ(a.rules[3].window, 600s);
  EXPECT_EQ(a.rules[4].flow, "contact-sync");
  EXPECT_EQ(a.rules[4].at.line, 12);
}

TEST(AlertsConfig, EveryProblemHasItsPlaceAndHint) {
  const auto d = parseConfig(R"(version: 1
alerts:
  interval_seconds: 0
  webhok: {url: x}
  webhook: {url: "ftp://example.com", max_attempts: 99}
  rules:
    - {name: dlq, kind: dead_letters, threshold: -1}
    - {name: dlq, kind: dead_letterz}
    - {kind: sync_drift, severity: loud, colour: red}
)");
  std::vector<std::string> got;
  for (const auto& x : d) {
    got.push_back(std::to_string(x.at.line) + ":" + x.code + ":" + x.message);
    EXPECT_FALSE(x.hint.empty()) << x.message;
    EXPECT_EQ(x.file, "/tmp/ferry.yaml");
  }
  const auto has = [&](int line, const std::string& code, const std::string& text) {
    return std::any_of(got.begin(), got.end(), [&](const std::string& g) {
      return g.rfind(std::to_string(line) + ":" + code + ":", 0) == 0 &&
             g.find(text) != std::string::npos;
    });
  };
  EXPECT_TRUE(has(3, "config_error", "interval_seconds")) << ::testing::PrintToString(got);
  EXPECT_TRUE(has(4, "unknown_key", "webhok")) << ::testing::PrintToString(got);
  EXPECT_TRUE(has(5, "config_error", "not an http(s) URL")) << ::testing::PrintToString(got);
  EXPECT_TRUE(has(5, "config_error", "max_attempts")) << ::testing::PrintToString(got);
  EXPECT_TRUE(has(7, "config_error", "threshold")) << ::testing::PrintToString(got);
  EXPECT_TRUE(has(8, "config_error", "two alert rules are named 'dlq'"))
      << ::testing::PrintToString(got);
  EXPECT_TRUE(has(8, "config_error", "'dead_letterz' is not an alert kind"))
      << ::testing::PrintToString(got);
  EXPECT_TRUE(has(9, "missing_key", "no `name:`")) << ::testing::PrintToString(got);
  EXPECT_TRUE(has(9, "config_error", "'loud' is not a severity")) << ::testing::PrintToString(got);
  EXPECT_TRUE(has(9, "unknown_key", "colour")) << ::testing::PrintToString(got);
  EXPECT_EQ(d.size(), 10u) << ::testing::PrintToString(got);
}

// ---- the monitor ----------------------------------------------------------------------------

// A webhook receiver on 127.0.0.1: records every body; answers `failFirst` requests with 503.
class Receiver {
 public:
  Receiver() {
    http::ServerOptions options;
    options.port = 0;
    http::Routes routes;
    routes.webhook = [this](const std::string&, const sdk::WebhookRequest& request) {
      std::lock_guard lock(mutex_);
      ++requests_;
      if (failFirst_ > 0) {
        --failFirst_;
        return http::Reply{503, "text/plain", "busy\n", {}};
      }
      bodies_.push_back(Json::parse(request.body));
      return http::Reply{200, "application/json", "{}", {}};
    };
    server_ = std::make_unique<http::Server>(options, routes);
    server_->start();
  }
  ~Receiver() { server_->stop(); }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::string url() const { return base() + "/hooks/alerts"; }
  void failFirst(int n) {
    std::lock_guard lock(mutex_);
    failFirst_ = n;
  }
  std::vector<Json> bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  std::mutex mutex_;
  std::vector<Json> bodies_;
  int requests_ = 0;
  int failFirst_ = 0;
  std::unique_ptr<http::Server> server_;
};

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("ferry-alerts-" + std::to_string(rd()));
    fs::create_directories(dir_);
    store_ = store::Store::open("sqlite://" + (dir_ / "ferry.db").string());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  Config config(std::vector<Rule> rules) {
    Config c;
    c.rules = std::move(rules);
    Webhook hook;
    hook.url = receiver_.url();
    hook.maxAttempts = 3;
    hook.initialBackoff = 5ms;
    hook.maxBackoff = 20ms;
    c.webhook = hook;
    return c;
  }

  std::unique_ptr<Monitor> monitor(Config c) {
    Sources s;
    s.store = store_.get();
    s.metrics = &metrics_;
    s.tokenExpiries = [this] { return expiries_; };
    s.clock = [this] { return now_; };
    return std::make_unique<Monitor>(std::move(c), std::move(s), http_);
  }

  // A dead letter in the store.
  store::EventId deadLetter(const std::string& id) {
    store::NewEvent e;
    e.source = "test";
    e.sourceEventId = id;
    e.flowId = "contacts";
    e.triggerOp = "umsatzio.contact.created";
    store_->enqueue(e);
    store::ClaimOptions o;
    const auto claimed = store_->claim("w1", o);
    EXPECT_EQ(claimed.size(), 1u);
    store_->deadLetter(claimed.at(0).lease, "step: failed", Json::object(), Json::object());
    return claimed.at(0).event.id;
  }

  Rule rule(const std::string& name, RuleKind kind, double threshold = 0) {
    Rule r;
    r.name = name;
    r.kind = kind;
    r.threshold = threshold;
    return r;
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  metrics::Registry metrics_;
  http::Client http_;
  Receiver receiver_;
  std::map<std::string, std::int64_t> expiries_;
  Clock::time_point now_ = Clock::now();
};

TEST_F(MonitorTest, DeadLettersFireOnceThenResolve) {
  auto m = monitor(config({rule("dlq", RuleKind::DeadLetters, 0)}));
  m->evaluateOnce();
  EXPECT_TRUE(receiver_.bodies().empty());
  const auto id = deadLetter("e1");
  m->evaluateOnce();
  auto bodies = receiver_.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0]["status"], "firing");
  EXPECT_EQ(bodies[0]["source"], "ferry");
  ASSERT_EQ(bodies[0]["alerts"].size(), 1u);
  const Json a = bodies[0]["alerts"][0];
  EXPECT_EQ(a["alert"], "dlq");
  EXPECT_EQ(a["kind"], "dead_letters");
  EXPECT_EQ(a["status"], "firing");
  EXPECT_EQ(a["value"], 1);
  EXPECT_THAT(a["summary"].get<std::string>(), HasSubstr("1 dead letter"));
  EXPECT_EQ(m->firing().size(), 1u);
  EXPECT_THAT(metrics_.render(), HasSubstr("ferry_alerts_firing{alert=\"dlq\"} 1"));

  // Still firing: not sent again.
  now_ += 60s;
  m->evaluateOnce();
  m->evaluateOnce();
  EXPECT_EQ(receiver_.bodies().size(), 1u);

  store_->discardDeadLetter(id);
  now_ += 60s;
  m->evaluateOnce();
  bodies = receiver_.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[1]["status"], "resolved");
  EXPECT_EQ(bodies[1]["alerts"][0]["status"], "resolved");
  EXPECT_EQ(bodies[1]["alerts"][0]["starts_at"], a["starts_at"]);
  EXPECT_TRUE(bodies[1]["alerts"][0].contains("ends_at"));
  EXPECT_TRUE(m->firing().empty());
  EXPECT_THAT(metrics_.render(), HasSubstr("ferry_alerts_firing{alert=\"dlq\"} 0"));
  EXPECT_THAT(metrics_.render(),
              HasSubstr("ferry_alert_notifications_total{result=\"delivered\"} 2"));
}

TEST_F(MonitorTest, RepeatResendsAFiringAlertOnlyAfterTheRepeatInterval) {
  auto c = config({rule("dlq", RuleKind::DeadLetters, 0)});
  c.repeat = 3600s;
  auto m = monitor(c);
  deadLetter("e1");
  m->evaluateOnce();
  now_ += 1800s;
  m->evaluateOnce();
  EXPECT_EQ(receiver_.bodies().size(), 1u);
  now_ += 1800s;
  m->evaluateOnce();
  const auto bodies = receiver_.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[1]["alerts"][0]["status"], "firing");
  EXPECT_EQ(bodies[1]["alerts"][0]["starts_at"], bodies[0]["alerts"][0]["starts_at"]);
}

TEST_F(MonitorTest, DeliveryRetriesWithBackoffAndCarriesWhatFailedToTheNextEvaluation) {
  auto m = monitor(config({rule("drift", RuleKind::SyncDrift, 10)}));
  receiver_.failFirst(2);
  reportSyncDrift(metrics_, "contact-sync", 12);
  m->evaluateOnce();
  ASSERT_EQ(receiver_.bodies().size(), 1u);  // the third attempt went through
  EXPECT_EQ(receiver_.requests(), 3);
  EXPECT_EQ(receiver_.bodies()[0]["alerts"][0]["labels"], Json({{"flow", "contact-sync"}}));

  // Every attempt of the next delivery fails: the resolution is kept, not lost.
  receiver_.failFirst(3);
  reportSyncDrift(metrics_, "contact-sync", 3);
  m->evaluateOnce();
  EXPECT_EQ(receiver_.requests(), 6);
  EXPECT_EQ(receiver_.bodies().size(), 1u);
  EXPECT_THAT(metrics_.render(), HasSubstr("ferry_alert_notifications_total{result=\"failed\"} 1"));

  // The next evaluation sends it, together with the new change.
  reportSyncDrift(metrics_, "other-flow", 50);
  m->evaluateOnce();
  const auto bodies = receiver_.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  ASSERT_EQ(bodies[1]["alerts"].size(), 2u);
  EXPECT_EQ(bodies[1]["alerts"][0]["status"], "resolved");
  EXPECT_EQ(bodies[1]["alerts"][0]["labels"]["flow"], "contact-sync");
  EXPECT_EQ(bodies[1]["alerts"][1]["status"], "firing");
  EXPECT_EQ(bodies[1]["alerts"][1]["labels"]["flow"], "other-flow");
  EXPECT_EQ(bodies[1]["status"], "firing");
}

TEST_F(MonitorTest, AClientErrorIsNotRetried) {
  Config c = config({rule("drift", RuleKind::SyncDrift, 0)});
  c.webhook->url = receiver_.base() + "/nowhere";  // the server answers 404
  auto m = monitor(c);
  reportSyncDrift(metrics_, "f", 1);
  m->evaluateOnce();
  EXPECT_EQ(receiver_.requests(), 0);
  EXPECT_THAT(metrics_.render(), HasSubstr("ferry_alert_notifications_total{result=\"failed\"} 1"));
}

TEST_F(MonitorTest, OldestQueuedEventOlderThanTheThreshold) {
  auto m = monitor(config({rule("stale", RuleKind::QueueAge, 600)}));
  store::NewEvent e;
  e.source = "test";
  e.sourceEventId = "old";
  e.flowId = "contacts";
  e.triggerOp = "umsatzio.contact.created";
  e.receivedAt =
      std::chrono::duration_cast<std::chrono::microseconds>(now_.time_since_epoch()).count() -
      300'000'000;
  store_->enqueue(e);
  m->evaluateOnce();
  EXPECT_TRUE(m->firing().empty());
  now_ += 400s;
  m->evaluateOnce();
  ASSERT_EQ(m->firing().size(), 1u);
  EXPECT_GE(m->firing()[0].value, 700);
  EXPECT_EQ(receiver_.bodies().size(), 1u);
}

TEST_F(MonitorTest, TokenExpiringAndRefusedCalls) {
  Rule r = rule("token", RuleKind::Token);
  r.expiresWithin = 3600s;
  r.window = 600s;
  auto m = monitor(config({r}));
  const auto unixNow =
      std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count();
  expiries_ = {{"ghl_main", unixNow + 7200}, {"other", unixNow + 100}};
  m->evaluateOnce();
  auto firing = m->firing();
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].labels.at("connection"), "other");
  EXPECT_EQ(firing[0].labels.at("reason"), "expiring");

  // A refused call (a step failed as `auth`) fires per flow, and resolves after the window.
  metrics_
      .counter("ferry_steps_failed_total", "Steps that failed for good.",
               {{"flow", "contacts"}, {"kind", "auth"}})
      .add();
  metrics_
      .counter("ferry_steps_failed_total", "Steps that failed for good.",
               {{"flow", "contacts"}, {"kind", "invalid"}})
      .add();
  expiries_ = {{"other", unixNow + 100000}};  // refreshed
  now_ += 10s;
  m->evaluateOnce();
  firing = m->firing();
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].labels.at("flow"), "contacts");
  EXPECT_EQ(firing[0].labels.at("reason"), "auth");
  now_ += 700s;
  m->evaluateOnce();
  EXPECT_TRUE(m->firing().empty());
  const auto bodies = receiver_.bodies();
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(bodies[1]["alerts"].size(), 2u);  // "other" resolved, "contacts" firing
  EXPECT_EQ(bodies[2]["status"], "resolved");
}

TEST_F(MonitorTest, RateBudgetExhausted) {
  auto m = monitor(config({rule("budget", RuleKind::RateBudgetExhausted, 0)}));
  auto& daily = metrics_.gauge("ferry_rate_budget_daily_remaining", "Calls left today.",
                               {{"connection", "ghl_main"}, {"bucket", "loc1"}});
  daily.set(500);
  m->evaluateOnce();
  EXPECT_TRUE(m->firing().empty());
  daily.set(0);
  m->evaluateOnce();
  ASSERT_EQ(m->firing().size(), 1u);
  EXPECT_EQ(m->firing()[0].labels.at("connection"), "ghl_main");
  metrics_
      .counter("ferry_steps_failed_total", "Steps that failed for good.",
               {{"flow", "contacts"}, {"kind", "exhausted"}})
      .add(3);
  m->evaluateOnce();
  EXPECT_EQ(m->firing().size(), 2u);
}

TEST_F(MonitorTest, WithoutAWebhookAlertsGoToTheLogOnly) {
  Config c;
  c.rules = {rule("drift", RuleKind::SyncDrift, 0)};
  auto m = monitor(c);
  reportSyncDrift(metrics_, "f", 1);
  m->evaluateOnce();
  EXPECT_EQ(m->firing().size(), 1u);
  EXPECT_EQ(receiver_.requests(), 0);
}

TEST_F(MonitorTest, TheThreadEvaluatesAndStopsPromptly) {
  auto c = config({rule("drift", RuleKind::SyncDrift, 0)});
  c.interval = 3600s;
  auto m = monitor(c);
  reportSyncDrift(metrics_, "f", 1);
  m->start();  // the first evaluation runs at once
  for (int i = 0; i < 1200 && receiver_.bodies().empty(); ++i) {  // at most 30 s
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_EQ(receiver_.bodies().size(), 1u);
  m->stop();  // must not wait for the hour
}

}  // namespace
}  // namespace ferry::core::alerts

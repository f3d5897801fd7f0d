// The runtime end to end, in process: a webhook in, durable in a real SQLite file, the flow's
// step calling a real loopback server through the test plugin, and back out.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.hpp"
#include "http/client.hpp"
#include "kit.hpp"
#include "loader/loader.hpp"

namespace ferry::core::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sdk::Json;

// The service the test plugin writes to: stores messages, can fail on demand.
class MessageServer {
 public:
  MessageServer()
      : server_([this](const sandbox::Request& r) { return handle(r); }) {
    server_.start();
  }
  std::string url() const { return server_.baseUrl(); }
  std::vector<Json> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  void failNext(int n, int status) {
    std::lock_guard lock(mutex_);
    failures_ = n;
    failStatus_ = status;
  }
  std::string lastAuthorization() {
    std::lock_guard lock(mutex_);
    return auth_;
  }

 private:
  sandbox::Response handle(const sandbox::Request& r) {
    std::lock_guard lock(mutex_);
    auth_ = r.header("Authorization").value_or("");
    if (failures_ > 0) {
      --failures_;
      return sandbox::Response::json(failStatus_, {{"message", "try later"}});
    }
    Json m = Json::parse(r.body);
    m["id"] = "m" + std::to_string(messages_.size() + 1);
    messages_.push_back(m);
    return sandbox::Response::json(201, m);
  }

  std::mutex mutex_;
  std::vector<Json> messages_;
  int failures_ = 0;
  int failStatus_ = 503;
  std::string auth_;
  sandbox::Server server_;
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-runtime-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ::setenv("FERRY_TEST_TOKEN", "runtime-canary-token-5b1f", 1);
    std::ofstream(dir_ / "relay.yaml") << R"(version: 1
id: relay
description: Relays every message to the message server.
trigger:
  use: test.message.received
  connection: t
steps:
  - id: send
    use: test.message.send
    connection: t
    with:
      text: "relayed: ${event.text}"
    on_error:
      retry: {max_attempts: 3, delay: 50ms}
      then: dead_letter
)";
    std::ofstream(dir_ / "ferry.yaml") << "version: 1\nstate_dir: state\nflows: [relay.yaml]\n"
                                          "server: {port: 0}\n"
                                          "limits: {workers: 2}\n"
                                          "connections:\n  t:\n    plugin: test\n"
                                          "    scopes: [messages.read, messages.write]\n"
                                          "    base_url: " +
                                              messages_.url() +
                                              "\n    secrets: {token: env:FERRY_TEST_TOKEN}\n";
    std::vector<flow::Diagnostic> diagnostics;
    auto config = loadRuntimeConfig(dir_ / "ferry.yaml", diagnostics);
    ASSERT_TRUE(config) << flow::formatText(diagnostics);
    ASSERT_TRUE(diagnostics.empty()) << flow::formatText(diagnostics);
    config_ = *config;
    auto scan = loader::scan({fs::path(FERRY_FIXTURE_DIR) / "good"});
    catalog_ = std::make_unique<catalog::Catalog>(std::move(scan.plugins));
    store_ = store::Store::open("sqlite:" + (dir_ / "ferry.db").string());
  }
  void TearDown() override {
    engine_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void startEngine() {
    engine_ = std::make_unique<Engine>(config_, *catalog_, *store_, nullptr);
    const auto diagnostics = engine_->loadFlows();
    ASSERT_TRUE(diagnostics.empty()) << flow::formatText(diagnostics);
    engine_->start();
  }

  sdk::HttpResponse post(const std::string& body) {
    sdk::HttpRequest req;
    req.method = "POST";
    req.url = "http://127.0.0.1:" + std::to_string(engine_->port()) + "/hooks/relay";
    req.headers = {{"Content-Type", "application/json"}};
    req.body = body;
    return client_.send(req);
  }

  // Writes a flow `id` that relays each message as "<prefix>: <text>", with `onError` as its
  // step's on_error line ("" for none).
  void writeRelayFlow(const std::string& id, const std::string& prefix, const std::string& onError) {
    std::ofstream(dir_ / (id + ".yaml"))
        << "version: 1\nid: " << id
        << "\ntrigger: {use: test.message.received, connection: t}\nsteps:\n"
           "  - id: send\n    use: test.message.send\n    connection: t\n"
           "    with: {text: \"" << prefix << ": ${event.text}\"}\n"
        << (onError.empty() ? "" : "    on_error: " + onError + "\n");
  }

  // The dead letters, once there is one (waits up to 6 s).
  std::vector<store::DeadLetter> waitForDeadLetters() {
    for (int i = 0; i < 300 && store_->listDeadLetters().empty(); ++i) {
      std::this_thread::sleep_for(20ms);
    }
    return store_->listDeadLetters();
  }

  // The engine's /metrics text.
  std::string metrics() {
    sdk::HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(engine_->port()) + "/metrics";
    const auto res = client_.send(req);
    EXPECT_EQ(res.status, 200);
    return res.body;
  }

  // Queues an event of the relay flow as its webhook would (while no engine takes deliveries).
  store::EventId enqueueRelayed(const std::string& id, const std::string& text) {
    store::NewEvent ne;
    ne.source = "test.webhook";
    ne.sourceEventId = id;
    ne.flowId = "relay";
    ne.triggerOp = "test.message.received";
    ne.recordKey = "test:" + id;
    ne.payload = {{"id", id}, {"text", text}};
    return store_->enqueue(ne).id;
  }

  // Waits (bounded) until the queue is empty.
  void drain() {
    for (int i = 0; i < 300; ++i) {
      const auto stats = store_->queueStats();
      if (stats.queued == 0 && stats.running == 0) {
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "the queue did not drain in 6 s";
  }

  fs::path dir_;
  MessageServer messages_;
  RuntimeConfig config_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Engine> engine_;
  http::Client client_;
};

TEST_F(RuntimeTest, AWebhookEventRunsItsFlowOnce) {
  startEngine();
  auto res = post(R"({"id":"e1","text":"hello"})");
  ASSERT_EQ(res.status, 200) << res.body;
  // The same event again (a sender's retry) is accepted and not run twice.
  ASSERT_EQ(post(R"({"id":"e1","text":"hello"})").status, 200);
  drain();
  const auto msgs = messages_.messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0]["text"], "relayed: hello");
  EXPECT_EQ(msgs[0]["channel"], "general");  // the declared default
  EXPECT_EQ(messages_.lastAuthorization(), "Bearer runtime-canary-token-5b1f");
  const auto runs = store_->listRuns({});
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status, "done");
  const auto run = store_->getRun(runs[0].id);
  ASSERT_EQ(run->steps.size(), 1u);
  // The request is in the history, the token is not.
  EXPECT_NE(run->steps[0].request.dump().find("relayed: hello"), std::string::npos);
  EXPECT_EQ(run->steps[0].request.dump().find("runtime-canary-token-5b1f"), std::string::npos);
}

TEST_F(RuntimeTest, TransientFailuresAreRetried) {
  messages_.failNext(2, 503);
  startEngine();
  ASSERT_EQ(post(R"({"id":"e2","text":"again"})").status, 200);
  for (int i = 0; i < 200 && messages_.messages().empty(); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  drain();
  ASSERT_EQ(messages_.messages().size(), 1u);
  const auto runs = store_->listRuns({});
  ASSERT_EQ(runs.size(), 3u);  // two retries, then done
  EXPECT_EQ(runs[0].status, "done");
  EXPECT_EQ(runs[1].status, "retry");
}

TEST_F(RuntimeTest, PermanentFailuresGoToTheDeadLetterQueueAndReplayKeepsTheEvent) {
  messages_.failNext(1, 400);
  startEngine();
  ASSERT_EQ(post(R"({"id":"e3","text":"bad"})").status, 200);
  const auto dead = waitForDeadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].reason.find("send"), std::string::npos);
  EXPECT_EQ(dead[0].request.dump().find("runtime-canary-token-5b1f"), std::string::npos);
  EXPECT_TRUE(messages_.messages().empty());
  store_->replayDeadLetter(dead[0].eventId);
  drain();
  ASSERT_EQ(messages_.messages().size(), 1u);
  EXPECT_TRUE(store_->listDeadLetters().empty());
}

// A dead letter replayed after a storm gets its retries again: the step's journal still counts
// the attempts of before the replay, and they must not use up the replay's retries.
TEST_F(RuntimeTest, AReplayedDeadLetterIsRetriedAgainNotDeadAtItsFirstFailure) {
  messages_.failNext(3, 503);  // the flow's max_attempts: 3
  startEngine();
  ASSERT_EQ(post(R"({"id":"e5","text":"storm"})").status, 200);
  const auto dead = waitForDeadLetters();
  ASSERT_EQ(dead.size(), 1u);
  messages_.failNext(2, 503);  // the storm is not quite over
  store_->replayDeadLetter(dead[0].eventId);
  for (int i = 0; i < 300 && messages_.messages().empty() && store_->listDeadLetters().empty(); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  drain();
  EXPECT_TRUE(store_->listDeadLetters().empty()) << "the replayed event is dead again";
  EXPECT_EQ(messages_.messages().size(), 1u);
}

// A step without on_error retries as the config's limits.retry says (docs/config.md): here two
// attempts, so the second 503 dead-letters the event that a third attempt would have delivered.
TEST_F(RuntimeTest, AStepWithoutOnErrorRetriesAsLimitsRetrySays) {
  writeRelayFlow("relay", "relayed", "");
  config_.retry.maxAttempts = 2;
  config_.retry.initial = 20ms;
  messages_.failNext(2, 503);
  startEngine();
  ASSERT_EQ(post(R"({"id":"e6","text":"limits"})").status, 200);
  const auto dead = waitForDeadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].reason.find("attempts_exhausted"), std::string::npos) << dead[0].reason;
  EXPECT_EQ(store_->listRuns({}).size(), 2u);
  EXPECT_TRUE(messages_.messages().empty());
}

// A step that fails for good with `on_error: {fallback: rescue}` hands its event to the rescue
// flow: the first run ends "fallback", its event is settled, and the rescue flow delivers.
TEST_F(RuntimeTest, AFailedStepHandsItsEventToTheFallbackFlow) {
  writeRelayFlow("relay", "relayed", "{fallback: rescue}");
  writeRelayFlow("rescue", "rescued", "dead_letter");
  config_.flowFiles.push_back(dir_ / "rescue.yaml");
  messages_.failNext(1, 400);  // permanent: no retry, straight to the fallback
  startEngine();
  ASSERT_EQ(post(R"({"id":"e7","text":"help"})").status, 200);
  for (int i = 0; i < 300 && messages_.messages().empty(); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  drain();
  const auto msgs = messages_.messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0]["text"], "rescued: help");
  EXPECT_TRUE(store_->listDeadLetters().empty());
  std::map<std::string, std::string> statusByFlow;
  for (const auto& run : store_->listRuns({})) {
    statusByFlow[run.flowId] = run.status;
  }
  EXPECT_EQ(statusByFlow["relay"], "fallback");
  EXPECT_EQ(statusByFlow["rescue"], "done");
}

TEST_F(RuntimeTest, BadWebhooksAreRefusedAndNothingIsQueued) {
  startEngine();
  EXPECT_EQ(post("not json").status, 400);
  EXPECT_EQ(post(std::string(2 << 20, 'x')).status, 413);
  sdk::HttpRequest req;
  req.method = "POST";
  req.url = "http://127.0.0.1:" + std::to_string(engine_->port()) + "/hooks/nope";
  req.body = "{}";
  EXPECT_EQ(client_.send(req).status, 404);
  EXPECT_EQ(store_->queueStats().queued, 0);
}

TEST_F(RuntimeTest, AQueueOverItsHighWaterMarkAnswers429) {
  config_.queueHighWater = 2;
  config_.workers = 1;
  messages_.failNext(1000, 503);  // nothing finishes
  startEngine();
  int throttled = 0;
  for (int i = 0; i < 6; ++i) {
    const auto res = post(R"({"id":"q)" + std::to_string(i) + R"(","text":"x"})");
    throttled += res.status == 429 ? 1 : 0;
  }
  EXPECT_GE(throttled, 3);
}

TEST_F(RuntimeTest, EventsQueuedBeforeARestartRunAfterIt) {
  // Accepted while the workers are down: durable, then run by the next process.
  config_.workers = 1;
  startEngine();
  engine_->stop();
  engine_.reset();
  // A fresh engine on the same store file, as after a crash.
  enqueueRelayed("r1", "after restart");
  startEngine();
  drain();
  ASSERT_EQ(messages_.messages().size(), 1u);
  EXPECT_EQ(messages_.messages()[0]["text"], "relayed: after restart");
}

// An event whose runs keep ending with their worker (it crashes it, say) is set aside after
// limits.max_interruptions instead of taking down worker after worker: at its next claim it is
// dead-lettered, not run. A replay runs it again with a fresh count.
TEST_F(RuntimeTest, AnEventInterruptedTooOftenIsSetAsideNotRunAgain) {
  config_.maxInterruptions = 2;
  config_.workers = 1;
  const auto id = enqueueRelayed("crash1", "poison");
  // Two workers died running it: each claim's lease runs out unsettled.
  store::ClaimOptions o;
  o.limit = 1;
  o.leaseDuration = 1000us;
  for (const char* worker : {"gone-1/w0", "gone-2/w0"}) {
    ASSERT_EQ(store_->claim(worker, o).size(), 1u) << worker;
    std::this_thread::sleep_for(5ms);
  }
  startEngine();  // its claim is the second takeover: interruptions = 2
  const auto dead = waitForDeadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].eventId, id);
  EXPECT_EQ(dead[0].reason.rfind("interrupted: 2 runs", 0), 0u) << dead[0].reason;
  EXPECT_NE(dead[0].reason.find("ferry dlq replay " + std::to_string(id)), std::string::npos)
      << dead[0].reason;
  EXPECT_TRUE(messages_.messages().empty());
  EXPECT_NE(metrics().find("ferry_events_dead_total{flow=\"relay\"} 1"), std::string::npos);
  store_->replayDeadLetter(id);
  drain();
  ASSERT_EQ(messages_.messages().size(), 1u);
  EXPECT_EQ(messages_.messages()[0]["text"], "relayed: poison");
}

TEST_F(RuntimeTest, MetricsAreServed) {
  startEngine();
  ASSERT_EQ(post(R"({"id":"e9","text":"m"})").status, 200);
  drain();
  // The engine counts an event done before the store settles it: once drained, it shows.
  const std::string body = metrics();
  EXPECT_NE(body.find("ferry_events_done_total{flow=\"relay\"} 1"), std::string::npos) << body;
  EXPECT_NE(body.find("ferry_queue_depth 0"), std::string::npos);
  EXPECT_EQ(body.find("runtime-canary-token-5b1f"), std::string::npos);
}

}  // namespace
}  // namespace ferry::core::engine

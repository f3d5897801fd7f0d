// Webhooks through the real runtime (Engine, its HTTP server, a SQLite store) and the real GHL
// plugin, whose flow relays each contact to a loopback message server through the test plugin:
// missing, bad and replayed signatures are refused and run nothing; a replay is refused even
// after a restart and when sent many times at once; oversized and malformed bodies sent among
// good ones are refused while every good one is delivered exactly once.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "engine/engine.hpp"
#include "http/client.hpp"
#include "kit.hpp"
#include "loader/loader.hpp"

namespace ferry::core::security {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sdk::Json;

// The service the test plugin's test.message.send writes to.
class MessageServer {
 public:
  MessageServer() : server_([this](const sandbox::Request& r) { return handle(r); }) {
    server_.start();
  }
  std::string url() const { return server_.baseUrl(); }
  std::vector<Json> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  sandbox::Response handle(const sandbox::Request& r) {
    std::lock_guard lock(mutex_);
    Json m = Json::parse(r.body);
    m["id"] = "m" + std::to_string(messages_.size() + 1);
    messages_.push_back(m);
    return sandbox::Response::json(201, m);
  }
  std::mutex mutex_;
  std::vector<Json> messages_;
  sandbox::Server server_;
};

// An Ed25519 key pair, as a GHL Marketplace app has.
class SigningKey {
 public:
  SigningKey() : key_(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")) {}
  ~SigningKey() { EVP_PKEY_free(key_); }
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  std::string publicPem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key_);
    char* text = nullptr;
    const long size = BIO_get_mem_data(bio, &text);
    std::string pem(text, static_cast<std::size_t>(size));
    BIO_free(bio);
    return pem;
  }
  std::string sign(const std::string& body) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t size = 64;
    unsigned char signature[64];
    EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_);
    EVP_DigestSign(ctx, signature, &size, reinterpret_cast<const unsigned char*>(body.data()),
                   body.size());
    EVP_MD_CTX_free(ctx);
    unsigned char out[96] = {};
    const int n = EVP_EncodeBlock(out, signature, static_cast<int>(size));
    return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  }

 private:
  EVP_PKEY* key_;
};

std::string nowIso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buffer;
}

std::string contactCreated(const std::string& webhookId, const std::string& contactId) {
  return Json{{"type", "ContactCreate"},
              {"locationId", "loc-sec"},
              {"id", contactId},
              {"email", contactId + "@example.org"},
              {"firstName", "Ada"},
              {"timestamp", nowIso()},
              {"webhookId", webhookId}}
      .dump();
}

class WebhookSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-websec-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ::setenv("FERRY_TEST_TOKEN", "websec-canary-token-91c2", 1);
    ::setenv("FERRY_TEST_GHL_TOKEN", "websec-ghl-token-3e7a", 1);
    std::ofstream(dir_ / "ghl-in.yaml") << R"(version: 1
id: ghl-in
description: Relays each GHL contact to the message server.
trigger:
  use: ghl.contact.created
  connection: ghl
steps:
  - id: send
    use: test.message.send
    connection: t
    with:
      text: "contact ${event.id}"
)";
    std::string pem = key_.publicPem();
    for (auto at = pem.find('\n'); at != std::string::npos; at = pem.find('\n', at)) {
      pem.replace(at, 1, "\\n");
    }
    std::ofstream(dir_ / "ferry.yaml")
        << "version: 1\nstate_dir: state\nflows: [ghl-in.yaml]\n"
           "server: {port: 0, max_body_bytes: 65536}\n"
           "limits: {workers: 2}\n"
           "connections:\n"
           "  t:\n    plugin: test\n    scopes: [messages.read, messages.write]\n"
           "    base_url: " + messages_.url() + "\n    secrets: {token: env:FERRY_TEST_TOKEN}\n"
           "  ghl:\n    plugin: ghl\n    auth: private_token\n    base_url: http://127.0.0.1:9\n"
           "    scopes: [contacts.readonly, contacts.write]\n"
           "    settings:\n      location_id: loc-sec\n      webhook_public_key: '" + pem + "'\n"
           "    secrets: {token: env:FERRY_TEST_GHL_TOKEN}\n";
    std::vector<flow::Diagnostic> diagnostics;
    auto config = engine::loadRuntimeConfig(dir_ / "ferry.yaml", diagnostics);
    ASSERT_TRUE(config) << flow::formatText(diagnostics);
    ASSERT_TRUE(diagnostics.empty()) << flow::formatText(diagnostics);
    config_ = *config;
    auto scan = loader::scan({fs::path(FERRY_FIXTURE_DIR) / "good",
                              fs::path(FERRY_BINARY_DIR) / "lib" / "ferry" / "plugins"});
    catalog_ = std::make_unique<catalog::Catalog>(std::move(scan.plugins));
    store_ = store::Store::open("sqlite:" + (dir_ / "ferry.db").string());
  }
  void TearDown() override {
    engine_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void startEngine() {
    engine_ = std::make_unique<engine::Engine>(config_, *catalog_, *store_, nullptr);
    const auto diagnostics = engine_->loadFlows();
    ASSERT_TRUE(diagnostics.empty()) << flow::formatText(diagnostics);
    engine_->start();
  }

  // The answer's status; -1 when no answer came (never thrown: senders run on threads).
  int post(const std::string& body, sdk::Headers headers) {
    try {
      return send(body, std::move(headers)).status;
    } catch (const sdk::TransportError& e) {
      ADD_FAILURE() << "no answer: " << e.what();
      return -1;
    }
  }
  sdk::HttpResponse send(const std::string& body, sdk::Headers headers) {
    http::Client client;
    sdk::HttpRequest req;
    req.method = "POST";
    req.url = "http://127.0.0.1:" + std::to_string(engine_->port()) + "/hooks/ghl-in";
    headers.emplace_back("Content-Type", "application/json");
    req.headers = std::move(headers);
    req.body = body;
    return client.send(req);
  }
  int postSigned(const std::string& body) {
    return post(body, {{"x-ghl-signature", key_.sign(body)}});
  }

  // Waits (bounded) until the queue is empty.
  void drain() {
    for (int i = 0; i < 1500; ++i) {
      const auto stats = store_->queueStats();
      if (stats.queued == 0 && stats.running == 0) {
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "the queue did not drain in 30 s";
  }

  std::multiset<std::string> delivered() {
    std::multiset<std::string> texts;
    for (const auto& m : messages_.messages()) {
      texts.insert(m.value("text", ""));
    }
    return texts;
  }

  fs::path dir_;
  SigningKey key_;
  MessageServer messages_;
  engine::RuntimeConfig config_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<engine::Engine> engine_;
};

TEST_F(WebhookSecurity, MissingAndBadSignaturesAreRefusedAndRunNothing) {
  startEngine();
  const std::string body = contactCreated("wh-bad-1", "c-bad-1");
  EXPECT_EQ(post(body, {}), 401);
  EXPECT_EQ(post(body, {{"x-ghl-signature", "bm90IGEgc2lnbmF0dXJl"}}), 401);
  EXPECT_EQ(post(body, {{"x-ghl-signature", "%%% not base64"}}), 401);
  // A signature of another body, and a body altered after signing.
  EXPECT_EQ(post(body, {{"x-ghl-signature", key_.sign(body + " ")}}), 401);
  std::string altered = body;
  altered.replace(altered.find("c-bad-1"), 7, "c-bad-2");
  EXPECT_EQ(post(altered, {{"x-ghl-signature", key_.sign(body)}}), 401);
  // Another app's key.
  SigningKey other;
  EXPECT_EQ(post(body, {{"x-ghl-signature", other.sign(body)}}), 401);
  // A legacy RSA signature is not accepted unless switched on.
  EXPECT_EQ(post(body, {{"x-wh-signature", key_.sign(body)}}), 401);

  EXPECT_EQ(store_->queueStats().queued, 0);
  EXPECT_TRUE(store_->listRuns({}).empty());
  // The same body, signed, is then accepted: the refusals did not consume it.
  EXPECT_EQ(postSigned(body), 200);
  drain();
  EXPECT_EQ(delivered(), std::multiset<std::string>{"contact c-bad-1"});
}

TEST_F(WebhookSecurity, AReplayedWebhookIsRefusedAndRunsOnceEvenAfterARestart) {
  startEngine();
  const std::string body = contactCreated("wh-replay-1", "c-replay-1");
  ASSERT_EQ(postSigned(body), 200);
  EXPECT_EQ(postSigned(body), 409);
  drain();
  engine_->stop();
  engine_.reset();

  startEngine();
  EXPECT_EQ(postSigned(body), 409) << "the replay memory must survive a restart";
  drain();
  EXPECT_EQ(delivered(), std::multiset<std::string>{"contact c-replay-1"});
  EXPECT_EQ(store_->listRuns({}).size(), 1u);
}

TEST_F(WebhookSecurity, OneDeliverySentManyTimesAtOnceRunsOnce) {
  startEngine();
  const std::string body = contactCreated("wh-burst-1", "c-burst-1");
  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 6; ++t) {
    senders.emplace_back([&] {
      const int status = postSigned(body);
      (status == 200 ? accepted : status == 409 ? refused : other)++;
    });
  }
  for (auto& s : senders) {
    s.join();
  }
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(refused.load(), 5);
  EXPECT_EQ(other.load(), 0);
  drain();
  EXPECT_EQ(delivered(), std::multiset<std::string>{"contact c-burst-1"});
}

TEST_F(WebhookSecurity, OversizedAndMalformedBodiesAmongGoodOnesLoseNothing) {
  startEngine();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::atomic<int> goodRefused{0};
  std::atomic<int> badAccepted{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = std::to_string(t) + "-" + std::to_string(i);
        if (postSigned(contactCreated("wh-good-" + id, "c-" + id)) != 200) {
          ++goodRefused;
        }
        // Over server.max_body_bytes (64 KiB), signed: refused before the plugin sees it.
        const std::string huge = contactCreated("wh-huge-" + id, std::string(70000, 'h'));
        if (postSigned(huge) != 413) {
          ++badAccepted;
        }
        // Signed but not JSON, and JSON that is not an object.
        if (postSigned("{\"type\":\"ContactCreate\",") != 400) {
          ++badAccepted;
        }
        if (postSigned("[1,2,3]") != 400) {
          ++badAccepted;
        }
        // Not UTF-8 / binary garbage, unsigned.
        if (post(std::string("\xff\xfe\x00\x01", 4), {}) != 401) {
          ++badAccepted;
        }
      }
    });
  }
  for (auto& s : senders) {
    s.join();
  }
  EXPECT_EQ(goodRefused.load(), 0);
  EXPECT_EQ(badAccepted.load(), 0);
  drain();
  std::multiset<std::string> expected;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      expected.insert("contact c-" + std::to_string(t) + "-" + std::to_string(i));
    }
  }
  EXPECT_EQ(delivered(), expected);
  EXPECT_TRUE(store_->listDeadLetters().empty());
}

}  // namespace
}  // namespace ferry::core::security

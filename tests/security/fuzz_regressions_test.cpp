// Regression tests for what the fuzz targets (fuzz/, docs/fuzzing.md) found. Each feeds the
// input that failed to the real plugin library, as the runtime does, and checks the answer it
// must give. The same inputs are kept in fuzz/corpus/<target>/regression-*.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <filesystem>
#include <memory>

#include "engine/local_context.hpp"
#include "loader/loader.hpp"

namespace ferry::core::security {
namespace {

namespace fs = std::filesystem;
using sdk::Json;

std::shared_ptr<sdk::Connector> plugin(const std::string& name) {
  auto outcome =
      loader::loadLibrary(fs::path(FERRY_BINARY_DIR) / "lib" / "ferry" / "plugins" / (name + ".so"));
  if (!outcome.plugin) {
    ADD_FAILURE() << outcome.error->message();
    return nullptr;
  }
  return outcome.plugin->connector;
}

class FixedClock : public sdk::Clock {
 public:
  explicit FixedClock(std::chrono::system_clock::time_point at) : at_(at) {}
  std::chrono::system_clock::time_point now() override { return at_; }

 private:
  std::chrono::system_clock::time_point at_;
};

struct NoHttp : sdk::HttpClient {
  sdk::HttpResponse send(const sdk::HttpRequest&) override {
    throw sdk::TransportError("no network in this test");
  }
};

// GHL's webhook receipt with a key made here and the clock at 2026-01-01T00:00:00Z.
class GhlWebhookRegressions : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key_);
    char* text = nullptr;
    const long size = BIO_get_mem_data(bio, &text);
    connection_.name = "ghl_regressions";
    connection_.plugin = "ghl";
    connection_.auth = "private_token";
    connection_.settings = {{"location_id", "loc-1"},
                            {"webhook_public_key", std::string(text, static_cast<std::size_t>(size))}};
    BIO_free(bio);
    ctx_ = std::make_unique<engine::LocalContext>(
        engine::LocalContext::Parts{connection_, &http_, &state_, &secrets_, &clock_, {}});
  }
  void TearDown() override { EVP_PKEY_free(key_); }

  std::string sign(const std::string& body) {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    unsigned char signature[64];
    std::size_t size = sizeof signature;
    EVP_DigestSignInit(md, nullptr, nullptr, nullptr, key_);
    EVP_DigestSign(md, signature, &size, reinterpret_cast<const unsigned char*>(body.data()),
                   body.size());
    EVP_MD_CTX_free(md);
    unsigned char out[96] = {};
    const int n = EVP_EncodeBlock(out, signature, static_cast<int>(size));
    return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  }

  // The status the trigger refuses `body` (signed) with; 0 when it is accepted.
  int receive(const std::string& triggerId, const std::string& body) {
    sdk::WebhookRequest request{"POST", "/hooks/ghl", "", {{"x-ghl-signature", sign(body)}}, body};
    try {
      connector_->trigger(triggerId)->receive(*ctx_, Json::object(), request);
    } catch (const sdk::WebhookRejected& e) {
      return e.status;
    }
    return 0;
  }

  std::shared_ptr<sdk::Connector> connector_ = plugin("ghl");
  EVP_PKEY* key_ = nullptr;
  sdk::Connection connection_;
  NoHttp http_;
  engine::MemoryState state_;
  engine::MemorySecrets secrets_;
  FixedClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1767225600))};
  std::unique_ptr<engine::LocalContext> ctx_;
};

// ghl_webhook_fuzz, regression-timestamp-year-4052: a timestamp past 2262 overflowed the
// nanosecond clock (signed overflow, undefined behaviour) instead of being refused.
TEST_F(GhlWebhookRegressions, TimestampsOutsideTheClocksRangeAreRefusedAsNotADate) {
  ASSERT_TRUE(connector_);
  const std::string fuzzed =
      R"({"body": "Loram ips]um", "contactId": "CWBf1PR9LvvBkcYqiXlc", "dateAdded": "2021-11-26T12:41:02.193Z", "id": "otg8dTQqGLh3Q6iQI55w", "locationId": "ve9EPM428h8vShlRW1KT", "type": "NoteCreate", "timestamp": "4052-01-01T00:00:00.000Z"})";
  EXPECT_EQ(receive("ghl.note.created", fuzzed), 400);
  for (const Json& timestamp : {Json("9999-12-31T23:59:59.999Z"), Json("0001-01-01T00:00:00Z"),
                               Json(1e300), Json(-1e300), Json(9.3e18), Json(-9.3e15)}) {
    const Json body = {{"type", "ContactCreate"}, {"id", "c-1"}, {"timestamp", timestamp}};
    EXPECT_EQ(receive("ghl.contact.created", body.dump()), 400) << timestamp.dump();
  }
  // A timestamp in the window, as text and in milliseconds, is still accepted.
  EXPECT_EQ(receive("ghl.contact.created",
                    Json{{"type", "ContactCreate"}, {"id", "c-2"}, {"timestamp", "2026-01-01T00:00:00.000Z"}}
                        .dump()),
            0);
  EXPECT_EQ(receive("ghl.contact.created",
                    Json{{"type", "ContactCreate"}, {"id", "c-3"}, {"timestamp", 1767225600000LL}}
                        .dump()),
            0);
}

// Found by reading the code after umsatzio_webhook_fuzz's regression-occurred-at-object: a GHL
// webhook whose `type` or `locationId` is not a string threw nlohmann's type_error out of
// receive() (json::value with a string default). It is not this trigger's event: no events.
TEST_F(GhlWebhookRegressions, ATypeOrLocationOfAnotherTypeIsNotThisTriggersEvent) {
  ASSERT_TRUE(connector_);
  const auto events = [&](const Json& body, const Json& filters) {
    const std::string text = body.dump();
    sdk::WebhookRequest request{"POST", "/hooks/ghl", "", {{"x-ghl-signature", sign(text)}}, text};
    return connector_->trigger("ghl.contact.created")->receive(*ctx_, filters, request);
  };
  const Json location = {{"locationId", "loc-1"}};
  for (const Json& type : {Json(5), Json::object(), Json::array({"ContactCreate"}), Json(nullptr)}) {
    std::vector<sdk::Event> got;
    ASSERT_NO_THROW(got = events({{"type", type}, {"id", "c-1"}}, Json::object())) << type.dump();
    EXPECT_TRUE(got.empty()) << type.dump();
  }
  std::vector<sdk::Event> got;
  ASSERT_NO_THROW(got = events({{"type", "ContactCreate"}, {"id", "c-1"}, {"locationId", 7}}, location));
  EXPECT_TRUE(got.empty());
  ASSERT_NO_THROW(got = events({{"type", "ContactCreate"}, {"id", "c-1"}, {"locationId", "loc-1"}}, location));
  EXPECT_EQ(got.size(), 1u);
}

}  // namespace
}  // namespace ferry::core::security

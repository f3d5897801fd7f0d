// Webhook triggers: signatures made here with freshly generated Ed25519 and RSA keys
// (OpenSSL), stale and replayed deliveries, event types, record keys.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "support.hpp"

namespace ferry::tests::ghl {
namespace {

struct KeyPair {
  std::shared_ptr<EVP_PKEY> key;
  std::string publicPem;
};

KeyPair generate(int type) {
  EVP_PKEY_CTX* kctx = EVP_PKEY_CTX_new_id(type, nullptr);
  EVP_PKEY* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_keygen_init(kctx), 1);
  if (type == EVP_PKEY_RSA) {
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(kctx, 2048), 1);
  }
  EXPECT_EQ(EVP_PKEY_keygen(kctx, &raw), 1);
  EVP_PKEY_CTX_free(kctx);
  KeyPair pair{std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free), {}};
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, raw);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  pair.publicPem.assign(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pair;
}

std::string sign(const KeyPair& pair, const std::string& body, bool rsa) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestSignInit(md, nullptr, rsa ? EVP_sha256() : nullptr, nullptr, pair.key.get()),
            1);
  std::size_t size = 0;
  EXPECT_EQ(EVP_DigestSign(md, nullptr, &size, reinterpret_cast<const unsigned char*>(body.data()),
                           body.size()),
            1);
  std::string signature(size, '\0');
  EXPECT_EQ(EVP_DigestSign(md, reinterpret_cast<unsigned char*>(signature.data()), &size,
                           reinterpret_cast<const unsigned char*>(body.data()), body.size()),
            1);
  signature.resize(size);
  EVP_MD_CTX_free(md);
  std::string b64(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                reinterpret_cast<const unsigned char*>(signature.data()),
                                static_cast<int>(size));
  b64.resize(static_cast<std::size_t>(n));
  return b64;
}

std::string iso(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buffer;
}

class GhlWebhooks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ed = new KeyPair(generate(EVP_PKEY_ED25519));
    rsa = new KeyPair(generate(EVP_PKEY_RSA));
  }
  static void TearDownTestSuite() {
    delete ed;
    delete rsa;
  }

  std::unique_ptr<Harness> harness(bool legacy = false) {
    return std::make_unique<Harness>("http://127.0.0.1:9", "private_token",
                                     std::map<std::string, std::string, std::less<>>{},
                                     Json{{"location_id", "loc_test_1"},
                                          {"webhook_public_key", ed->publicPem},
                                          {"accept_legacy_rsa", legacy},
                                          {"webhook_rsa_public_key", rsa->publicPem}});
  }

  Json contactCreate(const std::string& webhookId) {
    Json payload =
        readJson("webhook-events.extracted.json")["events"]["ContactCreate"]["examples"][0];
    payload["webhookId"] = webhookId;
    payload["timestamp"] = iso(std::chrono::system_clock::now());
    return payload;
  }

  sdk::WebhookRequest request(const std::string& body, sdk::Headers headers) {
    return {"POST", "/hooks/ghl", "", std::move(headers), body};
  }

  int rejection(sdk::Trigger* trigger, Harness& h, const sdk::WebhookRequest& r) {
    try {
      trigger->receive(*h.ctx, Json::object(), r);
    } catch (const sdk::WebhookRejected& e) {
      return e.status;
    }
    return 0;
  }

  static inline KeyPair* ed = nullptr;
  static inline KeyPair* rsa = nullptr;
  sdk::Trigger* created = loadGhl()->trigger("ghl.contact.created");
};

TEST_F(GhlWebhooks, AGoodEd25519SignatureYieldsTheEvent) {
  auto h = harness();
  const std::string body = contactCreate("wh-1").dump();
  const auto events = created->receive(
      *h->ctx, Json::object(), request(body, {{"x-ghl-signature", sign(*ed, body, false)}}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, "wh-1");
  EXPECT_EQ(events[0].recordKey, "nmFmQEsNgz6AVpgLVUJ0");
  EXPECT_EQ(events[0].payload["email"], "JohnDeo@gmail.comm");
  EXPECT_FALSE(events[0].occurredAt.empty());
  EXPECT_TRUE(
      sdk::validate(loadGhl()->spec().find("ghl.contact.created")->output, events[0].payload)
          .empty());
}

TEST_F(GhlWebhooks, ABadSignatureIsRefused) {
  auto h = harness();
  const std::string body = contactCreate("wh-2").dump();
  std::string tampered = body;
  tampered.replace(tampered.find("John"), 4, "Jane");
  EXPECT_EQ(
      rejection(created, *h, request(tampered, {{"x-ghl-signature", sign(*ed, body, false)}})),
      401);
  EXPECT_EQ(rejection(created, *h, request(body, {{"x-ghl-signature", "not base64 !"}})), 401);
  // Signed by another key.
  const auto other = generate(EVP_PKEY_ED25519);
  EXPECT_EQ(rejection(created, *h, request(body, {{"x-ghl-signature", sign(other, body, false)}})),
            401);
}

TEST_F(GhlWebhooks, AMissingSignatureIsRefused) {
  auto h = harness();
  EXPECT_EQ(rejection(created, *h, request(contactCreate("wh-3").dump(), {})), 401);
}

TEST_F(GhlWebhooks, AStaleOrFutureTimestampIsRefused) {
  auto h = harness();
  Json payload = contactCreate("wh-4");
  payload["timestamp"] = iso(std::chrono::system_clock::now() - std::chrono::minutes(6));
  std::string body = payload.dump();
  EXPECT_EQ(rejection(created, *h, request(body, {{"x-ghl-signature", sign(*ed, body, false)}})),
            401);
  payload["timestamp"] = iso(std::chrono::system_clock::now() + std::chrono::minutes(3));
  body = payload.dump();
  EXPECT_EQ(rejection(created, *h, request(body, {{"x-ghl-signature", sign(*ed, body, false)}})),
            401);
  // Four minutes old is inside the window.
  payload["timestamp"] = iso(std::chrono::system_clock::now() - std::chrono::minutes(4));
  body = payload.dump();
  EXPECT_EQ(rejection(created, *h, request(body, {{"x-ghl-signature", sign(*ed, body, false)}})),
            0);
}

TEST_F(GhlWebhooks, AReplayedWebhookIdIsRefused) {
  auto h = harness();
  const std::string body = contactCreate("wh-5").dump();
  const auto r = request(body, {{"x-ghl-signature", sign(*ed, body, false)}});
  EXPECT_EQ(created->receive(*h->ctx, Json::object(), r).size(), 1u);
  EXPECT_EQ(rejection(created, *h, r), 409);
  // The replay memory is durable state, not process memory.
  EXPECT_TRUE(h->state.get("webhook.seen.ghl.contact.created").has_value());
}

TEST_F(GhlWebhooks, AnotherEventTypeYieldsNothingAndIsNotRemembered) {
  auto h = harness();
  const std::string body = contactCreate("wh-6").dump();
  const auto r = request(body, {{"x-ghl-signature", sign(*ed, body, false)}});
  EXPECT_TRUE(
      loadGhl()->trigger("ghl.contact.updated")->receive(*h->ctx, Json::object(), r).empty());
  EXPECT_EQ(created->receive(*h->ctx, Json::object(), r).size(), 1u);
}

TEST_F(GhlWebhooks, TheLocationFilterDropsOtherLocations) {
  auto h = harness();
  const std::string body = contactCreate("wh-7").dump();
  const auto r = request(body, {{"x-ghl-signature", sign(*ed, body, false)}});
  EXPECT_TRUE(created->receive(*h->ctx, {{"locationId", "elsewhere"}}, r).empty());
  EXPECT_EQ(created->receive(*h->ctx, {{"locationId", "ve9EPM428h8vShlRW1KT"}}, r).size(), 1u);
}

TEST_F(GhlWebhooks, LegacyRsaIsAcceptedOnlyWhenConfigured) {
  const std::string body = contactCreate("wh-8").dump();
  const auto r = request(body, {{"x-wh-signature", sign(*rsa, body, true)}});
  auto strict = harness(false);
  EXPECT_EQ(rejection(created, *strict, r), 401);
  auto legacy = harness(true);
  EXPECT_EQ(created->receive(*legacy->ctx, Json::object(), r).size(), 1u);
  const std::string other = contactCreate("wh-9").dump();
  EXPECT_EQ(
      rejection(created, *legacy, request(other, {{"x-wh-signature", sign(*rsa, body, true)}})),
      401);
}

TEST_F(GhlWebhooks, EveryTriggerAcceptsItsDocumentedExample) {
  auto h = harness();
  const Json events = readJson("webhook-events.extracted.json")["events"];
  int n = 0;
  for (const auto& op : loadGhl()->spec().operations) {
    if (op.kind != sdk::OperationKind::Trigger) {
      continue;
    }
    SCOPED_TRACE(op.id);
    Json payload = op.examples.front().output;
    payload["webhookId"] = "every-" + std::to_string(n++);
    const std::string body = payload.dump();
    const auto got = loadGhl()->trigger(op.id)->receive(
        *h->ctx, Json::object(), request(body, {{"x-ghl-signature", sign(*ed, body, false)}}));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_FALSE(got[0].recordKey.empty());
  }
  EXPECT_EQ(n, 16);
}

TEST_F(GhlWebhooks, SubscribeExplainsWhereToConfigureTheUrlAndDoesNotFail) {
  auto h = harness();
  EXPECT_NO_THROW(created->subscribe(*h->ctx, Json::object(), "https://ferry.example/hooks/ghl"));
  EXPECT_NO_THROW(created->unsubscribe(*h->ctx, Json::object(), "https://ferry.example/hooks/ghl"));
}

}  // namespace
}  // namespace ferry::tests::ghl

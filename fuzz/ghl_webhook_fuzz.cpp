// Fuzz target: GHL webhook receipt (plugins/ghl/webhook.cpp, signature.cpp). The first byte picks
// the trigger (unless the body's `type` names one) and how the request is signed: a valid Ed25519 signature over the body (so that
// the JSON, type, timestamp and replay checks are reached), a valid legacy RSA signature, a
// signature header taken from the input's first line, or none. The rest is the body. The only
// expected failure is WebhookRejected; an accepted delivery sent again must be refused (replay).
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "operations.hpp"
#include "support.hpp"
#include "webhook.hpp"

namespace {

using namespace ferry;

std::string publicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* text = nullptr;
  const long size = BIO_get_mem_data(bio, &text);
  std::string pem(text, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string sign(EVP_PKEY* key, const EVP_MD* md, std::string_view body) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t size = 0;
  EVP_DigestSignInit(ctx, nullptr, md, nullptr, key);
  EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(body.data()),
                 body.size());
  std::vector<unsigned char> signature(size);
  EVP_DigestSign(ctx, signature.data(), &size, reinterpret_cast<const unsigned char*>(body.data()),
                 body.size());
  EVP_MD_CTX_free(ctx);
  return base64(signature.data(), size);
}

struct Fixture {
  std::map<std::string, std::unique_ptr<plugins::ghl::WebhookTrigger>> triggers;  // by id
  std::vector<std::string> ids;
  std::map<std::string, std::string> byType;  // GHL's payload `type` -> trigger id
  EVP_PKEY* ed = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(1024));
  sdk::Connection connection;
  fuzz::FixedClock clock;
  Fixture() {
    for (auto& event : plugins::ghl::webhookEvents()) {
      const std::string id = event.spec.id;
      byType[event.type] = id;
      ids.push_back(id);
      triggers[id] = std::make_unique<plugins::ghl::WebhookTrigger>(std::move(event));
    }
    connection.name = "ghl_fuzz";
    connection.plugin = "ghl";
    connection.auth = "private_token";
    connection.baseUrl = "http://127.0.0.1:9";
    connection.settings = {{"location_id", "loc-1"},
                           {"webhook_public_key", publicPem(ed)},
                           {"webhook_rsa_public_key", publicPem(rsa)},
                           {"accept_legacy_rsa", true}};
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  fuzz::Input in(data, size);
  const std::uint8_t choice = in.byte();
  std::string id = f.ids[choice % f.ids.size()];

  sdk::WebhookRequest request;
  request.method = "POST";
  request.path = "/hooks/ghl";
  const int mode = (choice >> 5) & 3;
  if (mode == 2) {
    const std::string_view header = in.until('\n');
    request.headers.emplace_back((choice & 16) != 0 ? "x-wh-signature" : "x-ghl-signature",
                                 std::string(header));
  }
  request.body = std::string(in.rest());
  if (mode == 0) {
    request.headers.emplace_back("x-ghl-signature", sign(f.ed, nullptr, request.body));
  } else if (mode == 1) {
    request.headers.emplace_back("x-wh-signature", sign(f.rsa, EVP_sha256(), request.body));
  }
  // Like the server, which hands a delivery to the trigger of its type: a body whose `type` is
  // known goes to that trigger (so seeds reach the parsing past the type check).
  const sdk::Json parsed = sdk::Json::parse(request.body, nullptr, false);
  if (parsed.is_object() && parsed.contains("type") && parsed["type"].is_string()) {
    if (auto it = f.byType.find(parsed["type"].get<std::string>()); it != f.byType.end()) {
      id = it->second;
    }
  }
  sdk::Trigger* trigger = f.triggers.at(id).get();
  const sdk::Json filters =
      (choice & 16) != 0 ? sdk::Json{{"locationId", "loc-1"}} : sdk::Json::object();

  fuzz::ScriptedHttp http;
  core::engine::MemoryState state;
  core::engine::MemorySecrets secrets({{"token", "pit-fuzz"}});
  core::engine::LocalContext ctx({f.connection, &http, &state, &secrets, &f.clock, {}});
  std::vector<sdk::Event> events;
  try {
    events = trigger->receive(ctx, filters, request);
  } catch (const sdk::WebhookRejected&) {
    return 0;
  }
  if (events.empty()) {
    return 0;
  }
  try {
    (void)trigger->receive(ctx, filters, request);
  } catch (const sdk::WebhookRejected& e) {
    if (e.status == 409) {
      return 0;
    }
  }
  std::fprintf(stderr, "fuzz: an accepted GHL webhook was accepted again (replay)\n");
  std::abort();
}

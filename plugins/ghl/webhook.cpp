#include "webhook.hpp"

#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "signature.hpp"

namespace ferry::plugins::ghl {

namespace {

using Clock = std::chrono::system_clock;
constexpr std::chrono::seconds kMaxAge{300};
constexpr std::chrono::seconds kMaxSkew{60};
constexpr std::chrono::seconds kReplayMemory{600};

std::string setting(sdk::Context& ctx, const char* name) {
  const auto& settings = ctx.connection().settings;
  if (!settings.contains(name) || !settings[name].is_string()) {
    return {};
  }
  // PEM keys pasted on one line with literal "\n" are accepted too.
  std::string value = settings[name].get<std::string>();
  for (auto at = value.find("\\n"); at != std::string::npos; at = value.find("\\n", at)) {
    value.replace(at, 2, "\n");
  }
  return value;
}

bool flag(sdk::Context& ctx, const char* name) {
  return sdk::member(ctx.connection().settings, name, false);
}

// GHL's `timestamp`: an ISO-8601 UTC string, or Unix time in seconds or milliseconds.
std::optional<Clock::time_point> parseTimestamp(const sdk::Json& value) {
  // system_clock counts nanoseconds in 64 bits: about ±292 years around 1970. A time outside
  // ±250 years is no webhook's timestamp; converting it would overflow (found by fuzzing).
  constexpr double kMaxSeconds = 250.0 * 365 * 24 * 3600;
  if (value.is_number()) {
    const double number = value.get<double>();
    const double ms = number > 1e12 ? number : number * 1000;
    if (!(ms > -kMaxSeconds * 1000 && ms < kMaxSeconds * 1000)) {
      return std::nullopt;
    }
    return Clock::time_point(std::chrono::milliseconds(static_cast<long long>(ms)));
  }
  if (!value.is_string()) {
    return std::nullopt;
  }
  const std::string text = value.get<std::string>();
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  if (text.size() > 20 && text[19] == '.') {
    std::sscanf(text.c_str() + 20, "%3d", &millis);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t seconds = timegm(&tm);
  if (seconds == static_cast<std::time_t>(-1) || static_cast<double>(seconds) <= -kMaxSeconds ||
      static_cast<double>(seconds) >= kMaxSeconds) {
    return std::nullopt;
  }
  return Clock::from_time_t(seconds) + std::chrono::milliseconds(millis);
}

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

const sdk::Json* at(const sdk::Json& payload, const std::string& dotted) {
  const sdk::Json* node = &payload;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    const auto dot = dotted.find('.', start);
    const std::string part =
        dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(part)) {
      return nullptr;
    }
    node = &(*node)[part];
    if (dot == std::string::npos) {
      break;
    }
    start = dot + 1;
  }
  return node;
}

}  // namespace

void WebhookTrigger::subscribe(sdk::Context& ctx, const sdk::Json& filters,
                               const std::string& url) {
  (void)filters;
  const std::string key = setting(ctx, "webhook_public_key");
  if (key.empty() || !isPublicKey(key, "ED25519")) {
    ctx.log().warn("The connection '" + ctx.connection().name +
                       "' has no valid Ed25519 'webhook_public_key'; GHL webhooks will be refused "
                       "until it is set.",
                   {{"operation", event_.spec.id}});
  }
  if (flag(ctx, "accept_legacy_rsa") &&
      !isPublicKey(setting(ctx, "webhook_rsa_public_key"), "RSA")) {
    ctx.log().warn(
        "The setting 'accept_legacy_rsa' is on but 'webhook_rsa_public_key' is not an "
        "RSA public key.",
        {{"operation", event_.spec.id}});
  }
  ctx.log().info(
      "GHL webhooks are configured in the Marketplace app, not through the API: set "
      "the app's webhook URL to '" +
          url + "' and enable the event '" + event_.type + "'.",
      {{"operation", event_.spec.id}, {"url", url}, {"event", event_.type}});
}

void WebhookTrigger::unsubscribe(sdk::Context& ctx, const sdk::Json& filters,
                                 const std::string& url) {
  (void)filters;
  ctx.log().info("GHL webhooks are configured in the Marketplace app: remove '" + url +
                     "' or the event '" + event_.type + "' there to stop deliveries.",
                 {{"operation", event_.spec.id}, {"url", url}});
}

void WebhookTrigger::checkSignature(sdk::Context& ctx, const sdk::WebhookRequest& request) const {
  if (const auto signature = sdk::findHeader(request.headers, "x-ghl-signature")) {
    const std::string key = setting(ctx, "webhook_public_key");
    const auto result = verifyEd25519(key, request.body, *signature);
    if (result == SignatureCheck::BadKey) {
      throw sdk::WebhookRejected(401, "ghl.webhook_key",
                                 "The connection setting 'webhook_public_key' is missing or not an "
                                 "Ed25519 public key (PEM).");
    }
    if (result != SignatureCheck::Valid) {
      throw sdk::WebhookRejected(401, "ghl.webhook_signature",
                                 "The x-ghl-signature does not match the body.");
    }
    return;
  }
  if (const auto signature = sdk::findHeader(request.headers, "x-wh-signature")) {
    if (!flag(ctx, "accept_legacy_rsa")) {
      throw sdk::WebhookRejected(401, "ghl.webhook_legacy_refused",
                                 "Only a legacy x-wh-signature was sent; set 'accept_legacy_rsa' "
                                 "to accept RSA-signed webhooks.");
    }
    const auto result =
        verifyRsaSha256(setting(ctx, "webhook_rsa_public_key"), request.body, *signature);
    if (result == SignatureCheck::BadKey) {
      throw sdk::WebhookRejected(
          401, "ghl.webhook_key",
          "The connection setting 'webhook_rsa_public_key' is missing or not "
          "an RSA public key (PEM).");
    }
    if (result != SignatureCheck::Valid) {
      throw sdk::WebhookRejected(401, "ghl.webhook_signature",
                                 "The x-wh-signature does not match the body.");
    }
    return;
  }
  throw sdk::WebhookRejected(401, "ghl.webhook_unsigned",
                             "The webhook carries no x-ghl-signature header.");
}

void WebhookTrigger::remember(sdk::Context& ctx, const std::string& deliveryId) {
  const std::string key = "webhook.seen." + event_.spec.id;
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(ctx.clock().now().time_since_epoch())
          .count();
  std::lock_guard lock(replayMutex_);
  sdk::Json seen = sdk::Json::object();
  if (const auto stored = ctx.state().get(key)) {
    seen = sdk::Json::parse(*stored, nullptr, false);
    if (!seen.is_object()) {
      seen = sdk::Json::object();
    }
  }
  for (auto it = seen.begin(); it != seen.end();) {
    it = (it->is_number() && it->get<long long>() <= now) ? seen.erase(it) : std::next(it);
  }
  if (seen.contains(deliveryId)) {
    throw sdk::WebhookRejected(409, "ghl.webhook_replay",
                               "The webhook '" + deliveryId + "' was already received.");
  }
  seen[deliveryId] = now + kReplayMemory.count();
  ctx.state().put(key, seen.dump());
}

std::vector<sdk::Event> WebhookTrigger::receive(sdk::Context& ctx, const sdk::Json& filters,
                                                const sdk::WebhookRequest& request) {
  checkSignature(ctx, request);
  const auto payload = sdk::Json::parse(request.body, nullptr, false);
  if (!payload.is_object()) {
    throw sdk::WebhookRejected(400, "ghl.webhook_body", "The webhook body is not a JSON object.");
  }
  if (sdk::member(payload, "type", std::string()) != event_.type) {
    return {};
  }
  if (filters.is_object() && filters.contains("locationId") && filters["locationId"].is_string() &&
      sdk::member(payload, "locationId", std::string()) != filters["locationId"].get<std::string>()) {
    return {};
  }
  const auto now = ctx.clock().now();
  std::string occurredAt;
  if (payload.contains("timestamp")) {
    const auto sent = parseTimestamp(payload["timestamp"]);
    if (!sent) {
      throw sdk::WebhookRejected(400, "ghl.webhook_timestamp",
                                 "The webhook's timestamp is not a date.");
    }
    if (*sent < now - kMaxAge || *sent > now + kMaxSkew) {
      throw sdk::WebhookRejected(401, "ghl.webhook_stale",
                                 "The webhook's timestamp is outside the 5-minute window.");
    }
    occurredAt = payload["timestamp"].is_string() ? payload["timestamp"].get<std::string>() : "";
  }
  std::string id;
  if (payload.contains("webhookId") && payload["webhookId"].is_string()) {
    id = payload["webhookId"].get<std::string>();
  } else if (payload.contains("id") && payload["id"].is_string()) {
    id = event_.type + ":" + payload["id"].get<std::string>() + ":" +
         sha256Hex(request.body).substr(0, 16);
  } else {
    id = event_.type + ":" + sha256Hex(request.body);
  }
  remember(ctx, id);

  sdk::Event event;
  event.id = id;
  if (const auto* key = at(payload, event_.spec.recordKey); key != nullptr && key->is_string()) {
    event.recordKey = key->get<std::string>();
  }
  if (occurredAt.empty() && payload.contains("dateAdded") && payload["dateAdded"].is_string()) {
    occurredAt = payload["dateAdded"].get<std::string>();
  }
  if (occurredAt.empty()) {
    const std::time_t seconds = Clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    occurredAt = buffer;
  }
  event.occurredAt = occurredAt;
  event.payload = payload;
  return {event};
}

}  // namespace ferry::plugins::ghl

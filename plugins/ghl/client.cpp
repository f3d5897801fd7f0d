#include "client.hpp"

#include <algorithm>
#include <cctype>

namespace ferry::plugins::ghl {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::optional<long> headerNumber(const sdk::HttpResponse& response, std::string_view name) {
  const auto value = response.header(name);
  if (!value) {
    return std::nullopt;
  }
  try {
    std::size_t used = 0;
    const long number = std::stol(*value, &used);
    return used > 0 ? std::optional<long>(number) : std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// GHL's message is a string, or an array of strings on 422.
std::string messageOf(const sdk::Json& body, const std::string& fallback) {
  if (!body.is_object() || !body.contains("message")) {
    return fallback;
  }
  const auto& message = body["message"];
  if (message.is_string()) {
    return message.get<std::string>();
  }
  if (message.is_array()) {
    std::string joined;
    for (const auto& part : message) {
      joined +=
          (joined.empty() ? "" : "; ") + (part.is_string() ? part.get<std::string>() : part.dump());
    }
    return joined;
  }
  return fallback;
}

std::string formEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    out += (out.empty() ? "" : "&") + sdk::urlEncode(key) + "=" + sdk::urlEncode(value);
  }
  return out;
}

long nowSeconds(sdk::Context& ctx) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::seconds>(ctx.clock().now().time_since_epoch())
          .count());
}

std::string requireSecret(sdk::Context& ctx, std::string_view name) {
  auto value = ctx.secrets().get(name);
  if (!value || value->empty()) {
    sdk::OperationError error(sdk::ErrorKind::Auth, "ghl.missing_secret",
                              "The connection '" + ctx.connection().name + "' has no secret '" +
                                  std::string(name) + "'; add it to the connection's secrets.");
    throw error;
  }
  return *value;
}

// POST {base}/oauth/token, form-encoded. Returns the parsed answer or throws OperationError.
sdk::Json tokenRequest(sdk::Context& ctx,
                       const std::vector<std::pair<std::string, std::string>>& form) {
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = baseUrl(ctx) + "/oauth/token";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"}};
  request.body = formEncode(form);
  const auto response = ctx.http().send(request);
  if (response.status < 200 || response.status >= 300) {
    auto error = mapError(response, "");
    if (response.status == 400 || response.status == 401 || response.status == 422) {
      // A refused grant means the stored credential is unusable: the user must re-authorise.
      sdk::OperationError refused(
          sdk::ErrorKind::Auth, "ghl.oauth_refused",
          std::string("GHL refused the OAuth token request: ") + error.what());
      refused.httpStatus = response.status;
      refused.details = error.details;
      throw refused;
    }
    throw error;
  }
  auto answer = sdk::Json::parse(response.body, nullptr, false);
  if (!answer.is_object() || !answer.contains("access_token") ||
      !answer["access_token"].is_string()) {
    throw sdk::OperationError(sdk::ErrorKind::Transient, "ghl.oauth_bad_answer",
                              "GHL answered the OAuth token request without an access_token.");
  }
  return answer;
}

// The lifetime a token answer gives, in seconds: GHL's 86399 when it names none (or names it in
// another type), and never more than a year, so that adding it to the clock cannot overflow.
long expiresIn(const sdk::Json& answer) {
  constexpr long kYear = 366L * 24 * 3600;
  return std::clamp(sdk::member(answer, "expires_in", 86399L), 0L, kYear);
}

// Stores a token answer: the refresh token first (it is single-use and the old one is already
// spent), then the access token and its expiry. A failed put throws, and nothing new is used.
void storeTokens(sdk::Context& ctx, const sdk::Json& answer) {
  try {
    if (answer.contains("refresh_token") && answer["refresh_token"].is_string()) {
      ctx.secrets().put("refresh_token", answer["refresh_token"].get<std::string>());
    }
    ctx.secrets().put("access_token", answer["access_token"].get<std::string>());
    ctx.secrets().put("expires_at", std::to_string(nowSeconds(ctx) + expiresIn(answer)));
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const sdk::OperationError*>(&e) != nullptr) {
      throw;
    }
    throw sdk::OperationError(sdk::ErrorKind::Auth, "ghl.token_store_failed",
                              std::string("The rotated OAuth tokens could not be stored (") +
                                  e.what() + "); re-authorise the connection.");
  }
}

}  // namespace

std::string baseUrl(sdk::Context& ctx) {
  std::string url =
      ctx.connection().baseUrl.empty() ? std::string(kDefaultBaseUrl) : ctx.connection().baseUrl;
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  return url;
}

sdk::OperationError mapError(const sdk::HttpResponse& response, const std::string& scope) {
  const int status = response.status;
  const auto body = sdk::Json::parse(response.body, nullptr, false);
  const std::string upstream = messageOf(body, response.body.substr(0, 200));
  auto make = [&](sdk::ErrorKind kind, std::string code, const std::string& text) {
    sdk::OperationError error(kind, std::move(code), text);
    error.httpStatus = status;
    if (!body.is_discarded()) {
      error.details = body;
    }
    return error;
  };
  const std::string suffix = upstream.empty() ? "" : ": " + upstream;
  if (status == 401) {
    if (lower(upstream).find("not authorized for this scope") != std::string::npos) {
      auto error = make(sdk::ErrorKind::Scope, "ghl.scope",
                        "The token lacks the scope '" + scope + "'" + suffix);
      error.scope = scope;
      return error;
    }
    return make(sdk::ErrorKind::Auth, "ghl.unauthorized", "GHL refused the token" + suffix);
  }
  if (status == 403) {
    auto error = make(sdk::ErrorKind::Scope, "ghl.forbidden",
                      "GHL refused the call; the token needs the scope '" + scope + "'" + suffix);
    error.scope = scope;
    return error;
  }
  if (status == 429) {
    const auto daily = headerNumber(response, "X-RateLimit-Daily-Remaining");
    if (daily && *daily <= 0) {
      return make(sdk::ErrorKind::Exhausted, "ghl.daily_limit",
                  "The daily GHL request budget of this location is spent" + suffix);
    }
    auto error = make(sdk::ErrorKind::RateLimited, "ghl.rate_limited",
                      "GHL rate limit reached (100 requests per 10 s)" + suffix);
    if (const auto interval = headerNumber(response, "X-RateLimit-Interval-Milliseconds")) {
      error.retryAfter = sdk::upstreamWait(static_cast<double>(*interval) / 1000);
    }
    return error;
  }
  if (status >= 500) {
    return make(sdk::ErrorKind::Transient, "ghl.server_error",
                "GHL answered " + std::to_string(status) + suffix);
  }
  if (status == 408) {
    return make(sdk::ErrorKind::Transient, "ghl.timeout", "GHL timed out the request" + suffix);
  }
  if (status == 404) {
    return make(sdk::ErrorKind::NotFound, "ghl.not_found", "GHL has no such record" + suffix);
  }
  if (status == 400) {
    return make(sdk::ErrorKind::Invalid, "ghl.bad_request", "GHL rejected the request" + suffix);
  }
  if (status == 422) {
    return make(sdk::ErrorKind::Invalid, "ghl.unprocessable", "GHL rejected the fields" + suffix);
  }
  return make(sdk::ErrorKind::Permanent, "ghl.http_" + std::to_string(status),
              "GHL answered " + std::to_string(status) + suffix);
}

std::optional<sdk::RateLimitReport> rateLimitReport(const sdk::HttpResponse& response,
                                                    const std::string& bucket) {
  sdk::RateLimitReport report;
  report.bucket = bucket;
  report.limit = headerNumber(response, "X-RateLimit-Max");
  report.remaining = headerNumber(response, "X-RateLimit-Remaining");
  if (const auto interval = headerNumber(response, "X-RateLimit-Interval-Milliseconds")) {
    report.interval = sdk::upstreamWait(static_cast<double>(*interval) / 1000);
  }
  report.dailyLimit = headerNumber(response, "X-RateLimit-Limit-Daily");
  report.dailyRemaining = headerNumber(response, "X-RateLimit-Daily-Remaining");
  if (!report.limit && !report.remaining && !report.interval && !report.dailyLimit &&
      !report.dailyRemaining) {
    return std::nullopt;
  }
  return report;
}

std::recursive_mutex& Tokens::mutexFor(const std::string& connection) {
  std::lock_guard lock(mapMutex_);
  auto& slot = mutexes_[connection];
  if (!slot) {
    slot = std::make_unique<std::recursive_mutex>();
  }
  return *slot;
}

namespace {

// A stored token still usable for a minute: the token, else nullopt.
std::optional<std::string> fresh(sdk::Context& ctx, std::string_view tokenName,
                                 std::string_view expiryName) {
  const auto token = ctx.secrets().get(tokenName);
  if (!token || token->empty()) {
    return std::nullopt;
  }
  const auto expiresAt = ctx.secrets().get(expiryName);
  if (!expiresAt) {
    return token;  // no known expiry: used until GHL refuses it
  }
  try {
    if (nowSeconds(ctx) < std::stol(*expiresAt) - 60) {
      return token;
    }
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

std::string Tokens::current(sdk::Context& ctx) {
  const auto& auth = ctx.connection().auth;
  if (auth == "oauth2") {
    return oauthAccess(ctx);
  }
  if (auth == "agency_oauth") {
    if (auto token = fresh(ctx, "location_access_token", "location_expires_at")) {
      return *token;
    }
    std::lock_guard lock(mutexFor(ctx.connection().name));
    if (auto token = fresh(ctx, "location_access_token", "location_expires_at")) {
      return *token;  // fetched by another call while this one waited
    }
    return fetchLocationToken(ctx)["access_token"].get<std::string>();
  }
  return requireSecret(ctx, "token");
}

std::string Tokens::oauthAccess(sdk::Context& ctx) {
  const auto before = ctx.secrets().get("access_token");
  if (auto token = fresh(ctx, "access_token", "expires_at")) {
    return *token;
  }
  std::lock_guard lock(mutexFor(ctx.connection().name));
  if (auto token = fresh(ctx, "access_token", "expires_at"); token && token != before) {
    return *token;  // refreshed by another call while this one waited
  }
  return refreshLocked(ctx);
}

std::optional<std::string> Tokens::refreshAfterRejection(sdk::Context& ctx,
                                                         const std::string& rejected) {
  const auto& auth = ctx.connection().auth;
  if (auth != "oauth2" && auth != "agency_oauth") {
    return std::nullopt;
  }
  std::lock_guard lock(mutexFor(ctx.connection().name));
  const char* name = auth == "oauth2" ? "access_token" : "location_access_token";
  const auto access = ctx.secrets().get(name);
  if (access && *access != rejected) {
    return *access;  // replaced by another call meanwhile
  }
  if (auth == "oauth2") {
    return refreshLocked(ctx);
  }
  return fetchLocationToken(ctx)["access_token"].get<std::string>();
}

std::string Tokens::refreshLocked(sdk::Context& ctx) {
  const std::string refreshToken = requireSecret(ctx, "refresh_token");
  const auto& settings = ctx.connection().settings;
  const std::string userType = sdk::member(
      settings, "user_type", std::string(ctx.connection().auth == "agency_oauth" ? "Company" : "Location"));
  ctx.log().info("Refreshing the GHL access token of connection '" + ctx.connection().name + "'.",
                 {{"connection", ctx.connection().name}});
  const auto answer = tokenRequest(ctx, {{"client_id", requireSecret(ctx, "client_id")},
                                         {"client_secret", requireSecret(ctx, "client_secret")},
                                         {"grant_type", "refresh_token"},
                                         {"refresh_token", refreshToken},
                                         {"user_type", userType}});
  storeTokens(ctx, answer);
  return answer["access_token"].get<std::string>();
}

sdk::Json Tokens::fetchLocationToken(sdk::Context& ctx, std::string locationId) {
  std::lock_guard lock(mutexFor(ctx.connection().name));
  const auto& settings = ctx.connection().settings;
  const std::string companyId = sdk::member(settings, "company_id", std::string());
  if (locationId.empty()) {
    locationId = sdk::member(settings, "location_id", std::string());
  }
  if (companyId.empty() || locationId.empty()) {
    throw sdk::OperationError(sdk::ErrorKind::Invalid, "ghl.missing_setting",
                              "A location token needs the connection settings company_id and "
                              "location_id.");
  }
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = baseUrl(ctx) + "/oauth/locationToken";
  request.body = formEncode({{"companyId", companyId}, {"locationId", locationId}});
  auto attempt = [&](const std::string& agencyToken) {
    request.headers = {{"Authorization", "Bearer " + agencyToken},
                       {"Version", std::string(kApiVersion)},
                       {"Content-Type", "application/x-www-form-urlencoded"},
                       {"Accept", "application/json"}};
    return ctx.http().send(request);
  };
  std::string agency = oauthAccess(ctx);
  auto response = attempt(agency);
  if (response.status == 401 && mapError(response, "oauth.write").kind == sdk::ErrorKind::Auth) {
    agency = refreshLocked(ctx);
    response = attempt(agency);
  }
  if (response.status < 200 || response.status >= 300) {
    throw mapError(response, "oauth.write");
  }
  auto answer = sdk::Json::parse(response.body, nullptr, false);
  if (!answer.is_object() || !answer.contains("access_token") ||
      !answer["access_token"].is_string()) {
    throw sdk::OperationError(sdk::ErrorKind::Transient, "ghl.oauth_bad_answer",
                              "GHL answered the location token request without an access_token.");
  }
  const long expiresAt = nowSeconds(ctx) + expiresIn(answer);
  if (locationId == sdk::member(settings, "location_id", std::string())) {
    try {
      ctx.secrets().put("location_access_token", answer["access_token"].get<std::string>());
      ctx.secrets().put("location_expires_at", std::to_string(expiresAt));
    } catch (const std::runtime_error& e) {
      throw sdk::OperationError(sdk::ErrorKind::Transient, "ghl.token_store_failed",
                                std::string("The location token could not be stored: ") + e.what());
    }
  }
  answer["expiresAt"] = expiresAt;
  return answer;
}

sdk::Json Tokens::exchangeCode(sdk::Context& ctx, const std::string& code,
                               const std::string& redirectUri, const std::string& userType) {
  std::lock_guard lock(mutexFor(ctx.connection().name));
  std::vector<std::pair<std::string, std::string>> form = {
      {"client_id", requireSecret(ctx, "client_id")},
      {"client_secret", requireSecret(ctx, "client_secret")},
      {"grant_type", "authorization_code"},
      {"code", code},
      {"user_type", userType}};
  if (!redirectUri.empty()) {
    form.emplace_back("redirect_uri", redirectUri);
  }
  const auto answer = tokenRequest(ctx, form);
  storeTokens(ctx, answer);
  sdk::Json out = sdk::Json::object();
  for (const char* key : {"userType", "locationId", "companyId", "scope", "userId"}) {
    if (answer.contains(key) && answer[key].is_string()) {
      out[key] = answer[key];
    }
  }
  out["expiresAt"] = std::stol(*ctx.secrets().get("expires_at"));
  return out;
}

sdk::Json send(sdk::Context& ctx, Tokens& tokens, const ApiCall& call) {
  sdk::HttpRequest request;
  request.method = call.method;
  request.url = baseUrl(ctx) + call.pathAndQuery;
  std::string token = tokens.current(ctx);
  const auto build = [&](const std::string& bearer) {
    request.headers = {{"Authorization", "Bearer " + bearer},
                       {"Version", std::string(kApiVersion)},
                       {"Accept", "application/json"}};
    if (call.body) {
      request.headers.emplace_back("Content-Type", "application/json");
      request.body = call.body->dump();
    }
  };
  build(token);
  auto response = ctx.http().send(request);
  if (auto report = rateLimitReport(response, call.bucket)) {
    ctx.reportRateLimit(*report);
  }
  if (response.status == 401) {
    const auto mapped = mapError(response, call.scope);
    if (mapped.kind == sdk::ErrorKind::Auth) {
      if (auto fresh = tokens.refreshAfterRejection(ctx, token)) {
        build(*fresh);
        response = ctx.http().send(request);
        if (auto report = rateLimitReport(response, call.bucket)) {
          ctx.reportRateLimit(*report);
        }
      }
    }
  }
  if (response.status < 200 || response.status >= 300) {
    throw mapError(response, call.scope);
  }
  if (response.body.empty()) {
    return sdk::Json::object();
  }
  auto parsed = sdk::Json::parse(response.body, nullptr, false);
  if (parsed.is_discarded()) {
    throw sdk::OperationError(
        sdk::ErrorKind::Permanent, "ghl.bad_response",
        "GHL answered " + std::to_string(response.status) + " with a body that is not JSON.");
  }
  return parsed;
}

}  // namespace ferry::plugins::ghl

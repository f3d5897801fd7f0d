#include "client.hpp"

#include <algorithm>
#include <chrono>

#include "ferry/sdk/http.hpp"

namespace ferry::plugins::umsatzio {

namespace {

using sdk::ErrorKind;
using sdk::OperationError;

std::optional<std::chrono::milliseconds> parseRetryAfter(const std::optional<std::string>& value) {
  if (!value || value->empty()) {
    return std::nullopt;
  }
  try {
    std::size_t used = 0;
    const double seconds = std::stod(*value, &used);
    if (used == value->size()) {
      return sdk::upstreamWait(seconds);
    }
  } catch (const std::exception&) {
  }
  return std::nullopt;  // an HTTP-date: the runtime's own backoff applies
}

OperationError make(ErrorKind kind, std::string code, const std::string& message, int status,
                    const Json& details) {
  OperationError e(kind, std::move(code), message);
  e.httpStatus = status;
  e.details = details;
  return e;
}

}  // namespace

std::string endpointUrl(const sdk::Connection& connection) {
  std::string base = connection.baseUrl.empty() ? "https://app.umsatz.io" : connection.baseUrl;
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  constexpr std::string_view suffix = "/api/graphql";
  if (base.size() >= suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return base;
  }
  return base + std::string(suffix);
}

sdk::Headers authHeaders(std::string_view scheme, const std::string& apiKey) {
  if (scheme.empty() || scheme == kSchemeBasicAndTenant) {
    // The public client sends the raw key after "Basic", not base64 of user:password.
    return {{"Authorization", "Basic " + apiKey}, {"x-tenant-api-key", apiKey}};
  }
  if (scheme == kSchemeApiKeyHeader) {
    return {{"api-key", apiKey}};
  }
  if (scheme == kSchemeBearer) {
    return {{"Authorization", "Bearer " + apiKey}};
  }
  throw OperationError(ErrorKind::Invalid, "umsatzio.auth_header_scheme",
                       "Connection setting 'auth_header_scheme' is '" + std::string(scheme) +
                           "'; allowed: basic_and_tenant, api_key_header, bearer.");
}

std::optional<OperationError> classify(int status, const std::optional<std::string>& retryAfter,
                                       const Json& body) {
  const Json* firstError = nullptr;
  if (body.is_object()) {
    auto it = body.find("errors");
    if (it != body.end() && it->is_array() && !it->empty()) {
      firstError = &(*it)[0];
    }
  }
  std::string code;
  std::string message;
  if (firstError != nullptr && firstError->is_object()) {
    message = sdk::member(*firstError, "message", "");
    if (auto ext = firstError->find("extensions"); ext != firstError->end() && ext->is_object()) {
      code = sdk::member(*ext, "code", "");
    }
  }
  const Json details = body.is_object() && body.contains("errors") ? body["errors"] : Json();
  const std::string said = message.empty() ? "" : " Umsatz-io said: " + message;

  if (status == 429 || code == "RATE_LIMITED") {
    auto e = make(ErrorKind::RateLimited, "umsatzio.rate_limited",
                  "Umsatz-io is rate limiting this API key." + said, status, details);
    e.retryAfter = parseRetryAfter(retryAfter);
    if (!e.retryAfter && firstError != nullptr) {
      if (auto ext = firstError->find("extensions"); ext != firstError->end() && ext->is_object() &&
                                                      ext->contains("retryAfter") &&
                                                      (*ext)["retryAfter"].is_number()) {
        e.retryAfter = sdk::upstreamWait((*ext)["retryAfter"].get<double>());
      }
    }
    return e;
  }
  if (status >= 500 || code == "INTERNAL_SERVER_ERROR") {
    return make(ErrorKind::Transient, "umsatzio.server_error",
                "Umsatz-io answered with a server error (HTTP " + std::to_string(status) + ")." +
                    said,
                status, details);
  }
  if (code == "UNAUTHENTICATED" || status == 401) {
    return make(ErrorKind::Auth, "umsatzio.unauthenticated",
                "Umsatz-io refused the API key; check the secret 'api_key' and the setting "
                "'auth_header_scheme'." + said,
                status, details);
  }
  if (code == "FORBIDDEN" || status == 403) {
    auto e = make(ErrorKind::Scope, "umsatzio.forbidden",
                  "The API key may not do this; Umsatz-io API keys are created by an admin." + said,
                  status, details);
    e.scope = "admin";
    return e;
  }
  if (code == "NOT_FOUND" || status == 404) {
    return make(ErrorKind::NotFound, "umsatzio.not_found", "Umsatz-io has no such record." + said,
                status, details);
  }
  if (code == "BAD_USER_INPUT" || code == "GRAPHQL_VALIDATION_FAILED" ||
      code == "GRAPHQL_PARSE_FAILED" || status == 400 || status == 422) {
    return make(ErrorKind::Invalid, "umsatzio.invalid", "Umsatz-io rejected the request." + said,
                status, details);
  }
  if (firstError != nullptr || status >= 300) {
    return make(ErrorKind::Permanent, code.empty() ? "umsatzio.graphql" : "umsatzio." + code,
                "Umsatz-io answered with an error (HTTP " + std::to_string(status) +
                    (code.empty() ? "" : ", " + code) + ")." + said,
                status, details);
  }
  if (!body.is_object() || !body.contains("data")) {
    return make(ErrorKind::Transient, "umsatzio.bad_response",
                "Umsatz-io answered without a GraphQL 'data' member.", status, Json());
  }
  return std::nullopt;
}

Json pagination(const Json& input) {
  long long page = 0;
  long long limit = 50;
  if (input.contains("page") && input["page"].is_number_integer()) {
    page = std::max(0LL, input["page"].get<long long>());
  }
  if (input.contains("limit") && input["limit"].is_number_integer()) {
    limit = std::clamp(input["limit"].get<long long>(), 1LL, 100LL);
  }
  return {{"page", page}, {"limit", limit}};
}

Json Client::execute(std::string_view query, const Json& variables) {
  const auto& connection = ctx_.connection();
  auto key = ctx_.secrets().get("api_key");
  if (!key || key->empty()) {
    throw OperationError(ErrorKind::Auth, "umsatzio.no_api_key",
                         "Connection '" + connection.name +
                             "' has no secret 'api_key'; create one under Settings > "
                             "Integrations > API Keys in Umsatz-io.");
  }
  std::string scheme(kSchemeBasicAndTenant);
  if (auto it = connection.settings.find("auth_header_scheme");
      it != connection.settings.end() && it->is_string()) {
    scheme = it->get<std::string>();
  }
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = endpointUrl(connection);
  request.headers = authHeaders(scheme, *key);
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("Accept", "application/json");
  request.body = Json{{"query", query}, {"variables", variables}}.dump();

  const sdk::HttpResponse response = ctx_.http().send(request);
  Json body = Json::parse(response.body, nullptr, false);
  if (body.is_discarded()) {
    body = Json();
  }
  if (auto error = classify(response.status, response.header("Retry-After"), body)) {
    throw *error;
  }
  return body["data"];
}

}  // namespace ferry::plugins::umsatzio

#pragma once

#include <string>
#include <string_view>

#include "ferry/sdk/context.hpp"
#include "ferry/sdk/errors.hpp"
#include "ferry/sdk/json.hpp"

namespace ferry::plugins::umsatzio {

using sdk::Json;

// The API key header schemes (connection setting `auth_header_scheme`). The research found
// `basic_and_tenant` in the only public client; the README of that client says `api-key`.
inline constexpr std::string_view kSchemeBasicAndTenant = "basic_and_tenant";
inline constexpr std::string_view kSchemeApiKeyHeader = "api_key_header";
inline constexpr std::string_view kSchemeBearer = "bearer";

// The GraphQL endpoint for a connection: `{baseUrl}/api/graphql` (a base URL that already
// ends in /api/graphql is used as is; an empty one means https://app.umsatz.io).
std::string endpointUrl(const sdk::Connection& connection);

// The headers that carry `apiKey` in `scheme`. Throws OperationError(Invalid) for an unknown
// scheme.
sdk::Headers authHeaders(std::string_view scheme, const std::string& apiKey);

// Classifies one GraphQL answer: the HTTP status, the Retry-After header and the first entry
// of `errors[]` (its `extensions.code`). Returns nullopt when the answer is a success.
std::optional<sdk::OperationError> classify(int status, const std::optional<std::string>& retryAfter,
                                            const Json& body);

// The GraphQL `pagination` argument from an action input: page (default 0) and limit
// (default 50, clamped to 1..100).
Json pagination(const Json& input);

// A thin GraphQL client over the HttpClient the core lends. One instance per call.
class Client {
 public:
  explicit Client(sdk::Context& ctx) : ctx_(ctx) {}

  // Sends `{query, variables}` and returns the answer's `data`. Throws OperationError
  // (classified; see classify) or TransportError.
  Json execute(std::string_view query, const Json& variables);

 private:
  sdk::Context& ctx_;
};

}  // namespace ferry::plugins::umsatzio

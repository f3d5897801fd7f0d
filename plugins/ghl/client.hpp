#pragma once

// The thin HTTP client every GHL operation goes through: base URL from the connection,
// `Authorization: Bearer`, `Version: 2021-07-28`, JSON bodies, the mapping of GHL's error
// answers onto sdk::OperationError, rate-limit reporting, and token refresh once on a 401.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/sdk/context.hpp"
#include "ferry/sdk/errors.hpp"
#include "ferry/sdk/http.hpp"
#include "ferry/sdk/json.hpp"

namespace ferry::plugins::ghl {

namespace sdk = ferry::sdk;

inline constexpr std::string_view kApiVersion = "2021-07-28";
inline constexpr std::string_view kDefaultBaseUrl = "https://services.leadconnectorhq.com";

// Base URL of the connection without a trailing slash (the connection's, else GHL's).
std::string baseUrl(sdk::Context& ctx);

// Maps a non-2xx GHL answer to the error the runtime needs. `scope` is the scope of the
// operation that was called (named in Scope errors). Pure.
sdk::OperationError mapError(const sdk::HttpResponse& response, const std::string& scope);

// Reads the five X-RateLimit-* headers; nullopt when none is present. Pure.
std::optional<sdk::RateLimitReport> rateLimitReport(const sdk::HttpResponse& response,
                                                    const std::string& bucket);

// Tokens of a connection. Private Integration tokens (auth "private_token", secret `token`)
// are static. OAuth 2.0 (auth "oauth2") keeps `access_token`, `refresh_token`, `expires_at`
// (Unix seconds) and uses `client_id`/`client_secret`; the access token is refreshed shortly
// before `expires_at` and once after a 401. Agency OAuth (auth "agency_oauth") keeps the same
// secrets for the agency (Company) token and calls with a location token obtained from
// POST /oauth/locationToken for the settings company_id and location_id, stored as
// `location_access_token` / `location_expires_at` and fetched again before expiry or after a 401.
// GHL refresh tokens are single-use: the new one is stored with Secrets::put before anything uses
// it, and concurrent refreshes of one connection are serialised so that a refresh token is never
// spent twice. Thread-safe; one instance per connector, shared by every operation.
class Tokens {
 public:
  // The token to send now. Refreshes first when an OAuth token expires within a minute.
  // Throws OperationError(Auth) when the connection has no usable credential.
  std::string current(sdk::Context& ctx);

  // Called after a 401 answered a request made with `rejected`. Refreshes unless another
  // thread already did (then returns that newer token). Returns nullopt when the scheme cannot
  // refresh (Private Integration token).
  std::optional<std::string> refreshAfterRejection(sdk::Context& ctx, const std::string& rejected);

  // POST /oauth/locationToken with the agency token (refreshed first if needed, and once after
  // a 401). `locationId` empty = the connection's location_id; only that location's token is
  // stored. Returns GHL's answer plus `expiresAt` (Unix seconds). Throws OperationError.
  sdk::Json fetchLocationToken(sdk::Context& ctx, std::string locationId = {});

  // OAuth authorization-code exchange: POST /oauth/token with grant_type=authorization_code.
  // Stores the tokens in the connection's secrets and returns the non-secret part of the answer
  // (userType, locationId, companyId, scope, expiresAt).
  sdk::Json exchangeCode(sdk::Context& ctx, const std::string& code, const std::string& redirectUri,
                         const std::string& userType);

 private:
  std::string oauthAccess(sdk::Context& ctx);
  std::string refreshLocked(sdk::Context& ctx);
  // Recursive: a location token fetch refreshes the agency token under the same lock.
  std::recursive_mutex& mutexFor(const std::string& connection);

  std::mutex mapMutex_;
  std::map<std::string, std::unique_ptr<std::recursive_mutex>> mutexes_;
};

// One request to GHL. `pathAndQuery` starts with '/'. `body` null = no body.
struct ApiCall {
  std::string method;
  std::string pathAndQuery;
  std::optional<sdk::Json> body;
  std::string scope;   // the operation's scope, for Scope errors
  std::string bucket;  // rate-limit bucket (location id)
};

// Sends `call`, reports rate limits, refreshes the token once on a 401 and resends, and
// returns the parsed JSON body of a 2xx answer ({} when empty). Throws OperationError for a
// non-2xx answer and TransportError when no answer came.
sdk::Json send(sdk::Context& ctx, Tokens& tokens, const ApiCall& call);

}  // namespace ferry::plugins::ghl

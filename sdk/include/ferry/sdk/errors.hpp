#pragma once

#include <chrono>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>

#include "ferry/sdk/json.hpp"

namespace ferry::sdk {

// What the runtime should do about a failed operation.
enum class ErrorKind {
  Transient,    // 5xx, timeouts, dropped connections: retry with backoff
  RateLimited,  // 429 with budget left: retry after `retryAfter`
  Exhausted,    // a daily budget is spent: do not retry before it resets (dead letter)
  Auth,         // the credential was refused (expired, revoked): permanent until fixed
  Scope,        // the credential lacks a scope: permanent; `scope` names it
  Invalid,      // the request was rejected as malformed (400, 422): permanent
  NotFound,     // the record does not exist (404): permanent
  Permanent,    // any other permanent failure
};

inline const char* errorKindName(ErrorKind k) {
  switch (k) {
    case ErrorKind::Transient: return "transient";
    case ErrorKind::RateLimited: return "rate_limited";
    case ErrorKind::Exhausted: return "exhausted";
    case ErrorKind::Auth: return "auth";
    case ErrorKind::Scope: return "scope";
    case ErrorKind::Invalid: return "invalid";
    case ErrorKind::NotFound: return "not_found";
    case ErrorKind::Permanent: return "permanent";
  }
  return "permanent";
}

inline bool isRetryable(ErrorKind k) {
  return k == ErrorKind::Transient || k == ErrorKind::RateLimited;
}

// Thrown by an Action or Trigger when an operation fails. The message is a sentence for a
// human and must never contain a secret.
class OperationError : public std::runtime_error {
 public:
  OperationError(ErrorKind kind, std::string code, const std::string& message)
      : std::runtime_error(message), kind(kind), code(std::move(code)) {}

  ErrorKind kind;
  std::string code;         // stable machine code: "ghl.unauthorized", "umsatzio.graphql"
  int httpStatus = 0;       // the upstream status, when there was one
  std::optional<std::chrono::milliseconds> retryAfter;  // when the upstream said
  std::string scope;        // ErrorKind::Scope: the missing scope
  Json details;             // upstream error body (e.g. GHL's 422 message array)
};

// The longest wait an upstream's Retry-After (or alike) is taken at: a larger one is capped here.
inline constexpr std::chrono::milliseconds kMaxUpstreamWait = std::chrono::hours(1);

// An upstream's "retry after this many seconds" as a wait, or nothing when the number is not one
// (negative, NaN). Infinite and huge values are capped at kMaxUpstreamWait, so the conversion
// never overflows (a header of 1e308 is a valid number and was undefined behaviour).
inline std::optional<std::chrono::milliseconds> upstreamWait(double seconds) {
  if (std::isnan(seconds) || seconds < 0) {
    return std::nullopt;
  }
  const double cap = static_cast<double>(kMaxUpstreamWait.count());
  const double ms = seconds * 1000;
  return std::chrono::milliseconds(ms >= cap ? kMaxUpstreamWait.count() : static_cast<long long>(ms));
}

// Thrown by Trigger::receive when a webhook request must be refused. `status` is the HTTP
// status the core answers with (400 malformed, 401 bad signature, 409 replay, 413 too large).
class WebhookRejected : public std::runtime_error {
 public:
  WebhookRejected(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status(status), code(std::move(code)) {}
  int status;
  std::string code;
};

}  // namespace ferry::sdk

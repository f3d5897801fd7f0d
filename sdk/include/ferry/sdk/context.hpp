#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/sdk/http.hpp"
#include "ferry/sdk/json.hpp"

namespace ferry::sdk {

// A configured connection to one account of a service, as the user declared it in ferry.yaml.
// Secrets are not here: they are read through Secrets.
struct Connection {
  std::string name;                 // "ghl_main"
  std::string plugin;               // "ghl"
  std::string auth;                 // auth scheme id: "private_token", "oauth2", "api_key"
  std::string baseUrl;              // the service's base URL (the sandbox's in tests)
  Json settings = Json::object();   // non-secret settings: location id, header scheme, ...
  std::vector<std::string> scopes;  // scopes granted to the credential
};

// Durable key-value state owned by one plugin and connection (poll cursors, webhook ids).
// Thread-safe. Writes are durable when put() returns.
class State {
 public:
  virtual ~State() = default;
  virtual std::optional<std::string> get(std::string_view key) = 0;
  virtual void put(std::string_view key, std::string_view value) = 0;
  virtual void erase(std::string_view key) = 0;
};

// The connection's secrets (tokens, keys, client secrets). Values never leave the process
// except in the requests that need them; the core masks every known secret value in logs,
// run history and dead letters.
class Secrets {
 public:
  virtual ~Secrets() = default;
  // Returns the secret, or nullopt when the connection has none of that name.
  virtual std::optional<std::string> get(std::string_view name) = 0;
  // Stores a new value atomically and durably before returning (OAuth token rotation: the
  // new refresh token is stored before the old one is forgotten). Throws std::runtime_error
  // when the value cannot be stored; the caller must then not use the new value.
  virtual void put(std::string_view name, std::string_view value) = 0;
};

enum class LogLevel { Debug, Info, Warn, Error };

// The core's logger. Messages are sentences; `fields` carry identifiers for machines.
// Never pass a secret: the core masks known secrets, but a plugin must not rely on it.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogLevel level, std::string_view message, const Json& fields) = 0;
  void debug(std::string_view m, const Json& f = Json::object()) { log(LogLevel::Debug, m, f); }
  void info(std::string_view m, const Json& f = Json::object()) { log(LogLevel::Info, m, f); }
  void warn(std::string_view m, const Json& f = Json::object()) { log(LogLevel::Warn, m, f); }
  void error(std::string_view m, const Json& f = Json::object()) { log(LogLevel::Error, m, f); }
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() = 0;
};

// What a service said about its rate limits in one response. The core keeps one budget per
// (connection, bucket) and paces calls with it.
struct RateLimitReport {
  std::string bucket;                 // e.g. the GHL location id
  std::optional<long> limit;          // requests allowed per interval
  std::optional<long> remaining;      // left in the current interval
  std::optional<std::chrono::milliseconds> interval;
  std::optional<long> dailyLimit;
  std::optional<long> dailyRemaining;
};

// What the core lends to a plugin for one call. Valid only for the duration of the call that
// received it; a plugin must not keep it. All members are thread-safe.
class Context {
 public:
  virtual ~Context() = default;
  virtual const Connection& connection() = 0;
  virtual HttpClient& http() = 0;
  virtual State& state() = 0;
  virtual Secrets& secrets() = 0;
  virtual Logger& log() = 0;
  virtual Clock& clock() = 0;
  // Called by a plugin after each response that carried rate-limit information.
  virtual void reportRateLimit(const RateLimitReport& report) = 0;
};

}  // namespace ferry::sdk

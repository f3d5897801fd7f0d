#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "ferry/sdk/context.hpp"
#include "log/log.hpp"

namespace ferry::core::engine {

// In-memory State, for dry runs and tests.
class MemoryState : public sdk::State {
 public:
  std::optional<std::string> get(std::string_view key) override;
  void put(std::string_view key, std::string_view value) override;
  void erase(std::string_view key) override;

 private:
  std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> values_;
};

// In-memory Secrets, for dry runs and tests.
class MemorySecrets : public sdk::Secrets {
 public:
  MemorySecrets() = default;
  explicit MemorySecrets(std::map<std::string, std::string, std::less<>> values)
      : values_(std::move(values)) {}
  std::optional<std::string> get(std::string_view name) override;
  void put(std::string_view name, std::string_view value) override;

 private:
  std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> values_;
};

class SystemClock : public sdk::Clock {
 public:
  std::chrono::system_clock::time_point now() override { return std::chrono::system_clock::now(); }
};

// A Context assembled from parts the caller owns. Used by the runtime (with durable state and
// secrets) and by tests (with the in-memory ones).
class LocalContext : public sdk::Context {
 public:
  struct Parts {
    sdk::Connection connection;
    sdk::HttpClient* http = nullptr;
    sdk::State* state = nullptr;
    sdk::Secrets* secrets = nullptr;
    sdk::Clock* clock = nullptr;
    std::function<void(const sdk::RateLimitReport&)> onRateLimit;
  };
  explicit LocalContext(Parts parts);

  const sdk::Connection& connection() override { return parts_.connection; }
  sdk::HttpClient& http() override { return *parts_.http; }
  sdk::State& state() override { return *parts_.state; }
  sdk::Secrets& secrets() override { return *parts_.secrets; }
  sdk::Logger& log() override { return logger_; }
  sdk::Clock& clock() override { return *parts_.clock; }
  void reportRateLimit(const sdk::RateLimitReport& report) override;

 private:
  Parts parts_;
  log::PluginLogger logger_;
  SystemClock systemClock_;
};

}  // namespace ferry::core::engine

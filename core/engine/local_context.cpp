#include "engine/local_context.hpp"

namespace ferry::core::engine {

std::optional<std::string> MemoryState::get(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto it = values_.find(key);
  return it == values_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

void MemoryState::put(std::string_view key, std::string_view value) {
  std::lock_guard lock(mutex_);
  values_[std::string(key)] = std::string(value);
}

void MemoryState::erase(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto it = values_.find(key);
  if (it != values_.end()) {
    values_.erase(it);
  }
}

std::optional<std::string> MemorySecrets::get(std::string_view name) {
  std::lock_guard lock(mutex_);
  auto it = values_.find(name);
  return it == values_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

void MemorySecrets::put(std::string_view name, std::string_view value) {
  std::lock_guard lock(mutex_);
  values_[std::string(name)] = std::string(value);
}

LocalContext::LocalContext(Parts parts)
    : parts_(std::move(parts)), logger_(parts_.connection.plugin) {
  if (parts_.clock == nullptr) {
    parts_.clock = &systemClock_;
  }
}

void LocalContext::reportRateLimit(const sdk::RateLimitReport& report) {
  if (parts_.onRateLimit) {
    parts_.onRateLimit(report);
  }
}

}  // namespace ferry::core::engine

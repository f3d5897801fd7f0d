#pragma once

#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "ferry/sdk/http.hpp"
#include "ferry/sdk/json.hpp"

namespace ferry::core::secrets {

// Replaces every known secret value with "***" in text about to leave the process's memory:
// logs, run history, dead letters, metrics, dry-run output. Secrets are registered as they are
// read; short values (under 4 characters) are not masked, since they would mangle ordinary text.
// Thread-safe.
class Masker {
 public:
  void add(std::string_view secret);
  std::string maskText(std::string_view text) const;
  sdk::Json maskJson(const sdk::Json& value) const;
  // Masks header values: Authorization-like headers entirely, others by known secrets.
  sdk::Headers maskHeaders(const sdk::Headers& headers) const;

  // The process-wide masker used by the logger.
  static Masker& global();

 private:
  struct LongestFirst {
    bool operator()(const std::string& a, const std::string& b) const {
      return a.size() != b.size() ? a.size() > b.size() : a < b;
    }
  };
  mutable std::mutex mutex_;
  std::set<std::string, LongestFirst> secrets_;  // longest first, so overlaps mask fully
};

}  // namespace ferry::core::secrets

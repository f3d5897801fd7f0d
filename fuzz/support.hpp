#pragma once

// Shared parts of the fuzz targets: a fixed clock, an HTTP client that answers with whatever the
// fuzzer made, a Context assembled from them, and the two connectors compiled in (the plugin
// sources are linked into each target so that the fuzzer sees their coverage).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "engine/local_context.hpp"
#include "ferry/sdk/connector.hpp"
#include "ferry/sdk/http.hpp"

namespace ferry::plugins::ghl {
std::unique_ptr<sdk::Connector> createGhlConnector();
}
namespace ferry::plugins::umsatzio {
std::unique_ptr<sdk::Connector> createConnector();
}

namespace ferry::fuzz {

namespace sdk = ferry::sdk;

// 2026-01-01T00:00:00Z: seeds carry timestamps near it, so the time window checks are reached.
inline constexpr std::int64_t kFuzzNow = 1767225600;

class FixedClock : public sdk::Clock {
 public:
  std::chrono::system_clock::time_point now() override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(kFuzzNow));
  }
};

// Answers every request with `response`; counts the requests so that a loop in a client ends.
class ScriptedHttp : public sdk::HttpClient {
 public:
  sdk::HttpResponse response;
  int calls = 0;
  sdk::HttpResponse send(const sdk::HttpRequest& request) override {
    (void)request;
    if (++calls > 20) {
      throw sdk::TransportError("fuzz: too many requests");
    }
    return response;
  }
};

// Reads the fuzzer's bytes front to back: single bytes, and text up to a separator.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size)
      : text_(reinterpret_cast<const char*>(data), size) {}
  std::uint8_t byte() {
    if (at_ >= text_.size()) {
      return 0;
    }
    return static_cast<std::uint8_t>(text_[at_++]);
  }
  // The text up to the next `separator` (consumed), or the rest when there is none.
  std::string_view until(char separator) {
    const auto end = text_.find(separator, at_);
    const std::string_view part = text_.substr(at_, end == std::string_view::npos ? end : end - at_);
    at_ = end == std::string_view::npos ? text_.size() : end + 1;
    return part;
  }
  std::string_view rest() {
    const std::string_view part = text_.substr(at_);
    at_ = text_.size();
    return part;
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

// Parses "name: value" lines into headers, stopping at an empty line (which is consumed).
inline sdk::Headers readHeaders(Input& in) {
  sdk::Headers headers;
  for (int i = 0; i < 16; ++i) {
    const std::string_view line = in.until('\n');
    if (line.empty()) {
      break;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
    headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return headers;
}

}  // namespace ferry::fuzz

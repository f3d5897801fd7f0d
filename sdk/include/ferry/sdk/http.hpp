#pragma once

#include <cctype>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::sdk {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive header lookup; returns nullopt when absent.
std::optional<std::string> findHeader(const Headers& headers, std::string_view name);

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute: "http://127.0.0.1:8080/contacts/abc"
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{15000};

  std::optional<std::string> header(std::string_view name) const {
    return findHeader(headers, name);
  }
};

struct HttpResponse {
  int status = 0;
  Headers headers;
  std::string body;

  std::optional<std::string> header(std::string_view name) const {
    return findHeader(headers, name);
  }
};

// The request failed before a response arrived: refused, reset, timed out, TLS failure.
// Always transient from the runtime's point of view.
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The HTTP client the core lends to plugins. Thread-safe; connections are pooled per host.
// Who calls it: plugin actions and triggers, on a worker thread.
// Throws TransportError when no response arrives; never throws for a 4xx or 5xx status.
// TLS certificates are verified. Every request and response passes through the core, which
// records them (secrets masked) in run history, so plugins never log them themselves.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual HttpResponse send(const HttpRequest& request) = 0;
};

// Percent-encodes a URL component (RFC 3986 unreserved characters are kept).
std::string urlEncode(std::string_view text);

// ---- implementation ----

inline std::optional<std::string> findHeader(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size()) {
      continue;
    }
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i) {
      const auto a = static_cast<unsigned char>(key[i]);
      const auto b = static_cast<unsigned char>(name[i]);
      same = std::tolower(a) == std::tolower(b);
    }
    if (same) {
      return value;
    }
  }
  return std::nullopt;
}

inline std::string urlEncode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace ferry::sdk

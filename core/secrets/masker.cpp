#include "secrets/masker.hpp"

#include <algorithm>
#include <cctype>

namespace ferry::core::secrets {

namespace {

constexpr std::string_view kMask = "***";

bool isCredentialHeader(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "authorization" || lower == "proxy-authorization" || lower == "cookie" ||
         lower == "set-cookie" || lower == "x-api-key" || lower == "api-key" ||
         lower == "x-tenant-api-key";
}

}  // namespace

void Masker::add(std::string_view secret) {
  if (secret.size() < 4) {
    return;
  }
  std::lock_guard lock(mutex_);
  secrets_.emplace(secret);
}

std::string Masker::maskText(std::string_view text) const {
  std::string out(text);
  std::lock_guard lock(mutex_);
  for (const auto& secret : secrets_) {
    std::size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), kMask);
      pos += kMask.size();
    }
  }
  return out;
}

sdk::Json Masker::maskJson(const sdk::Json& value) const {
  if (value.is_string()) {
    return maskText(value.get_ref<const std::string&>());
  }
  if (value.is_object()) {
    sdk::Json out = sdk::Json::object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      out[maskText(it.key())] = maskJson(*it);
    }
    return out;
  }
  if (value.is_array()) {
    sdk::Json out = sdk::Json::array();
    for (const auto& item : value) {
      out.push_back(maskJson(item));
    }
    return out;
  }
  return value;
}

sdk::Headers Masker::maskHeaders(const sdk::Headers& headers) const {
  sdk::Headers out;
  out.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    if (isCredentialHeader(name)) {
      // Keep the scheme ("Bearer ***") so that a reader can tell which kind was sent.
      const auto space = value.find(' ');
      out.emplace_back(name, space == std::string::npos || space > 16
                                 ? std::string(kMask)
                                 : value.substr(0, space + 1) + std::string(kMask));
    } else {
      out.emplace_back(name, maskText(value));
    }
  }
  return out;
}

Masker& Masker::global() {
  static Masker masker;
  return masker;
}

}  // namespace ferry::core::secrets

#pragma once

#include <string>
#include <string_view>

namespace ferry::plugins::umsatzio {

// Lower-case hex HMAC-SHA256 of `body` under `secret`.
std::string hmacSha256Hex(std::string_view secret, std::string_view body);

// Compares two strings in time that depends only on their lengths.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace ferry::plugins::umsatzio

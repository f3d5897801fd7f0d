#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace ferry::plugins::umsatzio {

// Milliseconds since the epoch of an ISO-8601 UTC timestamp ("2026-11-26T20:50:26.123Z",
// fraction and "Z" optional, "+00:00" accepted). nullopt when it is not one.
std::optional<long long> parseIsoMillis(const std::string& text);

// "2026-11-26T20:50:26.123Z".
std::string formatIsoMillis(long long millis);
std::string formatIso(std::chrono::system_clock::time_point t);

}  // namespace ferry::plugins::umsatzio

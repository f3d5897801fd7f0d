#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

// Date parsing and formatting for the mapping language. Times are UTC seconds; a text without an
// offset is read as UTC.
namespace ferry::core::flow::dates {

using Seconds = std::chrono::sys_seconds;

struct Moment {
  Seconds time;
  bool hasTime = false;  // false for a calendar date ("2026-11-26", "26.11.2026")
};

// Reads `text` with `format` (strftime-like: %d %m %Y %y %H %M %S, other characters literal) or,
// when `format` is empty, as any of: ISO date, ISO date-time (T or space, optional seconds,
// fraction, Z or +HH:MM / +HHMM offset), German "D.M.YYYY" with optional " HH:MM[:SS]".
// Returns nullopt when the text is none of these or names an impossible date.
std::optional<Moment> parse(std::string_view text, std::string_view format);

// Seconds (or milliseconds, when above 1e11) since the epoch; nullopt outside secondsAt's range.
std::optional<Moment> fromEpoch(double value);

// The moment `sinceEpoch` seconds (fraction dropped) after 1970, when it lies in the years 0000
// to 9999, the range ISO 8601's four-digit years can write; nullopt outside it and for NaN. (A
// number like 1e300 cast to whole seconds was undefined behaviour.)
std::optional<Seconds> secondsAt(double sinceEpoch);

std::string formatIsoDateTime(Seconds t);  // "2026-11-26T10:00:00Z"
std::string formatIsoDate(Seconds t);      // "2026-11-26"
// strftime-like: %Y %y %m %d %H %M %S %%; other characters are copied.
std::string format(Seconds t, std::string_view pattern);

}  // namespace ferry::core::flow::dates

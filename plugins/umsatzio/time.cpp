#include "time.hpp"

#include <cstdio>

namespace ferry::plugins::umsatzio {

namespace {

// Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm.
long long daysFromCivil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

}  // namespace

std::optional<long long> parseIsoMillis(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  int used = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6) {
    return std::nullopt;
  }
  long long millis = 0;
  std::size_t i = static_cast<std::size_t>(used);
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 3) {
        millis = millis * 10 + (s[i] - '0');
      }
      ++digits;
      ++i;
    }
    for (; digits < 3; ++digits) {
      millis *= 10;
    }
  }
  long long offsetMinutes = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) {
      return std::nullopt;
    }
    offsetMinutes = (s[i] == '+' ? 1 : -1) * (oh * 60 + om);
  } else if (i < s.size() && s[i] != 'Z') {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) {
    return std::nullopt;
  }
  const long long days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const long long seconds = days * 86400 + h * 3600 + mi * 60 + sec - offsetMinutes * 60;
  return seconds * 1000 + millis;
}

std::string formatIsoMillis(long long millis) {
  const std::time_t secs = static_cast<std::time_t>(millis >= 0 ? millis / 1000 : (millis - 999) / 1000);
  const long long ms = millis - static_cast<long long>(secs) * 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::string formatIso(std::chrono::system_clock::time_point t) {
  return formatIsoMillis(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

}  // namespace ferry::plugins::umsatzio

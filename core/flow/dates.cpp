#include "flow/dates.hpp"

#include <cctype>
#include <cstdio>

namespace ferry::core::flow::dates {

namespace {

using namespace std::chrono;

struct Fields {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int offsetMinutes = 0;
  bool hasTime = false;
};

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool done() const { return pos_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[pos_]; }
  bool eat(char c) {
    if (peek() == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  // Reads between `min` and `max` digits.
  bool number(int min, int max, int& out) {
    int count = 0;
    int value = 0;
    while (count < max && !done() && std::isdigit(static_cast<unsigned char>(peek()))) {
      value = value * 10 + (peek() - '0');
      ++pos_;
      ++count;
    }
    out = value;
    return count >= min;
  }
  void skipFraction() {
    if (eat('.') || eat(',')) {
      while (!done() && std::isdigit(static_cast<unsigned char>(peek()))) {
        ++pos_;
      }
    }
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

bool readTime(Reader& r, Fields& f) {
  if (!r.number(1, 2, f.hour) || !r.eat(':') || !r.number(2, 2, f.minute)) {
    return false;
  }
  if (r.eat(':')) {
    if (!r.number(2, 2, f.second)) {
      return false;
    }
    r.skipFraction();
  }
  f.hasTime = true;
  return true;
}

bool readOffset(Reader& r, Fields& f) {
  if (r.done()) {
    return true;
  }
  if (r.eat('Z') || r.eat('z')) {
    return r.done();
  }
  const char sign = r.peek();
  if (sign != '+' && sign != '-') {
    return false;
  }
  r.eat(sign);
  int h = 0;
  int m = 0;
  if (!r.number(2, 2, h)) {
    return false;
  }
  r.eat(':');
  if (!r.done() && !r.number(2, 2, m)) {
    return false;
  }
  f.offsetMinutes = (sign == '-' ? -1 : 1) * (h * 60 + m);
  return r.done();
}

bool parseAuto(std::string_view s, Fields& f) {
  {
    Reader r(s);
    if (r.number(4, 4, f.year) && r.eat('-') && r.number(2, 2, f.month) && r.eat('-') &&
        r.number(2, 2, f.day)) {
      if (r.done()) {
        return true;
      }
      if ((r.eat('T') || r.eat(' ')) && readTime(r, f)) {
        return readOffset(r, f);
      }
      return false;
    }
  }
  f = Fields{};
  Reader r(s);
  if (r.number(1, 2, f.day) && r.eat('.') && r.number(1, 2, f.month) && r.eat('.') &&
      r.number(2, 4, f.year)) {
    if (f.year < 100) {
      f.year += 2000;
    }
    if (r.done()) {
      return true;
    }
    if (r.eat(' ') || r.eat(',')) {
      r.eat(' ');
      return readTime(r, f) && readOffset(r, f);
    }
  }
  return false;
}

bool parseFormat(std::string_view s, std::string_view fmt, Fields& f) {
  Reader r(s);
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%' || i + 1 >= fmt.size()) {
      if (!r.eat(fmt[i])) {
        return false;
      }
      continue;
    }
    const char spec = fmt[++i];
    bool ok = true;
    switch (spec) {
      case 'Y':
        ok = r.number(4, 4, f.year);
        break;
      case 'y':
        ok = r.number(2, 2, f.year);
        f.year += 2000;
        break;
      case 'm':
        ok = r.number(1, 2, f.month);
        break;
      case 'd':
        ok = r.number(1, 2, f.day);
        break;
      case 'H':
        ok = r.number(1, 2, f.hour);
        f.hasTime = true;
        break;
      case 'M':
        ok = r.number(2, 2, f.minute);
        break;
      case 'S':
        ok = r.number(2, 2, f.second);
        break;
      case '%':
        ok = r.eat('%');
        break;
      default:
        ok = false;
    }
    if (!ok) {
      return false;
    }
  }
  return r.done();
}

std::string two(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02u", v % 100);
  return buf;
}

}  // namespace

std::optional<Moment> parse(std::string_view text, std::string_view format) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  Fields f;
  const bool ok = format.empty() ? parseAuto(text, f) : parseFormat(text, format, f);
  if (!ok) {
    return std::nullopt;
  }
  const year_month_day ymd{year{f.year}, month{static_cast<unsigned>(f.month)},
                           day{static_cast<unsigned>(f.day)}};
  if (!ymd.ok() || f.hour > 23 || f.minute > 59 || f.second > 60) {
    return std::nullopt;
  }
  Seconds t = sys_days(ymd) + hours(f.hour) + minutes(f.minute) + seconds(f.second) -
              minutes(f.offsetMinutes);
  return Moment{t, f.hasTime};
}

std::optional<Seconds> secondsAt(double sinceEpoch) {
  constexpr double kFirst = -62167219200.0;  // 0000-01-01T00:00:00Z
  constexpr double kLast = 253402300799.0;   // 9999-12-31T23:59:59Z
  if (!(sinceEpoch >= kFirst && sinceEpoch < kLast + 1)) {  // NaN fails both
    return std::nullopt;
  }
  return Seconds(seconds(static_cast<long long>(sinceEpoch)));
}

std::optional<Moment> fromEpoch(double value) {
  if (value > 1e11) {
    value /= 1000.0;
  }
  const auto t = secondsAt(value);
  return t ? std::optional<Moment>(Moment{*t, true}) : std::nullopt;
}

std::string format(Seconds t, std::string_view pattern) {
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 >= pattern.size()) {
      out.push_back(pattern[i]);
      continue;
    }
    switch (pattern[++i]) {
      case 'Y': {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%04d", static_cast<int>(ymd.year()));
        out += buf;
        break;
      }
      case 'y':
        out += two(static_cast<unsigned>(static_cast<int>(ymd.year())));
        break;
      case 'm':
        out += two(static_cast<unsigned>(ymd.month()));
        break;
      case 'd':
        out += two(static_cast<unsigned>(ymd.day()));
        break;
      case 'H':
        out += two(static_cast<unsigned>(hms.hours().count()));
        break;
      case 'M':
        out += two(static_cast<unsigned>(hms.minutes().count()));
        break;
      case 'S':
        out += two(static_cast<unsigned>(hms.seconds().count()));
        break;
      case '%':
        out.push_back('%');
        break;
      default:
        out.push_back('%');
        out.push_back(pattern[i]);
    }
  }
  return out;
}

std::string formatIsoDateTime(Seconds t) { return format(t, "%Y-%m-%dT%H:%M:%SZ"); }
std::string formatIsoDate(Seconds t) { return format(t, "%Y-%m-%d"); }

}  // namespace ferry::core::flow::dates

// `schedule:` of a flow: an interval or a five-field cron expression (UTC).
#include "flow/schedule.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <sstream>

#include "flow/yaml_util.hpp"

namespace ferry::core::flow {

namespace {

const char* kScheduleHint =
    "write an interval (`schedule: 6h`, `{every: 30m}`) or a five-field cron expression in UTC "
    "(`schedule: \"0 */6 * * *\"`, `{cron: \"0 3 * * 1-5\"}`); see docs/sync.md";

std::string lowered(std::string_view s) {
  std::string out;
  for (char c : s) {
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

std::optional<int> number(std::string_view s) {
  int value = 0;
  const auto* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc() || ptr != end || s.empty()) {
    return std::nullopt;
  }
  return value;
}

struct FieldSpec {
  const char* name;
  int min;
  int max;
  std::vector<std::string_view> names;  // names[i] stands for min + i
};

const FieldSpec kFields[5] = {
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day of month", 1, 31, {}},
    {"month", 1, 12, {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                      "dec"}},
    {"day of week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
};

// One value of a field: a number or (month, day of week) a three-letter name.
std::optional<int> fieldValue(const FieldSpec& spec, std::string_view s) {
  if (auto n = number(s)) {
    return n;
  }
  const std::string l = lowered(s);
  for (std::size_t i = 0; i < spec.names.size(); ++i) {
    if (spec.names[i] == l) {
      return spec.min + static_cast<int>(i);
    }
  }
  return std::nullopt;
}

// Parses one cron field into `out` (bits min..max). Returns an error message or "".
std::string parseField(const FieldSpec& spec, std::string_view field, std::vector<bool>& out) {
  out.assign(static_cast<std::size_t>(spec.max + 1), false);
  std::size_t start = 0;
  while (start <= field.size()) {
    const auto comma = field.find(',', start);
    const std::string_view item =
        field.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? field.size() + 1 : comma + 1;
    if (item.empty()) {
      return "an empty item in the " + std::string(spec.name) + " field";
    }
    std::string_view range = item;
    int step = 1;
    if (const auto slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      const auto s = number(item.substr(slash + 1));
      if (!s || *s <= 0) {
        return "the step '" + std::string(item.substr(slash + 1)) + "' of the " + spec.name +
               " field is not a positive number";
      }
      step = *s;
    }
    int lo = spec.min;
    int hi = spec.max;
    if (range != "*") {
      const auto dash = range.find('-');
      const auto a = fieldValue(spec, range.substr(0, dash));
      const auto b = dash == std::string_view::npos ? a : fieldValue(spec, range.substr(dash + 1));
      if (!a || !b) {
        return "'" + std::string(item) + "' is not a valid " + spec.name + " (" +
               std::to_string(spec.min) + "-" + std::to_string(spec.max) + ")";
      }
      lo = *a;
      hi = dash == std::string_view::npos && item.find('/') != std::string_view::npos ? spec.max
                                                                                       : *b;
      if (lo < spec.min || hi > spec.max || lo > hi) {
        return "'" + std::string(item) + "' is out of range for the " + spec.name + " field (" +
               std::to_string(spec.min) + "-" + std::to_string(spec.max) + ")";
      }
    }
    for (int v = lo; v <= hi; v += step) {
      out[static_cast<std::size_t>(v)] = true;
    }
  }
  return "";
}

template <std::size_t N>
void copyBits(const std::vector<bool>& from, std::bitset<N>& to) {
  for (std::size_t i = 0; i < N && i < from.size(); ++i) {
    to[i] = from[i];
  }
}

bool parseBool(const std::string& s, bool& out) {
  const std::string l = lowered(s);
  if (l == "true" || l == "yes" || l == "on") {
    out = true;
    return true;
  }
  if (l == "false" || l == "no" || l == "off") {
    out = false;
    return true;
  }
  return false;
}

}  // namespace

std::optional<std::chrono::seconds> parseInterval(std::string_view text) {
  long long total = 0;
  std::size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) {
      ++j;
    }
    if (j == i || j == text.size() || j - i > 9) {
      return std::nullopt;
    }
    const long long n = std::stoll(std::string(text.substr(i, j - i)));
    switch (text[j]) {
      case 's':
        total += n;
        break;
      case 'm':
        total += n * 60;
        break;
      case 'h':
        total += n * 3600;
        break;
      case 'd':
        total += n * 86400;
        break;
      default:
        return std::nullopt;
    }
    any = true;
    i = j + 1;
  }
  if (!any || total <= 0) {
    return std::nullopt;
  }
  return std::chrono::seconds(total);
}

std::optional<Schedule> parseScheduleText(std::string_view text, const std::string& file,
                                          Location at, std::vector<Diagnostic>& diagnostics) {
  Schedule s;
  s.text = std::string(text);
  s.at = at;
  std::vector<std::string> fields;
  {
    std::istringstream in{std::string(text)};
    std::string f;
    while (in >> f) {
      fields.push_back(f);
    }
  }
  if (fields.size() == 1) {
    const auto interval = parseInterval(fields[0]);
    if (!interval) {
      diagnostics.push_back({file, at, "bad_value",
                             "'" + std::string(text) + "' is not an interval or a cron expression",
                             kScheduleHint});
      return std::nullopt;
    }
    s.kind = Schedule::Kind::Every;
    s.every = *interval;
    return s;
  }
  if (fields.size() != 5) {
    diagnostics.push_back(
        {file, at, "bad_value",
         "the cron expression '" + std::string(text) + "' has " + std::to_string(fields.size()) +
             " fields, not 5 (minute hour day-of-month month day-of-week)",
         kScheduleHint});
    return std::nullopt;
  }
  s.kind = Schedule::Kind::Cron;
  bool ok = true;
  std::vector<bool> bits[5];
  for (std::size_t i = 0; i < 5; ++i) {
    const std::string problem = parseField(kFields[i], fields[i], bits[i]);
    if (!problem.empty()) {
      diagnostics.push_back({file, at, "bad_value", "in the cron expression '" +
                                                        std::string(text) + "': " + problem,
                             kScheduleHint});
      ok = false;
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  copyBits(bits[0], s.minutes);
  copyBits(bits[1], s.hours);
  copyBits(bits[2], s.days);
  copyBits(bits[3], s.months);
  if (bits[4][7]) {
    bits[4][0] = true;  // 7 is Sunday too
  }
  copyBits(bits[4], s.weekdays);
  s.daysRestricted = fields[2] != "*";
  s.weekdaysRestricted = fields[4] != "*";
  return s;
}

std::optional<Schedule> parseSchedule(const YAML::Node& node, const std::string& file,
                                      std::vector<Diagnostic>& diagnostics) {
  const Location at = yaml::at(node);
  if (node.IsScalar()) {
    return parseScheduleText(node.Scalar(), file, at, diagnostics);
  }
  if (!node.IsMap()) {
    diagnostics.push_back({file, at, "bad_value",
                           "`schedule:` must be an interval, a cron expression or a mapping, "
                           "found " + yaml::shapeName(node),
                           kScheduleHint});
    return std::nullopt;
  }
  std::optional<Schedule> s;
  bool ok = true;
  const auto every = node["every"];
  const auto cron = node["cron"];
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (key != "every" && key != "cron" && key != "full" && key != "budget_share") {
      diagnostics.push_back({file, yaml::at(it->first), "unknown_key",
                             "unknown key '" + key + "' in `schedule:`",
                             "allowed keys: every, cron, full, budget_share"});
      ok = false;
    }
  }
  if (every && cron) {
    diagnostics.push_back({file, yaml::at(cron), "bad_value",
                           "`schedule:` has both `every:` and `cron:`",
                           "keep one of them: an interval or a cron expression"});
    return std::nullopt;
  }
  if (!every && !cron) {
    diagnostics.push_back({file, at, "missing_key", "`schedule:` has neither `every:` nor `cron:`",
                           kScheduleHint});
    return std::nullopt;
  }
  if (every) {
    if (!every.IsScalar() || !parseInterval(every.Scalar())) {
      diagnostics.push_back({file, yaml::at(every), "bad_value",
                             "`every:` must be an interval like 30s, 15m, 6h, 1d or 1h30m, found '" +
                                 (every.IsScalar() ? every.Scalar() : yaml::shapeName(every)) + "'",
                             kScheduleHint});
      return std::nullopt;
    }
    s = parseScheduleText(every.Scalar(), file, yaml::at(every), diagnostics);
  } else {
    if (!cron.IsScalar() || parseInterval(cron.Scalar())) {
      diagnostics.push_back({file, yaml::at(cron), "bad_value",
                             "`cron:` must be a five-field cron expression in UTC",
                             "e.g. `cron: \"0 */6 * * *\"` (minute hour day-of-month month "
                             "day-of-week)"});
      return std::nullopt;
    }
    s = parseScheduleText(cron.Scalar(), file, yaml::at(cron), diagnostics);
  }
  if (!s) {
    return std::nullopt;
  }
  if (const auto full = node["full"]) {
    if (!full.IsScalar() || !parseBool(full.Scalar(), s->full)) {
      diagnostics.push_back({file, yaml::at(full), "bad_value", "`full:` must be true or false",
                             "`full: true` lists every source record in each scheduled cycle; "
                             "the default (false) lists those changed since the last cycle"});
      ok = false;
    }
  }
  if (const auto share = node["budget_share"]) {
    double v = -1;
    bool parsed = false;
    if (share.IsScalar()) {
      try {
        std::size_t used = 0;
        v = std::stod(share.Scalar(), &used);
        parsed = used == share.Scalar().size();
      } catch (const std::exception&) {
        parsed = false;
      }
    }
    if (!parsed || !(v > 0.0 && v <= 1.0)) {
      diagnostics.push_back({file, yaml::at(share), "bad_value",
                             "`budget_share:` must be a number above 0 and at most 1",
                             "e.g. `budget_share: 0.3`: sync cycles take at most 30% of each "
                             "connection's rate budget, live events keep the rest"});
      ok = false;
    } else {
      s->budgetShare = v;
    }
  }
  s->at = at;
  return ok ? s : std::nullopt;
}

std::optional<std::chrono::system_clock::time_point> nextRun(
    const Schedule& schedule, std::chrono::system_clock::time_point after) {
  using namespace std::chrono;
  if (schedule.kind == Schedule::Kind::Every) {
    return after + schedule.every;
  }
  // Start at the minute after `after`, then skip whole months, days and hours that cannot match.
  std::time_t t = system_clock::to_time_t(time_point_cast<seconds>(after));
  t = t - t % 60 + 60;
  const std::time_t limit = t + 5LL * 366 * 86400;
  while (t < limit) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    if (!schedule.months[static_cast<std::size_t>(tm.tm_mon + 1)]) {
      tm.tm_mon += 1;
      tm.tm_mday = 1;
      tm.tm_hour = 0;
      tm.tm_min = 0;
      tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    const bool dom = schedule.days[static_cast<std::size_t>(tm.tm_mday)];
    const bool dow = schedule.weekdays[static_cast<std::size_t>(tm.tm_wday)];
    bool dayMatches = dom && dow;
    if (schedule.daysRestricted && schedule.weekdaysRestricted) {
      dayMatches = dom || dow;
    }
    if (!dayMatches) {
      tm.tm_mday += 1;
      tm.tm_hour = 0;
      tm.tm_min = 0;
      tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    if (!schedule.hours[static_cast<std::size_t>(tm.tm_hour)]) {
      tm.tm_hour += 1;
      tm.tm_min = 0;
      tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    if (!schedule.minutes[static_cast<std::size_t>(tm.tm_min)]) {
      t += 60;
      continue;
    }
    return system_clock::from_time_t(t);
  }
  return std::nullopt;
}

}  // namespace ferry::core::flow

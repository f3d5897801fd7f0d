#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flow/diagnostic.hpp"

// `schedule:` of a flow (docs/flow-format.md, docs/sync.md): when `ferry run` runs the flow's
// sync cycle. Either a fixed interval or a five-field cron expression in UTC.
namespace ferry::core::flow {

struct Schedule {
  enum class Kind { Every, Cron };
  Kind kind = Kind::Every;
  std::chrono::seconds every{0};  // Kind::Every
  // Kind::Cron: the allowed values of each field (minute 0-59, hour 0-23, day of month 1-31,
  // month 1-12, day of week 0-6 with 0 = Sunday), and whether day of month / day of week were
  // restricted (cron's rule: when both are, either one matching is enough).
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;
  std::bitset<13> months;
  std::bitset<7> weekdays;
  bool daysRestricted = false;
  bool weekdaysRestricted = false;
  bool full = false;         // every scheduled cycle lists all source records, not the changes
  double budgetShare = 0.3;  // at most this share of a connection's rate budget goes to syncs
  std::string text;          // as written, for logs and reports
  Location at;
};

// Parses `schedule:` in any of its forms:
//   schedule: 6h                                  (an interval: 30s, 15m, 6h, 1d, 1h30m)
//   schedule: "0 */6 * * *"                       (cron, five fields, UTC)
//   schedule: {every: 6h, full: false, budget_share: 0.3}
//   schedule: {cron: "0 3 * * *", full: true}
// Every problem goes to `diagnostics` (codes bad_value, unknown_key, missing_key) with its
// place and a hint; returns nullopt when the schedule is not usable. Pure.
std::optional<Schedule> parseSchedule(const YAML::Node& node, const std::string& file,
                                      std::vector<Diagnostic>& diagnostics);

// The same for a schedule given as text (an interval or a cron expression), e.g. on the
// command line. `at` is where the text starts.
std::optional<Schedule> parseScheduleText(std::string_view text, const std::string& file,
                                          Location at, std::vector<Diagnostic>& diagnostics);

// "30s", "15m", "6h", "1d", "1h30m" -> seconds; nullopt when malformed or zero.
std::optional<std::chrono::seconds> parseInterval(std::string_view text);

// The first time strictly after `after` at which the schedule is due. For Kind::Every that is
// after + every; for cron the next matching minute (UTC), searched at most 5 years ahead
// (nullopt when nothing matches, e.g. "0 0 31 2 *").
std::optional<std::chrono::system_clock::time_point> nextRun(
    const Schedule& schedule, std::chrono::system_clock::time_point after);

}  // namespace ferry::core::flow

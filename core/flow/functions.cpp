// The functions of the mapping language. Each one is a row of kFunctions: name, arity, parameter
// kinds (checked statically), result type (computed statically from the arguments' types) and
// the implementation. docs/mapping-language.md describes them; keep both in step.
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <chrono>
#include <cstdio>

#include "flow/dates.hpp"
#include "flow/expr.hpp"

namespace ferry::core::flow {

namespace {

using P = Function::Param;
using Args = std::span<Json>;
using Types = std::span<const StaticType>;

// ---- text helpers ----

std::string text(const Json& v) {
  std::string out;
  appendText(out, v);
  return out;
}

// The text of an argument, moved out of it when it is a string.
std::string take(Json& v) {
  if (v.is_string()) {
    return std::move(v.get_ref<std::string&>());
  }
  return text(v);
}

bool space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

void trimInPlace(std::string& s) {
  std::size_t e = s.size();
  while (e > 0 && space(s[e - 1])) {
    --e;
  }
  s.resize(e);
  std::size_t b = 0;
  while (b < s.size() && space(s[b])) {
    ++b;
  }
  if (b > 0) {
    s.erase(0, b);
  }
}

std::string trimmed(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) {
    ++b;
  }
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) {
    --e;
  }
  return std::string(s.substr(b, e - b));
}

// ASCII and the Latin-1 letters of UTF-8 (Ä, Ö, Ü, É, ...: 0xC3 0x80-0x9E <-> 0xC3 0xA0-0xBE).
void changeCase(std::string& s, bool upper, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to && i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (upper && c >= 'a' && c <= 'z') {
        s[i] = static_cast<char>(c - 32);
      } else if (!upper && c >= 'A' && c <= 'Z') {
        s[i] = static_cast<char>(c + 32);
      }
    } else if (c == 0xC3 && i + 1 < s.size()) {
      auto d = static_cast<unsigned char>(s[i + 1]);
      if (upper && d >= 0xA0 && d <= 0xBE && d != 0xB7) {
        s[i + 1] = static_cast<char>(d - 0x20);
      } else if (!upper && d >= 0x80 && d <= 0x9E && d != 0x97) {
        s[i + 1] = static_cast<char>(d + 0x20);
      }
      ++i;
    }
  }
}

Json nullIfEmpty(std::string s) {
  if (s.empty()) {
    return nullptr;
  }
  return s;
}

// ---- result types ----

StaticType stringOf(Types t) {
  bool nullable = false;
  for (const auto& a : t) {
    nullable = nullable || a.nullable;
  }
  return StaticType::of(StaticType::String, nullable);
}
StaticType stringType(Types) { return StaticType::of(StaticType::String); }
StaticType nullableString(Types) { return StaticType::of(StaticType::String, true); }
StaticType booleanType(Types) { return StaticType::of(StaticType::Boolean); }
StaticType dateTimeType(Types) { return StaticType::of(StaticType::DateTime); }
StaticType nullableDateTime(Types) { return StaticType::of(StaticType::DateTime, true); }
StaticType dateType(Types) { return StaticType::of(StaticType::Date); }
StaticType nullableDate(Types) { return StaticType::of(StaticType::Date, true); }
StaticType nullableNumber(Types) { return StaticType::of(StaticType::Number, true); }
StaticType firstTemporal(Types t) {
  StaticType r = t[0];
  r.field = nullptr;
  if (r.kind != StaticType::Date) {
    r.kind = StaticType::DateTime;
  }
  return r;
}
StaticType addHoursType(Types t) { return StaticType::of(StaticType::DateTime, t[0].nullable); }

const sdk::Field kSplitName = sdk::object("name", {sdk::str("first"), sdk::str("last")});
StaticType splitNameType(Types) {
  StaticType r = StaticType::of(StaticType::Object);
  r.field = &kSplitName;
  return r;
}

// coalesce/default: the type every argument agrees on; nullable only if the last one is.
StaticType coalesceType(Types t) {
  StaticType r = StaticType::of(StaticType::Null, true);
  for (const auto& a : t) {
    if (a.kind == StaticType::Null) {
      continue;
    }
    if (r.kind == StaticType::Null) {
      r = a;
      r.field = nullptr;
    } else if (r.kind != a.kind) {
      r.kind = (r.isNumeric() && a.isNumeric()) ? StaticType::Number : StaticType::Any;
    }
  }
  r.nullable = t.back().nullable || t.back().kind == StaticType::Null;
  return r;
}

// ---- implementations ----

Json fConcat(Args a, const EvalEnv&) {
  std::string out;
  for (const auto& v : a) {
    appendText(out, v);
  }
  return out;
}

struct NameParts {
  std::string first;
  std::string last;
};

// "Hans Peter Müller" -> {"Hans Peter", "Müller"}; "Müller, Hans" -> {"Hans", "Müller"};
// "Cher" -> {"Cher", ""}.
NameParts splitName(const std::string& full) {
  std::string s = trimmed(full);
  NameParts parts;
  const auto comma = s.find(',');
  if (comma != std::string::npos) {
    parts.last = trimmed(s.substr(0, comma));
    parts.first = trimmed(s.substr(comma + 1));
    return parts;
  }
  const auto space = s.find_last_of(" \t");
  if (space == std::string::npos) {
    parts.first = s;
    return parts;
  }
  parts.first = trimmed(s.substr(0, space));
  parts.last = trimmed(s.substr(space + 1));
  return parts;
}

Json fSplitName(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return {{"first", nullptr}, {"last", nullptr}};
  }
  auto parts = splitName(text(a[0]));
  return {{"first", nullIfEmpty(parts.first)}, {"last", nullIfEmpty(parts.last)}};
}
Json fSplitFirst(Args a, const EvalEnv&) {
  return a[0].is_null() ? Json() : nullIfEmpty(splitName(text(a[0])).first);
}
Json fSplitLast(Args a, const EvalEnv&) {
  return a[0].is_null() ? Json() : nullIfEmpty(splitName(text(a[0])).last);
}
Json fTrim(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return nullptr;
  }
  std::string s = take(a[0]);
  trimInPlace(s);
  return s;
}
Json fLower(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return nullptr;
  }
  std::string s = take(a[0]);
  changeCase(s, false, 0, s.size());
  return s;
}
Json fUpper(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return nullptr;
  }
  std::string s = take(a[0]);
  changeCase(s, true, 0, s.size());
  return s;
}
// Each word's first letter upper case, the rest lower; words split at space, '-' and '\''.
Json fTitle(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return nullptr;
  }
  std::string s = take(a[0]);
  changeCase(s, false, 0, s.size());
  bool start = true;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ' || c == '-' || c == '\'' || c == '\t') {
      start = true;
      continue;
    }
    if (start) {
      changeCase(s, true, i, i + 1);
    }
    start = false;
    if (static_cast<unsigned char>(c) == 0xC3) {
      ++i;
    }
  }
  return s;
}

bool present(const Json& v) {
  return !v.is_null() && !(v.is_string() && v.get_ref<const std::string&>().empty());
}

Json fCoalesce(Args a, const EvalEnv&) {
  for (auto& v : a) {
    if (present(v)) {
      return std::move(v);
    }
  }
  return a.empty() ? Json() : std::move(a.back());
}

int callingCode(std::string country) {
  if (country == "DE") {
    return 49;  // the common case, without the table walk
  }
  changeCase(country, true, 0, country.size());
  if (!country.empty() && country[0] == '+') {
    country.erase(0, 1);
  }
  // A calling code has 1 to 3 digits; a longer number is no country (std::stoi threw
  // out_of_range past INT_MAX: found by expr_fuzz).
  if (!country.empty() && country.size() <= 3 &&
      std::all_of(country.begin(), country.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return std::stoi(country);
  }
  static const std::pair<const char*, int> kCodes[] = {
      {"DE", 49}, {"AT", 43}, {"CH", 41},  {"US", 1},   {"CA", 1},   {"GB", 44},  {"UK", 44},
      {"FR", 33}, {"NL", 31}, {"BE", 32},  {"IT", 39},  {"ES", 34},  {"PL", 48},  {"DK", 45},
      {"SE", 46}, {"NO", 47}, {"LU", 352}, {"LI", 423}, {"CZ", 420}, {"PT", 351}, {"IE", 353}};
  for (const auto& [name, code] : kCodes) {
    if (country == name) {
      return code;
    }
  }
  return 0;
}

// Normalises a phone number to E.164 ("+491711234567"). National numbers ("0171 1234567") get
// the default country's code; "+49 (0) 171 ..." drops the trunk zero; "0049..." is
// international. Returns null when the result cannot be a phone number (fewer than 6 or more
// than 15 digits).
Json fE164(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return nullptr;
  }
  std::string s = take(a[0]);
  trimInPlace(s);
  const int cc = callingCode(a.size() > 1 && !a[1].is_null() ? text(a[1]) : "DE");
  if (cc == 0) {
    throw EvalError("e164(): unknown country '" + text(a[1]) + "'");
  }
  for (auto pos = s.find("(0)"); pos != std::string::npos; pos = s.find("(0)")) {
    s.erase(pos, 3);
  }
  bool international = false;
  std::string digits;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+' && digits.empty()) {
      international = true;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      digits.push_back(c);
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      break;  // an extension ("x12", "ext. 12") or text: stop here
    }
  }
  if (!international && digits.rfind("00", 0) == 0) {
    international = true;
    digits.erase(0, 2);
  }
  const std::string code = std::to_string(cc);
  if (!international) {
    if (digits.rfind('0', 0) == 0) {
      digits = code + digits.substr(1);
    } else if (!(digits.rfind(code, 0) == 0 && digits.size() >= 11)) {
      digits = code + digits;
    }
  }
  if (digits.size() < 6 || digits.size() > 15) {
    return nullptr;
  }
  return "+" + digits;
}

Json fEmail(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return nullptr;
  }
  std::string s = take(a[0]);
  trimInPlace(s);
  changeCase(s, false, 0, s.size());
  return nullIfEmpty(std::move(s));
}

Json fParseDate(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return nullptr;
  }
  std::optional<dates::Moment> m;
  if (a[0].is_number()) {
    m = dates::fromEpoch(a[0].get<double>());
  } else {
    m = dates::parse(text(a[0]), a.size() > 1 && !a[1].is_null() ? text(a[1]) : "");
  }
  if (!m) {
    return nullptr;
  }
  return dates::formatIsoDateTime(m->time);
}

Json fToDate(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return nullptr;
  }
  auto m = dates::parse(text(a[0]), "");
  return m ? Json(dates::formatIsoDate(m->time)) : Json();
}

Json fFormatDate(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return nullptr;
  }
  auto m = dates::parse(text(a[0]), "");
  if (!m) {
    return nullptr;
  }
  return dates::format(m->time, text(a[1]));
}

Json addTo(Args a, std::chrono::seconds unit, bool keepDate) {
  if (a[0].is_null() || !a[1].is_number()) {
    return nullptr;
  }
  auto m = dates::parse(text(a[0]), "");
  if (!m) {
    return nullptr;
  }
  const double delta = std::trunc(a[1].get<double>() * static_cast<double>(unit.count()));
  const auto moved = dates::secondsAt(static_cast<double>(m->time.time_since_epoch().count()) + delta);
  if (!moved) {
    return nullptr;  // before year 0 or after 9999 (or an amount like 1e300)
  }
  const auto t = *moved;
  if (keepDate && !m->hasTime) {
    return dates::formatIsoDate(t);
  }
  return dates::formatIsoDateTime(t);
}
Json fAddDays(Args a, const EvalEnv&) { return addTo(a, std::chrono::seconds(86400), true); }
Json fAddHours(Args a, const EvalEnv&) { return addTo(a, std::chrono::seconds(3600), false); }
Json fNow(Args, const EvalEnv& env) {
  return dates::formatIsoDateTime(std::chrono::time_point_cast<std::chrono::seconds>(env.now));
}
Json fToday(Args, const EvalEnv& env) {
  return dates::formatIsoDate(std::chrono::time_point_cast<std::chrono::seconds>(env.now));
}

bool isInline(const Json& node) {
  const auto type = node.value("type", "");
  return type == "link" || type == "mention" || type.rfind("inline", 0) == 0;
}

bool isText(const Json& node) { return node.is_object() && node.contains("text"); }

void slateText(const Json& node, std::string& out, int depth) {
  if (node.is_array()) {
    bool first = true;
    for (const auto& child : node) {
      if (!first) {
        out += "\n";
      }
      first = false;
      slateText(child, out, depth);
    }
    return;
  }
  if (!node.is_object()) {
    return;
  }
  if (isText(node)) {
    appendText(out, node["text"]);
    return;
  }
  const auto type = node.value("type", "");
  if (type == "list-item" || type == "li") {
    out += "- ";
  }
  auto children = node.find("children");
  if (children == node.end() || !children->is_array()) {
    return;
  }
  bool previousBlock = false;
  for (const auto& child : *children) {
    const bool block = child.is_object() && !isText(child) && !isInline(child);
    if (block && (previousBlock || !out.empty()) && !out.empty() && out.back() != '\n') {
      out += "\n";
    }
    slateText(child, out, depth + 1);
    previousBlock = block;
  }
}

// Slate rich text (a JSON string, or already parsed) to plain text: text leaves joined, one
// line per block, list items prefixed "- ". A string that is not Slate JSON is returned as is.
Json fSlateToText(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return nullptr;
  }
  Json doc = a[0];
  if (a[0].is_string()) {
    doc = Json::parse(a[0].get_ref<const std::string&>(), nullptr, false);
    if (doc.is_discarded() || !(doc.is_array() || doc.is_object())) {
      return std::move(a[0]);
    }
  }
  std::string out;
  slateText(doc, out, 0);
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) {
    out.pop_back();
  }
  return out;
}

Json fCorrelate(Args a, const EvalEnv& env) {
  if (a[1].is_null()) {
    return nullptr;
  }
  if (env.correlations == nullptr) {
    throw EvalError("correlate() needs the correlation table, and none was given");
  }
  auto found = env.correlations->find(text(a[0]), text(a[1]));
  return found ? Json(*found) : Json();
}

Json fString(Args a, const EvalEnv&) { return text(a[0]); }

Json fNumber(Args a, const EvalEnv&) {
  if (a[0].is_number()) {
    return a[0];
  }
  const std::string s = trimmed(text(a[0]));
  if (s.empty()) {
    return nullptr;
  }
  std::string normal = s;
  std::replace(normal.begin(), normal.end(), ',', '.');  // German decimal comma
  char* end = nullptr;
  const double d = std::strtod(normal.c_str(), &end);
  if (end == normal.c_str() || *end != '\0') {
    return nullptr;
  }
  // Whole and within 64 bits: an integer (casting 1e300 or NaN to one was undefined behaviour).
  if (std::isfinite(d) && std::fabs(d) < 9.2e18 && d == std::trunc(d) &&
      normal.find('.') == std::string::npos) {
    return static_cast<long long>(d);
  }
  return d;
}

Json fContains(Args a, const EvalEnv&) {
  if (a[0].is_array()) {
    return std::find(a[0].begin(), a[0].end(), a[1]) != a[0].end();
  }
  if (a[0].is_null()) {
    return false;
  }
  return text(a[0]).find(text(a[1])) != std::string::npos;
}

Json fLength(Args a, const EvalEnv&) {
  if (a[0].is_null()) {
    return 0;
  }
  if (a[0].is_array() || a[0].is_object()) {
    return a[0].size();
  }
  return text(a[0]).size();
}

const Function kFunctions[] = {
    {"concat", 1, -1, {P::Text, P::Text, P::Text}, stringType, fConcat, "concat(a, b, ...)"},
    {"split_name", 1, 1, {P::Text}, splitNameType, fSplitName, "split_name(full).first|.last"},
    {"split_name_first", 1, 1, {P::Text}, nullableString, fSplitFirst, "split_name_first(full)"},
    {"split_name_last", 1, 1, {P::Text}, nullableString, fSplitLast, "split_name_last(full)"},
    {"trim", 1, 1, {P::Text}, stringOf, fTrim, "trim(text)"},
    {"lower", 1, 1, {P::Text}, stringOf, fLower, "lower(text)"},
    {"upper", 1, 1, {P::Text}, stringOf, fUpper, "upper(text)"},
    {"title", 1, 1, {P::Text}, stringOf, fTitle, "title(text)"},
    {"default", 2, 2, {P::Any, P::Any}, coalesceType, fCoalesce, "default(value, fallback)"},
    {"coalesce", 1, -1, {P::Any, P::Any, P::Any}, coalesceType, fCoalesce, "coalesce(a, b, ...)"},
    {"e164", 1, 2, {P::Text, P::Text}, nullableString, fE164, "e164(phone, country = 'DE')"},
    {"email", 1, 1, {P::Text}, nullableString, fEmail, "email(text)"},
    {"parse_date",
     1,
     2,
     {P::Any, P::Text},
     nullableDateTime,
     fParseDate,
     "parse_date(text, format = auto)"},
    {"to_date", 1, 1, {P::Temporal}, nullableDate, fToDate, "to_date(datetime)"},
    {"format_date",
     2,
     2,
     {P::Temporal, P::Text},
     nullableString,
     fFormatDate,
     "format_date(date, '%d.%m.%Y')"},
    {"add_days", 2, 2, {P::Temporal, P::Numeric}, firstTemporal, fAddDays, "add_days(date, n)"},
    {"add_hours", 2, 2, {P::Temporal, P::Numeric}, addHoursType, fAddHours, "add_hours(date, n)"},
    {"now", 0, 0, {}, dateTimeType, fNow, "now()"},
    {"today", 0, 0, {}, dateType, fToday, "today()"},
    {"slate_to_text", 1, 1, {P::Any}, stringOf, fSlateToText, "slate_to_text(slate)"},
    {"correlate", 2, 2, {P::Text, P::Text}, nullableString, fCorrelate, "correlate(kind, id)"},
    {"string", 1, 1, {P::Any}, stringType, fString, "string(value)"},
    {"number", 1, 1, {P::Text}, nullableNumber, fNumber, "number(text)"},
    {"contains", 2, 2, {P::Any, P::Any}, booleanType, fContains, "contains(text|list, part)"},
    {"length",
     1,
     1,
     {P::Any},
     [](Types) { return StaticType::of(StaticType::Integer); },
     fLength,
     "length(text|list)"},
};

}  // namespace

const Function* findFunction(std::string_view name) {
  for (const auto& f : kFunctions) {
    if (f.name == name) {
      return &f;
    }
  }
  return nullptr;
}

std::span<const Function> functions() { return kFunctions; }

}  // namespace ferry::core::flow

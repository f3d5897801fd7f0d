#pragma once

// The error reference: every code ferry can print, grouped by where it appears, each with its
// meaning and what to do about it. These tables are the only list: `ferry errors list|export`
// print them, docs/errors.md is generated from them (checked by the ctest errors_reference),
// and a test greps the sources for code literals and fails on any code missing here.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/sdk/json.hpp"

namespace ferry::core::errors {

struct Entry {
  std::string_view code;     // as printed; `<...>` marks a variable part (ghl.http_<status>)
  std::string_view meaning;  // what happened
  std::string_view remedy;   // what to do about it
};

struct Area {
  std::string_view id;     // "validation", "cli", "plugin", "run", "kind", "webhook", "store", ...
  std::string_view title;  // a heading for docs/errors.md
  std::string_view where;  // where these codes appear, one sentence
  std::vector<Entry> entries;
};

// Every area, in document order. The validation area is built from flow::kErrorCodes (their
// meaning) and this module's remedies for them.
const std::vector<Area>& areas();

// The entry of `code` in area `area`, or null. A code with a variable part matches its pattern
// (ghl.http_404 matches ghl.http_<status>).
const Entry* find(std::string_view area, std::string_view code);

// docs/errors.md, byte for byte.
std::string renderMarkdown();

// {"areas": [{"id","title","where","codes": [{"code","meaning","remedy"}]}]}
sdk::Json toJson();

}  // namespace ferry::core::errors

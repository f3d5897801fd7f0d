#pragma once

// Builders for the generated declarations (ops_*.cpp). The SDK's fluent helpers are const and
// return a copy, so `sdk::object(name, {...}).open().describe(...)` copies the whole subtree for
// the initializer list and again for each call, at every nesting level: building the 71
// operation specs cost about 12 ms of start-up. These build each field once and move it into
// its parent. Same result as the fluent form, field for field.

#include <string>
#include <utility>
#include <vector>

#include "ferry/sdk/schema.hpp"

namespace ferry::plugins::ghl::build {

namespace sdk = ferry::sdk;

// A schema from its fields, each moved in (an initializer list would copy them).
template <class... F>
sdk::Schema fields(F&&... members) {
  sdk::Schema out;
  out.reserve(sizeof...(members));
  (out.push_back(std::forward<F>(members)), ...);
  return out;
}

// An object field with the given members; `open` accepts undeclared members.
template <class... F>
sdk::Field object(std::string name, bool open, F&&... members) {
  sdk::Field f = sdk::field(std::move(name), sdk::Type::Object);
  f.fields = fields(std::forward<F>(members)...);
  f.additionalFields = open;
  return f;
}

// `head` followed by the fields of `tail` (path and query parameters, then a shared body).
inline sdk::Schema concat(sdk::Schema head, sdk::Schema tail) {
  head.reserve(head.size() + tail.size());
  for (auto& f : tail) {
    head.push_back(std::move(f));
  }
  return head;
}

// `f` marked required or not, with its description.
inline sdk::Field with(sdk::Field f, bool required, std::string description) {
  f.required = required;
  f.description = std::move(description);
  return f;
}

}  // namespace ferry::plugins::ghl::build

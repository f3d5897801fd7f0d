#pragma once

#include <string>
#include <vector>

#include "ferry/sdk/json.hpp"
#include "ferry/sdk/schema.hpp"

namespace ferry::sdk {

// One reason a JSON value does not match a schema. `path` is dotted ("contact.tags[2]").
struct ValidationIssue {
  std::string path;
  std::string code;  // "missing", "type", "enum", "unknown", "format"
  std::string message;
};

// Checks `value` (an object) against `schema`: required fields present, types match, enum
// values allowed, no undeclared members unless the object is open. Pure, never throws; returns
// every issue found, empty when the value is valid. Called by the core before an action runs and
// by the conformance suite on every example.
std::vector<ValidationIssue> validate(const Schema& schema, const Json& value);

// Returns `value` with every absent field that declares a default filled in (recursively).
Json applyDefaults(const Schema& schema, const Json& value);

// ---- implementation ----

namespace detail {

inline bool isIsoDate(const std::string& s) {
  // YYYY-MM-DD
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') {
    return false;
  }
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
  }
  return true;
}

inline bool isIsoDateTime(const std::string& s) {
  // YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+HH:MM]
  if (s.size() < 16 || !isIsoDate(s.substr(0, 10)) || (s[10] != 'T' && s[10] != ' ')) {
    return false;
  }
  return s[13] == ':' && s[11] >= '0' && s[11] <= '2';
}

inline void validateValue(const Field& f, const Json& v, const std::string& path,
                          std::vector<ValidationIssue>& out);

inline void validateObject(const Schema& schema, bool open, const Json& value,
                           const std::string& prefix, std::vector<ValidationIssue>& out) {
  for (const Field& f : schema) {
    const std::string path = prefix.empty() ? f.name : prefix + "." + f.name;
    auto it = value.find(f.name);
    if (it == value.end() || it->is_null()) {
      if (f.required && !f.defaultValue) {
        out.push_back({path, "missing", "required field '" + path + "' is missing"});
      }
      continue;
    }
    validateValue(f, *it, path, out);
  }
  if (open) {
    return;
  }
  for (auto it = value.begin(); it != value.end(); ++it) {
    bool known = false;
    for (const Field& f : schema) {
      if (f.name == it.key()) {
        known = true;
        break;
      }
    }
    if (!known) {
      const std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
      std::string allowed;
      for (const Field& f : schema) {
        allowed += (allowed.empty() ? "" : ", ") + f.name;
      }
      out.push_back({path, "unknown", "unknown field '" + path + "' (allowed: " + allowed + ")"});
    }
  }
}

inline void validateValue(const Field& f, const Json& v, const std::string& path,
                          std::vector<ValidationIssue>& out) {
  auto typeError = [&](std::string_view expected) {
    out.push_back({path, "type",
                   "field '" + path + "' must be " + std::string(expected) + ", got " +
                       std::string(v.type_name())});
  };
  switch (f.type) {
    case Type::Any:
      return;
    case Type::String:
      if (!v.is_string()) {
        return typeError("a string");
      }
      if (!f.enumValues.empty()) {
        const auto& s = v.get_ref<const std::string&>();
        bool ok = false;
        for (const auto& e : f.enumValues) {
          ok = ok || e == s;
        }
        if (!ok) {
          std::string allowed;
          for (const auto& e : f.enumValues) {
            allowed += (allowed.empty() ? "" : ", ") + e;
          }
          out.push_back({path, "enum",
                         "field '" + path + "' is '" + s + "', allowed: " + allowed});
        }
      }
      return;
    case Type::Integer:
      if (!v.is_number_integer()) {
        return typeError("an integer");
      }
      return;
    case Type::Number:
      if (!v.is_number()) {
        return typeError("a number");
      }
      return;
    case Type::Boolean:
      if (!v.is_boolean()) {
        return typeError("a boolean");
      }
      return;
    case Type::Date:
      if (!v.is_string() || !isIsoDate(v.get_ref<const std::string&>())) {
        return typeError("a date (YYYY-MM-DD)");
      }
      return;
    case Type::DateTime:
      if (!v.is_string() || !isIsoDateTime(v.get_ref<const std::string&>())) {
        return typeError("an ISO-8601 date-time");
      }
      return;
    case Type::Object:
      if (!v.is_object()) {
        return typeError("an object");
      }
      if (!f.fields.empty() || !f.additionalFields) {
        validateObject(f.fields, f.additionalFields || f.fields.empty(), v, path, out);
      }
      return;
    case Type::Array:
      if (!v.is_array()) {
        return typeError("an array");
      }
      if (f.items) {
        for (std::size_t i = 0; i < v.size(); ++i) {
          validateValue(*f.items, v[i], path + "[" + std::to_string(i) + "]", out);
        }
      }
      return;
  }
}

}  // namespace detail

inline std::vector<ValidationIssue> validate(const Schema& schema, const Json& value) {
  std::vector<ValidationIssue> out;
  if (!value.is_object()) {
    out.push_back({"", "type", std::string("input must be an object, got ") + value.type_name()});
    return out;
  }
  detail::validateObject(schema, false, value, "", out);
  return out;
}

inline Json applyDefaults(const Schema& schema, const Json& value) {
  Json out = value.is_object() ? value : Json::object();
  for (const Field& f : schema) {
    auto it = out.find(f.name);
    if ((it == out.end() || it->is_null()) && f.defaultValue) {
      out[f.name] = *f.defaultValue;
    } else if (it != out.end() && f.type == Type::Object && it->is_object() && !f.fields.empty()) {
      *it = applyDefaults(f.fields, *it);
    }
  }
  return out;
}

}  // namespace ferry::sdk

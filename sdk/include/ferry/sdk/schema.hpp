#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/sdk/json.hpp"

namespace ferry::sdk {

// The types a field of an operation's input or output may have. `DateTime` is an ISO-8601
// timestamp string, `Date` an ISO-8601 calendar date; both are strings on the wire.
enum class Type { String, Integer, Number, Boolean, DateTime, Date, Object, Array, Any };

std::string_view typeName(Type type);

// One typed field of a schema: an input parameter of an action, a field of a trigger's event,
// or a member of a nested object. Declared once by the plugin; validation, help, the catalog,
// docs and the conformance suite are all derived from it.
//
// Declared with the fluent helpers below:
//   field("email", Type::String).require().format("email").describe("Primary e-mail.")
struct Field {
  std::string name;
  Type type = Type::String;
  bool required = false;
  std::string description;
  std::optional<Json> defaultValue;
  std::vector<std::string> enumValues;  // allowed values of a String field, empty = any
  std::string format;                   // a hint: "email", "phone", "uri", "slate", ...
  std::vector<Field> fields;            // members of an Object
  std::shared_ptr<const Field> items;   // element of an Array (nullptr = any)
  bool additionalFields = false;        // an Object that also accepts undeclared members
  Json example;                         // a sample value (null = none)

  Field require(bool value = true) const;
  Field describe(std::string text) const;
  Field defaults(Json value) const;
  Field oneOf(std::vector<std::string> values) const;
  Field withFormat(std::string value) const;
  Field withFields(std::vector<Field> members) const;
  Field of(Field element) const;
  Field open() const;  // accepts undeclared members
  Field withExample(Json value) const;
};

Field field(std::string name, Type type);

// Convenience constructors for the common types.
inline Field str(std::string name) { return field(std::move(name), Type::String); }
inline Field integer(std::string name) { return field(std::move(name), Type::Integer); }
inline Field number(std::string name) { return field(std::move(name), Type::Number); }
inline Field boolean(std::string name) { return field(std::move(name), Type::Boolean); }
inline Field datetime(std::string name) { return field(std::move(name), Type::DateTime); }
inline Field date(std::string name) { return field(std::move(name), Type::Date); }
inline Field object(std::string name, std::vector<Field> members) {
  return field(std::move(name), Type::Object).withFields(std::move(members));
}
inline Field array(std::string name, Field element) {
  return field(std::move(name), Type::Array).of(std::move(element));
}
inline Field any(std::string name) { return field(std::move(name), Type::Any); }

using Schema = std::vector<Field>;

// Finds a field of a schema by a dotted path ("contact.email", "tags[]" for array elements).
// Returns nullptr when no such field is declared. Pure; never throws.
const Field* findField(const Schema& schema, std::string_view path);

// ---- implementation (header-only so that plugins need no SDK library) ----

inline std::string_view typeName(Type type) {
  switch (type) {
    case Type::String: return "string";
    case Type::Integer: return "integer";
    case Type::Number: return "number";
    case Type::Boolean: return "boolean";
    case Type::DateTime: return "datetime";
    case Type::Date: return "date";
    case Type::Object: return "object";
    case Type::Array: return "array";
    case Type::Any: return "any";
  }
  return "any";
}

inline Field field(std::string name, Type type) {
  Field f;
  f.name = std::move(name);
  f.type = type;
  return f;
}

inline Field Field::require(bool value) const {
  Field f = *this;
  f.required = value;
  return f;
}
inline Field Field::describe(std::string text) const {
  Field f = *this;
  f.description = std::move(text);
  return f;
}
inline Field Field::defaults(Json value) const {
  Field f = *this;
  f.defaultValue = std::move(value);
  return f;
}
inline Field Field::oneOf(std::vector<std::string> values) const {
  Field f = *this;
  f.enumValues = std::move(values);
  return f;
}
inline Field Field::withFormat(std::string value) const {
  Field f = *this;
  f.format = std::move(value);
  return f;
}
inline Field Field::withFields(std::vector<Field> members) const {
  Field f = *this;
  f.fields = std::move(members);
  return f;
}
inline Field Field::of(Field element) const {
  Field f = *this;
  f.items = std::make_shared<const Field>(std::move(element));
  return f;
}
inline Field Field::open() const {
  Field f = *this;
  f.additionalFields = true;
  return f;
}
inline Field Field::withExample(Json value) const {
  Field f = *this;
  f.example = std::move(value);
  return f;
}

inline const Field* findField(const Schema& schema, std::string_view path) {
  const Schema* level = &schema;
  const Field* found = nullptr;
  while (!path.empty()) {
    const auto dot = path.find('.');
    std::string_view part = path.substr(0, dot);
    bool element = false;
    if (part.size() > 2 && part.substr(part.size() - 2) == "[]") {
      part.remove_suffix(2);
      element = true;
    }
    found = nullptr;
    for (const Field& f : *level) {
      if (f.name == part) {
        found = &f;
        break;
      }
    }
    if (found == nullptr) {
      return nullptr;
    }
    if (element) {
      if (found->type != Type::Array || !found->items) {
        return nullptr;
      }
      found = found->items.get();
    }
    if (dot == std::string_view::npos) {
      break;
    }
    path.remove_prefix(dot + 1);
    level = &found->fields;
  }
  return found;
}

}  // namespace ferry::sdk

#pragma once

// The JSON value type that crosses the plugin boundary. nlohmann::json is header-only, so the
// host and every plugin compiled against the same SDK agree on its layout.
#include <limits>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace ferry::sdk {

using Json = nlohmann::json;

// The member `key` of a JSON value that came from outside ferry (a webhook body, a service's
// answer), or `fallback` when the value is not an object, has no such member, or holds one of
// another type (or, for an integer, one out of T's range). nlohmann's own `value(key, fallback)`
// throws `type_error` for a member of another type: a webhook with `"occurredAt": {}` was a 500
// instead of a delivery (found by fuzzing). Use this one for anything read from outside.
template <class T>
T member(const Json& object, const char* key, T fallback) {
  if (!object.is_object()) {
    return fallback;
  }
  const auto it = object.find(key);
  if (it == object.end()) {
    return fallback;
  }
  if constexpr (std::is_same_v<T, std::string>) {
    return it->is_string() ? it->template get<std::string>() : fallback;
  } else if constexpr (std::is_same_v<T, bool>) {
    return it->is_boolean() ? it->template get<bool>() : fallback;
  } else if constexpr (std::is_integral_v<T>) {
    if (it->is_number_unsigned()) {
      const auto n = it->template get<unsigned long long>();
      return n <= static_cast<unsigned long long>(std::numeric_limits<T>::max()) ? static_cast<T>(n)
                                                                                 : fallback;
    }
    if (it->is_number_integer()) {
      const auto n = it->template get<long long>();
      if constexpr (std::is_signed_v<T>) {
        return n >= static_cast<long long>(std::numeric_limits<T>::min()) &&
                       n <= static_cast<long long>(std::numeric_limits<T>::max())
                   ? static_cast<T>(n)
                   : fallback;
      } else {
        return n >= 0 && static_cast<unsigned long long>(n) <= std::numeric_limits<T>::max()
                   ? static_cast<T>(n)
                   : fallback;
      }
    }
    return fallback;
  } else if constexpr (std::is_floating_point_v<T>) {
    return it->is_number() ? it->template get<T>() : fallback;
  } else {
    static_assert(std::is_same_v<T, Json>, "member<T>: a string, bool, number or Json");
    return *it;
  }
}

inline std::string member(const Json& object, const char* key, const char* fallback) {
  return member<std::string>(object, key, std::string(fallback));
}

}  // namespace ferry::sdk

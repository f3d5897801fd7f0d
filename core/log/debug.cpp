#include "log/debug.hpp"

#include <spdlog/spdlog.h>

namespace ferry::core::log {

bool enabled(sdk::LogLevel level) {
  switch (level) {
    case sdk::LogLevel::Debug: return spdlog::should_log(spdlog::level::debug);
    case sdk::LogLevel::Info: return spdlog::should_log(spdlog::level::info);
    case sdk::LogLevel::Warn: return spdlog::should_log(spdlog::level::warn);
    case sdk::LogLevel::Error: return spdlog::should_log(spdlog::level::err);
  }
  return true;
}

namespace {

sdk::Json shape(const sdk::Json& v, int depth) {
  if (depth > 4) {
    return "...";
  }
  switch (v.type()) {
    case sdk::Json::value_t::object: {
      sdk::Json out = sdk::Json::object();
      for (const auto& [k, x] : v.items()) {
        out[k] = shape(x, depth + 1);
      }
      return out;
    }
    case sdk::Json::value_t::array:
      if (v.empty()) {
        return sdk::Json::array();
      }
      return sdk::Json::array({shape(v.front(), depth + 1), "x" + std::to_string(v.size())});
    case sdk::Json::value_t::string: return "string";
    case sdk::Json::value_t::boolean: return "boolean";
    case sdk::Json::value_t::null: return "null";
    case sdk::Json::value_t::number_integer:
    case sdk::Json::value_t::number_unsigned:
    case sdk::Json::value_t::number_float: return "number";
    default: return "other";
  }
}

}  // namespace

sdk::Json shapeOf(const sdk::Json& value) { return shape(value, 0); }

}  // namespace ferry::core::log

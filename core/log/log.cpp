#include "log/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "secrets/masker.hpp"

namespace ferry::core::log {

namespace {

Format gFormat = Format::Text;

spdlog::level::level_enum toSpd(sdk::LogLevel level) {
  switch (level) {
    case sdk::LogLevel::Debug: return spdlog::level::debug;
    case sdk::LogLevel::Info: return spdlog::level::info;
    case sdk::LogLevel::Warn: return spdlog::level::warn;
    case sdk::LogLevel::Error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

const char* levelName(sdk::LogLevel level) {
  switch (level) {
    case sdk::LogLevel::Debug: return "debug";
    case sdk::LogLevel::Info: return "info";
    case sdk::LogLevel::Warn: return "warn";
    case sdk::LogLevel::Error: return "error";
  }
  return "info";
}

}  // namespace

void setup(std::string_view level, Format format) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    throw std::invalid_argument("unknown log level '" + std::string(level) +
                                "' (allowed: debug, info, warn, error, off)");
  }
  auto logger = spdlog::stderr_logger_mt("ferry");
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  gFormat = format;
  // The message itself is pre-rendered by write(), so the pattern stays minimal.
  spdlog::set_pattern(format == Format::Json ? "%v" : "%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v",
                      spdlog::pattern_time_type::utc);
}

void write(sdk::LogLevel level, std::string_view message, const sdk::Json& fields) {
  const auto spdLevel = toSpd(level);
  if (!spdlog::should_log(spdLevel)) {
    return;
  }
  // The last line of defence: every secret ferry has read is masked in every log line.
  const auto& masker = secrets::Masker::global();
  if (gFormat == Format::Json) {
    sdk::Json line = fields.is_object() ? masker.maskJson(fields) : sdk::Json::object();
    line["level"] = levelName(level);
    line["msg"] = masker.maskText(message);
    line["ts"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    spdlog::log(spdLevel, "{}", line.dump(-1, ' ', false, sdk::Json::error_handler_t::replace));
    return;
  }
  std::string text(message);
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      text += " " + it.key() + "=" +
              (it->is_string() ? it->get<std::string>()
                               : it->dump(-1, ' ', false, sdk::Json::error_handler_t::replace));
    }
  }
  spdlog::log(spdLevel, "{}", masker.maskText(text));
}

void PluginLogger::log(sdk::LogLevel level, std::string_view message, const sdk::Json& fields) {
  sdk::Json f = fields.is_object() ? fields : sdk::Json::object();
  f["plugin"] = plugin_;
  write(level, message, f);
}

}  // namespace ferry::core::log

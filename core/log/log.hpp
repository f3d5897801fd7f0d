#pragma once

#include <string>
#include <string_view>

#include "ferry/sdk/context.hpp"

namespace ferry::core::log {

enum class Format { Text, Json };

// Configures the process-wide logger: level ("debug", "info", "warn", "error") and format.
// Logs go to stderr. Throws std::invalid_argument for an unknown level.
void setup(std::string_view level, Format format);

// Writes one log line with structured fields (rendered as key=value in text, as members in
// JSON). The message is a sentence; fields never carry secrets.
void write(sdk::LogLevel level, std::string_view message, const sdk::Json& fields = {});

// The sdk::Logger lent to plugins; adds the plugin id to every line.
class PluginLogger : public sdk::Logger {
 public:
  explicit PluginLogger(std::string plugin) : plugin_(std::move(plugin)) {}
  void log(sdk::LogLevel level, std::string_view message, const sdk::Json& fields) override;

 private:
  std::string plugin_;
};

}  // namespace ferry::core::log

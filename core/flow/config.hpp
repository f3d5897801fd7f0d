#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/sdk/context.hpp"
#include "flow/diagnostic.hpp"

namespace ferry::core::flow {

// One connection of ferry.yaml's `connections:` section (docs/flow-format.md, "Connections").
struct ConnectionConfig {
  sdk::Connection connection;   // name, plugin, auth, baseUrl, settings, scopes
  bool scopesDeclared = false;  // `scopes:` present; without it scopes are not checked
  Location at;
};

// The part of ferry.yaml that flow validation and dry runs read. Other top-level sections
// belong to other commands and are ignored here.
struct Config {
  std::string file;
  std::map<std::string, ConnectionConfig, std::less<>> connections;

  const ConnectionConfig* find(std::string_view name) const {
    auto it = connections.find(name);
    return it == connections.end() ? nullptr : &it->second;
  }
};

// Parses ferry.yaml. Problems are reported as `config_error` (and `yaml_syntax`,
// `secret_in_flow` for a secret written into the file); returns nullopt only when the text is
// not YAML or not a mapping. Pure.
std::optional<Config> parseConfig(std::string_view text, const std::string& file,
                                  std::vector<Diagnostic>& diagnostics);

// True when the connection's settings fill the input `name`: a setting of that name, or of its
// snake_case spelling (setting `location_id` fills input `locationId`).
bool settingFills(const sdk::Connection& connection, std::string_view input);

}  // namespace ferry::core::flow

#include "flow/config.hpp"

#include <cctype>

#include "flow/flow.hpp"
#include "flow/yaml_util.hpp"

namespace ferry::core::flow {

namespace {

Json toJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (auto it = node.begin(); it != node.end(); ++it) {
        out[it->first.Scalar()] = toJson(it->second);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (const auto& item : node) {
        out.push_back(toJson(item));
      }
      return out;
    }
    case YAML::NodeType::Scalar: {
      const auto& s = node.Scalar();
      if (node.Tag() != "!") {
        if (s == "true" || s == "false") {
          return s == "true";
        }
        if (s == "null" || s == "~") {
          return nullptr;
        }
      }
      return s;
    }
    default:
      return nullptr;
  }
}

}  // namespace

bool settingFills(const sdk::Connection& connection, std::string_view input) {
  if (!connection.settings.is_object()) {
    return false;
  }
  std::string snake;
  for (char c : input) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      snake.push_back('_');
      snake.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      snake.push_back(c);
    }
  }
  return connection.settings.contains(std::string(input)) || connection.settings.contains(snake);
}

std::optional<Config> parseConfig(std::string_view text, const std::string& file,
                                  std::vector<Diagnostic>& diagnostics) {
  auto error = [&](Location at, std::string code, std::string message, std::string hint) {
    diagnostics.push_back({file, at, std::move(code), std::move(message), std::move(hint)});
  };
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    error({e.mark.line + 1, e.mark.column + 1}, "yaml_syntax", e.msg,
          "check the indentation and quoting near this place");
    return std::nullopt;
  }
  if (!root.IsMap()) {
    error({1, 1}, "config_error", "the config must be a mapping, found " + yaml::shapeName(root),
          "start with `connections:`");
    return std::nullopt;
  }
  Config config;
  config.file = file;
  auto connections = root["connections"];
  if (!connections) {
    return config;
  }
  if (!connections.IsMap()) {
    error(yaml::at(connections), "config_error", "`connections:` must be a mapping",
          "write `connections: {<name>: {plugin: <id>, scopes: [...]}}`");
    return config;
  }
  static const std::initializer_list<std::string_view> kKeys = {
      "plugin", "scopes", "base_url", "auth", "settings", "secrets", "rate_limit"};
  for (auto it = connections.begin(); it != connections.end(); ++it) {
    ConnectionConfig c;
    c.connection.name = it->first.Scalar();
    c.at = yaml::at(it->first);
    const YAML::Node node = it->second;  // a copy: `it->second` lives in a temporary proxy
    if (!node.IsMap()) {
      error(yaml::at(node), "config_error",
            "connection '" + c.connection.name + "' must be a mapping",
            "write `plugin:`, `scopes:`, `base_url:`, `auth:` and `settings:` under it");
      continue;
    }
    for (auto k = node.begin(); k != node.end(); ++k) {
      const auto key = k->first.Scalar();
      if (std::find(kKeys.begin(), kKeys.end(), key) != kKeys.end()) {
        continue;
      }
      if (isSecretKey(key)) {
        error(yaml::at(k->first), "secret_in_flow",
              "'" + key + "' looks like a secret, and secrets never go in ferry.yaml",
              "put it in the environment or the credentials file (`ferry connection add`)");
      } else {
        error(yaml::at(k->first), "config_error",
              "unknown key '" + key + "' in connection '" + c.connection.name + "'",
              "allowed keys: " + yaml::joined(kKeys));
      }
    }
    if (auto p = node["plugin"]; p && p.IsScalar()) {
      c.connection.plugin = p.Scalar();
    } else {
      error(c.at, "config_error", "connection '" + c.connection.name + "' has no `plugin:`",
            "name the plugin it uses: `plugin: ghl`");
    }
    if (auto s = node["scopes"]) {
      c.scopesDeclared = true;
      if (s.IsSequence()) {
        for (const auto& scope : s) {
          c.connection.scopes.push_back(scope.Scalar());
        }
      } else if (s.IsScalar()) {  // "contacts.readonly contacts.write", as OAuth writes them
        std::string word;
        for (char ch : s.Scalar() + " ") {
          if (ch == ' ' || ch == ',') {
            if (!word.empty()) {
              c.connection.scopes.push_back(word);
            }
            word.clear();
          } else {
            word.push_back(ch);
          }
        }
      } else {
        error(yaml::at(s), "config_error", "`scopes:` must be a list",
              "write `scopes: [contacts.readonly, contacts.write]`");
      }
    }
    if (auto b = node["base_url"]) {
      c.connection.baseUrl = b.Scalar();
    }
    if (auto a = node["auth"]) {
      c.connection.auth = a.Scalar();
    }
    if (auto s = node["settings"]) {
      if (!s.IsMap()) {
        error(yaml::at(s), "config_error", "`settings:` must be a mapping",
              "write `settings: {location_id: ...}`");
      } else {
        for (auto k = s.begin(); k != s.end(); ++k) {
          if (isSecretKey(k->first.Scalar())) {
            error(yaml::at(k->first), "secret_in_flow",
                  "'" + k->first.Scalar() +
                      "' looks like a secret, and secrets never go in "
                      "ferry.yaml",
                  "put it in the environment or the credentials file (`ferry connection add`)");
          }
        }
        c.connection.settings = toJson(s);
      }
    }
    config.connections.emplace(c.connection.name, std::move(c));
  }
  return config;
}

}  // namespace ferry::core::flow

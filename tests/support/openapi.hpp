#pragma once

// A small validator for the JSON-schema subset OpenAPI 3.0 specs use: $ref (local and to a
// sibling file), type, properties, required, items, enum, allOf, nullable. Header-only, for
// contract tests that check a service emulator's responses against the official spec.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "ferry/sdk/json.hpp"

namespace ferry::testing {

class OpenApi {
 public:
  using Json = sdk::Json;

  // Loads every *.json below `root` (e.g. apps/contacts.json, common/common-schemas.json);
  // files are named by their path relative to root.
  explicit OpenApi(const std::filesystem::path& root) : root_(root) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      if (entry.path().extension() == ".json") {
        std::ifstream in(entry.path());
        docs_[std::filesystem::relative(entry.path(), root).generic_string()] = Json::parse(in);
      }
    }
  }

  const Json& doc(const std::string& file) const { return docs_.at(file); }

  // The response schema of an operation (nullptr JSON when the spec gives none).
  // `path` is the spec's path template, e.g. "/contacts/{contactId}".
  Json responseSchema(const std::string& file, const std::string& method, const std::string& path,
                      int status) const {
    const auto& op = doc(file).at("paths").at(path).at(method);
    const auto& responses = op.at("responses");
    const auto it = responses.find(std::to_string(status));
    if (it == responses.end()) {
      throw std::out_of_range(method + " " + path + " declares no " + std::to_string(status) +
                              " response");
    }
    const auto content = it->value("content", Json::object());
    const auto json = content.find("application/json");
    if (json == content.end() || !json->contains("schema")) {
      return Json();
    }
    return json->at("schema");
  }

  // The problems of `value` against `schema` (read in `file`), empty when it conforms.
  std::vector<std::string> validate(const Json& value, const Json& schema,
                                    const std::string& file) const {
    std::vector<std::string> out;
    check(value, schema, file, "$", out, 0);
    return out;
  }

 private:
  std::pair<const Json*, std::string> resolve(const std::string& ref,
                                              const std::string& file) const {
    const auto hash = ref.find('#');
    std::string target = file;
    if (hash > 0) {
      const auto base = std::filesystem::path(file).parent_path();
      target = (base / ref.substr(0, hash)).lexically_normal().generic_string();
    }
    const Json* node = &docs_.at(target);
    std::string pointer = ref.substr(hash + 1);
    std::size_t start = 1;
    while (start <= pointer.size() && pointer.size() > 1) {
      auto slash = pointer.find('/', start);
      if (slash == std::string::npos) {
        slash = pointer.size();
      }
      node = &node->at(pointer.substr(start, slash - start));
      start = slash + 1;
    }
    return {node, target};
  }

  void check(const Json& v, const Json& s, const std::string& file, const std::string& where,
             std::vector<std::string>& out, int depth) const {
    if (depth > 64) {
      out.push_back(where + ": schema nesting too deep");
      return;
    }
    if (s.contains("$ref")) {
      const auto [node, target] = resolve(s["$ref"], file);
      check(v, *node, target, where, out, depth + 1);
      return;
    }
    if (v.is_null() && s.value("nullable", false)) {
      return;
    }
    if (s.contains("allOf")) {
      for (const auto& sub : s["allOf"]) {
        check(v, sub, file, where, out, depth + 1);
      }
    }
    if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end()) {
      out.push_back(where + ": " + v.dump() + " is not one of " + s["enum"].dump());
    }
    // `type` may be a list of types (webhook schemas use that); unknown type names pass.
    if (s.contains("type") && s["type"].is_array()) {
      bool any = false;
      for (const auto& t : s["type"]) {
        std::vector<std::string> ignored;
        check(v, Json{{"type", t}}, file, where, ignored, depth + 1);
        any = any || ignored.empty();
      }
      if (!any) {
        out.push_back(where + ": expected one of " + s["type"].dump() + ", got " + v.dump());
      }
      return;
    }
    const std::string type =
        s.contains("type") && s["type"].is_string() ? s["type"].get<std::string>() : "";
    bool typed = true;
    if (type == "string") {
      typed = v.is_string();
    } else if (type == "number") {
      typed = v.is_number();
    } else if (type == "integer") {
      typed = v.is_number_integer();
    } else if (type == "boolean") {
      typed = v.is_boolean();
    } else if (type == "array") {
      typed = v.is_array();
    } else if (type == "object") {
      typed = v.is_object();
    }
    if (!typed) {
      out.push_back(where + ": expected " + type + ", got " + v.dump());
      return;
    }
    if (v.is_object()) {
      for (const auto& r : s.value("required", Json::array())) {
        if (!v.contains(r.get<std::string>())) {
          out.push_back(where + ": missing required property '" + r.get<std::string>() + "'");
        }
      }
      const auto props = s.value("properties", Json::object());
      for (const auto& [key, sub] : props.items()) {
        if (v.contains(key)) {
          check(v[key], sub, file, where + "." + key, out, depth + 1);
        }
      }
    }
    if (v.is_array() && s.contains("items")) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        check(v[i], s["items"], file, where + "[" + std::to_string(i) + "]", out, depth + 1);
      }
    }
  }

  std::filesystem::path root_;
  std::map<std::string, Json> docs_;
};

}  // namespace ferry::testing

#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "flow/diagnostic.hpp"

// Helpers shared by the flow and config parsers.
namespace ferry::core::flow::yaml {

inline Location at(const YAML::Node& node) {
  const auto mark = node.Mark();
  if (mark.line < 0) {
    return {};
  }
  return {mark.line + 1, mark.column + 1};
}

// Line and column of a byte offset of `text`.
inline Location locate(std::string_view text, std::size_t offset) {
  Location loc{1, 1};
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++loc.line;
      loc.column = 1;
    } else {
      ++loc.column;
    }
  }
  return loc;
}

inline std::string joined(std::initializer_list<std::string_view> items) {
  std::string out;
  for (auto i : items) {
    out += (out.empty() ? "" : ", ") + std::string(i);
  }
  return out;
}

inline std::string shapeName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "an undefined value";
  }
}

}  // namespace ferry::core::flow::yaml

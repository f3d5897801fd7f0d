#include "slate.hpp"

#include <cctype>
#include <sstream>
#include <vector>

namespace ferry::plugins::umsatzio {

using sdk::Json;

namespace {

const char* const kHeadings[] = {"heading-one",  "heading-two",  "heading-three",
                                 "heading-four", "heading-five", "heading-six"};

int headingLevel(const std::string& type) {
  for (int i = 0; i < 6; ++i) {
    if (type == kHeadings[i]) {
      return i + 1;
    }
  }
  if (type == "heading" || type == "h1") {
    return 1;
  }
  if (type.size() == 2 && type[0] == 'h' && type[1] >= '1' && type[1] <= '6') {
    return type[1] - '0';
  }
  return 0;
}

// The concatenated text of a node (text leaves and inline elements).
std::string textOf(const Json& node) {
  if (node.is_string()) {
    return node.get<std::string>();
  }
  if (!node.is_object()) {
    return "";
  }
  if (node.contains("text") && node["text"].is_string()) {
    return node["text"].get<std::string>();
  }
  std::string out;
  if (node.contains("children") && node["children"].is_array()) {
    const auto& children = node["children"];
    for (std::size_t i = 0; i < children.size(); ++i) {
      const auto& child = children[i];
      const bool block = child.is_object() && child.contains("type") &&
                         (child["type"] == "paragraph" || child["type"] == "list-item");
      if (block && !out.empty()) {
        out += "\n";
      }
      out += textOf(child);
    }
  }
  return out;
}

std::string typeOf(const Json& node) {
  return node.is_object() && node.contains("type") && node["type"].is_string()
             ? node["type"].get<std::string>()
             : "paragraph";
}

bool isList(const std::string& type, bool& numbered) {
  numbered = type == "numbered-list" || type == "ol";
  return numbered || type == "bulleted-list" || type == "ul";
}

// "12. rest" -> true with rest; "- rest" / "* rest" for bullets.
bool numberedItem(const std::string& line, std::string& rest) {
  std::size_t i = 0;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) {
    ++i;
  }
  if (i == 0 || i + 1 >= line.size() + 1 || line.compare(i, 2, ". ") != 0) {
    return false;
  }
  rest = line.substr(i + 2);
  return true;
}

bool bulletItem(const std::string& line, std::string& rest) {
  if (line.size() >= 2 && (line[0] == '-' || line[0] == '*' ) && line[1] == ' ') {
    rest = line.substr(2);
    return true;
  }
  return false;
}

int headingLine(const std::string& line, std::string& rest) {
  std::size_t i = 0;
  while (i < line.size() && i < 7 && line[i] == '#') {
    ++i;
  }
  if (i == 0 || i > 6 || i >= line.size() || line[i] != ' ') {
    return 0;
  }
  rest = line.substr(i + 1);
  return static_cast<int>(i);
}

Json textLeaf(const std::string& text) { return Json::array({Json{{"text", text}}}); }

}  // namespace

std::string slateToPlainText(const Json& document) {
  if (!document.is_array()) {
    return textOf(document);
  }
  std::vector<std::string> blocks;
  for (const auto& node : document) {
    const std::string type = typeOf(node);
    bool numbered = false;
    if (isList(type, numbered)) {
      std::string block;
      int n = 0;
      const Json items = node.is_object() ? node.value("children", Json::array()) : Json::array();
      for (const auto& item : items) {
        ++n;
        if (!block.empty()) {
          block += "\n";
        }
        block += numbered ? std::to_string(n) + ". " : "- ";
        block += textOf(item);
      }
      blocks.push_back(block);
    } else if (const int level = headingLevel(type); level > 0) {
      blocks.push_back(std::string(static_cast<std::size_t>(level), '#') + " " + textOf(node));
    } else {
      blocks.push_back(textOf(node));
    }
  }
  std::string out;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    out += (i == 0 ? "" : "\n\n") + blocks[i];
  }
  return out;
}

std::string slateToPlainText(const std::string& slateJson) {
  const Json doc = Json::parse(slateJson, nullptr, false);
  if (doc.is_discarded() || !doc.is_array()) {
    return slateJson;
  }
  for (const auto& node : doc) {
    if (!node.is_object() || (!node.contains("children") && !node.contains("text"))) {
      return slateJson;  // JSON, but not a Slate document
    }
  }
  return slateToPlainText(doc);
}

Json plainTextToSlate(const std::string& text) {
  Json doc = Json::array();
  std::vector<std::string> lines;
  {
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      lines.push_back(line);
    }
  }
  enum class Open { None, Paragraph, Bullets, Numbers };
  Open open = Open::None;
  std::string paragraph;
  Json list;
  auto close = [&] {
    if (open == Open::Paragraph) {
      doc.push_back({{"type", "paragraph"}, {"children", textLeaf(paragraph)}});
    } else if (open == Open::Bullets || open == Open::Numbers) {
      doc.push_back({{"type", open == Open::Bullets ? "bulleted-list" : "numbered-list"},
                     {"children", list}});
    }
    open = Open::None;
    paragraph.clear();
    list = Json::array();
  };
  for (const auto& line : lines) {
    std::string rest;
    if (line.empty()) {
      close();
    } else if (const int level = headingLine(line, rest); level > 0) {
      close();
      doc.push_back({{"type", kHeadings[level - 1]}, {"children", textLeaf(rest)}});
    } else if (bulletItem(line, rest) || numberedItem(line, rest)) {
      const Open kind = bulletItem(line, rest) ? Open::Bullets : Open::Numbers;
      if (open != kind) {
        close();
        open = kind;
      }
      list.push_back({{"type", "list-item"}, {"children", textLeaf(rest)}});
    } else {
      if (open == Open::Paragraph) {
        paragraph += "\n" + line;
      } else {
        close();
        open = Open::Paragraph;
        paragraph = line;
      }
    }
  }
  close();
  if (doc.empty()) {
    doc.push_back({{"type", "paragraph"}, {"children", textLeaf("")}});
  }
  return doc;
}

}  // namespace ferry::plugins::umsatzio

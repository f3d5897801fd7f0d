#include "flow/files.hpp"

#include <fstream>
#include <sstream>

namespace ferry::core::flow {

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return std::nullopt;
  }
  return text.str();
}

std::vector<Flow> loadFlowFiles(const std::vector<std::string>& paths,
                                std::vector<Diagnostic>& diagnostics) {
  std::vector<Flow> flows;
  for (const auto& path : paths) {
    auto text = readFile(path);
    if (!text) {
      diagnostics.push_back({path,
                             {},
                             "io_error",
                             "cannot read the flow file",
                             "check the path and its permissions"});
      continue;
    }
    if (auto flow = parseFlow(*text, path, diagnostics)) {
      flows.push_back(std::move(*flow));
    }
  }
  return flows;
}

std::optional<Config> loadConfigFile(const std::string& path,
                                     std::vector<Diagnostic>& diagnostics) {
  auto text = readFile(path);
  if (!text) {
    diagnostics.push_back({path,
                           {},
                           "io_error",
                           "cannot read the config file",
                           "check the path given with --config"});
    return std::nullopt;
  }
  return parseConfig(*text, path, diagnostics);
}

}  // namespace ferry::core::flow

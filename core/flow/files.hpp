#pragma once

#include <optional>
#include <string>
#include <vector>

#include "flow/config.hpp"
#include "flow/flow.hpp"

namespace ferry::core::flow {

// Reads and parses flow files; a file that cannot be read is an `io_error`. Each flow's `file`
// is the path as given.
std::vector<Flow> loadFlowFiles(const std::vector<std::string>& paths,
                                std::vector<Diagnostic>& diagnostics);

// Reads and parses a config file; nullopt (with an `io_error` or parse error) when it fails.
std::optional<Config> loadConfigFile(const std::string& path, std::vector<Diagnostic>& diagnostics);

// The whole content of a file, or nullopt when it cannot be read.
std::optional<std::string> readFile(const std::string& path);

}  // namespace ferry::core::flow

#include "cli/cli.hpp"

#include <algorithm>

#include "log/log.hpp"

namespace ferry::core::cli {

void printError(const std::string& place, const std::string& code, const std::string& message,
                const std::string& hint) {
  std::cerr << place << ": error[" << code << "]: " << message << "\n";
  if (!hint.empty()) {
    std::cerr << "hint: " << hint << "\n";
  }
}

void printTable(const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows, std::size_t indent) {
  std::vector<std::size_t> widths(headers.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(headers);
  for (const auto& row : rows) {
    measure(row);
  }
  auto print = [&](const std::vector<std::string>& row) {
    std::string line(indent, ' ');
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(widths[i] - row[i].size() + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    std::cout << line << "\n";
  };
  print(headers);
  for (const auto& row : rows) {
    print(row);
  }
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : separator) + item;
  }
  return out;
}

const catalog::Catalog& Cli::catalog() {
  if (!catalog_) {
    auto result = loader::scan(loader::defaultPluginDirs());
    for (const auto& error : result.errors) {
      log::write(sdk::LogLevel::Warn, "Plugin library refused.",
                 {{"path", error.path.string()}, {"code", error.code}, {"reason", error.reason}});
    }
    for (const auto& plugin : result.plugins) {
      log::write(sdk::LogLevel::Debug, "Plugin loaded.",
                 {{"path", plugin.path.string()},
                  {"id", plugin.spec().id},
                  {"version", plugin.spec().version}});
    }
    catalog_ = std::make_unique<catalog::Catalog>(std::move(result.plugins));
  }
  return *catalog_;
}

}  // namespace ferry::core::cli

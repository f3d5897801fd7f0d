#include "cli/cli.hpp"

#include "log/log.hpp"

namespace ferry::core::cli {

void printError(const std::string& place, const std::string& code, const std::string& message,
                const std::string& hint) {
  std::cerr << place << ": error[" << code << "]: " << message << "\n";
  if (!hint.empty()) {
    std::cerr << "hint: " << hint << "\n";
  }
}

const catalog::Catalog& Cli::catalog() {
  if (!catalog_) {
    auto result = loader::scan(loader::defaultPluginDirs());
    for (const auto& error : result.errors) {
      log::write(sdk::LogLevel::Warn, "Plugin library refused.",
                 {{"path", error.path.string()}, {"code", error.code}, {"reason", error.reason}});
    }
    catalog_ = std::make_unique<catalog::Catalog>(std::move(result.plugins));
  }
  return *catalog_;
}

}  // namespace ferry::core::cli

#pragma once

#include <memory>
#include <optional>
#include <string>

#include "catalog/catalog.hpp"
#include "cli/cli.hpp"
#include "engine/engine.hpp"
#include "engine/runtime_config.hpp"
#include "secrets/credentials.hpp"
#include "store/store.hpp"

namespace ferry::core::cli {

// What the runtime commands (run, runs, dlq, connection, demo) open from a config file: the
// config, the plugins, the store, the credentials and the engine. Errors are printed in the
// `file:line:col: error[code]` form and set the exit code; open() then returns nullptr.
struct RuntimeSetup {
  engine::RuntimeConfig config;
  std::unique_ptr<catalog::Catalog> catalog;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<secrets::CredentialsFile> credentials;  // null when there is no master key
  std::unique_ptr<engine::Engine> engine;

  static std::unique_ptr<RuntimeSetup> open(const std::string& configPath, Cli& cli,
                                            bool withEngine = true);
  // Loads and validates the flows; prints every diagnostic and sets exit code 3 on errors.
  bool loadFlows(Cli& cli);
};

// Opens only the store named by a config (for runs/dlq), or by --store.
std::unique_ptr<store::Store> openStore(const std::string& configPath,
                                        const std::string& storeUrl, Cli& cli);

}  // namespace ferry::core::cli

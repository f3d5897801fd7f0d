#include "cli/runtime_setup.hpp"

#include <filesystem>
#include <iostream>

#include "flow/diagnostic.hpp"
#include "loader/loader.hpp"
#include "log/log.hpp"

namespace ferry::core::cli {

namespace fs = std::filesystem;

namespace {

bool printDiagnostics(const std::vector<flow::Diagnostic>& diagnostics, Cli& cli) {
  if (diagnostics.empty()) {
    return true;
  }
  std::cerr << flow::formatText(diagnostics);
  cli.exitCode = kInvalid;
  return false;
}

}  // namespace

std::unique_ptr<RuntimeSetup> RuntimeSetup::open(const std::string& configPath, Cli& cli,
                                                 bool withEngine) {
  auto setup = std::make_unique<RuntimeSetup>();
  std::vector<flow::Diagnostic> diagnostics;
  auto config = engine::loadRuntimeConfig(configPath, diagnostics);
  if (!config || !printDiagnostics(diagnostics, cli)) {
    if (!config) {
      printDiagnostics(diagnostics, cli);
    }
    return nullptr;
  }
  setup->config = std::move(*config);
  std::error_code ec;
  fs::create_directories(setup->config.stateDir, ec);
  if (ec) {
    printError(setup->config.stateDir.string(), "state_dir",
               "cannot create the state directory: " + ec.message(),
               "set `state_dir:` in " + configPath + " to a writable directory");
    cli.exitCode = kFailure;
    return nullptr;
  }
  auto dirs = setup->config.pluginDirs;
  for (auto& d : loader::defaultPluginDirs()) {
    dirs.push_back(d);
  }
  auto scan = loader::scan(dirs);
  for (const auto& error : scan.errors) {
    log::write(sdk::LogLevel::Warn, "Plugin library refused.",
               {{"path", error.path.string()}, {"code", error.code}, {"reason", error.reason}});
  }
  setup->catalog = std::make_unique<catalog::Catalog>(std::move(scan.plugins));
  try {
    store::Options options;
    options.poolSize = setup->config.storeConnections;
    setup->store = store::Store::open(setup->config.storeUrl, options);
  } catch (const store::StoreError& e) {
    printError(store::redactStoreUrl(setup->config.storeUrl), "store", e.what(),
               "check `store:` in " + configPath + " (docs/store.md lists the URL forms)");
    cli.exitCode = kFailure;
    return nullptr;
  }
  try {
    auto key = secrets::MasterKey::resolve(setup->config.keyFile);
    setup->credentials =
        std::make_unique<secrets::CredentialsFile>(setup->config.credentialsFile, key);
    setup->credentials->load();
  } catch (const secrets::SecretsError& e) {
    if (e.code != "key_missing") {
      printError(setup->config.credentialsFile.string(), "credentials", e.what(),
                 "fix the file or key named above; secrets are never read from elsewhere");
      cli.exitCode = kInvalid;
      return nullptr;
    }
    setup->credentials.reset();  // no key: secrets come from the environment only
  }
  if (withEngine) {
    setup->engine = std::make_unique<engine::Engine>(setup->config, *setup->catalog,
                                                     *setup->store, setup->credentials.get());
  }
  return setup;
}

bool RuntimeSetup::loadFlows(Cli& cli) { return printDiagnostics(engine->loadFlows(), cli); }

std::unique_ptr<store::Store> openStore(const std::string& configPath,
                                        const std::string& storeUrl, Cli& cli) {
  std::string url = storeUrl;
  if (url.empty()) {
    std::vector<flow::Diagnostic> diagnostics;
    auto config = engine::loadRuntimeConfig(configPath, diagnostics);
    if (!config || !diagnostics.empty()) {
      printDiagnostics(diagnostics, cli);
      return nullptr;
    }
    url = config->storeUrl;
  }
  try {
    return store::Store::open(url);
  } catch (const store::StoreError& e) {
    printError(store::redactStoreUrl(url), "store", e.what(),
               "pass --config <ferry.yaml> or --store <url>");
    cli.exitCode = kFailure;
    return nullptr;
  }
}

}  // namespace ferry::core::cli

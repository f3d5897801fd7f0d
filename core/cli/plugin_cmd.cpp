#include <iostream>

#include "catalog/spec_json.hpp"
#include "cli/cli.hpp"
#include "loader/install.hpp"

namespace ferry::core::cli {

namespace {

namespace fs = std::filesystem;

// Where a loaded library comes from: "user" (ferry plugin install), "bundled" (beside the
// binary) or "env" (FERRY_PLUGIN_PATH).
std::string sourceOf(const fs::path& file) {
  std::error_code ec;
  const auto dir = fs::weakly_canonical(file.parent_path(), ec);
  if (dir == fs::weakly_canonical(loader::userPluginDir(), ec)) {
    return "user";
  }
  for (const auto& bundled : loader::bundledPluginDirs()) {
    if (dir == fs::weakly_canonical(bundled, ec)) {
      return "bundled";
    }
  }
  return "env";
}

std::pair<std::size_t, std::size_t> countKinds(const sdk::ConnectorSpec& spec) {
  std::size_t actions = 0;
  std::size_t triggers = 0;
  for (const auto& op : spec.operations) {
    (op.kind == sdk::OperationKind::Action ? actions : triggers)++;
  }
  return {actions, triggers};
}

void printDeclaration(const sdk::ConnectorSpec& spec, const std::string& path) {
  std::cout << spec.id << " " << spec.version << " (" << spec.name << ")\n";
  if (!spec.description.empty()) {
    std::cout << "  " << spec.description << "\n";
  }
  std::cout << "\nPath: " << path << "\n";
  if (!spec.homepage.empty()) {
    std::cout << "Homepage: " << spec.homepage << "\n";
  }
  std::cout << "Auth:";
  if (spec.auth.empty()) {
    std::cout << " (none)";
  }
  std::cout << "\n";
  for (const auto& a : spec.auth) {
    std::cout << "  " << a.id << (a.description.empty() ? "" : "  " + a.description) << "\n";
  }
  std::cout << "Scopes: " << (spec.scopes.empty() ? "(none)" : join(spec.scopes, ", ")) << "\n";
  const auto [actions, triggers] = countKinds(spec);
  std::cout << "\nOperations (" << actions << " actions, " << triggers << " triggers):\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& op : spec.operations) {
    rows.push_back({op.id, std::string(sdk::kindName(op.kind)), join(op.scopes, ","), op.summary});
  }
  printTable({"ID", "KIND", "SCOPES", "SUMMARY"}, rows, 2);
}

}  // namespace

void addPluginCommands(Cli& cli) {
  auto* plugin = cli.app.add_subcommand("plugin", "List, inspect, install and remove plugins");
  plugin->require_subcommand(1);

  // plugin list
  auto listJson = std::make_shared<bool>(false);
  auto* list = plugin->add_subcommand("list", "List the loaded plugins and where they come from");
  list->add_flag("--json", *listJson, "Print JSON (stable, see docs/catalog-json.md)");
  list->callback([&cli, listJson] {
    const auto& plugins = cli.catalog().plugins();
    if (*listJson) {
      sdk::Json out = sdk::Json::array();
      for (const auto& p : plugins) {
        auto j = catalog::connectorToJson(p.spec(), false);
        j["path"] = p.path.string();
        j["source"] = sourceOf(p.path);
        out.push_back(j);
      }
      std::cout << sdk::Json{{"plugins", out}}.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : plugins) {
      const auto [actions, triggers] = countKinds(p.spec());
      rows.push_back({p.spec().id, p.spec().version, std::to_string(actions),
                      std::to_string(triggers), sourceOf(p.path), p.path.string()});
    }
    if (!plugins.empty()) {
      printTable({"ID", "VERSION", "ACTIONS", "TRIGGERS", "SOURCE", "PATH"}, rows);
    } else {
      std::cout << "No plugin is loaded. Searched:";
      for (const auto& dir : loader::defaultPluginDirs()) {
        std::cout << " " << dir.lexically_normal().string();
      }
      std::cout << "\n";
    }
  });

  // plugin inspect
  struct InspectOptions {
    std::string target;
    bool json = false;
  };
  auto inspectOpts = std::make_shared<InspectOptions>();
  auto* inspect = plugin->add_subcommand("inspect", "Show a plugin's declaration (file or id)");
  inspect->add_option("plugin", inspectOpts->target, "A library file (.so) or a loaded plugin's id")
      ->required();
  inspect->add_flag("--json", inspectOpts->json, "Print JSON (stable, see docs/catalog-json.md)");
  inspect->callback([&cli, inspectOpts] {
    const auto& target = inspectOpts->target;
    std::shared_ptr<sdk::Connector> connector;
    std::string path;
    if (target.find('/') != std::string::npos || target.ends_with(".so")) {
      auto outcome = loader::loadLibrary(target);
      if (outcome.error) {
        printError(outcome.error->path.string(), outcome.error->code, outcome.error->reason,
                   outcome.error->hint());
        cli.exitCode = kInvalid;
        return;
      }
      connector = outcome.plugin->connector;
      path = outcome.plugin->path.string();
    } else if (const auto* p = cli.catalog().plugin(target)) {
      connector = p->connector;
      path = p->path.string();
    } else {
      printError(target, "unknown_plugin", "no loaded plugin has this id",
                 "ferry plugin list shows the loaded plugins; pass a path to inspect a file");
      cli.exitCode = kInvalid;
      return;
    }
    if (inspectOpts->json) {
      auto j = catalog::connectorToJson(connector->spec(), true);
      j["path"] = path;
      std::cout << j.dump(2) << "\n";
    } else {
      printDeclaration(connector->spec(), path);
    }
  });

  // plugin install
  auto installFile = std::make_shared<std::string>();
  auto* install = plugin->add_subcommand(
      "install", "Validate a plugin library and install it into the user's plugin directory");
  install->add_option("file", *installFile, "The plugin library (.so)")->required();
  install->footer(
      "The user's plugin directory is $FERRY_HOME/plugins (default "
      "~/.local/share/ferry/plugins); installs are recorded in plugins.lock.json.");
  install->callback([&cli, installFile] {
    const auto dir = loader::userPluginDir();
    std::vector<fs::path> others;
    for (const auto& d : loader::defaultPluginDirs()) {
      if (d != dir) {
        others.push_back(d);
      }
    }
    try {
      const auto result = loader::install(*installFile, dir, others);
      const auto& e = result.entry;
      if (result.replacedVersion.empty()) {
        std::cout << "Installed '" << e.id << "' " << e.version;
      } else if (result.replacedVersion == e.version) {
        std::cout << "Reinstalled '" << e.id << "' " << e.version;
      } else {
        std::cout << "Replaced '" << e.id << "' " << result.replacedVersion << " with "
                  << e.version;
      }
      std::cout << " at " << result.installedPath.string() << " (sha256 " << e.sha256 << ").\n";
    } catch (const loader::InstallError& e) {
      printError(e.place.string(), e.code, e.what(), e.hint);
      cli.exitCode = e.code == "io" ? kFailure : kInvalid;
    }
  });

  // plugin remove
  auto removeId = std::make_shared<std::string>();
  auto* remove =
      plugin->add_subcommand("remove", "Remove a plugin installed with ferry plugin install");
  remove->add_option("id", *removeId, "The plugin's connector id")->required();
  remove->callback([&cli, removeId] {
    try {
      const auto removed = loader::remove(*removeId, loader::userPluginDir());
      std::cout << "Removed '" << removed.id << "' " << removed.version << ".\n";
    } catch (const loader::InstallError& e) {
      std::string hint = e.hint;
      if (e.code == "not_installed") {
        if (const auto* p = cli.catalog().plugin(*removeId)) {
          hint = "'" + *removeId + "' is loaded from " + p->path.string() + " (" +
                 sourceOf(p->path) + "), which ferry plugin remove does not manage";
        }
      }
      printError(e.place.string(), e.code, e.what(), hint);
      cli.exitCode = e.code == "io" ? kFailure : kInvalid;
    }
  });
}

}  // namespace ferry::core::cli

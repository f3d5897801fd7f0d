#include <iomanip>
#include <iostream>

#include "catalog/spec_json.hpp"
#include "cli/cli.hpp"

namespace ferry::core::cli {

void addPluginCommands(Cli& cli) {
  auto* plugin = cli.app.add_subcommand("plugin", "List, inspect, install and remove plugins");
  plugin->require_subcommand(1);

  auto listJson = std::make_shared<bool>(false);
  auto* list = plugin->add_subcommand("list", "List loaded plugins");
  list->add_flag("--json", *listJson, "Print JSON");
  list->callback([&cli, listJson] {
    const auto& plugins = cli.catalog().plugins();
    if (*listJson) {
      sdk::Json out = sdk::Json::array();
      for (const auto& p : plugins) {
        auto j = catalog::connectorToJson(p.spec(), false);
        j["path"] = p.path.string();
        out.push_back(j);
      }
      std::cout << sdk::Json{{"plugins", out}}.dump(2) << "\n";
      return;
    }
    std::cout << std::left << std::setw(12) << "ID" << std::setw(10) << "VERSION" << std::setw(9)
              << "ACTIONS" << std::setw(10) << "TRIGGERS" << "PATH\n";
    for (const auto& p : plugins) {
      std::size_t actions = 0;
      std::size_t triggers = 0;
      for (const auto& op : p.spec().operations) {
        (op.kind == sdk::OperationKind::Action ? actions : triggers)++;
      }
      std::cout << std::left << std::setw(12) << p.spec().id << std::setw(10) << p.spec().version
                << std::setw(9) << actions << std::setw(10) << triggers << p.path.string()
                << "\n";
    }
  });

  auto target = std::make_shared<std::string>();
  auto* inspect = plugin->add_subcommand("inspect", "Show a plugin's declaration (file or id)");
  inspect->add_option("plugin", *target, "A library file (.so) or an installed plugin's id")
      ->required();
  inspect->callback([&cli, target] {
    std::shared_ptr<sdk::Connector> connector;
    std::string path;
    if (target->find('/') != std::string::npos || target->ends_with(".so")) {
      auto outcome = loader::loadLibrary(*target);
      if (outcome.error) {
        printError(outcome.error->path.string(), outcome.error->code, outcome.error->reason,
                   "ferry loads only libraries built with FERRY_PLUGIN against this SDK");
        cli.exitCode = kInvalid;
        return;
      }
      connector = outcome.plugin->connector;
      path = outcome.plugin->path.string();
    } else if (const auto* p = cli.catalog().plugin(*target)) {
      connector = p->connector;
      path = p->path.string();
    } else {
      printError(*target, "unknown_plugin", "no installed plugin has this id",
                 "ferry plugin list shows the installed plugins");
      cli.exitCode = kInvalid;
      return;
    }
    auto j = catalog::connectorToJson(connector->spec(), true);
    j["path"] = path;
    std::cout << j.dump(2) << "\n";
  });
}

}  // namespace ferry::core::cli

#include <exception>
#include <iostream>

#include "cli/cli.hpp"
#include "log/log.hpp"

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace ferry::core;
  cli::Cli cli;
  auto& app = cli.app;
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ferry ") + FERRY_VERSION);
  app.add_option("--log-level", cli.logLevel, "Log level: debug, info, warn, error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", cli.logFormat, "Log format: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.parse_complete_callback([&cli] {
    log::setup(cli.logLevel, cli.logFormat == "json" ? log::Format::Json : log::Format::Text);
  });

  cli::addPluginCommands(cli);
  cli::addCatalogCommands(cli);
  cli::addFlowCommands(cli);
  cli::addRunCommands(cli);
  cli::addSyncCommands(cli);
  cli::addHistoryCommands(cli);
  cli::addConnectionCommands(cli);
  cli::addSandboxCommands(cli);
  cli::addDemoCommand(cli);
  cli::addErrorsCommands(cli);
  cli::addFlowHistoryCommand(cli);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      return app.exit(e);  // --help, --help-all, --version
    }
    // A usage error: name the (sub)command it belongs to, in the usual error format.
    std::string place = "ferry";
    const CLI::App* command = &app;
    while (!command->get_subcommands().empty()) {
      command = command->get_subcommands().front();
      place += " " + command->get_name();
    }
    std::string message = e.what();
    std::string hint = "run '" + place + " --help' for the usage";
    const auto extra = command->remaining();
    if (!extra.empty() && !command->get_subcommands({}).empty() &&
        !extra.front().starts_with("-")) {
      // CLI11 reports an unknown subcommand as a missing one; say what was wrong instead.
      std::string known;
      for (const auto* sub : command->get_subcommands({})) {
        known += (known.empty() ? "" : ", ") + sub->get_name();
      }
      message = "unknown command '" + extra.front() + "'";
      hint = "the commands of '" + place + "' are: " + known;
    }
    cli::printError(place, "usage", message, hint);
    return cli::kUsage;
  } catch (const std::exception& e) {
    cli::printError("ferry", "internal", e.what());
    return cli::kFailure;
  }
  return cli.exitCode;
}

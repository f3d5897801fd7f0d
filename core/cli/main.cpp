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
    cli::printError(place, "usage", e.what(), "run '" + place + " --help' for the usage");
    return cli::kUsage;
  } catch (const std::exception& e) {
    cli::printError("ferry", "internal", e.what());
    return cli::kFailure;
  }
  return cli.exitCode;
}

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
  cli::addHistoryCommands(cli);
  cli::addConnectionCommands(cli);
  cli::addSandboxCommands(cli);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return cli::kUsage;
  } catch (const std::exception& e) {
    cli::printError("ferry", "internal", e.what());
    return cli::kFailure;
  }
  return cli.exitCode;
}

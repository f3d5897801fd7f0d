#pragma once

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"

namespace ferry::core::cli {

// Exit codes (DESIGN.md section 4).
inline constexpr int kOk = 0;
inline constexpr int kFailure = 1;
inline constexpr int kUsage = 2;
inline constexpr int kInvalid = 3;

// State shared by every subcommand of one invocation.
struct Cli {
  CLI::App app{"ferry: keeps Umsatz-io and HighLevel in sync, from declarative flow files.",
               "ferry"};
  int exitCode = kOk;
  std::string logLevel = "warn";
  std::string logFormat = "text";

  // Loads every plugin from the default directories, once. Refused libraries are reported on
  // stderr as warnings and left out.
  const catalog::Catalog& catalog();

 private:
  std::unique_ptr<catalog::Catalog> catalog_;
};

// Prints `path: error[code]: message` and an optional hint line to stderr.
void printError(const std::string& place, const std::string& code, const std::string& message,
                const std::string& hint = "");

// Prints rows under upper-case headers, columns padded to the widest cell (the last column is not
// padded), each line indented by `indent` spaces.
void printTable(const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows, std::size_t indent = 0);

std::string join(const std::vector<std::string>& items, const std::string& separator);

// Each group of subcommands lives in its own file and registers itself here.
void addPluginCommands(Cli& cli);
void addCatalogCommands(Cli& cli);
void addFlowCommands(Cli& cli);
void addRunCommands(Cli& cli);
void addSyncCommands(Cli& cli);
void addHistoryCommands(Cli& cli);
void addConnectionCommands(Cli& cli);
void addConnectionFieldsCommand(Cli& cli, CLI::App* connection);
void addSandboxCommands(Cli& cli);
void addDemoCommand(Cli& cli);
void addErrorsCommands(Cli& cli);
// `ferry flow history`: added to the `flow` group made by addFlowCommands.
void addFlowHistoryCommand(Cli& cli);

}  // namespace ferry::core::cli

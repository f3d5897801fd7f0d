// ferry errors: the error reference (core/errors/reference.cpp) as a table, JSON or Markdown.
#include <fstream>

#include "cli/cli.hpp"
#include "errors/reference.hpp"

namespace ferry::core::cli {

void addErrorsCommands(Cli& cli) {
  auto* errors = cli.app.add_subcommand("errors", "The reference of every error code ferry prints");
  errors->require_subcommand(1);

  struct ListOptions {
    std::string area;
    bool json = false;
  };
  auto list = std::make_shared<ListOptions>();
  auto* listCmd = errors->add_subcommand("list", "List the codes with their meaning and remedy");
  listCmd->add_option("--area", list->area,
                      "Only one area: validation, cli, plugin, run, kind, webhook, store, ghl, "
                      "umsatzio");
  listCmd->add_flag("--json", list->json, "Print JSON");
  listCmd->callback([&cli, list] {
    const auto& all = errors::areas();
    if (!list->area.empty() &&
        std::none_of(all.begin(), all.end(), [&](const auto& a) { return a.id == list->area; })) {
      std::vector<std::string> ids;
      for (const auto& a : all) {
        ids.emplace_back(a.id);
      }
      printError("--area", "usage", "no area '" + list->area + "'", "areas: " + join(ids, ", "));
      cli.exitCode = kUsage;
      return;
    }
    if (list->json) {
      auto json = errors::toJson();
      if (!list->area.empty()) {
        auto& areas = json["areas"];
        for (auto it = areas.begin(); it != areas.end();) {
          it = (*it)["id"] == list->area ? it + 1 : areas.erase(it);
        }
      }
      std::cout << json.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& a : all) {
      if (!list->area.empty() && a.id != list->area) {
        continue;
      }
      for (const auto& e : a.entries) {
        rows.push_back({std::string(a.id), std::string(e.code), std::string(e.meaning)});
      }
    }
    printTable({"AREA", "CODE", "MEANING"}, rows);
  });

  auto file = std::make_shared<std::string>();
  auto* exportCmd =
      errors->add_subcommand("export", "Write the reference as Markdown (docs/errors.md)");
  exportCmd->add_option("file", *file, "The file to write; - for standard output")->required();
  exportCmd->callback([&cli, file] {
    const auto text = errors::renderMarkdown();
    if (*file == "-") {
      std::cout << text;
      return;
    }
    std::ofstream out(*file, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      printError(*file, "export_failed", "cannot write the file",
                 "check that the directory exists and is writable");
      cli.exitCode = kFailure;
    }
  });
}

}  // namespace ferry::core::cli

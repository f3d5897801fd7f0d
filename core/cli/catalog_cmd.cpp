#include <iostream>

#include "catalog/export.hpp"
#include "catalog/spec_json.hpp"
#include "cli/cli.hpp"

namespace ferry::core::cli {

namespace {

using sdk::Json;

void printEntries(const std::vector<catalog::Entry>& entries) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : entries) {
    rows.push_back({e.operation->id, std::string(sdk::kindName(e.operation->kind)),
                    join(e.operation->scopes, ","), e.operation->summary});
  }
  printTable({"ID", "KIND", "SCOPES", "SUMMARY"}, rows);
}

Json entriesToJson(const std::vector<catalog::Entry>& entries) {
  Json ops = Json::array();
  for (const auto& e : entries) {
    Json j = catalog::operationToJson(*e.operation, false);
    j["connector"] = e.connector->id;
    ops.push_back(j);
  }
  return {{"operations", ops}};
}

void printFields(const sdk::Schema& schema, int indent) {
  for (const auto& f : schema) {
    std::cout << std::string(static_cast<std::size_t>(indent), ' ') << f.name << " ("
              << sdk::typeName(f.type) << (f.required ? ", required" : "") << ")";
    if (!f.description.empty()) {
      std::cout << "  " << f.description;
    }
    if (!f.enumValues.empty()) {
      std::cout << " [one of: " << join(f.enumValues, ", ") << "]";
    }
    if (f.defaultValue) {
      std::cout << " [default: " << f.defaultValue->dump() << "]";
    }
    std::cout << "\n";
    printFields(f.fields, indent + 2);
    if (f.items && !f.items->fields.empty()) {
      printFields(f.items->fields, indent + 2);
    }
  }
}

}  // namespace

void addCatalogCommands(Cli& cli) {
  auto* catalog = cli.app.add_subcommand("catalog", "Browse the operations of installed plugins");
  catalog->require_subcommand(1);

  // catalog list
  struct ListOptions {
    std::string connector;
    std::string kind;
    std::string scope;
    bool json = false;
  };
  auto list = std::make_shared<ListOptions>();
  auto* listCmd = catalog->add_subcommand("list", "List operations");
  listCmd->add_option("--connector", list->connector, "Only this connector's operations");
  listCmd->add_option("--kind", list->kind, "Only actions or triggers")
      ->check(CLI::IsMember({"action", "trigger"}));
  listCmd->add_option("--scope", list->scope, "Only operations that need this scope");
  listCmd->add_flag("--json", list->json, "Print JSON (stable, see docs/catalog-json.md)");
  listCmd->callback([&cli, list] {
    catalog::Filter filter;
    if (!list->connector.empty()) {
      const auto& cat = cli.catalog();
      if (cat.plugin(list->connector) == nullptr) {
        std::string nearest;
        std::size_t best = 0;
        for (const auto& p : cat.plugins()) {
          const auto d = catalog::editDistance(list->connector, p.spec().id);
          if (nearest.empty() || d < best) {
            nearest = p.spec().id;
            best = d;
          }
        }
        printError(list->connector, "unknown_connector", "no loaded plugin has this connector id",
                   nearest.empty()
                       ? "no plugin is loaded; ferry plugin list shows where ferry looks"
                       : "did you mean '" + nearest + "'?");
        cli.exitCode = kInvalid;
        return;
      }
      filter.connector = list->connector;
    }
    if (!list->kind.empty()) {
      filter.kind =
          list->kind == "action" ? sdk::OperationKind::Action : sdk::OperationKind::Trigger;
    }
    if (!list->scope.empty()) {
      filter.scope = list->scope;
    }
    const auto entries = cli.catalog().list(filter);
    if (list->json) {
      std::cout << entriesToJson(entries).dump(2) << "\n";
    } else {
      printEntries(entries);
    }
  });

  // catalog search
  struct SearchOptions {
    std::vector<std::string> words;
    bool json = false;
  };
  auto search = std::make_shared<SearchOptions>();
  auto* searchCmd = catalog->add_subcommand("search", "Find operations by words");
  searchCmd->add_option("words", search->words, "Words to look for")->required();
  searchCmd->add_flag("--json", search->json, "Print JSON");
  searchCmd->callback([&cli, search] {
    const auto entries = cli.catalog().search(search->words);
    if (search->json) {
      std::cout << entriesToJson(entries).dump(2) << "\n";
    } else if (entries.empty()) {
      std::cout << "No operation matches '" << join(search->words, " ") << "'.\n";
    } else {
      printEntries(entries);
    }
  });

  // catalog show
  struct ShowOptions {
    std::string id;
    bool json = false;
  };
  auto show = std::make_shared<ShowOptions>();
  auto* showCmd = catalog->add_subcommand("show", "Show one operation");
  showCmd->add_option("operation", show->id, "Operation id, e.g. ghl.contact.upsert")->required();
  showCmd->add_flag("--json", show->json, "Print JSON");
  showCmd->callback([&cli, show] {
    const auto& cat = cli.catalog();
    const auto entry = cat.find(show->id);
    if (entry.operation == nullptr) {
      const auto near = cat.closest(show->id, 1);
      printError(show->id, "unknown_operation", "no loaded plugin declares this operation",
                 near.empty() ? "ferry catalog list shows every operation"
                              : "did you mean '" + near.front() + "'?");
      cli.exitCode = kInvalid;
      return;
    }
    const auto& op = *entry.operation;
    if (show->json) {
      Json j = catalog::operationToJson(op, true);
      j["connector"] = entry.connector->id;
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::cout << op.id << " (" << sdk::kindName(op.kind) << ", " << entry.connector->name << " "
              << entry.connector->version << ")\n  " << op.summary << "\n";
    if (!op.description.empty()) {
      std::cout << "\n  " << op.description << "\n";
    }
    if (!op.method.empty()) {
      std::cout << "\nRequest: " << op.method << " " << op.path << "\n";
    }
    std::cout << "\nScopes: " << (op.scopes.empty() ? "(none)" : join(op.scopes, ", ")) << "\n";
    if (op.kind == sdk::OperationKind::Trigger) {
      std::cout << "Delivery: " << sdk::deliveryName(op.delivery) << "\n";
      if (!op.recordKey.empty()) {
        std::cout << "Record key: " << op.recordKey << "\n";
      }
      std::cout << "Coalesce: "
                << (op.coalesce ? "yes (each event is a full snapshot of its record; of several "
                                  "queued events of one record only the newest runs)"
                                : "no (every event runs)")
                << "\n";
    }
    std::cout << "\n" << (op.kind == sdk::OperationKind::Action ? "Inputs" : "Filters") << ":\n";
    printFields(op.input, 2);
    std::cout << "\n" << (op.kind == sdk::OperationKind::Action ? "Outputs" : "Event") << ":\n";
    printFields(op.output, 2);
    if (!op.examples.empty()) {
      const auto& ex = op.examples.front();
      std::cout << "\nExample: " << ex.title << "\n  input:  " << ex.input.dump()
                << "\n  output: " << ex.output.dump() << "\n";
    }
  });

  // catalog export
  auto exportDir = std::make_shared<std::string>();
  auto* exportCmd = catalog->add_subcommand(
      "export", "Write the catalog as catalog.json, README.md and one <connector>.md each");
  exportCmd->add_option("dir", *exportDir, "The directory to write into (created if needed)")
      ->required();
  exportCmd->footer(
      "The output depends only on the loaded plugins. The committed catalog/ "
      "folder is this export with only the bundled plugins loaded.");
  exportCmd->callback([&cli, exportDir] {
    try {
      const auto written = catalog::exportCatalog(cli.catalog(), *exportDir);
      const auto connectors = cli.catalog().plugins().size();
      const auto operations = cli.catalog().list().size();
      std::cout << "Wrote " << written.size() << " files to " << *exportDir << " (" << connectors
                << (connectors == 1 ? " connector, " : " connectors, ") << operations
                << (operations == 1 ? " operation" : " operations") << ").\n";
    } catch (const std::exception& e) {
      printError(*exportDir, "export_failed", e.what(), "check that the directory is writable");
      cli.exitCode = kFailure;
    }
  });
}

}  // namespace ferry::core::cli

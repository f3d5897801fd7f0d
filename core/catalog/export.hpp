#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"

namespace ferry::core::catalog {

// The files of an exported catalog: name (relative to the export directory) and content.
struct ExportFile {
  std::string name;
  std::string content;
};

// Renders the catalog as files: `catalog.json` (every connector with its full operations, the
// format of docs/catalog-json.md), `README.md` (an index of connectors and operations) and one
// `<connector>.md` per connector (operations table, then each operation's inputs, outputs,
// scopes and example). Connectors and operations are sorted by id, and nothing depends on where
// the plugins were loaded from or when, so the same plugins always give the same bytes. Pure.
std::vector<ExportFile> renderExport(const Catalog& catalog);

// Writes renderExport() into `dir` (created if needed), replacing files of the same name and
// leaving any other file alone. Returns the paths written. Throws std::runtime_error naming the
// file that could not be written.
std::vector<std::filesystem::path> exportCatalog(const Catalog& catalog,
                                                 const std::filesystem::path& dir);

}  // namespace ferry::core::catalog

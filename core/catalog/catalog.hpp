#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/sdk/spec.hpp"
#include "loader/loader.hpp"

namespace ferry::core::catalog {

// One operation in the catalog, with the connector that declares it.
struct Entry {
  const sdk::ConnectorSpec* connector = nullptr;
  const sdk::OperationSpec* operation = nullptr;
};

struct Filter {
  std::optional<std::string> connector;
  std::optional<sdk::OperationKind> kind;
  std::optional<std::string> scope;
};

// The registry of every operation of every loaded plugin. Immutable once built; safe to read
// from any thread. Holds the plugins, so their libraries stay loaded while it lives.
class Catalog {
 public:
  explicit Catalog(std::vector<loader::LoadedPlugin> plugins);

  const std::vector<loader::LoadedPlugin>& plugins() const { return plugins_; }
  const loader::LoadedPlugin* plugin(std::string_view connectorId) const;

  // The operation with this id, or an empty Entry.
  Entry find(std::string_view operationId) const;
  // Every operation matching the filter, sorted by id.
  std::vector<Entry> list(const Filter& filter = {}) const;
  // Operations matching all of `words`, best first: a word in the id counts most, then in the
  // summary, then in a field name or description.
  std::vector<Entry> search(const std::vector<std::string>& words) const;
  // Up to `n` operation ids closest to `id` by edit distance (for "did you mean").
  std::vector<std::string> closest(std::string_view id, std::size_t n = 1) const;

 private:
  std::vector<loader::LoadedPlugin> plugins_;
  std::vector<Entry> entries_;  // sorted by operation id
};

// Levenshtein distance, for suggestions.
std::size_t editDistance(std::string_view a, std::string_view b);

}  // namespace ferry::core::catalog

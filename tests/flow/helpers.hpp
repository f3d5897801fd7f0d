#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "catalog/catalog.hpp"
#include "flow/expr.hpp"
#include "loader/loader.hpp"

namespace ferry::core::flow::testing {

// The catalog of the fixture plugins: flowfix (Umsatz-io/GHL-shaped) and the test plugin.
inline const catalog::Catalog& fixtureCatalog() {
  static const catalog::Catalog catalog = [] {
    auto result = loader::scan({std::string(FERRY_FIXTURE_DIR) + "/flow_plugins",
                                std::string(FERRY_FIXTURE_DIR) + "/good"});
    return catalog::Catalog(std::move(result.plugins));
  }();
  return catalog;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string sourceDir() { return std::string(FERRY_SOURCE_DIR) + "/tests/flow"; }

}  // namespace ferry::core::flow::testing

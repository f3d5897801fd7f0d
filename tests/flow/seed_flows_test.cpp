// The flows shipped in flows/: they parse here always; they validate and their golden dry runs
// match against the real ghl and umsatzio plugins built beside the binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "flow/dates.hpp"
#include "flow/dry_run.hpp"
#include "flow/validate.hpp"
#include "helpers.hpp"

namespace ferry::core::flow {
namespace {

namespace fs = std::filesystem;
using testing::slurp;

const std::string kFlows = std::string(FERRY_SOURCE_DIR) + "/flows";

std::vector<std::string> seedFiles() {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(kFlows)) {
    if (e.path().extension() == ".yaml" && e.path().filename() != "ferry.example.yaml") {
      files.push_back(e.path().filename().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(SeedFlows, ParseWithoutErrorsAndEachHasAnEventGoldenAndPage) {
  const auto files = seedFiles();
  ASSERT_EQ(files.size(), 6u);
  std::vector<Diagnostic> diags;
  auto config =
      parseConfig(slurp(kFlows + "/ferry.example.yaml"), "flows/ferry.example.yaml", diags);
  ASSERT_TRUE(config.has_value());
  for (const auto& f : files) {
    auto flow = parseFlow(slurp(kFlows + "/" + f), "flows/" + f, diags);
    ASSERT_TRUE(flow.has_value()) << f;
    EXPECT_EQ(flow->id + ".yaml", f);
    EXPECT_TRUE(fs::exists(kFlows + "/events/" + flow->id + ".json")) << flow->id;
    EXPECT_TRUE(fs::exists(std::string(FERRY_SOURCE_DIR) + "/docs/flows/" + flow->id + ".md"))
        << flow->id;
    EXPECT_TRUE(config->find(flow->trigger.connection) != nullptr) << f;
    for (const auto& s : flow->steps) {
      EXPECT_TRUE(config->find(s.connection) != nullptr) << f << " step " << s.id;
    }
  }
  EXPECT_EQ(formatText(diags), "");
}

TEST(SeedFlows, ValidateAndMatchGoldenDryRuns) {
  auto scanned = loader::scan({std::string(FERRY_BINARY_DIR) + "/lib/ferry/plugins"});
  catalog::Catalog catalog(std::move(scanned.plugins));
  if (catalog.plugin("ghl") == nullptr || catalog.plugin("umsatzio") == nullptr) {
    FAIL() << "The ghl and umsatzio plugins must be built beside the binary "
              "(build/dev/lib/ferry/plugins): the seed flows are validated against them.";
  }
  std::vector<Diagnostic> diags;
  auto config =
      parseConfig(slurp(kFlows + "/ferry.example.yaml"), "flows/ferry.example.yaml", diags);
  std::vector<Flow> flows;
  for (const auto& f : seedFiles()) {
    flows.push_back(*parseFlow(slurp(kFlows + "/" + f), "flows/" + f, diags));
  }
  validate(flows, catalog, &*config, diags);
  ASSERT_EQ(formatText(diags), "");
  const bool update = std::getenv("FERRY_UPDATE_GOLDEN") != nullptr;
  for (const auto& flow : flows) {
    DryRunOptions options;
    options.event = Json::parse(slurp(kFlows + "/events/" + flow.id + ".json"));
    options.now = dates::parse("2026-11-26T10:00:00Z", "")->time;
    MemoryCorrelations correlations;
    correlations.put("contact", "4711", "ghl-contact-4711");  // see docs/flows/*.md
    options.correlations = &correlations;
    const auto run = dryRun(flow, catalog, &*config, options);
    const auto text = formatDryRun(run);
    const auto golden = std::string(FERRY_SOURCE_DIR) + "/tests/flow/golden/seed/" + flow.id + ".txt";
    if (update) {
      std::ofstream(golden) << text;
    }
    EXPECT_EQ(text, slurp(golden)) << flow.id;
    for (const auto& s : run.steps) {
      EXPECT_EQ(s.error, "") << flow.id << " step " << s.id;
    }
  }
}

}  // namespace
}  // namespace ferry::core::flow

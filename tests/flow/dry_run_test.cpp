// Dry runs: the real fixture plugin's actions run with a recording HttpClient; the output is
// compared with a golden file. Also the `ferry flow` CLI, run as a real process.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "flow/dates.hpp"
#include "flow/dry_run.hpp"
#include "flow/files.hpp"
#include "flow/validate.hpp"
#include "helpers.hpp"

namespace ferry::core::flow {
namespace {

using testing::fixtureCatalog;
using testing::slurp;
using testing::sourceDir;

const auto kNow = dates::parse("2026-11-26T10:00:00Z", "") -> time;

struct Loaded {
  std::vector<Flow> flows;
  Config config;
};

Loaded load(const std::string& file, const std::string& other = "") {
  std::vector<Diagnostic> diags;
  Loaded l;
  l.config = *parseConfig(slurp(sourceDir() + "/ferry.yaml"), "ferry.yaml", diags);
  for (const auto& f : {file, other}) {
    if (f.empty()) {
      continue;
    }
    auto flow = parseFlow(slurp(sourceDir() + "/" + f), f, diags);
    if (!flow) {
      ADD_FAILURE() << formatText(diags);
      return l;
    }
    l.flows.push_back(std::move(*flow));
  }
  validate(l.flows, fixtureCatalog(), &l.config, diags);
  EXPECT_TRUE(diags.empty()) << formatText(diags);
  return l;
}

void compareGolden(const std::string& actual, const std::string& golden) {
  const auto path = sourceDir() + "/golden/" + golden;
  if (std::getenv("FERRY_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << actual;
  }
  EXPECT_EQ(actual, slurp(path)) << "golden " << golden;
}

TEST(DryRun, ContactSyncMatchesGolden) {
  auto l = load("valid/contact-sync.yaml");
  ASSERT_EQ(l.flows.size(), 1u);
  DryRunOptions options;
  options.event = Json::parse(slurp(sourceDir() + "/events/contact.json"));
  options.now = kNow;
  MemoryCorrelations correlations;
  options.correlations = &correlations;
  const auto run = dryRun(l.flows[0], fixtureCatalog(), &l.config, options);
  compareGolden(formatDryRun(run), "contact-sync.txt");

  ASSERT_EQ(run.steps.size(), 3u);
  const auto& upsert = run.steps[0];
  EXPECT_TRUE(upsert.ran);
  EXPECT_EQ(upsert.inputs["phone"], "+491711234567");
  EXPECT_EQ(upsert.inputs["email"], "anna.schmidt@example.de");
  EXPECT_EQ(upsert.inputs["lastName"], "Schmidt");
  ASSERT_EQ(upsert.exchanges.size(), 1u);
  const auto& req = upsert.exchanges[0].request;
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url, "https://services.example.test/contacts/upsert");
  EXPECT_EQ(req.header("Authorization"), "Bearer ***");
  EXPECT_EQ(Json::parse(req.body)["locationId"], "loc-123");  // filled by the plugin
  EXPECT_EQ(upsert.exchanges[0].response.status, 201);
  // the correlation was recorded from the synthetic output
  EXPECT_EQ(correlations.find("contact", "1001"), "ghl-c-1");
  // the second step saw the first one's output
  EXPECT_EQ(run.steps[1].inputs["contactId"], "ghl-c-1");
  EXPECT_EQ(run.steps[1].inputs["dueDate"], "2026-11-28T10:00:00Z");
  EXPECT_EQ(run.steps[1].exchanges[0].request.url,
            "https://services.example.test/contacts/ghl-c-1/tasks");
  // the third step's condition is false: nothing sent
  EXPECT_FALSE(run.steps[2].ran);
  EXPECT_TRUE(run.steps[2].exchanges.empty());
  const auto text = formatDryRun(run);
  EXPECT_EQ(text.find("ferry-dry-run-secret"), std::string::npos);
}

TEST(DryRun, InvalidInputsStopTheRunWithAReason) {
  // correlate() finds nothing, so the required contactId is missing
  auto l = load("valid/fallback-main.yaml", "valid/fallback-rescue.yaml");
  ASSERT_EQ(l.flows.size(), 2u);
  DryRunOptions options;
  options.event = {{"id", "n-1"}, {"contactId", "1001"}, {"description", "[]"}};
  options.now = kNow;
  const auto run = dryRun(l.flows[0], fixtureCatalog(), &l.config, options);
  ASSERT_EQ(run.steps.size(), 1u);
  EXPECT_EQ(run.steps[0].error,
            "the inputs do not validate: required field 'contactId' is missing");
  EXPECT_TRUE(run.steps[0].exchanges.empty());
}

TEST(DryRun, EventNotMatchingTheTriggerIsReported) {
  auto l = load("valid/fallback-rescue.yaml");
  ASSERT_EQ(l.flows.size(), 1u);
  DryRunOptions options;
  options.event = {{"id", 7}, {"contactId", "1001"}};
  options.now = kNow;
  const auto run = dryRun(l.flows[0], fixtureCatalog(), &l.config, options);
  ASSERT_EQ(run.eventIssues.size(), 1u);
  EXPECT_EQ(run.eventIssues[0], "field 'id' must be a string, got number");
  EXPECT_EQ(toJson(run)["steps"][0]["inputs"]["contactId"], "unassigned");
}

// Runs the real binary with FERRY_PLUGIN_PATH pointing at the fixture plugins.
struct Result {
  int status;
  std::string out;
};
Result ferry(const std::string& args) {
  const std::string cmd =
      "cd " + sourceDir() + " && FERRY_PLUGIN_PATH=" + std::string(FERRY_FIXTURE_DIR) +
      "/flow_plugins " + std::string(FERRY_BINARY_DIR) + "/bin/ferry " + args + " 2>&1";
  Result r{0, {}};
  FILE* pipe = popen(cmd.c_str(), "r");
  char buf[4096];
  while (auto n = fread(buf, 1, sizeof buf, pipe)) {
    r.out.append(buf, n);
  }
  r.status = WEXITSTATUS(pclose(pipe));
  return r;
}

TEST(FlowCli, ValidateExitsThreeWithAllErrors) {
  auto r = ferry(
      "flow validate invalid/missing_scope.yaml invalid/unknown_input.yaml "
      "--config ferry.yaml");
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.out, slurp(sourceDir() + "/invalid/missing_scope.expected") +
                       slurp(sourceDir() + "/invalid/unknown_input.expected") +
                       "3 errors found.\n");
}

TEST(FlowCli, ValidateJson) {
  auto r = ferry("flow validate invalid/missing_scope.yaml --config ferry.yaml --json");
  EXPECT_EQ(r.status, 3);
  const auto j = Json::parse(r.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["errors"][0]["code"], "missing_scope");
  EXPECT_EQ(j["errors"][0]["line"], 9);
  r = ferry("flow validate valid/contact-sync.yaml --config ferry.yaml --json");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(Json::parse(r.out)["flows"][0], "contact-sync");
}

TEST(FlowCli, TestPrintsTheGoldenDryRun) {
  auto r = ferry(
      "flow test valid/contact-sync.yaml --event events/contact.json "
      "--config ferry.yaml --now 2026-11-26T10:00:00Z");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, slurp(sourceDir() + "/golden/contact-sync.txt"));
  r = ferry("flow test valid/contact-sync.yaml --event events/missing.json --config ferry.yaml");
  EXPECT_EQ(r.status, 3);
  r = ferry("flow test valid/fallback-main.yaml --event events/contact.json --config ferry.yaml");
  EXPECT_EQ(r.status, 3);  // the fallback flow was not given
  EXPECT_NE(r.out.find("error[unknown_flow]"), std::string::npos);
  r = ferry(
      "flow test valid/fallback-main.yaml valid/fallback-rescue.yaml --correlation "
      "contact:1001=ghl-9 --event events/note.json --config ferry.yaml --json");
  EXPECT_EQ(r.status, 0) << r.out;
  const auto j = Json::parse(r.out);
  EXPECT_EQ(j["steps"][0]["inputs"],
            Json::parse(R"({"body":"Angebot geschickt\n- Preis klären","contactId":"ghl-9"})"));
  EXPECT_EQ(j["steps"][0]["exchanges"][0]["request"]["url"],
            "https://services.example.test/contacts/ghl-9/notes");
}

}  // namespace
}  // namespace ferry::core::flow

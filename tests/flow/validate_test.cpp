// Static validation: the corpus of invalid flows (one per error code, golden output compared
// exactly), multi-file checks (fallback cycles, duplicate ids), config parsing, valid flows.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "flow/files.hpp"
#include "flow/validate.hpp"
#include "helpers.hpp"

namespace ferry::core::flow {
namespace {

namespace fs = std::filesystem;
using testing::fixtureCatalog;
using testing::slurp;
using testing::sourceDir;

Config corpusConfig() {
  std::vector<Diagnostic> diags;
  auto config = parseConfig(slurp(sourceDir() + "/ferry.yaml"), "ferry.yaml", diags);
  EXPECT_TRUE(diags.empty()) << formatText(diags);
  return std::move(*config);
}

// Parses and validates files given relative to tests/flow; diagnostics name them that way.
std::vector<Diagnostic> check(const std::vector<std::string>& files, const Config* config) {
  std::vector<Diagnostic> diags;
  std::vector<Flow> flows;
  for (const auto& f : files) {
    if (auto flow = parseFlow(slurp(sourceDir() + "/" + f), f, diags)) {
      flows.push_back(std::move(*flow));
    }
  }
  validate(flows, fixtureCatalog(), config, diags);
  sortDiagnostics(diags);
  return diags;
}

// invalid/<name>.yaml (with invalid/<name>.<n>.yaml validated together) against
// invalid/<name>.expected. FERRY_UPDATE_GOLDEN=1 rewrites the expected files.
std::map<std::string, std::vector<std::string>> corpus() {
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& entry : fs::directory_iterator(sourceDir() + "/invalid")) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".yaml") {
      continue;
    }
    const auto base = name.substr(0, name.find('.'));
    groups[base].push_back("invalid/" + name);
  }
  for (auto& [_, files] : groups) {
    std::sort(files.begin(), files.end(), [](const std::string& a, const std::string& b) {
      return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
  }
  return groups;
}

TEST(FlowCorpus, EveryInvalidFlowGivesItsGoldenErrors) {
  const auto config = corpusConfig();
  const bool update = std::getenv("FERRY_UPDATE_GOLDEN") != nullptr;
  const auto groups = corpus();
  ASSERT_GE(groups.size(), 25u);
  for (const auto& [name, files] : groups) {
    const auto diags = check(files, &config);
    const auto text = formatText(diags);
    const auto expectedPath = sourceDir() + "/invalid/" + name + ".expected";
    if (update) {
      std::ofstream(expectedPath) << text;
    }
    EXPECT_EQ(text, slurp(expectedPath)) << "corpus file invalid/" << name << ".yaml";
    EXPECT_FALSE(diags.empty()) << name;
    for (const auto& d : diags) {
      EXPECT_TRUE(isKnownCode(d.code)) << d.code;
      EXPECT_FALSE(d.hint.empty()) << name << ": " << d.message;
    }
    // A file named after an error code must produce that code.
    if (isKnownCode(name)) {
      EXPECT_TRUE(std::any_of(diags.begin(), diags.end(),
                              [&](const Diagnostic& d) { return d.code == name; }))
          << name << " does not produce its own code";
    }
  }
}

TEST(FlowCorpus, EveryErrorCodeHasACorpusFile) {
  const auto groups = corpus();
  for (const auto& code : kErrorCodes) {
    if (code.code == "io_error" || code.code == "config_error") {
      continue;  // a file that cannot be read / a config: tested below
    }
    EXPECT_TRUE(groups.count(std::string(code.code)) == 1) << "no corpus file for " << code.code;
  }
}

TEST(FlowCorpus, MultiErrorFileReportsEveryError) {
  const auto config = corpusConfig();
  const auto diags = check({"invalid/multi_error.yaml"}, &config);
  std::set<std::string> codes;
  for (const auto& d : diags) {
    codes.insert(d.code);
  }
  for (const char* code : {"bad_value", "unknown_operation", "secret_in_flow", "unknown_field",
                           "wrong_arity", "unknown_function", "missing_scope", "type_mismatch",
                           "unknown_connection", "missing_input"}) {
    EXPECT_TRUE(codes.count(code) == 1) << "missing " << code << "\n" << formatText(diags);
  }
  // Sorted by place.
  for (std::size_t i = 1; i < diags.size(); ++i) {
    EXPECT_LE(diags[i - 1].at.line, diags[i].at.line);
  }
}

TEST(FlowValidation, ValidFlowsHaveNoErrors) {
  const auto config = corpusConfig();
  auto diags =
      check({"valid/contact-sync.yaml", "valid/fallback-main.yaml", "valid/fallback-rescue.yaml"},
            &config);
  EXPECT_EQ(formatText(diags), "");
}

TEST(FlowValidation, FallbackToAFlowNotGivenIsUnknown) {
  const auto config = corpusConfig();
  auto diags = check({"valid/fallback-main.yaml"}, &config);
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].code, "unknown_flow");
  EXPECT_EQ(diags[0].at.line, 14);
}

TEST(FlowValidation, FallbackCycleAcrossTwoFilesIsReportedOnce) {
  const auto config = corpusConfig();
  auto diags = check({"invalid/fallback_cycle.yaml", "invalid/fallback_cycle.2.yaml"}, &config);
  int cycles = 0;
  for (const auto& d : diags) {
    cycles += d.code == "fallback_cycle" ? 1 : 0;
  }
  EXPECT_EQ(cycles, 2) << formatText(diags);  // a -> b -> a, and b -> b
}

TEST(FlowValidation, ScopesNameTheMissingScope) {
  const auto config = corpusConfig();
  auto diags = check({"invalid/missing_scope.yaml"}, &config);
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].message,
            "'flowfix.contact.upsert' needs scope 'contacts.write', which connection 'readonly' "
            "is not granted (granted: contacts.readonly)");
}

TEST(FlowValidation, WithoutAConfigConnectionsAreNotChecked) {
  auto diags = check({"invalid/missing_scope.yaml"}, nullptr);
  // locationId is no longer filled from a connection setting, so it is missing.
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].code, "missing_input");
}

TEST(FlowValidation, ExpressionsGetStaticTypes) {
  std::vector<Diagnostic> diags;
  std::vector<Flow> flows;
  flows.push_back(*parseFlow(slurp(sourceDir() + "/valid/contact-sync.yaml"), "f", diags));
  const auto config = corpusConfig();
  validate(flows, fixtureCatalog(), &config, diags);
  ASSERT_TRUE(diags.empty()) << formatText(diags);
  const auto& with = flows[0].steps[1].with;
  for (const auto& [key, value] : with.members) {
    if (key == "dueDate") {
      EXPECT_EQ(value.text.parts[0].expr->type.kind, StaticType::DateTime);
    }
    if (key == "contactId") {
      EXPECT_EQ(value.text.parts[0].expr->type.kind, StaticType::String);
      EXPECT_TRUE(value.text.parts[0].expr->type.nullable);
    }
  }
}

// What a step's on_error leaves unset (attempts, first delay) is left to the config's
// limits.retry; the no-retry policies allow one attempt.
TEST(FlowOnError, UnsetRetrySettingsAreLeftToTheConfig) {
  const std::string head =
      "version: 1\nid: f\ntrigger: {use: test.message.received, connection: t}\nsteps:\n"
      "  - id: s\n    use: test.message.send\n    connection: t\n    with: {text: x}\n";
  auto parse = [&](const std::string& onError) {
    std::vector<Diagnostic> diags;
    auto flow = parseFlow(head + onError, "f.yaml", diags);
    EXPECT_TRUE(flow && diags.empty()) << onError << "\n" << formatText(diags);
    return flow ? flow->steps.at(0).onError : OnError{};
  };
  for (const std::string absent : {"", "    on_error: retry\n", "    on_error: {retry: {}}\n"}) {
    const auto o = parse(absent);
    EXPECT_FALSE(o.maxAttempts.has_value()) << absent;
    EXPECT_FALSE(o.delay.has_value()) << absent;
    EXPECT_EQ(o.then, OnError::Policy::DeadLetter) << absent;
  }
  const auto given = parse("    on_error: {retry: {max_attempts: 3, delay: 250ms}, then: skip}\n");
  EXPECT_EQ(given.maxAttempts, 3);
  EXPECT_EQ(given.delay, std::chrono::milliseconds(250));
  EXPECT_EQ(given.then, OnError::Policy::Skip);
  EXPECT_EQ(parse("    on_error: skip\n").maxAttempts, 1);
  EXPECT_EQ(parse("    on_error: dead_letter\n").maxAttempts, 1);
  EXPECT_EQ(parse("    on_error: {then: skip}\n").maxAttempts, 1);
}

TEST(FlowFiles, UnreadableFileIsAnIoError) {
  std::vector<Diagnostic> diags;
  auto flows = loadFlowFiles({"/nonexistent/flow.yaml"}, diags);
  EXPECT_TRUE(flows.empty());
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(formatText(diags),
            "/nonexistent/flow.yaml: error[io_error]: cannot read the flow file\n"
            "hint: check the path and its permissions\n");
}

TEST(FlowConfig, ParsesConnections) {
  const auto config = corpusConfig();
  const auto* ghl = config.find("ghl");
  ASSERT_NE(ghl, nullptr);
  EXPECT_EQ(ghl->connection.plugin, "flowfix");
  EXPECT_EQ(ghl->connection.baseUrl, "https://services.example.test");
  EXPECT_EQ(ghl->connection.auth, "private_token");
  EXPECT_EQ(ghl->connection.settings["location_id"], "loc-123");
  EXPECT_EQ(ghl->connection.scopes,
            (std::vector<std::string>{"contacts.readonly", "contacts.write"}));
  EXPECT_EQ(config.find("readonly")->connection.scopes,
            std::vector<std::string>{"contacts.readonly"});
  EXPECT_TRUE(settingFills(ghl->connection, "locationId"));
  EXPECT_TRUE(settingFills(ghl->connection, "location_id"));
  EXPECT_FALSE(settingFills(ghl->connection, "contactId"));
}

TEST(FlowConfig, ReportsBadConnectionsAndSecrets) {
  std::vector<Diagnostic> diags;
  auto config = parseConfig(
      "connections:\n"
      "  a:\n"
      "    scopes: {x: 1}\n"
      "    token: pit-123\n"
      "    colour: red\n"
      "  b: nothing\n",
      "ferry.yaml", diags);
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(formatText(diags),
            "ferry.yaml:4:5: error[secret_in_flow]: 'token' looks like a secret, and secrets "
            "never go in ferry.yaml\n"
            "hint: put it in the environment or the credentials file (`ferry connection add`)\n"
            "ferry.yaml:5:5: error[config_error]: unknown key 'colour' in connection 'a'\n"
            "hint: allowed keys: plugin, scopes, base_url, auth, settings, secrets, rate_limit\n"
            "ferry.yaml:2:3: error[config_error]: connection 'a' has no `plugin:`\n"
            "hint: name the plugin it uses: `plugin: ghl`\n"
            "ferry.yaml:3:13: error[config_error]: `scopes:` must be a list\n"
            "hint: write `scopes: [contacts.readonly, contacts.write]`\n"
            "ferry.yaml:6:6: error[config_error]: connection 'b' must be a mapping\n"
            "hint: write `plugin:`, `scopes:`, `base_url:`, `auth:` and `settings:` under it\n");
  diags.clear();
  EXPECT_FALSE(parseConfig("connections: [", "c.yaml", diags).has_value());
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].code, "yaml_syntax");
}

TEST(FlowErrors, CodesAreUniqueAndDocumented) {
  std::set<std::string_view> seen;
  const auto doc = slurp(std::string(FERRY_SOURCE_DIR) + "/docs/flow-format.md");
  for (const auto& c : kErrorCodes) {
    EXPECT_TRUE(seen.insert(c.code).second) << c.code;
    EXPECT_NE(doc.find("`" + std::string(c.code) + "`"), std::string::npos)
        << c.code << " is not documented in docs/flow-format.md";
  }
}

TEST(FlowJson, DiagnosticsAsJson) {
  std::vector<Diagnostic> diags = {{"f.yaml", {3, 7}, "unknown_key", "unknown key 'x'", "allowed"}};
  EXPECT_EQ(toJson(diags).dump(),
            R"({"errors":[{"code":"unknown_key","column":7,"file":"f.yaml","hint":"allowed",)"
            R"("line":3,"message":"unknown key 'x'"}]})");
}

}  // namespace
}  // namespace ferry::core::flow

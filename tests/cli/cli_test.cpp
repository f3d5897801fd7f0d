// Runs the real `ferry` binary and checks exit codes, messages and --json output.
#include <gtest/gtest.h>

#include "ferry/sdk/json.hpp"
#include "run.hpp"

namespace ferry::cli {
namespace {

namespace fs = std::filesystem;
using sdk::Json;

const fs::path kFerry = fs::path(FERRY_BINARY_DIR) / "bin" / "ferry";
const fs::path kFixtures = fs::path(FERRY_FIXTURE_DIR);

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::path(FERRY_BINARY_DIR) / "tests" / "tmp" / (std::string("Cli.") + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "home");
    // A private copy of the binary, so that the plugins bundled beside the real one (GHL,
    // Umsatz-io, ...) are not loaded: these tests see only the plugins they choose.
    fs::create_directories(root_ / "prefix" / "bin");
    ferry_ = root_ / "prefix" / "bin" / "ferry";
    fs::copy_file(kFerry, ferry_);
    env_ = {{"FERRY_HOME", (root_ / "home").string()},
            {"FERRY_PLUGIN_PATH", ""},
            {"XDG_DATA_HOME", ""}};
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  testing::Run ferry(const std::vector<std::string>& args) {
    return testing::runProgram(ferry_.string(), args, env_, root_ / "run");
  }
  // Loads the test plugin through FERRY_PLUGIN_PATH.
  void withTestPlugin() { env_["FERRY_PLUGIN_PATH"] = (kFixtures / "good").string(); }

  fs::path root_;
  fs::path ferry_;
  std::map<std::string, std::string> env_;
};

const std::vector<std::pair<std::string, std::string>> kBroken = {
    {"not_elf.so", "not_elf"},
    {"no_entry_point.so", "no_entry_point"},
    {"abi_mismatch.so", "abi_mismatch"},
    {"unresolved_symbol.so", "load_failed"},
    {"factory_throws.so", "factory_threw"},
    {"bad_spec.so", "bad_spec"}};

TEST_F(Cli, HelpEverywhere) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--help"},
                                                                {"plugin", "--help"},
                                                                {"plugin", "list", "--help"},
                                                                {"plugin", "inspect", "--help"},
                                                                {"plugin", "install", "--help"},
                                                                {"plugin", "remove", "--help"},
                                                                {"catalog", "--help"},
                                                                {"catalog", "list", "--help"},
                                                                {"catalog", "search", "--help"},
                                                                {"catalog", "show", "--help"},
                                                                {"catalog", "export", "--help"}}) {
    const auto run = ferry(args);
    EXPECT_EQ(run.exitCode, 0) << args.front();
    EXPECT_TRUE(contains(run.out, "Usage:")) << run.out;
  }
  EXPECT_TRUE(contains(ferry({"--help"}).out, "--log-format"));
}

TEST_F(Cli, Version) {
  const auto run = ferry({"--version"});
  EXPECT_EQ(run.exitCode, 0);
  EXPECT_TRUE(contains(run.out, "ferry 0.1.0")) << run.out;
}

TEST_F(Cli, UsageErrorsExitWithTwoAndAHint) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "ferry: error[usage]:"},
      {{"frobnicate"}, "ferry: error[usage]: unknown command 'frobnicate'"},
      {{"plugin", "bogus"}, "ferry plugin: error[usage]: unknown command 'bogus'"},
      {{"plugin"}, "ferry plugin: error[usage]:"},
      {{"plugin", "install"}, "ferry plugin install: error[usage]: file is required"},
      {{"plugin", "remove"}, "ferry plugin remove: error[usage]:"},
      {{"catalog", "show"}, "ferry catalog show: error[usage]:"},
      {{"catalog", "list", "--kind", "nope"}, "ferry catalog list: error[usage]:"},
      {{"catalog", "list", "--bogus"}, "ferry catalog list: error[usage]:"},
      {{"--log-level", "loud", "catalog", "list"}, "error[usage]:"},
      {{"--log-format", "xml", "catalog", "list"}, "error[usage]:"}};
  for (const auto& [args, expected] : cases) {
    const auto run = ferry(args);
    std::string joined;
    for (const auto& a : args) {
      joined += a + " ";
    }
    EXPECT_EQ(run.exitCode, 2) << joined << run.err;
    EXPECT_TRUE(contains(run.err, expected)) << joined << "\n" << run.err;
    EXPECT_TRUE(contains(run.err, "\nhint: ")) << joined << "\n" << run.err;
    EXPECT_TRUE(run.out.empty()) << joined << run.out;
  }
}

TEST_F(Cli, AnUnknownCommandListsTheKnownOnes) {
  const auto run = ferry({"plugin", "bogus"});
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_TRUE(contains(run.err,
                       "hint: the commands of 'ferry plugin' are: list, inspect, install, "
                       "remove"))
      << run.err;
  EXPECT_TRUE(contains(ferry({"--help"}).out, "catalog"));
  EXPECT_TRUE(contains(ferry({"frobnicate"}).err, "hint: run 'ferry --help'") ||
              contains(ferry({"frobnicate"}).err, "hint: the commands of 'ferry' are: "));
}

TEST_F(Cli, InspectRefusesEveryBrokenLibraryWithExitThree) {
  for (const auto& [file, code] : kBroken) {
    const auto path = (kFixtures / "broken" / file).string();
    const auto run = ferry({"plugin", "inspect", path});
    EXPECT_EQ(run.exitCode, 3) << file << run.err;
    const auto err = lines(run.err);
    ASSERT_EQ(err.size(), 2u) << run.err;
    EXPECT_EQ(err[0].rfind(path + ": error[" + code + "]: ", 0), 0u) << err[0];
    EXPECT_EQ(err[1].rfind("hint: ", 0), 0u) << err[1];
    EXPECT_TRUE(run.out.empty());
  }
}

TEST_F(Cli, InstallRefusesEveryBrokenLibraryAndChangesNothing) {
  for (const auto& [file, code] : kBroken) {
    const auto path = (kFixtures / "broken" / file).string();
    const auto run = ferry({"plugin", "install", path});
    EXPECT_EQ(run.exitCode, 3) << file << run.err;
    EXPECT_EQ(run.err.rfind(path + ": error[" + code + "]: ", 0), 0u) << run.err;
    EXPECT_TRUE(contains(run.err, "\nhint: ")) << run.err;
    EXPECT_FALSE(fs::exists(root_ / "home" / "plugins")) << file << " created the plugin dir";
  }
}

TEST_F(Cli, TheUnresolvedSymbolIsNamed) {
  const auto run =
      ferry({"plugin", "inspect", (kFixtures / "broken" / "unresolved_symbol.so").string()});
  EXPECT_EQ(run.exitCode, 3);
  EXPECT_TRUE(contains(run.err, "undefined symbol: ferry_fixture_defined_nowhere")) << run.err;
}

TEST_F(Cli, DuplicatesAreWarnedAboutWithBothPathsAndLeftOut) {
  env_["FERRY_PLUGIN_PATH"] = (kFixtures / "duplicate").string();
  const auto run = ferry({"plugin", "list", "--json"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(Json::parse(run.out)["plugins"], Json::array());
  const auto a = (kFixtures / "duplicate" / "duplicate_a.so").string();
  const auto b = (kFixtures / "duplicate" / "duplicate_b.so").string();
  const auto err = lines(run.err);
  ASSERT_EQ(err.size(), 2u) << run.err;
  for (const auto& line : err) {
    EXPECT_TRUE(contains(line, "code=duplicate")) << line;
    EXPECT_TRUE(contains(line, a)) << line;
    EXPECT_TRUE(contains(line, b)) << line;
  }
}

TEST_F(Cli, BrokenLibrariesOnThePathLeaveTheCatalogUnchanged) {
  env_["FERRY_PLUGIN_PATH"] = (kFixtures / "good").string();
  const auto alone = ferry({"catalog", "list", "--json"});
  env_["FERRY_PLUGIN_PATH"] = (kFixtures / "broken").string() + ":" + (kFixtures / "good").string();
  const auto mixed = ferry({"catalog", "list", "--json"});
  EXPECT_EQ(mixed.exitCode, 0);
  EXPECT_EQ(mixed.out, alone.out);
  EXPECT_EQ(lines(mixed.err).size(), kBroken.size()) << mixed.err;
}

TEST_F(Cli, JsonLogLinesAreValidJsonEvenWithQuotes) {
  const auto dir = root_ / "odd";
  fs::create_directories(dir);
  fs::copy_file(kFixtures / "broken" / "not_elf.so", dir / "say \"hi\" \\ there.so");
  env_["FERRY_PLUGIN_PATH"] = dir.string();
  const auto run = ferry({"--log-format", "json", "plugin", "list"});
  EXPECT_EQ(run.exitCode, 0);
  const auto err = lines(run.err);
  ASSERT_EQ(err.size(), 1u) << run.err;
  const auto line = Json::parse(err[0]);
  EXPECT_EQ(line["level"], "warn");
  EXPECT_EQ(line["code"], "not_elf");
  EXPECT_EQ(line["path"], (dir / "say \"hi\" \\ there.so").string());
  EXPECT_TRUE(line["msg"].is_string());
  // --log-level debug also says which plugins were loaded.
  env_["FERRY_PLUGIN_PATH"] = dir.string() + ":" + (kFixtures / "good").string();
  const auto debug = ferry({"--log-format", "json", "--log-level", "debug", "plugin", "list"});
  bool loaded = false;
  for (const auto& l : lines(debug.err)) {
    const auto j = Json::parse(l);
    loaded = loaded || (j["msg"] == "Plugin loaded." && j["id"] == "test" && j["level"] == "debug");
  }
  EXPECT_TRUE(loaded) << debug.err;
  // --log-level error silences the warning.
  EXPECT_TRUE(ferry({"--log-level", "error", "plugin", "list"}).err.empty());
}

TEST_F(Cli, InstallListAndRemove) {
  const auto library = (kFixtures / "good" / "test_plugin.so").string();
  auto run = ferry({"plugin", "install", library});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "Installed 'test' 1.0.0")) << run.out;
  const auto installed = root_ / "home" / "plugins" / "test.so";
  EXPECT_TRUE(fs::exists(installed));
  const auto lock = Json::parse(testing::slurp(root_ / "home" / "plugins" / "plugins.lock.json"));
  EXPECT_EQ(lock["plugins"][0]["id"], "test");
  EXPECT_EQ(lock["plugins"][0]["sha256"].get<std::string>().size(), 64u);

  run = ferry({"plugin", "list"});
  EXPECT_EQ(run.exitCode, 0);
  const auto table = lines(run.out);
  ASSERT_EQ(table.size(), 2u) << run.out;
  EXPECT_TRUE(contains(table[0], "SOURCE")) << table[0];
  EXPECT_TRUE(contains(table[1], "user")) << table[1];
  EXPECT_TRUE(contains(table[1], installed.string())) << table[1];
  const auto listed = Json::parse(ferry({"plugin", "list", "--json"}).out);
  EXPECT_EQ(listed["plugins"][0]["source"], "user");
  EXPECT_EQ(listed["plugins"][0]["path"], installed.string());

  EXPECT_TRUE(contains(ferry({"catalog", "list"}).out, "test.message.send"));

  run = ferry({"plugin", "install", library});
  EXPECT_EQ(run.exitCode, 0);
  EXPECT_TRUE(contains(run.out, "Reinstalled 'test' 1.0.0")) << run.out;

  run = ferry({"plugin", "remove", "test"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "Removed 'test' 1.0.0.")) << run.out;
  EXPECT_FALSE(fs::exists(installed));
  EXPECT_FALSE(contains(ferry({"catalog", "list"}).out, "test.message.send"));

  run = ferry({"plugin", "remove", "test"});
  EXPECT_EQ(run.exitCode, 3);
  EXPECT_EQ(run.err.rfind("test: error[not_installed]: ", 0), 0u) << run.err;
  EXPECT_TRUE(contains(run.err, "\nhint: ")) << run.err;
}

TEST_F(Cli, RemovingAPluginFromThePathPointsToWhereItComesFrom) {
  withTestPlugin();
  const auto run = ferry({"plugin", "remove", "test"});
  EXPECT_EQ(run.exitCode, 3);
  EXPECT_TRUE(contains(
      run.err, "hint: 'test' is loaded from " + (kFixtures / "good" / "test_plugin.so").string()))
      << run.err;
}

TEST_F(Cli, InspectAFileOrAnId) {
  withTestPlugin();
  auto run = ferry({"plugin", "inspect", "test"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "test 1.0.0 (Test)")) << run.out;
  EXPECT_TRUE(contains(run.out, "test.message.send")) << run.out;
  EXPECT_TRUE(contains(run.out, "Operations (1 actions, 1 triggers)")) << run.out;
  run = ferry({"plugin", "inspect", "--json", (kFixtures / "good" / "test_plugin.so").string()});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  const auto j = Json::parse(run.out);
  EXPECT_EQ(j["id"], "test");
  EXPECT_EQ(j["operations"].size(), 2u);
  run = ferry({"plugin", "inspect", "nope"});
  EXPECT_EQ(run.exitCode, 3);
  EXPECT_EQ(run.err.rfind("nope: error[unknown_plugin]: ", 0), 0u) << run.err;
}

TEST_F(Cli, CatalogListShowsScopesAndFilters) {
  withTestPlugin();
  auto run = ferry({"catalog", "list"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  const auto table = lines(run.out);
  ASSERT_EQ(table.size(), 3u) << run.out;
  EXPECT_EQ(table[0], "ID                     KIND     SCOPES          SUMMARY");
  EXPECT_EQ(table[1], "test.message.received  trigger  messages.read   A message arrived");
  EXPECT_EQ(table[2],
            "test.message.send      action   messages.write  Send a message to the test server");

  auto ids = [&](const std::vector<std::string>& args) {
    const auto r = ferry(args);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    std::vector<std::string> out;
    const auto parsed = Json::parse(r.out);
    for (const auto& op : parsed["operations"]) {
      out.push_back(op["id"]);
    }
    return out;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(ids({"catalog", "list", "--json"}),
            (Ids{"test.message.received", "test.message.send"}));
  EXPECT_EQ(ids({"catalog", "list", "--json", "--kind", "action"}), (Ids{"test.message.send"}));
  EXPECT_EQ(ids({"catalog", "list", "--json", "--scope", "messages.read"}),
            (Ids{"test.message.received"}));
  EXPECT_EQ(ids({"catalog", "list", "--json", "--connector", "test", "--kind", "trigger"}),
            (Ids{"test.message.received"}));
  EXPECT_EQ(ids({"catalog", "list", "--json", "--scope", "nothing.here"}), Ids{});

  const auto j = Json::parse(ferry({"catalog", "list", "--json"}).out);
  const auto& send = j["operations"][1];
  EXPECT_EQ(send["connector"], "test");
  EXPECT_EQ(send["kind"], "action");
  EXPECT_EQ(send["scopes"], (Json{"messages.write"}));
  EXPECT_EQ(send["http"]["method"], "POST");
}

TEST_F(Cli, AnUnknownConnectorFilterIsAnError) {
  withTestPlugin();
  const auto run = ferry({"catalog", "list", "--connector", "tset"});
  EXPECT_EQ(run.exitCode, 3);
  EXPECT_EQ(run.err.rfind("tset: error[unknown_connector]: ", 0), 0u) << run.err;
  EXPECT_TRUE(contains(run.err, "hint: did you mean 'test'?")) << run.err;
}

TEST_F(Cli, CatalogSearch) {
  withTestPlugin();
  auto run = ferry({"catalog", "search", "send"});
  EXPECT_EQ(run.exitCode, 0);
  EXPECT_TRUE(contains(run.out, "test.message.send"));
  EXPECT_FALSE(contains(run.out, "test.message.received"));
  // "prefix" is only a field name of the trigger; "message" is in both ids.
  run = ferry({"catalog", "search", "--json", "message", "prefix"});
  const auto j = Json::parse(run.out);
  ASSERT_EQ(j["operations"].size(), 1u);
  EXPECT_EQ(j["operations"][0]["id"], "test.message.received");
  run = ferry({"catalog", "search", "invoice"});
  EXPECT_EQ(run.exitCode, 0);
  EXPECT_TRUE(contains(run.out, "No operation matches 'invoice'.")) << run.out;
}

TEST_F(Cli, CatalogShowTextAndJson) {
  withTestPlugin();
  auto run = ferry({"catalog", "show", "test.message.send"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "test.message.send (action, Test 1.0.0)")) << run.out;
  EXPECT_TRUE(contains(run.out, "Request: POST /messages")) << run.out;
  EXPECT_TRUE(contains(run.out, "Scopes: messages.write")) << run.out;
  EXPECT_TRUE(contains(run.out, "  text (string, required)  The message text.")) << run.out;
  EXPECT_TRUE(contains(run.out, "[default: \"general\"]")) << run.out;
  EXPECT_TRUE(contains(run.out, "Example: Send a greeting")) << run.out;

  run = ferry({"catalog", "show", "--json", "test.message.received"});
  EXPECT_EQ(run.exitCode, 0);
  const auto j = Json::parse(run.out);
  EXPECT_EQ(j["id"], "test.message.received");
  EXPECT_EQ(j["connector"], "test");
  EXPECT_EQ(j["delivery"], "webhook");
  EXPECT_EQ(j["output"][0]["name"], "id");
  EXPECT_EQ(j["examples"][0]["output"]["text"], "hi");
}

TEST_F(Cli, CatalogShowSuggestsTheClosestOperation) {
  withTestPlugin();
  const auto run = ferry({"catalog", "show", "test.mesage.snd"});
  EXPECT_EQ(run.exitCode, 3);
  EXPECT_TRUE(run.out.empty());
  const auto err = lines(run.err);
  ASSERT_EQ(err.size(), 2u) << run.err;
  EXPECT_EQ(err[0],
            "test.mesage.snd: error[unknown_operation]: no loaded plugin declares this "
            "operation");
  EXPECT_EQ(err[1], "hint: did you mean 'test.message.send'?");
}

TEST_F(Cli, CatalogExport) {
  withTestPlugin();
  const auto dir = root_ / "exported";
  auto run = ferry({"catalog", "export", dir.string()});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "Wrote 3 files")) << run.out;
  const auto j = Json::parse(testing::slurp(dir / "catalog.json"));
  ASSERT_EQ(j["connectors"].size(), 1u);
  EXPECT_EQ(j["connectors"][0]["operations"][1]["id"], "test.message.send");
  EXPECT_TRUE(contains(testing::slurp(dir / "test.md"), "### `test.message.send`"));
  EXPECT_TRUE(contains(testing::slurp(dir / "README.md"), "[`test`](test.md)"));
  // A second export is byte-identical, and nothing in it names where the plugin was loaded from.
  const auto first = testing::slurp(dir / "catalog.json") + testing::slurp(dir / "test.md");
  ferry({"catalog", "export", dir.string()});
  EXPECT_EQ(testing::slurp(dir / "catalog.json") + testing::slurp(dir / "test.md"), first);
  EXPECT_FALSE(contains(first, kFixtures.string()));

  // An unwritable target fails with exit 1 and names it.
  std::ofstream(root_ / "file") << "x";
  run = ferry({"catalog", "export", (root_ / "file" / "sub").string()});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.err.rfind((root_ / "file" / "sub").string() + ": error[export_failed]: ", 0), 0u)
      << run.err;
}

}  // namespace
}  // namespace ferry::cli

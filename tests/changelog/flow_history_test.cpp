// The mapping changelog end to end: the engine records each flow file it loads (per content
// hash) in a real SQLite store; `ferry flow history` lists the versions with their runs and
// prints the diff between two of them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "../cli/run.hpp"
#include "engine/engine.hpp"
#include "loader/loader.hpp"

namespace ferry::core::engine {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using sdk::Json;

const std::string kFerry = std::string(FERRY_BINARY_DIR) + "/bin/ferry";

std::string flowText(const std::string& text) {
  return "version: 1\n"
         "id: relay\n"
         "description: Relays every message.\n"
         "trigger:\n"
         "  use: test.message.received\n"
         "  connection: t\n"
         "steps:\n"
         "  - id: send\n"
         "    use: test.message.send\n"
         "    connection: t\n"
         "    with:\n"
         "      text: \"" + text + "\"\n";
}

class FlowHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("ferry-changelog-" + std::to_string(rd()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "ferry.yaml") << "version: 1\nstate_dir: state\nflows: [relay.yaml]\n"
                                          "connections:\n  t:\n    plugin: test\n"
                                          "    scopes: [messages.read, messages.write]\n"
                                          "    base_url: http://127.0.0.1:9\n";
    auto scan = loader::scan({fs::path(FERRY_FIXTURE_DIR) / "good"});
    catalog_ = std::make_unique<catalog::Catalog>(std::move(scan.plugins));
    dbUrl_ = "sqlite:" + (dir_ / "ferry.db").string();
    store_ = store::Store::open(dbUrl_);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  // Writes the flow file, loads it as `ferry run` does, and records `runs` runs of it.
  std::string load(const std::string& text, int runs) {
    std::ofstream(dir_ / "relay.yaml", std::ios::trunc) << flowText(text);
    std::vector<flow::Diagnostic> diagnostics;
    auto config = loadRuntimeConfig(dir_ / "ferry.yaml", diagnostics);
    EXPECT_TRUE(config && diagnostics.empty()) << flow::formatText(diagnostics);
    Engine engine(*config, *catalog_, *store_, nullptr);
    diagnostics = engine.loadFlows();
    EXPECT_TRUE(diagnostics.empty()) << flow::formatText(diagnostics);
    const auto hash = engine.flows().at(0)->hash;
    for (int i = 0; i < runs; ++i) {
      store_->beginRun({++event_, "relay", "1", hash, "w1", 1, 0});
    }
    return hash;
  }

  testing::Run ferry(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"flow", "history"};
    all.insert(all.end(), args.begin(), args.end());
    return testing::runProgram(kFerry, all, {}, dir_ / ("run" + std::to_string(++calls_)));
  }

  fs::path dir_;
  std::string dbUrl_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<store::Store> store_;
  store::EventId event_ = 0;
  int calls_ = 0;
};

TEST_F(FlowHistoryTest, TheEngineKeepsEachLoadedVersionOnce) {
  const auto first = load("relayed: ${event.text}", 0);
  load("relayed: ${event.text}", 0);  // a restart with the same file
  auto history = store_->flowHistory("relay");
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].hash, first);
  const auto kept = store_->getFlowVersion("relay", first);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->content, flowText("relayed: ${event.text}"));
  EXPECT_EQ(kept->path, (dir_ / "relay.yaml").string());

  const auto second = load("forwarded: ${event.text}", 0);
  EXPECT_NE(second, first);
  EXPECT_EQ(store_->flowHistory("relay").size(), 2u);
}

TEST_F(FlowHistoryTest, FerryFlowHistoryListsVersionsAndDiffsTwo) {
  const auto first = load("relayed: ${event.text}", 3);
  const auto second = load("forwarded: ${event.text}", 2);

  auto run = ferry({"relay", "--store", dbUrl_});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("VERSION"));
  EXPECT_THAT(run.out, HasSubstr(first.substr(0, 12)));
  EXPECT_THAT(run.out, HasSubstr(second.substr(0, 12)));

  run = ferry({"relay", "--store", dbUrl_, "--json"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  const auto json = Json::parse(run.out);
  ASSERT_EQ(json["versions"].size(), 2u);
  EXPECT_EQ(json["flow"], "relay");
  EXPECT_EQ(json["versions"][0]["hash"], second);  // newest first
  EXPECT_EQ(json["versions"][0]["runs"], 2);
  EXPECT_EQ(json["versions"][1]["hash"], first);
  EXPECT_EQ(json["versions"][1]["runs"], 3);
  EXPECT_EQ(json["versions"][1]["version"], "1");
  EXPECT_NE(json["versions"][1]["first_run_at"], "-");
  EXPECT_EQ(json["versions"][1]["content_kept"], true);

  run = ferry({"relay", "--store", dbUrl_, "--diff", first.substr(0, 8), second.substr(0, 8)});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("--- relay@" + first.substr(0, 12)));
  EXPECT_THAT(run.out, HasSubstr("+++ relay@" + second.substr(0, 12)));
  EXPECT_THAT(run.out, HasSubstr("\n-      text: \"relayed: ${event.text}\"\n"));
  EXPECT_THAT(run.out, HasSubstr("\n+      text: \"forwarded: ${event.text}\"\n"));
  EXPECT_THAT(run.out, HasSubstr("@@ -9,4 +9,4 @@"));

  run = ferry({"relay", "--store", dbUrl_, "--diff", first, first, "--json"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(Json::parse(run.out)["identical"], true);
}

TEST_F(FlowHistoryTest, UnknownFlowsAndHashesAreClearErrors) {
  const auto first = load("relayed: ${event.text}", 1);
  auto run = ferry({"nosuchflow", "--store", dbUrl_});
  EXPECT_EQ(run.exitCode, 3);
  EXPECT_THAT(run.err, HasSubstr("nosuchflow: error[not_found]"));
  EXPECT_THAT(run.err, HasSubstr("hint:"));

  run = ferry({"relay", "--store", dbUrl_, "--diff", first, "ffffffff"});
  EXPECT_EQ(run.exitCode, 3);
  EXPECT_THAT(run.err, HasSubstr("ffffffff: error[not_found]"));

  // A version that ran before flow files were kept can be listed but not compared.
  store_->beginRun({99, "relay", "0", "old-unkept-version", "w1", 1, 0});
  run = ferry({"relay", "--store", dbUrl_, "--diff", "old-", first});
  EXPECT_EQ(run.exitCode, 3);
  EXPECT_THAT(run.err, HasSubstr("was not kept"));

  run = ferry({"relay", "--store", dbUrl_, "--diff", first});
  EXPECT_EQ(run.exitCode, 2);
}

}  // namespace
}  // namespace ferry::core::engine

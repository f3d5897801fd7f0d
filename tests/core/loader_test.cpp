#include "loader/loader.hpp"
#include "ferry/sdk/plugin.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace ferry::core::loader {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(FERRY_FIXTURE_DIR);
const fs::path kGood = kFixtures / "good";
const fs::path kBroken = kFixtures / "broken";
const fs::path kDuplicate = kFixtures / "duplicate";

// A fresh directory under the build tree, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(FERRY_BINARY_DIR) / "tests" / "tmp" /
            (std::string(info->test_suite_name()) + "." + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void expectRefused(const fs::path& file, const std::string& code, const std::string& reasonPart) {
  auto outcome = loadLibrary(file);
  ASSERT_EQ(outcome.plugin, nullptr) << file << " was loaded";
  ASSERT_NE(outcome.error, nullptr);
  EXPECT_EQ(outcome.error->code, code);
  EXPECT_EQ(outcome.error->path, file);
  EXPECT_NE(outcome.error->reason.find(reasonPart), std::string::npos) << outcome.error->reason;
  // The message names the file, and every refusal comes with something to do about it.
  EXPECT_EQ(outcome.error->message().rfind(file.string() + ": ", 0), 0u)
      << outcome.error->message();
  EXPECT_FALSE(outcome.error->hint().empty());
}

TEST(Loader, LoadsTheTestPlugin) {
  auto outcome = loadLibrary(kGood / "test_plugin.so");
  ASSERT_EQ(outcome.error, nullptr) << outcome.error->message();
  ASSERT_NE(outcome.plugin, nullptr);
  EXPECT_EQ(outcome.plugin->spec().id, "test");
  EXPECT_EQ(outcome.plugin->spec().version, "1.0.0");
  EXPECT_NE(outcome.plugin->connector->action("test.message.send"), nullptr);
  EXPECT_NE(outcome.plugin->connector->trigger("test.message.received"), nullptr);
  EXPECT_EQ(outcome.plugin->connector->action("test.message.received"), nullptr);
}

TEST(Loader, RefusesAMissingFile) { expectRefused(kGood / "nope.so", "not_found", "no such file"); }

TEST(Loader, RefusesATextFileNamedLikeALibrary) {
  expectRefused(kBroken / "not_elf.so", "not_elf", "not an ELF shared library");
}

TEST(Loader, RefusesATruncatedElfFile) {
  TempDir tmp;
  const auto truncated = tmp.path() / "truncated.so";
  {
    std::ifstream in(kGood / "test_plugin.so", std::ios::binary);
    std::string head(128, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(truncated, std::ios::binary) << head;
  }
  expectRefused(truncated, "load_failed", truncated.string());
}

TEST(Loader, RefusesALibraryWithoutTheEntryPointWithoutLoadingIt) {
  expectRefused(kBroken / "no_entry_point.so", "no_entry_point", "ferry_sdk_abi_version");
}

TEST(Loader, RefusesAnotherAbiVersionWithoutLoadingTheLibrary) {
  // The fixture's static initialiser and factory abort the process, so reaching the assertions
  // proves that the version was read from the file and the library never mapped.
  expectRefused(kBroken / "abi_mismatch.so", "abi_mismatch",
                "SDK ABI " + std::to_string(sdk::kAbiVersion + 1000));
}

TEST(Loader, RefusesAnUnresolvedSymbolAtLoadTime) {
  expectRefused(kBroken / "unresolved_symbol.so", "load_failed",
                "undefined symbol: ferry_fixture_defined_nowhere");
}

TEST(Loader, RefusesAFactoryThatThrows) {
  expectRefused(kBroken / "factory_throws.so", "factory_threw",
                "the connector cannot start without its configuration");
}

TEST(Loader, RefusesABadDeclaration) {
  expectRefused(kBroken / "bad_spec.so", "bad_spec", "other.thing.echo");
}

TEST(Loader, ScanFindsPluginsInADirectory) {
  auto result = scan({kGood});
  ASSERT_EQ(result.plugins.size(), 1u);
  EXPECT_EQ(result.plugins.front().path, kGood / "test_plugin.so");
  EXPECT_TRUE(result.errors.empty());
}

TEST(Loader, ScanSkipsMissingAndRepeatedDirectories) {
  auto result = scan({kGood / "missing", kGood, kGood / ".." / "good"});
  EXPECT_EQ(result.plugins.size(), 1u);
  EXPECT_TRUE(result.errors.empty());
}

TEST(Loader, BrokenLibrariesLeaveTheRegistryUnchanged) {
  const auto alone = scan({kGood});
  const auto mixed = scan({kBroken, kGood});
  ASSERT_EQ(mixed.plugins.size(), alone.plugins.size());
  EXPECT_EQ(mixed.plugins.front().path, alone.plugins.front().path);
  EXPECT_EQ(mixed.plugins.front().spec().operations.size(),
            alone.plugins.front().spec().operations.size());
  // One error per broken file, each naming its file.
  std::set<std::string> codes;
  for (const auto& error : mixed.errors) {
    EXPECT_EQ(error.path.parent_path(), kBroken) << error.message();
    codes.insert(error.code);
  }
  EXPECT_EQ(mixed.errors.size(), 6u);
  EXPECT_EQ(codes, (std::set<std::string>{"not_elf", "no_entry_point", "abi_mismatch",
                                          "load_failed", "factory_threw", "bad_spec"}));
}

TEST(Loader, TwoLibrariesWithTheSameIdAndVersionAreBothRefused) {
  auto result = scan({kDuplicate});
  EXPECT_TRUE(result.plugins.empty());
  ASSERT_EQ(result.errors.size(), 2u);
  const auto a = (kDuplicate / "duplicate_a.so").string();
  const auto b = (kDuplicate / "duplicate_b.so").string();
  for (const auto& error : result.errors) {
    EXPECT_EQ(error.code, "duplicate");
    const auto message = error.message();
    EXPECT_NE(message.find(a), std::string::npos) << message;
    EXPECT_NE(message.find(b), std::string::npos) << message;
    EXPECT_NE(message.find("'test' 1.0.0"), std::string::npos) << message;
  }
}

TEST(Loader, TheConnectorKeepsItsLibraryLoaded) {
  std::shared_ptr<sdk::Connector> connector;
  {
    auto result = scan({kGood});
    ASSERT_EQ(result.plugins.size(), 1u);
    connector = result.plugins.front().connector;
  }
  // The scan result is gone; the connector (and its vtable in the library) must still work.
  EXPECT_EQ(connector->spec().id, "test");
  EXPECT_NE(connector->action("test.message.send"), nullptr);
}

TEST(Loader, CheckSpecReportsEveryProblem) {
  sdk::ConnectorSpec spec;
  spec.id = "Bad-Id";
  sdk::OperationSpec op;
  op.id = "bad.thing";
  spec.operations = {op, op};
  const auto problems = checkSpec(spec);
  EXPECT_EQ(problems.size(), 5u);  // id, version, two bad op ids, one duplicate
}

// The id rules: the connector id one word, operation ids three, each [a-z][a-z0-9_]*.
TEST(Loader, CheckSpecAppliesTheIdRulesExactly) {
  auto problemsFor = [](const std::string& connectorId, const std::string& opId) {
    sdk::ConnectorSpec spec;
    spec.id = connectorId;
    spec.version = "1.0.0";
    sdk::OperationSpec op;
    op.id = opId;
    spec.operations = {op};
    return checkSpec(spec).size();
  };
  EXPECT_EQ(problemsFor("ghl", "ghl.contact.get"), 0u);
  EXPECT_EQ(problemsFor("my_crm2", "my_crm2.custom_field.list_all9"), 0u);
  EXPECT_EQ(problemsFor("a", "a.b.c"), 0u);
  for (const std::string bad : {"", "Ghl", "9ghl", "_ghl", "ghl-x", "ghl.x", "ghl "}) {
    // the connector id, and the operation id that starts with it
    EXPECT_EQ(problemsFor(bad, bad + ".contact.get"), 2u) << "'" << bad << "'";
  }
  for (const std::string bad : {"ghl.contact", "ghl.contact.get.x", "ghl..get", "ghl.contact.",
                                "ghl.Contact.get", "ghl.contact.9get", "ghl.contact.get ",
                                ".ghl.contact", "ghl.contact._get", "crm.contact.get"}) {
    EXPECT_EQ(problemsFor("ghl", bad), 1u) << "'" << bad << "'";
  }
}

TEST(Loader, PluginDirectoriesHonourTheEnvironment) {
  ::setenv("FERRY_PLUGIN_PATH", "/one:/two::", 1);
  ::setenv("FERRY_HOME", "/home/someone/ferry", 1);
  const auto dirs = defaultPluginDirs();
  ::unsetenv("FERRY_PLUGIN_PATH");
  ASSERT_GE(dirs.size(), 4u);
  EXPECT_EQ(dirs[0], fs::path("/one"));
  EXPECT_EQ(dirs[1], fs::path("/two"));
  EXPECT_EQ(dirs[2], fs::path("/home/someone/ferry/plugins"));
  EXPECT_EQ(dirs[3], executableDir().parent_path() / "lib" / "ferry" / "plugins");
}

}  // namespace
}  // namespace ferry::core::loader

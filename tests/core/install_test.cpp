#include "loader/install.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "ferry/sdk/json.hpp"
#include "loader/loader.hpp"

namespace ferry::core::loader {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(FERRY_FIXTURE_DIR);
const fs::path kGoodLibrary = kFixtures / "good" / "test_plugin.so";

class Install : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::path(FERRY_BINARY_DIR) / "tests" / "tmp" / (std::string("Install.") + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    dir_ = root_ / "plugins";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Every file in the plugin directory with its content, to prove that nothing changed.
  std::map<std::string, std::string> snapshot() const {
    std::map<std::string, std::string> files;
    std::error_code ec;
    if (!fs::exists(dir_, ec)) {
      return files;
    }
    for (const auto& entry : fs::directory_iterator(dir_)) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      files[entry.path().filename().string()] = text.str();
    }
    return files;
  }

  fs::path root_;
  fs::path dir_;
};

TEST_F(Install, CopiesTheLibraryAndRecordsItInTheLockFile) {
  const auto result = install(kGoodLibrary, dir_, {});
  EXPECT_EQ(result.entry.id, "test");
  EXPECT_EQ(result.entry.version, "1.0.0");
  EXPECT_EQ(result.entry.file, "test.so");
  EXPECT_EQ(result.installedPath, dir_ / "test.so");
  EXPECT_TRUE(result.replacedVersion.empty());
  EXPECT_EQ(result.entry.sha256, sha256File(kGoodLibrary));
  EXPECT_EQ(result.entry.sha256.size(), 64u);
  EXPECT_EQ(sha256File(dir_ / "test.so"), result.entry.sha256);

  const auto lock = readLock(dir_);
  ASSERT_EQ(lock.size(), 1u);
  EXPECT_EQ(lock.front().id, "test");
  EXPECT_EQ(lock.front().sha256, result.entry.sha256);

  // Only the library and the lock file: no temporary file is left behind.
  const auto files = snapshot();
  EXPECT_EQ(files.size(), 2u);
  EXPECT_EQ(files.count("test.so"), 1u);
  EXPECT_EQ(files.count("plugins.lock.json"), 1u);

  // And the installed copy loads.
  auto scanned = scan({dir_});
  ASSERT_EQ(scanned.plugins.size(), 1u);
  EXPECT_EQ(scanned.plugins.front().spec().id, "test");
}

TEST_F(Install, TheKnownSha256OfAFile) {
  const auto file = root_ / "abc.txt";
  std::ofstream(file, std::ios::binary) << "abc";
  EXPECT_EQ(sha256File(file), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(Install, ReinstallingTheSameIdReplacesIt) {
  install(kGoodLibrary, dir_, {});
  const auto again = install(kFixtures / "duplicate" / "duplicate_a.so", dir_, {});
  EXPECT_EQ(again.replacedVersion, "1.0.0");
  EXPECT_EQ(again.entry.sha256, sha256File(kFixtures / "duplicate" / "duplicate_a.so"));
  EXPECT_EQ(readLock(dir_).size(), 1u);
  EXPECT_EQ(snapshot().size(), 2u);
  EXPECT_EQ(scan({dir_}).plugins.size(), 1u);
}

TEST_F(Install, EveryBrokenLibraryIsRefusedAndChangesNothing) {
  install(kGoodLibrary, dir_, {});
  const auto before = snapshot();
  const std::map<std::string, std::string> cases = {{"not_elf.so", "not_elf"},
                                                    {"no_entry_point.so", "no_entry_point"},
                                                    {"abi_mismatch.so", "abi_mismatch"},
                                                    {"unresolved_symbol.so", "load_failed"},
                                                    {"factory_throws.so", "factory_threw"},
                                                    {"bad_spec.so", "bad_spec"}};
  for (const auto& [file, code] : cases) {
    const auto path = kFixtures / "broken" / file;
    try {
      install(path, dir_, {});
      ADD_FAILURE() << file << " was installed";
    } catch (const InstallError& e) {
      EXPECT_EQ(e.code, code) << file;
      EXPECT_EQ(e.place, path);
      EXPECT_FALSE(std::string(e.what()).empty());
      EXPECT_FALSE(e.hint.empty()) << file;
    }
    EXPECT_EQ(snapshot(), before) << file << " changed the plugin directory";
  }
}

TEST_F(Install, ABrokenLibraryDoesNotEvenCreateTheDirectory) {
  EXPECT_THROW(install(kFixtures / "broken" / "not_elf.so", dir_, {}), InstallError);
  EXPECT_FALSE(fs::exists(dir_));
}

TEST_F(Install, RefusesTheVersionAnotherDirectoryAlreadyProvides) {
  try {
    install(kFixtures / "duplicate" / "duplicate_a.so", dir_, {kFixtures / "good"});
    FAIL() << "installed a second copy of test 1.0.0";
  } catch (const InstallError& e) {
    EXPECT_EQ(e.code, "conflict");
    EXPECT_NE(std::string(e.what()).find("test_plugin.so"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(snapshot().empty());
}

TEST_F(Install, RefusesALibraryThatFerryAlreadyLoadsFromWhereItIs) {
  // Installing a copy of a library from FERRY_PLUGIN_PATH would make both copies duplicates.
  try {
    install(kGoodLibrary, dir_, {kFixtures / "good"});
    FAIL() << "installed a copy of a library that is already loaded";
  } catch (const InstallError& e) {
    EXPECT_EQ(e.code, "conflict");
  }
  EXPECT_TRUE(snapshot().empty());
}

TEST_F(Install, ReinstallingFromTheInstalledFileItselfWorks) {
  install(kGoodLibrary, dir_, {});
  const auto again = install(dir_ / "test.so", dir_, {});
  EXPECT_EQ(again.replacedVersion, "1.0.0");
  EXPECT_EQ(snapshot().size(), 2u);
  EXPECT_EQ(scan({dir_}).plugins.size(), 1u);
}

TEST_F(Install, RefusesWhenAnUnlistedFileInTheDirectoryDeclaresTheSameConnector) {
  fs::create_directories(dir_);
  fs::copy_file(kGoodLibrary, dir_ / "manual.so");
  const auto before = snapshot();
  try {
    install(kFixtures / "duplicate" / "duplicate_a.so", dir_, {});
    FAIL() << "installed beside an unlisted copy";
  } catch (const InstallError& e) {
    EXPECT_EQ(e.code, "conflict");
    EXPECT_NE(e.hint.find("manual.so"), std::string::npos) << e.hint;
  }
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Install, RemoveDeletesTheFileAndTheLockEntry) {
  install(kGoodLibrary, dir_, {});
  const auto removed = remove("test", dir_);
  EXPECT_EQ(removed.id, "test");
  EXPECT_EQ(removed.version, "1.0.0");
  EXPECT_FALSE(fs::exists(dir_ / "test.so"));
  EXPECT_TRUE(readLock(dir_).empty());
  EXPECT_TRUE(scan({dir_}).plugins.empty());
}

TEST_F(Install, RemovingAnUnknownIdChangesNothing) {
  install(kGoodLibrary, dir_, {});
  const auto before = snapshot();
  try {
    remove("nope", dir_);
    FAIL() << "removed an unknown id";
  } catch (const InstallError& e) {
    EXPECT_EQ(e.code, "not_installed");
    EXPECT_EQ(e.place, fs::path("nope"));
    EXPECT_NE(e.hint.find("test"), std::string::npos) << e.hint;  // lists what is installed
  }
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Install, ADamagedLockFileIsReportedAndNothingChanges) {
  fs::create_directories(dir_);
  std::ofstream(lockPath(dir_)) << "{not json";
  const auto before = snapshot();
  try {
    install(kGoodLibrary, dir_, {});
    FAIL() << "installed despite a damaged lock file";
  } catch (const InstallError& e) {
    EXPECT_EQ(e.code, "bad_lock");
    EXPECT_EQ(e.place, lockPath(dir_));
  }
  EXPECT_EQ(snapshot(), before);
  std::ofstream(lockPath(dir_)) << R"({"format":1,"plugins":[{"id":"x","version":"1",)"
                                << R"("sha256":"00","file":"../evil.so"}]})";
  EXPECT_THROW(readLock(dir_), InstallError);
}

TEST_F(Install, TheLockFileIsSortedJson) {
  install(kGoodLibrary, dir_, {});
  std::ifstream in(lockPath(dir_));
  const auto j = sdk::Json::parse(in);
  EXPECT_EQ(j["format"], 1);
  ASSERT_EQ(j["plugins"].size(), 1u);
  EXPECT_EQ(j["plugins"][0]["id"], "test");
  EXPECT_EQ(j["plugins"][0]["file"], "test.so");
}

}  // namespace
}  // namespace ferry::core::loader

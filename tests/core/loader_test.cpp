#include "loader/loader.hpp"

#include <gtest/gtest.h>

namespace ferry::core::loader {
namespace {

const std::filesystem::path kGood = std::filesystem::path(FERRY_FIXTURE_DIR) / "good";

TEST(Loader, LoadsTheTestPlugin) {
  auto outcome = loadLibrary(kGood / "test_plugin.so");
  ASSERT_EQ(outcome.error, nullptr) << outcome.error->message();
  ASSERT_NE(outcome.plugin, nullptr);
  EXPECT_EQ(outcome.plugin->spec().id, "test");
  EXPECT_NE(outcome.plugin->connector->action("test.message.send"), nullptr);
  EXPECT_NE(outcome.plugin->connector->trigger("test.message.received"), nullptr);
}

TEST(Loader, RefusesAMissingFile) {
  auto outcome = loadLibrary(kGood / "nope.so");
  ASSERT_NE(outcome.error, nullptr);
  EXPECT_EQ(outcome.error->code, "not_found");
}

TEST(Loader, ScanFindsPluginsInADirectory) {
  auto result = scan({kGood});
  ASSERT_EQ(result.plugins.size(), 1u);
  EXPECT_TRUE(result.errors.empty());
}

}  // namespace
}  // namespace ferry::core::loader

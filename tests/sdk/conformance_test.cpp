#include "conformance.hpp"

#include "loader/loader.hpp"

namespace {

struct TestPlugin {
  static std::shared_ptr<ferry::sdk::Connector> create() {
    auto outcome = ferry::core::loader::loadLibrary(std::filesystem::path(FERRY_FIXTURE_DIR) /
                                                    "good" / "test_plugin.so");
    if (outcome.error) {
      throw std::runtime_error(outcome.error->message());
    }
    return outcome.plugin->connector;
  }
};

}  // namespace

namespace ferry::sdk::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Test, ConnectorConformance, ::testing::Types<TestPlugin>);
}  // namespace ferry::sdk::testing

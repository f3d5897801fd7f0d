#include "conformance.hpp"

#include "loader/loader.hpp"

namespace {

struct UmsatzioPlugin {
  static std::shared_ptr<ferry::sdk::Connector> create() {
    auto outcome = ferry::core::loader::loadLibrary(std::filesystem::path(FERRY_BINARY_DIR) / "lib" /
                                                    "ferry" / "plugins" / "umsatzio.so");
    if (outcome.error) {
      throw std::runtime_error(outcome.error->message());
    }
    return outcome.plugin->connector;
  }
};

}  // namespace

namespace ferry::sdk::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Umsatzio, ConnectorConformance, ::testing::Types<UmsatzioPlugin>);
}  // namespace ferry::sdk::testing

// Runs the SDK's conformance suite on the Hello connector.
#include "hello.hpp"
#include "conformance.hpp"

namespace {

struct HelloPlugin {
  static std::shared_ptr<ferry::sdk::Connector> create() { return hello::makeConnector(); }
};

}  // namespace

namespace ferry::sdk::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Hello, ConnectorConformance, ::testing::Types<HelloPlugin>);
}  // namespace ferry::sdk::testing

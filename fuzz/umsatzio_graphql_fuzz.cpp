// Fuzz target: Umsatz-io GraphQL answers (plugins/umsatzio/client.cpp, operation.cpp and each
// resource's result mapping): every action and polling trigger against a made-up status,
// headers and body.
#include "response_fuzz.hpp"

namespace {

ferry::fuzz::ResponseFixture& fixture() {
  static ferry::fuzz::ResponseFixture f = [] {
    ferry::sdk::Connection c;
    c.name = "umsatzio_fuzz";
    c.plugin = "umsatzio";
    c.auth = "api_key";
    c.baseUrl = "http://127.0.0.1:9";
    return ferry::fuzz::ResponseFixture(ferry::plugins::umsatzio::createConnector(), c,
                                        {{"api_key", "key-fuzz"}});
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ferry::fuzz::runResponse(fixture(), data, size);
}

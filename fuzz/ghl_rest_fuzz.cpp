// Fuzz target: GHL REST answers (plugins/ghl/client.cpp, rest_action.cpp): every action against
// a made-up status, headers (rate-limit headers, Retry-After, ...) and body.
#include "response_fuzz.hpp"

namespace {

ferry::fuzz::ResponseFixture& fixture() {
  static ferry::fuzz::ResponseFixture f = [] {
    ferry::sdk::Connection c;
    c.name = "ghl_fuzz";
    c.plugin = "ghl";
    c.auth = "private_token";
    c.baseUrl = "http://127.0.0.1:9";
    c.settings = {{"location_id", "loc-1"}};
    return ferry::fuzz::ResponseFixture(ferry::plugins::ghl::createGhlConnector(), c,
                                        {{"token", "pit-fuzz"}});
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ferry::fuzz::runResponse(fixture(), data, size);
}

// Fuzz target: Umsatz-io webhook receipt (plugins/umsatzio/webhook_triggers.cpp, signature.cpp).
// The first byte picks the authentication: a valid HMAC-SHA256 header over the
// body, a signature header taken from the input's first line, a path token taken from the first
// line, or no secret configured. The next line is the JSON answer any GraphQL call receives; the
// rest is the body. The only expected failures are WebhookRejected and the documented
// OperationError/TransportError of a lookup the trigger makes.
#include <string>
#include <vector>

#include "signature.hpp"
#include "support.hpp"

namespace {

using namespace ferry;

struct Fixture {
  std::unique_ptr<sdk::Connector> connector = plugins::umsatzio::createConnector();
  std::vector<std::string> triggers;
  fuzz::FixedClock clock;
  Fixture() {
    for (const auto& op : connector->spec().operations) {
      if (op.kind == sdk::OperationKind::Trigger && op.delivery == sdk::Delivery::Webhook) {
        triggers.push_back(op.id);
      }
    }
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  fuzz::Input in(data, size);
  const std::uint8_t choice = in.byte();
  const int mode = (choice >> 5) & 3;

  sdk::Connection connection;
  connection.name = "umsatzio_fuzz";
  connection.plugin = "umsatzio";
  connection.auth = "api_key";
  connection.baseUrl = "http://127.0.0.1:9";
  connection.settings = {{"webhook_max_body_bytes", 4096}};
  std::map<std::string, std::string, std::less<>> secretValues{{"api_key", "key-fuzz"}};
  sdk::WebhookRequest request;
  request.method = "POST";
  request.path = "/hooks/umsatzio";
  if (mode == 0 || mode == 1) {
    secretValues["webhook_secret"] = "whsec-fuzz";
  }
  std::string header;
  if (mode == 1) {
    header = std::string(in.until('\n'));
  } else if (mode == 3) {
    secretValues["webhook_path_token"] = "tok-fuzz";
    const std::string_view line = in.until('\n');
    const auto q = line.find('?');
    request.path += "/" + std::string(line.substr(0, q));
    request.query = q == std::string_view::npos ? "" : std::string(line.substr(q + 1));
  }
  fuzz::ScriptedHttp http;
  http.response.status = 200;
  http.response.headers = {{"Content-Type", "application/json"}};
  http.response.body = std::string(in.until('\n'));
  request.body = std::string(in.rest());
  if (mode == 0) {
    header = "sha256=" + plugins::umsatzio::hmacSha256Hex("whsec-fuzz", request.body);
  }
  if (mode == 0 || mode == 1) {
    request.headers.emplace_back("x-umsatzio-signature", header);
  }

  core::engine::MemoryState state;
  core::engine::MemorySecrets secrets(std::move(secretValues));
  core::engine::LocalContext ctx({connection, &http, &state, &secrets, &f.clock, {}});
  const sdk::Json filters = (choice & 16) != 0 ? sdk::Json{{"properties", {"email"}}} : sdk::Json::object();
  // Every webhook trigger gets the delivery, as when one URL serves them all: the one of the
  // body's event parses it, the others yield nothing.
  for (const auto& id : f.triggers) {
    try {
      (void)f.connector->trigger(id)->receive(ctx, filters, request);
    } catch (const sdk::WebhookRejected&) {
    } catch (const sdk::OperationError&) {
    } catch (const sdk::TransportError&) {
    }
  }
  return 0;
}

// ferry-sandbox-umsatzio: the Umsatz-io emulator. Options (besides --port/--host/--faults):
//   --api-key K          the key clients must send (default umz_sandbox_key)
//   --auth-scheme S      basic_and_tenant (default), api_key_header or bearer
//   --webhook-secret S   sign deliveries with HMAC-SHA256 in x-umsatzio-signature
//   --generate N         N contacts (+ calls, notes, deals) at start and on reset
//   --seed S             the seed for --generate (default 42)
//   --delivery-attempts N  attempts per webhook delivery on 5xx/429/no answer (default 3)
#include <iostream>
#include <memory>

#include "emulator.hpp"

int main(int argc, char** argv) {
  using namespace ferry::sandbox;
  std::shared_ptr<umsatzio::Emulator> emulator;
  umsatzio::Options options;
  MainOptions main;
  main.name = "umsatzio";
  main.setup = [&](Server& server, const std::map<std::string, std::string>& extra) -> Handler {
    for (const auto& [key, value] : extra) {
      if (key == "api-key") {
        options.apiKey = value;
      } else if (key == "auth-scheme") {
        if (value != "basic_and_tenant" && value != "api_key_header" && value != "bearer") {
          throw std::invalid_argument("--auth-scheme must be basic_and_tenant, api_key_header or bearer");
        }
        options.authScheme = value;
      } else if (key == "webhook-secret") {
        options.webhookSecret = value;
      } else if (key == "generate") {
        options.generate = std::stoi(value);
      } else if (key == "seed") {
        options.seed = std::stoull(value);
      } else if (key == "delivery-attempts") {
        options.deliveryAttempts = std::stoi(value);
      } else {
        throw std::invalid_argument("unknown option --" + key +
                                    " (allowed: --api-key, --auth-scheme, --webhook-secret, --generate, --seed, --delivery-attempts)");
      }
    }
    emulator = std::make_shared<umsatzio::Emulator>(options);
    emulator->attach(&server);
    return [e = emulator](const Request& r) { return e->handle(r); };
  };
  main.describe = [&](const Server& server) {
    return ferry::sdk::Json{{"base_url", server.baseUrl()},
                            {"graphql_url", server.baseUrl() + "/api/graphql"},
                            {"api_key", options.apiKey},
                            {"auth_header_scheme", options.authScheme},
                            {"admin_url", server.baseUrl() + "/_sandbox"},
                            {"webhook_secret", options.webhookSecret}};
  };
  const int code = runMain(argc, argv, main);
  return code;
}

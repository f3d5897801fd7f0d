// The Umsatz-io connector: its declaration and entry point. Each resource's operations are
// declared with their implementation in their own file (see operations.hpp).
#include "ferry/sdk/plugin.hpp"
#include "operations.hpp"

namespace ferry::plugins::umsatzio {

namespace {

using namespace sdk;

ConnectorSpec makeSpec() {
  ConnectorSpec spec;
  spec.id = "umsatzio";
  spec.name = "Umsatz-io";
  spec.version = "0.1.0";
  spec.description =
      "Umsatz-io (umsatz.io), the German setter/closer sales CRM, over its GraphQL API "
      "(POST {baseUrl}/api/graphql): contacts, deals, pipelines, notes, activities, field cards, "
      "webhooks.";
  spec.homepage = "https://umsatz.io";
  AuthScheme key;
  key.id = "api_key";
  key.description = "An admin-created API key (Settings > Integrations > API Keys), full access.";
  key.settings = {
      str("api_key").require().withFormat("secret").describe("The API key (a secret)."),
      str("auth_header_scheme")
          .oneOf({"basic_and_tenant", "api_key_header", "bearer"})
          .defaults("basic_and_tenant")
          .describe("How the key is sent: 'Authorization: Basic <key>' + 'x-tenant-api-key' "
                    "(as the public client does), 'api-key: <key>', or 'Authorization: Bearer'.")};
  spec.auth = {key};
  spec.settings = {
      object("field_map", {})
          .describe("Stable name -> field API name for contacts (e.g. firstName: "
                    "global_contact_first_name); list the API names with `ferry connection "
                    "fields umsatzio`."),
      str("webhook_secret").withFormat("secret").describe(
          "Shared secret (a secret): webhooks must carry HMAC-SHA256 of the body, hex, in the "
          "signature header."),
      str("webhook_signature_header")
          .defaults("x-umsatzio-signature")
          .describe("The header carrying the webhook signature."),
      str("webhook_path_token").withFormat("secret").describe(
          "A token the webhook URL must end with (last path segment or ?token=)."),
      integer("webhook_max_body_bytes").defaults(1048576).describe(
          "Larger webhook bodies are refused with 413 (a value below 1 means the default)."),
      integer("poll_dedupe_window_seconds").defaults(10).describe(
          "How far before the cursor polls look again, for items that arrive late (0 to 86400).")};
  return spec;
}

class UmsatzioConnector : public BasicConnector {
 public:
  UmsatzioConnector() : BasicConnector(makeSpec()) {
    for (auto* group : {&contactActions, &dealActions, &noteActions, &activityActions,
                        &directoryActions, &webhookActions}) {
      for (auto& decl : (*group)()) {
        add(std::move(decl.spec), std::move(decl.impl));
      }
    }
    for (auto* group : {&webhookTriggers, &pollingTriggers}) {
      for (auto& decl : (*group)()) {
        add(std::move(decl.spec), std::move(decl.impl));
      }
    }
  }
};

}  // namespace

std::unique_ptr<Connector> createConnector() { return std::make_unique<UmsatzioConnector>(); }

}  // namespace ferry::plugins::umsatzio

FERRY_PLUGIN(ferry::plugins::umsatzio::createConnector)

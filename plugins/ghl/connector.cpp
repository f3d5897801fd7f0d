// The HighLevel connector: its declaration, scopes, auth schemes and the plugin entry point.
// Operations are declared in ops_*.cpp (generated from the official specs) and run by
// RestAction (rest_action.cpp) and WebhookTrigger (webhook.cpp).

#include <memory>

#include "client.hpp"
#include "ferry/sdk/plugin.hpp"
#include "oauth.hpp"
#include "operations.hpp"
#include "rest_action.hpp"
#include "webhook.hpp"

namespace ferry::plugins::ghl {

namespace {

sdk::ConnectorSpec connectorSpec() {
  sdk::ConnectorSpec spec;
  spec.id = "ghl";
  spec.name = "HighLevel";
  spec.version = "0.1.0";
  spec.description =
      "HighLevel (GoHighLevel / LeadConnector) API v2: contacts, tasks, notes, tags, followers, "
      "campaigns, workflows, businesses, location tags, custom fields and values, and webhook "
      "events. Sends Version: 2021-07-28.";
  spec.homepage = "https://marketplace.gohighlevel.com/docs/";
  spec.settings = {
      sdk::str("location_id")
          .describe(
              "The location (sub-account) id; fills `locationId` when a flow does not map it, and "
              "names the rate-limit bucket."),
      sdk::str("webhook_public_key")
          .withFormat("pem")
          .describe("Ed25519 public key (PEM) that verifies x-ghl-signature on webhooks, from the "
                    "Marketplace app."),
      sdk::boolean("accept_legacy_rsa")
          .defaults(false)
          .describe("Also accept webhooks signed only with the legacy RSA x-wh-signature."),
      sdk::str("webhook_rsa_public_key")
          .withFormat("pem")
          .describe("RSA public key (PEM) for the legacy x-wh-signature, used only with "
                    "accept_legacy_rsa."),
  };
  spec.scopes = {"contacts.readonly",
                 "contacts.write",
                 "businesses.readonly",
                 "businesses.write",
                 "locations/tags.readonly",
                 "locations/tags.write",
                 "locations/customFields.readonly",
                 "locations/customFields.write",
                 "locations/customValues.readonly",
                 "locations/customValues.write",
                 "locations/tasks.readonly",
                 "oauth.write"};
  spec.auth = {
      {"private_token",
       "A Private Integration token (Settings > Private Integrations) with the scopes the flows "
       "need. Static: no refresh.",
       {sdk::str("token").require().withFormat("secret").describe(
           "The Private Integration token, sent as Authorization: Bearer.")}},
      {"oauth2",
       "OAuth 2.0 of a Marketplace app. The access token is refreshed shortly before expires_at "
       "and once after a 401; the single-use refresh token is rotated and stored first.",
       {sdk::str("client_id").require().withFormat("secret").describe("The app's client id."),
        sdk::str("client_secret")
            .require()
            .withFormat("secret")
            .describe("The app's client secret."),
        sdk::str("access_token")
            .withFormat("secret")
            .describe("Current access token (written by the plugin)."),
        sdk::str("refresh_token")
            .require()
            .withFormat("secret")
            .describe(
                "Current refresh token; single-use, replaced by the plugin on every refresh."),
        sdk::str("expires_at")
            .withFormat("secret")
            .describe("Expiry of the access token, Unix seconds (written by the plugin)."),
        sdk::str("user_type")
            .oneOf({"Location", "Company"})
            .defaults("Location")
            .describe("Setting: the token type requested on refresh.")}},
      {"agency_oauth",
       "OAuth 2.0 of a Marketplace app installed by an agency: the agency (Company) token is kept "
       "and refreshed like oauth2, and each call uses a location token from /oauth/locationToken "
       "for the settings company_id and location_id.",
       {sdk::str("client_id").require().withFormat("secret").describe("The app's client id."),
        sdk::str("client_secret")
            .require()
            .withFormat("secret")
            .describe("The app's client secret."),
        sdk::str("refresh_token")
            .require()
            .withFormat("secret")
            .describe(
                "The agency refresh token; single-use, replaced by the plugin on every refresh."),
        sdk::str("access_token")
            .withFormat("secret")
            .describe("The agency access token (written by the plugin)."),
        sdk::str("expires_at")
            .withFormat("secret")
            .describe("Expiry of the agency access token, Unix seconds (written by the plugin)."),
        sdk::str("location_access_token")
            .withFormat("secret")
            .describe("The location token in use (written by the plugin)."),
        sdk::str("location_expires_at")
            .withFormat("secret")
            .describe("Expiry of the location token, Unix seconds (written by the plugin)."),
        sdk::str("company_id")
            .require()
            .describe("Setting: the agency (company) id that installed the app.")}},
  };
  return spec;
}

// What RestAction and WebhookTrigger read of their declaration (id, method, path, scopes,
// record key, delivery): the declaration without its schemas and examples.
sdk::OperationSpec slim(const sdk::OperationSpec& spec) {
  sdk::OperationSpec out;
  out.id = spec.id;
  out.kind = spec.kind;
  out.method = spec.method;
  out.path = spec.path;
  out.scopes = spec.scopes;
  out.recordKey = spec.recordKey;
  out.delivery = spec.delivery;
  out.coalesce = spec.coalesce;
  out.deprecated = spec.deprecated;
  return out;
}

class GhlConnector : public sdk::BasicConnector {
 public:
  GhlConnector() : BasicConnector(connectorSpec()) {
    for (auto* list : {&contactsOperations, &tasksOperations, &notesOperations,
                       &contactLinksOperations, &businessesOperations, &locationsOperations}) {
      for (auto& op : (*list)()) {
        // The connector keeps the declaration; the action needs only what places the call
        // (copying the whole declaration, schemas and examples, cost 0.9 M instructions).
        sdk::OperationSpec spec = std::move(op.spec);
        op.spec = slim(spec);
        add(std::move(spec), std::make_unique<RestAction>(std::move(op), tokens_));
      }
    }
    for (auto& [spec, action] : oauthActions(tokens_)) {
      add(std::move(spec), std::move(action));
    }
    for (auto& event : webhookEvents()) {
      sdk::OperationSpec spec = std::move(event.spec);
      spec.delivery = sdk::Delivery::Webhook;
      spec.input = {sdk::str("locationId")
                        .describe("Only events of this location (default: every location that "
                                  "installed the app).")};
      event.spec = slim(spec);
      add(std::move(spec), std::make_unique<WebhookTrigger>(std::move(event)));
    }
  }

 private:
  // Shared by every operation (they keep a reference); created before the constructor body
  // adds them, and never used while the connector is destroyed.
  Tokens tokens_;
};

}  // namespace

// Not in the anonymous namespace: fuzz/ links the plugin's sources in and calls it directly.
std::unique_ptr<sdk::Connector> createGhlConnector() { return std::make_unique<GhlConnector>(); }

}  // namespace ferry::plugins::ghl

FERRY_PLUGIN(ferry::plugins::ghl::createGhlConnector)

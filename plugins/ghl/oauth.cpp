#include "oauth.hpp"

namespace ferry::plugins::ghl {

namespace {

class ExchangeCode : public sdk::Action {
 public:
  explicit ExchangeCode(Tokens& tokens) : tokens_(tokens) {}
  sdk::Json invoke(const sdk::Json& input, sdk::Context& ctx) override {
    return tokens_.exchangeCode(ctx, input.at("code").get<std::string>(),
                                sdk::member(input, "redirectUri", ""),
                                sdk::member(input, "userType", "Location"));
  }

 private:
  Tokens& tokens_;
};

class LocationToken : public sdk::Action {
 public:
  explicit LocationToken(Tokens& tokens) : tokens_(tokens) {}
  sdk::Json invoke(const sdk::Json& input, sdk::Context& ctx) override {
    (void)input;
    const auto answer = tokens_.fetchLocationToken(ctx);
    sdk::Json out = sdk::Json::object();
    for (const char* key : {"locationId", "scope", "userId", "planId"}) {
      if (answer.contains(key) && answer[key].is_string()) {
        out[key] = answer[key];
      }
    }
    out["expiresAt"] = answer["expiresAt"];
    return out;
  }

 private:
  Tokens& tokens_;
};

sdk::OperationSpec locationTokenSpec() {
  sdk::OperationSpec op;
  op.id = "ghl.oauth.location_token";
  op.summary = "Get a location token from the agency token and store it";
  op.description =
      "POST /oauth/locationToken (form-encoded companyId and locationId from the connection "
      "settings company_id and location_id) with the agency (Company) access token of an "
      "agency_oauth connection. The location token is stored in the connection's secrets "
      "(location_access_token, location_expires_at) and never returned. Operations of an "
      "agency_oauth connection do this by themselves when needed.";
  op.method = "POST";
  op.path = "/oauth/locationToken";
  op.scopes = {"oauth.write"};
  op.output = {
      sdk::str("locationId").describe("The location the token is for."),
      sdk::str("scope").describe("Scopes of the location token, space separated."),
      sdk::str("userId").describe("The user who installed the app."),
      sdk::str("planId").describe("The plan of a paid app."),
      sdk::integer("expiresAt").describe("When the location token expires (Unix seconds)."),
  };
  op.examples = {{"The connection's location",
                  sdk::Json::object(),
                  {{"locationId", "l1C08ntBrFjLS0elLIYU"},
                   {"scope", "contacts.readonly contacts.write"},
                   {"userId", "l1C08ntBrFjLS0elLIYU"},
                   {"expiresAt", 1767225600}}}};
  return op;
}

sdk::OperationSpec exchangeCodeSpec() {
  sdk::OperationSpec op;
  op.id = "ghl.oauth.exchange_code";
  op.summary = "Exchange an OAuth authorization code for tokens and store them";
  op.description =
      "POST /oauth/token with grant_type=authorization_code (form-encoded, client_id and "
      "client_secret from the connection's secrets). The access and refresh tokens are stored in "
      "the connection's secrets (access_token, refresh_token, expires_at) and never returned.";
  op.method = "POST";
  op.path = "/oauth/token";
  op.input = {
      sdk::str("code").require().describe("The code GHL appended to the redirect URL."),
      sdk::str("redirectUri")
          .describe("The redirect URL the code was sent to, when the app has several."),
      sdk::str("userType")
          .oneOf({"Location", "Company"})
          .describe("Token type to request: Location (sub-account, default) or Company (agency)."),
  };
  op.output = {
      sdk::str("userType").describe("Location or Company."),
      sdk::str("locationId").describe("The location the token is for (Location tokens)."),
      sdk::str("companyId").describe("The company (agency) of the installation."),
      sdk::str("scope").describe("Granted scopes, space separated."),
      sdk::str("userId").describe("The user who installed the app."),
      sdk::integer("expiresAt").describe("When the access token expires (Unix seconds)."),
  };
  op.examples = {{"A sub-account installation",
                  {{"code", "7f0c2d9e4b"}, {"redirectUri", "https://example.com/oauth/callback"}},
                  {{"userType", "Location"},
                   {"locationId", "ve9EPM428h8vShlRW1KT"},
                   {"companyId", "otg8dTQqGLh3Q6iQI55w"},
                   {"scope", "contacts.readonly contacts.write"},
                   {"expiresAt", 1767225600}}}};
  return op;
}

}  // namespace

std::vector<std::pair<sdk::OperationSpec, std::unique_ptr<sdk::Action>>> oauthActions(
    Tokens& tokens) {
  std::vector<std::pair<sdk::OperationSpec, std::unique_ptr<sdk::Action>>> out;
  out.emplace_back(exchangeCodeSpec(), std::make_unique<ExchangeCode>(tokens));
  out.emplace_back(locationTokenSpec(), std::make_unique<LocationToken>(tokens));
  return out;
}

}  // namespace ferry::plugins::ghl

// OAuth 2.0 over real HTTP: refresh once on a 401, refresh before expiry, rotation of the
// single-use refresh token (stored before the new access token is used), deduplicated
// concurrent refreshes, and the authorization-code exchange.

#include <atomic>
#include <thread>

#include "support.hpp"

namespace ferry::tests::ghl {
namespace {

std::map<std::string, std::string> form(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < body.size()) {
    auto amp = body.find('&', start);
    const std::string part =
        body.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    const auto eq = part.find('=');
    std::string key = part.substr(0, eq),
                value = eq == std::string::npos ? "" : part.substr(eq + 1);
    std::string decoded;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '%' && i + 2 < value.size()) {
        decoded.push_back(static_cast<char>(std::stoi(value.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        decoded.push_back(value[i] == '+' ? ' ' : value[i]);
      }
    }
    out[key] = decoded;
    start = amp == std::string::npos ? body.size() : amp + 1;
  }
  return out;
}

long long nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A GHL-like token endpoint with single-use refresh tokens, and a contacts endpoint that only
// accepts the current access token.
struct OAuthServer {
  std::mutex mutex;
  std::string validRefresh = "refresh-1";
  std::string validAccess = "access-1";
  int generation = 1;
  std::atomic<int> tokenCalls{0};
  std::atomic<int> reusedRefresh{0};
  std::string validLocation = "none";
  std::atomic<int> locationCalls{0};
  Json expiresIn = 86399;  // what both token answers say

  sandbox::Response handle(const sandbox::Request& r) {
    std::lock_guard lock(mutex);
    if (r.path == "/oauth/token") {
      ++tokenCalls;
      auto f = form(r.body);
      const bool formEncoded =
          r.header("Content-Type").value_or("").find("application/x-www-form-urlencoded") == 0;
      if (!formEncoded || f["client_id"] != "client-abc" || f["client_secret"] != "secret-xyz") {
        return jsonReply(401, {{"message", "bad client"}});
      }
      if (f["grant_type"] == "refresh_token") {
        if (f["refresh_token"] != validRefresh ||
            (f["user_type"] != "Location" && f["user_type"] != "Company")) {
          ++reusedRefresh;
          return jsonReply(400, {{"error", "invalid_grant"}, {"message", "Invalid refresh token"}});
        }
      } else if (f["grant_type"] != "authorization_code" || f["code"] != "code-123") {
        return jsonReply(400, {{"error", "invalid_grant"}, {"message", "Invalid code"}});
      }
      ++generation;
      validRefresh = "refresh-" + std::to_string(generation);
      validAccess = "access-" + std::to_string(generation);
      return jsonReply(200, {{"access_token", validAccess},
                             {"token_type", "Bearer"},
                             {"expires_in", expiresIn},
                             {"refresh_token", validRefresh},
                             {"scope", "contacts.readonly contacts.write"},
                             {"userType", "Location"},
                             {"locationId", "loc_test_1"},
                             {"companyId", "comp_1"},
                             {"userId", "user_1"}});
    }
    if (r.path == "/oauth/locationToken") {
      ++locationCalls;
      auto f = form(r.body);
      if (r.header("Authorization").value_or("") != "Bearer " + validAccess) {
        return jsonReply(
            401, {{"statusCode", 401}, {"message", "Invalid token: access token is invalid"}});
      }
      if (r.header("Version").value_or("") != "2021-07-28" || f["companyId"] != "comp_1" ||
          f["locationId"] != "loc_test_1") {
        return jsonReply(422, {{"message", {"companyId and locationId are required"}}});
      }
      validLocation = "location-" + std::to_string(locationCalls.load());
      return jsonReply(200, {{"access_token", validLocation},
                             {"token_type", "Bearer"},
                             {"expires_in", expiresIn},
                             {"scope", "contacts.readonly"},
                             {"locationId", "loc_test_1"},
                             {"userId", "user_1"}});
    }
    const std::string bearer = r.header("Authorization").value_or("");
    if (bearer == "Bearer " + validLocation) {
      return jsonReply(200, {{"contact", {{"id", "c1"}}}});
    }
    if (bearer != "Bearer " + validAccess) {
      return jsonReply(
          401, {{"statusCode", 401}, {"message", "Invalid token: access token is invalid"}});
    }
    return jsonReply(200, {{"contact", {{"id", "c1"}}}});
  }
};

std::map<std::string, std::string, std::less<>> oauthSecrets(long long expiresAt) {
  return {{"client_id", "client-abc"},
          {"client_secret", "secret-xyz"},
          {"access_token", "access-0-stale"},
          {"refresh_token", "refresh-1"},
          {"expires_at", std::to_string(expiresAt)}};
}

class GhlOAuth : public ::testing::Test {
 protected:
  OAuthServer oauth;
  Journal journal;
  ScriptedServer server{&journal};
  void SetUp() override {
    server.otherwise([this](const sandbox::Request& r) { return oauth.handle(r); });
  }
};

TEST_F(GhlOAuth, A401RefreshesOnceStoresTheRotatedTokenFirstAndRetries) {
  Harness h(server.baseUrl(), "oauth2", oauthSecrets(nowSeconds() + 3600));
  const Json out = loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
  EXPECT_EQ(out["contact"]["id"], "c1");
  EXPECT_EQ(oauth.tokenCalls, 1);
  EXPECT_EQ(h.secrets->get("refresh_token"), "refresh-2");
  EXPECT_EQ(h.secrets->get("access_token"), "access-2");
  EXPECT_EQ(form(server.requests()[1].body).at("user_type"), "Location");
  EXPECT_GT(std::stoll(*h.secrets->get("expires_at")), nowSeconds() + 80000);

  const auto serverLines = journal.snapshot();
  ASSERT_EQ(serverLines.size(), 3u);
  EXPECT_EQ(serverLines[0], "GET /contacts/c1 auth=Bearer access-0-stale");
  EXPECT_EQ(serverLines[1], "POST /oauth/token auth=");
  EXPECT_EQ(serverLines[2], "GET /contacts/c1 auth=Bearer access-2");
  const auto puts = h.journal.snapshot();
  ASSERT_GE(puts.size(), 2u);
  EXPECT_EQ(puts[0], "put refresh_token=refresh-2");
  EXPECT_EQ(puts[1], "put access_token=access-2");
}

TEST_F(GhlOAuth, TheRotatedRefreshTokenIsStoredBeforeTheRetryLeaves) {
  // One journal for both sides: the server and the secrets write to the same list.
  Harness h(server.baseUrl(), "oauth2", oauthSecrets(nowSeconds() + 3600));
  server.otherwise([&](const sandbox::Request& r) {
    h.journal.add(r.method + " " + r.path + " auth=" + r.header("Authorization").value_or(""));
    return oauth.handle(r);
  });
  loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
  const auto lines = h.journal.snapshot();
  const auto stored = std::find(lines.begin(), lines.end(), "put refresh_token=refresh-2");
  const auto used = std::find(lines.begin(), lines.end(), "GET /contacts/c1 auth=Bearer access-2");
  ASSERT_NE(stored, lines.end());
  ASSERT_NE(used, lines.end());
  EXPECT_LT(stored - lines.begin(), used - lines.begin());
}

TEST_F(GhlOAuth, AnAccessTokenAboutToExpireIsRefreshedBeforeTheCall) {
  Harness h(server.baseUrl(), "oauth2", oauthSecrets(nowSeconds() + 30));
  loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
  const auto lines = journal.snapshot();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "POST /oauth/token auth=");
  EXPECT_EQ(lines[1], "GET /contacts/c1 auth=Bearer access-2");
}

TEST_F(GhlOAuth, ConcurrentCallsSpendTheRefreshTokenOnce) {
  Harness h(server.baseUrl(), "oauth2", oauthSecrets(nowSeconds() + 3600));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      try {
        loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
        ++ok;
      } catch (const std::exception&) {
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok, 6);
  EXPECT_EQ(oauth.tokenCalls, 1);
  EXPECT_EQ(oauth.reusedRefresh, 0);
  EXPECT_EQ(h.secrets->get("refresh_token"), "refresh-2");
}

TEST_F(GhlOAuth, ARefusedRefreshIsAnAuthErrorAndTheCallIsNotRetried) {
  auto secrets = oauthSecrets(nowSeconds() + 3600);
  secrets["refresh_token"] = "refresh-revoked";
  Harness h(server.baseUrl(), "oauth2", secrets);
  try {
    loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
    FAIL() << "expected an OperationError";
  } catch (const sdk::OperationError& e) {
    EXPECT_EQ(e.kind, sdk::ErrorKind::Auth);
    EXPECT_EQ(e.code, "ghl.oauth_refused");
  }
  EXPECT_EQ(journal.snapshot().size(), 2u);  // the call, the refused refresh; no retry
}

TEST_F(GhlOAuth, WhenTheNewRefreshTokenCannotBeStoredTheNewTokensAreNotUsed) {
  Harness h(server.baseUrl(), "oauth2", oauthSecrets(nowSeconds() + 3600));
  h.secrets->failPuts = true;
  try {
    loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
    FAIL() << "expected an OperationError";
  } catch (const sdk::OperationError& e) {
    EXPECT_EQ(e.kind, sdk::ErrorKind::Auth);
    EXPECT_EQ(e.code, "ghl.token_store_failed");
  }
  for (const auto& line : journal.snapshot()) {
    EXPECT_EQ(line.find("access-2"), std::string::npos) << line;
  }
}

TEST_F(GhlOAuth, TheAuthorizationCodeExchangeStoresTokensAndReturnsNoSecret) {
  Harness h(server.baseUrl(), "oauth2",
            {{"client_id", "client-abc"}, {"client_secret", "secret-xyz"}});
  const Json out =
      loadGhl()
          ->action("ghl.oauth.exchange_code")
          ->invoke({{"code", "code-123"}, {"redirectUri", "https://example.com/cb"}}, *h.ctx);
  EXPECT_EQ(out["locationId"], "loc_test_1");
  EXPECT_EQ(out["userType"], "Location");
  EXPECT_FALSE(out.dump().find("access-2") != std::string::npos);
  EXPECT_FALSE(out.dump().find("refresh-2") != std::string::npos);
  EXPECT_EQ(h.secrets->get("access_token"), "access-2");
  EXPECT_EQ(h.secrets->get("refresh_token"), "refresh-2");
  const auto sent = form(server.requests().back().body);
  EXPECT_EQ(sent.at("grant_type"), "authorization_code");
  EXPECT_EQ(sent.at("redirect_uri"), "https://example.com/cb");
  EXPECT_EQ(sent.at("user_type"), "Location");
  // The stored tokens work for the next call.
  loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
  EXPECT_EQ(server.requests().back().header("Authorization"), "Bearer access-2");
}

// A token answer's expires_in of another type or out of range (a string, 1e308, INT64_MAX,
// negative) is neither thrown as nlohmann's type_error nor added to the clock to overflow it:
// GHL's 86399 when it is not a whole number, else bounded to [0, 1 year].
TEST_F(GhlOAuth, AnExpiresInOfAnotherTypeOrOutOfRangeIsBoundedNotThrown) {
  struct Case {
    Json expiresIn;
    long long low, high;  // seconds from now
  };
  constexpr long long kYear = 366LL * 24 * 3600;
  for (const auto& c : {Case{"3600", 86399 - 5, 86399 + 5}, Case{nullptr, 86399 - 5, 86399 + 5},
                        Case{1e308, 86399 - 5, 86399 + 5}, Case{9.3e18, 86399 - 5, 86399 + 5},
                        Case{9223372036854775807LL, kYear - 5, kYear + 5}, Case{-5, -5, 5},
                        Case{3600, 3600 - 5, 3600 + 5}}) {
    oauth.expiresIn = c.expiresIn;
    oauth.generation = 1;
    Harness h(server.baseUrl(), "oauth2",
              {{"client_id", "client-abc"}, {"client_secret", "secret-xyz"}});
    ASSERT_NO_THROW(loadGhl()->action("ghl.oauth.exchange_code")->invoke({{"code", "code-123"}}, *h.ctx))
        << c.expiresIn.dump();
    const long long expiresAt = std::stoll(h.secrets->get("expires_at").value_or("0"));
    EXPECT_GE(expiresAt - nowSeconds(), c.low) << c.expiresIn.dump();
    EXPECT_LE(expiresAt - nowSeconds(), c.high) << c.expiresIn.dump();
  }
}

Json agencySettings() { return {{"location_id", "loc_test_1"}, {"company_id", "comp_1"}}; }

TEST_F(GhlOAuth, AnAgencyConnectionCallsWithALocationTokenFetchedOnce) {
  Harness h(server.baseUrl(), "agency_oauth", oauthSecrets(nowSeconds() + 3600), agencySettings());
  h.secrets->put("access_token", "access-1");  // a valid agency token
  for (int i = 0; i < 2; ++i) {
    loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
  }
  EXPECT_EQ(oauth.locationCalls, 1);
  EXPECT_EQ(oauth.tokenCalls, 0);
  EXPECT_EQ(h.secrets->get("location_access_token"), "location-1");
  EXPECT_EQ(server.requests().back().header("Authorization"), "Bearer location-1");
}

TEST_F(GhlOAuth, AnAgencyConnectionRefreshesTheAgencyTokenWhenTheLocationTokenCallIsRefused) {
  // The stored agency token is stale: /oauth/locationToken answers 401, the agency token is
  // refreshed (rotation stored), and the location token is fetched again.
  Harness h(server.baseUrl(), "agency_oauth", oauthSecrets(nowSeconds() + 3600), agencySettings());
  loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
  EXPECT_EQ(oauth.tokenCalls, 1);
  EXPECT_EQ(oauth.locationCalls, 2);
  EXPECT_EQ(h.secrets->get("refresh_token"), "refresh-2");
  EXPECT_EQ(h.secrets->get("location_access_token"), "location-2");
  const auto sent = form(server.requests()[1].body);
  EXPECT_EQ(sent.at("user_type"), "Company");
}

TEST_F(GhlOAuth, AnExpiredLocationTokenIsReplacedAfterA401) {
  Harness h(server.baseUrl(), "agency_oauth", oauthSecrets(nowSeconds() + 3600), agencySettings());
  h.secrets->put("access_token", "access-1");
  h.secrets->put("location_access_token", "location-revoked");
  loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
  EXPECT_EQ(oauth.locationCalls, 1);
  EXPECT_EQ(server.requests().back().header("Authorization"), "Bearer location-1");
}

TEST_F(GhlOAuth, TheLocationTokenActionStoresTheTokenAndReturnsNoSecret) {
  Harness h(server.baseUrl(), "agency_oauth", oauthSecrets(nowSeconds() + 3600), agencySettings());
  h.secrets->put("access_token", "access-1");
  const Json out = loadGhl()->action("ghl.oauth.location_token")->invoke(Json::object(), *h.ctx);
  EXPECT_EQ(out["locationId"], "loc_test_1");
  EXPECT_EQ(out.dump().find("location-1"), std::string::npos);
  EXPECT_EQ(h.secrets->get("location_access_token"), "location-1");
}

TEST_F(GhlOAuth, AnAgencyConnectionWithoutCompanyIdIsInvalid) {
  Harness h(server.baseUrl(), "agency_oauth", oauthSecrets(nowSeconds() + 3600));
  try {
    loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
    FAIL() << "expected an OperationError";
  } catch (const sdk::OperationError& e) {
    EXPECT_EQ(e.kind, sdk::ErrorKind::Invalid);
    EXPECT_NE(std::string(e.what()).find("company_id"), std::string::npos);
  }
}

}  // namespace
}  // namespace ferry::tests::ghl

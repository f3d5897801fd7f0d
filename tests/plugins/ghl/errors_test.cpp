// GHL's error answers, sent by a scripted loopback server, and what the plugin makes of them.

#include "support.hpp"

namespace ferry::tests::ghl {
namespace {

struct Outcome {
  std::optional<sdk::OperationError> error;
  Json output;
};

Outcome call(Harness& h, const std::string& id, const Json& input) {
  try {
    return {std::nullopt, loadGhl()->action(id)->invoke(input, *h.ctx)};
  } catch (const sdk::OperationError& e) {
    return {e, Json()};
  }
}

class GhlErrors : public ::testing::Test {
 protected:
  ScriptedServer server;
  Harness h{server.baseUrl(), "private_token", {{"token", "pit-test-0001"}}};
};

TEST_F(GhlErrors, Unauthorized401IsAuthAndAPrivateTokenIsNotRefreshed) {
  server.then([](const sandbox::Request&) {
    return jsonReply(401, {{"statusCode", 401},
                           {"message", "Invalid token: access token is invalid"},
                           {"error", "Unauthorized"}});
  });
  auto out = call(h, "ghl.contact.get", {{"contactId", "c1"}});
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->kind, sdk::ErrorKind::Auth);
  EXPECT_EQ(out.error->httpStatus, 401);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(GhlErrors, Unauthorized401ForAScopeNamesTheOperationsScope) {
  server.then([](const sandbox::Request&) {
    return jsonReply(
        401, {{"statusCode", 401}, {"message", "The token is not authorized for this scope."}});
  });
  auto out = call(h, "ghl.note.create", {{"contactId", "c1"}, {"body", "hi"}});
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->kind, sdk::ErrorKind::Scope);
  EXPECT_EQ(out.error->scope, "contacts.write");
}

TEST_F(GhlErrors, Forbidden403IsScope) {
  server.then([](const sandbox::Request&) { return jsonReply(403, {{"message", "Forbidden"}}); });
  auto out = call(h, "ghl.business.list", {});
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->kind, sdk::ErrorKind::Scope);
  EXPECT_EQ(out.error->scope, "businesses.readonly");
}

TEST_F(GhlErrors, Unprocessable422KeepsGhlsMessageArray) {
  const Json body = {
      {"statusCode", 422},
      {"message", {"property additionalEmails should not exist", "email must be an email"}},
      {"error", "Unprocessable Entity"}};
  server.then([&](const sandbox::Request&) { return jsonReply(422, body); });
  auto out = call(h, "ghl.contact.upsert", {{"email", "x"}});
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->kind, sdk::ErrorKind::Invalid);
  EXPECT_EQ(out.error->details["message"], body["message"]);
  EXPECT_NE(std::string(out.error->what()).find("additionalEmails"), std::string::npos);
}

TEST_F(GhlErrors, TooMany429RetriesAfterTheIntervalAndReportsTheHeaders) {
  server.then([](const sandbox::Request&) {
    return jsonReply(429, {{"message", "Too Many Requests"}},
                     {{"X-RateLimit-Limit-Daily", "200000"},
                      {"X-RateLimit-Daily-Remaining", "199000"},
                      {"X-RateLimit-Interval-Milliseconds", "10000"},
                      {"X-RateLimit-Max", "100"},
                      {"X-RateLimit-Remaining", "0"}});
  });
  auto out = call(h, "ghl.contact.get", {{"contactId", "c1"}});
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->kind, sdk::ErrorKind::RateLimited);
  ASSERT_TRUE(out.error->retryAfter);
  EXPECT_EQ(out.error->retryAfter->count(), 10000);
  ASSERT_EQ(h.reports.size(), 1u);
  const auto& r = h.reports.front();
  EXPECT_EQ(r.bucket, "loc_test_1");
  EXPECT_EQ(r.limit, 100);
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(r.interval->count(), 10000);
  EXPECT_EQ(r.dailyLimit, 200000);
  EXPECT_EQ(r.dailyRemaining, 199000);
}

// An interval too large for a time point (it overflowed `now + interval` in the budget) is
// capped at sdk::kMaxUpstreamWait; a negative one is no interval.
TEST_F(GhlErrors, TooMany429WithAnAbsurdIntervalIsCapped) {
  server.then([](const sandbox::Request&) {
    return jsonReply(429, {{"message", "Too Many Requests"}},
                     {{"X-RateLimit-Interval-Milliseconds", "9223372036854775807"}});
  });
  server.then([](const sandbox::Request&) {
    return jsonReply(429, {{"message", "Too Many Requests"}}, {{"X-RateLimit-Interval-Milliseconds", "-5"}});
  });
  auto huge = call(h, "ghl.contact.get", {{"contactId", "c1"}});
  ASSERT_TRUE(huge.error);
  EXPECT_EQ(huge.error->retryAfter, sdk::kMaxUpstreamWait);
  ASSERT_EQ(h.reports.size(), 1u);
  EXPECT_EQ(h.reports.front().interval, sdk::kMaxUpstreamWait);
  auto negative = call(h, "ghl.contact.get", {{"contactId", "c1"}});
  ASSERT_TRUE(negative.error);
  EXPECT_EQ(negative.error->kind, sdk::ErrorKind::RateLimited);
  EXPECT_FALSE(negative.error->retryAfter);
}

TEST_F(GhlErrors, TooMany429WithTheDailyBudgetSpentIsExhausted) {
  server.then([](const sandbox::Request&) {
    return jsonReply(
        429, {{"message", "Too Many Requests"}},
        {{"X-RateLimit-Daily-Remaining", "0"}, {"X-RateLimit-Interval-Milliseconds", "10000"}});
  });
  auto out = call(h, "ghl.contact.get", {{"contactId", "c1"}});
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->kind, sdk::ErrorKind::Exhausted);
  EXPECT_FALSE(sdk::isRetryable(out.error->kind));
}

TEST_F(GhlErrors, TooMany429WithoutHeadersIsRateLimitedWithoutRetryAfter) {
  server.then([](const sandbox::Request&) { return jsonReply(429, {{"message", "slow down"}}); });
  auto out = call(h, "ghl.contact.get", {{"contactId", "c1"}});
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->kind, sdk::ErrorKind::RateLimited);
  EXPECT_FALSE(out.error->retryAfter);
  EXPECT_TRUE(h.reports.empty());
}

TEST_F(GhlErrors, ServerErrorsAreTransientAndASuccessAfterwardsReportsLimits) {
  server.then([](const sandbox::Request&) { return jsonReply(502, {{"message", "Bad Gateway"}}); });
  auto out = call(h, "ghl.task.list", {{"contactId", "c1"}});
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->kind, sdk::ErrorKind::Transient);
  server.then([](const sandbox::Request&) {
    return jsonReply(200, {{"tasks", Json::array()}}, {{"X-RateLimit-Remaining", "98"}});
  });
  out = call(h, "ghl.task.list", {{"contactId", "c1"}});
  ASSERT_FALSE(out.error);
  EXPECT_EQ(out.output, Json({{"tasks", Json::array()}}));
  ASSERT_EQ(h.reports.size(), 1u);
  EXPECT_EQ(h.reports.front().remaining, 98);
}

TEST_F(GhlErrors, OtherClientErrorsArePermanentKinds) {
  server.then([](const sandbox::Request&) {
    return jsonReply(404, {{"message", "Contact not found"}});
  });
  server.then([](const sandbox::Request&) { return jsonReply(400, {{"message", "Bad Request"}}); });
  server.then([](const sandbox::Request&) { return jsonReply(409, {{"message", "Conflict"}}); });
  auto notFound = call(h, "ghl.contact.get", {{"contactId", "gone"}});
  auto bad = call(h, "ghl.contact.get", {{"contactId", "c1"}});
  auto conflict = call(h, "ghl.contact.get", {{"contactId", "c1"}});
  ASSERT_TRUE(notFound.error && bad.error && conflict.error);
  EXPECT_EQ(notFound.error->kind, sdk::ErrorKind::NotFound);
  EXPECT_EQ(bad.error->kind, sdk::ErrorKind::Invalid);
  EXPECT_EQ(conflict.error->kind, sdk::ErrorKind::Permanent);
  EXPECT_FALSE(sdk::isRetryable(conflict.error->kind));
}

TEST(GhlTransport, NoAnswerPropagatesAsTransportError) {
  std::string deadUrl;
  {
    ScriptedServer server;
    deadUrl = server.baseUrl();
  }  // stopped: the port now refuses connections
  Harness h(deadUrl, "private_token", {{"token", "pit-test-0001"}});
  EXPECT_THROW(loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx),
               sdk::TransportError);
}

TEST(GhlTransport, AConnectionWithoutATokenIsAnAuthError) {
  ScriptedServer server;
  Harness h(server.baseUrl(), "private_token", {});
  try {
    loadGhl()->action("ghl.contact.get")->invoke({{"contactId", "c1"}}, *h.ctx);
    FAIL() << "expected an OperationError";
  } catch (const sdk::OperationError& e) {
    EXPECT_EQ(e.kind, sdk::ErrorKind::Auth);
    EXPECT_NE(std::string(e.what()).find("'token'"), std::string::npos);
  }
  EXPECT_TRUE(server.requests().empty());
}

}  // namespace
}  // namespace ferry::tests::ghl

// The webhook server's request decisions (core/http/request_plan.hpp), without a socket. The
// same functions are fuzzed by fuzz/http_server_fuzz.cpp; inputs it found are replayed here.
#include "http/request_plan.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <sstream>

namespace ferry::core::http {
namespace {

TEST(RequestPlan, RoutesAWebhookByTheRestOfThePathAndKeepsTheRawQuery) {
  const auto plan = planRequest("POST", "/hooks/contact-sync/tok?token=a%20b&x=1", 10, 1024, true);
  ASSERT_EQ(plan.target, RouteTarget::Webhook);
  EXPECT_EQ(plan.name, "contact-sync/tok");
  EXPECT_EQ(plan.path, "/hooks/contact-sync/tok");
  EXPECT_EQ(plan.query, "token=a%20b&x=1");
}

TEST(RequestPlan, StatusRoutesAreGetOnly) {
  EXPECT_EQ(planRequest("GET", "/metrics", -1, 1024, true).target, RouteTarget::Metrics);
  EXPECT_EQ(planRequest("HEAD", "/healthz", -1, 1024, true).target, RouteTarget::Health);
  EXPECT_EQ(planRequest("GET", "/readyz?x", -1, 1024, true).target, RouteTarget::Ready);
  const auto post = planRequest("POST", "/readyz", 0, 1024, true);
  ASSERT_EQ(post.target, RouteTarget::Answer);
  EXPECT_EQ(post.reply.status, 405);
}

TEST(RequestPlan, UnknownPathsWrongMethodsAndNoWebhooksAnswerAtOnce) {
  EXPECT_EQ(planRequest("GET", "/nope", -1, 1024, true).reply.status, 404);
  EXPECT_EQ(planRequest("POST", "/hooks", 0, 1024, true).reply.status, 404);
  EXPECT_EQ(planRequest("GET", "/hooks/x", -1, 1024, true).reply.status, 405);
  EXPECT_EQ(planRequest("POST", "/hooks/x", 0, 1024, false).reply.status, 404);
}

// Found while factoring this out for http_server_fuzz (the input is in its corpus as
// regression-bad-uri): a request target Poco::URI refuses (a bad percent escape) threw out of
// the handler and was answered 500 with an error in the log; it is the sender's fault, a 400.
TEST(RequestPlan, ARequestTargetThatIsNotAUriIsA400) {
  for (const char* uri : {"/hooks/%zz", "/hooks/%", "/hooks/%4"}) {
    const auto plan = planRequest("POST", uri, 0, 1024, true);
    ASSERT_EQ(plan.target, RouteTarget::Answer) << uri;
    EXPECT_EQ(plan.reply.status, 400) << uri;
    EXPECT_TRUE(sdk::Json::accept(plan.reply.body));
  }
  // The query is kept raw (the connector decodes it), so a lone '%' there is not an error.
  EXPECT_EQ(planRequest("POST", "/hooks/x?%", 0, 1024, true).target, RouteTarget::Webhook);
}

// http_server_fuzz, regression-path-not-utf8: the 404 quotes the path, and a path that is not
// UTF-8 made the JSON dump throw (the answer became a 500); it is replaced, still a 404.
TEST(RequestPlan, APathThatIsNotUtf8IsStillAnswered404) {
  const auto plan = planRequest("GET", "/hook\x8d\xcfx", -1, 1024, true);
  ASSERT_EQ(plan.target, RouteTarget::Answer);
  EXPECT_EQ(plan.reply.status, 404);
  EXPECT_TRUE(sdk::Json::accept(plan.reply.body)) << plan.reply.body;
}

TEST(RequestPlan, ADeclaredBodyOverTheLimitIs413AndDrainedOnlyWhenModerate) {
  const auto moderate = planRequest("POST", "/hooks/x", 4096, 1024, true);
  ASSERT_EQ(moderate.target, RouteTarget::Answer);
  EXPECT_EQ(moderate.reply.status, 413);
  EXPECT_EQ(moderate.drainBytes, 4096);
  const auto huge = planRequest("POST", "/hooks/x", kDrainLimit + 1, 1024, true);
  EXPECT_EQ(huge.reply.status, 413);
  EXPECT_EQ(huge.drainBytes, 0);
  EXPECT_EQ(planRequest("POST", "/hooks/x", 1024, 1024, true).target, RouteTarget::Webhook);
  EXPECT_EQ(planRequest("POST", "/hooks/x", -1, 1024, true).target, RouteTarget::Webhook);
}

// Every request but a webhook has its body drained (up to the limit), or its bytes would be
// read as the next request on a kept-alive connection; a webhook reads its own.
TEST(RequestPlan, EveryBodyButAWebhooksIsDrained) {
  EXPECT_EQ(planRequest("POST", "/nowhere", 300, 1024, true).drainBytes, 300);
  EXPECT_EQ(planRequest("POST", "/nowhere", 300, 1024, true).reply.status, 404);
  EXPECT_EQ(planRequest("PUT", "/hooks/x", 300, 1024, true).drainBytes, 300);
  EXPECT_EQ(planRequest("POST", "/hooks/%zz", 300, 1024, true).drainBytes, 300);
  EXPECT_EQ(planRequest("GET", "/healthz", 12, 1024, true).drainBytes, 12);
  EXPECT_EQ(planRequest("POST", "/hooks/x", 300, 1024, false).drainBytes, 300);
  EXPECT_EQ(planRequest("POST", "/nowhere", kDrainLimit + 1, 1024, true).drainBytes, 0);
  EXPECT_EQ(planRequest("GET", "/healthz", -1, 1024, true).drainBytes, 0);
  EXPECT_EQ(planRequest("POST", "/hooks/x", 300, 1024, true).drainBytes, 0);
}

TEST(ReadBody, ReadsABodyWithinTheLimitWholeAndRefusesALongerOne) {
  std::istringstream fits(std::string(1024, 'a'));
  EXPECT_EQ(readBody(fits, 1024), std::string(1024, 'a'));
  std::istringstream empty("");
  EXPECT_EQ(readBody(empty, 0), std::string());
  std::istringstream over(std::string(20000, 'b'));
  EXPECT_EQ(readBody(over, 1024), std::nullopt);
  // No more than limit + 1 bytes were consumed.
  EXPECT_EQ(over.tellg(), 1025);
  std::istringstream unlimited("abc");
  EXPECT_EQ(readBody(unlimited, std::numeric_limits<std::size_t>::max()), "abc");
}

}  // namespace
}  // namespace ferry::core::http

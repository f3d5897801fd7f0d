// Regression tests for what the response fuzz targets (fuzz/ghl_rest_fuzz.cpp,
// fuzz/umsatzio_graphql_fuzz.cpp; docs/fuzzing.md) found: the real plugin library, loaded as the
// runtime loads it, calls a server on 127.0.0.1 that answers exactly what the fuzzer answered,
// through the real HTTP client. Anything but an OperationError or a TransportError escaping an
// action breaks the SDK's contract (the engine would count it as a crash of the step). The same
// inputs are kept in fuzz/corpus/<target>/regression-*.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "engine/local_context.hpp"
#include "kit.hpp"
#include "http/client.hpp"
#include "loader/loader.hpp"

namespace ferry::core::security {
namespace {

namespace fs = std::filesystem;
using sdk::Json;

std::shared_ptr<sdk::Connector> plugin(const std::string& name) {
  auto outcome =
      loader::loadLibrary(fs::path(FERRY_BINARY_DIR) / "lib" / "ferry" / "plugins" / (name + ".so"));
  if (!outcome.plugin) {
    ADD_FAILURE() << outcome.error->message();
    return nullptr;
  }
  return outcome.plugin->connector;
}

// A server that gives every request the same answer.
class CannedServer {
 public:
  explicit CannedServer(sandbox::Response answer)
      : server_([answer](const sandbox::Request&) { return answer; }) {
    server_.start();
  }
  std::string baseUrl() const { return server_.baseUrl(); }

 private:
  sandbox::Server server_;
};

// Runs `action` of `connector` with its first example's input against `answer`; the error it
// throws (an OperationError), or fails the test when it throws something else or nothing.
std::optional<sdk::OperationError> invokeAgainst(const std::string& pluginName,
                                                 sdk::Connection connection,
                                                 std::map<std::string, std::string, std::less<>> secrets,
                                                 const std::string& action,
                                                 sandbox::Response answer) {
  auto connector = plugin(pluginName);
  if (!connector) {
    return std::nullopt;
  }
  CannedServer server(std::move(answer));
  connection.baseUrl = server.baseUrl();
  http::Client http;
  engine::MemoryState state;
  engine::MemorySecrets secretStore(std::move(secrets));
  engine::SystemClock clock;
  engine::LocalContext ctx({connection, &http, &state, &secretStore, &clock, {}});
  const sdk::OperationSpec* spec = nullptr;
  for (const auto& op : connector->spec().operations) {
    if (op.id == action) {
      spec = &op;
    }
  }
  if (spec == nullptr) {
    ADD_FAILURE() << "no operation " << action;
    return std::nullopt;
  }
  const Json input = spec->examples.empty() ? Json::object() : spec->examples.front().input;
  try {
    const Json output = connector->action(action)->invoke(input, ctx);
    ADD_FAILURE() << action << " accepted the answer: " << output.dump();
  } catch (const sdk::OperationError& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << action << " let an exception that is not an OperationError escape: "
                  << e.what();
  }
  return std::nullopt;
}

sdk::Connection umsatzioConnection() {
  sdk::Connection c;
  c.name = "umsatzio_regressions";
  c.plugin = "umsatzio";
  c.auth = "api_key";
  return c;
}

// umsatzio_graphql_fuzz, regression-account-list-no-accounts: an answer with `data` but without
// `data.accounts` made account.list's mapping throw nlohmann's type_error ("cannot use value()
// with null") out of invoke. It is an answer of the wrong shape: umsatzio.bad_response, retried.
TEST(UmsatzioResponseRegressions, AnAnswerOfTheWrongShapeIsABadResponse) {
  const auto error = invokeAgainst(
      "umsatzio", umsatzioConnection(), {{"api_key", "key-regressions"}}, "umsatzio.account.list",
      sandbox::Response::json(
          200, Json::parse(R"({"data": {"items": [{"id": "ac_1", "role": "setter"}], "totalCount": 1}})")));
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, "umsatzio.bad_response");
  EXPECT_EQ(error->kind, sdk::ErrorKind::Transient);
  // The right shape is still read.
  auto connector = plugin("umsatzio");
  ASSERT_TRUE(connector);
  CannedServer server(sandbox::Response::json(
      200, Json::parse(R"({"data": {"accounts": {"totalCount": 1, "items": [{"id": "ac_1"}]}}})")));
  auto connection = umsatzioConnection();
  connection.baseUrl = server.baseUrl();
  http::Client http;
  engine::MemoryState state;
  engine::MemorySecrets secrets(std::map<std::string, std::string, std::less<>>{{"api_key", "key-regressions"}});
  engine::SystemClock clock;
  engine::LocalContext ctx({connection, &http, &state, &secrets, &clock, {}});
  const Json out = connector->action("umsatzio.account.list")->invoke(Json::object(), ctx);
  EXPECT_EQ(out["totalCount"], 1);
  EXPECT_EQ(out["items"][0]["id"], "ac_1");
}

// umsatzio_graphql_fuzz, regression-error-message-null (found by CI, 2026-11-27): a GraphQL
// error whose `message` is null (or whose `extensions.code` is not a string) made the error
// classification throw nlohmann's type_error out of invoke. The error is reported as an error.
TEST(UmsatzioResponseRegressions, AnErrorWithANullMessageIsReportedNotThrown) {
  for (const char* body : {R"({"errors":[{"message":null,"extnonsesi":{"code":"NOT_FOUND"}}]})",
                           R"({"errors":[{"message":null,"extensions":{"code":"NOT_FOUND"}}]})",
                           R"({"errors":[{"message":7,"extensions":{"code":404}}]})"}) {
    const auto error = invokeAgainst("umsatzio", umsatzioConnection(),
                                     {{"api_key", "key-regressions"}}, "umsatzio.account.list",
                                     sandbox::Response::json(200, Json::parse(body)));
    ASSERT_TRUE(error.has_value()) << body;
    EXPECT_FALSE(error->code.empty()) << body;
  }
}

// umsatzio_graphql_fuzz, regression-retry-after-1e308 (found by CI, 2026-11-27): a 429 whose
// Retry-After is a number too large for milliseconds ("1e308", also "inf") overflowed the
// conversion to a long long: undefined behaviour, caught by UBSan. The same held for the
// error's extensions.retryAfter. A wait is now capped at sdk::kMaxUpstreamWait (1 h); a wait that
// is not a number (NaN, negative) is ignored, and the runtime's own backoff applies.
TEST(UmsatzioResponseRegressions, AHugeRetryAfterIsCappedNotOverflowed) {
  const auto answer = [](const std::string& header, const Json& body) {
    auto r = sandbox::Response::json(429, body);
    if (!header.empty()) {
      r.headers.emplace_back("Retry-After", header);
    }
    return r;
  };
  const Json limited = Json::parse(R"({"errors":[{"message":"slow down","extensions":{"code":"RATE_LIMITED"}}]})");
  Json hugeExtension = limited;
  hugeExtension["errors"][0]["extensions"]["retryAfter"] = 1e308;
  struct Case {
    std::string header;
    Json body;
    std::optional<std::chrono::milliseconds> wait;
  };
  for (const auto& c : {Case{"1e308", limited, sdk::kMaxUpstreamWait},
                        Case{"inf", limited, sdk::kMaxUpstreamWait},
                        Case{"nan", limited, std::nullopt},
                        Case{"-3", limited, std::nullopt},
                        Case{"", hugeExtension, sdk::kMaxUpstreamWait},
                        Case{"12", limited, std::chrono::milliseconds(12000)}}) {
    const auto error = invokeAgainst("umsatzio", umsatzioConnection(), {{"api_key", "key-regressions"}},
                                     "umsatzio.account.list", answer(c.header, c.body));
    ASSERT_TRUE(error.has_value()) << c.header;
    EXPECT_EQ(error->kind, sdk::ErrorKind::RateLimited) << c.header;
    EXPECT_EQ(error->retryAfter, c.wait) << c.header;
  }
}

}  // namespace
}  // namespace ferry::core::security

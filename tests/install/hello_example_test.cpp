// The tutorial's example plugin, loaded like any plugin and run against a local HTTP server.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "conformance.hpp"
#include "engine/local_context.hpp"
#include "http/client.hpp"
#include "kit.hpp"
#include "loader/loader.hpp"

namespace {

namespace fs = std::filesystem;
using namespace ferry;
using sdk::Json;

std::shared_ptr<sdk::Connector> loadHello() {
  auto outcome =
      core::loader::loadLibrary(fs::path(FERRY_FIXTURE_DIR) / "examples" / "hello_example.so");
  if (outcome.error) {
    throw std::runtime_error(outcome.error->message());
  }
  return outcome.plugin->connector;
}

struct HelloPlugin {
  static std::shared_ptr<sdk::Connector> create() { return loadHello(); }
};

// A greetings service on 127.0.0.1: stores greetings, or answers with a chosen status.
class GreetingsServer {
 public:
  GreetingsServer() : server_([this](const sandbox::Request& r) { return handle(r); }) {
    server_.start();
  }
  ~GreetingsServer() { server_.stop(); }

  std::string baseUrl() const { return server_.baseUrl(); }
  void failWith(int status) { failWith_ = status; }
  Json lastBody() {
    std::lock_guard lock(mutex_);
    return lastBody_;
  }
  std::string lastAuthorization() {
    std::lock_guard lock(mutex_);
    return lastAuthorization_;
  }

 private:
  sandbox::Response handle(const sandbox::Request& r) {
    if (r.method != "POST" || r.path != "/greetings") {
      return sandbox::Response::json(404, {{"message", "not found"}});
    }
    {
      std::lock_guard lock(mutex_);
      lastBody_ = Json::parse(r.body, nullptr, false);
      lastAuthorization_ = r.header("Authorization").value_or("");
    }
    if (const int status = failWith_.load(); status != 0) {
      auto res = sandbox::Response::json(status, {{"message", "refused"}});
      if (status == 429) {
        res.headers.emplace_back("Retry-After", "7");
      }
      return res;
    }
    return sandbox::Response::json(201, {{"id", "g-" + std::to_string(++count_)}});
  }

  std::atomic<int> failWith_{0};
  std::atomic<int> count_{0};
  std::mutex mutex_;
  Json lastBody_;
  std::string lastAuthorization_;
  sandbox::Server server_;
};

class HelloExample : public ::testing::Test {
 protected:
  HelloExample()
      : connector_(loadHello()),
        secrets_(std::map<std::string, std::string, std::less<>>{{"token", "tok-123"}}),
        ctx_(core::engine::LocalContext::Parts{
            sdk::Connection{"hello_main", "hello", "token", server_.baseUrl(), Json::object(), {}},
            &http_, &state_, &secrets_, &clock_, nullptr}) {}

  Json send(const Json& input) {
    auto* action = connector_->action("hello.greeting.send");
    const auto& op = *connector_->spec().find("hello.greeting.send");
    EXPECT_TRUE(sdk::validate(op.input, input).empty());
    return action->invoke(sdk::applyDefaults(op.input, input), ctx_);
  }

  sdk::ErrorKind failureKind(int status, sdk::OperationError* copy = nullptr) {
    server_.failWith(status);
    try {
      send({{"name", "Ada"}});
    } catch (const sdk::OperationError& e) {
      if (copy != nullptr) {
        *copy = e;
      }
      return e.kind;
    }
    ADD_FAILURE() << "status " << status << " did not fail";
    return sdk::ErrorKind::Permanent;
  }

  GreetingsServer server_;
  std::shared_ptr<sdk::Connector> connector_;
  core::http::Client http_;
  core::engine::MemoryState state_;
  core::engine::MemorySecrets secrets_;
  core::engine::SystemClock clock_;
  core::engine::LocalContext ctx_;
};

TEST_F(HelloExample, SendsTheGreetingOverHttp) {
  const auto out = send({{"name", "Ada"}});
  EXPECT_EQ(out, (Json{{"id", "g-1"}, {"text", "Hello, Ada!"}}));
  EXPECT_EQ(server_.lastBody(), (Json{{"to", "Ada"}, {"text", "Hello, Ada!"}}));
  EXPECT_EQ(server_.lastAuthorization(), "Bearer tok-123");
  const auto second = send({{"name", "Grace"}, {"greeting", "Hi"}});
  EXPECT_EQ(second, (Json{{"id", "g-2"}, {"text", "Hi, Grace!"}}));
  // The output matches the declared schema.
  const auto& op = *connector_->spec().find("hello.greeting.send");
  EXPECT_TRUE(sdk::validate(op.output, second).empty());
}

TEST_F(HelloExample, ClassifiesFailures) {
  sdk::OperationError limited(sdk::ErrorKind::Permanent, "", "");
  EXPECT_EQ(failureKind(429, &limited), sdk::ErrorKind::RateLimited);
  ASSERT_TRUE(limited.retryAfter.has_value());
  EXPECT_EQ(*limited.retryAfter, std::chrono::seconds(7));
  EXPECT_EQ(failureKind(503), sdk::ErrorKind::Transient);
  EXPECT_EQ(failureKind(401), sdk::ErrorKind::Auth);
  sdk::OperationError invalid(sdk::ErrorKind::Permanent, "", "");
  EXPECT_EQ(failureKind(422, &invalid), sdk::ErrorKind::Invalid);
  EXPECT_EQ(invalid.httpStatus, 422);
  EXPECT_EQ(invalid.details["message"], "refused");
}

TEST_F(HelloExample, ANameIsRequired) {
  const auto& op = *connector_->spec().find("hello.greeting.send");
  const auto issues = sdk::validate(op.input, Json{{"greeting", "Hi"}});
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues.front().path, "name");
}

}  // namespace

namespace ferry::sdk::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(HelloExample, ConnectorConformance, ::testing::Types<HelloPlugin>);
}  // namespace ferry::sdk::testing

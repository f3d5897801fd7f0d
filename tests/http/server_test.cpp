#include "http/server.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "http/client.hpp"

namespace ferry::core::http {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.port = 0;
    options.maxBodyBytes = 1024;
    Routes routes;
    routes.webhook = [this](const std::string& name, const sdk::WebhookRequest& req) {
      received_++;
      lastName_ = name;
      lastBody_ = req.body;
      Reply r;
      r.status = 202;
      r.body = R"({"accepted":true})";
      return r;
    };
    routes.health = [] { return Reply{200, "text/plain", "ok\n", {}}; };
    routes.metrics = []() -> Reply { throw std::runtime_error("boom"); };
    server_ = std::make_unique<Server>(options, routes);
    server_->start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  sdk::HttpResponse call(const std::string& method, const std::string& path,
                         const std::string& body = "") {
    sdk::HttpRequest req;
    req.method = method;
    req.url = base_ + path;
    req.body = body;
    req.headers = {{"Content-Type", "application/json"}};
    return client_.send(req);
  }

  std::unique_ptr<Server> server_;
  Client client_;
  std::string base_;
  std::atomic<int> received_{0};
  std::string lastName_;
  std::string lastBody_;
};

TEST_F(ServerTest, RoutesWebhooksByName) {
  const auto res = call("POST", "/hooks/contact-sync", R"({"id":"1"})");
  EXPECT_EQ(res.status, 202);
  EXPECT_EQ(lastName_, "contact-sync");
  EXPECT_EQ(lastBody_, R"({"id":"1"})");
}

TEST_F(ServerTest, RefusesOversizedBodiesWithoutCallingTheHandler) {
  const auto res = call("POST", "/hooks/x", std::string(4096, 'a'));
  EXPECT_EQ(res.status, 413);
  EXPECT_EQ(received_, 0);
  // The server still answers afterwards.
  EXPECT_EQ(call("POST", "/hooks/x", "{}").status, 202);
}

TEST_F(ServerTest, AnswersUnknownPathsAndMethods) {
  EXPECT_EQ(call("GET", "/nope").status, 404);
  EXPECT_EQ(call("GET", "/hooks/x").status, 405);
  EXPECT_EQ(call("POST", "/healthz").status, 405);
  const auto health = call("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
}

TEST_F(ServerTest, AHandlerExceptionIsA500WithoutItsDetail) {
  const auto res = call("GET", "/metrics");
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body.find("boom"), std::string::npos);
}

TEST(Client, AConnectionRefusedIsATransportError) {
  Client client;
  sdk::HttpRequest req;
  req.url = "http://127.0.0.1:1/";
  EXPECT_THROW(client.send(req), sdk::TransportError);
}

}  // namespace
}  // namespace ferry::core::http

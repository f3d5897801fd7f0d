#include "hello.hpp"

#include <chrono>
#include <cstdlib>
#include <string>

namespace hello {

using namespace ferry::sdk;

namespace {

// Turns an HTTP status into the error kind the runtime acts on (retry, wait, dead-letter).
void throwForStatus(const HttpResponse& res) {
  if (res.status < 400) {
    return;
  }
  const std::string status = std::to_string(res.status);
  if (res.status == 429) {
    OperationError e(ErrorKind::RateLimited, "hello.rate_limited", "The service is busy.");
    if (auto after = res.header("Retry-After")) {
      e.retryAfter = std::chrono::seconds(std::atol(after->c_str()));
    }
    throw e;
  }
  if (res.status >= 500) {
    throw OperationError(ErrorKind::Transient, "hello.server",
                         "The service failed (" + status + ").");
  }
  if (res.status == 401 || res.status == 403) {
    throw OperationError(ErrorKind::Auth, "hello.unauthorized", "The token was refused.");
  }
  OperationError e(ErrorKind::Invalid, "hello.rejected",
                   "The service rejected the greeting (" + status + ").");
  e.httpStatus = res.status;
  e.details = Json::parse(res.body, nullptr, false);
  throw e;
}

// hello.greeting.send
class SendGreeting : public Action {
 public:
  Json invoke(const Json& input, Context& ctx) override {
    const auto name = input.at("name").get<std::string>();
    const auto text = input.value("greeting", "Hello") + ", " + name + "!";

    HttpRequest req;
    req.method = "POST";
    req.url = ctx.connection().baseUrl + "/greetings";
    req.headers = {{"Content-Type", "application/json"}};
    if (auto token = ctx.secrets().get("token")) {
      req.headers.emplace_back("Authorization", "Bearer " + *token);
    }
    req.body = Json{{"to", name}, {"text", text}}.dump();

    const HttpResponse res = ctx.http().send(req);  // throws TransportError: always retried
    throwForStatus(res);
    const Json body = Json::parse(res.body, nullptr, false);
    if (!body.is_object() || !body.contains("id") || !body["id"].is_string()) {
      throw OperationError(ErrorKind::Permanent, "hello.bad_response",
                           "The service answered without a greeting id.");
    }
    ctx.log().info("Greeting sent.", {{"greeting_id", body["id"]}});
    return {{"id", body["id"]}, {"text", text}};
  }
};

OperationSpec sendGreetingSpec() {
  OperationSpec op;
  op.id = "hello.greeting.send";
  op.summary = "Send a greeting to someone";
  op.description = "Posts the greeting to the service, which stores it and answers with its id.";
  op.input = {
      str("name").require().describe("Who to greet."),
      str("greeting").defaults("Hello").describe("The word to greet with."),
  };
  op.output = {
      str("id").require().describe("The id the service gave the greeting."),
      str("text").require().describe("The greeting that was sent."),
  };
  op.scopes = {"greetings.write"};
  op.method = "POST";
  op.path = "/greetings";
  op.recordKey = "id";
  op.examples = {{"Greet Ada", {{"name", "Ada"}}, {{"id", "g-1"}, {"text", "Hello, Ada!"}}}};
  return op;
}

class HelloConnector : public BasicConnector {
 public:
  HelloConnector() : BasicConnector(makeSpec()) {
    add(sendGreetingSpec(), std::make_unique<SendGreeting>());
  }

 private:
  static ConnectorSpec makeSpec() {
    ConnectorSpec spec;
    spec.id = "hello";
    spec.name = "Hello";
    spec.version = "0.1.0";
    spec.description = "Sends greetings to a greetings service (the plugin tutorial's example).";
    spec.auth = {{"token",
                  "A bearer token.",
                  {str("token").require().withFormat("secret").describe("The bearer token.")}}};
    spec.settings = {
        str("base_url").require().withFormat("uri").describe("The service's base URL.")};
    spec.scopes = {"greetings.write"};
    return spec;
  }
};

}  // namespace

std::unique_ptr<Connector> makeConnector() { return std::make_unique<HelloConnector>(); }

}  // namespace hello

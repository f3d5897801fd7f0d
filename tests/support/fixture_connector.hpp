#pragma once

// What the fixture plugins share (tests/fixtures/plugins/test_plugin.cpp,
// tests/engine/snapshot_plugin.cpp, tests/engine/relay_plugin.cpp): the connector spec, the
// "send a text to {baseUrl}/messages" action and the spec of a trigger. Header-only and built
// only on the SDK, like the plugins that include it.

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "ferry/sdk/sdk.hpp"

namespace ferry::testing::fixture {

// A fixture connector's spec, version 1.0.0; no credentials unless the caller sets `auth`.
inline sdk::ConnectorSpec connectorSpec(std::string id, std::string name,
                                        std::string description) {
  sdk::ConnectorSpec spec;
  spec.id = std::move(id);
  spec.name = std::move(name);
  spec.version = "1.0.0";
  spec.description = std::move(description);
  spec.auth = {{"none", "No credentials.", {}}};
  return spec;
}

// POSTs `input` as JSON to {baseUrl}/messages (with "Authorization: Bearer <token>" when the
// connection has a secret `token`) and returns the server's JSON answer. Throws
// OperationError: 5xx Transient `<plugin>.server`, 401 Auth `<plugin>.unauthorized`, other
// 4xx Invalid `<plugin>.rejected`.
inline sdk::Json postMessage(sdk::Context& ctx, const std::string& plugin, const sdk::Json& input,
                             std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  sdk::HttpRequest req;
  req.method = "POST";
  req.url = ctx.connection().baseUrl + "/messages";
  req.headers = {{"Content-Type", "application/json"}};
  if (auto token = ctx.secrets().get("token")) {
    req.headers.emplace_back("Authorization", "Bearer " + *token);
  }
  req.body = input.dump();
  req.timeout = timeout;
  const auto res = ctx.http().send(req);
  if (res.status >= 500) {
    throw sdk::OperationError(sdk::ErrorKind::Transient, plugin + ".server", "The server failed.");
  }
  if (res.status == 401) {
    throw sdk::OperationError(sdk::ErrorKind::Auth, plugin + ".unauthorized",
                              "The token was refused.");
  }
  if (res.status >= 400) {
    throw sdk::OperationError(sdk::ErrorKind::Invalid, plugin + ".rejected",
                              "The server rejected the message (" + std::to_string(res.status) +
                                  ").");
  }
  return sdk::Json::parse(res.body, nullptr, false);
}

// `<plugin>.record.send`: sends its `text` with postMessage, returns {id, text}.
class SendText : public sdk::Action {
 public:
  SendText(std::string plugin, std::chrono::milliseconds timeout = std::chrono::seconds(15))
      : plugin_(std::move(plugin)), timeout_(timeout) {}
  sdk::Json invoke(const sdk::Json& input, sdk::Context& ctx) override {
    const sdk::Json body = postMessage(ctx, plugin_, input, timeout_);
    return {{"id", body.is_object() ? body.value("id", "") : ""},
            {"text", input.value("text", "")}};
  }

 private:
  std::string plugin_;
  std::chrono::milliseconds timeout_;
};

// The spec of SendText under `id`.
inline sdk::OperationSpec sendTextSpec(std::string id) {
  sdk::OperationSpec send;
  send.id = std::move(id);
  send.summary = "Send a record's text to the test server";
  send.input = {sdk::str("text").require().describe("The text.")};
  send.output = {sdk::str("id").describe("The server's id."),
                 sdk::str("text").describe("The text.")};
  send.method = "POST";
  send.path = "/messages";
  send.examples = {{"Send", {{"text", "a"}}, {{"id", "m1"}, {"text", "a"}}}};
  return send;
}

// A trigger's spec: its events' payload `output`, keyed by `recordKey`, one example event.
inline sdk::OperationSpec triggerSpec(std::string id, std::string summary, sdk::Delivery delivery,
                                      sdk::Schema output, std::string recordKey,
                                      sdk::Json example, std::string exampleTitle = "An event") {
  sdk::OperationSpec t;
  t.id = std::move(id);
  t.kind = sdk::OperationKind::Trigger;
  t.summary = std::move(summary);
  t.delivery = delivery;
  t.output = std::move(output);
  t.recordKey = std::move(recordKey);
  t.examples = {{std::move(exampleTitle), sdk::Json::object(), std::move(example)}};
  return t;
}

}  // namespace ferry::testing::fixture

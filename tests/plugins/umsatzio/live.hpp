#pragma once

// A connector loaded with the core loader, talking to a real sandbox process over HTTP.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "engine/local_context.hpp"
#include "ferry/sdk/sdk.hpp"
#include "http/client.hpp"
#include "loader/loader.hpp"
#include "sandbox_process.hpp"

namespace ferry::tests::umsatzio {

inline std::shared_ptr<sdk::Connector> loadConnector() {
  auto outcome = core::loader::loadLibrary(std::filesystem::path(FERRY_BINARY_DIR) / "lib" / "ferry" /
                                           "plugins" / "umsatzio.so");
  if (outcome.error) {
    throw std::runtime_error(outcome.error->message());
  }
  return outcome.plugin->connector;
}

// One connection to a sandbox: settings and secrets are editable per test.
struct Live {
  explicit Live(SandboxProcess& sandbox, std::string apiKey = "")
      : secrets({{"api_key", apiKey.empty() ? sandbox.apiKey() : apiKey}}) {
    connection.name = "umsatzio_test";
    connection.plugin = "umsatzio";
    connection.auth = "api_key";
    connection.baseUrl = sandbox.baseUrl();
  }

  core::engine::LocalContext context() {
    return core::engine::LocalContext({connection, &http, &state, &secrets, nullptr, {}});
  }

  // Validates the input like the core does, applies defaults and invokes the action.
  Json run(sdk::Connector& connector, const std::string& id, const Json& input) {
    const auto* op = connector.spec().find(id);
    if (op == nullptr) {
      throw std::runtime_error("no operation " + id);
    }
    const auto issues = sdk::validate(op->input, input);
    if (!issues.empty()) {
      throw std::runtime_error(id + ": invalid input: " + issues.front().message);
    }
    auto ctx = context();
    return connector.action(id)->invoke(sdk::applyDefaults(op->input, input), ctx);
  }

  sdk::Connection connection;
  core::http::Client http;
  core::engine::MemoryState state;
  core::engine::MemorySecrets secrets;
};

// Runs `fn`, expecting an OperationError; returns it.
template <class Fn>
sdk::OperationError expectOperationError(Fn&& fn) {
  try {
    fn();
  } catch (const sdk::OperationError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an OperationError";
  return sdk::OperationError(sdk::ErrorKind::Permanent, "none", "none");
}

}  // namespace ferry::tests::umsatzio

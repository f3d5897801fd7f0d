// Fuzz target: the flow parser and validator (core/flow). The input is a flow file. It is parsed,
// validated against the real catalog (both connectors compiled in), and, when it is valid, every
// mapping is evaluated against the trigger's example event. Expected failures are diagnostics
// and EvalError; any other exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "flow/flow.hpp"
#include "flow/validate.hpp"
#include "support.hpp"

namespace {

using namespace ferry;
using namespace ferry::core;

const catalog::Catalog& fuzzCatalog() {
  static const catalog::Catalog catalog = [] {
    std::vector<loader::LoadedPlugin> plugins;
    plugins.push_back({"ghl.so", std::shared_ptr<sdk::Connector>(plugins::ghl::createGhlConnector())});
    plugins.push_back(
        {"umsatzio.so", std::shared_ptr<sdk::Connector>(plugins::umsatzio::createConnector())});
    return catalog::Catalog(std::move(plugins));
  }();
  return catalog;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<flow::Diagnostic> diagnostics;
  auto parsed = flow::parseFlow(text, "fuzz.yaml", diagnostics);
  if (!parsed) {
    return 0;
  }
  std::vector<flow::Flow> flows;
  flows.push_back(std::move(*parsed));
  flow::validate(flows, fuzzCatalog(), nullptr, diagnostics);
  if (!diagnostics.empty()) {
    return 0;
  }
  // A valid flow: evaluate its mappings against the trigger's example payload.
  const auto entry = fuzzCatalog().find(flows[0].trigger.use);
  sdk::Json event = sdk::Json::object();
  if (entry.operation != nullptr && !entry.operation->examples.empty()) {
    event = entry.operation->examples.front().output;
  }
  const sdk::Json steps = sdk::Json::object();
  flow::EvalEnv env;
  env.event = &event;
  env.steps = &steps;
  env.now = std::chrono::system_clock::time_point(std::chrono::seconds(fuzz::kFuzzNow));
  for (const auto& step : flows[0].steps) {
    try {
      if (step.when) {
        (void)flow::truthy(flow::evaluate(*step.when, env));
      }
      (void)flow::evaluate(step.with, env);
    } catch (const flow::EvalError&) {
      // A documented run-time failure (e.g. correlate() without a lookup).
    }
  }
  return 0;
}

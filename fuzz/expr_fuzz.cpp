// Fuzz target: the mapping language (core/flow/expr). The input's first line is an expression,
// the rest an event (JSON; when it does not parse, Umsatz-io's contact.created example is used).
// The expression is parsed, type-checked against the contact.created event schema and a step
// `prev` that ran before, then evaluated. Expected failures: parse and type errors, EvalError.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "flow/dry_run.hpp"
#include "flow/expr.hpp"
#include "support.hpp"

namespace {

using namespace ferry;
using namespace ferry::core;

struct Fixture {
  std::unique_ptr<sdk::Connector> connector = plugins::umsatzio::createConnector();
  const sdk::OperationSpec* trigger = connector->spec().find("umsatzio.contact.created");
  flow::MemoryCorrelations correlations;
  Fixture() { correlations.put("contact", "c-1", "ghl-1"); }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

class Scope : public flow::TypeScope {
 public:
  explicit Scope(const sdk::Schema* event) : event_(event) {}
  const sdk::Schema* eventSchema() const override { return event_; }
  StepState step(std::string_view id, const sdk::Schema*& schema) const override {
    schema = nullptr;
    if (id == "prev") {
      return StepState::Earlier;
    }
    return id == "next" ? StepState::Later : StepState::Unknown;
  }

 private:
  const sdk::Schema* event_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::string_view source = in.until('\n');
  const std::string_view eventText = in.rest();

  std::vector<flow::ExprError> errors;
  auto node = flow::parseExpression(source, errors);
  if (!node) {
    return 0;
  }
  Fixture& f = fixture();
  Scope scope(f.trigger != nullptr ? &f.trigger->output : nullptr);
  flow::checkTypes(*node, scope, errors);
  if (!errors.empty()) {
    return 0;
  }
  sdk::Json event = sdk::Json::parse(eventText, nullptr, false);
  if (event.is_discarded() || !event.is_object()) {
    event = f.trigger != nullptr && !f.trigger->examples.empty() ? f.trigger->examples.front().output
                                                                 : sdk::Json::object();
  }
  const sdk::Json steps = {{"prev", event}};
  flow::EvalEnv env;
  env.event = &event;
  env.steps = &steps;
  env.correlations = &f.correlations;
  env.now = std::chrono::system_clock::time_point(std::chrono::seconds(fuzz::kFuzzNow));
  try {
    const sdk::Json value = flow::evaluate(*node, env);
    std::string text;
    flow::appendText(text, value);
    (void)flow::truthy(value);
  } catch (const flow::EvalError&) {
    // Documented run-time failure.
  }
  return 0;
}

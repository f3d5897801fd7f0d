// Fuzz target: the mapping language (core/flow/expr). The input's first line is an expression,
// the rest an event (JSON; when it does not parse, a fixed contact is used). The expression is
// parsed, type-checked against a contact event schema (the shape of Umsatz-io's normalised
// contacts) and a step `prev` that ran before, then evaluated. Expected failures: parse and type errors, EvalError.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "flow/dry_run.hpp"
#include "ferry/sdk/schema.hpp"
#include "flow/expr.hpp"
#include "support.hpp"

namespace {

using namespace ferry;
using namespace ferry::core;

struct Fixture {
  sdk::Schema schema{
      sdk::str("id").require(),
      sdk::str("email").withFormat("email"),
      sdk::str("firstName"),
      sdk::str("lastName"),
      sdk::str("phone"),
      sdk::str("company"),
      sdk::object("data", {sdk::str("notes"), sdk::integer("score"), sdk::boolean("vip")}),
      sdk::array("tags", sdk::str("tag")),
      sdk::number("revenue"),
      sdk::datetime("createdAt"),
      sdk::date("birthday"),
  };
  sdk::Json example = {{"id", "c-1"},
                       {"email", "ada@example.org"},
                       {"firstName", "Ada"},
                       {"lastName", "Lovelace"},
                       {"phone", "030 1234567"},
                       {"company", "Analytical"},
                       {"data", {{"notes", "n"}, {"score", 7}, {"vip", true}}},
                       {"tags", {"a", "b"}},
                       {"revenue", 12.5},
                       {"createdAt", "2026-01-01T00:00:00.000Z"},
                       {"birthday", "1815-12-10"}};
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
  Scope scope(&f.schema);
  flow::checkTypes(*node, scope, errors);
  if (!errors.empty()) {
    return 0;
  }
  sdk::Json event = sdk::Json::parse(eventText, nullptr, false);
  if (event.is_discarded() || !event.is_object()) {
    event = f.example;
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

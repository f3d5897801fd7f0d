#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flow/diagnostic.hpp"
#include "flow/expr.hpp"
#include "flow/schedule.hpp"

// A flow file (docs/flow-format.md), parsed and with every mapping compiled.
namespace ferry::core::flow {

// A YAML string with `${...}` parts. A string that is exactly one `${expr}` keeps the
// expression's type; any other template is text.
struct Template {
  struct Part {
    std::string text;            // literal text (when expr is null)
    std::string source;          // the expression's source (when expr is set)
    std::unique_ptr<Node> expr;  // compiled expression, null for literal text
    Location at;                 // where the expression's text starts in the file
  };
  std::vector<Part> parts;
  bool single() const { return parts.size() == 1 && parts[0].expr != nullptr; }
};

// A mapped value under `with:` (and the like): a YAML literal, a template, or a mapping or
// sequence of further values.
struct Value {
  // Declared here, defined in value.cpp: with `members` holding pairs of the still incomplete
  // Value, clang with libstdc++ cannot instantiate the implicit ones (the fuzz preset).
  Value();
  ~Value();
  Value(Value&&) noexcept;
  Value& operator=(Value&&) noexcept;

  enum Kind { Literal, Text, Object, Array };
  Kind kind = Literal;
  Json literal;                                        // Literal
  Template text;                                       // Text
  std::vector<std::pair<std::string, Value>> members;  // Object
  std::vector<Location> memberAt;                      // Object: where each key is
  std::vector<std::size_t> keyOrder;                   // Object: member indexes sorted by key
  std::vector<Value> items;                            // Array
  Location at;
};

struct OnError {
  enum class Policy { Retry, Skip, DeadLetter, Fallback };
  // What happens after a failure: retry transient failures, then `then` (or the fallback flow).
  Policy then = Policy::DeadLetter;
  // Attempts in all, the first included. Unset: the config's `limits.retry.max_attempts`.
  std::optional<int> maxAttempts;
  std::string backoff = "exponential";  // "exponential" (with jitter) or "fixed"
  // The first retry's delay. Unset: the config's `limits.retry.initial_ms`.
  std::optional<std::chrono::milliseconds> delay;
  std::string fallback;                   // Policy::Fallback: the flow that receives the event
  Location at;
  Location fallbackAt;
};

struct Correlate {
  std::string kind;  // "contact", "task", "note", ...
  Value source;      // the id on the trigger's side
  Value target;      // the id on the action's side
  Location at;
};

struct Step {
  std::string id;
  Location at;
  std::string use;
  Location useAt;
  std::string connection;
  Location connectionAt;
  Value with;  // an Object
  std::optional<Template> when;
  Location whenAt;
  OnError onError;
  std::optional<Correlate> correlate;
};

struct TriggerDecl {
  std::string use;
  Location useAt;
  std::string connection;
  Location connectionAt;
  Value with;  // an Object of literals (filters)
  Location at;
};

struct Flow {
  std::string file;  // as given, used in every diagnostic
  int version = 0;
  std::string id;
  Location idAt;
  std::string description;
  TriggerDecl trigger;
  std::vector<Step> steps;
  std::optional<Schedule> schedule;  // when `ferry run` runs its sync cycle (docs/sync.md)
  Location at;
};

// Parses and compiles one flow file. Reports every problem of the YAML and of the format (keys,
// shapes, expressions' syntax, functions, arities) into `diagnostics`; returns nullopt only
// when the text is not YAML or not a mapping at all. Pure: reads nothing but `text`.
std::optional<Flow> parseFlow(std::string_view text, const std::string& file,
                              std::vector<Diagnostic>& diagnostics);

// Evaluates a template or value for one event. Null members of objects are left out, so an
// optional input whose mapping yields null is not sent at all.
Json evaluate(const Template& tmpl, const EvalEnv& env);
Json evaluate(const Value& value, const EvalEnv& env);

// Keys refused anywhere in a flow because they hold secrets (compared case-insensitively,
// ignoring '_' and '-').
bool isSecretKey(std::string_view key);

}  // namespace ferry::core::flow

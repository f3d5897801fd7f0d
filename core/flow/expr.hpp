#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/sdk/json.hpp"
#include "ferry/sdk/schema.hpp"

// The mapping language (docs/mapping-language.md): expressions inside `${ ... }` in flow
// strings. An expression is parsed ONCE, when its flow loads, into a tree whose functions are
// resolved to pointers and whose field paths are pre-split; evaluating it per event walks that
// tree and never looks at the source text again.
namespace ferry::core::flow {

using sdk::Json;

// The static type of an expression. `field` points into the schema the value comes from (the
// trigger's event, a step's output, a function's declared result), so member access on it can
// be checked; nullptr when unknown.
struct StaticType {
  enum Kind { Null, Boolean, Integer, Number, String, DateTime, Date, Object, Array, Any };
  Kind kind = Any;
  bool nullable = true;
  const sdk::Field* field = nullptr;

  static StaticType of(Kind k, bool nullable = false) { return {k, nullable, nullptr}; }
  bool isNumeric() const { return kind == Integer || kind == Number; }
};

std::string_view kindName(StaticType::Kind kind);
StaticType::Kind kindOf(sdk::Type type);

// Looks a record id up in the correlation table: the id on the other side for an id of kind
// `kind` ("contact", "task", "note") on the source side. The runtime implements it over the
// store; dry runs and tests use MemoryCorrelations. Called during evaluation, on the worker
// thread evaluating the flow; must be thread-safe. Never throws for a miss: returns nullopt.
class CorrelationLookup {
 public:
  virtual ~CorrelationLookup() = default;
  virtual std::optional<std::string> find(std::string_view kind, std::string_view sourceId) = 0;
};

// What one evaluation sees: the event, the outputs of the steps that ran so far (an object keyed
// by step id), the correlation table and the current time (fixed per event, so that `now()` is
// the same in every mapping of one run).
struct EvalEnv {
  const Json* event = nullptr;
  const Json* steps = nullptr;
  CorrelationLookup* correlations = nullptr;
  std::chrono::system_clock::time_point now{};
};

// Thrown by evaluation for a mistake only visible at run time (correlate() without a lookup, a
// date that cannot be formatted). The runtime treats it as a permanent step failure.
class EvalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Node;
struct Function;

// One segment of a field path: a member name, or an array index (index >= 0).
struct PathSegment {
  std::string key;
  long index = -1;
};

enum class Op : unsigned char {
  Literal,
  Path,
  Call,
  Member,
  Not,
  Neg,
  Add,
  Sub,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  And,
  Or,
  Cond
};

enum class Root : unsigned char { Event, Steps };

struct Node {
  Op op = Op::Literal;
  Json literal;                   // Literal
  Root root = Root::Event;        // Path
  std::vector<PathSegment> path;  // Path (Steps: path[0] is the step id), Member: [0]
  const Function* fn = nullptr;   // Call
  std::vector<std::unique_ptr<Node>> args;
  std::size_t offset = 0;  // position in the expression's source text
  StaticType type;         // set by the type checker
};

// A function of the language: its name, arity, how its result type follows from its arguments'
// types, and its implementation. The table is in functions.cpp.
struct Function {
  enum class Param : unsigned char { Any, Text, Temporal, Numeric };
  std::string_view name;
  int minArgs = 0;
  int maxArgs = 0;                                         // -1: variadic
  Param params[3] = {Param::Any, Param::Any, Param::Any};  // the rest are Any
  StaticType (*result)(std::span<const StaticType> args) = nullptr;
  // `args` are this call's own values: an implementation may move out of them.
  Json (*impl)(std::span<Json> args, const EvalEnv& env) = nullptr;
  std::string_view signature;  // for hints: "e164(phone, country = 'DE')"
};

// The function named `name`, or nullptr.
const Function* findFunction(std::string_view name);
// Every function, for docs and "did you mean".
std::span<const Function> functions();

// An error found while parsing or checking one expression; `offset` is into its source text.
struct ExprError {
  std::size_t offset = 0;
  std::string code;
  std::string message;
  std::string hint;
};

// Parses one expression (the text between `${` and `}`). Returns nullptr and fills `errors` on
// a syntax error, an unknown function or a wrong arity (all of them, as far as parsing goes).
std::unique_ptr<Node> parseExpression(std::string_view text, std::vector<ExprError>& errors);

// What the type checker knows about names: the trigger's event schema, and for each step id
// whether it exists, whether it runs before the expression's own step, and its output schema.
class TypeScope {
 public:
  virtual ~TypeScope() = default;
  // The event's schema; nullptr when the trigger is unknown (every event path is then Any).
  virtual const sdk::Schema* eventSchema() const = 0;
  enum class StepState { Unknown, Later, Earlier };
  // `schema` is set to the step's output schema (nullptr = unknown, paths become Any).
  virtual StepState step(std::string_view id, const sdk::Schema*& schema) const = 0;
};

// Sets `type` on every node of the tree and reports unknown fields and steps, use before
// definition and argument type errors. Pure.
void checkTypes(Node& node, const TypeScope& scope, std::vector<ExprError>& errors);

// Evaluates a checked tree. Throws EvalError only for the cases documented there.
Json evaluate(const Node& node, const EvalEnv& env);

// The names of `fields`, comma separated (for hints).
std::string fieldList(const std::vector<sdk::Field>& fields);
// The field name closest to `name` by edit distance, or "" when none is close (for "did you
// mean").
std::string closestField(const std::vector<sdk::Field>& fields, const std::string& name);

// Truthiness used by `when:`, `!`, `&&`, `||`, `?:`: null, false, 0 and "" are false.
bool truthy(const Json& value);

// Renders a value into an interpolated string: strings as they are, null as "", numbers and
// booleans as JSON, objects and arrays as compact JSON.
void appendText(std::string& out, const Json& value);

}  // namespace ferry::core::flow

#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/sdk/json.hpp"

namespace ferry::core::flow {

// A place in a flow or config file; line and column are 1-based (0 = unknown).
struct Location {
  int line = 0;
  int column = 0;
  bool operator==(const Location&) const = default;
};

// One error found in a flow or config file. `code` is one of kErrorCodes.
struct Diagnostic {
  std::string file;
  Location at;
  std::string code;
  std::string message;
  std::string hint;
};

// The stable error codes of flow and config validation, with what each one means. This table is
// the only list: docs/flow-format.md documents it and docs/errors.md can be generated from it.
struct ErrorCode {
  std::string_view code;
  std::string_view meaning;
};

inline constexpr ErrorCode kErrorCodes[] = {
    {"io_error", "A flow, config or event file cannot be read."},
    {"yaml_syntax", "The file is not valid YAML."},
    {"bad_value",
     "A key has a value of the wrong shape (a list where a mapping is needed, a "
     "malformed id, an on_error policy that does not exist, ...)."},
    {"unsupported_version", "`version:` is missing or not a version this ferry understands."},
    {"missing_key", "A key the format requires is absent (id, trigger, steps, use, ...)."},
    {"unknown_key", "A key the format does not define; the hint lists the allowed ones."},
    {"secret_in_flow",
     "A key that holds a secret (token, api_key, password, ...) appears in a "
     "flow; secrets belong to the connection's credentials."},
    {"duplicate_step", "Two steps of one flow have the same id."},
    {"duplicate_flow", "Two flow files validated together declare the same flow id."},
    {"expr_syntax", "A `${...}` mapping expression does not parse."},
    {"unknown_function", "A mapping calls a function that does not exist."},
    {"wrong_arity", "A mapping calls a function with too few or too many arguments."},
    {"unknown_variable", "A mapping path starts with something other than `event` or `steps`."},
    {"unknown_field",
     "A mapping reads a field the trigger's event or the step's output does not "
     "declare."},
    {"unknown_step", "A mapping reads `steps.<id>` for a step the flow does not have."},
    {"step_order", "A mapping reads the output of its own step or of a later one."},
    {"type_mismatch",
     "A mapping's type does not fit the input it feeds (a string where a date "
     "is needed, ...)."},
    {"enum_value",
     "A constant mapped into an input that allows only some values is not one of "
     "them."},
    {"unknown_operation", "`use:` names an operation no loaded plugin declares."},
    {"wrong_kind", "A trigger uses an action, or a step uses a trigger."},
    {"unknown_input", "`with:` maps an input the operation does not declare."},
    {"missing_input",
     "A required input of an action is neither mapped, nor defaulted, nor filled "
     "from the connection's settings."},
    {"unknown_connection", "`connection:` names a connection the config does not define."},
    {"connection_plugin", "A step's connection belongs to another plugin than its operation."},
    {"missing_scope", "The connection's granted scopes lack a scope the operation needs."},
    {"unknown_flow", "`fallback:` names a flow that is not among the files validated."},
    {"fallback_cycle", "Fallbacks between flows form a cycle."},
    {"config_error", "The config file (ferry.yaml) is malformed."},
};

// True when `code` is in kErrorCodes.
bool isKnownCode(std::string_view code);

// Sorts by file, line, column (stable, so equal places keep their discovery order).
void sortDiagnostics(std::vector<Diagnostic>& diagnostics);

// `file:line:col: error[code]: message` then `hint: ...` (when there is a hint), one per line.
std::string formatText(std::span<const Diagnostic> diagnostics);

// {"errors": [{"file","line","column","code","message","hint"}...]}
sdk::Json toJson(std::span<const Diagnostic> diagnostics);

}  // namespace ferry::core::flow

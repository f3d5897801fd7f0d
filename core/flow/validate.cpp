#include "flow/validate.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "ferry/sdk/validate.hpp"

namespace ferry::core::flow {

namespace {

class StepScope : public TypeScope {
 public:
  StepScope(const sdk::Schema* event, const std::vector<Step>& steps,
            const std::vector<const sdk::OperationSpec*>& ops, std::size_t current)
      : event_(event), steps_(steps), ops_(ops), current_(current) {}

  const sdk::Schema* eventSchema() const override { return event_; }

  StepState step(std::string_view id, const sdk::Schema*& schema) const override {
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      if (steps_[i].id != id) {
        continue;
      }
      if (i >= current_) {
        return StepState::Later;
      }
      schema = ops_[i] == nullptr ? nullptr : &ops_[i]->output;
      return StepState::Earlier;
    }
    return StepState::Unknown;
  }

 private:
  const sdk::Schema* event_;
  const std::vector<Step>& steps_;
  const std::vector<const sdk::OperationSpec*>& ops_;
  std::size_t current_;
};


bool compatible(StaticType::Kind have, sdk::Type need) {
  using K = StaticType;
  if (have == K::Any || have == K::Null || need == sdk::Type::Any) {
    return true;
  }
  switch (need) {
    case sdk::Type::String:
      return have == K::String || have == K::Date || have == K::DateTime;
    case sdk::Type::Integer:
      return have == K::Integer;
    case sdk::Type::Number:
      return have == K::Integer || have == K::Number;
    case sdk::Type::Boolean:
      return have == K::Boolean;
    case sdk::Type::DateTime:
      return have == K::DateTime;
    case sdk::Type::Date:
      return have == K::Date;
    case sdk::Type::Object:
      return have == K::Object;
    case sdk::Type::Array:
      return have == K::Array;
    case sdk::Type::Any:
      return true;
  }
  return true;
}

std::string conversionHint(StaticType::Kind have, sdk::Type need, const std::string& source) {
  if (have == StaticType::String && (need == sdk::Type::DateTime || need == sdk::Type::Date)) {
    return "parse it: " +
           std::string(need == sdk::Type::Date ? "to_date(parse_date(" : "parse_date(") + source +
           (need == sdk::Type::Date ? "))" : ")");
  }
  if (have == StaticType::DateTime && need == sdk::Type::Date) {
    return "take its calendar date: to_date(" + source + ")";
  }
  if (have == StaticType::Date && need == sdk::Type::DateTime) {
    return "give it a time: parse_date(string(" + source + "))";
  }
  if (need == sdk::Type::String) {
    return "turn it into text: string(" + source + ")";
  }
  if ((need == sdk::Type::Number || need == sdk::Type::Integer) && have == StaticType::String) {
    return "convert it: number(" + source + ")";
  }
  return "map a value of type " + std::string(sdk::typeName(need)) + " here";
}

// The constant strings an expression can produce (literals, branches of conditionals and
// defaults), for enum checks. Empty when any result is not a constant.
bool constants(const Node& node, std::vector<std::pair<std::string, std::size_t>>& out) {
  switch (node.op) {
    case Op::Literal:
      if (node.literal.is_string()) {
        out.emplace_back(node.literal.get<std::string>(), node.offset);
        return true;
      }
      return node.literal.is_null();
    case Op::Cond:
      return constants(*node.args[1], out) && constants(*node.args[2], out);
    default:
      return false;
  }
}

class Validator {
 public:
  Validator(const catalog::Catalog& catalog, const Config* config, std::vector<Diagnostic>& out)
      : catalog_(catalog), config_(config), out_(out) {}

  void run(std::vector<Flow>& flows) {
    std::map<std::string, const Flow*> byId;
    for (auto& flow : flows) {
      if (flow.id.empty()) {
        continue;
      }
      auto [it, fresh] = byId.emplace(flow.id, &flow);
      if (!fresh) {
        error(flow.file, flow.idAt, "duplicate_flow",
              "flow id '" + flow.id + "' is also declared in " + it->second->file,
              "give every flow its own id");
      }
    }
    for (auto& flow : flows) {
      check(flow, byId);
    }
    cycles(flows, byId);
  }

 private:
  void error(const std::string& file, Location at, std::string code, std::string message,
             std::string hint) {
    out_.push_back({file, at, std::move(code), std::move(message), std::move(hint)});
  }

  const sdk::OperationSpec* operation(const Flow& flow, const std::string& id, Location at,
                                      sdk::OperationKind kind, const sdk::ConnectorSpec** owner) {
    if (id.empty()) {
      return nullptr;
    }
    const auto entry = catalog_.find(id);
    if (entry.operation == nullptr) {
      const auto best = catalog_.closest(id, 1);
      std::string hint = best.empty() ? "no plugin is loaded; check `ferry plugin list`"
                                      : "did you mean '" + best[0] + "'?";
      hint += " (see `ferry catalog list`)";
      error(flow.file, at, "unknown_operation", "no loaded plugin declares operation '" + id + "'",
            hint);
      return nullptr;
    }
    if (entry.operation->kind != kind) {
      error(flow.file, at, "wrong_kind",
            "'" + id + "' is " +
                std::string(entry.operation->kind == sdk::OperationKind::Action ? "an action"
                                                                                : "a trigger") +
                ", but " + (kind == sdk::OperationKind::Trigger ? "a trigger" : "a step") +
                " needs " + (kind == sdk::OperationKind::Trigger ? "a trigger" : "an action"),
            "see `ferry catalog list --kind " + std::string(sdk::kindName(kind)) + "`");
      return nullptr;
    }
    *owner = entry.connector;
    return entry.operation;
  }

  const ConnectionConfig* connection(const Flow& flow, const std::string& name, Location at,
                                     const sdk::ConnectorSpec* owner, const sdk::OperationSpec* op,
                                     const std::string& what) {
    if (config_ == nullptr || name.empty()) {
      return nullptr;
    }
    const auto* c = config_->find(name);
    if (c == nullptr) {
      std::string known;
      for (const auto& [n, _] : config_->connections) {
        known += (known.empty() ? "" : ", ") + n;
      }
      error(flow.file, at, "unknown_connection",
            "connection '" + name + "' is not defined in " + config_->file,
            known.empty() ? "add it under `connections:` in " + config_->file
                          : "defined connections: " + known);
      return nullptr;
    }
    if (owner == nullptr || op == nullptr) {
      return c;
    }
    if (c->connection.plugin != owner->id) {
      error(flow.file, at, "connection_plugin",
            "connection '" + name + "' uses plugin '" + c->connection.plugin + "', but " + what +
                " '" + op->id + "' belongs to plugin '" + owner->id + "'",
            "use a connection whose `plugin:` is '" + owner->id + "'");
      return c;
    }
    if (c->scopesDeclared) {
      for (const auto& scope : op->scopes) {
        if (std::find(c->connection.scopes.begin(), c->connection.scopes.end(), scope) ==
            c->connection.scopes.end()) {
          std::string granted;
          for (const auto& g : c->connection.scopes) {
            granted += (granted.empty() ? "" : " ") + g;
          }
          error(flow.file, at, "missing_scope",
                "'" + op->id + "' needs scope '" + scope + "', which connection '" + name +
                    "' is not granted (granted: " + (granted.empty() ? "none" : granted) + ")",
                "grant '" + scope + "' to the token and add it to the connection's `scopes:` in " +
                    config_->file);
        }
      }
    }
    return c;
  }

  // Type-checks every expression of a template; returns the template's type.
  StaticType checkTemplate(const Flow& flow, Template& t, const TypeScope& scope) {
    for (auto& part : t.parts) {
      if (!part.expr) {
        continue;
      }
      std::vector<ExprError> errors;
      checkTypes(*part.expr, scope, errors);
      for (auto& e : errors) {
        error(flow.file, {part.at.line, part.at.column + static_cast<int>(e.offset)}, e.code,
              e.message, e.hint);
      }
    }
    if (t.single()) {
      return t.parts[0].expr->type;
    }
    return StaticType::of(StaticType::String);
  }

  // Checks a mapped value against the field it feeds (nullptr = anything goes).
  void checkValue(const Flow& flow, Value& v, const sdk::Field* target, const std::string& name,
                  const std::string& opId, const TypeScope& scope) {
    switch (v.kind) {
      case Value::Literal: {
        if (target == nullptr || v.literal.is_null()) {
          return;
        }
        std::vector<sdk::ValidationIssue> issues;
        sdk::detail::validateValue(*target, v.literal, name, issues);
        for (const auto& issue : issues) {
          const bool isEnum = issue.code == "enum";
          error(flow.file, v.at, isEnum ? "enum_value" : "type_mismatch",
                "input '" + name + "' of " + opId + ": " + issue.message,
                isEnum ? "use one of the allowed values"
                       : "map a value of type " + std::string(sdk::typeName(target->type)));
        }
        return;
      }
      case Value::Text: {
        const StaticType type = checkTemplate(flow, v.text, scope);
        if (target == nullptr) {
          return;
        }
        const Location at = v.text.single() ? v.text.parts[0].at : v.at;
        std::string source = v.text.single() ? v.text.parts[0].source : std::string("...");
        while (!source.empty() && source.back() == ' ') {
          source.pop_back();
        }
        while (!source.empty() && source.front() == ' ') {
          source.erase(0, 1);
        }
        if (!compatible(type.kind, target->type)) {
          std::string hint = conversionHint(type.kind, target->type, source);
          if (v.text.single() && v.text.parts[0].expr->op == Op::Add) {
            for (const auto& arg : v.text.parts[0].expr->args) {
              if (arg->type.kind == StaticType::Date || arg->type.kind == StaticType::DateTime) {
                hint = "'+' joins text; to move a date use add_days(date, n) or add_hours(date, n)";
              }
            }
          }
          error(flow.file, at, "type_mismatch",
                "input '" + name + "' of " + opId + " needs " +
                    std::string(sdk::typeName(target->type)) + ", but the mapping gives " +
                    std::string(kindName(type.kind)),
                hint);
          return;
        }
        if (!target->enumValues.empty() && v.text.single()) {
          std::vector<std::pair<std::string, std::size_t>> values;
          if (constants(*v.text.parts[0].expr, values)) {
            for (const auto& [value, offset] : values) {
              if (std::find(target->enumValues.begin(), target->enumValues.end(), value) ==
                  target->enumValues.end()) {
                std::string allowed;
                for (const auto& e : target->enumValues) {
                  allowed += (allowed.empty() ? "" : ", ") + e;
                }
                error(flow.file, {at.line, at.column + static_cast<int>(offset)}, "enum_value",
                      "input '" + name + "' of " + opId + " does not allow '" + value + "'",
                      "allowed: " + allowed);
              }
            }
          }
        }
        return;
      }
      case Value::Object: {
        if (target != nullptr && target->type != sdk::Type::Object &&
            target->type != sdk::Type::Any) {
          error(flow.file, v.at, "type_mismatch",
                "input '" + name + "' of " + opId + " needs " +
                    std::string(sdk::typeName(target->type)) + ", but the mapping gives an object",
                "map a single value here");
          return;
        }
        const bool open = target == nullptr || target->type == sdk::Type::Any ||
                          target->additionalFields || target->fields.empty();
        for (std::size_t i = 0; i < v.members.size(); ++i) {
          auto& [key, member] = v.members[i];
          const sdk::Field* f = nullptr;
          if (target != nullptr) {
            for (const auto& candidate : target->fields) {
              if (candidate.name == key) {
                f = &candidate;
              }
            }
          }
          if (f == nullptr && !open) {
            const auto best = closestField(target->fields, key);
            error(flow.file, v.memberAt[i], "unknown_input",
                  "'" + name + "' of " + opId + " has no field '" + key + "'",
                  (best.empty() ? "" : "did you mean '" + best + "'? ") +
                      "allowed: " + fieldList(target->fields));
          }
          checkValue(flow, member, f, name + "." + key, opId, scope);
        }
        return;
      }
      case Value::Array: {
        if (target != nullptr && target->type != sdk::Type::Array &&
            target->type != sdk::Type::Any) {
          error(flow.file, v.at, "type_mismatch",
                "input '" + name + "' of " + opId + " needs " +
                    std::string(sdk::typeName(target->type)) + ", but the mapping gives a list",
                "map a single value here");
          return;
        }
        const sdk::Field* element =
            target != nullptr && target->items ? target->items.get() : nullptr;
        for (std::size_t i = 0; i < v.items.size(); ++i) {
          checkValue(flow, v.items[i], element, name + "[" + std::to_string(i) + "]", opId, scope);
        }
        return;
      }
    }
  }

  // Checks `with:` against an operation's input schema (unknown inputs, types, required ones).
  void checkInputs(const Flow& flow, Value& with, const sdk::OperationSpec& op,
                   const ConnectionConfig* connection, const TypeScope& scope,
                   const std::string& what, Location whatAt) {
    for (std::size_t i = 0; i < with.members.size(); ++i) {
      auto& [key, value] = with.members[i];
      const sdk::Field* f = nullptr;
      for (const auto& candidate : op.input) {
        if (candidate.name == key) {
          f = &candidate;
        }
      }
      if (f == nullptr) {
        const auto best = closestField(op.input, key);
        error(flow.file, with.memberAt[i], "unknown_input", op.id + " has no input '" + key + "'",
              (best.empty() ? "" : "did you mean '" + best + "'? ") + "inputs: " + fieldList(op.input));
      }
      checkValue(flow, value, f, key, op.id, scope);
    }
    for (const auto& f : op.input) {
      if (!f.required || f.defaultValue) {
        continue;
      }
      const bool mapped = std::any_of(with.members.begin(), with.members.end(),
                                      [&](const auto& m) { return m.first == f.name; });
      if (mapped) {
        continue;
      }
      if (connection != nullptr && settingFills(connection->connection, f.name)) {
        continue;
      }
      error(flow.file, whatAt, "missing_input",
            what + " does not map the required input '" + f.name + "' of " + op.id,
            "add `" + f.name + ": ${...}` under `with:`" +
                (f.description.empty() ? "" : " (" + f.description + ")"));
    }
  }

  void check(Flow& flow, const std::map<std::string, const Flow*>& byId) {
    const sdk::ConnectorSpec* triggerOwner = nullptr;
    const auto* trigger = operation(flow, flow.trigger.use, flow.trigger.useAt,
                                    sdk::OperationKind::Trigger, &triggerOwner);
    const auto* triggerConnection = connection(
        flow, flow.trigger.connection, flow.trigger.connectionAt, triggerOwner, trigger, "trigger");
    std::vector<const sdk::OperationSpec*> ops(flow.steps.size(), nullptr);
    std::vector<const sdk::ConnectorSpec*> owners(flow.steps.size(), nullptr);
    for (std::size_t i = 0; i < flow.steps.size(); ++i) {
      ops[i] = operation(flow, flow.steps[i].use, flow.steps[i].useAt, sdk::OperationKind::Action,
                         &owners[i]);
    }
    const sdk::Schema* eventSchema = trigger == nullptr ? nullptr : &trigger->output;
    if (trigger != nullptr) {
      StepScope scope(eventSchema, flow.steps, ops, 0);
      checkInputs(flow, flow.trigger.with, *trigger, triggerConnection, scope, "the trigger",
                  flow.trigger.at);
    }
    for (std::size_t i = 0; i < flow.steps.size(); ++i) {
      auto& step = flow.steps[i];
      const std::string what = "step '" + step.id + "'";
      const auto* conn =
          connection(flow, step.connection, step.connectionAt, owners[i], ops[i], "action");
      StepScope scope(eventSchema, flow.steps, ops, i);
      if (step.when) {
        checkTemplate(flow, *step.when, scope);
      }
      if (ops[i] != nullptr) {
        checkInputs(flow, step.with, *ops[i], conn, scope, what, step.at);
      } else {
        checkValue(flow, step.with, nullptr, "with", step.use, scope);
      }
      if (step.correlate) {
        checkValue(flow, step.correlate->source, nullptr, "source", "correlate", scope);
        // The target may read this step's own output.
        StepScope after(eventSchema, flow.steps, ops, i + 1);
        checkValue(flow, step.correlate->target, nullptr, "target", "correlate", after);
      }
      if (step.onError.then == OnError::Policy::Fallback && !step.onError.fallback.empty() &&
          byId.find(step.onError.fallback) == byId.end()) {
        error(flow.file, step.onError.fallbackAt, "unknown_flow",
              "fallback flow '" + step.onError.fallback + "' is not among the flows validated",
              "pass the fallback flow's file too: ferry flow validate " + flow.file +
                  " <fallback>.yaml");
      }
    }
  }

  // Reports each cycle of fallbacks once, at the fallback that closes it.
  void cycles(std::vector<Flow>& flows, const std::map<std::string, const Flow*>& byId) {
    std::map<std::string, std::vector<std::pair<std::string, Location>>> edges;
    for (const auto& flow : flows) {
      for (const auto& step : flow.steps) {
        if (step.onError.then == OnError::Policy::Fallback && !step.onError.fallback.empty()) {
          edges[flow.id].emplace_back(step.onError.fallback, step.onError.fallbackAt);
        }
      }
    }
    std::map<std::string, int> state;  // 0 new, 1 on the stack, 2 done
    std::vector<std::string> stack;
    std::set<std::string> reported;
    std::function<void(const std::string&)> visit = [&](const std::string& id) {
      state[id] = 1;
      stack.push_back(id);
      for (const auto& [next, at] : edges[id]) {
        if (byId.find(next) == byId.end()) {
          continue;
        }
        if (state[next] == 1) {
          auto from = std::find(stack.begin(), stack.end(), next);
          std::string path;
          std::vector<std::string> members(from, stack.end());
          for (const auto& m : members) {
            path += m + " -> ";
          }
          path += next;
          std::vector<std::string> key = members;
          std::sort(key.begin(), key.end());
          std::string k;
          for (const auto& m : key) {
            k += m + "|";
          }
          if (reported.insert(k).second) {
            error(byId.at(id)->file, at, "fallback_cycle", "fallbacks form a cycle: " + path,
                  "an event handed to a fallback must not come back; end the chain with "
                  "`then: dead_letter`");
          }
        } else if (state[next] == 0) {
          visit(next);
        }
      }
      stack.pop_back();
      state[id] = 2;
    };
    for (const auto& [id, _] : byId) {
      if (state[id] == 0) {
        visit(id);
      }
    }
  }

  const catalog::Catalog& catalog_;
  const Config* config_;
  std::vector<Diagnostic>& out_;
};

}  // namespace

void validate(std::vector<Flow>& flows, const catalog::Catalog& catalog, const Config* config,
              std::vector<Diagnostic>& diagnostics) {
  Validator(catalog, config, diagnostics).run(flows);
}

}  // namespace ferry::core::flow

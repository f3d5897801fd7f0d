// Parsing a flow file: YAML to the Flow model, every `${...}` compiled on the way.
#include <algorithm>
#include <cctype>
#include <regex>

#include "flow/flow.hpp"
#include "flow/yaml_util.hpp"

namespace ferry::core::flow {

bool isSecretKey(std::string_view key) {
  std::string k;
  for (char c : key) {
    if (c != '_' && c != '-') {
      k.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  static const char* kSecret[] = {"token",         "apikey",       "apitoken",    "password",
                                  "secret",        "clientsecret", "accesstoken", "refreshtoken",
                                  "authorization", "privatekey",   "bearer",      "privatetoken",
                                  "webhooksecret"};
  return std::any_of(std::begin(kSecret), std::end(kSecret), [&](const char* s) { return k == s; });
}

namespace {

using Keys = std::initializer_list<std::string_view>;

// An id matches ^[a-z][a-z0-9_-]*$; a step id ^[a-z][a-z0-9_]*$ (step ids are read in paths,
// steps.<id>.field, so no '-'). Hand-written: two namespace-scope std::regex cost every start of
// the ferry binary 1.15 M instructions (2% of `ferry --version`) to compile, used or not.
bool isId(const std::string& id, bool step) {
  if (id.empty() || id.front() < 'a' || id.front() > 'z') {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [step](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (!step && c == '-');
  });
}

class FlowParser {
 public:
  FlowParser(std::string_view text, const std::string& file, std::vector<Diagnostic>& diags)
      : text_(text), file_(file), diags_(diags) {}

  std::optional<Flow> parse() {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text_));
    } catch (const YAML::Exception& e) {
      error({e.mark.line + 1, e.mark.column + 1}, "yaml_syntax", e.msg,
            "check the indentation and quoting near this place; a value with ': ' or '#' or "
            "starting with '${' must be quoted");
      return std::nullopt;
    }
    if (!root.IsMap()) {
      error(root.IsDefined() && !root.IsNull() ? yaml::at(root) : Location{1, 1}, "bad_value",
            "a flow file must be a mapping, found " + yaml::shapeName(root),
            "start with `version: 1`, `id:`, `trigger:` and `steps:`");
      return std::nullopt;
    }
    Flow flow;
    flow.file = file_;
    flow.at = yaml::at(root);
    checkKeys(root, "the flow", {"version", "id", "description", "trigger", "steps", "schedule"});

    if (auto v = root["version"]) {
      int version = 0;
      if (!v.IsScalar() || !toInt(v.Scalar(), version) || version != 1) {
        error(yaml::at(v), "unsupported_version",
              "flow format version '" + (v.IsScalar() ? v.Scalar() : yaml::shapeName(v)) +
                  "' is not supported",
              "this ferry reads `version: 1`");
      }
      flow.version = version;
    } else {
      error(flow.at, "unsupported_version", "the flow has no `version:`",
            "add `version: 1` as the first line");
    }

    flow.id = idOf(root, "id", "the flow", flow.at, flow.idAt);
    if (auto d = root["description"]) {
      flow.description = scalar(d, "description");
    }
    if (auto s = root["schedule"]) {
      flow.schedule = parseSchedule(s, file_, diags_);
    }

    if (auto t = root["trigger"]) {
      flow.trigger = trigger(t);
    } else {
      error(flow.at, "missing_key", "the flow has no `trigger:`",
            "add `trigger: {use: <plugin>.<resource>.<event>, connection: <name>}`");
    }

    if (auto s = root["steps"]) {
      if (!s.IsSequence()) {
        error(yaml::at(s), "bad_value", "`steps:` must be a list, found " + yaml::shapeName(s),
              "write each step as a list item starting with `- id: ...`");
      } else {
        for (const auto& node : s) {
          if (auto st = step(node)) {
            for (const auto& other : flow.steps) {
              if (other.id == st->id && !st->id.empty()) {
                error(st->at, "duplicate_step", "a step with id '" + st->id + "' already exists",
                      "give every step of a flow its own id; the first is on line " +
                          std::to_string(other.at.line));
              }
            }
            flow.steps.push_back(std::move(*st));
          }
        }
        if (s.size() == 0) {
          error(yaml::at(s), "bad_value", "`steps:` is empty", "a flow needs at least one step");
        }
      }
    } else {
      error(flow.at, "missing_key", "the flow has no `steps:`",
            "add `steps:` with at least one `- id: ... use: ...` item");
    }
    return flow;
  }

 private:
  void error(Location at, std::string code, std::string message, std::string hint) {
    diags_.push_back({file_, at, std::move(code), std::move(message), std::move(hint)});
  }

  static bool toInt(const std::string& s, int& out) {
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      return false;
    }
    out = std::stoi(s);
    return true;
  }

  // Reports unknown keys (and secret-looking ones) of a mapping.
  void checkKeys(const YAML::Node& map, const std::string& what, Keys allowed) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const auto key = it->first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
        continue;
      }
      if (isSecretKey(key)) {
        secretKey(it->first);
        continue;
      }
      std::string hint = "allowed keys: " + yaml::joined(allowed);
      error(yaml::at(it->first), "unknown_key", "unknown key '" + key + "' in " + what, hint);
    }
  }

  void secretKey(const YAML::Node& key) {
    error(yaml::at(key), "secret_in_flow",
          "'" + key.Scalar() + "' looks like a secret, and secrets never go in a flow file",
          "store it with the connection's credentials (`ferry connection add`) and name the "
          "connection with `connection:`");
  }

  // Reports secret keys anywhere below `node` (inside `with:` values).
  void scanSecrets(const YAML::Node& node) {
    if (node.IsMap()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (isSecretKey(it->first.Scalar())) {
          secretKey(it->first);
        }
        scanSecrets(it->second);
      }
    } else if (node.IsSequence()) {
      for (const auto& item : node) {
        scanSecrets(item);
      }
    }
  }

  std::string scalar(const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) {
      error(yaml::at(node), "bad_value",
            "`" + key + ":` must be a single value, found " + yaml::shapeName(node),
            "write `" + key + ": <text>`");
      return {};
    }
    return node.Scalar();
  }

  std::string idOf(const YAML::Node& map, const std::string& key, const std::string& what,
                   Location whatAt, Location& at) {
    auto node = map[key];
    if (!node) {
      error(whatAt, "missing_key", what + " has no `" + key + ":`",
            "add `" + key + ": <lower-case-name>`");
      return {};
    }
    at = yaml::at(node);
    std::string id = scalar(node, key);
    const bool step = what == "the step";
    if (!id.empty() && !isId(id, step)) {
      error(at, "bad_value", "'" + id + "' is not a valid " + (step ? "step id" : key),
            step ? "step ids are read as steps.<id>, so they are lower case letters, digits and "
                   "'_', starting with a letter"
                 : "ids are lower case letters, digits, '_' and '-', starting with a letter");
    }
    return id;
  }

  std::string opId(const YAML::Node& map, const std::string& what, Location whatAt, Location& at) {
    auto node = map["use"];
    if (!node) {
      error(whatAt, "missing_key", what + " has no `use:`",
            "add `use: <plugin>.<resource>.<verb>` (see `ferry catalog list`)");
      return {};
    }
    at = yaml::at(node);
    return scalar(node, "use");
  }

  std::string connectionOf(const YAML::Node& map, const std::string& what, Location whatAt,
                           Location& at) {
    auto node = map["connection"];
    if (!node) {
      error(whatAt, "missing_key", what + " has no `connection:`",
            "name the connection from ferry.yaml's `connections:` it runs with");
      return {};
    }
    at = yaml::at(node);
    return scalar(node, "connection");
  }

  TriggerDecl trigger(const YAML::Node& node) {
    TriggerDecl t;
    t.at = yaml::at(node);
    if (!node.IsMap()) {
      error(t.at, "bad_value", "`trigger:` must be a mapping, found " + yaml::shapeName(node),
            "write `trigger: {use: ..., connection: ...}`");
      return t;
    }
    checkKeys(node, "the trigger", {"use", "connection", "with"});
    t.use = opId(node, "the trigger", t.at, t.useAt);
    t.connection = connectionOf(node, "the trigger", t.at, t.connectionAt);
    t.with.kind = Value::Object;
    t.with.at = t.at;
    if (auto w = node["with"]) {
      scanSecrets(w);
      t.with = mapping(w, "with");
    }
    return t;
  }

  std::optional<Step> step(const YAML::Node& node) {
    if (!node.IsMap()) {
      error(yaml::at(node), "bad_value", "a step must be a mapping, found " + yaml::shapeName(node),
            "write `- id: <name>` and `use: <action id>` on the following lines");
      return std::nullopt;
    }
    Step s;
    s.at = yaml::at(node);
    checkKeys(node, "a step",
              {"id", "use", "connection", "with", "when", "on_error", "correlate", "description"});
    Location idAt;
    s.id = idOf(node, "id", "the step", s.at, idAt);
    const std::string what = s.id.empty() ? "the step" : "step '" + s.id + "'";
    s.use = opId(node, what, s.at, s.useAt);
    s.connection = connectionOf(node, what, s.at, s.connectionAt);
    s.with.kind = Value::Object;
    s.with.at = s.at;
    if (auto w = node["with"]) {
      scanSecrets(w);
      s.with = mapping(w, "with");
    }
    if (auto w = node["when"]) {
      s.whenAt = yaml::at(w);
      if (!w.IsScalar()) {
        error(s.whenAt, "bad_value", "`when:` must be a condition, found " + yaml::shapeName(w),
              "write `when: ${event.email != null}`");
      } else if (w.Scalar().find("${") == std::string::npos) {
        // A plain `when: false` is the boolean, not the (truthy) text "false".
        Template t;
        Template::Part part;
        part.source = w.Scalar();
        part.at = s.whenAt;
        part.expr = std::make_unique<Node>();
        part.expr->literal = literal(w);
        t.parts.push_back(std::move(part));
        s.when = std::move(t);
      } else {
        s.when = compile(w);
      }
    }
    if (auto e = node["on_error"]) {
      s.onError = onError(e);
    }
    if (auto c = node["correlate"]) {
      s.correlate = correlate(c);
    }
    return s;
  }

  OnError onError(const YAML::Node& node) {
    OnError o;
    o.at = yaml::at(node);
    static const char* kHint =
        "write `on_error: skip`, `on_error: dead_letter`, `on_error: retry`, or a mapping "
        "`{retry: {max_attempts: 5, backoff: exponential, delay: 2s}, then: dead_letter}` or "
        "`{fallback: <flow id>}`";
    if (node.IsScalar()) {
      const auto& v = node.Scalar();
      if (v == "skip") {
        o.then = OnError::Policy::Skip;
        o.maxAttempts = 1;
      } else if (v == "dead_letter") {
        o.then = OnError::Policy::DeadLetter;
        o.maxAttempts = 1;
      } else if (v == "retry") {
        o.then = OnError::Policy::DeadLetter;
      } else {
        error(o.at, "bad_value", "'" + v + "' is not an on_error policy", kHint);
      }
      return o;
    }
    if (!node.IsMap()) {
      error(o.at, "bad_value", "`on_error:` must be a policy name or a mapping", kHint);
      return o;
    }
    checkKeys(node, "on_error", {"retry", "then", "fallback"});
    o.maxAttempts = 1;
    if (auto r = node["retry"]) {
      o.maxAttempts.reset();
      if (r.IsMap()) {
        checkKeys(r, "retry", {"max_attempts", "backoff", "delay"});
        if (auto m = r["max_attempts"]) {
          int n = 0;
          if (!m.IsScalar() || !toInt(m.Scalar(), n) || n < 1 || n > 100) {
            error(yaml::at(m), "bad_value", "`max_attempts:` must be a whole number from 1 to 100",
                  "write `max_attempts: 5`");
          } else {
            o.maxAttempts = n;
          }
        }
        if (auto b = r["backoff"]) {
          const auto v = scalar(b, "backoff");
          if (v != "exponential" && v != "fixed") {
            error(yaml::at(b), "bad_value", "'" + v + "' is not a backoff",
                  "allowed: exponential, fixed");
          } else {
            o.backoff = v;
          }
        }
        if (auto d = r["delay"]) {
          const auto v = scalar(d, "delay");
          std::chrono::milliseconds delay{0};
          if (!duration(v, delay)) {
            error(yaml::at(d), "bad_value", "'" + v + "' is not a duration",
                  "write a number with a unit: 500ms, 2s, 1m");
          } else {
            o.delay = delay;
          }
        }
      } else if (!(r.IsScalar() && r.Scalar() == "true")) {
        error(yaml::at(r), "bad_value", "`retry:` must be a mapping", kHint);
      }
    }
    if (auto t = node["then"]) {
      const auto v = scalar(t, "then");
      if (v == "skip") {
        o.then = OnError::Policy::Skip;
      } else if (v == "dead_letter") {
        o.then = OnError::Policy::DeadLetter;
      } else {
        error(yaml::at(t), "bad_value", "'" + v + "' is not allowed after retries",
              "allowed: skip, dead_letter (or use `fallback: <flow id>` instead of `then:`)");
      }
    }
    if (auto f = node["fallback"]) {
      o.then = OnError::Policy::Fallback;
      o.fallbackAt = yaml::at(f);
      o.fallback = scalar(f, "fallback");
      if (node["then"]) {
        error(o.fallbackAt, "bad_value", "`fallback:` and `then:` exclude each other",
              "keep one: the fallback flow receives the event after the retries");
      }
    }
    return o;
  }

  static bool duration(const std::string& v, std::chrono::milliseconds& out) {
    std::size_t i = 0;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) {
      ++i;
    }
    if (i == 0 || i > 9) {
      return false;
    }
    const long n = std::stol(v.substr(0, i));
    const auto unit = v.substr(i);
    if (unit == "ms") {
      out = std::chrono::milliseconds(n);
    } else if (unit == "s") {
      out = std::chrono::seconds(n);
    } else if (unit == "m") {
      out = std::chrono::minutes(n);
    } else {
      return false;
    }
    return true;
  }

  std::optional<Correlate> correlate(const YAML::Node& node) {
    Correlate c;
    c.at = yaml::at(node);
    if (!node.IsMap()) {
      error(c.at, "bad_value", "`correlate:` must be a mapping",
            "write `correlate: {kind: contact, source: ${event.id}, target: "
            "${steps.<id>.contact.id}}`");
      return std::nullopt;
    }
    checkKeys(node, "correlate", {"kind", "source", "target"});
    bool complete = true;
    for (const char* key : {"kind", "source", "target"}) {
      if (!node[key]) {
        error(c.at, "missing_key", std::string("`correlate:` has no `") + key + ":`",
              "write `correlate: {kind: contact, source: ${event.id}, target: "
              "${steps.<id>.contact.id}}`");
        complete = false;
      }
    }
    if (!complete) {
      return std::nullopt;
    }
    c.kind = scalar(node["kind"], "kind");
    c.source = value(node["source"], "source");
    c.target = value(node["target"], "target");
    return c;
  }

  Value mapping(const YAML::Node& node, const std::string& key) {
    Value v;
    v.kind = Value::Object;
    v.at = yaml::at(node);
    if (node.IsNull()) {
      return v;
    }
    if (!node.IsMap()) {
      error(v.at, "bad_value", "`" + key + ":` must be a mapping, found " + yaml::shapeName(node),
            "write one `input: value` per line under `" + key + ":`");
      return v;
    }
    return value(node, key);
  }

  Value value(const YAML::Node& node, const std::string& key) {
    Value v;
    v.at = yaml::at(node);
    switch (node.Type()) {
      case YAML::NodeType::Map:
        v.kind = Value::Object;
        for (auto it = node.begin(); it != node.end(); ++it) {
          const auto name = it->first.Scalar();
          v.memberAt.push_back(yaml::at(it->first));
          v.members.emplace_back(name, value(it->second, name));
        }
        v.keyOrder.resize(v.members.size());
        for (std::size_t i = 0; i < v.keyOrder.size(); ++i) {
          v.keyOrder[i] = i;
        }
        std::stable_sort(v.keyOrder.begin(), v.keyOrder.end(), [&](std::size_t a, std::size_t b) {
          return v.members[a].first < v.members[b].first;
        });
        return v;
      case YAML::NodeType::Sequence:
        v.kind = Value::Array;
        for (const auto& item : node) {
          v.items.push_back(value(item, key));
        }
        return v;
      case YAML::NodeType::Scalar: {
        const auto& s = node.Scalar();
        if (s.find("${") != std::string::npos) {
          v.kind = Value::Text;
          v.text = compile(node);
          return v;
        }
        v.kind = Value::Literal;
        v.literal = literal(node);
        return v;
      }
      default:
        v.kind = Value::Literal;
        v.literal = nullptr;
        return v;
    }
  }

  // A YAML scalar as JSON: quoted scalars are strings; plain ones may be null, booleans or
  // numbers (YAML 1.2 core schema).
  static Json literal(const YAML::Node& node) {
    const auto& s = node.Scalar();
    if (node.Tag() == "!") {
      return s;
    }
    if (s == "null" || s == "~" || s == "Null" || s == "NULL" || s.empty()) {
      return nullptr;
    }
    if (s == "true" || s == "True" || s == "TRUE") {
      return true;
    }
    if (s == "false" || s == "False" || s == "FALSE") {
      return false;
    }
    static const std::regex kInt("^[-+]?[0-9]+$");
    static const std::regex kFloat("^[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$");
    try {
      if (std::regex_match(s, kInt)) {
        return std::stoll(s);
      }
      if (std::regex_match(s, kFloat)) {
        return std::stod(s);
      }
    } catch (const std::out_of_range&) {
      return s;
    }
    return s;
  }

  // Where, in the file, the text `needle` first occurs at or after the scalar's start.
  Location find(const YAML::Node& node, const std::string& needle) {
    const auto mark = node.Mark();
    const auto from = mark.pos < 0 ? 0 : static_cast<std::size_t>(mark.pos);
    const auto pos = text_.find(needle, from);
    if (pos == std::string_view::npos) {
      return yaml::at(node);
    }
    return yaml::locate(text_, pos);
  }

  // Splits a scalar into literal text and `${...}` expressions and compiles each expression.
  // `$${` is a literal `${`.
  Template compile(const YAML::Node& node) {
    Template t;
    const std::string& s = node.Scalar();
    std::string literalText;
    std::size_t i = 0;
    while (i < s.size()) {
      if (s.compare(i, 3, "$${") == 0) {
        literalText += "${";
        i += 3;
        continue;
      }
      if (s.compare(i, 2, "${") != 0) {
        literalText.push_back(s[i]);
        ++i;
        continue;
      }
      // find the closing brace, skipping quoted strings
      std::size_t j = i + 2;
      char quote = 0;
      for (; j < s.size(); ++j) {
        const char c = s[j];
        if (quote != 0) {
          if (c == '\\') {
            ++j;
          } else if (c == quote) {
            quote = 0;
          }
        } else if (c == '\'' || c == '"') {
          quote = c;
        } else if (c == '}') {
          break;
        }
      }
      if (j >= s.size()) {
        error(find(node, s.substr(i)), "expr_syntax", "'${' is never closed by '}'",
              "close the expression with '}', or write '$${' for a literal '${'");
        return t;
      }
      if (!literalText.empty()) {
        t.parts.push_back({std::move(literalText), {}, nullptr, {}});
        literalText.clear();
      }
      Template::Part part;
      part.source = s.substr(i + 2, j - i - 2);
      const Location start = find(node, s.substr(i, j - i + 1));
      part.at = {start.line, start.column + 2};
      std::vector<ExprError> errors;
      part.expr = parseExpression(part.source, errors);
      for (auto& e : errors) {
        error({part.at.line, part.at.column + static_cast<int>(e.offset)}, e.code, e.message,
              e.hint);
      }
      t.parts.push_back(std::move(part));
      i = j + 1;
    }
    if (!literalText.empty()) {
      t.parts.push_back({std::move(literalText), {}, nullptr, {}});
    }
    return t;
  }

  std::string_view text_;
  const std::string& file_;
  std::vector<Diagnostic>& diags_;
};

}  // namespace

std::optional<Flow> parseFlow(std::string_view text, const std::string& file,
                              std::vector<Diagnostic>& diagnostics) {
  FlowParser parser(text, file, diagnostics);
  return parser.parse();
}

Json evaluate(const Template& tmpl, const EvalEnv& env) {
  if (tmpl.single()) {
    return evaluate(*tmpl.parts[0].expr, env);
  }
  std::string out;
  for (const auto& part : tmpl.parts) {
    if (part.expr) {
      appendText(out, evaluate(*part.expr, env));
    } else if (part.source.empty()) {
      out += part.text;
    }
  }
  return out;
}

Json evaluate(const Value& value, const EvalEnv& env) {
  switch (value.kind) {
    case Value::Literal:
      return value.literal;
    case Value::Text:
      return evaluate(value.text, env);
    case Value::Object: {
      Json out = Json::object();
      auto& members = out.get_ref<Json::object_t&>();
      // Inserting in key order at the end costs no comparisons (the object is a sorted map).
      for (const auto i : value.keyOrder) {
        Json v = evaluate(value.members[i].second, env);
        if (!v.is_null()) {
          members.emplace_hint(members.end(), value.members[i].first, std::move(v));
        }
      }
      return out;
    }
    case Value::Array: {
      Json out = Json::array();
      for (const auto& item : value.items) {
        out.push_back(evaluate(item, env));
      }
      return out;
    }
  }
  return nullptr;
}

}  // namespace ferry::core::flow

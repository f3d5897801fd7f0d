#include "flow/expr.hpp"

#include <cctype>
#include <cmath>
#include <limits>
#include <optional>

#include "catalog/catalog.hpp"

namespace ferry::core::flow {

std::string_view kindName(StaticType::Kind kind) {
  switch (kind) {
    case StaticType::Null:
      return "null";
    case StaticType::Boolean:
      return "boolean";
    case StaticType::Integer:
      return "integer";
    case StaticType::Number:
      return "number";
    case StaticType::String:
      return "string";
    case StaticType::DateTime:
      return "datetime";
    case StaticType::Date:
      return "date";
    case StaticType::Object:
      return "object";
    case StaticType::Array:
      return "array";
    case StaticType::Any:
      return "any";
  }
  return "any";
}

StaticType::Kind kindOf(sdk::Type type) {
  switch (type) {
    case sdk::Type::String:
      return StaticType::String;
    case sdk::Type::Integer:
      return StaticType::Integer;
    case sdk::Type::Number:
      return StaticType::Number;
    case sdk::Type::Boolean:
      return StaticType::Boolean;
    case sdk::Type::DateTime:
      return StaticType::DateTime;
    case sdk::Type::Date:
      return StaticType::Date;
    case sdk::Type::Object:
      return StaticType::Object;
    case sdk::Type::Array:
      return StaticType::Array;
    case sdk::Type::Any:
      return StaticType::Any;
  }
  return StaticType::Any;
}

// ---------------------------------------------------------------------------------------------
// Lexer and parser

namespace {

enum class Tok {
  End,
  Ident,
  Number,
  String,
  Dot,
  Comma,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Question,
  Colon,
  Plus,
  Minus,
  Bang,
  EqEq,
  NotEq,
  Lt,
  Le,
  Gt,
  Ge,
  AndAnd,
  OrOr,
  Bad
};

struct Token {
  Tok kind = Tok::End;
  std::size_t offset = 0;
  std::string text;  // identifier, decoded string, number text, or the bad character
};

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  Token next() {
    while (pos_ < src_.size() && std::isspace(static_cast<unsigned char>(src_[pos_]))) {
      ++pos_;
    }
    Token t;
    t.offset = pos_;
    if (pos_ >= src_.size()) {
      t.kind = Tok::End;
      return t;
    }
    const char c = src_[pos_];
    const auto uc = static_cast<unsigned char>(c);
    if (std::isalpha(uc) || c == '_') {
      std::size_t end = pos_;
      while (end < src_.size() &&
             (std::isalnum(static_cast<unsigned char>(src_[end])) || src_[end] == '_')) {
        ++end;
      }
      t.kind = Tok::Ident;
      t.text = std::string(src_.substr(pos_, end - pos_));
      pos_ = end;
      return t;
    }
    if (std::isdigit(uc)) {
      std::size_t end = pos_;
      bool dot = false;
      while (end < src_.size()) {
        const char d = src_[end];
        if (std::isdigit(static_cast<unsigned char>(d))) {
          ++end;
        } else if (d == '.' && !dot && end + 1 < src_.size() &&
                   std::isdigit(static_cast<unsigned char>(src_[end + 1]))) {
          dot = true;
          ++end;
        } else {
          break;
        }
      }
      t.kind = Tok::Number;
      t.text = std::string(src_.substr(pos_, end - pos_));
      pos_ = end;
      return t;
    }
    if (c == '\'' || c == '"') {
      std::size_t i = pos_ + 1;
      std::string value;
      while (i < src_.size() && src_[i] != c) {
        if (src_[i] == '\\' && i + 1 < src_.size()) {
          const char e = src_[i + 1];
          value.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
          i += 2;
          continue;
        }
        value.push_back(src_[i]);
        ++i;
      }
      if (i >= src_.size()) {
        t.kind = Tok::Bad;
        t.text = "unterminated string";
        pos_ = src_.size();
        return t;
      }
      t.kind = Tok::String;
      t.text = std::move(value);
      pos_ = i + 1;
      return t;
    }
    auto two = [&](char second) { return pos_ + 1 < src_.size() && src_[pos_ + 1] == second; };
    std::size_t len = 1;
    switch (c) {
      case '.':
        t.kind = Tok::Dot;
        break;
      case ',':
        t.kind = Tok::Comma;
        break;
      case '(':
        t.kind = Tok::LParen;
        break;
      case ')':
        t.kind = Tok::RParen;
        break;
      case '[':
        t.kind = Tok::LBracket;
        break;
      case ']':
        t.kind = Tok::RBracket;
        break;
      case '?':
        t.kind = Tok::Question;
        break;
      case ':':
        t.kind = Tok::Colon;
        break;
      case '+':
        t.kind = Tok::Plus;
        break;
      case '-':
        t.kind = Tok::Minus;
        break;
      case '!':
        t.kind = two('=') ? Tok::NotEq : Tok::Bang;
        len = two('=') ? 2 : 1;
        break;
      case '=':
        t.kind = two('=') ? Tok::EqEq : Tok::Bad;
        len = two('=') ? 2 : 1;
        break;
      case '<':
        t.kind = two('=') ? Tok::Le : Tok::Lt;
        len = two('=') ? 2 : 1;
        break;
      case '>':
        t.kind = two('=') ? Tok::Ge : Tok::Gt;
        len = two('=') ? 2 : 1;
        break;
      case '&':
        t.kind = two('&') ? Tok::AndAnd : Tok::Bad;
        len = two('&') ? 2 : 1;
        break;
      case '|':
        t.kind = two('|') ? Tok::OrOr : Tok::Bad;
        len = two('|') ? 2 : 1;
        break;
      default:
        t.kind = Tok::Bad;
        break;
    }
    t.text = std::string(src_.substr(pos_, len));
    pos_ += len;
    return t;
  }

 private:
  std::string_view src_;
  std::size_t pos_ = 0;
};

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::End:
      return "the end of the expression";
    case Tok::Ident:
      return "'" + t.text + "'";
    case Tok::Number:
      return "number " + t.text;
    case Tok::String:
      return "a string";
    default:
      return "'" + t.text + "'";
  }
}

// Thrown inside the parser to abandon the expression at its first syntax error.
struct SyntaxError {
  ExprError error;
};

class Parser {
 public:
  Parser(std::string_view src, std::vector<ExprError>& errors) : lexer_(src), errors_(errors) {
    advance();
  }

  std::unique_ptr<Node> parse() {
    auto node = expression();
    if (cur_.kind != Tok::End) {
      fail(cur_, "unexpected " + describe(cur_) + " after a complete expression",
           "join values with '+' or concat(...)");
    }
    return node;
  }

  bool semanticErrors() const { return semanticErrors_; }

 private:
  void advance() {
    cur_ = lexer_.next();
    if (cur_.kind == Tok::Bad) {
      fail(cur_,
           cur_.text == "unterminated string" ? "unterminated string literal"
                                              : "unexpected character '" + cur_.text + "'",
           cur_.text == "="   ? "compare with '=='"
           : cur_.text == "&" ? "use '&&'"
           : cur_.text == "|" ? "use '||'"
                              : "see docs/mapping-language.md for the grammar");
    }
  }

  [[noreturn]] void fail(const Token& at, std::string message, std::string hint) {
    throw SyntaxError{{at.offset, "expr_syntax", std::move(message), std::move(hint)}};
  }

  void expect(Tok kind, std::string_view what) {
    if (cur_.kind != kind) {
      fail(cur_, "expected " + std::string(what) + ", found " + describe(cur_),
           "see docs/mapping-language.md for the grammar");
    }
    advance();
  }

  std::unique_ptr<Node> make(Op op, std::size_t offset) {
    auto n = std::make_unique<Node>();
    n->op = op;
    n->offset = offset;
    return n;
  }

  std::unique_ptr<Node> binary(Op op, std::size_t offset, std::unique_ptr<Node> a,
                               std::unique_ptr<Node> b) {
    auto n = make(op, offset);
    n->args.push_back(std::move(a));
    n->args.push_back(std::move(b));
    return n;
  }

  std::unique_ptr<Node> expression() {
    auto cond = orExpr();
    if (cur_.kind == Tok::Question) {
      const auto offset = cur_.offset;
      advance();
      auto a = expression();
      expect(Tok::Colon, "':' of a conditional");
      auto b = expression();
      auto n = make(Op::Cond, offset);
      n->args.push_back(std::move(cond));
      n->args.push_back(std::move(a));
      n->args.push_back(std::move(b));
      return n;
    }
    return cond;
  }

  std::unique_ptr<Node> orExpr() {
    auto left = andExpr();
    while (cur_.kind == Tok::OrOr) {
      const auto offset = cur_.offset;
      advance();
      left = binary(Op::Or, offset, std::move(left), andExpr());
    }
    return left;
  }

  std::unique_ptr<Node> andExpr() {
    auto left = equality();
    while (cur_.kind == Tok::AndAnd) {
      const auto offset = cur_.offset;
      advance();
      left = binary(Op::And, offset, std::move(left), equality());
    }
    return left;
  }

  std::unique_ptr<Node> equality() {
    auto left = comparison();
    while (cur_.kind == Tok::EqEq || cur_.kind == Tok::NotEq) {
      const Op op = cur_.kind == Tok::EqEq ? Op::Eq : Op::Ne;
      const auto offset = cur_.offset;
      advance();
      left = binary(op, offset, std::move(left), comparison());
    }
    return left;
  }

  std::unique_ptr<Node> comparison() {
    auto left = additive();
    while (cur_.kind == Tok::Lt || cur_.kind == Tok::Le || cur_.kind == Tok::Gt ||
           cur_.kind == Tok::Ge) {
      const Op op = cur_.kind == Tok::Lt   ? Op::Lt
                    : cur_.kind == Tok::Le ? Op::Le
                    : cur_.kind == Tok::Gt ? Op::Gt
                                           : Op::Ge;
      const auto offset = cur_.offset;
      advance();
      left = binary(op, offset, std::move(left), additive());
    }
    return left;
  }

  std::unique_ptr<Node> additive() {
    auto left = unary();
    while (cur_.kind == Tok::Plus || cur_.kind == Tok::Minus) {
      const Op op = cur_.kind == Tok::Plus ? Op::Add : Op::Sub;
      const auto offset = cur_.offset;
      advance();
      left = binary(op, offset, std::move(left), unary());
    }
    return left;
  }

  std::unique_ptr<Node> unary() {
    if (cur_.kind == Tok::Bang || cur_.kind == Tok::Minus) {
      const Op op = cur_.kind == Tok::Bang ? Op::Not : Op::Neg;
      const auto offset = cur_.offset;
      advance();
      auto n = make(op, offset);
      n->args.push_back(unary());
      return n;
    }
    return postfix(primary());
  }

  // Member access and indexing. On a path they extend the path; on any other value they become
  // a Member node over it.
  std::unique_ptr<Node> postfix(std::unique_ptr<Node> base) {
    while (cur_.kind == Tok::Dot || cur_.kind == Tok::LBracket) {
      PathSegment seg;
      const auto offset = cur_.offset;
      if (cur_.kind == Tok::Dot) {
        advance();
        if (cur_.kind != Tok::Ident) {
          fail(cur_, "expected a field name after '.', found " + describe(cur_),
               "field names are letters, digits and '_'; use ['name'] for others");
        }
        seg.key = cur_.text;
        advance();
      } else {
        advance();
        if (cur_.kind == Tok::Number && cur_.text.find('.') == std::string::npos) {
          seg.index = std::stol(cur_.text);
        } else if (cur_.kind == Tok::String) {
          seg.key = cur_.text;
        } else {
          fail(cur_, "expected an index or a quoted field name in '[...]', found " + describe(cur_),
               "write items[0] or data['field-name']");
        }
        advance();
        expect(Tok::RBracket, "']'");
      }
      if (base->op == Op::Path) {
        base->path.push_back(std::move(seg));
      } else if (base->op == Op::Member) {
        base->path.push_back(std::move(seg));
      } else {
        auto m = make(Op::Member, offset);
        m->path.push_back(std::move(seg));
        m->args.push_back(std::move(base));
        base = std::move(m);
      }
    }
    return base;
  }

  std::unique_ptr<Node> primary() {
    const Token t = cur_;
    switch (t.kind) {
      case Tok::Number: {
        advance();
        auto n = make(Op::Literal, t.offset);
        if (t.text.find('.') == std::string::npos) {
          n->literal = std::stoll(t.text);
        } else {
          n->literal = std::stod(t.text);
        }
        return n;
      }
      case Tok::String: {
        advance();
        auto n = make(Op::Literal, t.offset);
        n->literal = t.text;
        return n;
      }
      case Tok::LParen: {
        advance();
        auto inner = expression();
        expect(Tok::RParen, "')'");
        return inner;
      }
      case Tok::Ident: {
        advance();
        if (cur_.kind == Tok::LParen) {
          return call(t);
        }
        if (t.text == "true" || t.text == "false" || t.text == "null") {
          auto n = make(Op::Literal, t.offset);
          n->literal = t.text == "null" ? Json(nullptr) : Json(t.text == "true");
          return n;
        }
        auto n = make(Op::Path, t.offset);
        if (t.text == "event") {
          n->root = Root::Event;
        } else if (t.text == "steps") {
          n->root = Root::Steps;
        } else {
          errors_.push_back({t.offset, "unknown_variable", "unknown name '" + t.text + "'",
                             "paths start with 'event.' (the trigger's event) or 'steps.<id>.' "
                             "(an earlier step's output); quote text as '" +
                                 t.text + "'"});
          semanticErrors_ = true;
        }
        return n;
      }
      default:
        fail(t, "expected a value, found " + describe(t),
             "a value is a path (event.email), a literal ('text', 42, true, null) or a call");
    }
  }

  std::unique_ptr<Node> call(const Token& name) {
    advance();  // '('
    auto n = make(Op::Call, name.offset);
    if (cur_.kind != Tok::RParen) {
      n->args.push_back(expression());
      while (cur_.kind == Tok::Comma) {
        advance();
        n->args.push_back(expression());
      }
    }
    expect(Tok::RParen, "')' or ',' in the arguments of " + name.text + "()");
    if (name.text == "if") {
      // if(c, a, b) is the conditional operator: only the chosen branch is evaluated.
      if (n->args.size() != 3) {
        errors_.push_back({name.offset, "wrong_arity",
                           "if() takes 3 arguments, got " + std::to_string(n->args.size()),
                           "the signature is if(condition, then, else)"});
        semanticErrors_ = true;
        return n;
      }
      n->op = Op::Cond;
      return n;
    }
    const Function* fn = findFunction(name.text);
    if (fn == nullptr) {
      std::string best;
      std::size_t bestDistance = 3;
      for (const auto& f : functions()) {
        const auto d = catalog::editDistance(f.name, name.text);
        if (d < bestDistance) {
          bestDistance = d;
          best = f.signature;
        }
      }
      errors_.push_back({name.offset, "unknown_function", "unknown function '" + name.text + "'",
                         best.empty() ? "see docs/mapping-language.md for the functions"
                                      : "did you mean " + best + "?"});
      semanticErrors_ = true;
      return n;
    }
    const int count = static_cast<int>(n->args.size());
    if (count < fn->minArgs || (fn->maxArgs >= 0 && count > fn->maxArgs)) {
      std::string expected = fn->maxArgs < 0 ? "at least " + std::to_string(fn->minArgs)
                             : fn->minArgs == fn->maxArgs ? std::to_string(fn->minArgs)
                                                          : std::to_string(fn->minArgs) + " to " +
                                                                std::to_string(fn->maxArgs);
      errors_.push_back({name.offset, "wrong_arity",
                         std::string(fn->name) + "() takes " + expected + " argument" +
                             (expected == "1" ? "" : "s") + ", got " + std::to_string(count),
                         "the signature is " + std::string(fn->signature)});
      semanticErrors_ = true;
    }
    n->fn = fn;
    return n;
  }

  Lexer lexer_;
  Token cur_;
  std::vector<ExprError>& errors_;
  bool semanticErrors_ = false;
};

}  // namespace

std::unique_ptr<Node> parseExpression(std::string_view text, std::vector<ExprError>& errors) {
  try {
    Parser parser(text, errors);
    auto node = parser.parse();
    if (parser.semanticErrors()) {
      return nullptr;
    }
    return node;
  } catch (const SyntaxError& e) {
    errors.push_back(e.error);
    return nullptr;
  } catch (const std::out_of_range&) {
    errors.push_back({0, "expr_syntax", "a number in the expression is too large", ""});
    return nullptr;
  }
}

// ---------------------------------------------------------------------------------------------
// Type checker

std::string fieldList(const std::vector<sdk::Field>& fields) {
  std::string out;
  for (const auto& f : fields) {
    out += (out.empty() ? "" : ", ") + f.name;
  }
  return out;
}

std::string closestField(const std::vector<sdk::Field>& fields, const std::string& name) {
  std::string best;
  std::size_t bestDistance = name.size() / 2 + 2;
  for (const auto& f : fields) {
    const auto d = catalog::editDistance(f.name, name);
    if (d < bestDistance) {
      bestDistance = d;
      best = f.name;
    }
  }
  return best;
}

namespace {

StaticType fromField(const sdk::Field& f) {
  StaticType t = StaticType::of(kindOf(f.type), !f.required);
  t.field = &f;
  return t;
}


// Walks `segments` from a value of type `start`; reports an unknown member against `what`.
StaticType walk(StaticType start, std::span<const PathSegment> segments, const std::string& what,
                std::size_t offset, std::vector<ExprError>& errors) {
  StaticType t = start;
  std::string done = what;
  for (const auto& seg : segments) {
    if (t.kind == StaticType::Any || t.kind == StaticType::Null) {
      return StaticType::of(StaticType::Any, true);
    }
    if (seg.index >= 0) {
      if (t.kind != StaticType::Array) {
        errors.push_back({offset, "type_mismatch",
                          "'" + done + "' is " + std::string(kindName(t.kind)) +
                              ", not an array, so it cannot be indexed",
                          "remove [" + std::to_string(seg.index) + "]"});
        return StaticType::of(StaticType::Any, true);
      }
      if (t.field == nullptr || !t.field->items) {
        return StaticType::of(StaticType::Any, true);
      }
      t = fromField(*t.field->items);
      t.nullable = true;  // an index may be out of range
      done += "[" + std::to_string(seg.index) + "]";
      continue;
    }
    if (t.kind != StaticType::Object) {
      errors.push_back({offset, "unknown_field",
                        "'" + done + "' is " + std::string(kindName(t.kind)) +
                            ", so it has no field '" + seg.key + "'",
                        "read '" + done + "' itself"});
      return StaticType::of(StaticType::Any, true);
    }
    if (t.field == nullptr) {
      return StaticType::of(StaticType::Any, true);
    }
    const sdk::Field* member = nullptr;
    for (const auto& f : t.field->fields) {
      if (f.name == seg.key) {
        member = &f;
        break;
      }
    }
    if (member == nullptr) {
      if (t.field->additionalFields || t.field->fields.empty()) {
        return StaticType::of(StaticType::Any, true);
      }
      const auto best = closestField(t.field->fields, seg.key);
      errors.push_back({offset, "unknown_field", "'" + done + "' has no field '" + seg.key + "'",
                        best.empty() ? "its fields are: " + fieldList(t.field->fields)
                                     : "did you mean '" + done + "." + best +
                                           "'? its fields are: " + fieldList(t.field->fields)});
      return StaticType::of(StaticType::Any, true);
    }
    const bool parentNullable = t.nullable;
    t = fromField(*member);
    t.nullable = t.nullable || parentNullable;
    done += "." + seg.key;
  }
  return t;
}

// A schema seen as the object it describes, so that walk() can start from it.
struct SchemaObject {
  sdk::Field field;
};

StaticType merge(StaticType a, StaticType b) {
  if (a.kind == StaticType::Null) {
    b.nullable = true;
    return b;
  }
  if (b.kind == StaticType::Null) {
    a.nullable = true;
    return a;
  }
  if (a.kind == b.kind) {
    a.nullable = a.nullable || b.nullable;
    if (a.field != b.field) {
      a.field = nullptr;
    }
    return a;
  }
  if (a.isNumeric() && b.isNumeric()) {
    return StaticType::of(StaticType::Number, a.nullable || b.nullable);
  }
  return StaticType::of(StaticType::Any, true);
}

void checkParam(Function::Param param, const Function& fn, int index, const StaticType& t,
                std::size_t offset, std::vector<ExprError>& errors) {
  const std::string which =
      "argument " + std::to_string(index + 1) + " of " + std::string(fn.name) + "()";
  switch (param) {
    case Function::Param::Any:
      return;
    case Function::Param::Text:
      if (t.kind == StaticType::Object || t.kind == StaticType::Array) {
        errors.push_back({offset, "type_mismatch",
                          which + " must be text, got " + std::string(kindName(t.kind)),
                          "pick one field of the " + std::string(kindName(t.kind))});
      }
      return;
    case Function::Param::Temporal:
      if (t.kind != StaticType::Date && t.kind != StaticType::DateTime &&
          t.kind != StaticType::Any && t.kind != StaticType::Null) {
        errors.push_back(
            {offset, "type_mismatch",
             which + " must be a date or date-time, got " + std::string(kindName(t.kind)),
             t.kind == StaticType::String ? "parse the text first: parse_date(...)"
                                          : "pass a date or date-time value"});
      }
      return;
    case Function::Param::Numeric:
      if (!t.isNumeric() && t.kind != StaticType::Any && t.kind != StaticType::Null) {
        errors.push_back({offset, "type_mismatch",
                          which + " must be a number, got " + std::string(kindName(t.kind)),
                          "pass a number, e.g. 2"});
      }
      return;
  }
}

}  // namespace

void checkTypes(Node& node, const TypeScope& scope, std::vector<ExprError>& errors) {
  for (auto& arg : node.args) {
    checkTypes(*arg, scope, errors);
  }
  switch (node.op) {
    case Op::Literal:
      if (node.literal.is_null()) {
        node.type = StaticType::of(StaticType::Null, true);
      } else if (node.literal.is_boolean()) {
        node.type = StaticType::of(StaticType::Boolean);
      } else if (node.literal.is_number_integer()) {
        node.type = StaticType::of(StaticType::Integer);
      } else if (node.literal.is_number()) {
        node.type = StaticType::of(StaticType::Number);
      } else {
        node.type = StaticType::of(StaticType::String);
      }
      return;
    case Op::Path: {
      if (node.root == Root::Event) {
        const sdk::Schema* schema = scope.eventSchema();
        if (schema == nullptr) {
          node.type = StaticType::of(StaticType::Any, true);
          return;
        }
        SchemaObject root{sdk::object("event", *schema)};
        StaticType start = StaticType::of(StaticType::Object, false);
        start.field = &root.field;
        node.type = walk(start, node.path, "event", node.offset, errors);
        node.type.field = nullptr;  // `root` dies here; member access is already resolved
        if (!node.path.empty()) {
          // re-resolve to a field pointer that outlives this call (the schema's own)
          const sdk::Field* f = nullptr;
          const std::vector<sdk::Field>* level = schema;
          for (const auto& seg : node.path) {
            if (seg.index >= 0) {
              f = f != nullptr && f->items ? f->items.get() : nullptr;
            } else {
              f = nullptr;
              if (level != nullptr) {
                for (const auto& candidate : *level) {
                  if (candidate.name == seg.key) {
                    f = &candidate;
                    break;
                  }
                }
              }
            }
            if (f == nullptr) {
              break;
            }
            level = &f->fields;
          }
          node.type.field = f;
        }
        return;
      }
      if (node.path.empty()) {
        errors.push_back(
            {node.offset, "unknown_step", "'steps' needs a step id", "write steps.<id>.<field>"});
        node.type = StaticType::of(StaticType::Any, true);
        return;
      }
      const std::string& id = node.path[0].key;
      const sdk::Schema* schema = nullptr;
      switch (scope.step(id, schema)) {
        case TypeScope::StepState::Unknown:
          errors.push_back({node.offset, "unknown_step", "the flow has no step '" + id + "'",
                            "steps.<id> names an earlier step's `id:`"});
          node.type = StaticType::of(StaticType::Any, true);
          return;
        case TypeScope::StepState::Later:
          errors.push_back({node.offset, "step_order",
                            "step '" + id + "' has not run yet where its output is used",
                            "a mapping can only read the outputs of steps listed before it"});
          node.type = StaticType::of(StaticType::Any, true);
          return;
        case TypeScope::StepState::Earlier:
          break;
      }
      if (schema == nullptr) {
        node.type = StaticType::of(StaticType::Any, true);
        return;
      }
      SchemaObject root{sdk::object(id, *schema)};
      StaticType start = StaticType::of(StaticType::Object, true);
      start.field = &root.field;
      node.type = walk(start, std::span(node.path).subspan(1), "steps." + id, node.offset, errors);
      // A step may be skipped by its `when:`, so its outputs are always nullable.
      node.type.nullable = true;
      node.type.field = nullptr;
      const sdk::Field* f = nullptr;
      const std::vector<sdk::Field>* level = schema;
      for (std::size_t i = 1; i < node.path.size(); ++i) {
        const auto& seg = node.path[i];
        if (seg.index >= 0) {
          f = f != nullptr && f->items ? f->items.get() : nullptr;
        } else {
          f = nullptr;
          for (const auto& candidate : *level) {
            if (candidate.name == seg.key) {
              f = &candidate;
              break;
            }
          }
        }
        if (f == nullptr) {
          break;
        }
        level = &f->fields;
      }
      node.type.field = f;
      return;
    }
    case Op::Member:
      node.type = walk(node.args[0]->type, node.path, "the value", node.offset, errors);
      return;
    case Op::Call: {
      std::vector<StaticType> types;
      types.reserve(node.args.size());
      for (std::size_t i = 0; i < node.args.size(); ++i) {
        const auto param = i < 3 ? node.fn->params[i] : Function::Param::Any;
        checkParam(param, *node.fn, static_cast<int>(i), node.args[i]->type, node.args[i]->offset,
                   errors);
        types.push_back(node.args[i]->type);
      }
      node.type = node.fn->result(types);
      return;
    }
    case Op::Not:
    case Op::And:
    case Op::Or:
    case Op::Eq:
    case Op::Ne:
      node.type = StaticType::of(StaticType::Boolean);
      return;
    case Op::Lt:
    case Op::Le:
    case Op::Gt:
    case Op::Ge: {
      const auto& a = node.args[0]->type;
      const auto& b = node.args[1]->type;
      const bool numeric = a.isNumeric() || b.isNumeric();
      const bool other = (a.kind != StaticType::Any && !a.isNumeric()) ||
                         (b.kind != StaticType::Any && !b.isNumeric());
      if (numeric && other) {
        errors.push_back({node.offset, "type_mismatch",
                          "cannot order " + std::string(kindName(a.kind)) + " against " +
                              std::string(kindName(b.kind)),
                          "compare numbers with numbers, or text and dates with each other"});
      }
      node.type = StaticType::of(StaticType::Boolean);
      return;
    }
    case Op::Neg:
    case Op::Sub:
      for (const auto& arg : node.args) {
        if (!arg->type.isNumeric() && arg->type.kind != StaticType::Any) {
          errors.push_back({arg->offset, "type_mismatch",
                            "'-' needs numbers, got " + std::string(kindName(arg->type.kind)),
                            "for dates use add_days(date, -n) or add_hours(date, -n)"});
        }
      }
      node.type = StaticType::of(StaticType::Number, true);
      return;
    case Op::Add: {
      const auto& a = node.args[0]->type;
      const auto& b = node.args[1]->type;
      if (a.isNumeric() && b.isNumeric()) {
        node.type = StaticType::of(a.kind == StaticType::Integer && b.kind == StaticType::Integer
                                       ? StaticType::Integer
                                       : StaticType::Number,
                                   a.nullable || b.nullable);
      } else {
        node.type = StaticType::of(StaticType::String);
      }
      return;
    }
    case Op::Cond:
      node.type = merge(node.args[1]->type, node.args[2]->type);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluator

bool truthy(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return false;
    case Json::value_t::boolean:
      return v.get<bool>();
    case Json::value_t::number_integer:
      return v.get<std::int64_t>() != 0;
    case Json::value_t::number_unsigned:
      return v.get<std::uint64_t>() != 0;
    case Json::value_t::number_float:
      return v.get<double>() != 0.0;
    case Json::value_t::string:
      return !v.get_ref<const std::string&>().empty();
    default:
      return true;
  }
}

void appendText(std::string& out, const Json& v) {
  if (v.is_string()) {
    out += v.get_ref<const std::string&>();
  } else if (!v.is_null()) {
    out += v.dump();
  }
}

namespace {

const Json kNull;

const Json* step(const Json* at, const PathSegment& seg) {
  if (seg.index >= 0) {
    if (!at->is_array() || static_cast<std::size_t>(seg.index) >= at->size()) {
      return nullptr;
    }
    return &(*at)[static_cast<std::size_t>(seg.index)];
  }
  if (!at->is_object()) {
    return nullptr;
  }
  auto it = at->find(seg.key);
  return it == at->end() ? nullptr : &*it;
}

const Json* walkValue(const Json* at, std::span<const PathSegment> path) {
  for (const auto& seg : path) {
    if (at == nullptr) {
      return nullptr;
    }
    at = step(at, seg);
  }
  return at;
}

int compare(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>();
    const double y = b.get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  std::string x;
  std::string y;
  appendText(x, a);
  appendText(y, b);
  return x.compare(y);
}

// Integer arithmetic that stays exact while it fits in 64 bits and goes on in floating point
// when it would not (signed overflow is undefined behaviour; a mapping of two large IDs must not
// be). A number above INT64_MAX (nlohmann keeps it unsigned) is not an exact integer here either.
std::optional<std::int64_t> exactInteger(const Json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    return u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::optional<std::int64_t>(static_cast<std::int64_t>(u))
               : std::nullopt;
  }
  return v.is_number_integer() ? std::optional<std::int64_t>(v.get<std::int64_t>()) : std::nullopt;
}

Json add(const Json& a, const Json& b, bool subtract) {
  const auto x = exactInteger(a);
  const auto y = exactInteger(b);
  std::int64_t out = 0;
  if (x && y && !(subtract ? __builtin_sub_overflow(*x, *y, &out) : __builtin_add_overflow(*x, *y, &out))) {
    return out;
  }
  return subtract ? a.get<double>() - b.get<double>() : a.get<double>() + b.get<double>();
}

Json negate(const Json& v) {
  const auto x = exactInteger(v);
  if (x && *x != std::numeric_limits<std::int64_t>::min()) {
    return -*x;
  }
  return -v.get<double>();
}

bool equal(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) {
    return a.get<double>() == b.get<double>();
  }
  return a == b;
}

// The value of a node without copying it when it is a path into the event or steps (the
// common case in conditions); other nodes are evaluated into `scratch`.
const Json& view(const Node& node, const EvalEnv& env, Json& scratch) {
  if (node.op == Op::Path) {
    const Json* root = node.root == Root::Event ? env.event : env.steps;
    const Json* v = root == nullptr ? nullptr : walkValue(root, node.path);
    return v == nullptr ? kNull : *v;
  }
  scratch = evaluate(node, env);
  return scratch;
}

bool truthyOf(const Node& node, const EvalEnv& env) {
  Json scratch;
  return truthy(view(node, env, scratch));
}

}  // namespace

Json evaluate(const Node& node, const EvalEnv& env) {
  switch (node.op) {
    case Op::Literal:
      return node.literal;
    case Op::Path: {
      const Json* root = node.root == Root::Event ? env.event : env.steps;
      const Json* v = root == nullptr ? nullptr : walkValue(root, node.path);
      return v == nullptr ? Json() : *v;
    }
    case Op::Member: {
      const Json base = evaluate(*node.args[0], env);
      const Json* v = walkValue(&base, node.path);
      return v == nullptr ? Json() : *v;
    }
    case Op::Call: {
      if (node.args.size() <= 4) {
        Json args[4];
        for (std::size_t i = 0; i < node.args.size(); ++i) {
          args[i] = evaluate(*node.args[i], env);
        }
        return node.fn->impl(std::span<Json>(args, node.args.size()), env);
      }
      std::vector<Json> args;
      args.reserve(node.args.size());
      for (const auto& a : node.args) {
        args.push_back(evaluate(*a, env));
      }
      return node.fn->impl(args, env);
    }
    case Op::Not:
      return !truthyOf(*node.args[0], env);
    case Op::Neg: {
      const Json v = evaluate(*node.args[0], env);
      if (!v.is_number()) {
        return nullptr;
      }
      return negate(v);
    }
    case Op::Add: {
      Json a = evaluate(*node.args[0], env);
      Json b = evaluate(*node.args[1], env);
      if (a.is_number() && b.is_number()) {
        return add(a, b, false);
      }
      std::string out;
      appendText(out, a);
      appendText(out, b);
      return out;
    }
    case Op::Sub: {
      const Json a = evaluate(*node.args[0], env);
      const Json b = evaluate(*node.args[1], env);
      if (!a.is_number() || !b.is_number()) {
        return nullptr;
      }
      return add(a, b, true);
    }
    case Op::Eq:
    case Op::Ne: {
      Json sa;
      Json sb;
      const bool same = equal(view(*node.args[0], env, sa), view(*node.args[1], env, sb));
      return node.op == Op::Eq ? same : !same;
    }
    case Op::Lt:
    case Op::Le:
    case Op::Gt:
    case Op::Ge: {
      Json sa;
      Json sb;
      const Json& a = view(*node.args[0], env, sa);
      const Json& b = view(*node.args[1], env, sb);
      if (a.is_null() || b.is_null()) {
        return false;
      }
      const int c = compare(a, b);
      return node.op == Op::Lt   ? c < 0
             : node.op == Op::Le ? c <= 0
             : node.op == Op::Gt ? c > 0
                                 : c >= 0;
    }
    case Op::And:
      return truthyOf(*node.args[0], env) && truthyOf(*node.args[1], env);
    case Op::Or:
      return truthyOf(*node.args[0], env) || truthyOf(*node.args[1], env);
    case Op::Cond:
      return truthyOf(*node.args[0], env) ? evaluate(*node.args[1], env)
                                          : evaluate(*node.args[2], env);
  }
  return nullptr;
}

}  // namespace ferry::core::flow

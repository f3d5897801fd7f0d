// The mapping language: parsing, every function with its edge cases, operators, evaluation.
#include <gtest/gtest.h>

#include <limits>

#include "flow/dates.hpp"
#include "flow/dry_run.hpp"
#include "flow/expr.hpp"
#include "flow/flow.hpp"

namespace ferry::core::flow {
namespace {

const auto kNow = std::chrono::sys_days(std::chrono::year{2026} / 11 / 26) + std::chrono::hours(10);

Json run(const std::string& text, const Json& event = Json::object(),
         const Json& steps = Json::object(), CorrelationLookup* correlations = nullptr) {
  std::vector<ExprError> errors;
  auto node = parseExpression(text, errors);
  EXPECT_TRUE(errors.empty()) << text << ": " << (errors.empty() ? "" : errors[0].message);
  if (!node) {
    return "<parse error>";
  }
  EvalEnv env{&event, &steps, correlations, kNow};
  return evaluate(*node, env);
}

std::vector<ExprError> errorsOf(const std::string& text) {
  std::vector<ExprError> errors;
  auto node = parseExpression(text, errors);
  EXPECT_EQ(node, nullptr) << text;
  return errors;
}

const Json kEvent = {{"email", " Anna.Schmidt@Example.DE "},
                     {"firstName", "anna"},
                     {"lastName", "schmidt"},
                     {"phone", "0171 1234567"},
                     {"contact", {{"firstName", "Max"}, {"tags", {"a", "b"}}}},
                     {"count", 3},
                     {"empty", ""},
                     {"nothing", nullptr}};

TEST(MappingPaths, ReadsEventAndStepFields) {
  EXPECT_EQ(run("event.contact.firstName", kEvent), "Max");
  EXPECT_EQ(run("event.contact.tags[1]", kEvent), "b");
  EXPECT_EQ(run("event['firstName']", kEvent), "anna");
  EXPECT_EQ(run("event.contact.tags[5]", kEvent), nullptr);
  EXPECT_EQ(run("event.missing.deeper", kEvent), nullptr);
  EXPECT_EQ(run("event.count", kEvent), 3);
  const Json steps = {{"upsert", {{"contact", {{"id", "c-9"}}}}}};
  EXPECT_EQ(run("steps.upsert.contact.id", kEvent, steps), "c-9");
  EXPECT_EQ(run("steps.other.contact.id", kEvent, steps), nullptr);
}

TEST(MappingLiterals, AllKinds) {
  EXPECT_EQ(run("'it\\'s'"), "it's");
  EXPECT_EQ(run("\"double \\\"q\\\"\""), "double \"q\"");
  EXPECT_EQ(run("'a}b'"), "a}b");
  EXPECT_EQ(run("42"), 42);
  EXPECT_EQ(run("4.25"), 4.25);
  EXPECT_EQ(run("true"), true);
  EXPECT_EQ(run("false"), false);
  EXPECT_EQ(run("null"), nullptr);
}

TEST(MappingOperators, ArithmeticConcatenationComparison) {
  EXPECT_EQ(run("1 + 2"), 3);
  EXPECT_EQ(run("1.5 + 2"), 3.5);
  EXPECT_EQ(run("7 - 2"), 5);
  EXPECT_EQ(run("-event.count", kEvent), -3);
  EXPECT_EQ(run("event.firstName + ' ' + event.lastName", kEvent), "anna schmidt");
  EXPECT_EQ(run("'n=' + event.count", kEvent), "n=3");
  EXPECT_EQ(run("'a' + null"), "a");
  EXPECT_EQ(run("event.count == 3", kEvent), true);
  EXPECT_EQ(run("event.count == 3.0", kEvent), true);
  EXPECT_EQ(run("event.count != 3", kEvent), false);
  EXPECT_EQ(run("event.count > 2 && event.count <= 3", kEvent), true);
  EXPECT_EQ(run("'2026-11-27' > '2026-11-26'"), true);
  EXPECT_EQ(run("event.nothing < 3", kEvent), false);
  EXPECT_EQ(run("event.nothing == null", kEvent), true);
  EXPECT_EQ(run("!event.empty", kEvent), true);
  EXPECT_EQ(run("event.empty || 'x'", kEvent), true);
  EXPECT_EQ(run("event.count >= 4 ? 'many' : 'few'", kEvent), "few");
  EXPECT_EQ(run("true ? false ? 1 : 2 : 3"), 2);
  EXPECT_EQ(run("(1 + 2) == 3 && !(false || null)"), true);
  EXPECT_EQ(run("if(event.count > 1, 'yes', 'no')", kEvent), "yes");
}

TEST(MappingFunctions, Names) {
  EXPECT_EQ(run("concat(event.firstName, ' ', event.lastName)", kEvent), "anna schmidt");
  EXPECT_EQ(run("concat('a', null, 1, true)"), "a1true");
  EXPECT_EQ(run("split_name('Hans Peter Müller').first"), "Hans Peter");
  EXPECT_EQ(run("split_name('Hans Peter Müller').last"), "Müller");
  EXPECT_EQ(run("split_name_first('  Müller, Hans ')"), "Hans");
  EXPECT_EQ(run("split_name_last('Müller, Hans')"), "Müller");
  EXPECT_EQ(run("split_name_first('Cher')"), "Cher");
  EXPECT_EQ(run("split_name_last('Cher')"), nullptr);
  EXPECT_EQ(run("split_name_last(null)"), nullptr);
  EXPECT_EQ(run("split_name_first('')"), nullptr);
}

TEST(MappingFunctions, Case) {
  EXPECT_EQ(run("trim('  a b  ')"), "a b");
  EXPECT_EQ(run("trim(null)"), nullptr);
  EXPECT_EQ(run("lower('ÄRGER Über')"), "ärger über");
  EXPECT_EQ(run("upper('straße öl')"), "STRAßE ÖL");
  EXPECT_EQ(run("title('hans-peter o\\'neil MÜLLER')"), "Hans-Peter O'Neil Müller");
  EXPECT_EQ(run("title('ärzte gmbh')"), "Ärzte Gmbh");
  EXPECT_EQ(run("title('')"), "");
}

TEST(MappingFunctions, DefaultAndCoalesce) {
  EXPECT_EQ(run("default(event.nothing, 'x')", kEvent), "x");
  EXPECT_EQ(run("default(event.empty, 'x')", kEvent), "x");
  EXPECT_EQ(run("default(event.firstName, 'x')", kEvent), "anna");
  EXPECT_EQ(run("default(0, 5)"), 0);
  EXPECT_EQ(run("coalesce(null, '', event.contact.firstName, 'z')", kEvent), "Max");
  EXPECT_EQ(run("coalesce(null, null)"), nullptr);
}

TEST(MappingFunctions, Phone) {
  EXPECT_EQ(run("e164('0171 1234567')"), "+491711234567");
  EXPECT_EQ(run("e164('+49 (0) 171 123-45-67')"), "+491711234567");
  EXPECT_EQ(run("e164('0049 171 1234567')"), "+491711234567");
  EXPECT_EQ(run("e164('+49 171/1234567')"), "+491711234567");
  EXPECT_EQ(run("e164('(030) 123456')"), "+4930123456");
  EXPECT_EQ(run("e164('491711234567')"), "+491711234567");
  EXPECT_EQ(run("e164('0664 1234567', 'AT')"), "+436641234567");
  EXPECT_EQ(run("e164('079 123 45 67', '+41')"), "+41791234567");
  EXPECT_EQ(run("e164('(415) 555-0100', 'US')"), "+14155550100");
  EXPECT_EQ(run("e164('0171 1234567 ext. 12')"), "+491711234567");
  EXPECT_EQ(run("e164('123')"), nullptr);
  EXPECT_EQ(run("e164('')"), nullptr);
  EXPECT_EQ(run("e164(null)"), nullptr);
  EXPECT_EQ(run("e164('+1234567890123456')"), nullptr);
  std::vector<ExprError> errors;
  auto node = parseExpression("e164('0171', 'XX')", errors);
  ASSERT_NE(node, nullptr);
  const Json none = Json::object();
  EXPECT_THROW(evaluate(*node, EvalEnv{&none, &none, nullptr, kNow}), EvalError);
  // expr_fuzz, regression-e164-long-calling-code: a country of digits beyond int made std::stoi
  // throw out_of_range, which nothing catches (the process ended). A calling code has 1 to 3
  // digits; anything longer is an unknown country.
  for (const char* text : {"e164('0171', '22222222222222222')", "e164('0171', '+1234')"}) {
    node = parseExpression(text, errors);
    ASSERT_NE(node, nullptr) << text;
    EXPECT_THROW(evaluate(*node, EvalEnv{&none, &none, nullptr, kNow}), EvalError) << text;
  }
  EXPECT_EQ(run("e164('0171 1234567', '352')"), "+3521711234567");
}

TEST(MappingFunctions, Email) {
  EXPECT_EQ(run("email(event.email)", kEvent), "anna.schmidt@example.de");
  EXPECT_EQ(run("email('   ')"), nullptr);
  EXPECT_EQ(run("email(null)"), nullptr);
}

TEST(MappingFunctions, Dates) {
  EXPECT_EQ(run("parse_date('26.11.2026')"), "2026-11-26T00:00:00Z");
  EXPECT_EQ(run("parse_date('1.2.2026 9:05')"), "2026-02-01T09:05:00Z");
  EXPECT_EQ(run("parse_date('26.11.26')"), "2026-11-26T00:00:00Z");
  EXPECT_EQ(run("parse_date('2026-11-26')"), "2026-11-26T00:00:00Z");
  EXPECT_EQ(run("parse_date('2026-11-26T10:30:00.123Z')"), "2026-11-26T10:30:00Z");
  EXPECT_EQ(run("parse_date('2026-11-26T10:30:00+01:00')"), "2026-11-26T09:30:00Z");
  EXPECT_EQ(run("parse_date('2026-11-26 10:30')"), "2026-11-26T10:30:00Z");
  EXPECT_EQ(run("parse_date('11/26/2026', '%m/%d/%Y')"), "2026-11-26T00:00:00Z");
  EXPECT_EQ(run("parse_date(1764151200)"), "2025-11-26T10:00:00Z");
  EXPECT_EQ(run("parse_date(1764151200000)"), "2025-11-26T10:00:00Z");
  EXPECT_EQ(run("parse_date('31.02.2026')"), nullptr);
  EXPECT_EQ(run("parse_date('tomorrow')"), nullptr);
  EXPECT_EQ(run("parse_date(null)"), nullptr);
  EXPECT_EQ(run("to_date('2026-11-26T23:59:00Z')"), "2026-11-26");
  EXPECT_EQ(run("format_date('2026-11-26T09:05:00Z', '%d.%m.%Y %H:%M')"), "26.11.2026 09:05");
  EXPECT_EQ(run("format_date('2026-11-26', '%y%%')"), "26%");
  EXPECT_EQ(run("add_days('2026-11-26T10:00:00Z', 2)"), "2026-11-28T10:00:00Z");
  EXPECT_EQ(run("add_days('2026-12-31', 1)"), "2027-01-01");
  EXPECT_EQ(run("add_days('2026-03-01', -1)"), "2026-02-28");
  EXPECT_EQ(run("add_hours('2026-11-26T23:00:00Z', 2)"), "2026-11-27T01:00:00Z");
  EXPECT_EQ(run("add_hours('2026-11-26', 1.5)"), "2026-11-26T01:30:00Z");
  EXPECT_EQ(run("add_days(null, 1)"), nullptr);
  EXPECT_EQ(run("now()"), "2026-11-26T10:00:00Z");
  EXPECT_EQ(run("today()"), "2026-11-26");
  EXPECT_EQ(run("add_days(now(), 2)"), "2026-11-28T10:00:00Z");
}

TEST(MappingFunctions, SlateToText) {
  const std::string slate =
      R"([{"type":"paragraph","children":[{"text":"Kunde "},{"text":"will","bold":true},)"
      R"({"type":"link","url":"x","children":[{"text":" Angebot"}]}]},)"
      R"({"type":"bulleted-list","children":[{"type":"list-item","children":[{"text":"Preis"}]},)"
      R"({"type":"list-item","children":[{"text":"Termin"}]}]}])";
  const Json event = {{"d", slate}};
  EXPECT_EQ(run("slate_to_text(event.d)", event), "Kunde will Angebot\n- Preis\n- Termin");
  EXPECT_EQ(run("slate_to_text('plain text')"), "plain text");
  EXPECT_EQ(run("slate_to_text('[]')"), "");
  EXPECT_EQ(run("slate_to_text(null)"), nullptr);
}

TEST(MappingFunctions, Correlate) {
  MemoryCorrelations table;
  table.put("contact", "1001", "ghl-9");
  const Json event = {{"id", 1001}, {"other", "2"}};
  EXPECT_EQ(run("correlate('contact', event.id)", event, Json::object(), &table), "ghl-9");
  EXPECT_EQ(run("correlate('contact', event.other)", event, Json::object(), &table), nullptr);
  EXPECT_EQ(run("correlate('task', event.id)", event, Json::object(), &table), nullptr);
  EXPECT_EQ(run("correlate('contact', null)", event, Json::object(), &table), nullptr);
  std::vector<ExprError> errors;
  auto node = parseExpression("correlate('contact', event.id)", errors);
  const Json none = Json::object();
  EXPECT_THROW(evaluate(*node, EvalEnv{&event, &none, nullptr, kNow}), EvalError);
}

TEST(MappingFunctions, Conversions) {
  EXPECT_EQ(run("string(12)"), "12");
  EXPECT_EQ(run("string(null)"), "");
  EXPECT_EQ(run("number('12')"), 12);
  EXPECT_EQ(run("number('12,5')"), 12.5);
  EXPECT_EQ(run("number('abc')"), nullptr);
  EXPECT_EQ(run("contains('Rückruf morgen', 'Rückruf')"), true);
  EXPECT_EQ(run("contains(event.contact.tags, 'b')", kEvent), true);
  EXPECT_EQ(run("contains(null, 'b')"), false);
  EXPECT_EQ(run("length(event.contact.tags)", kEvent), 2);
  EXPECT_EQ(run("length('abc')"), 3);
}

// Numbers at the edges of what they can hold: each of these was undefined behaviour (a signed
// overflow, or a double too large cast to an integer) before. Integer arithmetic that would
// overflow goes on in floating point; a date beyond the years 0000-9999 is null.
TEST(MappingNumbers, OverflowIsNeverUndefined) {
  const Json big = {{"max", std::numeric_limits<std::int64_t>::max()},
                    {"min", std::numeric_limits<std::int64_t>::min()},
                    {"huge", std::numeric_limits<std::uint64_t>::max()}};
  EXPECT_EQ(run("9223372036854775807 + 1"), 9223372036854775808.0);
  EXPECT_EQ(run("event.max + event.max", big), 2 * 9223372036854775807.0);
  EXPECT_EQ(run("event.min - 1", big), -9223372036854775809.0);
  EXPECT_EQ(run("-event.min", big), 9223372036854775808.0);
  EXPECT_EQ(run("event.huge - 1", big), 18446744073709551615.0 - 1);
  EXPECT_EQ(run("event.max - 1", big), 9223372036854775806);  // exact while it fits
  EXPECT_EQ(run("-event.max", big), -9223372036854775807);
  EXPECT_EQ(run("number('1e300')"), 1e300);
  EXPECT_EQ(run("number('1e3')"), 1000);
  EXPECT_EQ(run("number('inf')").is_number_float(), true);
  EXPECT_EQ(run("parse_date(number('1e300'))"), nullptr);
  EXPECT_EQ(run("parse_date(number('nan'))"), nullptr);
  EXPECT_EQ(run("parse_date(-62167219200)"), "0000-01-01T00:00:00Z");
  EXPECT_EQ(run("parse_date(-62167219201)"), nullptr);
  EXPECT_EQ(run("parse_date(253402300799999)"), "9999-12-31T23:59:59Z");  // milliseconds
  EXPECT_EQ(run("parse_date(253402300800000)"), nullptr);
  EXPECT_EQ(run("add_days('2026-11-26', number('1e300'))"), nullptr);
  EXPECT_EQ(run("add_days('2026-11-26', number('-inf'))"), nullptr);
  EXPECT_EQ(run("add_hours('9999-12-31T23:00:00Z', 1)"), nullptr);
  EXPECT_EQ(run("add_days('9999-12-30', 1)"), "9999-12-31");
}

TEST(MappingErrors, SyntaxFunctionsArity) {
  auto e = errorsOf("event.email +");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].code, "expr_syntax");
  EXPECT_EQ(e[0].offset, 13u);
  e = errorsOf("'open");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].message, "unterminated string literal");
  e = errorsOf("event.a = 1");
  EXPECT_EQ(e[0].hint, "compare with '=='");
  e = errorsOf("uper(event.a)");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].code, "unknown_function");
  EXPECT_EQ(e[0].hint, "did you mean upper(text)?");
  e = errorsOf("trim(event.a, 1) + e164()");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].code, "wrong_arity");
  EXPECT_EQ(e[0].message, "trim() takes 1 argument, got 2");
  EXPECT_EQ(e[1].message, "e164() takes 1 to 2 arguments, got 0");
  e = errorsOf("contact.email");
  EXPECT_EQ(e[0].code, "unknown_variable");
  e = errorsOf("if(true, 1)");
  EXPECT_EQ(e[0].code, "wrong_arity");
  e = errorsOf("event.a event.b");
  EXPECT_EQ(e[0].code, "expr_syntax");
}

TEST(MappingTypes, StaticTypesOfExpressions) {
  class Scope : public TypeScope {
   public:
    const sdk::Schema* eventSchema() const override { return &schema; }
    StepState step(std::string_view, const sdk::Schema*&) const override {
      return StepState::Unknown;
    }
    sdk::Schema schema = {sdk::str("email").require(), sdk::datetime("at"), sdk::integer("n"),
                          sdk::object("contact", {sdk::str("name")}),
                          sdk::object("data", {}).open()};
  } scope;
  auto typeOf = [&](const std::string& text) {
    std::vector<ExprError> errors;
    auto node = parseExpression(text, errors);
    EXPECT_NE(node, nullptr) << text;
    checkTypes(*node, scope, errors);
    EXPECT_TRUE(errors.empty()) << text << ": " << (errors.empty() ? "" : errors[0].message);
    return node->type;
  };
  EXPECT_EQ(typeOf("event.email").kind, StaticType::String);
  EXPECT_FALSE(typeOf("event.email").nullable);
  EXPECT_TRUE(typeOf("event.contact.name").nullable);
  EXPECT_EQ(typeOf("event.at").kind, StaticType::DateTime);
  EXPECT_EQ(typeOf("event.data.anything").kind, StaticType::Any);
  EXPECT_EQ(typeOf("event.n + 1").kind, StaticType::Integer);
  EXPECT_EQ(typeOf("event.n + 1.5").kind, StaticType::Number);
  EXPECT_EQ(typeOf("event.email + 1").kind, StaticType::String);
  EXPECT_EQ(typeOf("add_days(event.at, 2)").kind, StaticType::DateTime);
  EXPECT_EQ(typeOf("add_days(today(), 2)").kind, StaticType::Date);
  EXPECT_EQ(typeOf("parse_date(event.email)").kind, StaticType::DateTime);
  EXPECT_EQ(typeOf("split_name(event.email).first").kind, StaticType::String);
  EXPECT_EQ(typeOf("event.n > 1 ? 'a' : null").kind, StaticType::String);
  EXPECT_TRUE(typeOf("event.n > 1 ? 'a' : null").nullable);
  EXPECT_EQ(typeOf("coalesce(event.contact.name, 'x')").kind, StaticType::String);
  EXPECT_FALSE(typeOf("coalesce(event.contact.name, 'x')").nullable);
  EXPECT_EQ(typeOf("event.n == 1").kind, StaticType::Boolean);

  auto errorsFor = [&](const std::string& text) {
    std::vector<ExprError> errors;
    auto node = parseExpression(text, errors);
    EXPECT_NE(node, nullptr) << text;
    checkTypes(*node, scope, errors);
    return errors;
  };
  auto e = errorsFor("event.emial");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].code, "unknown_field");
  EXPECT_EQ(e[0].hint, "did you mean 'event.email'? its fields are: email, at, n, contact, data");
  e = errorsFor("add_days(event.email, 1)");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].code, "type_mismatch");
  EXPECT_EQ(e[0].hint, "parse the text first: parse_date(...)");
  e = errorsFor("add_days(event.at, 'two')");
  EXPECT_EQ(e[0].message, "argument 2 of add_days() must be a number, got string");
  e = errorsFor("event.email.x");
  EXPECT_EQ(e[0].code, "unknown_field");
  e = errorsFor("steps.nope.id");
  EXPECT_EQ(e[0].code, "unknown_step");
  e = errorsFor("event.n > 'a'");
  EXPECT_EQ(e[0].code, "type_mismatch");
}

TEST(Dates, ParseAndFormatRoundTrip) {
  auto m = dates::parse("2026-02-29", "");
  EXPECT_FALSE(m.has_value());
  m = dates::parse("2028-02-29", "");
  ASSERT_TRUE(m.has_value());
  EXPECT_FALSE(m->hasTime);
  EXPECT_EQ(dates::formatIsoDate(m->time), "2028-02-29");
  EXPECT_FALSE(dates::parse("2026-11-26T25:00", "").has_value());
  EXPECT_FALSE(dates::parse("2026-11-26Tfoo", "").has_value());
  EXPECT_FALSE(dates::parse("26.11.2026 10", "").has_value());
}

}  // namespace
}  // namespace ferry::core::flow

namespace ferry::core::flow {
namespace {

TEST(FlowTemplates, InterpolationTypesAndLiteralConditions) {
  std::vector<Diagnostic> diags;
  auto flow = parseFlow(R"(version: 1
id: t
trigger: {use: x.y.z, connection: c}
steps:
  - id: a
    use: x.y.w
    connection: c
    when: false
    with:
      typed: ${event.n + 1}
      text: "n=${event.n}, $${literal}"
      list: [1, "two", "${event.s}"]
      nested: {flag: true, none: null, quoted: "true"}
  - id: b
    use: x.y.w
    connection: c
    when: "${event.n > 1}"
)",
                        "t.yaml", diags);
  ASSERT_TRUE(flow.has_value());
  ASSERT_TRUE(diags.empty()) << formatText(diags);
  const Json event = {{"n", 2}, {"s", "x"}};
  const Json steps = Json::object();
  EvalEnv env{&event, &steps, nullptr, {}};
  EXPECT_EQ(evaluate(*flow->steps[0].when, env), false);
  EXPECT_EQ(evaluate(*flow->steps[1].when, env), true);
  EXPECT_EQ(evaluate(flow->steps[0].with, env),
            Json::parse(R"({"typed":3,"text":"n=2, ${literal}","list":[1,"two","x"],)"
                        R"("nested":{"flag":true,"quoted":"true"}})"));
}

}  // namespace
}  // namespace ferry::core::flow

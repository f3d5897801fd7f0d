// The connector's pure parts: Slate conversion, the field map, error classification, time.
#include <gtest/gtest.h>

#include "client.hpp"
#include "fields.hpp"
#include "signature.hpp"
#include "slate.hpp"
#include "time.hpp"

namespace ferry::plugins::umsatzio {
namespace {

TEST(UmsatzioSlate, PlainTextRoundTripKeepsStructure) {
  const std::string text =
      "# Gesprächsnotiz\n\n"
      "Frau Müller war sehr aufgeschlossen.\nSie möchte das Angebot bis Freitag.\n\n"
      "- Preisliste schicken\n- Größe des Teams klären\n- Grüße an Herrn Strauß\n\n"
      "## Nächste Schritte\n\n"
      "1. Angebot erstellen\n2. Rückruf am Montag\n\n"
      "Schöne Grüße, Jürgen";
  const Json doc = plainTextToSlate(text);
  ASSERT_EQ(doc.size(), 6u);
  EXPECT_EQ(doc[0]["type"], "heading-one");
  EXPECT_EQ(doc[1]["type"], "paragraph");
  EXPECT_EQ(doc[1]["children"][0]["text"], "Frau Müller war sehr aufgeschlossen.\nSie möchte das Angebot bis Freitag.");
  EXPECT_EQ(doc[2]["type"], "bulleted-list");
  ASSERT_EQ(doc[2]["children"].size(), 3u);
  EXPECT_EQ(doc[2]["children"][2]["type"], "list-item");
  EXPECT_EQ(doc[2]["children"][2]["children"][0]["text"], "Grüße an Herrn Strauß");
  EXPECT_EQ(doc[3]["type"], "heading-two");
  EXPECT_EQ(doc[4]["type"], "numbered-list");
  EXPECT_EQ(slateToPlainText(doc.dump()), text);
  EXPECT_EQ(plainTextToSlate(slateToPlainText(doc)), doc);
}

TEST(UmsatzioSlate, ReadsRealWorldDocumentsWithMarksAndInlines) {
  const std::string slate = R"([
    {"type":"paragraph","children":[{"text":"Termin mit "},{"text":"Herrn Weiß","bold":true},
      {"text":" bestätigt – "},{"type":"link","url":"https://x.de","children":[{"text":"Unterlagen"}]}]},
    {"type":"bulleted-list","children":[
      {"type":"list-item","children":[{"type":"paragraph","children":[{"text":"Maße prüfen"}]}]},
      {"type":"list-item","children":[{"text":"Straße & Hausnummer"}]}]},
    {"type":"numbered-list","children":[{"type":"list-item","children":[{"text":"Erst"}]},
      {"type":"list-item","children":[{"text":"Dann"}]}]}])";
  EXPECT_EQ(slateToPlainText(slate),
            "Termin mit Herrn Weiß bestätigt – Unterlagen\n\n- Maße prüfen\n- Straße & Hausnummer\n\n1. Erst\n2. Dann");
}

TEST(UmsatzioSlate, NonSlateTextPassesThroughAndEmptyTextIsOneParagraph) {
  EXPECT_EQ(slateToPlainText(std::string("Nur Text, kein JSON – Grüße")), "Nur Text, kein JSON – Grüße");
  EXPECT_EQ(slateToPlainText(std::string("{\"a\":1}")), "{\"a\":1}");
  EXPECT_EQ(plainTextToSlate(""), Json::parse(R"([{"type":"paragraph","children":[{"text":""}]}])"));
  // Windows line ends are read like Unix ones.
  EXPECT_EQ(slateToPlainText(plainTextToSlate("Zeile eins\r\nZeile zwei\r\n\r\n- Punkt")),
            "Zeile eins\nZeile zwei\n\n- Punkt");
}

Json sandboxLikeCards() {
  return Json::parse(R"([{"name":"Stammdaten","fields":[
      {"name":"global_contact_email","label":"E-Mail"},{"name":"global_contact_first_name","label":"Vorname"},
      {"name":"global_contact_last_name","label":"Nachname"},{"name":"contact_source","label":"Quelle"}]}])");
}

TEST(UmsatzioFieldMap, ValidMapHasNoIssues) {
  EXPECT_TRUE(validateFieldMap(Json{{"firstName", "global_contact_first_name"}, {"source", "contact_source"}},
                               sandboxLikeCards())
                  .empty());
}

TEST(UmsatzioFieldMap, EveryBadEntryIsReportedWithAHint) {
  const auto issues = validateFieldMap(
      Json{{"firstName", "global_contact_vorname"}, {"id", "contact_source"}, {"level", 3}, {"phone", nullptr}},
      sandboxLikeCards());
  ASSERT_EQ(issues.size(), 3u);
  std::map<std::string, FieldMapIssue> byName;
  for (const auto& i : issues) {
    byName[i.stableName] = i;
  }
  EXPECT_EQ(byName["firstName"].code, "unknown_field");
  EXPECT_EQ(byName["firstName"].apiName, "global_contact_vorname");
  EXPECT_NE(byName["firstName"].hint.find("global_contact_first_name"), std::string::npos);
  EXPECT_EQ(byName["id"].code, "reserved_name");
  EXPECT_EQ(byName["level"].code, "not_a_string");
  EXPECT_EQ(validateFieldMap(Json::array(), sandboxLikeCards()).front().code, "not_an_object");
}

TEST(UmsatzioFieldMap, NormalisesAndMapsBack) {
  sdk::Connection c;
  c.settings = {{"field_map", {{"source", "contact_source"}, {"phone", nullptr}}}};
  const FieldMap map = fieldMapOf(c);
  EXPECT_EQ(map.count("phone"), 0u);
  EXPECT_EQ(map.at("source"), "contact_source");
  const Json raw = {{"id", "ct_1"},
                    {"data", {{"global_contact_email", "a@b.de"}, {"global_contact_first_name", "Jörg"},
                              {"contact_source", "Messe"}, {"global_contact_phone", "+49 1"}}},
                    {"createdAt", "2026-11-26T10:00:00.000Z"}};
  const Json n = normalizeContact(raw, map);
  EXPECT_EQ(n["email"], "a@b.de");
  EXPECT_EQ(n["firstName"], "Jörg");
  EXPECT_EQ(n["source"], "Messe");
  EXPECT_FALSE(n.contains("phone"));
  EXPECT_EQ(n["data"]["global_contact_phone"], "+49 1");
  std::vector<std::string> unknown;
  const Json data = denormalizeContact(
      {{"firstName", "Jörg"}, {"fields", {{"source", "Webseite"}, {"hobby", "Segeln"}}}, {"data", {{"x", 1}}}}, map,
      unknown);
  EXPECT_EQ(data, (Json{{"global_contact_first_name", "Jörg"}, {"contact_source", "Webseite"}, {"x", 1}}));
  EXPECT_EQ(unknown, std::vector<std::string>{"hobby"});
}

TEST(UmsatzioClient, ClassifiesGraphqlErrorsAndStatuses) {
  auto body = [](const char* code) {
    return Json{{"data", nullptr}, {"errors", {{{"message", "m"}, {"extensions", {{"code", code}}}}}}};
  };
  EXPECT_EQ(classify(200, std::nullopt, body("UNAUTHENTICATED"))->kind, sdk::ErrorKind::Auth);
  EXPECT_EQ(classify(200, std::nullopt, body("FORBIDDEN"))->kind, sdk::ErrorKind::Scope);
  EXPECT_EQ(classify(200, std::nullopt, body("BAD_USER_INPUT"))->kind, sdk::ErrorKind::Invalid);
  EXPECT_EQ(classify(400, std::nullopt, body("GRAPHQL_VALIDATION_FAILED"))->kind, sdk::ErrorKind::Invalid);
  EXPECT_EQ(classify(200, std::nullopt, body("NOT_FOUND"))->kind, sdk::ErrorKind::NotFound);
  EXPECT_EQ(classify(200, std::nullopt, body("INTERNAL_SERVER_ERROR"))->kind, sdk::ErrorKind::Transient);
  EXPECT_EQ(classify(200, std::nullopt, body("SOMETHING_ELSE"))->kind, sdk::ErrorKind::Permanent);
  EXPECT_EQ(classify(502, std::nullopt, Json())->kind, sdk::ErrorKind::Transient);
  const auto limited = classify(429, std::string("7"), Json());
  EXPECT_EQ(limited->kind, sdk::ErrorKind::RateLimited);
  EXPECT_EQ(limited->retryAfter, std::chrono::milliseconds(7000));
  Json withExt = body("RATE_LIMITED");
  withExt["errors"][0]["extensions"]["retryAfter"] = 1.5;
  EXPECT_EQ(classify(200, std::nullopt, withExt)->retryAfter, std::chrono::milliseconds(1500));
  EXPECT_FALSE(classify(200, std::nullopt, Json{{"data", {{"x", 1}}}}).has_value());
  EXPECT_EQ(classify(200, std::nullopt, Json())->kind, sdk::ErrorKind::Transient);
}

TEST(UmsatzioClient, PaginationIsClampedAndHeadersFollowTheScheme) {
  EXPECT_EQ(pagination(Json{{"page", 2}, {"limit", 500}}), (Json{{"page", 2}, {"limit", 100}}));
  EXPECT_EQ(pagination(Json{{"limit", 0}}), (Json{{"page", 0}, {"limit", 1}}));
  EXPECT_EQ(authHeaders("basic_and_tenant", "k"), (sdk::Headers{{"Authorization", "Basic k"}, {"x-tenant-api-key", "k"}}));
  EXPECT_EQ(authHeaders("api_key_header", "k"), (sdk::Headers{{"api-key", "k"}}));
  EXPECT_EQ(authHeaders("bearer", "k"), (sdk::Headers{{"Authorization", "Bearer k"}}));
  EXPECT_THROW(authHeaders("cookie", "k"), sdk::OperationError);
  sdk::Connection c;
  c.baseUrl = "http://127.0.0.1:1/";
  EXPECT_EQ(endpointUrl(c), "http://127.0.0.1:1/api/graphql");
  c.baseUrl = "https://app.umsatz.io/api/graphql";
  EXPECT_EQ(endpointUrl(c), "https://app.umsatz.io/api/graphql");
}

TEST(UmsatzioTime, ParsesAndFormatsMillis) {
  EXPECT_EQ(parseIsoMillis("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(parseIsoMillis("2026-11-26T10:00:00+01:00"), parseIsoMillis("2026-11-26T09:00:00.000Z"));
  EXPECT_EQ(formatIsoMillis(*parseIsoMillis("2026-11-26T20:50:26.123Z")), "2026-11-26T20:50:26.123Z");
  EXPECT_FALSE(parseIsoMillis("gestern").has_value());
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "ab"));
  // RFC 4231 test case 2.
  EXPECT_EQ(hmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace ferry::plugins::umsatzio

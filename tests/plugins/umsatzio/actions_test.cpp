// Every Umsatz-io action against the real sandbox process, over HTTP on 127.0.0.1.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "fields.hpp"
#include "live.hpp"

namespace ferry::tests::umsatzio {
namespace {

using sdk::ErrorKind;

class UmsatzioActions : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sandbox_ = new SandboxProcess({"--api-key", "geheim-123"});
    connector_ = loadConnector();
  }
  static void TearDownTestSuite() {
    delete sandbox_;
    sandbox_ = nullptr;
    connector_.reset();
  }
  void SetUp() override {
    sandbox_->admin("POST", "reset");
    live_ = std::make_unique<Live>(*sandbox_);
  }
  Json run(const std::string& id, const Json& input = Json::object()) {
    return live_->run(*connector_, id, input);
  }
  Json newContact(const std::string& email) {
    return run("umsatzio.contact.create",
               {{"email", email}, {"firstName", "Jörg"}, {"lastName", "Strauß"}, {"company", "Bäckerei Groß GmbH"}});
  }

  static inline SandboxProcess* sandbox_ = nullptr;
  static inline std::shared_ptr<sdk::Connector> connector_;
  std::unique_ptr<Live> live_;
};

TEST_F(UmsatzioActions, ContactsCreateGetFindSearchUpdate) {
  live_->connection.settings = {{"field_map", {{"source", "contact_source"}, {"status", "contact_status"}}}};
  const Json created = run("umsatzio.contact.create", {{"email", "joerg.strauss@beispiel.de"},
                                                       {"firstName", "Jörg"},
                                                       {"lastName", "Strauß"},
                                                       {"phone", "+49 89 555"},
                                                       {"company", "Bäckerei Groß GmbH"},
                                                       {"fields", {{"source", "Messe"}}}});
  const std::string id = created["id"];
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(created["firstName"], "Jörg");
  EXPECT_EQ(created["source"], "Messe");
  EXPECT_EQ(created["data"]["global_contact_last_name"], "Strauß");
  EXPECT_TRUE(created.contains("createdAt"));

  const Json got = run("umsatzio.contact.get", {{"contactId", id}});
  EXPECT_EQ(got["email"], "joerg.strauss@beispiel.de");
  EXPECT_EQ(got["company"], "Bäckerei Groß GmbH");

  const Json found = run("umsatzio.contact.get_by_email", {{"email", "joerg.strauss@beispiel.de"}});
  EXPECT_EQ(found["found"], true);
  EXPECT_EQ(found["contact"]["id"], id);
  EXPECT_EQ(run("umsatzio.contact.get_by_email", {{"email", "niemand@beispiel.de"}})["found"], false);

  newContact("zweite@beispiel.de");
  const Json search = run("umsatzio.contact.search", {{"query", "strauss"}});
  ASSERT_EQ(search["items"].size(), 1u);
  EXPECT_EQ(search["items"][0]["id"], id);
  const Json paged = run("umsatzio.contact.search", {{"page", 1}, {"limit", 1}});
  EXPECT_EQ(paged["pagination"]["total"], 2);
  EXPECT_EQ(paged["items"].size(), 1u);

  const Json updated = run("umsatzio.contact.update",
                           {{"contactId", id}, {"phone", "+49 89 777"}, {"fields", {{"status", "Qualifiziert"}}}});
  EXPECT_EQ(updated["phone"], "+49 89 777");
  EXPECT_EQ(updated["status"], "Qualifiziert");
  EXPECT_EQ(updated["firstName"], "Jörg");
}

TEST_F(UmsatzioActions, UnknownFieldsAreRefusedUnlessFiltered) {
  auto e = expectOperationError([&] { run("umsatzio.contact.create", {{"email", "a@b.de"}, {"fields", {{"hobby", "x"}}}}); });
  EXPECT_EQ(e.kind, ErrorKind::Invalid);
  EXPECT_EQ(e.code, "umsatzio.unknown_field");
  // Unknown raw API names are refused by Umsatz-io itself (BAD_USER_INPUT) ...
  e = expectOperationError([&] { run("umsatzio.contact.create", {{"email", "a@b.de"}, {"data", {{"hobby", "x"}}}}); });
  EXPECT_EQ(e.kind, ErrorKind::Invalid);
  EXPECT_NE(std::string(e.what()).find("hobby"), std::string::npos);
  // ... or dropped with filterUnknownFields.
  const Json c = run("umsatzio.contact.create",
                     {{"email", "a@b.de"}, {"data", {{"hobby", "x"}}}, {"fields", {{"hobby2", "y"}}}, {"filterUnknownFields", true}});
  EXPECT_FALSE(c["data"].contains("hobby"));
  EXPECT_EQ(c["email"], "a@b.de");
  // A dropdown value that is not an option.
  e = expectOperationError([&] { run("umsatzio.contact.create", {{"email", "b@b.de"}, {"data", {{"contact_status", "Vielleicht"}}}}); });
  EXPECT_EQ(e.kind, ErrorKind::Invalid);
}

TEST_F(UmsatzioActions, DealsAndPipelines) {
  const std::string contactId = newContact("deal@beispiel.de")["id"];
  const Json pipelines = run("umsatzio.pipeline.list");
  ASSERT_GE(pipelines["items"].size(), 1u);
  const std::string pipelineId = pipelines["items"][0]["id"];
  const Json pipeline = run("umsatzio.pipeline.get", {{"pipelineId", pipelineId}});
  ASSERT_GE(pipeline["stages"].size(), 3u);
  const std::string first = pipeline["stages"][0]["id"];
  const std::string second = pipeline["stages"][1]["id"];

  const Json deal = run("umsatzio.deal.create", {{"name", "Jahresvertrag Groß"},
                                                 {"contactId", contactId},
                                                 {"pipelineId", pipelineId},
                                                 {"stageId", first},
                                                 {"data", {{"deal_value", 4800}}}});
  const std::string dealId = deal["id"];
  EXPECT_EQ(deal["stageName"], pipeline["stages"][0]["name"]);
  EXPECT_EQ(run("umsatzio.deal.get", {{"dealId", dealId}})["data"]["deal_value"], 4800);
  EXPECT_EQ(run("umsatzio.deal.list_by_stage", {{"stageId", first}})["items"].size(), 1u);
  EXPECT_EQ(run("umsatzio.deal.update", {{"dealId", dealId}, {"name", "Zweijahresvertrag"}})["name"], "Zweijahresvertrag");
  const Json moved = run("umsatzio.deal.change_stage", {{"dealId", dealId}, {"pipelineId", pipelineId}, {"stageId", second}});
  EXPECT_EQ(moved["stageId"], second);
  EXPECT_TRUE(run("umsatzio.deal.list_by_stage", {{"stageId", first}})["items"].empty());
  EXPECT_EQ(run("umsatzio.pipeline.get", {{"pipelineId", pipelineId}})["dealsTotal"], 1);
  EXPECT_EQ(expectOperationError([&] { run("umsatzio.deal.get", {{"dealId", "dl_nope"}}); }).kind, ErrorKind::NotFound);
  EXPECT_EQ(expectOperationError([&] {
              run("umsatzio.deal.change_stage", {{"dealId", dealId}, {"pipelineId", pipelineId}, {"stageId", "st_nope"}});
            }).kind,
            ErrorKind::Invalid);
}

TEST_F(UmsatzioActions, NotesRoundTripGermanRichText) {
  const std::string contactId = newContact("notiz@beispiel.de")["id"];
  const std::string text = "Rückruf am Freitag.\nDurchwahl über Zentrale.\n\n- Preisliste schicken\n- Größe klären\n\n1. Angebot\n2. Vertrag";
  const Json note = run("umsatzio.note.create", {{"contactId", contactId}, {"content", text}});
  EXPECT_EQ(note["content"], text);
  EXPECT_EQ(note["contactId"], contactId);
  const Json slate = Json::parse(note["description"].get<std::string>());
  EXPECT_EQ(slate[1]["type"], "bulleted-list");
  run("umsatzio.note.create", {{"contactId", contactId},
                               {"description", R"([{"type":"paragraph","children":[{"text":"Grüße an Frau Weiß"}]}])"}});
  const Json list = run("umsatzio.note.list", {{"contactId", contactId}});
  ASSERT_EQ(list["items"].size(), 2u);
  EXPECT_EQ(list["items"][0]["content"], "Grüße an Frau Weiß");  // newest first
  EXPECT_EQ(list["items"][1]["content"], text);
  const Json pinned = run("umsatzio.note.pin", {{"noteId", note["id"]}});
  EXPECT_EQ(pinned["isPinned"], true);
  EXPECT_EQ(run("umsatzio.note.pin", {{"noteId", note["id"]}, {"isPinned", false}})["isPinned"], false);
  EXPECT_EQ(expectOperationError([&] { run("umsatzio.note.create", {{"contactId", contactId}}); }).kind, ErrorKind::Invalid);
  EXPECT_EQ(expectOperationError([&] { run("umsatzio.note.create", {{"contactId", "ct_nope"}, {"content", "x"}}); }).kind,
            ErrorKind::NotFound);
}

TEST_F(UmsatzioActions, ActivitiesAndCallTypes) {
  const std::string contactId = newContact("anruf@beispiel.de")["id"];
  const Json types = run("umsatzio.call_activity_type.list");
  ASSERT_EQ(types["items"].size(), 3u);
  std::set<std::string> categories;
  for (const auto& t : types["items"]) {
    categories.insert(t["category"].get<std::string>());
  }
  EXPECT_EQ(categories, (std::set<std::string>{"openingCall", "settingCall", "closingCall"}));

  sandbox_->admin("POST", "call", {{"contactId", contactId}, {"phoneCallActivityTypeId", "ct_setting"},
                                   {"phoneCallResult", "follow_up"}, {"followUpAt", "2026-12-01T09:00:00.000Z"},
                                   {"description", "Rückruf gewünscht"}});
  const Json calls = run("umsatzio.call_activity.list", {{"contactId", contactId}});
  ASSERT_EQ(calls["items"].size(), 1u);
  EXPECT_EQ(calls["items"][0]["kind"], "phone_call");
  EXPECT_EQ(calls["items"][0]["phoneCallResult"], "follow_up");
  EXPECT_EQ(calls["items"][0]["followUpAt"], "2026-12-01T09:00:00.000Z");

  const Json email = run("umsatzio.email_activity.create", {{"contactId", contactId},
                                                            {"description", "Angebot verschickt"},
                                                            {"activityTime", "2026-11-26T11:00:00.000Z"}});
  EXPECT_EQ(email["kind"], "email");
  EXPECT_EQ(email["emailAddress"], "anruf@beispiel.de");
  const Json emails = run("umsatzio.email_activity.list", {{"contactId", contactId}});
  ASSERT_EQ(emails["items"].size(), 1u);
  EXPECT_EQ(emails["items"][0]["description"], "Angebot verschickt");
}

TEST_F(UmsatzioActions, DirectoryCardsAccountsForms) {
  const Json fields = run("umsatzio.card.list_contact");
  std::map<std::string, std::string> labels;
  for (const auto& f : fields["fields"]) {
    labels[f["name"]] = f["label"];
  }
  EXPECT_EQ(labels["global_contact_first_name"], "Vorname");
  EXPECT_EQ(labels["contact_status"], "Status");
  // The field map checked against the live cards: the default map is valid, a typo is not.
  EXPECT_TRUE(plugins::umsatzio::validateFieldMap(
                  Json{{"firstName", "global_contact_first_name"}, {"source", "contact_source"}}, fields["fields"])
                  .empty());
  const auto issues = plugins::umsatzio::validateFieldMap(Json{{"firstName", "vorname"}}, fields["fields"]);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].code, "unknown_field");
  EXPECT_FALSE(run("umsatzio.card.list_deal")["fields"].empty());
  const Json accounts = run("umsatzio.account.list");
  EXPECT_EQ(accounts["totalCount"], 3);
  EXPECT_EQ(accounts["items"][1]["profile"]["lastName"], "Weiß");
  const Json forms = run("umsatzio.form.list");
  EXPECT_EQ(forms["items"][0]["name"], "Kontaktformular Webseite");
}

TEST_F(UmsatzioActions, WebhookCrud) {
  const Json created = run("umsatzio.webhook.create",
                           {{"url", "http://127.0.0.1:9/hook"}, {"triggers", {"newContact", "newDeal"}}});
  const std::string id = created["id"];
  EXPECT_EQ(run("umsatzio.webhook.list")["items"].size(), 1u);
  const Json updated = run("umsatzio.webhook.update", {{"webhookId", id},
                                                       {"url", "http://127.0.0.1:9/hook2"},
                                                       {"triggers", {"changeContactProperty"}},
                                                       {"properties", {"global_contact_phone"}}});
  EXPECT_EQ(updated["url"], "http://127.0.0.1:9/hook2");
  EXPECT_EQ(updated["properties"][0], "global_contact_phone");
  EXPECT_EQ(run("umsatzio.webhook.delete", {{"webhookId", id}})["deleted"], true);
  EXPECT_TRUE(run("umsatzio.webhook.list")["items"].empty());
  EXPECT_EQ(expectOperationError([&] { run("umsatzio.webhook.delete", {{"webhookId", id}}); }).kind, ErrorKind::NotFound);
}

TEST_F(UmsatzioActions, AuthFailuresAndMissingKey) {
  live_->secrets.put("api_key", "falsch");
  auto e = expectOperationError([&] { run("umsatzio.form.list"); });
  EXPECT_EQ(e.kind, ErrorKind::Auth);
  EXPECT_EQ(std::string(e.what()).find("falsch"), std::string::npos) << "never echo the key";
  live_->secrets.put("api_key", sandbox_->apiKey());
  live_->connection.settings = {{"auth_header_scheme", "bearer"}};
  EXPECT_EQ(expectOperationError([&] { run("umsatzio.form.list"); }).kind, ErrorKind::Auth);
  live_->connection.settings = {{"auth_header_scheme", "cookie"}};
  EXPECT_EQ(expectOperationError([&] { run("umsatzio.form.list"); }).kind, ErrorKind::Invalid);
  Live empty(*sandbox_);
  empty.secrets.put("api_key", "");
  auto ctx = empty.context();
  EXPECT_EQ(expectOperationError([&] { connector_->action("umsatzio.form.list")->invoke(Json::object(), ctx); }).code,
            "umsatzio.no_api_key");
}

TEST_F(UmsatzioActions, RetryableFailuresAreClassified) {
  sandbox_->admin("POST", "faults",
                  {{"next",
                    {{{"status", 429}, {"retryAfter", 2}},
                     {{"status", 503}},
                     {{"status", 200}, {"code", "INTERNAL_SERVER_ERROR"}},
                     {{"status", 200}, {"code", "RATE_LIMITED"}},
                     {{"status", 200}, {"code", "FORBIDDEN"}}}}});
  auto e = expectOperationError([&] { run("umsatzio.form.list"); });
  EXPECT_EQ(e.kind, ErrorKind::RateLimited);
  EXPECT_EQ(e.retryAfter, std::chrono::milliseconds(2000));
  EXPECT_EQ(e.httpStatus, 429);
  EXPECT_EQ(expectOperationError([&] { run("umsatzio.form.list"); }).kind, ErrorKind::Transient);
  EXPECT_EQ(expectOperationError([&] { run("umsatzio.form.list"); }).kind, ErrorKind::Transient);
  EXPECT_EQ(expectOperationError([&] { run("umsatzio.form.list"); }).kind, ErrorKind::RateLimited);
  e = expectOperationError([&] { run("umsatzio.form.list"); });
  EXPECT_EQ(e.kind, ErrorKind::Scope);
  EXPECT_FALSE(sdk::isRetryable(e.kind));
  // The queue is used up: the next call succeeds.
  EXPECT_EQ(run("umsatzio.form.list")["items"].size(), 2u);
  // The kit's random faults (as --faults), here at rate 1: a plain HTTP 429 / 503 answer.
  sandbox_->admin("POST", "faults", {{"spec", "429=1"}});
  e = expectOperationError([&] { run("umsatzio.form.list"); });
  EXPECT_EQ(e.kind, ErrorKind::RateLimited);
  EXPECT_EQ(e.retryAfter, std::chrono::milliseconds(1000));
  sandbox_->admin("POST", "faults", {{"spec", "5xx=1"}});
  EXPECT_EQ(expectOperationError([&] { run("umsatzio.form.list"); }).kind, ErrorKind::Transient);
  sandbox_->admin("POST", "faults", {{"clear", true}});
  EXPECT_EQ(run("umsatzio.form.list")["items"].size(), 2u);
}

TEST(UmsatzioSandbox, ApiKeyHeaderSchemeAndGeneratedData) {
  SandboxProcess sandbox({"--auth-scheme", "api_key_header", "--generate", "4", "--seed", "7"});
  auto connector = loadConnector();
  Live live(sandbox);
  EXPECT_EQ(expectOperationError([&] { live.run(*connector, "umsatzio.contact.search", Json::object()); }).kind,
            ErrorKind::Auth);
  live.connection.settings = {{"auth_header_scheme", "api_key_header"}};
  const Json contacts = live.run(*connector, "umsatzio.contact.search", Json::object());
  ASSERT_EQ(contacts["items"].size(), 4u);
  for (const auto& c : contacts["items"]) {
    EXPECT_TRUE(c.contains("firstName"));
    EXPECT_TRUE(c.contains("company"));
  }
  // Same seed, same data.
  const Json state = sandbox.admin("GET", "state");
  sandbox.admin("POST", "reset");
  const Json again = sandbox.admin("GET", "state");
  ASSERT_EQ(state["contacts"].size(), again["contacts"].size());
  for (std::size_t i = 0; i < state["contacts"].size(); ++i) {
    Json before = state["contacts"][i]["data"];
    Json after = again["contacts"][i]["data"];
    before.erase("global_contact_last_reached");  // a timestamp, not seeded content
    after.erase("global_contact_last_reached");
    EXPECT_EQ(before, after);
  }
  EXPECT_EQ(again["calls"].size(), 4u);
  EXPECT_EQ(again["notes"].size(), 4u);
  const Json more = sandbox.admin("POST", "generate", {{"contacts", 2}, {"calls", 3}, {"notes", 1}, {"seed", 1}});
  EXPECT_EQ(more["contacts"].size(), 2u);
  EXPECT_EQ(more["calls"].size(), 3u);
}

// `ferry connection fields` runs the card action through the real CLI binary.
TEST(UmsatzioCli, ConnectionFieldsListsTheAccountsFields) {
  SandboxProcess sandbox;
  auto capture = [](const std::string& command, int& status) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    char buf[4096];
    for (std::size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) {
      out.append(buf, n);
    }
    status = pclose(pipe);
    return out;
  };
  const std::string ferry = std::string(FERRY_BINARY_DIR) + "/bin/ferry";
  setenv("UMZ_TEST_KEY", sandbox.apiKey().c_str(), 1);
  int status = 0;
  const std::string out = capture(ferry + " connection fields umsatzio --base-url " + sandbox.baseUrl() +
                                      " --api-key-env UMZ_TEST_KEY --json",
                                  status);
  ASSERT_EQ(status, 0) << out;
  const Json fields = Json::parse(out)["fields"];
  std::set<std::string> labels;
  for (const auto& f : fields) {
    labels.insert(f["label"].get<std::string>());
  }
  EXPECT_EQ(labels.count("Vorname"), 1u);
  EXPECT_EQ(labels.count("Quelle"), 1u);
  const std::string table = capture(ferry + " connection fields --kind deal --base-url " + sandbox.baseUrl() +
                                        " --api-key-env UMZ_TEST_KEY",
                                    status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(table.find("deal_value"), std::string::npos);
  setenv("UMZ_TEST_KEY", "falsch", 1);
  capture(ferry + " connection fields --base-url " + sandbox.baseUrl() + " --api-key-env UMZ_TEST_KEY 2>/dev/null",
          status);
  EXPECT_EQ(WEXITSTATUS(status), 1);
  capture(ferry + " connection fields --base-url " + sandbox.baseUrl() + " --api-key-env UMZ_NOT_SET_ANYWHERE 2>/dev/null",
          status);
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
}  // namespace ferry::tests::umsatzio

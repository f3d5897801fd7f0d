// The real GHL plugin (ghl.so, loaded with the core loader) against the real GHL sandbox
// executable (a child process on 127.0.0.1): every declared action is invoked with its first
// example, the spec's placeholder ids replaced by ids the connector itself created in the
// sandbox; every output is validated against the operation's declared output schema; the
// writes are checked in the sandbox's admin state. Then the error paths through the connector:
// bad token, missing scope, 422, 429 then success, 5xx then success, the X-RateLimit-* reports,
// and OAuth (code exchange, refresh, location token).

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/local_context.hpp"
#include "ferry/sdk/sdk.hpp"
#include "http/client.hpp"
#include "loader/loader.hpp"
#include "support/process.hpp"

namespace ferry::tests::ghl_e2e {
namespace {

using sdk::Json;

const std::string kSandboxExe = std::string(FERRY_BINARY_DIR) + "/libexec/ferry/ferry-sandbox-ghl";

std::shared_ptr<sdk::Connector> loadGhl() {
  static std::shared_ptr<sdk::Connector> connector = [] {
    auto outcome = core::loader::loadLibrary(std::filesystem::path(FERRY_BINARY_DIR) / "lib" /
                                             "ferry" / "plugins" / "ghl.so");
    if (outcome.error) {
      throw std::runtime_error(outcome.error->message());
    }
    return outcome.plugin->connector;
  }();
  return connector;
}

// One connection to the sandbox: the core HTTP client, in-memory state and secrets, and the
// rate-limit reports the plugin made.
struct Connection {
  core::http::Client http;
  core::engine::MemoryState state;
  core::engine::SystemClock clock;
  std::unique_ptr<core::engine::MemorySecrets> secrets;
  std::mutex reportsMutex;
  std::vector<sdk::RateLimitReport> reports;
  std::unique_ptr<core::engine::LocalContext> ctx;

  Connection(const std::string& baseUrl, const std::string& auth,
             std::map<std::string, std::string, std::less<>> secretValues, Json settings) {
    secrets = std::make_unique<core::engine::MemorySecrets>(std::move(secretValues));
    core::engine::LocalContext::Parts parts;
    parts.connection.name = "ghl_e2e";
    parts.connection.plugin = "ghl";
    parts.connection.auth = auth;
    parts.connection.baseUrl = baseUrl;
    parts.connection.settings = std::move(settings);
    parts.http = &http;
    parts.state = &state;
    parts.secrets = secrets.get();
    parts.clock = &clock;
    parts.onRateLimit = [this](const sdk::RateLimitReport& r) {
      std::lock_guard lock(reportsMutex);
      reports.push_back(r);
    };
    ctx = std::make_unique<core::engine::LocalContext>(std::move(parts));
  }

  std::vector<sdk::RateLimitReport> takeReports() {
    std::lock_guard lock(reportsMutex);
    return std::exchange(reports, {});
  }
};

std::string issuesText(const std::vector<sdk::ValidationIssue>& issues) {
  std::string out;
  for (const auto& i : issues) {
    out += "\n  " + i.message;
  }
  return out;
}

// One running sandbox for the suite; every test starts from a reset sandbox.
class GhlActionsSandbox : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    process_ = new ferry::testing::ChildProcess({kSandboxExe, "--port", "0"});
    info_ = Json::parse(process_->readLine());
  }
  static void TearDownTestSuite() {
    delete process_;
    process_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(admin("POST", "/reset").status, 200);
    ASSERT_EQ(admin("POST", "/faults", Json{{"spec", ""}}).status, 200);
    ASSERT_EQ(admin("POST", "/rate-limit",
                    Json{{"enabled", true}, {"max", 100}, {"intervalMs", 10000}, {"reset", true}})
                  .status,
              200);
  }

  static std::string base() { return info_["base_url"]; }
  static std::string location() { return info_["location_id"]; }
  static std::string token(const std::string& which) { return info_["tokens"][which]["token"]; }

  std::unique_ptr<Connection> privateToken(const std::string& bearer) {
    return std::make_unique<Connection>(base(), "private_token",
                                        std::map<std::string, std::string, std::less<>>{
                                            {"token", bearer}},
                                        Json{{"location_id", location()}});
  }

  struct Reply {
    int status = 0;
    Json body;
  };

  Reply admin(const std::string& method, const std::string& path,
              const std::optional<Json>& body = std::nullopt) {
    sdk::HttpRequest req;
    req.method = method;
    req.url = info_["admin_url"].get<std::string>() + path;
    if (body) {
      req.headers.emplace_back("Content-Type", "application/json");
      req.body = body->dump();
    }
    const auto res = adminHttp_.send(req);
    Reply r;
    r.status = res.status;
    r.body = Json::parse(res.body, nullptr, false);
    return r;
  }

  // The admin state of the sandbox's location.
  Json locationState() {
    const auto reply = admin("GET", "/state");
    EXPECT_EQ(reply.status, 200);
    return reply.body["locations"][location()];
  }

  // A copy of the row with this id (the state is a temporary), nullopt when there is none.
  static std::optional<Json> findById(const Json& rows, const std::string& id) {
    for (const auto& row : rows) {
      if (row.is_object() && row.value("id", "") == id) {
        return row;
      }
    }
    return std::nullopt;
  }

  static const sdk::OperationSpec& operation(const std::string& id) {
    const auto* op = loadGhl()->spec().find(id);
    if (op == nullptr) {
      throw std::runtime_error("the plugin declares no operation " + id);
    }
    return *op;
  }

  // Invokes `id` through the plugin's Action with `input` as is.
  static Json invoke(const std::string& id, const Json& input, Connection& c) {
    auto* action = loadGhl()->action(id);
    if (action == nullptr) {
      throw std::runtime_error("the plugin has no action " + id);
    }
    return action->invoke(input, *c.ctx);
  }

  // Invokes `id` with its first example, `overrides` merged over it; checks the output against
  // the declared output schema and records the action as covered.
  Json run(const std::string& id, const Json& overrides, Connection& c) {
    SCOPED_TRACE(id);
    const auto& op = operation(id);
    EXPECT_FALSE(op.examples.empty()) << id << " has no example";
    Json input = op.examples.empty() ? Json::object() : op.examples.front().input;
    for (auto it = overrides.begin(); it != overrides.end(); ++it) {
      if (it->is_null()) {
        input.erase(it.key());
      } else {
        input[it.key()] = *it;
      }
    }
    Json output;
    try {
      output = invoke(id, input, c);
    } catch (const sdk::OperationError& e) {
      ADD_FAILURE() << id << " failed with " << e.code << ": " << e.what()
                    << " details=" << e.details.dump() << " input=" << input.dump();
      return Json::object();
    }
    // GHL adds `traceId` to every JSON answer (shared/research/ghl-api.md) and `meta` (paging)
    // to the deprecated GET /contacts/; the official response DTOs omit both and OpenAPI objects
    // are open, while the declared outputs (copied from the DTOs, checked by ghl_contract_test)
    // are closed at the top level. Only these two undeclared members are tolerated.
    Json checked = output;
    if (checked.is_object()) {
      for (const char* extra : {"traceId", "meta"}) {
        if (sdk::findField(op.output, extra) == nullptr) {
          checked.erase(extra);
        }
      }
    }
    auto issues = sdk::validate(op.output, checked);
    // Known spec defect, reported and left open: LocationTaskListSuccessfulResponseDto declares
    // `tasks` as an array of arrays; the connector copies that, the sandbox (like GHL) answers
    // task objects. Only that one issue is tolerated, and only for this operation.
    if (id == "ghl.location_task.search") {
      std::erase_if(issues, [](const sdk::ValidationIssue& i) {
        return i.code == "type" && i.path.rfind("tasks[", 0) == 0;
      });
    }
    EXPECT_TRUE(issues.empty()) << id << " output does not match its declared schema:"
                                << issuesText(issues) << "\noutput: " << output.dump();
    covered_.insert(id);
    return output;
  }

  // The error `id` throws for `input`, or a failure when it does not throw one.
  static std::optional<sdk::OperationError> errorOf(const std::string& id, const Json& input,
                                                    Connection& c) {
    try {
      const auto out = invoke(id, input, c);
      ADD_FAILURE() << id << " succeeded where an error was expected: " << out.dump();
    } catch (const sdk::OperationError& e) {
      return e;
    }
    return std::nullopt;
  }

  static ferry::testing::ChildProcess* process_;
  static Json info_;
  core::http::Client adminHttp_;
  std::set<std::string> covered_;
};

ferry::testing::ChildProcess* GhlActionsSandbox::process_ = nullptr;
Json GhlActionsSandbox::info_;

TEST_F(GhlActionsSandbox, EveryActionRunsAgainstTheSandbox) {
  auto conn = privateToken(token("full"));
  auto& c = *conn;

  // Contacts first: every other resource hangs off one.
  const Json created =
      run("ghl.contact.create", {{"email", "rosan.deo@example.com"}, {"phone", "+4915112345678"}}, c);
  ASSERT_TRUE(created.contains("contact")) << created.dump();
  const std::string contactId = created["contact"]["id"];
  {
    const auto row = findById(locationState()["contacts"], contactId);
    ASSERT_TRUE(row.has_value()) << "the created contact is not in the sandbox";
    EXPECT_EQ(row->value("firstName", ""), "Rosan");
    EXPECT_EQ(row->value("email", ""), "rosan.deo@example.com");
  }
  EXPECT_EQ(run("ghl.contact.get", {{"contactId", contactId}}, c)["contact"]["id"], contactId);
  run("ghl.contact.update", {{"contactId", contactId}, {"lastName", "Deo-Updated"}}, c);
  EXPECT_EQ(findById(locationState()["contacts"], contactId)->value("lastName", ""),
            "Deo-Updated");

  // Upsert by the same email updates that contact; a new email creates a second one.
  const Json upserted = run("ghl.contact.upsert", {{"email", "rosan.deo@example.com"}}, c);
  EXPECT_EQ(upserted.value("new", true), false) << upserted.dump();
  EXPECT_EQ(upserted["contact"].value("id", ""), contactId);
  const Json upsertedNew = run("ghl.contact.upsert", {{"email", "second@example.com"}}, c);
  EXPECT_EQ(upsertedNew.value("new", false), true) << upsertedNew.dump();
  const std::string secondId = upsertedNew["contact"].value("id", "");

  const Json found = run("ghl.contact.search", Json::object(), c);
  EXPECT_EQ(found.value("total", 0), 2) << found.dump();
  const Json duplicate = run("ghl.contact.find_duplicate", {{"email", "rosan.deo@example.com"}}, c);
  EXPECT_EQ(duplicate["contact"].value("id", ""), contactId) << duplicate.dump();
  const Json listed = run("ghl.contact.list", Json::object(), c);
  EXPECT_EQ(listed["contacts"].size(), 2u) << listed.dump();

  // Businesses, and contacts linked to one.
  const Json business = run("ghl.business.create", Json::object(), c);
  const std::string businessId = business["buiseness"].value("id", "");  // GHL's spelling
  ASSERT_FALSE(businessId.empty()) << business.dump();
  EXPECT_TRUE(findById(locationState()["businesses"], businessId).has_value());
  run("ghl.business.get", {{"businessId", businessId}}, c);
  EXPECT_EQ(run("ghl.business.list", Json::object(), c)["businesses"].size(), 1u);
  run("ghl.business.update", {{"businessId", businessId}, {"name", "Microsoft Deutschland"}}, c);
  run("ghl.contact.bulk_business", {{"ids", {contactId}}, {"businessId", businessId}}, c);
  const Json byBusiness = run("ghl.contact.list_by_business", {{"businessId", businessId}}, c);
  EXPECT_EQ(byBusiness["contacts"].size(), 1u) << byBusiness.dump();

  // Tasks.
  const Json task = run("ghl.task.create", {{"contactId", contactId}, {"completed", false}}, c);
  const std::string taskId = task["task"].value("id", "");
  ASSERT_FALSE(taskId.empty()) << task.dump();
  {
    const auto row = findById(locationState()["tasks"], taskId);
    ASSERT_TRUE(row.has_value()) << "the created task is not in the sandbox";
    EXPECT_EQ(row->value("title", ""), "First Task");
  }
  EXPECT_EQ(run("ghl.task.list", {{"contactId", contactId}}, c)["tasks"].size(), 1u);
  run("ghl.task.get", {{"contactId", contactId}, {"taskId", taskId}}, c);
  run("ghl.task.update", {{"contactId", contactId}, {"taskId", taskId}, {"title", "Call back"}},
      c);
  run("ghl.task.complete", {{"contactId", contactId}, {"taskId", taskId}}, c);
  {
    const auto row = findById(locationState()["tasks"], taskId);
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(row->value("title", ""), "Call back");
    EXPECT_EQ(row->value("completed", false), true);
  }
  const Json taskSearch =
      run("ghl.location_task.search", {{"query", "Call back"}, {"completed", true}}, c);
  EXPECT_EQ(taskSearch.dump().find(taskId) != std::string::npos, true) << taskSearch.dump();

  // Notes.
  const Json note = run("ghl.note.create", {{"contactId", contactId}}, c);
  const std::string noteId = note["note"].value("id", "");
  ASSERT_FALSE(noteId.empty()) << note.dump();
  {
    const auto row = findById(locationState()["notes"], noteId);
    ASSERT_TRUE(row.has_value()) << "the created note is not in the sandbox";
    EXPECT_EQ(row->value("body", ""), "lorem ipsum");
  }
  EXPECT_EQ(run("ghl.note.list", {{"contactId", contactId}}, c)["notes"].size(), 1u);
  run("ghl.note.get", {{"contactId", contactId}, {"id", noteId}}, c);
  run("ghl.note.update", {{"contactId", contactId}, {"id", noteId}, {"body", "called, no answer"}},
      c);
  EXPECT_EQ(findById(locationState()["notes"], noteId)->value("body", ""), "called, no answer");

  // Contact tags, single and bulk.
  run("ghl.tag.add", {{"contactId", contactId}}, c);
  {
    const auto tags = findById(locationState()["contacts"], contactId)->value("tags", Json());
    EXPECT_EQ(tags, Json({"minim", "velit magna"})) << tags.dump();
  }
  run("ghl.tag.remove", {{"contactId", contactId}, {"tags", {"minim"}}}, c);
  EXPECT_EQ(findById(locationState()["contacts"], contactId)->value("tags", Json()),
            Json({"velit magna"}));
  run("ghl.contact.bulk_tags", {{"contacts", {contactId, secondId}}}, c);
  EXPECT_EQ(findById(locationState()["contacts"], secondId)->value("tags", Json()),
            Json({"tag-1", "tag-2"}));

  // Followers, campaigns, workflows, appointments.
  run("ghl.follower.add", {{"contactId", contactId}}, c);
  run("ghl.follower.remove", {{"contactId", contactId}}, c);
  run("ghl.campaign.add_contact", {{"contactId", contactId}}, c);
  EXPECT_EQ(locationState()["campaigns"][contactId], Json({"Y2I9XM7aO1hncuSOlc9L"}));
  run("ghl.campaign.remove_contact", {{"contactId", contactId}}, c);
  run("ghl.campaign.add_contact", {{"contactId", contactId}, {"campaignId", "campaign0000000002"}},
      c);
  run("ghl.campaign.remove_contact_all", {{"contactId", contactId}}, c);
  EXPECT_FALSE(locationState()["campaigns"].contains(contactId));
  run("ghl.workflow.add_contact", {{"contactId", contactId}}, c);
  EXPECT_EQ(locationState()["workflows"][contactId], Json({"sx6wyHhbFdRXh302LLNR"}));
  run("ghl.workflow.remove_contact", {{"contactId", contactId}}, c);
  ASSERT_EQ(admin("POST", "/appointments",
                  Json{{"contactId", contactId},
                       {"title", "Intro call"},
                       {"startTime", "2026-12-01T10:00:00Z"},
                       {"endTime", "2026-12-01T10:30:00Z"}})
                .status,
            201);
  EXPECT_EQ(run("ghl.appointment.list_for_contact", {{"contactId", contactId}}, c)["events"].size(),
            1u);

  // Location tags, custom fields, custom values.
  const Json tag = run("ghl.location_tag.create", {{"name", "Ferry E2E"}}, c);
  const std::string tagId = tag["tag"].value("id", "");
  ASSERT_FALSE(tagId.empty()) << tag.dump();
  EXPECT_TRUE(findById(locationState()["tags"], tagId).has_value());
  EXPECT_GE(run("ghl.location_tag.list", Json::object(), c)["tags"].size(), 1u);
  run("ghl.location_tag.get", {{"tagId", tagId}}, c);
  run("ghl.location_tag.update", {{"tagId", tagId}, {"name", "Ferry E2E renamed"}}, c);
  EXPECT_EQ(findById(locationState()["tags"], tagId)->value("name", ""), "ferry e2e renamed");

  const Json field = run("ghl.custom_field.create", Json::object(), c);
  const std::string fieldId = field["customField"].value("id", "");
  ASSERT_FALSE(fieldId.empty()) << field.dump();
  EXPECT_GE(run("ghl.custom_field.list", Json::object(), c)["customFields"].size(), 1u);
  run("ghl.custom_field.get", {{"id", fieldId}}, c);
  run("ghl.custom_field.update", {{"id", fieldId}, {"name", "Renamed Field"}}, c);

  const Json value = run("ghl.custom_value.create", Json::object(), c);
  const std::string valueId = value["customValue"].value("id", "");
  ASSERT_FALSE(valueId.empty()) << value.dump();
  EXPECT_GE(run("ghl.custom_value.list", Json::object(), c)["customValues"].size(), 1u);
  run("ghl.custom_value.get", {{"id", valueId}}, c);
  run("ghl.custom_value.update", {{"id", valueId}, {"value", "Other value"}}, c);

  // Deletes last.
  run("ghl.note.delete", {{"contactId", contactId}, {"id", noteId}}, c);
  EXPECT_FALSE(findById(locationState()["notes"], noteId).has_value());
  run("ghl.task.delete", {{"contactId", contactId}, {"taskId", taskId}}, c);
  EXPECT_FALSE(findById(locationState()["tasks"], taskId).has_value());
  run("ghl.location_tag.delete", {{"tagId", tagId}}, c);
  EXPECT_FALSE(findById(locationState()["tags"], tagId).has_value());
  run("ghl.custom_field.delete", {{"id", fieldId}}, c);
  EXPECT_FALSE(findById(locationState()["customFields"], fieldId).has_value());
  run("ghl.custom_value.delete", {{"id", valueId}}, c);
  EXPECT_FALSE(findById(locationState()["customValues"], valueId).has_value());
  run("ghl.business.delete", {{"businessId", businessId}}, c);
  EXPECT_FALSE(findById(locationState()["businesses"], businessId).has_value());
  run("ghl.contact.delete", {{"contactId", contactId}}, c);
  EXPECT_FALSE(findById(locationState()["contacts"], contactId).has_value());

  // The OAuth actions: a code exchange on an oauth2 connection, and a location token from an
  // agency (Company) installation on an agency_oauth connection.
  const auto& oauth = info_["oauth"];
  const std::string clientId = oauth["client_id"];
  const std::string clientSecret = oauth["client_secret"];
  {
    const auto code = admin("POST", "/oauth/code", Json::object());
    ASSERT_EQ(code.status, 201) << code.body.dump();
    Connection o(base(), "oauth2",
                 {{"client_id", clientId}, {"client_secret", clientSecret},
                  {"refresh_token", "none-yet"}},
                 Json{{"location_id", location()}});
    const Json exchanged = run("ghl.oauth.exchange_code", {{"code", code.body["code"]}}, o);
    EXPECT_EQ(exchanged.value("locationId", ""), location());
    EXPECT_NE(o.secrets->get("refresh_token").value_or("none-yet"), "none-yet");
    EXPECT_TRUE(o.secrets->get("access_token").has_value());
    EXPECT_EQ(exchanged.dump().find(o.secrets->get("access_token").value_or("?")),
              std::string::npos)
        << "the access token leaked into the output";
  }
  {
    const auto code = admin("POST", "/oauth/code", Json::object());
    ASSERT_EQ(code.status, 201);
    Connection agency(base(), "agency_oauth",
                      {{"client_id", clientId}, {"client_secret", clientSecret},
                       {"refresh_token", "none-yet"}},
                      Json{{"location_id", location()}, {"company_id", info_["company_id"]}});
    // The agency's tokens come from a Company code exchange on the same connection.
    invoke("ghl.oauth.exchange_code", {{"code", code.body["code"]}, {"userType", "Company"}},
           agency);
    const Json locationToken = run("ghl.oauth.location_token", Json::object(), agency);
    EXPECT_EQ(locationToken.value("locationId", ""), location());
    EXPECT_TRUE(agency.secrets->get("location_access_token").has_value());
    // The location token works for an operation.
    EXPECT_EQ(invoke("ghl.contact.get", {{"contactId", secondId}}, agency)["contact"]["id"],
              secondId);
  }

  // Every declared action ran.
  int actions = 0;
  for (const auto& op : loadGhl()->spec().operations) {
    if (op.kind != sdk::OperationKind::Action) {
      continue;
    }
    ++actions;
    EXPECT_TRUE(covered_.count(op.id)) << op.id << " was not run against the sandbox";
  }
  EXPECT_EQ(static_cast<int>(covered_.size()), actions);
  EXPECT_GE(actions, 54);
}

TEST_F(GhlActionsSandbox, UnknownTokenIsAnAuthError) {
  auto c = privateToken("pit-not-a-token-of-this-sandbox");
  const auto e = errorOf("ghl.contact.search", Json{{"pageLimit", 1}}, *c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, sdk::ErrorKind::Auth) << e->what();
  EXPECT_EQ(e->httpStatus, 401);
  EXPECT_NE(e->details.dump().find("Invalid token"), std::string::npos) << e->details.dump();
}

TEST_F(GhlActionsSandbox, ReadonlyTokenOnAWriteNamesTheMissingScope) {
  auto c = privateToken(token("readonly"));
  // Reading works with the readonly token...
  EXPECT_NO_THROW(invoke("ghl.contact.search", Json{{"pageLimit", 1}}, *c));
  // ...writing does not, and the error names contacts.write.
  const auto e = errorOf("ghl.contact.create", Json{{"firstName", "Nope"}}, *c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, sdk::ErrorKind::Scope) << e->what();
  EXPECT_EQ(e->scope, "contacts.write");
  EXPECT_NE(std::string(e->what()).find("contacts.write"), std::string::npos) << e->what();
  EXPECT_TRUE(locationState()["contacts"].empty());
  // Another resource's scope is named as well.
  const auto other = errorOf("ghl.business.create", Json{{"name", "Nope GmbH"}}, *c);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->kind, sdk::ErrorKind::Scope);
  EXPECT_EQ(other->scope, "businesses.write");
}

// The connector sends only declared body fields, so an unknown field cannot reach GHL through
// it; a declared field with a value of the wrong type (the runtime validates inputs, a direct
// invoke does not) and a missing required field are what GHL answers 422 to.
TEST_F(GhlActionsSandbox, InvalidValuesAreInvalidWithGhlsMessages) {
  auto c = privateToken(token("full"));
  const auto e = errorOf("ghl.contact.create", Json{{"firstName", 42}}, *c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, sdk::ErrorKind::Invalid) << e->what();
  EXPECT_EQ(e->httpStatus, 422);
  ASSERT_TRUE(e->details.contains("message")) << e->details.dump();
  ASSERT_TRUE(e->details["message"].is_array()) << e->details.dump();
  EXPECT_NE(e->details["message"].dump().find("firstName"), std::string::npos)
      << e->details.dump();

  const Json contact = invoke("ghl.contact.create", Json{{"firstName", "Ok"}}, *c);
  const std::string contactId = contact["contact"]["id"];
  const auto task =
      errorOf("ghl.task.create", Json{{"contactId", contactId}, {"title", "No due date"}}, *c);
  ASSERT_TRUE(task);
  EXPECT_EQ(task->kind, sdk::ErrorKind::Invalid) << task->what();
  EXPECT_EQ(task->httpStatus, 422);
  EXPECT_NE(task->details["message"].dump().find("dueDate"), std::string::npos)
      << task->details.dump();
  EXPECT_TRUE(locationState()["tasks"].empty());

  // The connector drops undeclared fields instead of sending them: the call succeeds.
  const Json fine =
      invoke("ghl.contact.update", Json{{"contactId", contactId}, {"noSuchField", 1}}, *c);
  EXPECT_TRUE(fine.contains("contact")) << fine.dump();
}

TEST_F(GhlActionsSandbox, RateLimitedThenSuccessWithTheSandboxLimit) {
  ASSERT_EQ(admin("POST", "/rate-limit",
                  Json{{"enabled", true}, {"max", 2}, {"intervalMs", 600000}, {"reset", true}})
                .status,
            200);
  auto c = privateToken(token("full"));
  const Json search{{"pageLimit", 1}};
  invoke("ghl.contact.search", search, *c);
  invoke("ghl.contact.search", search, *c);
  const auto e = errorOf("ghl.contact.search", search, *c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, sdk::ErrorKind::RateLimited) << e->what();
  EXPECT_EQ(e->httpStatus, 429);
  ASSERT_TRUE(e->retryAfter.has_value());
  EXPECT_EQ(e->retryAfter->count(), 600000);

  // The reports carry the five headers; the last one says nothing is left.
  const auto reports = c->takeReports();
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports.front().bucket, location());
  EXPECT_EQ(reports.front().limit, 2);
  EXPECT_EQ(reports.front().remaining, 1);
  ASSERT_TRUE(reports.front().interval.has_value());
  EXPECT_EQ(reports.front().interval->count(), 600000);
  EXPECT_TRUE(reports.front().dailyLimit.has_value());
  EXPECT_TRUE(reports.front().dailyRemaining.has_value());
  EXPECT_EQ(reports.back().remaining, 0);

  // After the window (here: the limit lifted and the bucket reset) the retry succeeds.
  ASSERT_EQ(admin("POST", "/rate-limit",
                  Json{{"enabled", true}, {"max", 100}, {"intervalMs", 10000}, {"reset", true}})
                .status,
            200);
  const Json again = invoke("ghl.contact.search", search, *c);
  EXPECT_TRUE(again.contains("contacts")) << again.dump();
  EXPECT_GE(admin("GET", "/state").body["counters"].value("rateLimited", 0), 1);
}

TEST_F(GhlActionsSandbox, InjectedRateLimitThenSuccess) {
  auto c = privateToken(token("full"));
  ASSERT_EQ(admin("POST", "/faults", Json{{"spec", "429=1"}}).status, 200);
  const auto e = errorOf("ghl.contact.create", Json{{"firstName", "Later"}}, *c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, sdk::ErrorKind::RateLimited) << e->what();
  EXPECT_EQ(e->httpStatus, 429);
  EXPECT_TRUE(locationState()["contacts"].empty());

  ASSERT_EQ(admin("POST", "/faults", Json{{"spec", ""}}).status, 200);
  const Json ok = invoke("ghl.contact.create", Json{{"firstName", "Later"}}, *c);
  const std::string id = ok["contact"]["id"];
  EXPECT_TRUE(findById(locationState()["contacts"], id).has_value());
  EXPECT_EQ(admin("GET", "/state").body["counters"]["injected"].value("429", 0), 1);
}

TEST_F(GhlActionsSandbox, ServerErrorIsTransientThenSuccess) {
  auto c = privateToken(token("full"));
  const Json contact = invoke("ghl.contact.create", Json{{"firstName", "Flaky"}}, *c);
  const std::string contactId = contact["contact"]["id"];
  ASSERT_EQ(admin("POST", "/faults", Json{{"spec", "5xx=1"}}).status, 200);
  const Json input{{"contactId", contactId},
                   {"title", "Retry me"},
                   {"dueDate", "2026-12-01T10:00:00Z"},
                   {"completed", false}};
  const auto e = errorOf("ghl.task.create", input, *c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, sdk::ErrorKind::Transient) << e->what();
  EXPECT_GE(e->httpStatus, 500);
  EXPECT_TRUE(locationState()["tasks"].empty());

  ASSERT_EQ(admin("POST", "/faults", Json{{"spec", ""}}).status, 200);
  const Json task = invoke("ghl.task.create", input, *c);
  const std::string taskId = task["task"]["id"];
  const auto row = findById(locationState()["tasks"], taskId);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->value("title", ""), "Retry me");
}

TEST_F(GhlActionsSandbox, ExpiredOAuthTokenIsRefreshedAndTheRefreshTokenRotated) {
  const auto code = admin("POST", "/oauth/code", Json::object());
  ASSERT_EQ(code.status, 201);
  const auto& oauth = info_["oauth"];
  Connection o(base(), "oauth2",
               {{"client_id", oauth["client_id"].get<std::string>()},
                {"client_secret", oauth["client_secret"].get<std::string>()},
                {"refresh_token", "none-yet"}},
               Json{{"location_id", location()}});
  invoke("ghl.oauth.exchange_code", {{"code", code.body["code"]}}, o);
  const auto firstAccess = o.secrets->get("access_token").value();
  const auto firstRefresh = o.secrets->get("refresh_token").value();
  EXPECT_NO_THROW(invoke("ghl.contact.search", Json{{"pageLimit", 1}}, o));

  // Expiry in the past: the plugin refreshes before the call and stores the rotated tokens.
  o.secrets->put("expires_at", "1");
  EXPECT_NO_THROW(invoke("ghl.contact.search", Json{{"pageLimit", 1}}, o));
  const auto secondRefresh = o.secrets->get("refresh_token").value();
  EXPECT_NE(secondRefresh, firstRefresh);
  EXPECT_NE(o.secrets->get("access_token").value(), firstAccess);

  // The spent refresh token is dead at the sandbox: refreshing with it is an Auth error.
  o.secrets->put("refresh_token", firstRefresh);
  o.secrets->put("expires_at", "1");
  const auto e = errorOf("ghl.contact.search", Json{{"pageLimit", 1}}, o);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, sdk::ErrorKind::Auth) << e->what();
  EXPECT_GE(admin("GET", "/state").body["counters"].value("refreshRefused", 0), 1);
}

}  // namespace
}  // namespace ferry::tests::ghl_e2e

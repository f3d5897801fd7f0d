// The webhook and polling triggers against the real sandbox: registration, deliveries signed by
// the sandbox and parsed by receive(), rejections, and a poller restarted from its cursor.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "kit.hpp"
#include "live.hpp"
#include "signature.hpp"
#include "time.hpp"

namespace ferry::tests::umsatzio {
namespace {

using sdk::ErrorKind;

// A local HTTP endpoint that records what the sandbox delivers.
class Receiver {
 public:
  Receiver()
      : server_([this](const sandbox::Request& r) {
          std::lock_guard lock(mutex_);
          requests_.push_back(r);
          return sandbox::Response::json(200, {{"ok", true}});
        }) {
    server_.start();
  }
  std::string url(const std::string& path) const { return server_.baseUrl() + path; }
  std::vector<sandbox::Request> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  std::mutex mutex_;
  std::vector<sandbox::Request> requests_;
  sandbox::Server server_;
};

const std::vector<std::string> kWebhookTriggers = {
    "umsatzio.contact.created",      "umsatzio.contact.property_changed", "umsatzio.deal.created",
    "umsatzio.deal.property_changed", "umsatzio.deal.stage_changed",      "umsatzio.form.submitted",
    "umsatzio.activity.created"};

class UmsatzioTriggers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sandbox_ = new SandboxProcess({"--webhook-secret", "s3cr3t"});
    connector_ = loadConnector();
  }
  static void TearDownTestSuite() {
    delete sandbox_;
    sandbox_ = nullptr;
    connector_.reset();
  }
  void SetUp() override {
    sandbox_->admin("POST", "reset");
    sandbox_->admin("POST", "clock", {{"now", nullptr}});
    live_ = std::make_unique<Live>(*sandbox_);
  }
  sdk::Trigger& trigger(const std::string& id) { return *connector_->trigger(id); }
  Json webhooks() { return live_->run(*connector_, "umsatzio.webhook.list", Json::object())["items"]; }

  std::vector<sdk::Event> receive(const std::string& id, const Json& filters, const sdk::WebhookRequest& req) {
    auto ctx = live_->context();
    return trigger(id).receive(ctx, filters, req);
  }
  int rejection(const std::string& id, const sdk::WebhookRequest& req) {
    try {
      receive(id, Json::object(), req);
    } catch (const sdk::WebhookRejected& e) {
      return e.status;
    }
    return 0;
  }
  // Waits (bounded) until the receiver has `count` requests and the sandbox has none pending.
  std::vector<sandbox::Request> awaitDeliveries(Receiver& receiver, std::size_t count) {
    for (int i = 0; i < 200; ++i) {
      auto got = receiver.requests();
      if (got.size() >= count && sandbox_->admin("GET", "state")["pendingDeliveries"] == 0) {
        return got;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return receiver.requests();
  }

  static inline SandboxProcess* sandbox_ = nullptr;
  static inline std::shared_ptr<sdk::Connector> connector_;
  std::unique_ptr<Live> live_;
};

sdk::WebhookRequest asWebhook(const sandbox::Request& r) {
  sdk::WebhookRequest w;
  w.method = r.method;
  w.path = r.path;
  w.query = r.rawQuery;
  w.headers = r.headers;
  w.body = r.body;
  return w;
}

TEST_F(UmsatzioTriggers, SubscribeTwiceIsOneWebhookAndUnsubscribeRemovesIt) {
  const std::string url = "http://127.0.0.1:9/hooks/a";
  auto ctx = live_->context();
  trigger("umsatzio.contact.created").subscribe(ctx, Json::object(), url);
  trigger("umsatzio.contact.created").subscribe(ctx, Json::object(), url);
  ASSERT_EQ(webhooks().size(), 1u);
  // A duplicate left behind by someone else is cleaned up on the next subscribe.
  live_->run(*connector_, "umsatzio.webhook.create", {{"url", url}, {"triggers", {"newContact"}}});
  ASSERT_EQ(webhooks().size(), 2u);
  trigger("umsatzio.deal.stage_changed").subscribe(ctx, {{"pipelineId", "pl_vertrieb"}}, url);
  Json hooks = webhooks();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0]["triggers"], (Json{"newContact", "updateDealStage"}));
  EXPECT_EQ(hooks[0]["properties"], (Json{"pl_vertrieb"}));
  // Another URL is another webhook.
  trigger("umsatzio.contact.property_changed").subscribe(ctx, {{"properties", {"phone"}}}, url + "x");
  hooks = webhooks();
  ASSERT_EQ(hooks.size(), 2u);
  EXPECT_EQ(hooks[1]["properties"], (Json{"global_contact_phone"}));  // stable name mapped

  trigger("umsatzio.contact.created").unsubscribe(ctx, Json::object(), url);
  hooks = webhooks();
  ASSERT_EQ(hooks.size(), 2u);
  EXPECT_EQ(hooks[0]["triggers"], (Json{"updateDealStage"}));
  trigger("umsatzio.deal.stage_changed").unsubscribe(ctx, Json::object(), url);
  trigger("umsatzio.deal.stage_changed").unsubscribe(ctx, Json::object(), url);  // idempotent
  trigger("umsatzio.contact.property_changed").unsubscribe(ctx, Json::object(), url + "x");
  EXPECT_TRUE(webhooks().empty());
}

TEST_F(UmsatzioTriggers, EveryWebhookTriggerReceivesSignedDeliveries) {
  Receiver receiver;
  const std::string url = receiver.url("/hooks/umsatzio/tok-123");
  live_->secrets.put("webhook_secret", "s3cr3t");
  live_->secrets.put("webhook_path_token", "tok-123");
  live_->connection.settings = {{"field_map", {{"status", "contact_status"}}}};
  {
    auto ctx = live_->context();
    for (const auto& id : kWebhookTriggers) {
      trigger(id).subscribe(ctx, Json::object(), url);
    }
  }
  ASSERT_EQ(webhooks().size(), 1u);
  EXPECT_EQ(webhooks()[0]["triggers"].size(), 7u);

  // A sales rep at work.
  const Json contact = sandbox_->admin("POST", "contact", {{"data", {{"global_contact_email", "lena@beispiel.de"},
                                                                     {"global_contact_first_name", "Lena"},
                                                                     {"global_contact_last_name", "Köhler"}}}});
  const std::string contactId = contact["id"];
  sandbox_->admin("POST", "contact", {{"id", contactId}, {"data", {{"global_contact_phone", "+49 221 123"}}}});
  const Json deal = sandbox_->admin("POST", "deal", {{"contactId", contactId}, {"name", "Köhler Immobilien"}});
  sandbox_->admin("POST", "deal/update", {{"dealId", deal["id"]}, {"data", {{"deal_value", 9900}}}});
  sandbox_->admin("POST", "deal/move", {{"dealId", deal["id"]}, {"stageId", "st_setting"}});
  sandbox_->admin("POST", "form", {{"formId", "fm_kontakt"}, {"data", {{"global_contact_email", "lena@beispiel.de"}}}});
  sandbox_->admin("POST", "call", {{"contactId", contactId}, {"phoneCallActivityTypeId", "ct_opening"},
                                   {"phoneCallResult", "follow_up"}, {"followUpAt", "2026-12-02T10:00:00.000Z"}});

  const auto delivered = awaitDeliveries(receiver, 7);
  ASSERT_EQ(delivered.size(), 7u);
  std::map<std::string, std::vector<sdk::Event>> events;
  for (const auto& r : delivered) {
    const auto req = asWebhook(r);
    EXPECT_EQ(sdk::findHeader(req.headers, "x-umsatzio-signature"), plugins::umsatzio::hmacSha256Hex("s3cr3t", req.body));
    for (const auto& id : kWebhookTriggers) {
      for (auto& e : receive(id, Json::object(), req)) {
        events[id].push_back(std::move(e));
      }
    }
  }
  for (const auto& id : kWebhookTriggers) {
    ASSERT_EQ(events[id].size(), 1u) << id;
    const auto& e = events[id][0];
    EXPECT_FALSE(e.id.empty());
    EXPECT_FALSE(e.occurredAt.empty());
    EXPECT_FALSE(e.payload["raw"].get<std::string>().empty()) << "the raw body is kept";
    const auto* op = connector_->spec().find(id);
    Json checked = e.payload;
    for (const auto& issue : sdk::validate(op->output, checked)) {
      ADD_FAILURE() << id << ": " << issue.message;
    }
  }
  EXPECT_EQ(events["umsatzio.contact.created"][0].payload["lastName"], "Köhler");
  EXPECT_EQ(events["umsatzio.contact.created"][0].recordKey, contactId);
  EXPECT_EQ(events["umsatzio.contact.property_changed"][0].payload["changedProperties"], (Json{"global_contact_phone"}));
  EXPECT_EQ(events["umsatzio.contact.property_changed"][0].payload["phone"], "+49 221 123");
  EXPECT_EQ(events["umsatzio.deal.created"][0].payload["contact"]["email"], "lena@beispiel.de");
  EXPECT_EQ(events["umsatzio.deal.property_changed"][0].payload["changedProperties"], (Json{"deal_value"}));
  const Json stage = events["umsatzio.deal.stage_changed"][0].payload;
  EXPECT_EQ(stage["stageId"], "st_setting");
  EXPECT_EQ(stage["stageName"], "Setting terminiert");
  EXPECT_EQ(stage["previousStageId"], "st_opening");
  EXPECT_EQ(stage["pipelineId"], "pl_vertrieb");
  EXPECT_EQ(events["umsatzio.form.submitted"][0].payload["formId"], "fm_kontakt");
  EXPECT_EQ(events["umsatzio.form.submitted"][0].payload["contactId"], contactId);
  const Json call = events["umsatzio.activity.created"][0].payload;
  EXPECT_EQ(call["kind"], "phone_call");
  EXPECT_EQ(call["phoneCallResult"], "follow_up");
  EXPECT_EQ(call["followUpAt"], "2026-12-02T10:00:00.000Z");
  EXPECT_EQ(call["contact"]["firstName"], "Lena");

  // Filters.
  auto count = [&](const std::string& id, const Json& filters) {
    std::size_t n = 0;
    for (const auto& r : delivered) {
      n += receive(id, filters, asWebhook(r)).size();
    }
    return n;
  };
  EXPECT_EQ(count("umsatzio.contact.property_changed", {{"properties", {"phone"}}}), 1u);
  EXPECT_EQ(count("umsatzio.contact.property_changed", {{"properties", {"global_contact_phone"}}}), 1u);
  EXPECT_EQ(count("umsatzio.contact.property_changed", {{"properties", {"status"}}}), 0u);
  EXPECT_EQ(count("umsatzio.deal.property_changed", {{"properties", {"deal_product"}}}), 0u);
  EXPECT_EQ(count("umsatzio.deal.stage_changed", {{"pipelineId", "pl_vertrieb"}, {"stageId", "st_setting"}}), 1u);
  EXPECT_EQ(count("umsatzio.deal.stage_changed", {{"stageId", "st_closing"}}), 0u);
  EXPECT_EQ(count("umsatzio.form.submitted", {{"formIds", {"fm_webinar"}}}), 0u);
  EXPECT_EQ(count("umsatzio.activity.created", {{"results", {"follow_up"}}, {"phoneCallActivityTypeId", "ct_opening"}}), 1u);
  EXPECT_EQ(count("umsatzio.activity.created", {{"results", {"won"}}}), 0u);
  EXPECT_EQ(count("umsatzio.activity.created", {{"kind", "email"}}), 0u);
}

TEST_F(UmsatzioTriggers, BadRequestsAreRejected) {
  const std::string body = R"({"id":"evt_1","event":"newContact","occurredAt":"2026-11-26T10:00:00.000Z","data":{"contact":{"id":"ct_1","data":{}}}})";
  sdk::WebhookRequest req;
  req.method = "POST";
  req.path = "/hooks/umsatzio";
  req.body = body;
  // No secret configured: accepted as is.
  EXPECT_EQ(receive("umsatzio.contact.created", Json::object(), req).size(), 1u);
  EXPECT_TRUE(receive("umsatzio.deal.created", Json::object(), req).empty()) << "another event";

  live_->secrets.put("webhook_secret", "s3cr3t");
  EXPECT_EQ(rejection("umsatzio.contact.created", req), 401) << "unsigned";
  req.headers = {{"X-Umsatzio-Signature", plugins::umsatzio::hmacSha256Hex("anders", body)}};
  EXPECT_EQ(rejection("umsatzio.contact.created", req), 401) << "wrong signature";
  req.headers = {{"X-Umsatzio-Signature", "sha256=" + plugins::umsatzio::hmacSha256Hex("s3cr3t", body)}};
  EXPECT_EQ(receive("umsatzio.contact.created", Json::object(), req).size(), 1u);
  req.body = body + " ";
  EXPECT_EQ(rejection("umsatzio.contact.created", req), 401) << "body changed after signing";

  // A custom header name.
  live_->connection.settings = {{"webhook_signature_header", "x-signatur"}};
  req.body = "{nicht json";
  req.headers = {{"x-signatur", plugins::umsatzio::hmacSha256Hex("s3cr3t", req.body)}};
  EXPECT_EQ(rejection("umsatzio.contact.created", req), 400) << "bad JSON";
  req.body = R"({"data":{}})";
  req.headers = {{"x-signatur", plugins::umsatzio::hmacSha256Hex("s3cr3t", req.body)}};
  EXPECT_EQ(rejection("umsatzio.contact.created", req), 400) << "no event name";

  live_->connection.settings = {{"webhook_max_body_bytes", 64}};
  req.body = body;
  req.headers = {{"x-umsatzio-signature", plugins::umsatzio::hmacSha256Hex("s3cr3t", body)}};
  EXPECT_EQ(rejection("umsatzio.contact.created", req), 413);
  live_->connection.settings = Json::object();
  req.body = std::string(1024 * 1024 + 1, ' ');
  EXPECT_EQ(rejection("umsatzio.contact.created", req), 413) << "default limit 1 MiB";
  // A negative limit read as unsigned was no limit at all; below 1 it is the default.
  for (const Json& limit : {Json(-1), Json(0), Json("64"), Json(-9223372036854775807LL)}) {
    live_->connection.settings = {{"webhook_max_body_bytes", limit}};
    EXPECT_EQ(rejection("umsatzio.contact.created", req), 413) << limit.dump();
  }
  live_->connection.settings = Json::object();

  // Path token instead of a signature.
  live_->secrets.put("webhook_secret", "");
  live_->connection.settings = {{"webhook_path_token", "tok-123"}};
  req.body = body;
  req.headers = {};
  req.path = "/hooks/umsatzio/tok-123";
  EXPECT_EQ(receive("umsatzio.contact.created", Json::object(), req).size(), 1u);
  req.path = "/hooks/umsatzio/tok-124";
  EXPECT_EQ(rejection("umsatzio.contact.created", req), 401);
  req.path = "/hooks/umsatzio";
  req.query = "a=1&token=tok-123";
  EXPECT_EQ(receive("umsatzio.contact.created", Json::object(), req).size(), 1u);
  req.query = "token=tok";
  EXPECT_EQ(rejection("umsatzio.contact.created", req), 401);
}

TEST_F(UmsatzioTriggers, RestartedNotePollerNeitherSkipsNorRepeats) {
  const std::string contactId =
      sandbox_->admin("POST", "contact", {{"data", {{"global_contact_email", "poll@beispiel.de"}}}})["id"];
  // Five notes share one timestamp, then the clock moves on.
  sandbox_->admin("POST", "clock", {{"now", "2026-11-26T12:00:00.000Z"}});
  std::set<std::string> all;
  for (int i = 0; i < 5; ++i) {
    all.insert(sandbox_->admin("POST", "note", {{"contactId", contactId}, {"text", "Notiz Nr. " + std::to_string(i) + " – Grüße"}})["id"].get<std::string>());
  }
  const Json filters = {{"since", "2026-11-26T00:00:00.000Z"}, {"maxEvents", 2}};
  std::vector<std::string> seen;
  auto poll = [&](sdk::Trigger& t, const Json& cursor) {
    auto ctx = live_->context();
    auto result = t.poll(ctx, filters, cursor);
    for (const auto& e : result.events) {
      seen.push_back(e.id);
      EXPECT_EQ(e.payload["contactId"], contactId);
      EXPECT_NE(e.payload["content"].get<std::string>().find("Grüße"), std::string::npos);
    }
    return result;
  };
  auto first = poll(trigger("umsatzio.note.created"), Json());
  ASSERT_EQ(first.events.size(), 2u);
  // The process dies here; a new connector (new Trigger objects) resumes from the cursor the
  // core committed with those two events.
  const Json committed = Json::parse(first.cursor.dump());
  auto restarted = loadConnector();
  auto second = poll(*restarted->trigger("umsatzio.note.created"), committed);
  ASSERT_EQ(second.events.size(), 2u);
  // Two more notes at the very same timestamp arrive before the next poll.
  for (int i = 5; i < 7; ++i) {
    all.insert(sandbox_->admin("POST", "note", {{"contactId", contactId}, {"text", "Nachzügler " + std::to_string(i) + " Grüße"}})["id"].get<std::string>());
  }
  auto third = poll(*restarted->trigger("umsatzio.note.created"), second.cursor);
  EXPECT_EQ(third.events.size(), 2u);
  auto fourth = poll(*restarted->trigger("umsatzio.note.created"), third.cursor);
  EXPECT_EQ(fourth.events.size(), 1u);
  auto empty = poll(*restarted->trigger("umsatzio.note.created"), fourth.cursor);
  EXPECT_TRUE(empty.events.empty());
  EXPECT_EQ(empty.cursor["since"], "2026-11-26T12:00:00.000Z");
  // A later note.
  sandbox_->admin("POST", "clock", {{"now", "2026-11-26T12:00:00.001Z"}});
  all.insert(sandbox_->admin("POST", "note", {{"contactId", contactId}, {"text", "Später – Grüße"}})["id"].get<std::string>());
  auto fifth = poll(*restarted->trigger("umsatzio.note.created"), empty.cursor);
  ASSERT_EQ(fifth.events.size(), 1u);

  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "no note was repeated";
  EXPECT_EQ(unique, all) << "no note was skipped";
  // Replaying an uncommitted poll (the core crashed before committing `second`) yields the
  // same events again, so nothing is lost.
  seen.clear();
  auto replay = poll(trigger("umsatzio.note.created"), committed);
  ASSERT_EQ(replay.events.size(), 2u);
  EXPECT_EQ(replay.events[0].id, second.events[0].id);
  EXPECT_EQ(replay.events[1].id, second.events[1].id);
}

TEST_F(UmsatzioTriggers, ContactUpdatedPollerSeesEachVersionOnce) {
  sandbox_->admin("POST", "clock", {{"now", "2026-11-26T13:00:00.000Z"}});
  const std::string a = sandbox_->admin("POST", "contact", {{"data", {{"global_contact_first_name", "Björn"}}}})["id"];
  const std::string b = sandbox_->admin("POST", "contact", {{"data", {{"global_contact_first_name", "Änne"}}}})["id"];
  auto ctx = live_->context();
  auto& t = trigger("umsatzio.contact.updated");
  auto first = t.poll(ctx, {{"since", "2026-11-26T00:00:00.000Z"}}, Json());
  ASSERT_EQ(first.events.size(), 2u);
  EXPECT_EQ(first.events[0].payload["firstName"], "Björn");
  EXPECT_TRUE(t.poll(ctx, Json::object(), first.cursor).events.empty());
  sandbox_->admin("POST", "clock", {{"now", "2026-11-26T13:05:00.000Z"}});
  sandbox_->admin("POST", "contact", {{"id", b}, {"data", {{"global_contact_last_name", "Groß"}}}});
  auto second = t.poll(ctx, Json::object(), first.cursor);
  ASSERT_EQ(second.events.size(), 1u);
  EXPECT_EQ(second.events[0].recordKey, b);
  EXPECT_EQ(second.events[0].payload["lastName"], "Groß");
  EXPECT_EQ(second.events[0].id, b + "@2026-11-26T13:05:00.000Z");
  EXPECT_TRUE(t.poll(ctx, Json::object(), second.cursor).events.empty());
  (void)a;
}

// A record is created once: the same creation delivered twice with different delivery ids (two
// webhooks, one per ferry worker, or a sender that mints a new id per attempt) is one event for
// the inbox's dedupe. A change keeps its delivery id (two changes are two events).
TEST_F(UmsatzioTriggers, CreatedEventsAreKeyedByTheRecordNotTheDelivery) {
  auto request = [](const std::string& deliveryId, const std::string& event, const std::string& data) {
    sdk::WebhookRequest req;
    req.method = "POST";
    req.path = "/hooks/umsatzio";
    req.body = R"({"id":")" + deliveryId + R"(","event":")" + event +
               R"(","occurredAt":"2026-11-26T10:00:00.000Z","data":)" + data + "}";
    return req;
  };
  const std::string activity =
      R"({"activity":{"id":"ca_7","parentId":"ct_1","kind":"phone_call","phoneCallResult":"follow_up"},"contact":{"id":"ct_1","data":{}}})";
  const auto a = receive("umsatzio.activity.created", Json::object(), request("evt_1", "newActivity", activity));
  const auto b = receive("umsatzio.activity.created", Json::object(), request("evt_2", "newActivity", activity));
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].id, b[0].id);
  EXPECT_EQ(a[0].id, "newActivity:ca_7");
  const std::string change =
      R"({"contact":{"id":"ct_1","data":{}},"changedProperties":["global_contact_phone"]})";
  const auto c = receive("umsatzio.contact.property_changed", Json::object(),
                         request("evt_3", "changeContactProperty", change));
  const auto d = receive("umsatzio.contact.property_changed", Json::object(),
                         request("evt_4", "changeContactProperty", change));
  ASSERT_EQ(c.size(), 1u);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(c[0].id, d[0].id);
}

// umsatzio_webhook_fuzz, regression-occurred-at-object (found by CI, 2026-11-27): a delivery whose
// occurredAt was an object made receive() throw nlohmann's type_error (json::value with a string
// default throws for a member of another type), which the runtime answered 500 -- a lost delivery.
// A member of another type is now read as absent: the time of receipt stands in for occurredAt,
// and an activity's kind is told from its fields.
TEST_F(UmsatzioTriggers, MembersOfAnotherTypeAreReadAsAbsentNotThrown) {
  sdk::WebhookRequest req;
  req.method = "POST";
  req.path = "/hooks/umsatzio";
  const auto before = std::chrono::system_clock::now() - std::chrono::seconds(1);
  for (const Json& occurredAt : {Json{{"contact", {{"id", "ct_1"}}}}, Json(1764151200), Json::array(),
                                 Json(true), Json(nullptr)}) {
    req.body = Json{{"id", "evt-1"},
                    {"event", "changeContactProperty"},
                    {"occurredAt", occurredAt},
                    {"data", {{"contact", {{"id", "ct_1"}, {"data", Json::object()}}},
                              {"changedProperties", {"global_contact_email"}}}}}
                   .dump();
    std::vector<sdk::Event> events;
    ASSERT_NO_THROW(events = receive("umsatzio.contact.property_changed", Json::object(), req))
        << occurredAt.dump();
    ASSERT_EQ(events.size(), 1u) << occurredAt.dump();
    const auto at = plugins::umsatzio::parseIsoMillis(events[0].occurredAt);
    ASSERT_TRUE(at.has_value()) << events[0].occurredAt;
    EXPECT_GE(*at, std::chrono::duration_cast<std::chrono::milliseconds>(before.time_since_epoch()).count())
        << "not the time of receipt: " << events[0].occurredAt;
  }
  req.body = Json{{"id", "evt-2"},
                  {"event", "newActivity"},
                  {"data", {{"activity", {{"id", "ca_9"}, {"parentId", "ct_1"}, {"kind", 7},
                                          {"phoneCallResult", "follow_up"}}}}}}
                 .dump();
  std::vector<sdk::Event> events;
  ASSERT_NO_THROW(events = receive("umsatzio.activity.created", Json::object(), req));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload["kind"], "phone_call");
}

}  // namespace
}  // namespace ferry::tests::umsatzio

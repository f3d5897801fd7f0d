// The seven webhook triggers. One class, parameterised per event: how the payload is built
// from the delivery, which filters apply, and which `properties` the webhook registers.
//
// Delivery envelope (what the sandbox sends; the real one is undocumented, so parsing is
// tolerant): {"id", "event", "webhookId", "occurredAt", "data": {...}}. The raw body is kept
// in every event's payload as `raw` (a string, byte for byte).
#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "client.hpp"
#include "fields.hpp"
#include "model.hpp"
#include "operations.hpp"
#include "signature.hpp"
#include "time.hpp"

namespace ferry::plugins::umsatzio {

namespace {

using namespace sdk;

constexpr std::size_t kDefaultMaxBody = 1024 * 1024;

struct Kind {
  std::string id;
  std::string event;  // the Umsatz-io trigger name
  std::string summary;
  Schema filters;
  Schema output;
  std::string recordKey = "id";
  bool coalesce = false;  // each event is a full snapshot of its record (OperationSpec::coalesce)
  Json exampleFilters = Json::object();
  Json examplePayload;
  std::function<Json(const Json& data, Context& ctx)> payload;
  std::function<bool(const Json& payload, const Json& filters, Context& ctx)> matches;
  std::function<Json(const Json& filters, Context& ctx)> properties;
};

std::vector<std::string> strings(const Json& v) {
  std::vector<std::string> out;
  if (v.is_array()) {
    for (const auto& e : v) {
      if (e.is_string()) {
        out.push_back(e.get<std::string>());
      }
    }
  }
  return out;
}

std::string settingString(Context& ctx, const char* name, const std::string& fallback) {
  return sdk::member(ctx.connection().settings, name, fallback);
}

// A member of `data` that is an object, or `data` itself when it looks like the entity.
Json entity(const Json& data, const char* name) {
  if (data.contains(name) && data[name].is_object()) {
    return data[name];
  }
  return data.contains("id") ? data : Json::object();
}

Json contactOf(const Json& data, Context& ctx) {
  const Json raw = entity(data, "contact");
  return raw.empty() ? Json() : normalizeContactFor(raw, ctx);
}

// Watched names in filters may be stable names (through the field map) or API names.
std::vector<std::string> watchedApiNames(const Json& filters, Context& ctx) {
  const auto map = fieldMapOf(ctx.connection());
  std::vector<std::string> out;
  for (const auto& name : strings(filters.value("properties", Json::array()))) {
    auto it = map.find(name);
    out.push_back(it == map.end() ? name : it->second);
  }
  return out;
}

bool intersects(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const auto& x : a) {
    if (std::find(b.begin(), b.end(), x) != b.end()) {
      return true;
    }
  }
  return false;
}

bool equalsIfSet(const Json& filters, const char* name, const Json& payload) {
  if (!filters.contains(name) || !filters[name].is_string() || filters[name].get<std::string>().empty()) {
    return true;
  }
  return payload.contains(name) && payload[name] == filters[name];
}

Field propertiesFilter(const std::string& what) {
  return array("properties", str("property").describe("A stable name or field API name."))
      .describe("Only changes of these " + what + " fields (empty: any field).");
}

Field rawField() { return str("raw").describe("The delivery's raw body, byte for byte."); }
Field changedField() {
  return array("changedProperties", str("property").describe("A field API name."))
      .describe("The API names of the changed fields.");
}
Field contactField() {
  return object("contact", contactSchema()).open().describe("The contact, normalised.");
}

Schema plus(Schema base, std::vector<Field> more) {
  for (auto& f : more) {
    base.push_back(std::move(f));
  }
  return base;
}

std::vector<Kind> kinds() {
  std::vector<Kind> out;
  const std::string raw = R"({"id":"dl_9","event":"newContact","data":{}})";

  Kind created;
  created.id = "umsatzio.contact.created";
  created.event = "newContact";
  created.summary = "A contact was created";
  created.output = plus(contactSchema(), {rawField()});
  created.examplePayload = exampleContact();
  created.examplePayload["raw"] = raw;
  created.payload = [](const Json& data, Context& ctx) { return contactOf(data, ctx); };
  out.push_back(created);

  Kind changed;
  changed.id = "umsatzio.contact.property_changed";
  changed.event = "changeContactProperty";
  changed.summary = "A watched contact field changed";
  changed.coalesce = true;
  changed.filters = {propertiesFilter("contact")};
  changed.output = plus(contactSchema(), {changedField(), rawField()});
  changed.exampleFilters = {{"properties", {"phone", "contact_status"}}};
  changed.examplePayload = exampleContact();
  changed.examplePayload["changedProperties"] = {"global_contact_phone"};
  changed.examplePayload["raw"] = raw;
  changed.payload = [](const Json& data, Context& ctx) {
    Json p = contactOf(data, ctx);
    p["changedProperties"] = data.value("changedProperties", Json::array());
    return p;
  };
  changed.matches = [](const Json& p, const Json& filters, Context& ctx) {
    const auto watched = watchedApiNames(filters, ctx);
    return watched.empty() || intersects(watched, strings(p["changedProperties"]));
  };
  changed.properties = [](const Json& filters, Context& ctx) { return Json(watchedApiNames(filters, ctx)); };
  out.push_back(changed);

  auto dealPayload = [](const Json& data, Context& ctx) {
    Json p = normalizeDeal(entity(data, "deal"));
    if (data.contains("previousStageId")) {
      p["previousStageId"] = data["previousStageId"];
    }
    if (data.contains("changedProperties")) {
      p["changedProperties"] = data["changedProperties"];
    }
    const Json c = contactOf(data, ctx);
    if (!c.is_null()) {
      p["contact"] = c;
    }
    return p;
  };

  Kind dealCreated;
  dealCreated.id = "umsatzio.deal.created";
  dealCreated.event = "newDeal";
  dealCreated.summary = "A deal was created";
  dealCreated.output = plus(dealSchema(), {contactField(), rawField()});
  dealCreated.examplePayload = exampleDeal();
  dealCreated.examplePayload["contact"] = exampleContact();
  dealCreated.examplePayload["raw"] = raw;
  dealCreated.payload = dealPayload;
  out.push_back(dealCreated);

  Kind dealChanged = dealCreated;
  dealChanged.id = "umsatzio.deal.property_changed";
  dealChanged.event = "changeDealProperty";
  dealChanged.summary = "A watched deal field changed";
  dealChanged.coalesce = true;
  dealChanged.filters = {propertiesFilter("deal")};
  dealChanged.output = plus(dealSchema(), {changedField(), contactField(), rawField()});
  dealChanged.exampleFilters = {{"properties", {"deal_value"}}};
  dealChanged.examplePayload["changedProperties"] = {"deal_value"};
  dealChanged.matches = [](const Json& p, const Json& filters, Context&) {
    const auto watched = strings(filters.value("properties", Json::array()));
    return watched.empty() || intersects(watched, strings(p.value("changedProperties", Json::array())));
  };
  dealChanged.properties = [](const Json& filters, Context&) {
    return filters.value("properties", Json::array());
  };
  out.push_back(dealChanged);

  Kind stage = dealCreated;
  stage.id = "umsatzio.deal.stage_changed";
  stage.event = "updateDealStage";
  stage.summary = "A deal moved to another stage";
  stage.filters = {str("pipelineId").describe("Only deals in this pipeline."),
                   str("stageId").describe("Only deals that moved into this stage.")};
  stage.output = plus(dealSchema(), {str("previousStageId").describe("The stage the deal left."),
                                     contactField(), rawField()});
  stage.exampleFilters = {{"pipelineId", "pl_1"}, {"stageId", "st_2"}};
  stage.examplePayload["previousStageId"] = "st_1";
  stage.matches = [](const Json& p, const Json& filters, Context&) {
    return equalsIfSet(filters, "pipelineId", p) && equalsIfSet(filters, "stageId", p);
  };
  stage.properties = [](const Json& filters, Context&) {
    Json props = Json::array();
    if (filters.contains("pipelineId") && filters["pipelineId"].is_string()) {
      props.push_back(filters["pipelineId"]);
      if (filters.contains("stageId") && filters["stageId"].is_string()) {
        props.push_back(filters["stageId"]);
      }
    }
    return props;
  };
  out.push_back(stage);

  Kind form;
  form.id = "umsatzio.form.submitted";
  form.event = "submitForm";
  form.summary = "A form was submitted";
  form.recordKey = "contactId";
  form.filters = {array("formIds", str("formId").describe("A form id.")).describe("Only these forms (empty: any).")};
  form.output = {str("formId").require().describe("The form."),
                 str("formName").describe("The form's name."),
                 str("submissionId").describe("The submission."),
                 object("data", {}).describe("The answers, keyed by field API names."),
                 datetime("submittedAt").describe("When the form was sent."),
                 str("contactId").describe("The contact created or matched by the submission."),
                 contactField(), rawField()};
  form.exampleFilters = {{"formIds", {"fm_1"}}};
  form.examplePayload = {{"formId", "fm_1"},
                         {"formName", "Kontaktformular Webseite"},
                         {"submissionId", "sb_1"},
                         {"data", {{"global_contact_email", "jana.mueller@baeckerei-gross.de"}}},
                         {"submittedAt", "2026-11-26T09:15:00.000Z"},
                         {"contactId", "ct_1"},
                         {"contact", exampleContact()},
                         {"raw", raw}};
  form.payload = [](const Json& data, Context& ctx) {
    const Json f = entity(data, "form");
    const Json s = data.contains("submission") && data["submission"].is_object() ? data["submission"] : data;
    Json p = {{"formId", f.value("id", data.value("formId", Json()))},
              {"data", s.value("data", Json::object())}};
    if (f.contains("name")) {
      p["formName"] = f["name"];
    }
    if (s.contains("id") && s.contains("data")) {
      p["submissionId"] = s["id"];
    }
    if (s.contains("submittedAt")) {
      p["submittedAt"] = s["submittedAt"];
    }
    const Json c = contactOf(data, ctx);
    if (!c.is_null()) {
      p["contact"] = c;
      p["contactId"] = c["id"];
    }
    return p;
  };
  form.matches = [](const Json& p, const Json& filters, Context&) {
    const auto ids = strings(filters.value("formIds", Json::array()));
    return ids.empty() || (p["formId"].is_string() &&
                           std::find(ids.begin(), ids.end(), p["formId"].get<std::string>()) != ids.end());
  };
  form.properties = [](const Json& filters, Context&) { return filters.value("formIds", Json::array()); };
  out.push_back(form);

  Kind activity;
  activity.id = "umsatzio.activity.created";
  activity.event = "newActivity";
  activity.summary = "A call or e-mail was logged";
  activity.recordKey = "contactId";
  activity.filters = {
      str("kind").oneOf({"phone_call", "email"}).describe("Only this kind of activity."),
      str("phoneCallActivityTypeId").describe("Only calls of this type (phone calls)."),
      array("results", str("result").describe("A call result key.")).describe("Only calls with one of these results.")};
  activity.output = plus(activitySchema(), {contactField(), rawField()});
  activity.exampleFilters = {{"kind", "phone_call"}, {"results", {"follow_up"}}};
  activity.examplePayload = {{"id", "ca_1"},
                             {"contactId", "ct_1"},
                             {"kind", "phone_call"},
                             {"description", "Entscheider erreicht, will Angebot sehen."},
                             {"activityTime", "2026-11-26T10:00:00.000Z"},
                             {"phoneCallResult", "follow_up"},
                             {"phoneCallActivityTypeId", "ct_opening"},
                             {"followUpAt", "2026-11-28T09:00:00.000Z"},
                             {"contact", exampleContact()},
                             {"raw", raw}};
  activity.payload = [](const Json& data, Context& ctx) {
    const Json a = entity(data, "activity");
    std::string kind = sdk::member(a, "kind", "");
    if (kind.empty()) {
      kind = a.contains("phoneCallResult") || a.contains("phoneCallActivityTypeId") ? "phone_call" : "email";
    }
    Json p = normalizeActivity(a, kind == "email" ? "email" : "phone_call");
    p["kind"] = kind == "email" ? "email" : "phone_call";
    const Json c = contactOf(data, ctx);
    if (!c.is_null()) {
      p["contact"] = c;
      if (!p.contains("contactId")) {
        p["contactId"] = c["id"];
      }
    }
    return p;
  };
  activity.matches = [](const Json& p, const Json& filters, Context&) {
    if (!equalsIfSet(filters, "kind", p) || !equalsIfSet(filters, "phoneCallActivityTypeId", p)) {
      return false;
    }
    const auto results = strings(filters.value("results", Json::array()));
    return results.empty() || (p.contains("phoneCallResult") && p["phoneCallResult"].is_string() &&
                               std::find(results.begin(), results.end(),
                                         p["phoneCallResult"].get<std::string>()) != results.end());
  };
  activity.properties = [](const Json& filters, Context&) {
    Json props = Json::array();
    if (filters.contains("phoneCallActivityTypeId") && filters["phoneCallActivityTypeId"].is_string()) {
      props.push_back(filters["phoneCallActivityTypeId"]);
    }
    for (const auto& r : strings(filters.value("results", Json::array()))) {
      props.push_back(r);
    }
    return props;
  };
  out.push_back(activity);
  return out;
}

std::string queryParam(const std::string& query, const std::string& name) {
  std::size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    const std::string part = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    const auto eq = part.find('=');
    if (part.substr(0, eq) == name && eq != std::string::npos) {
      std::string value;
      const std::string enc = part.substr(eq + 1);
      for (std::size_t i = 0; i < enc.size(); ++i) {
        if (enc[i] == '%' && i + 2 < enc.size() && std::isxdigit(static_cast<unsigned char>(enc[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(enc[i + 2]))) {
          value.push_back(static_cast<char>(std::stoi(enc.substr(i + 1, 2), nullptr, 16)));
          i += 2;
        } else {
          value.push_back(enc[i] == '+' ? ' ' : enc[i]);
        }
      }
      return value;
    }
    if (amp == std::string::npos) {
      break;
    }
    start = amp + 1;
  }
  return "";
}

class WebhookTrigger : public Trigger {
 public:
  explicit WebhookTrigger(Kind kind) : kind_(std::move(kind)) {}

  void subscribe(Context& ctx, const Json& filters, const std::string& url) override {
    Client client(ctx);
    const Json props = kind_.properties ? kind_.properties(filters, ctx) : Json::array();
    auto mine = webhooksFor(client, url);
    if (mine.empty()) {
      client.execute("mutation CreateWebhook($input: WebhookInput!) { createWebhook(input: $input) { id } }",
                     {{"input", {{"url", url}, {"triggers", {kind_.event}}, {"properties", props}}}});
      ctx.log().info("Registered an Umsatz-io webhook.", {{"trigger", kind_.id}, {"event", kind_.event}});
      return;
    }
    // Keep the first webhook for this URL, merged with this trigger; delete duplicates.
    const Json& keep = mine.front();
    Json triggers = keep.value("triggers", Json::array());
    if (std::find(triggers.begin(), triggers.end(), Json(kind_.event)) == triggers.end()) {
      triggers.push_back(kind_.event);
    }
    Json properties = keep.value("properties", Json::array());
    for (const auto& p : props) {
      if (std::find(properties.begin(), properties.end(), p) == properties.end()) {
        properties.push_back(p);
      }
    }
    if (triggers != keep.value("triggers", Json::array()) ||
        properties != keep.value("properties", Json::array())) {
      client.execute(
          "mutation UpdateWebhook($id: ID!, $input: WebhookInput!) { updateWebhook(id: $id, input: $input) { id } }",
          {{"id", keep["id"]}, {"input", {{"url", url}, {"triggers", triggers}, {"properties", properties}}}});
    }
    for (std::size_t i = 1; i < mine.size(); ++i) {
      deleteWebhook(client, mine[i]["id"]);
    }
  }

  void unsubscribe(Context& ctx, const Json&, const std::string& url) override {
    Client client(ctx);
    for (const auto& hook : webhooksFor(client, url)) {
      Json triggers = Json::array();
      for (const auto& t : hook.value("triggers", Json::array())) {
        if (t != kind_.event) {
          triggers.push_back(t);
        }
      }
      if (triggers.empty()) {
        deleteWebhook(client, hook["id"]);
      } else {
        client.execute(
            "mutation UpdateWebhook($id: ID!, $input: WebhookInput!) { updateWebhook(id: $id, input: $input) { id } }",
            {{"id", hook["id"]},
             {"input", {{"url", url}, {"triggers", triggers}, {"properties", hook.value("properties", Json::array())}}}});
      }
    }
  }

  std::vector<Event> receive(Context& ctx, const Json& filters, const WebhookRequest& request) override {
    authenticate(ctx, request);
    const Json body = Json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      throw WebhookRejected(400, "umsatzio.webhook_bad_json",
                            "The webhook body is not a JSON object.");
    }
    std::string event;
    for (const char* key : {"event", "trigger", "type"}) {
      if (body.contains(key) && body[key].is_string()) {
        event = body[key].get<std::string>();
        break;
      }
    }
    if (event.empty()) {
      throw WebhookRejected(400, "umsatzio.webhook_no_event",
                            "The webhook body names no event (expected a member 'event').");
    }
    if (event != kind_.event) {
      return {};
    }
    const Json data = body.contains("data") && body["data"].is_object()
                          ? body["data"]
                          : (body.contains("payload") && body["payload"].is_object() ? body["payload"] : body);
    Json payload = kind_.payload(data, ctx);
    if (kind_.matches && !kind_.matches(payload, filters, ctx)) {
      return {};
    }
    payload["raw"] = request.body;
    Event e;
    std::string occurredAt = sdk::member(body, "occurredAt", "");
    if (occurredAt.empty() || !parseIsoMillis(occurredAt)) {
      occurredAt = formatIso(ctx.clock().now());
    }
    e.occurredAt = occurredAt;
    const Json key = payload.value(kind_.recordKey, Json());
    e.recordKey = key.is_string() ? key.get<std::string>() : key.dump();
    // A record is created once: its created event is keyed by the record, not by the delivery,
    // so the same creation delivered to several webhooks (one per ferry worker) or re-sent with
    // a fresh delivery id is one event for the inbox's dedupe. Changes keep the delivery id.
    const Json createdId = payload.value("id", payload.value("submissionId", Json()));
    const bool created = kind_.event == "newContact" || kind_.event == "newDeal" ||
                         kind_.event == "newActivity" || kind_.event == "submitForm";
    if (created && createdId.is_string() && !createdId.get<std::string>().empty()) {
      e.id = kind_.event + ":" + createdId.get<std::string>();
    } else if (body.contains("id") && body["id"].is_string()) {
      e.id = body["id"].get<std::string>();
    } else {
      const Json entityId = payload.value("id", payload.value("submissionId", Json()));
      e.id = event + ":" + (entityId.is_string() ? entityId.get<std::string>() : entityId.dump()) +
             ":" + occurredAt;
    }
    e.payload = std::move(payload);
    return {std::move(e)};
  }

 private:
  static std::vector<Json> webhooksFor(Client& client, const std::string& url) {
    const Json data = client.execute("query Webhooks { webhooks { id url triggers properties } }", Json::object());
    std::vector<Json> mine;
    for (const auto& hook : valueAt(data, "webhooks")) {
      if (hook.is_object() && sdk::member(hook, "url", "") == url) {
        mine.push_back(hook);
      }
    }
    return mine;
  }

  static void deleteWebhook(Client& client, const Json& id) {
    try {
      client.execute("mutation DeleteWebhook($id: ID!) { deleteWebhook(id: $id) }", {{"id", id}});
    } catch (const OperationError& e) {
      if (e.kind != ErrorKind::NotFound) {  // already gone: the goal is reached
        throw;
      }
    }
  }

  // Size, then the shared secret: an HMAC-SHA256 header (secret `webhook_secret`) and/or a
  // path token (secret or setting `webhook_path_token`). Neither configured: accepted.
  void authenticate(Context& ctx, const WebhookRequest& request) {
    // A limit below 1 byte would refuse every delivery, and a negative one read as unsigned
    // would be no limit at all: both mean the default.
    const auto configured = sdk::member(ctx.connection().settings, "webhook_max_body_bytes", 0LL);
    const std::size_t limit = configured >= 1 ? static_cast<std::size_t>(configured) : kDefaultMaxBody;
    if (request.body.size() > limit) {
      throw WebhookRejected(413, "umsatzio.webhook_too_large",
                            "The webhook body has " + std::to_string(request.body.size()) +
                                " bytes; the limit (setting 'webhook_max_body_bytes') is " +
                                std::to_string(limit) + ".");
    }
    if (auto secret = ctx.secrets().get("webhook_secret"); secret && !secret->empty()) {
      const std::string header = settingString(ctx, "webhook_signature_header", "x-umsatzio-signature");
      auto given = findHeader(request.headers, header);
      if (!given) {
        throw WebhookRejected(401, "umsatzio.webhook_unsigned",
                              "The webhook request has no signature header '" + header + "'.");
      }
      std::string sig = *given;
      if (sig.rfind("sha256=", 0) == 0) {
        sig = sig.substr(7);
      }
      std::transform(sig.begin(), sig.end(), sig.begin(), [](unsigned char c) { return std::tolower(c); });
      if (!constantTimeEquals(sig, hmacSha256Hex(*secret, request.body))) {
        throw WebhookRejected(401, "umsatzio.webhook_bad_signature",
                              "The webhook signature does not match the body.");
      }
    }
    std::string token = ctx.secrets().get("webhook_path_token").value_or("");
    if (token.empty()) {
      token = settingString(ctx, "webhook_path_token", "");
    }
    if (!token.empty()) {
      std::string path = request.path;
      while (!path.empty() && path.back() == '/') {
        path.pop_back();
      }
      const std::string last = path.substr(path.find_last_of('/') + 1);
      const std::string query = queryParam(request.query, "token");
      if (!constantTimeEquals(last, token) && !constantTimeEquals(query, token)) {
        throw WebhookRejected(401, "umsatzio.webhook_bad_token",
                              "The webhook URL does not carry the connection's path token.");
      }
    }
  }

  Kind kind_;
};

}  // namespace

std::vector<TriggerDecl> webhookTriggers() {
  std::vector<TriggerDecl> out;
  for (auto& kind : kinds()) {
    OperationSpec op;
    op.id = kind.id;
    op.kind = OperationKind::Trigger;
    op.summary = kind.summary;
    op.description = "Umsatz-io webhook trigger '" + kind.event +
                     "'. subscribe registers one webhook per URL (createWebhook), unsubscribe removes it.";
    op.input = kind.filters;
    op.output = kind.output;
    op.delivery = Delivery::Webhook;
    op.recordKey = kind.recordKey;
    op.coalesce = kind.coalesce;
    op.examples = {Example{"delivery", kind.exampleFilters, kind.examplePayload}};
    out.push_back({std::move(op), std::make_unique<WebhookTrigger>(std::move(kind))});
  }
  return out;
}

}  // namespace ferry::plugins::umsatzio

// flowfix: a small but real connector for flow tests. Its triggers mirror the shapes of the
// Umsatz-io events (normalised contact, activity and note events) and its actions mirror GHL's
// (camelCase inputs, locationId filled from the connection setting `location_id`, envelopes
// kept in outputs). Each action sends one real HTTP request through the Context's HttpClient.
#include "ferry/sdk/plugin.hpp"
#include "ferry/sdk/sdk.hpp"
#include "support/fixture_connector.hpp"

namespace ferry::flowfix {

using namespace ferry::sdk;
namespace fixture = ferry::testing::fixture;

// Sends `body` (or nothing) to {baseUrl}{path} with GHL-style headers; throws on 4xx/5xx.
Json call(Context& ctx, const std::string& method, const std::string& path, const Json* body) {
  HttpRequest req;
  req.method = method;
  req.url = ctx.connection().baseUrl + path;
  req.headers = {{"Accept", "application/json"}, {"Version", "2021-07-28"}};
  if (auto token = ctx.secrets().get("token")) {
    req.headers.emplace_back("Authorization", "Bearer " + *token);
  }
  if (body != nullptr) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = body->dump();
  }
  const auto res = ctx.http().send(req);
  if (res.status == 401) {
    throw OperationError(ErrorKind::Auth, "flowfix.unauthorized", "The token was refused.");
  }
  if (res.status >= 500) {
    throw OperationError(ErrorKind::Transient, "flowfix.server", "The server failed.");
  }
  if (res.status >= 400) {
    throw OperationError(ErrorKind::Invalid, "flowfix.rejected",
                         "The server rejected the request (" + std::to_string(res.status) + ").");
  }
  const Json out = Json::parse(res.body, nullptr, false);
  if (out.is_discarded()) {
    throw OperationError(ErrorKind::Permanent, "flowfix.bad_response", "The answer is not JSON.");
  }
  return out;
}

std::string locationOf(const Json& input, Context& ctx) {
  if (input.contains("locationId")) {
    return input["locationId"].get<std::string>();
  }
  return ctx.connection().settings.value("location_id", "");
}

class ContactUpsert : public Action {
 public:
  Json invoke(const Json& input, Context& ctx) override {
    Json body = input;
    body["locationId"] = locationOf(input, ctx);
    return call(ctx, "POST", "/contacts/upsert", &body);
  }
};

class ContactGet : public Action {
 public:
  Json invoke(const Json& input, Context& ctx) override {
    return call(ctx, "GET", "/contacts/" + urlEncode(input["contactId"].get<std::string>()),
                nullptr);
  }
};

class TaskCreate : public Action {
 public:
  Json invoke(const Json& input, Context& ctx) override {
    Json body = input;
    body.erase("contactId");
    return call(ctx, "POST",
                "/contacts/" + urlEncode(input["contactId"].get<std::string>()) + "/tasks", &body);
  }
};

class NoteCreate : public Action {
 public:
  Json invoke(const Json& input, Context& ctx) override {
    Json body = input;
    body.erase("contactId");
    return call(ctx, "POST",
                "/contacts/" + urlEncode(input["contactId"].get<std::string>()) + "/notes", &body);
  }
};

// Webhook triggers whose body is the event payload itself.
class PayloadTrigger : public Trigger {
 public:
  void subscribe(Context&, const Json&, const std::string&) override {}
  void unsubscribe(Context&, const Json&, const std::string&) override {}
  std::vector<Event> receive(Context&, const Json&, const WebhookRequest& request) override {
    const Json body = Json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body.contains("id")) {
      throw WebhookRejected(400, "flowfix.malformed", "The body is not an event.");
    }
    Event e;
    e.id = body["id"].dump();
    e.recordKey = e.id;
    e.payload = body;
    return {e};
  }
};

std::vector<Field> contactFields() {
  return {str("id").require().describe("The contact's id."),
          str("email").describe("Primary e-mail."),
          str("firstName"),
          str("lastName"),
          str("phone").describe("As typed in the CRM."),
          str("company"),
          object("data", {}).open().describe("Raw fields by API name."),
          datetime("createdAt"),
          datetime("updatedAt")};
}

Field contactOut() {
  return object("contact", {str("id").require(), str("email"), str("firstName"), str("lastName"),
                            str("phone"), str("companyName"), str("locationId")});
}

class FlowfixConnector : public BasicConnector {
 public:
  FlowfixConnector() : BasicConnector(makeSpec()) {
    const Json contactEvent = {{"id", "1001"},
                               {"email", "Anna.Schmidt@Example.de"},
                               {"firstName", "Anna"},
                               {"lastName", "Schmidt"},
                               {"phone", "0171 1234567"},
                               {"company", "Schmidt GmbH"},
                               {"data", Json::object()},
                               {"createdAt", "2026-11-26T09:00:00Z"},
                               {"updatedAt", "2026-11-26T09:00:00Z"}};
    {
      OperationSpec op;
      op.id = "flowfix.contact.created";
      op.summary = "A contact was created";
      op.delivery = Delivery::Webhook;
      op.input = {str("pipelineId").describe("Only contacts of this pipeline.")};
      op.output = contactFields();
      op.scopes = {"contacts.readonly"};
      op.recordKey = "id";
      op.examples = {{"A new contact", Json::object(), contactEvent}};
      add(op, std::make_unique<PayloadTrigger>());
    }
    {
      OperationSpec op;
      op.id = "flowfix.activity.created";
      op.summary = "An activity was logged";
      op.delivery = Delivery::Webhook;
      op.output = {str("id").require(),
                   str("contactId").require(),
                   str("kind").oneOf({"phone_call", "email"}),
                   str("description"),
                   datetime("activityTime"),
                   str("phoneCallResult"),
                   str("phoneCallActivityTypeId"),
                   datetime("followUpAt"),
                   object("contact", contactFields())};
      op.scopes = {"activities.readonly"};
      op.recordKey = "contactId";
      op.examples = {{"A call with a follow-up",
                      Json::object(),
                      {{"id", "a-1"},
                       {"contactId", "1001"},
                       {"kind", "phone_call"},
                       {"description", "Rückruf vereinbart"},
                       {"activityTime", "2026-11-26T10:00:00Z"},
                       {"phoneCallResult", "follow_up"},
                       {"followUpAt", "2026-11-28T09:00:00Z"},
                       {"contact", contactEvent}}}};
      add(op, std::make_unique<PayloadTrigger>());
    }
    {
      OperationSpec op;
      op.id = "flowfix.note.created";
      op.summary = "A note was written";
      op.delivery = Delivery::Webhook;
      op.output = {str("id").require(), str("contactId").require(),
                   str("content"),      str("description").withFormat("slate"),
                   boolean("isPinned"), datetime("createdAt")};
      op.scopes = {"notes.readonly"};
      op.recordKey = "contactId";
      op.examples = {{"A note",
                      Json::object(),
                      {{"id", "n-1"},
                       {"contactId", "1001"},
                       {"content", "Hello"},
                       {"description", R"([{"type":"paragraph","children":[{"text":"Hello"}]}])"},
                       {"isPinned", false},
                       {"createdAt", "2026-11-26T11:00:00Z"}}}};
      add(op, std::make_unique<PayloadTrigger>());
    }
    {
      OperationSpec op;
      op.id = "flowfix.contact.upsert";
      op.summary = "Create or update a contact";
      op.input = {str("locationId")
                      .require()
                      .describe("Filled from the connection setting "
                                "location_id when not mapped."),
                  str("email").withFormat("email"),
                  str("firstName"),
                  str("lastName"),
                  str("phone").withFormat("phone"),
                  str("companyName"),
                  str("source"),
                  array("tags", str("tag"))};
      op.output = {boolean("new"), contactOut(), str("traceId")};
      op.scopes = {"contacts.write"};
      op.method = "POST";
      op.path = "/contacts/upsert";
      op.recordKey = "contact.id";
      op.examples = {{"Upsert",
                      {{"locationId", "loc-1"}, {"email", "anna@example.de"}},
                      {{"new", true},
                       {"contact", {{"id", "ghl-c-1"}, {"email", "anna@example.de"}}},
                       {"traceId", "t-1"}}}};
      add(op, std::make_unique<ContactUpsert>());
    }
    {
      OperationSpec op;
      op.id = "flowfix.contact.get";
      op.summary = "Get a contact";
      op.input = {str("contactId").require()};
      op.output = {contactOut()};
      op.scopes = {"contacts.readonly"};
      op.method = "GET";
      op.path = "/contacts/{contactId}";
      op.examples = {{"Get",
                      {{"contactId", "ghl-c-1"}},
                      {{"contact", {{"id", "ghl-c-1"}, {"email", "anna@example.de"}}}}}};
      add(op, std::make_unique<ContactGet>());
    }
    {
      OperationSpec op;
      op.id = "flowfix.task.create";
      op.summary = "Create a task on a contact";
      op.input = {str("contactId").require(),
                  str("title").require(),
                  str("body"),
                  datetime("dueDate").require(),
                  boolean("completed").defaults(false),
                  str("status").oneOf({"incompleted", "completed"}),
                  str("assignedTo")};
      op.output = {object(
          "task", {str("id").require(), str("title"), datetime("dueDate"), boolean("completed")})};
      op.scopes = {"contacts.write"};
      op.method = "POST";
      op.path = "/contacts/{contactId}/tasks";
      op.examples = {
          {"Create",
           {{"contactId", "ghl-c-1"}, {"title", "Call back"}, {"dueDate", "2026-11-28T09:00:00Z"}},
           {{"task",
             {{"id", "ghl-t-1"},
              {"title", "Call back"},
              {"dueDate", "2026-11-28T09:00:00Z"},
              {"completed", false}}}}}};
      add(op, std::make_unique<TaskCreate>());
    }
    {
      OperationSpec op;
      op.id = "flowfix.note.create";
      op.summary = "Create a note on a contact";
      op.input = {str("contactId").require(), str("body").require(), str("userId")};
      op.output = {object("note", {str("id").require(), str("body")})};
      op.scopes = {"contacts.write"};
      op.method = "POST";
      op.path = "/contacts/{contactId}/notes";
      op.examples = {{"Create",
                      {{"contactId", "ghl-c-1"}, {"body", "Hello"}},
                      {{"note", {{"id", "ghl-n-1"}, {"body", "Hello"}}}}}};
      add(op, std::make_unique<NoteCreate>());
    }
  }

 private:
  static ConnectorSpec makeSpec() {
    auto spec = fixture::connectorSpec(
        "flowfix", "Flow fixture",
        "A connector shaped like Umsatz-io events and GHL actions, for flow tests.");
    spec.auth = {{"private_token", "A bearer token.", {str("token").describe("The token.")}}};
    spec.settings = {
        str("base_url").defaults("https://flowfix.example.test"),
        str("location_id").describe("Fills `locationId` when a flow does not map it.")};
    spec.scopes = {"contacts.readonly", "contacts.write", "activities.readonly", "notes.readonly"};
    return spec;
  }
};

std::unique_ptr<Connector> create() { return std::make_unique<FlowfixConnector>(); }

}  // namespace ferry::flowfix

FERRY_PLUGIN(ferry::flowfix::create)

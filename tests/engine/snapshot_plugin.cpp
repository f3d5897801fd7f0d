// A fixture plugin for the runtime tests of coalescing: two webhook triggers with the same
// events, one declaring its events snapshots of their record (OperationSpec::coalesce) and one
// not, named so that the trigger id's suffix would suggest the opposite. And one action that
// POSTs to {baseUrl}/messages.
#include "ferry/sdk/plugin.hpp"
#include "ferry/sdk/sdk.hpp"

namespace ferry::snapshotplugin {

using namespace ferry::sdk;

class Send : public Action {
 public:
  Json invoke(const Json& input, Context& ctx) override {
    HttpRequest req;
    req.method = "POST";
    req.url = ctx.connection().baseUrl + "/messages";
    req.headers = {{"Content-Type", "application/json"}};
    req.body = input.dump();
    const auto res = ctx.http().send(req);
    if (res.status >= 500) {
      throw OperationError(ErrorKind::Transient, "snap.server", "The server failed.");
    }
    if (res.status >= 400) {
      throw OperationError(ErrorKind::Invalid, "snap.rejected", "The server refused it.");
    }
    const Json body = Json::parse(res.body, nullptr, false);
    return {{"id", body.value("id", "")}, {"text", input.value("text", "")}};
  }
};

// The body is {"id": <event id>, "record": <record id>, "text": ...}.
class Record : public Trigger {
 public:
  void subscribe(Context&, const Json&, const std::string&) override {}
  void unsubscribe(Context&, const Json&, const std::string&) override {}
  std::vector<Event> receive(Context&, const Json&, const WebhookRequest& request) override {
    const Json body = Json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body.contains("id") || !body.contains("record")) {
      throw WebhookRejected(400, "snap.malformed", "The body is not a record event.");
    }
    Event e;
    e.id = body["id"].get<std::string>();
    e.recordKey = body["record"].get<std::string>();
    e.payload = {{"record", e.recordKey}, {"text", body.value("text", "")}};
    return {e};
  }
};

class SnapConnector : public BasicConnector {
 public:
  SnapConnector() : BasicConnector(makeSpec()) {
    OperationSpec send;
    send.id = "snap.record.send";
    send.summary = "Send a record's text to the test server";
    send.input = {str("text").require().describe("The text.")};
    send.output = {str("id").describe("The server's id."), str("text").describe("The text.")};
    send.method = "POST";
    send.path = "/messages";
    send.examples = {{"Send", {{"text", "a"}}, {{"id", "m1"}, {"text", "a"}}}};
    add(send, std::make_unique<Send>());

    for (const auto& [id, coalesce] :
         std::vector<std::pair<std::string, bool>>{{"snap.record.edited", true},
                                                   {"snap.record.updated", false}}) {
      OperationSpec t;
      t.id = id;
      t.kind = OperationKind::Trigger;
      t.summary = coalesce ? "A record changed (each event is the whole record)"
                           : "A record changed (each event is a fact of its own)";
      t.delivery = Delivery::Webhook;
      t.output = {str("record").require().describe("The record id."),
                  str("text").describe("The record's text.")};
      t.recordKey = "record";
      t.coalesce = coalesce;
      t.examples = {{"An event", Json::object(), {{"record", "r1"}, {"text", "hi"}}}};
      add(t, std::make_unique<Record>());
    }
  }

 private:
  static ConnectorSpec makeSpec() {
    ConnectorSpec spec;
    spec.id = "snap";
    spec.name = "Snapshot";
    spec.version = "1.0.0";
    spec.description = "A fixture connector for coalescing tests.";
    spec.auth = {{"none", "No credentials.", {}}};
    return spec;
  }
};

std::unique_ptr<Connector> create() { return std::make_unique<SnapConnector>(); }

}  // namespace ferry::snapshotplugin

FERRY_PLUGIN(ferry::snapshotplugin::create)

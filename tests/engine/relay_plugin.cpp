// A fixture plugin for the runtime tests of issue 7 (poll races, lease renewal): a polling
// trigger whose events are snapshots of one record (it declares coalesce), and an action that
// POSTs to {baseUrl}/messages. The test's own server answers both, so the test decides when an
// answer comes (a poll's fetch held back, a call that runs longer than the lease).
#include "ferry/sdk/plugin.hpp"
#include "ferry/sdk/sdk.hpp"

namespace ferry::relayplugin {

using namespace ferry::sdk;

class Send : public Action {
 public:
  Json invoke(const Json& input, Context& ctx) override {
    HttpRequest req;
    req.method = "POST";
    req.url = ctx.connection().baseUrl + "/messages";
    req.headers = {{"Content-Type", "application/json"}};
    req.body = input.dump();
    req.timeout = std::chrono::seconds(120);
    const auto res = ctx.http().send(req);
    if (res.status >= 500) {
      throw OperationError(ErrorKind::Transient, "relay.server", "The server failed.");
    }
    if (res.status >= 400) {
      throw OperationError(ErrorKind::Invalid, "relay.rejected", "The server refused it.");
    }
    const Json body = Json::parse(res.body, nullptr, false);
    return {{"id", body.is_object() ? body.value("id", "") : ""}, {"text", input.value("text", "")}};
  }
};

// GET {baseUrl}/records?after=N answers {"records": [{"record", "version", "text"}]}: the
// current version of every record changed after version N. Cursor: {"after": N}.
class Polled : public Trigger {
 public:
  PollResult poll(Context& ctx, const Json&, const Json& cursor) override {
    const long long after = cursor.is_object() ? cursor.value("after", 0LL) : 0LL;
    HttpRequest req;
    req.method = "GET";
    req.url = ctx.connection().baseUrl + "/records?after=" + std::to_string(after);
    req.timeout = std::chrono::seconds(120);
    const auto res = ctx.http().send(req);
    if (res.status != 200) {
      throw OperationError(ErrorKind::Transient, "relay.server", "The record list failed.");
    }
    const Json body = Json::parse(res.body, nullptr, false);
    PollResult out;
    long long newest = after;
    for (const auto& r : body.value("records", Json::array())) {
      Event e;
      const long long v = r.value("version", 0LL);
      e.recordKey = r.value("record", "");
      e.id = e.recordKey + "@" + std::to_string(v);
      e.payload = {{"record", e.recordKey}, {"version", v}, {"text", r.value("text", "")}};
      newest = std::max(newest, v);
      out.events.push_back(std::move(e));
    }
    out.cursor = {{"after", newest}};
    return out;
  }
};

class RelayConnector : public BasicConnector {
 public:
  RelayConnector() : BasicConnector(makeSpec()) {
    OperationSpec send;
    send.id = "relay.record.send";
    send.summary = "Send a record's text to the test server";
    send.input = {str("text").require().describe("The text.")};
    send.output = {str("id").describe("The server's id."), str("text").describe("The text.")};
    send.method = "POST";
    send.path = "/messages";
    send.examples = {{"Send", {{"text", "a"}}, {{"id", "m1"}, {"text", "a"}}}};
    add(send, std::make_unique<Send>());

    OperationSpec polled;
    polled.id = "relay.record.polled";
    polled.kind = OperationKind::Trigger;
    polled.summary = "A record was created or changed (polled; each event is the whole record)";
    polled.delivery = Delivery::Poll;
    polled.output = {str("record").require().describe("The record id."),
                     integer("version").describe("The record's version."),
                     str("text").describe("The record's text.")};
    polled.recordKey = "record";
    polled.coalesce = true;
    polled.examples = {{"A version", Json::object(), {{"record", "r1"}, {"version", 1}, {"text", "hi"}}}};
    add(polled, std::make_unique<Polled>());
  }

 private:
  static ConnectorSpec makeSpec() {
    ConnectorSpec spec;
    spec.id = "relay";
    spec.name = "Relay";
    spec.version = "1.0.0";
    spec.description = "A fixture connector for poll-race and lease-renewal tests.";
    spec.auth = {{"none", "No credentials.", {}}};
    return spec;
  }
};

std::unique_ptr<Connector> create() { return std::make_unique<RelayConnector>(); }

}  // namespace ferry::relayplugin

FERRY_PLUGIN(ferry::relayplugin::create)

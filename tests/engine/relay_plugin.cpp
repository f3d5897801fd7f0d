// A fixture plugin for the runtime tests of issue 7 (poll races, lease renewal): a polling
// trigger whose events are snapshots of one record (it declares coalesce), and an action that
// POSTs to {baseUrl}/messages. The test's own server answers both, so the test decides when an
// answer comes (a poll's fetch held back, a call that runs longer than the lease).
#include "ferry/sdk/plugin.hpp"
#include "ferry/sdk/sdk.hpp"
#include "support/fixture_connector.hpp"

namespace ferry::relayplugin {

using namespace ferry::sdk;
namespace fixture = ferry::testing::fixture;

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
  RelayConnector()
      : BasicConnector(fixture::connectorSpec(
            "relay", "Relay", "A fixture connector for poll-race and lease-renewal tests.")) {
    // The test's server may hold an answer back for longer than a lease.
    add(fixture::sendTextSpec("relay.record.send"),
        std::make_unique<fixture::SendText>("relay", std::chrono::seconds(120)));
    auto polled = fixture::triggerSpec(
        "relay.record.polled",
        "A record was created or changed (polled; each event is the whole record)",
        Delivery::Poll,
        {str("record").require().describe("The record id."),
         integer("version").describe("The record's version."),
         str("text").describe("The record's text.")},
        "record", {{"record", "r1"}, {"version", 1}, {"text", "hi"}}, "A version");
    polled.coalesce = true;
    add(polled, std::make_unique<Polled>());
  }
};

std::unique_ptr<Connector> create() { return std::make_unique<RelayConnector>(); }

}  // namespace ferry::relayplugin

FERRY_PLUGIN(ferry::relayplugin::create)

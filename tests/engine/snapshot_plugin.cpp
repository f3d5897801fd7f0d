// A fixture plugin for the runtime tests of coalescing: two webhook triggers with the same
// events, one declaring its events snapshots of their record (OperationSpec::coalesce) and one
// not, named so that the trigger id's suffix would suggest the opposite. And one action that
// POSTs to {baseUrl}/messages.
#include "ferry/sdk/plugin.hpp"
#include "ferry/sdk/sdk.hpp"
#include "support/fixture_connector.hpp"

namespace ferry::snapshotplugin {

using namespace ferry::sdk;
namespace fixture = ferry::testing::fixture;

// The body is {"id": <event id>, "record": <record id>, "text": ...}. An id or record that is not
// a string throws nlohmann's type_error out of receive(), on purpose: it stands for a plugin bug.
class Record : public Trigger {
 public:
  void subscribe(Context&, const Json&, const std::string&) override {}
  void unsubscribe(Context&, const Json&, const std::string&) override {}
  std::vector<Event> receive(Context&, const Json&, const WebhookRequest& request) override {
    const Json body = Json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body.contains("id") || !body.contains("record")) {
      // Quotes what it got, which need not be UTF-8 (the engine's reply must still be JSON).
      throw WebhookRejected(400, "snap.malformed",
                            "The body is not a record event: " + request.body.substr(0, 80));
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
  SnapConnector()
      : BasicConnector(fixture::connectorSpec("snap", "Snapshot",
                                              "A fixture connector for coalescing tests.")) {
    add(fixture::sendTextSpec("snap.record.send"), std::make_unique<fixture::SendText>("snap"));
    for (const auto& [id, coalesce] :
         std::vector<std::pair<std::string, bool>>{{"snap.record.edited", true},
                                                   {"snap.record.updated", false}}) {
      auto t = fixture::triggerSpec(id,
                                    coalesce ? "A record changed (each event is the whole record)"
                                             : "A record changed (each event is a fact of its own)",
                                    Delivery::Webhook,
                                    {str("record").require().describe("The record id."),
                                     str("text").describe("The record's text.")},
                                    "record", {{"record", "r1"}, {"text", "hi"}});
      t.coalesce = coalesce;
      add(t, std::make_unique<Record>());
    }
  }
};

std::unique_ptr<Connector> create() { return std::make_unique<SnapConnector>(); }

}  // namespace ferry::snapshotplugin

FERRY_PLUGIN(ferry::snapshotplugin::create)

#include "conformance.hpp"
#include "support.hpp"

namespace {

struct GhlPlugin {
  static std::shared_ptr<ferry::sdk::Connector> create() { return ferry::tests::ghl::loadGhl(); }
};

}  // namespace

namespace ferry::sdk::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Ghl, ConnectorConformance, ::testing::Types<GhlPlugin>);
}  // namespace ferry::sdk::testing

namespace ferry::tests::ghl {
namespace {

TEST(GhlDeclaration, DeclaresEveryAgreedOperationId) {
  const std::vector<std::string> ids = {"ghl.contact.get",
                                        "ghl.contact.create",
                                        "ghl.contact.update",
                                        "ghl.contact.delete",
                                        "ghl.contact.upsert",
                                        "ghl.contact.search",
                                        "ghl.contact.find_duplicate",
                                        "ghl.contact.list",
                                        "ghl.contact.list_by_business",
                                        "ghl.contact.bulk_tags",
                                        "ghl.contact.bulk_business",
                                        "ghl.task.list",
                                        "ghl.task.get",
                                        "ghl.task.create",
                                        "ghl.task.update",
                                        "ghl.task.delete",
                                        "ghl.task.complete",
                                        "ghl.note.list",
                                        "ghl.note.get",
                                        "ghl.note.create",
                                        "ghl.note.update",
                                        "ghl.note.delete",
                                        "ghl.tag.add",
                                        "ghl.tag.remove",
                                        "ghl.follower.add",
                                        "ghl.follower.remove",
                                        "ghl.campaign.add_contact",
                                        "ghl.campaign.remove_contact",
                                        "ghl.campaign.remove_contact_all",
                                        "ghl.workflow.add_contact",
                                        "ghl.workflow.remove_contact",
                                        "ghl.appointment.list_for_contact",
                                        "ghl.business.list",
                                        "ghl.business.get",
                                        "ghl.business.create",
                                        "ghl.business.update",
                                        "ghl.business.delete",
                                        "ghl.location_tag.list",
                                        "ghl.location_tag.get",
                                        "ghl.location_tag.create",
                                        "ghl.location_tag.update",
                                        "ghl.location_tag.delete",
                                        "ghl.custom_field.list",
                                        "ghl.custom_field.get",
                                        "ghl.custom_field.create",
                                        "ghl.custom_field.update",
                                        "ghl.custom_field.delete",
                                        "ghl.custom_value.list",
                                        "ghl.custom_value.get",
                                        "ghl.custom_value.create",
                                        "ghl.custom_value.update",
                                        "ghl.custom_value.delete",
                                        "ghl.location_task.search"};
  const std::vector<std::string> triggers = {
      "ghl.contact.created",     "ghl.contact.updated",     "ghl.contact.deleted",
      "ghl.contact.tag_updated", "ghl.contact.dnd_updated", "ghl.task.created",
      "ghl.task.completed",      "ghl.task.deleted",        "ghl.note.created",
      "ghl.note.updated",        "ghl.note.deleted",        "ghl.appointment.created",
      "ghl.appointment.updated", "ghl.appointment.deleted", "ghl.app.installed",
      "ghl.app.uninstalled"};
  auto connector = loadGhl();
  for (const auto& id : ids) {
    EXPECT_NE(connector->action(id), nullptr) << id;
  }
  for (const auto& id : triggers) {
    ASSERT_NE(connector->trigger(id), nullptr) << id;
    EXPECT_EQ(connector->spec().find(id)->delivery, sdk::Delivery::Webhook) << id;
  }
  // 53 REST actions, the two OAuth helpers, 16 webhook triggers.
  EXPECT_NE(connector->action("ghl.oauth.exchange_code"), nullptr);
  EXPECT_NE(connector->action("ghl.oauth.location_token"), nullptr);
  EXPECT_EQ(connector->spec().operations.size(), ids.size() + 2 + triggers.size());
}

TEST(GhlDeclaration, EnvelopesAgreedWithTheOtherConnectorsAreKept) {
  const auto& spec = loadGhl()->spec();
  EXPECT_NE(sdk::findField(spec.find("ghl.contact.upsert")->output, "new"), nullptr);
  EXPECT_NE(sdk::findField(spec.find("ghl.contact.upsert")->output, "contact.id"), nullptr);
  EXPECT_NE(sdk::findField(spec.find("ghl.contact.upsert")->output, "traceId"), nullptr);
  EXPECT_NE(sdk::findField(spec.find("ghl.contact.get")->output, "contact.id"), nullptr);
  EXPECT_NE(sdk::findField(spec.find("ghl.task.create")->output, "task.id"), nullptr);
  EXPECT_NE(sdk::findField(spec.find("ghl.note.create")->output, "note.id"), nullptr);
  const auto* completed = sdk::findField(spec.find("ghl.task.complete")->input, "completed");
  ASSERT_NE(completed, nullptr);
  EXPECT_TRUE(completed->required);
  EXPECT_EQ(completed->type, sdk::Type::Boolean);
}

TEST(GhlDeclaration, LocationIdIsOptionalBecauseTheConnectionFillsIt) {
  for (const auto& op : loadGhl()->spec().operations) {
    if (const auto* field = sdk::findField(op.input, "locationId");
        field != nullptr && op.kind == sdk::OperationKind::Action) {
      EXPECT_FALSE(field->required) << op.id;
      EXPECT_NE(field->description.find("location_id"), std::string::npos) << op.id;
    }
  }
}

}  // namespace
}  // namespace ferry::tests::ghl

#include "client.hpp"
#include "operations.hpp"

namespace ferry::plugins::umsatzio {

namespace {

using namespace sdk;

const std::vector<std::string> kTriggerNames = {"newContact",       "changeContactProperty",
                                                "newDeal",          "changeDealProperty",
                                                "updateDealStage",  "submitForm",
                                                "newActivity"};

Schema webhookSchema() {
  return {str("id").require().describe("Webhook id."),
          str("url").withFormat("uri").describe("Where Umsatz-io POSTs events."),
          array("triggers", str("trigger").oneOf(kTriggerNames).describe("A trigger name."))
              .describe("The events delivered."),
          array("properties", str("property").describe("A field API name, pipeline/stage/form id or call filter."))
              .describe("Trigger filter: watched properties, pipeline/stage, form ids, call type/results.")};
}

Json exampleWebhook() {
  return {{"id", "wh_1"},
          {"url", "https://ferry.example.de/hooks/umsatzio"},
          {"triggers", {"newContact"}},
          {"properties", Json::array()}};
}

Json webhookInput(const Json& input) {
  Json in = {{"url", input.at("url")}, {"triggers", input.at("triggers")}};
  in["properties"] = input.value("properties", Json::array());
  return in;
}

}  // namespace

std::vector<ActionDecl> webhookActions() {
  std::vector<ActionDecl> out;
  constexpr const char* f = "id url triggers properties";

  auto list = schema::action("umsatzio.webhook.list", "List the registered webhooks", {},
                             {array("items", object("webhook", webhookSchema()).describe("A webhook."))
                                  .require()
                                  .describe("Every webhook.")},
                             "webhooks");
  list.examples = {schema::example("one", Json::object(), {{"items", {exampleWebhook()}}})};
  out.push_back(graphqlAction(std::move(list), std::string("query Webhooks { webhooks { ") + f + " } }",
                              pick({}), wrap("webhooks", "items")));

  Schema writeIn = {
      str("url").require().withFormat("uri").describe("Where to deliver."),
      array("triggers", str("trigger").oneOf(kTriggerNames).describe("A trigger name."))
          .require()
          .describe("The events to deliver."),
      array("properties", str("property").describe("A filter value.")).describe("Trigger filter.")};
  auto create = schema::action("umsatzio.webhook.create", "Register a webhook", writeIn,
                               webhookSchema(), "createWebhook");
  create.examples = {schema::example(
      "new contacts", {{"url", "https://ferry.example.de/hooks/umsatzio"}, {"triggers", {"newContact"}}},
      exampleWebhook())};
  out.push_back(graphqlAction(
      std::move(create),
      std::string("mutation CreateWebhook($input: WebhookInput!) { createWebhook(input: $input) { ") +
          f + " } }",
      [](const Json& input, Context&) { return Json{{"input", webhookInput(input)}}; },
      at("createWebhook")));

  Schema updateIn = {str("webhookId").require().describe("The webhook to change.")};
  for (auto& fld : writeIn) {
    updateIn.push_back(fld);
  }
  auto update = schema::action("umsatzio.webhook.update", "Change a webhook's URL, triggers or filter",
                               updateIn, webhookSchema(), "updateWebhook");
  update.examples = {schema::example("add trigger",
                                     {{"webhookId", "wh_1"},
                                      {"url", "https://ferry.example.de/hooks/umsatzio"},
                                      {"triggers", {"newContact"}}},
                                     exampleWebhook())};
  out.push_back(graphqlAction(
      std::move(update),
      std::string("mutation UpdateWebhook($id: ID!, $input: WebhookInput!) { updateWebhook(id: $id, "
                  "input: $input) { ") +
          f + " } }",
      [](const Json& input, Context&) {
        return Json{{"id", input.at("webhookId")}, {"input", webhookInput(input)}};
      },
      at("updateWebhook")));

  auto remove = schema::action("umsatzio.webhook.delete", "Delete a webhook",
                               {str("webhookId").require().describe("The webhook to delete.")},
                               {str("id").require().describe("The deleted webhook's id."),
                                boolean("deleted").require().describe("Always true on success.")},
                               "deleteWebhook");
  remove.examples = {schema::example("delete", {{"webhookId", "wh_1"}}, {{"id", "wh_1"}, {"deleted", true}})};
  out.push_back(graphqlAction(std::move(remove),
                              "mutation DeleteWebhook($id: ID!) { deleteWebhook(id: $id) }",
                              [](const Json& input, Context&) { return Json{{"id", input.at("webhookId")}}; },
                              [](const Json&, const Json& input, Context&) {
                                return Json{{"id", input.at("webhookId")}, {"deleted", true}};
                              }));
  return out;
}

}  // namespace ferry::plugins::umsatzio

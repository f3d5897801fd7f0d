// Account metadata: field cards, user accounts, forms.
#include "client.hpp"
#include "fields.hpp"
#include "operations.hpp"

namespace ferry::plugins::umsatzio {

namespace {

using namespace sdk;

constexpr const char* kCardsQuery =
    "query Cards($serviceType: ServiceType!) { cards(serviceType: $serviceType) { id name "
    "fields { id name label columnLabel fieldType required options { id value } } } }";

Schema fieldsOutput() {
  return {array("fields",
                object("field",
                       {str("id").describe("Field id."),
                        str("name").require().describe("API name: the key in `data`."),
                        str("label").describe("Label shown in Umsatz-io (German)."),
                        str("columnLabel").describe("Column label in lists."),
                        str("fieldType").describe("text, email, phone, dropdown, switch, ..."),
                        boolean("required").describe("Whether Umsatz-io requires a value."),
                        array("options", object("option", {str("id").describe("Option id."),
                                                           str("value").describe("Option text.")})
                                             .describe("An option."))
                            .describe("Options of dropdown and select fields."),
                        str("card").describe("The card (section) the field is on.")})
                    .describe("A field."))
              .require()
              .describe("Every field of the account for this kind of record.")};
}

ActionDecl cardAction(const std::string& serviceType) {
  auto op = schema::action("umsatzio.card.list_" + serviceType,
                           "List the " + serviceType + " fields (API names, labels, types)", {},
                           fieldsOutput(), "cards");
  op.description = "The answer to `ferry connection fields umsatzio`: use the API names in the "
                   "connection setting `field_map`.";
  op.recordKey = "";
  op.examples = {schema::example(
      "fields", Json::object(),
      {{"fields",
        {{{"id", "f_1"},
          {"name", serviceType == "contact" ? "global_contact_first_name" : "deal_value"},
          {"label", serviceType == "contact" ? "Vorname" : "Auftragswert"},
          {"fieldType", serviceType == "contact" ? "text" : "currency"},
          {"required", false},
          {"card", "Stammdaten"}}}}})};
  return {std::move(op),
          std::make_unique<GraphqlAction>(
              kCardsQuery, [serviceType](const Json&, Context&) { return Json{{"serviceType", serviceType}}; },
              [](const Json& data, const Json&, Context&) {
                return Json{{"fields", flattenCards(valueAt(data, "cards"))}};
              })};
}

}  // namespace

Json fetchFields(Context& ctx, const std::string& serviceType) {
  const Json data = Client(ctx).execute(kCardsQuery, {{"serviceType", serviceType}});
  return flattenCards(valueAt(data, "cards"));
}

std::vector<ActionDecl> directoryActions() {
  std::vector<ActionDecl> out;
  out.push_back(cardAction("contact"));
  out.push_back(cardAction("deal"));

  auto accounts = schema::action(
      "umsatzio.account.list", "List the users of the account", {},
      {integer("totalCount").describe("Users in the account."),
       array("items",
             object("account",
                    {str("id").require().describe("Account (user) id."),
                     str("role").describe("admin, setter, closer, ..."),
                     datetime("createdAt").describe("When the user was added."),
                     object("profile", {str("id").describe("Profile id."),
                                        str("email").describe("E-mail."),
                                        str("firstName").describe("First name."),
                                        str("lastName").describe("Last name.")})
                         .describe("The user's profile.")})
                 .describe("A user."))
           .require()
           .describe("The users.")},
      "accounts");
  accounts.examples = {schema::example(
      "users", Json::object(),
      {{"totalCount", 1},
       {"items",
        {{{"id", "ac_1"},
          {"role", "setter"},
          {"createdAt", "2026-01-05T08:00:00.000Z"},
          {"profile",
           {{"id", "pr_1"}, {"email", "lukas.weiss@vertrieb.de"}, {"firstName", "Lukas"}, {"lastName", "Weiß"}}}}}}})};
  out.push_back(graphqlAction(
      std::move(accounts),
      "query Accounts { accounts { totalCount items { id role createdAt profile { id email "
      "firstName lastName } } } }",
      pick({}), [](const Json& data, const Json&, Context&) {
        const Json a = valueAt(data, "accounts");
        return Json{{"totalCount", a.value("totalCount", 0)}, {"items", a.value("items", Json::array())}};
      }));

  auto forms = schema::action(
      "umsatzio.form.list", "List the forms", {},
      {array("items", object("form", {str("id").require().describe("Form id."),
                                      str("name").describe("Form name.")})
                          .describe("A form."))
           .require()
           .describe("Every form.")},
      "forms");
  forms.examples = {schema::example("forms", Json::object(),
                                    {{"items", {{{"id", "fm_1"}, {"name", "Kontaktformular Webseite"}}}}})};
  out.push_back(graphqlAction(std::move(forms), "query Forms { forms { id name } }", pick({}),
                              wrap("forms", "items")));
  return out;
}

}  // namespace ferry::plugins::umsatzio

#include "client.hpp"
#include "model.hpp"
#include "operations.hpp"

namespace ferry::plugins::umsatzio {

namespace {

using namespace sdk;

constexpr const char* kActivityFields =
    "id parentId description activityTime phoneCallResult phoneCallActivityTypeId followUpAt "
    "phoneNumber emailAddress";

Json exampleCall() {
  return {{"id", "ca_1"},
          {"contactId", "ct_1"},
          {"kind", "phone_call"},
          {"description", "Entscheider erreicht, will Angebot sehen."},
          {"activityTime", "2026-11-26T10:00:00.000Z"},
          {"phoneCallResult", "follow_up"},
          {"phoneCallActivityTypeId", "ct_opening"},
          {"followUpAt", "2026-11-28T09:00:00.000Z"},
          {"phoneNumber", "+49 89 1234567"}};
}

Json exampleEmail() {
  return {{"id", "em_1"},
          {"contactId", "ct_1"},
          {"kind", "email"},
          {"description", "Angebot per E-Mail geschickt."},
          {"activityTime", "2026-11-26T11:00:00.000Z"},
          {"emailAddress", "jana.mueller@baeckerei-gross.de"}};
}

Schema pagedContactInputs() {
  Schema in = {str("contactId").require().describe("The contact.")};
  for (auto& p : schema::pageInputs()) {
    in.push_back(p);
  }
  return in;
}

Schema activityPage() {
  return {array("items", object("activity", activitySchema()).describe("An activity."))
              .require()
              .describe("The activities on this page, newest first."),
          schema::paginationOutput()};
}

}  // namespace

std::vector<ActionDecl> activityActions() {
  std::vector<ActionDecl> out;
  const std::string f = kActivityFields;

  auto create = schema::action(
      "umsatzio.email_activity.create", "Log an e-mail on a contact",
      {str("contactId").require().describe("The contact."),
       str("description").require().describe("What was written."),
       datetime("activityTime").require().describe("When the e-mail was sent."),
       str("emailAddress").withFormat("email").describe("The address written to.")},
      activitySchema(), "createEmailActivity");
  create.examples = {schema::example("offer sent",
                                     {{"contactId", "ct_1"},
                                      {"description", "Angebot per E-Mail geschickt."},
                                      {"activityTime", "2026-11-26T11:00:00.000Z"},
                                      {"emailAddress", "jana.mueller@baeckerei-gross.de"}},
                                     exampleEmail())};
  out.push_back(graphqlAction(
      std::move(create),
      "mutation CreateEmailActivity($input: CreateEmailActivityInput!) { "
      "createEmailActivity(input: $input) { " + f + " } }",
      [](const Json& input, Context&) {
        Json in = {{"parentId", input.at("contactId")},
                   {"parentType", "contact"},
                   {"description", input.at("description")},
                   {"activityTime", input.at("activityTime")}};
        if (input.contains("emailAddress") && input["emailAddress"].is_string()) {
          in["emailAddress"] = input["emailAddress"];
        }
        return Json{{"input", in}};
      },
      [](const Json& data, const Json&, Context&) {
        return normalizeActivity(valueAt(data, "createEmailActivity"), "email");
      }));

  auto emails = schema::action("umsatzio.email_activity.list", "List a contact's e-mail activities",
                               pagedContactInputs(), activityPage(), "contactEmailActivities");
  emails.examples = {schema::example(
      "e-mails", {{"contactId", "ct_1"}},
      {{"items", {exampleEmail()}}, {"pagination", {{"page", 0}, {"limit", 50}, {"total", 1}}}})};
  out.push_back(graphqlAction(
      std::move(emails),
      "query ContactEmailActivities($contactId: ID!, $pagination: PaginationInput!) { "
      "contactEmailActivities(contactId: $contactId, pagination: $pagination) { data { " +
          f + " } pagination { page limit total } } }",
      pickPaged({"contactId"}), pagedAt("contactEmailActivities", [](const Json& a, Context&) {
        return normalizeActivity(a, "email");
      })));

  auto calls = schema::action("umsatzio.call_activity.list", "List a contact's phone calls",
                              pagedContactInputs(), activityPage(), "contactPhoneCallActivities");
  calls.examples = {schema::example(
      "calls", {{"contactId", "ct_1"}},
      {{"items", {exampleCall()}}, {"pagination", {{"page", 0}, {"limit", 50}, {"total", 1}}}})};
  out.push_back(graphqlAction(
      std::move(calls),
      "query ContactPhoneCallActivities($contactId: ID!, $pagination: PaginationInput!) { "
      "contactPhoneCallActivities(contactId: $contactId, pagination: $pagination) { data { " +
          f + " } pagination { page limit total } } }",
      pickPaged({"contactId"}), pagedAt("contactPhoneCallActivities", [](const Json& a, Context&) {
        return normalizeActivity(a, "phone_call");
      })));

  auto types = schema::action(
      "umsatzio.call_activity_type.list", "List the phone-call types and their results", {},
      {array("items",
             object("type", {str("id").require().describe("Call type id."),
                             str("label").describe("Name shown to reps."),
                             str("category")
                                 .oneOf({"openingCall", "settingCall", "closingCall"})
                                 .describe("Setter/closer stage of the call."),
                             array("results", str("result").describe("A result key."))
                                 .describe("Result keys a rep can pick for this type.")})
                 .describe("A call type."))
           .require()
           .describe("Every call type.")},
      "phoneCallActivityTypes");
  types.examples = {schema::example(
      "types", Json::object(),
      {{"items",
        {{{"id", "ct_opening"},
          {"label", "Erstgespräch"},
          {"category", "openingCall"},
          {"results", {"reached", "not_reached", "follow_up", "not_interested"}}}}}})};
  out.push_back(graphqlAction(std::move(types),
                              "query PhoneCallActivityTypes { phoneCallActivityTypes { id label "
                              "category results } }",
                              pick({}), wrap("phoneCallActivityTypes", "items")));
  return out;
}

}  // namespace ferry::plugins::umsatzio

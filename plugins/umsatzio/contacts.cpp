#include "client.hpp"
#include "fields.hpp"
#include "model.hpp"
#include "operations.hpp"

namespace ferry::plugins::umsatzio {

namespace {

using namespace sdk;

constexpr const char* kContactFields = "id data isArchived createdAt updatedAt";

ResultFn contactAt(std::string path) {
  return [path = std::move(path)](const Json& data, const Json&, Context& ctx) {
    const Json raw = valueAt(data, path);
    if (!raw.is_object()) {
      throw OperationError(ErrorKind::NotFound, "umsatzio.not_found",
                           "Umsatz-io returned no contact.");
    }
    return normalizeContactFor(raw, ctx);
  };
}

// The writable stable names shared by create and update.
Schema writableContactInputs() {
  return {str("email").withFormat("email").describe("E-mail (data.global_contact_email)."),
          str("firstName").describe("First name (mapped through the field map)."),
          str("lastName").describe("Last name (mapped through the field map)."),
          str("phone").withFormat("phone").describe("Phone (mapped through the field map)."),
          str("company").describe("Company (mapped through the field map)."),
          object("fields", {}).describe(
              "Custom fields by their stable names from the connection's field map."),
          object("data", {}).describe("Attributes by raw Umsatz-io API names (merged last)."),
          boolean("filterUnknownFields")
              .defaults(false)
              .describe("Drop fields Umsatz-io does not know instead of failing.")};
}

// Builds `{input:{[id,] data}, filterUnknownFields}` from stable names.
VariablesFn contactWrite(bool withId) {
  return [withId](const Json& input, Context& ctx) {
    std::vector<std::string> unknown;
    const Json data = denormalizeContact(input, fieldMapOf(ctx.connection()), unknown);
    const bool filter = input.value("filterUnknownFields", false);
    if (!unknown.empty() && !filter) {
      std::string names;
      for (const auto& n : unknown) {
        names += (names.empty() ? "" : ", ") + n;
      }
      throw OperationError(ErrorKind::Invalid, "umsatzio.unknown_field",
                           "Input 'fields' names " + names +
                               ", not in the connection's field map; add them to the setting "
                               "'field_map' or set filterUnknownFields.");
    }
    Json in = {{"data", data}};
    if (withId) {
      in["id"] = input.at("contactId");
    }
    return Json{{"input", in}, {"filterUnknownFields", filter}};
  };
}

}  // namespace

std::vector<ActionDecl> contactActions() {
  std::vector<ActionDecl> out;
  const std::string f = kContactFields;

  auto get = schema::action("umsatzio.contact.get", "Get a contact by id",
                            {str("contactId").require().describe("Contact id.")}, contactSchema(),
                            "contact");
  get.examples = {schema::example("Jana Müller", {{"contactId", "ct_1"}}, exampleContact())};
  out.push_back(graphqlAction(std::move(get),
                              "query Contact($contactId: ID!) { contact(contactId: $contactId) { " +
                                  f + " } }",
                              pick({"contactId"}), contactAt("contact")));

  auto byEmail = schema::action(
      "umsatzio.contact.get_by_email", "Find a contact by e-mail",
      {str("email").require().withFormat("email").describe("E-mail to look up.")},
      {boolean("found").require().describe("Whether a contact has this e-mail."),
       object("contact", contactSchema()).open().describe("The contact, when found.")},
      "contactByEmail");
  byEmail.examples = {schema::example("found", {{"email", "jana.mueller@baeckerei-gross.de"}},
                                      {{"found", true}, {"contact", exampleContact()}}),
                      schema::example("not found", {{"email", "niemand@example.de"}},
                                      {{"found", false}})};
  out.push_back(graphqlAction(
      std::move(byEmail),
      "query ContactByEmail($email: String!) { contactByEmail(email: $email) { " + f + " } }",
      pick({"email"}), [](const Json& data, const Json&, Context& ctx) {
        const Json raw = valueAt(data, "contactByEmail");
        if (!raw.is_object()) {
          return Json{{"found", false}};
        }
        return Json{{"found", true}, {"contact", normalizeContactFor(raw, ctx)}};
      }));

  Schema searchIn = {str("query").describe("Free text (name, e-mail, company); empty lists all.")};
  for (auto& p : schema::pageInputs()) {
    searchIn.push_back(p);
  }
  auto search = schema::action(
      "umsatzio.contact.search", "Search contacts", searchIn,
      {array("items", object("contact", contactSchema()).open().describe("A contact."))
           .require()
           .describe("The contacts on this page."),
       schema::paginationOutput()},
      "contacts");
  search.examples = {schema::example(
      "by company", {{"query", "Bäckerei"}, {"page", 0}, {"limit", 20}},
      {{"items", {exampleContact()}}, {"pagination", {{"page", 0}, {"limit", 20}, {"total", 1}}}})};
  out.push_back(graphqlAction(
      std::move(search),
      "query Contacts($searchString: String, $pagination: PaginationInput!) { "
      "contacts(searchString: $searchString, pagination: $pagination) { data { " +
          f + " } pagination { page limit total } } }",
      [](const Json& input, Context&) {
        Json v = {{"pagination", pagination(input)}};
        if (input.contains("query") && input["query"].is_string()) {
          v["searchString"] = input["query"];
        }
        return v;
      },
      pagedAt("contacts", normalizeContactFor)));

  auto create = schema::action("umsatzio.contact.create", "Create a contact",
                               writableContactInputs(), contactSchema(), "createContact");
  create.examples = {schema::example("new lead",
                                     {{"email", "jana.mueller@baeckerei-gross.de"},
                                      {"firstName", "Jana"},
                                      {"lastName", "Müller"},
                                      {"phone", "+49 89 1234567"},
                                      {"company", "Bäckerei Groß GmbH"},
                                      {"data", {{"contact_source", "Empfehlung"}}}},
                                     exampleContact())};
  out.push_back(graphqlAction(
      std::move(create),
      "mutation CreateContact($input: CreateContactInput!, $filterUnknownFields: Boolean) { "
      "createContact(input: $input, filterUnknownFields: $filterUnknownFields) { " +
          f + " } }",
      contactWrite(false), contactAt("createContact")));

  Schema updateIn = {str("contactId").require().describe("The contact to change.")};
  for (auto& p : writableContactInputs()) {
    updateIn.push_back(p);
  }
  auto update = schema::action("umsatzio.contact.update",
                               "Change a contact (only the given fields)", updateIn,
                               contactSchema(), "updateContact");
  update.examples = {schema::example("new phone", {{"contactId", "ct_1"}, {"phone", "+49 89 1234567"}},
                                     exampleContact())};
  out.push_back(graphqlAction(
      std::move(update),
      "mutation UpdateContact($input: UpdateContactInput!, $filterUnknownFields: Boolean) { "
      "updateContact(input: $input, filterUnknownFields: $filterUnknownFields) { " +
          f + " } }",
      contactWrite(true), contactAt("updateContact")));
  return out;
}

}  // namespace ferry::plugins::umsatzio

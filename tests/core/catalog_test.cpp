#include "catalog/catalog.hpp"

#include <gtest/gtest.h>

#include "catalog/export.hpp"
#include "catalog/spec_json.hpp"
#include "ferry/sdk/sdk.hpp"

namespace ferry::core::catalog {
namespace {

namespace fs = std::filesystem;
using namespace ferry::sdk;

// The catalog reads declarations only, so these connectors declare operations without
// implementations (action() and trigger() find nothing).
class DeclaredOnly : public Connector {
 public:
  explicit DeclaredOnly(ConnectorSpec spec) : spec_(std::move(spec)) {}
  const ConnectorSpec& spec() const override { return spec_; }
  Action* action(std::string_view) override { return nullptr; }
  Trigger* trigger(std::string_view) override { return nullptr; }

 private:
  ConnectorSpec spec_;
};

OperationSpec op(std::string id, OperationKind kind, std::string summary,
                 std::vector<std::string> scopes, Schema input = {}, Schema output = {}) {
  OperationSpec o;
  o.id = std::move(id);
  o.kind = kind;
  o.summary = std::move(summary);
  o.scopes = std::move(scopes);
  o.input = std::move(input);
  o.output = std::move(output);
  return o;
}

loader::LoadedPlugin crm() {
  ConnectorSpec spec;
  spec.id = "crm";
  spec.name = "CRM";
  spec.version = "2.0.0";
  spec.description = "A CRM | with a pipe in its description.";
  spec.scopes = {"contacts.read", "contacts.write", "notes.write"};
  // Declared out of order on purpose: the catalog sorts.
  spec.operations = {
      op("crm.note.add", OperationKind::Action, "Attach a note to a contact", {"notes.write"},
         {str("body").require().describe("The note text.")}, {str("id").describe("Note id.")}),
      op("crm.contact.create", OperationKind::Action, "Create a contact", {"contacts.write"},
         {str("email").require().withFormat("email").describe("Primary e-mail."),
          array("tags", str("tag")).describe("Tags to set."),
          object("address", {str("city").describe("City.")}).describe("Postal address."),
          str("status").oneOf({"lead", "customer"}).defaults("lead").describe("Status.")},
         {str("id").require().describe("The new contact's id.")}),
      op("crm.contact.created", OperationKind::Trigger, "A contact was created", {"contacts.read"},
         {}, {str("id").require().describe("Contact id.")}),
  };
  spec.operations[1].examples = {{"A lead", {{"email", "a@example.com"}}, {{"id", "c1"}}}};
  spec.operations[2].delivery = Delivery::Webhook;
  return {"/somewhere/private/crm.so", std::make_shared<DeclaredOnly>(spec)};
}

loader::LoadedPlugin mail() {
  ConnectorSpec spec;
  spec.id = "mail";
  spec.name = "Mail";
  spec.version = "1.0.0";
  spec.operations = {op("mail.message.send", OperationKind::Action, "Send an e-mail (plain | html)",
                        {"mail.send"},
                        {str("to").require().describe("Recipient contact address.")})};
  return {"/somewhere/private/mail.so", std::make_shared<DeclaredOnly>(spec)};
}

std::vector<std::string> ids(const std::vector<Entry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    out.push_back(e.operation->id);
  }
  return out;
}

using Ids = std::vector<std::string>;

TEST(Catalog, ListsEveryOperationSortedById) {
  Catalog catalog({mail(), crm()});
  EXPECT_EQ(ids(catalog.list()), (Ids{"crm.contact.create", "crm.contact.created", "crm.note.add",
                                      "mail.message.send"}));
  EXPECT_EQ(catalog.list().front().connector->id, "crm");
}

TEST(Catalog, ListFilters) {
  Catalog catalog({crm(), mail()});
  Filter byConnector;
  byConnector.connector = "mail";
  EXPECT_EQ(ids(catalog.list(byConnector)), (Ids{"mail.message.send"}));
  Filter byKind;
  byKind.kind = OperationKind::Trigger;
  EXPECT_EQ(ids(catalog.list(byKind)), (Ids{"crm.contact.created"}));
  Filter byScope;
  byScope.scope = "contacts.write";
  EXPECT_EQ(ids(catalog.list(byScope)), (Ids{"crm.contact.create"}));
  Filter combined;
  combined.connector = "crm";
  combined.kind = OperationKind::Action;
  EXPECT_EQ(ids(catalog.list(combined)), (Ids{"crm.contact.create", "crm.note.add"}));
  combined.scope = "mail.send";
  EXPECT_TRUE(catalog.list(combined).empty());
  Filter unknown;
  unknown.connector = "nope";
  EXPECT_TRUE(catalog.list(unknown).empty());
}

TEST(Catalog, SearchRanksIdThenSummaryThenFields) {
  Catalog catalog({crm(), mail()});
  // "contact": in two ids, in one summary, in one field description.
  EXPECT_EQ(ids(catalog.search({"contact"})), (Ids{"crm.contact.create", "crm.contact.created",
                                                   "crm.note.add", "mail.message.send"}));
  // Case does not matter.
  EXPECT_EQ(ids(catalog.search({"CONTACT"})), ids(catalog.search({"contact"})));
  // Every word must match somewhere; scores add up.
  EXPECT_EQ(ids(catalog.search({"contact", "note"})), (Ids{"crm.note.add"}));
  // A field name counts.
  EXPECT_EQ(ids(catalog.search({"city"})), (Ids{"crm.contact.create"}));
  EXPECT_TRUE(catalog.search({"invoice"}).empty());
  EXPECT_TRUE(catalog.search({}).empty());
}

TEST(Catalog, FindAndClosest) {
  Catalog catalog({crm(), mail()});
  ASSERT_NE(catalog.find("crm.note.add").operation, nullptr);
  EXPECT_EQ(catalog.find("crm.note.add").connector->id, "crm");
  EXPECT_EQ(catalog.find("crm.note.ad").operation, nullptr);
  EXPECT_EQ(catalog.closest("crm.note.ad"), (Ids{"crm.note.add"}));
  EXPECT_EQ(catalog.closest("crm.contact.craete"), (Ids{"crm.contact.create"}));
  EXPECT_EQ(catalog.closest("mail.mesage.send", 2).front(), "mail.message.send");
  EXPECT_EQ(catalog.plugin("mail")->spec().name, "Mail");
  EXPECT_EQ(catalog.plugin("nope"), nullptr);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3u);
}

TEST(Catalog, OperationJsonIsTheDocumentedShape) {
  Catalog catalog({crm()});
  const auto& create = *catalog.find("crm.contact.create").operation;
  const auto brief = operationToJson(create, false);
  EXPECT_EQ(brief["id"], "crm.contact.create");
  EXPECT_EQ(brief["kind"], "action");
  EXPECT_FALSE(brief.contains("input"));
  const auto full = operationToJson(create, true);
  ASSERT_EQ(full["input"].size(), 4u);
  EXPECT_EQ(full["input"][0]["name"], "email");
  EXPECT_EQ(full["input"][0]["required"], true);
  EXPECT_EQ(full["input"][0]["format"], "email");
  EXPECT_EQ(full["input"][1]["items"]["type"], "string");
  EXPECT_EQ(full["input"][2]["fields"][0]["name"], "city");
  EXPECT_EQ(full["input"][3]["enum"], (Json{"lead", "customer"}));
  EXPECT_EQ(full["input"][3]["default"], "lead");
  EXPECT_EQ(full["examples"][0]["input"]["email"], "a@example.com");
  const auto& created = *catalog.find("crm.contact.created").operation;
  EXPECT_EQ(operationToJson(created, false)["delivery"], "webhook");
}

std::map<std::string, std::string> render(const Catalog& catalog) {
  std::map<std::string, std::string> out;
  for (const auto& f : renderExport(catalog)) {
    out[f.name] = f.content;
  }
  return out;
}

TEST(CatalogExport, WritesJsonAnIndexAndOnePagePerConnector) {
  Catalog catalog({crm(), mail()});
  const auto files = render(catalog);
  ASSERT_EQ(files.size(), 4u);
  ASSERT_EQ(files.count("catalog.json"), 1u);
  ASSERT_EQ(files.count("README.md"), 1u);
  ASSERT_EQ(files.count("crm.md"), 1u);
  ASSERT_EQ(files.count("mail.md"), 1u);

  const auto j = Json::parse(files.at("catalog.json"));
  EXPECT_EQ(j["format"], 1);
  ASSERT_EQ(j["connectors"].size(), 2u);
  EXPECT_EQ(j["connectors"][0]["id"], "crm");
  EXPECT_EQ(j["connectors"][0]["actions"], 2);
  EXPECT_EQ(j["connectors"][0]["triggers"], 1);
  const auto& ops = j["connectors"][0]["operations"];
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0]["id"], "crm.contact.create");  // sorted, although declared later
  EXPECT_EQ(ops[0]["input"][0]["name"], "email");
  EXPECT_EQ(ops[2]["id"], "crm.note.add");

  const auto& readme = files.at("README.md");
  EXPECT_NE(readme.find("| [`crm`](crm.md) | CRM | 2.0.0 | 2 | 1 |"), std::string::npos) << readme;
  EXPECT_NE(readme.find("[`mail.message.send`](mail.md#mailmessagesend)"), std::string::npos);

  const auto& page = files.at("crm.md");
  EXPECT_NE(page.find("A CRM | with a pipe in its description."), std::string::npos);
  // A pipe inside a table cell is escaped.
  EXPECT_NE(readme.find("| Send an e-mail (plain \\| html) |"), std::string::npos) << readme;
  EXPECT_NE(page.find("| [`crm.contact.create`](#crmcontactcreate) | action | Create a contact | "
                      "`contacts.write` |"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("### `crm.contact.create`"), std::string::npos);
  EXPECT_NE(page.find("| `email` | string (email) | yes |  | Primary e-mail. |"), std::string::npos)
      << page;
  EXPECT_NE(page.find("| `address.city` | string | no |"), std::string::npos);
  EXPECT_NE(page.find("| `tags` | array of string | no |"), std::string::npos);
  EXPECT_NE(
      page.find("| `status` | string | no | `\"lead\"` | Status. One of: `lead`, `customer`. |"),
      std::string::npos)
      << page;
  EXPECT_NE(page.find("**Event**"), std::string::npos);  // the trigger's output
  EXPECT_NE(page.find("delivered by webhook"), std::string::npos);
  EXPECT_NE(page.find("\"email\": \"a@example.com\""), std::string::npos);  // the example
}

TEST(CatalogExport, IsReproducibleAndHasNoPaths) {
  const auto first = render(Catalog({crm(), mail()}));
  const auto second = render(Catalog({mail(), crm()}));
  EXPECT_EQ(first, second);
  for (const auto& [name, content] : first) {
    EXPECT_EQ(content.find("/somewhere/private"), std::string::npos) << name;
    EXPECT_EQ(content.back(), '\n') << name;
    EXPECT_NE(content.substr(content.size() - 2), "\n\n") << name;
  }
}

TEST(CatalogExport, AnEmptyCatalogStillExports) {
  const auto files = render(Catalog({}));
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(Json::parse(files.at("catalog.json"))["connectors"], Json::array());
  EXPECT_NE(files.at("README.md").find("No connector plugin was loaded"), std::string::npos);
}

TEST(CatalogExport, WritesIntoADirectory) {
  const auto dir = fs::path(FERRY_BINARY_DIR) / "tests" / "tmp" / "CatalogExport.dir" / "out";
  fs::remove_all(dir.parent_path());
  const auto written = exportCatalog(Catalog({crm()}), dir);
  EXPECT_EQ(written.size(), 3u);
  for (const auto& path : written) {
    EXPECT_TRUE(fs::is_regular_file(path)) << path;
  }
  fs::remove_all(dir.parent_path());
}

TEST(Catalog, TheRealTestPlugin) {
  auto scanned = loader::scan({fs::path(FERRY_FIXTURE_DIR) / "good"});
  Catalog catalog(std::move(scanned.plugins));
  EXPECT_EQ(ids(catalog.list()), (Ids{"test.message.received", "test.message.send"}));
  EXPECT_EQ(ids(catalog.search({"send"})).front(), "test.message.send");
}

}  // namespace
}  // namespace ferry::core::catalog

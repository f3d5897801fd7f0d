// The contract: every ghl.* action against its operation in HighLevel's official OpenAPI specs
// (copies in data/openapi/, see data/openapi/SOURCE.md): method, path, path and query
// parameters, required body fields, enums, the response envelope, and the scope.

#include <algorithm>
#include <cctype>
#include <set>

#include "support.hpp"

namespace ferry::tests::ghl {
namespace {

struct SpecFiles {
  std::map<std::string, Json> files;
  Json common = readJson("openapi/common/common-schemas.json");
  SpecFiles() {
    for (const char* name : {"contacts", "businesses", "locations", "oauth"}) {
      files[name] = readJson(std::string("openapi/apps/") + name + ".json");
    }
  }
  // The operation at `method path`, and the file it is in.
  std::pair<const Json*, const Json*> find(std::string method, const std::string& path) const {
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& [name, spec] : files) {
      const auto& paths = spec["paths"];
      if (paths.contains(path) && paths[path].contains(method)) {
        return {&paths[path][method], &spec};
      }
    }
    return {nullptr, nullptr};
  }
  Json resolve(const Json& spec, Json schema) const {
    for (int i = 0; i < 10 && schema.is_object() && schema.contains("$ref"); ++i) {
      const std::string ref = schema["$ref"];
      const auto hash = ref.find('#');
      const Json& root = ref.find("common-schemas") != std::string::npos ? common : spec;
      schema = root.at(Json::json_pointer(ref.substr(hash + 1)));
    }
    return schema;
  }
};

const SpecFiles& specs() {
  static const SpecFiles files;
  return files;
}

// Documented deviations: the spec declares no scope for these (bulk operations) or an empty
// `bearer: []` (location tag / custom field / custom value by id); HighLevel's scope table
// (docs/oauth/Scopes.md) lists the read or write scope of the same resource.
const std::map<std::string, std::string> kScopeWithoutSpec = {
    {"ghl.contact.bulk_tags", "contacts.write"},
    {"ghl.contact.bulk_business", "contacts.write"},
    {"ghl.location_tag.get", "locations/tags.readonly"},
    {"ghl.location_tag.update", "locations/tags.write"},
    {"ghl.location_tag.delete", "locations/tags.write"},
    {"ghl.custom_field.get", "locations/customFields.readonly"},
    {"ghl.custom_field.update", "locations/customFields.write"},
    {"ghl.custom_field.delete", "locations/customFields.write"},
    {"ghl.custom_value.get", "locations/customValues.readonly"},
    {"ghl.custom_value.update", "locations/customValues.write"},
    {"ghl.custom_value.delete", "locations/customValues.write"},
};
// The spec's search body schema is empty (documented only on an external page); the plugin
// declares its fields from HighLevel's search documentation.
const std::set<std::string> kBodyNotInSpec = {"ghl.contact.search"};
// The spec leaves the response schema of these empty.
const std::set<std::string> kResponseNotInSpec = {"ghl.contact.search",
                                                  "ghl.contact.find_duplicate"};

void expectRequiredUnlessLocation(const sdk::Field* field, const std::string& name,
                                  bool specRequired) {
  ASSERT_NE(field, nullptr) << "input '" << name << "' is not declared";
  if (name == "locationId") {
    EXPECT_FALSE(field->required) << "locationId is filled from the connection";
    EXPECT_NE(field->description.find("location_id"), std::string::npos);
  } else if (specRequired) {
    EXPECT_TRUE(field->required) << "input '" << name << "' must be required";
  }
}

TEST(GhlContract, EveryActionMatchesItsSpecOperation) {
  int checked = 0;
  for (const auto& op : loadGhl()->spec().operations) {
    if (op.kind != sdk::OperationKind::Action) {
      continue;
    }
    SCOPED_TRACE(op.id);
    const auto [specOp, specFile] = specs().find(op.method, op.path);
    ASSERT_NE(specOp, nullptr) << op.method << " " << op.path << " is not in the official spec";
    ++checked;
    if (op.id.rfind("ghl.oauth.", 0) == 0) {
      continue;  // form-encoded token endpoint; covered by the OAuth tests
    }
    EXPECT_EQ(op.deprecated, specOp->value("deprecated", false));

    // Scope.
    std::vector<std::string> specScopes;
    for (const auto& requirement : specOp->value("security", Json::array())) {
      for (auto it = requirement.begin(); it != requirement.end(); ++it) {
        for (const auto& s : it.value()) {
          specScopes.push_back(s);
        }
      }
    }
    if (specScopes.empty()) {
      ASSERT_TRUE(kScopeWithoutSpec.count(op.id)) << "the spec names no scope; document the choice";
      EXPECT_EQ(op.scopes, std::vector<std::string>{kScopeWithoutSpec.at(op.id)});
    } else {
      EXPECT_FALSE(kScopeWithoutSpec.count(op.id)) << "stale exception: the spec names a scope";
      EXPECT_EQ(op.scopes, std::vector<std::string>{specScopes.front()});
    }

    // Path and query parameters.
    std::set<std::string> known;
    for (const auto& p : specOp->value("parameters", Json::array())) {
      const std::string in = p.value("in", "");
      if (in != "path" && in != "query") {
        continue;
      }
      const std::string name = p["name"];
      known.insert(name);
      expectRequiredUnlessLocation(sdk::findField(op.input, name), name,
                                   in == "path" || p.value("required", false));
    }
    for (auto open = op.path.find('{'); open != std::string::npos;
         open = op.path.find('{', open + 1)) {
      const std::string name = op.path.substr(open + 1, op.path.find('}', open) - open - 1);
      expectRequiredUnlessLocation(sdk::findField(op.input, name), name, true);
      known.insert(name);  // `{type}` of the bulk tag update is in the path but not declared
    }

    // Body fields.
    const Json body = specs().resolve(
        *specFile,
        specOp->value("/requestBody/content/application~1json/schema"_json_pointer, Json()));
    if (body.is_object() && body.contains("properties")) {
      std::set<std::string> required;
      for (const auto& r : body.value("required", Json::array())) {
        required.insert(r);
      }
      for (auto it = body["properties"].begin(); it != body["properties"].end(); ++it) {
        known.insert(it.key());
        const auto* field = sdk::findField(op.input, it.key());
        expectRequiredUnlessLocation(field, it.key(), required.count(it.key()) > 0);
        const Json prop = specs().resolve(*specFile, it.value());
        if (field != nullptr && prop.contains("enum")) {
          std::vector<std::string> values;
          for (const auto& v : prop["enum"]) {
            values.push_back(v.is_string() ? v.get<std::string>() : v.dump());
          }
          EXPECT_EQ(field->enumValues, values) << "enum of '" << it.key() << "'";
        }
      }
    }
    if (!kBodyNotInSpec.count(op.id)) {
      for (const auto& f : op.input) {
        EXPECT_TRUE(known.count(f.name)) << "input '" << f.name << "' is in neither the "
                                         << "parameters nor the body of the spec";
      }
    } else {
      EXPECT_TRUE(body.is_object() && body.value("properties", Json::object()).empty())
          << "the spec now documents the body: drop the exception";
    }

    // Response envelope: the top-level members of the success response.
    if (!kResponseNotInSpec.count(op.id)) {
      const Json& responses = (*specOp)["responses"];
      Json schema;
      for (auto it = responses.begin(); it != responses.end(); ++it) {
        if (it.key()[0] == '2') {
          schema = specs().resolve(
              *specFile,
              it.value().value("/content/application~1json/schema"_json_pointer, Json()));
          break;
        }
      }
      std::set<std::string> specMembers, ourMembers;
      const Json members = schema.value("properties", Json::object());
      for (auto it = members.begin(); it != members.end(); ++it) {
        specMembers.insert(it.key());
      }
      for (const auto& f : op.output) {
        ourMembers.insert(f.name);
      }
      EXPECT_EQ(ourMembers, specMembers) << "response envelope";
    }
  }
  EXPECT_EQ(checked, 55);
}

TEST(GhlContract, TheContactsApiIsCoveredCompletely) {
  // Every operation of apps/contacts.json has exactly one ghl.* action.
  std::set<std::pair<std::string, std::string>> ours;
  for (const auto& op : loadGhl()->spec().operations) {
    if (op.kind == sdk::OperationKind::Action) {
      ours.insert({op.method, op.path});
    }
  }
  const Json& contacts = specs().files.at("contacts");
  int total = 0;
  for (auto p = contacts["paths"].begin(); p != contacts["paths"].end(); ++p) {
    for (auto m = p.value().begin(); m != p.value().end(); ++m) {
      std::string method = m.key();
      std::transform(method.begin(), method.end(), method.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      ++total;
      EXPECT_TRUE(ours.count({method, p.key()})) << method << " " << p.key() << " has no action";
    }
  }
  EXPECT_EQ(total, 32);
}

TEST(GhlContract, SpecCopiesAreTheRecordedCommit) {
  std::ifstream in(std::filesystem::path(FERRY_SOURCE_DIR) /
                   "tests/plugins/ghl/data/openapi/SOURCE.md");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("0af86a4cbd48c66a4071c7e509d1079f9f10ed17"), std::string::npos);
  EXPECT_EQ(readJson("webhook-events.extracted.json")["_source"]["commit"],
            "0af86a4cbd48c66a4071c7e509d1079f9f10ed17");
}

}  // namespace
}  // namespace ferry::tests::ghl

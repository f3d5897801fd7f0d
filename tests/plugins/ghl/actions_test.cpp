// Every declared action's first example, sent over real HTTP to a scripted loopback server.
// Where each input belongs (path, query, body) is read from the official spec copies, not from
// the plugin, so this also checks the plugin's placement table.

#include <algorithm>
#include <cctype>

#include "support.hpp"

namespace ferry::tests::ghl {
namespace {

const Json* specOperation(const std::string& method, const std::string& path) {
  static const std::vector<Json> specs = {readJson("openapi/apps/contacts.json"),
                                          readJson("openapi/apps/businesses.json"),
                                          readJson("openapi/apps/locations.json")};
  std::string lower = method;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& spec : specs) {
    const auto& paths = spec["paths"];
    if (paths.contains(path) && paths[path].contains(lower)) {
      return &paths[path][lower];
    }
  }
  return nullptr;
}

std::vector<std::string> pathParams(const std::string& path) {
  std::vector<std::string> names;
  for (auto open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
    names.push_back(path.substr(open + 1, path.find('}', open) - open - 1));
  }
  return names;
}

std::string text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

TEST(GhlActions, EveryActionSendsItsExampleAsTheSpecSays) {
  auto connector = loadGhl();
  ScriptedServer server;
  Harness h(server.baseUrl(), "private_token", {{"token", "pit-test-0001"}});
  int checked = 0;
  for (const auto& op : connector->spec().operations) {
    if (op.kind != sdk::OperationKind::Action || op.id.rfind("ghl.oauth.", 0) == 0) {
      continue;
    }
    SCOPED_TRACE(op.id);
    const Json* specOp = specOperation(op.method, op.path);
    ASSERT_NE(specOp, nullptr) << op.method << " " << op.path << " is not in the spec";
    ASSERT_FALSE(op.examples.empty());
    const auto& example = op.examples.front();

    // What the spec says the request must look like.
    const bool declaresLocation = sdk::findField(op.input, "locationId") != nullptr;
    Json input = example.input;
    Json effective = input;
    if (declaresLocation && !effective.contains("locationId")) {
      effective["locationId"] = "loc_test_1";
    }
    std::string expectedPath = op.path;
    std::set<std::string> notBody;
    for (const auto& name : pathParams(op.path)) {
      ASSERT_TRUE(effective.contains(name)) << "example lacks path parameter " << name;
      expectedPath.replace(expectedPath.find("{" + name + "}"), name.size() + 2,
                           text(effective[name]));
      notBody.insert(name);
    }
    std::map<std::string, std::string> expectedQuery;
    for (const auto& p : specOp->value("parameters", Json::array())) {
      if (p.value("in", "") == "query") {
        notBody.insert(p["name"]);
        if (effective.contains(p["name"].get<std::string>())) {
          expectedQuery[p["name"]] = text(effective[p["name"].get<std::string>()]);
        }
      }
    }
    Json expectedBody = Json::object();
    for (auto it = effective.begin(); it != effective.end(); ++it) {
      if (!notBody.count(it.key())) {
        expectedBody[it.key()] = it.value();
      }
    }
    int status = 200;
    for (auto it = (*specOp)["responses"].begin(); it != (*specOp)["responses"].end(); ++it) {
      if (it.key()[0] == '2') {
        status = std::stoi(it.key());
        break;
      }
    }

    server.then([&](const sandbox::Request&) { return jsonReply(status, example.output); });
    auto* action = connector->action(op.id);
    ASSERT_NE(action, nullptr);
    const Json output = action->invoke(input, *h.ctx);
    EXPECT_EQ(output, example.output);

    const auto request = server.requests().back();
    EXPECT_EQ(request.method, op.method);
    EXPECT_EQ(request.path, expectedPath);
    EXPECT_EQ(request.query, expectedQuery);
    EXPECT_EQ(request.header("Version").value_or(""), "2021-07-28");
    EXPECT_EQ(request.header("Authorization").value_or(""), "Bearer pit-test-0001");
    if (op.method == "GET" || (op.method == "DELETE" && expectedBody.empty())) {
      EXPECT_TRUE(request.body.empty()) << request.body;
    } else {
      EXPECT_EQ(request.header("Content-Type").value_or(""), "application/json");
      EXPECT_EQ(Json::parse(request.body), expectedBody);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 53);
}

TEST(GhlActions, OnlyDeclaredBodyFieldsAreSent) {
  ScriptedServer server;
  Harness h(server.baseUrl(), "private_token", {{"token", "pit-test-0001"}});
  server.then([](const sandbox::Request&) {
    return jsonReply(201, {{"contact", {{"id", "c1"}}}});
  });
  loadGhl()
      ->action("ghl.contact.create")
      ->invoke(
          {{"firstName", "Ada"}, {"email", "ada@example.com"}, {"additionalEmails", Json::array()}},
          *h.ctx);
  const auto body = Json::parse(server.requests().back().body);
  EXPECT_EQ(
      body,
      Json({{"firstName", "Ada"}, {"email", "ada@example.com"}, {"locationId", "loc_test_1"}}));
}

TEST(GhlActions, AMappedLocationIdWinsOverTheConnectionSetting) {
  ScriptedServer server;
  Harness h(server.baseUrl(), "private_token", {{"token", "pit-test-0001"}});
  server.then([](const sandbox::Request&) { return jsonReply(200, {{"tags", Json::array()}}); });
  loadGhl()->action("ghl.location_tag.list")->invoke({{"locationId", "other loc"}}, *h.ctx);
  EXPECT_EQ(server.requests().back().path, "/locations/other loc/tags");  // decoded by the server
}

TEST(GhlActions, AMissingLocationIdIsAnInvalidInputNamingTheSetting) {
  ScriptedServer server;
  Harness h(server.baseUrl(), "private_token", {{"token", "pit-test-0001"}}, Json::object());
  try {
    loadGhl()->action("ghl.contact.create")->invoke({{"firstName", "Ada"}}, *h.ctx);
    FAIL() << "expected an OperationError";
  } catch (const sdk::OperationError& e) {
    EXPECT_EQ(e.kind, sdk::ErrorKind::Invalid);
    EXPECT_NE(std::string(e.what()).find("location_id"), std::string::npos);
  }
  EXPECT_TRUE(server.requests().empty());
}

}  // namespace
}  // namespace ferry::tests::ghl

// `ferry flow test --against sandbox`: the seed contact-sync flow sent for real to the GHL
// sandbox process, through the real binary; and refused for a non-loopback connection.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "ferry/sdk/json.hpp"
#include "http/client.hpp"
#include "../support/process.hpp"

namespace ferry::core::flow {
namespace {

namespace fs = std::filesystem;
using sdk::Json;

struct Result {
  int status;
  std::string out;
};

Result run(const std::string& cmd) {
  Result r{0, {}};
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  while (auto n = fread(buf, 1, sizeof buf, pipe)) {
    r.out.append(buf, n);
  }
  r.status = WEXITSTATUS(pclose(pipe));
  return r;
}

class AgainstSandbox : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ferry-against-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ghl_ = std::make_unique<ferry::testing::ChildProcess>(std::vector<std::string>{
        std::string(FERRY_BINARY_DIR) + "/libexec/ferry/ferry-sandbox-ghl", "--port", "0"});
    first_ = Json::parse(ghl_->readLine());
  }
  void TearDown() override {
    ghl_.reset();
    fs::remove_all(dir_);
  }
  void writeConfig(const std::string& baseUrl) {
    std::ofstream(dir_ / "ferry.yaml")
        << "version: 1\nconnections:\n  ghl:\n    plugin: ghl\n    auth: private_token\n"
        << "    base_url: " << baseUrl << "\n"
        << "    scopes: [contacts.readonly, contacts.write]\n"
        << "    settings: {location_id: " << first_["location_id"].get<std::string>() << "}\n"
        << "    secrets: {token: env:FERRY_AGAINST_TOKEN}\n"
        << "  umsatzio:\n    plugin: umsatzio\n    auth: api_key\n"
        << "    base_url: http://127.0.0.1:9\n";
  }
  std::string ferryTest() {
    return "cd " + std::string(FERRY_SOURCE_DIR) + " && FERRY_AGAINST_TOKEN=" +
           first_["tokens"]["full"]["token"].get<std::string>() + " " +
           std::string(FERRY_BINARY_DIR) +
           "/bin/ferry flow test flows/contact-sync.yaml --event flows/events/contact-sync.json "
           "--config " +
           (dir_ / "ferry.yaml").string() + " --against sandbox";
  }

  fs::path dir_;
  std::unique_ptr<ferry::testing::ChildProcess> ghl_;
  Json first_;
};

TEST_F(AgainstSandbox, SendsTheRequestsAndPrintsTheRealAnswers) {
  writeConfig(first_["base_url"].get<std::string>());
  const auto r = run(ferryTest() + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const Json out = Json::parse(r.out);
  const auto& upsert = out["steps"][1];
  ASSERT_EQ(upsert["id"], "upsert");
  ASSERT_EQ(upsert["exchanges"].size(), 1u);
  EXPECT_EQ(upsert["exchanges"][0]["live"], true);
  EXPECT_EQ(upsert["exchanges"][0]["response"]["status"], 200);
  const std::string id = upsert["output"]["contact"]["id"];
  // The token never shows, the contact really exists in the sandbox.
  EXPECT_EQ(r.out.find(first_["tokens"]["full"]["token"].get<std::string>()), std::string::npos);
  http::Client client;
  sdk::HttpRequest req;
  req.url = first_["admin_url"].get<std::string>() + "/state";
  const Json state = Json::parse(client.send(req).body);
  EXPECT_NE(state.dump().find(id), std::string::npos);
  EXPECT_NE(state.dump().find("anna.schmidt@example.de"), std::string::npos);
}

TEST_F(AgainstSandbox, RefusesAConnectionThatIsNotOnThisMachine) {
  writeConfig("https://services.leadconnectorhq.com");
  const auto r = run(ferryTest());
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("error[not_a_sandbox]"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ferry::core::flow

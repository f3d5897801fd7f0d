// End-to-end tests of running ferry: `ferry connection add | list | rotate | check` with the
// encrypted credentials file, a token rotated under a RUNNING `ferry run`, and SIGHUP reloads
// while webhooks keep arriving. The real `ferry` binary against the real GHL and Umsatz-io
// sandboxes, over HTTP on 127.0.0.1. Every wait is a bounded poll.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/ferry_run.hpp"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kBuild = FERRY_BINARY_DIR;
const std::string kSource = FERRY_SOURCE_DIR;
const std::string kFerry = kBuild + "/bin/ferry";
const std::string kLocation = "ferrySandboxLoc00001";

using ferry::testing::http;
using ferry::testing::waitUntil;

class OpsE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-ops-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::random_device rd;
    umzKey_ = "umz-canary-" + std::to_string(rd()) + std::to_string(rd());
    webhookSecret_ = "whsec-canary-" + std::to_string(rd()) + std::to_string(rd());
    ghlBox_ = ferry::testing::Sandbox::start("ghl");
    ghl_ = ghlBox_.info;
    umzBox_ = ferry::testing::Sandbox::start(
        "umsatzio", {"--api-key", umzKey_, "--webhook-secret", webhookSecret_});
    umz_ = umzBox_.info;
    fullToken_ = ghl_["tokens"]["full"]["token"].get<std::string>();
    fullScopes_ = ghl_["tokens"]["full"]["scopes"];
  }

  void TearDown() override {
    stopFerry(SIGTERM);
    umzBox_.stop();
    ghlBox_.stop();
    if (!HasFailure()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    } else {
      std::cerr << "ops e2e: kept " << dir_ << " for inspection\n";
    }
  }

  // ferry.yaml running `flows` (seed flows copied from flows/); the GHL token comes from the
  // credentials file (`ghlSecret` "credentials") or the environment ("env:E2E_GHL_TOKEN").
  void writeConfig(const std::vector<std::string>& flows, const std::string& ghlSecret,
                   const std::string& scopes = "") {
    std::ostringstream y;
    y << ferry::testing::testConfigHead(dir_) << (flows.empty() ? "flows: []\n" : "flows:\n");
    for (const auto& f : flows) {
      if (!fs::exists(dir_ / (f + ".yaml"))) {
        fs::copy_file(kSource + "/flows/" + f + ".yaml", dir_ / (f + ".yaml"));
      }
      y << "  - " << f << ".yaml\n";
    }
    ferry::testing::SandboxConnections connections;
    connections.ghlBaseUrl = ghl_["base_url"].get<std::string>();
    connections.umsatzioBaseUrl = umz_["base_url"].get<std::string>();
    connections.location = kLocation;
    connections.ghlToken = ghlSecret;
    connections.ghlScopes = scopes;
    y << connections.yaml();
    config_ = dir_ / "ferry.yaml";
    std::ofstream(config_) << y.str();
  }

  std::map<std::string, std::string> env() const {
    return {{"E2E_GHL_TOKEN", fullToken_},
            {"E2E_UMZ_KEY", umzKey_},
            {"E2E_UMZ_WEBHOOK_SECRET", webhookSecret_},
            {"FERRY_MASTER_KEY", masterKeyEnv_}};
  }

  // Runs a ferry command to completion (bounded), `input` on its stdin.
  ferry::testing::Run ferry(const std::vector<std::string>& args, const std::string& input = "") {
    return ferry::testing::runProgram(kFerry, args, env(), dir_ / ("cli-" + std::to_string(++runs_)),
                                      60s, input.empty() ? "" : input + "\n");
  }

  std::string stderrText() { return ferry::testing::slurp(dir_ / "ferry.stderr"); }

  void startFerry(std::vector<std::string> args = {}) {
    args.insert(args.end(), {"run", "--config", config_.string()});
    ferry_ = std::make_unique<ferry::testing::FerryRun>(dir_, args, env());
    port_ = ferry_->waitListening();
    ASSERT_NE(port_, 0) << stderrText();
    ferryPid_ = ferry_->pid();
  }

  bool ferryAlive() { return ferry_ != nullptr && ferry_->alive(); }

  int stopFerry(int sig) {
    ferryPid_ = -1;
    return ferry_ != nullptr ? ferry_->stop(sig) : -1;
  }

  Json ghlState() {
    return http("GET", ghl_["base_url"].get<std::string>() + "/_sandbox/state")["locations"][kLocation];
  }
  Json umzAdmin(const std::string& path, const Json& body) {
    return http("POST", umz_["admin_url"].get<std::string>() + path, body);
  }
  Json umzState() { return http("GET", umz_["admin_url"].get<std::string>() + "/state"); }

  // A contact and a follow-up call on it: the call's webhook makes one GHL task.
  Json followUpCall(int i, const std::string& tag) {
    const Json contact = umzAdmin(
        "/contact", {{"data",
                      {{"global_contact_email", tag + std::to_string(i) + "@ops.example"},
                       {"global_contact_first_name", "Ops"},
                       {"global_contact_last_name", tag + std::to_string(i)}}}});
    return umzAdmin("/call", {{"contactId", contact["id"]},
                              {"phoneCallResult", "follow_up"},
                              {"followUpAt", "2026-12-10T09:00:00.000Z"},
                              {"description", tag + " " + std::to_string(i)}});
  }

  std::size_t tasksWithPrefix(const Json& state, const std::string& prefix) {
    std::size_t n = 0;
    for (const auto& t : state["tasks"]) {
      n += t.value("body", std::string()).rfind(prefix, 0) == 0 ? 1 : 0;
    }
    return n;
  }

  std::string issueToken(const Json& scopes) {
    return http("POST", ghl_["admin_url"].get<std::string>() + "/tokens",
                {{"scopes", scopes}, {"locationId", kLocation}})["token"]
        .get<std::string>();
  }

  fs::path dir_;
  fs::path config_;
  std::string umzKey_;
  std::string webhookSecret_;
  std::string fullToken_;
  Json fullScopes_;
  std::string masterKeyEnv_;  // "" = unset
  Json ghl_;
  Json umz_;
  ferry::testing::Sandbox ghlBox_;
  ferry::testing::Sandbox umzBox_;
  std::unique_ptr<ferry::testing::FerryRun> ferry_;
  pid_t ferryPid_ = -1;
  unsigned short port_ = 0;
  int runs_ = 0;
};

// ---- the key: a world-readable key file is refused; FERRY_MASTER_KEY works without one ----

TEST_F(OpsE2e, AWorldReadableKeyFileIsRefusedWithTheFixInTheMessage) {
  writeConfig({}, "credentials");
  fs::create_directories(dir_ / "state");
  const auto keyFile = dir_ / "state" / "master.key";
  std::ofstream(keyFile) << std::string(64, 'a') << "\n";
  fs::permissions(keyFile, fs::perms::owner_read | fs::perms::owner_write |
                               fs::perms::group_read | fs::perms::others_read);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"connection", "list", "--config", config_.string()},
           {"connection", "add", "ghl", "--secret", "token", "--config", config_.string()}}) {
    const auto r = ferry(args, fullToken_);
    EXPECT_EQ(r.exitCode, 3) << args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(keyFile.string()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("other users"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("chmod 600 " + keyFile.string()), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir_ / "state" / "credentials.enc")) << "a secret was stored anyway";
  // Fixed as the message says: the same command works.
  fs::permissions(keyFile, fs::perms::owner_read | fs::perms::owner_write);
  const auto r = ferry({"connection", "add", "ghl", "--secret", "token", "--config", config_.string()},
                       fullToken_);
  EXPECT_EQ(r.exitCode, 0) << r.err;
}

TEST_F(OpsE2e, MasterKeyFromTheEnvironmentEncryptsAndNothingPrintsTheSecret) {
  writeConfig({}, "credentials", "contacts.readonly");
  masterKeyEnv_ = "correct horse battery staple " + std::to_string(std::random_device{}());
  const auto add = ferry({"connection", "add", "ghl", "--secret", "token", "--config", config_.string()},
                         fullToken_);
  ASSERT_EQ(add.exitCode, 0) << add.err;
  EXPECT_FALSE(fs::exists(dir_ / "state" / "master.key")) << "FERRY_MASTER_KEY was ignored";
  const auto file = ferry::testing::slurp(dir_ / "state" / "credentials.enc");
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(file.find(fullToken_), std::string::npos) << "the credentials file is not encrypted";
  EXPECT_EQ(fs::status(dir_ / "state" / "credentials.enc").permissions() &
                (fs::perms::group_all | fs::perms::others_all),
            fs::perms::none);
  const auto check = ferry({"connection", "check", "ghl", "--json", "--config", config_.string()});
  EXPECT_EQ(check.exitCode, 0) << check.out << check.err;
  EXPECT_EQ(Json::parse(check.out).at("scopes").at(0).value("status", ""), "ok") << check.out;
  // Another key cannot read it: a clear error, not garbage.
  masterKeyEnv_ = "a different passphrase";
  const auto wrong = ferry({"connection", "check", "ghl", "--config", config_.string()});
  EXPECT_NE(wrong.exitCode, 0);
  EXPECT_NE(wrong.err.find("credentials.enc"), std::string::npos) << wrong.err;
  for (const auto& r : {add, check, wrong}) {
    EXPECT_EQ((r.out + r.err).find(fullToken_), std::string::npos);
  }
}

// ---- add, list, check, and rotate under a running `ferry run` ----

TEST_F(OpsE2e, RotatedTokenIsUsedByTheRunningFerryWithoutARestart) {
  writeConfig({"followups-to-tasks"}, "credentials",
              "contacts.readonly, contacts.write, businesses.readonly, locations/tags.readonly");
  // add: the key file is created (0600) and the token stored, read from stdin.
  const auto add = ferry({"connection", "add", "ghl", "--secret", "token", "--config", config_.string()},
                         fullToken_);
  ASSERT_EQ(add.exitCode, 0) << add.err;
  const auto keyFile = dir_ / "state" / "master.key";
  ASSERT_TRUE(fs::exists(keyFile)) << add.err;
  EXPECT_EQ(fs::status(keyFile).permissions() & (fs::perms::group_all | fs::perms::others_all),
            fs::perms::none);

  // list: where each secret comes from, never the secret.
  const auto list = ferry({"connection", "list", "--json", "--config", config_.string()});
  ASSERT_EQ(list.exitCode, 0) << list.err;
  const Json listed = Json::parse(list.out)["connections"];
  ASSERT_EQ(listed.size(), 2u) << list.out;
  for (const auto& c : listed) {
    const Json secrets = c.value("secrets", Json::object());
    if (c.value("name", "") == "ghl") {
      EXPECT_EQ(secrets.value("(credentials file)", ""), "present") << c.dump();
    } else {
      EXPECT_EQ(secrets.value("api_key", ""), "env:E2E_UMZ_KEY (set)") << c.dump();
    }
  }
  const auto listText = ferry({"connection", "list", "--config", config_.string()});
  ASSERT_EQ(listText.exitCode, 0);

  // check: the full token has every granted scope.
  const auto check = ferry({"connection", "check", "ghl", "--json", "--config", config_.string()});
  EXPECT_EQ(check.exitCode, 0) << check.out << check.err;
  const Json checked = Json::parse(check.out);  // kept: a range-for over a temporary's member dangles
  for (const auto& s : checked["scopes"]) {
    // A write scope has no cheap read to probe it: "unchecked", never "refused".
    EXPECT_EQ(s.value("status", ""), s.value("scope", "") == "contacts.write" ? "unchecked" : "ok")
        << s.dump();
  }

  // A running ferry creates a task with the first token.
  startFerry();
  const auto pid = ferryPid_;
  ASSERT_GT(pid, 0);  // kill(-1, ...) would signal every process
  followUpCall(1, "Vor der Rotation");
  ASSERT_TRUE(waitUntil([&] { return tasksWithPrefix(ghlState(), "Vor der Rotation") == 1; }, 45s))
      << stderrText();

  // Rotate to a fresh token, then revoke the old one: from now on only the new one works.
  const std::string newToken = issueToken(fullScopes_);
  const auto rotate = ferry({"connection", "rotate", "ghl", "--secret", "token", "--config",
                             config_.string()},
                            newToken);
  ASSERT_EQ(rotate.exitCode, 0) << rotate.err;
  http("DELETE", ghl_["admin_url"].get<std::string>() + "/tokens/" + fullToken_);
  const auto authFailuresBefore =
      http("GET", ghl_["base_url"].get<std::string>() + "/_sandbox/state")["counters"]["authFailures"];
  followUpCall(2, "Nach der Rotation");
  ASSERT_TRUE(waitUntil([&] { return tasksWithPrefix(ghlState(), "Nach der Rotation") == 1; }, 45s))
      << "the running ferry did not use the rotated token\n" << stderrText();
  EXPECT_TRUE(ferryAlive());
  EXPECT_EQ(ferryPid_, pid) << "ferry was restarted";
  EXPECT_EQ(stderrText().find("ferry: listening on"), stderrText().rfind("ferry: listening on"))
      << "ferry started twice";
  EXPECT_EQ(http("GET", ghl_["base_url"].get<std::string>() + "/_sandbox/state")["counters"]["authFailures"],
            authFailuresBefore)
      << "a call still went out with the revoked token";
  const auto dead = ferry({"dlq", "list", "--json", "--config", config_.string()});
  EXPECT_TRUE(Json::parse(dead.out)["dead_letters"].empty()) << dead.out;

  // check follows the rotation too: a read-only token reports the scopes that do not work.
  const std::string readonly = issueToken(Json::array({"contacts.readonly"}));
  ASSERT_EQ(ferry({"connection", "rotate", "ghl", "--secret", "token", "--config", config_.string()},
                  readonly)
                .exitCode,
            0);
  const auto roCheck = ferry({"connection", "check", "ghl", "--json", "--config", config_.string()});
  EXPECT_EQ(roCheck.exitCode, 1) << roCheck.out << roCheck.err;
  std::map<std::string, std::string> status;
  const Json roChecked = Json::parse(roCheck.out);
  for (const auto& s : roChecked["scopes"]) {
    status[s["scope"].get<std::string>()] = s["status"].get<std::string>();
  }
  EXPECT_EQ(status["contacts.readonly"], "ok");
  EXPECT_EQ(status["businesses.readonly"], "refused");
  EXPECT_EQ(status["locations/tags.readonly"], "refused");

  stopFerry(SIGTERM);
  const std::string everything = add.out + add.err + list.out + list.err + listText.out +
                                 listText.err + check.out + check.err + rotate.out + rotate.err +
                                 roCheck.out + roCheck.err + stderrText() +
                                 ferry::testing::slurp(dir_ / "ferry.stdout");
  for (const auto& secret : {fullToken_, newToken, readonly}) {
    EXPECT_EQ(everything.find(secret), std::string::npos) << "a token was printed";
  }
}

// ---- SIGHUP: the server stays up while flows and credentials are reloaded ----

TEST_F(OpsE2e, WebhooksDuringSighupsAreAllAcceptedAndProcessed) {
  writeConfig({"followups-to-tasks"}, "env:E2E_GHL_TOKEN");
  startFerry({"--log-level", "debug"});
  const auto pid = ferryPid_;
  ASSERT_GT(pid, 0);  // kill(-1, ...) would signal every process

  // Calls made in a bounded loop while another thread sends SIGHUP again and again.
  constexpr int kCalls = 24;
  constexpr int kReloads = 6;
  std::atomic<int> made{0};
  auto reloadsDone = [&] {
    const auto err = stderrText();
    int n = 0;
    for (auto at = err.find("ferry: reloaded"); at != std::string::npos;
         at = err.find("ferry: reloaded", at + 1)) {
      ++n;
    }
    return n;
  };
  std::thread hup([&] {
    for (int i = 0; i < kReloads; ++i) {
      const int target = (i + 1) * kCalls / (kReloads + 1);
      for (int w = 0; w < 500 && made < target; ++w) {
        std::this_thread::sleep_for(20ms);
      }
      kill(pid, SIGHUP);
      // Signals do not queue: wait (bounded) for this reload before sending the next one.
      for (int w = 0; w < 500 && reloadsDone() <= i; ++w) {
        std::this_thread::sleep_for(20ms);
      }
    }
  });
  for (int i = 0; i < kCalls; ++i) {
    followUpCall(i, "Reload");
    made = i + 1;
    // Paced, so that the deliveries (sent by the sandbox as the calls happen) and the reloads
    // spread over the same second.
    std::this_thread::sleep_for(40ms);
  }
  hup.join();
  ASSERT_TRUE(waitUntil([&] { return tasksWithPrefix(ghlState(), "Reload") == kCalls; }, 60s))
      << tasksWithPrefix(ghlState(), "Reload") << " of " << kCalls << " tasks\n" << stderrText();
  ASSERT_TRUE(waitUntil([&] { return umzState()["pendingDeliveries"] == 0; }, 30s));
  const Json deliveries = umzState()["deliveries"];
  ASSERT_GE(deliveries.size(), static_cast<std::size_t>(kCalls));
  for (const auto& d : deliveries) {
    EXPECT_EQ(d.value("status", 0) / 100, 2) << d.dump();
    EXPECT_EQ(d.value("attempts", 0), 1) << "a delivery had to be retried: " << d.dump();
  }
  EXPECT_TRUE(waitUntil([&] { return reloadsDone() == kReloads; }, 20s)) << stderrText();
  EXPECT_TRUE(ferryAlive());
  EXPECT_EQ(tasksWithPrefix(ghlState(), "Reload"), static_cast<std::size_t>(kCalls));
  // Debug lines describe the work (claims, step input shapes, reload steps).
  const auto err = stderrText();
  EXPECT_NE(err.find("A worker claimed an event."), std::string::npos);
  EXPECT_NE(err.find("A step's input is mapped"), std::string::npos);
  EXPECT_NE(err.find("Reload: parsing and validating the flows."), std::string::npos);
  EXPECT_EQ(err.find(fullToken_), std::string::npos);
  EXPECT_EQ(err.find(umzKey_), std::string::npos);
}

TEST_F(OpsE2e, ABrokenFlowOnSighupKeepsTheOldFlowsRunning) {
  writeConfig({"followups-to-tasks"}, "env:E2E_GHL_TOKEN");
  startFerry();
  const auto pid = ferryPid_;
  ASSERT_GT(pid, 0);  // kill(-1, ...) would signal every process
  // Break the flow: an operation that does not exist.
  const auto flowFile = dir_ / "followups-to-tasks.yaml";
  std::string text = ferry::testing::slurp(flowFile);
  const auto at = text.find("use: ghl.task.create");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("use: ghl.task.create").size(), "use: ghl.task.craete");
  std::ofstream(flowFile) << text;
  kill(pid, SIGHUP);
  ASSERT_TRUE(waitUntil([&] { return stderrText().find("reload refused") != std::string::npos; }, 20s))
      << stderrText();
  const auto err = stderrText();
  EXPECT_NE(err.find(flowFile.string() + ":"), std::string::npos) << "no place: " << err;
  EXPECT_NE(err.find("ghl.task.craete"), std::string::npos) << err;
  EXPECT_NE(err.find("Reload refused"), std::string::npos) << "no log line: " << err;
  EXPECT_TRUE(ferryAlive());

  // The old flow still runs: a call still becomes a task.
  followUpCall(1, "Trotz Fehler");
  ASSERT_TRUE(waitUntil([&] { return tasksWithPrefix(ghlState(), "Trotz Fehler") == 1; }, 45s))
      << stderrText();
  EXPECT_EQ(ferryPid_, pid);
}

// ---- coalescing is a declared property of a trigger, shown by `ferry catalog show` ----

TEST_F(OpsE2e, CatalogShowsWhichTriggersCoalesce) {
  const std::map<std::string, bool> expected{
      {"ghl.contact.updated", true},            {"ghl.contact.created", false},
      {"ghl.note.updated", false},              // keyed by its contact: two notes, two records
      {"ghl.appointment.updated", false},       {"umsatzio.contact.property_changed", true},
      {"umsatzio.deal.property_changed", true}, {"umsatzio.contact.updated", true},
      {"umsatzio.activity.created", false},     {"umsatzio.note.created", false}};
  for (const auto& [id, coalesce] : expected) {
    const auto json = ferry({"catalog", "show", id, "--json"});
    ASSERT_EQ(json.exitCode, 0) << id << ": " << json.err;
    const Json op = Json::parse(json.out);
    ASSERT_TRUE(op.contains("coalesce")) << json.out;
    EXPECT_EQ(op["coalesce"].get<bool>(), coalesce) << id;
    const auto text = ferry({"catalog", "show", id});
    EXPECT_NE(text.out.find(coalesce ? "Coalesce: yes" : "Coalesce: no"), std::string::npos)
        << id << ":\n" << text.out;
  }
  // Actions do not carry the flag.
  const auto action = ferry({"catalog", "show", "ghl.contact.upsert", "--json"});
  EXPECT_FALSE(Json::parse(action.out).contains("coalesce")) << action.out;
}

}  // namespace

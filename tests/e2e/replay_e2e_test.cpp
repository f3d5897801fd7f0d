// End-to-end: replaying a dead letter of the contact-sync flow after a newer version of the same
// contact was synced. The real `ferry run` and `ferry dlq replay` against the real GHL and
// Umsatz-io sandboxes over HTTP on 127.0.0.1.
//
// The hole (docs/operations.md): contact version 1 became a dead letter (GHL answered 5xx), the
// contact was renamed and version 2 was synced, then the operator replayed the dead letter:
// version 1 ran again and GHL held the older last name. Now the replay is settled as superseded
// and GHL keeps version 2; `--force` still runs version 1 as it was (which is the old behaviour,
// so the forced test reproduces the hole on purpose).
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
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

using ferry::testing::FerryRun;
using ferry::testing::http;
using ferry::testing::httpText;
using ferry::testing::slurp;
using ferry::testing::waitUntil;

class ReplayE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-replay-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::random_device rd;
    umzKey_ = "umz-key-" + std::to_string(rd());
    webhookSecret_ = "whsec-" + std::to_string(rd());
    ghlBox_ = ferry::testing::Sandbox::start("ghl");
    umzBox_ = ferry::testing::Sandbox::start(
        "umsatzio", {"--api-key", umzKey_, "--webhook-secret", webhookSecret_});
    token_ = ghlBox_.info["tokens"]["full"]["token"].get<std::string>();
    writeConfig();
    ferry_ = std::make_unique<FerryRun>(dir_, std::vector<std::string>{"run", "--config", config_.string()},
                                        env());
    port_ = ferry_->waitListening();
    ASSERT_NE(port_, 0) << slurp(dir_ / "ferry.stderr");
  }

  void TearDown() override {
    ferry_.reset();
    umzBox_.stop();
    ghlBox_.stop();
    if (!HasFailure()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    } else {
      std::cerr << "replay e2e: kept " << dir_ << " for inspection\n";
    }
  }

  // The seed contact-sync flow, unchanged but for its upsert retries: one attempt, so a 5xx
  // makes a dead letter at once instead of after ~30 s of backoff.
  void writeConfig() {
    std::string flow = slurp(kSource + "/flows/contact-sync.yaml");
    const std::string retry = "retry: {max_attempts: 5, backoff: exponential, delay: 2s}";
    const auto at = flow.find(retry);
    ASSERT_NE(at, std::string::npos) << "flows/contact-sync.yaml changed its retry policy";
    flow.replace(at, retry.size(), "retry: {max_attempts: 1, backoff: fixed, delay: 1s}");
    std::ofstream(dir_ / "contact-sync.yaml") << flow;
    ferry::testing::SandboxConnections connections;
    connections.ghlBaseUrl = ghlBox_.baseUrl();
    connections.umsatzioBaseUrl = umzBox_.baseUrl();
    connections.location = kLocation;
    config_ = dir_ / "ferry.yaml";
    std::ofstream(config_) << ferry::testing::testConfigHead(dir_) << "flows:\n  - contact-sync.yaml\n"
                           << connections.yaml();
  }

  std::map<std::string, std::string> env() const {
    return {{"E2E_GHL_TOKEN", token_},
            {"E2E_UMZ_KEY", umzKey_},
            {"E2E_UMZ_WEBHOOK_SECRET", webhookSecret_},
            {"FERRY_MASTER_KEY", ""}};
  }

  ferry::testing::Run cli(std::vector<std::string> args) {
    args.insert(args.end(), {"--config", config_.string()});
    return ferry::testing::runProgram(kFerry, args, env(), dir_ / "cli", 60s);
  }

  void ghlFaults(const std::string& spec) {
    http("POST", ghlBox_.adminUrl() + "/faults", {{"spec", spec}});
  }

  Json ghlContacts() {
    return http("GET", ghlBox_.baseUrl() + "/_sandbox/state")["locations"][kLocation]["contacts"];
  }

  const Json* ghlContact(const Json& contacts, const std::string& email) {
    for (const auto& c : contacts) {
      if (c.value("email", "") == email) {
        return &c;
      }
    }
    return nullptr;
  }

  Json umzContact(const std::string& email, const std::string& first, const std::string& last) {
    return http("POST", umzBox_.adminUrl() + "/contact",
                {{"data", {{"global_contact_email", email},
                           {"global_contact_first_name", first},
                           {"global_contact_last_name", last}}}});
  }

  void umzRename(const Json& contact, const std::string& last) {
    http("POST", umzBox_.adminUrl() + "/contact",
         {{"id", contact["id"]}, {"data", {{"global_contact_last_name", last}}}});
  }

  double metric(const std::string& name) {
    return ferry::testing::metricValue(
        httpText("http://127.0.0.1:" + std::to_string(port_) + "/metrics"), name);
  }

  bool drained() { return metric("ferry_queue_depth") == 0 && metric("ferry_events_running") == 0; }

  // The dead letters whose record key names this Umsatz-io contact, waiting until `count` exist.
  Json deadLettersOf(const Json& contact, std::size_t count) {
    Json mine = Json::array();
    const std::string id = contact["id"].get<std::string>();
    const bool ok = waitUntil(
        [&] {
          const auto r = cli({"dlq", "list", "--json"});
          mine = Json::array();
          const Json all = Json::parse(r.out);
          for (const auto& d : all.at("dead_letters")) {
            if (d.value("record", "") == "umsatzio:" + id) {
              mine.push_back(d);
            }
          }
          return mine.size() >= count;
        },
        60s);
    EXPECT_TRUE(ok) << "no dead letter for contact " << id << "\n" << slurp(dir_ / "ferry.stderr");
    return mine;
  }

  // Waits until GHL holds `email` with `last` and ferry's queue is empty, then a little longer
  // (a late run would show) and returns the contact's last name then.
  std::string settledLastName(const std::string& email, const std::string& last) {
    const bool ok = waitUntil(
        [&] {
          const Json contacts = ghlContacts();
          const Json* c = ghlContact(contacts, email);
          return c != nullptr && c->value("lastName", "") == last && drained();
        },
        60s);
    EXPECT_TRUE(ok) << email << " never had last name " << last << "; GHL:\n"
                    << ghlContacts().dump(2) << "\n" << slurp(dir_ / "ferry.stderr");
    std::this_thread::sleep_for(3s);  // two more polls and claims: nothing else may arrive
    EXPECT_TRUE(waitUntil([&] { return drained(); }, 30s));
    const Json contacts = ghlContacts();
    const Json* c = ghlContact(contacts, email);
    return c == nullptr ? std::string("<missing>") : c->value("lastName", "");
  }

  // Version 1 of a contact becomes a dead letter (GHL answers 5xx), then the contact is renamed
  // and version 2 is synced. Returns the dead letter's event id.
  long long olderVersionDeadNewerSynced(const std::string& email, Json* contact) {
    ghlFaults("5xx=1");
    *contact = umzContact(email, "Erika", "erstfassung");
    const Json dead = deadLettersOf(*contact, 1);
    EXPECT_EQ(dead.size(), 1u) << dead.dump(2);
    ghlFaults("");
    umzRename(*contact, "neufassung");
    EXPECT_EQ(settledLastName(email, "Neufassung"), "Neufassung");
    return dead.empty() ? 0 : dead[0]["event_id"].get<long long>();
  }

  fs::path dir_;
  fs::path config_;
  std::string token_;
  std::string umzKey_;
  std::string webhookSecret_;
  ferry::testing::Sandbox ghlBox_;
  ferry::testing::Sandbox umzBox_;
  std::unique_ptr<FerryRun> ferry_;
  unsigned short port_ = 0;
};

TEST_F(ReplayE2e, ReplayOfAnOlderContactVersionKeepsTheNewerOneInGhl) {
  Json anna;
  const long long stale = olderVersionDeadNewerSynced("anna.replay@example.org", &anna);
  ASSERT_NE(stale, 0);
  // A second contact whose only version is dead: its replay must run as before.
  ghlFaults("5xx=1");
  const Json bert = umzContact("bert.replay@example.org", "Bert", "einzig");
  const Json bertDead = deadLettersOf(bert, 1);
  ASSERT_EQ(bertDead.size(), 1u);
  ghlFaults("");

  const auto r = cli({"dlq", "replay", "--all"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  std::cerr << "replay e2e: ferry dlq replay --all said:\n" << r.out;
  EXPECT_NE(r.out.find("Event " + std::to_string(stale) + " was not replayed"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("notice[replay_superseded]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Event " + bertDead[0]["event_id"].dump() + " is queued again."),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("1 queued, 1 superseded."), std::string::npos) << r.out;

  EXPECT_EQ(settledLastName("bert.replay@example.org", "Einzig"), "Einzig");
  EXPECT_EQ(settledLastName("anna.replay@example.org", "Neufassung"), "Neufassung")
      << "the replayed older version overwrote the newer one in GHL";
  std::size_t annas = 0;
  for (const auto& c : ghlContacts()) {
    annas += c.value("email", "") == "anna.replay@example.org" ? 1 : 0;
  }
  EXPECT_EQ(annas, 1u);

  // History, dead letters and metrics say what happened.
  const auto runs = cli({"runs", "list", "--status", "superseded", "--json"});
  ASSERT_EQ(runs.exitCode, 0) << runs.err;
  const Json list = Json::parse(runs.out)["runs"];
  ASSERT_EQ(list.size(), 1u) << runs.out;
  EXPECT_EQ(list[0]["event_id"].get<long long>(), stale);
  EXPECT_NE(list[0]["error"].get<std::string>().find("newer event"), std::string::npos);
  EXPECT_TRUE(Json::parse(cli({"dlq", "list", "--json"}).out)["dead_letters"].empty());
  EXPECT_EQ(metric("ferry_dlq_replays_superseded"), 1);
  EXPECT_EQ(metric("ferry_dlq_replays_forced"), 0);
}

TEST_F(ReplayE2e, ForcedReplayRunsTheOlderVersionAsItWas) {
  Json carla;
  const long long stale = olderVersionDeadNewerSynced("carla.replay@example.org", &carla);
  ASSERT_NE(stale, 0);

  const auto r = cli({"dlq", "replay", std::to_string(stale), "--force", "--json"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  const Json out = Json::parse(r.out);
  ASSERT_EQ(out["replays"].size(), 1u) << r.out;
  EXPECT_EQ(out["replays"][0]["outcome"], "forced");
  EXPECT_GT(out["replays"][0]["newer_event_id"].get<long long>(), stale);
  EXPECT_EQ(out["replays"][0]["newer_status"], "done");

  // Forced, the older version runs and GHL holds it: what every replay did before the fix.
  EXPECT_EQ(settledLastName("carla.replay@example.org", "Erstfassung"), "Erstfassung");
  const auto runs = cli({"runs", "list", "--status", "forced", "--json"});
  ASSERT_EQ(Json::parse(runs.out)["runs"].size(), 1u) << runs.out;
  EXPECT_EQ(metric("ferry_dlq_replays_forced"), 1);
  EXPECT_EQ(metric("ferry_dlq_replays_superseded"), 0);
}

TEST_F(ReplayE2e, ReplayOfAnUnknownDeadLetterIsRefusedWithAHint) {
  const auto r = cli({"dlq", "replay", "424242"});
  EXPECT_EQ(r.exitCode, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("error[not_found]"), std::string::npos) << r.err;
  const auto none = cli({"dlq", "replay"});
  EXPECT_EQ(none.exitCode, 2) << none.out << none.err;
  EXPECT_NE(none.err.find("--all"), std::string::npos) << none.err;
}

}  // namespace

// The drift test: the real `ferry run` syncs contacts between the real sandboxes; then contacts
// are deleted and altered in the GHL sandbox behind ferry's back (its admin API: no webhook) and
// one is deleted in Umsatz-io. `ferry sync --dry-run` must report exactly that drift and write
// nothing; one `ferry sync` cycle must restore GHL with no duplicate contact, leaving the orphan
// reported but untouched. A second test lets a `schedule:` inside `ferry run` do the repair and
// reads the drift gauge from /metrics.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
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
const std::string kGhlFaults = "429=0.05,5xx=0.1,drop=0.01,latency=0-20";

using ferry::testing::FerryRun;
using ferry::testing::http;
using ferry::testing::waitUntil;

class SyncE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-sync-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::random_device rd;
    umzKey_ = "umz-canary-" + std::to_string(rd()) + std::to_string(rd());
    ghlBox_ = ferry::testing::Sandbox::start("ghl", {"--faults", kGhlFaults});
    ghl_ = ghlBox_.info;
    umzBox_ = ferry::testing::Sandbox::start("umsatzio", {"--api-key", umzKey_});
    umz_ = umzBox_.info;
    token_ = ghl_["tokens"]["full"]["token"].get<std::string>();
  }

  void TearDown() override {
    ferry_.reset();
    umzBox_.stop();
    ghlBox_.stop();
    if (!HasFailure()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    } else {
      std::cerr << "sync e2e: kept " << dir_ << " for inspection\n";
    }
  }

  // contact-sync copied from flows/, with `extra` appended (e.g. a schedule).
  void writeConfig(const std::string& extra = "") {
    std::string flow = ferry::testing::slurp(kSource + "/flows/contact-sync.yaml");
    std::ofstream(dir_ / "contact-sync.yaml") << flow << extra;
    ferry::testing::SandboxConnections connections;
    connections.ghlBaseUrl = ghl_["base_url"].get<std::string>();
    connections.umsatzioBaseUrl = umz_["base_url"].get<std::string>();
    connections.location = kLocation;
    connections.umsatzioWebhookSecret = false;
    std::ofstream(dir_ / "ferry.yaml") << ferry::testing::testConfigHead(dir_)
                                       << "flows: [contact-sync.yaml]\n" << connections.yaml();
    config_ = dir_ / "ferry.yaml";
  }

  std::map<std::string, std::string> env() const {
    return {{"E2E_GHL_TOKEN", token_}, {"E2E_UMZ_KEY", umzKey_}, {"FERRY_MASTER_KEY", ""}};
  }

  void startFerry() {
    ferry_ = std::make_unique<FerryRun>(dir_, std::vector<std::string>{"run", "--config",
                                                                        config_.string()},
                                        env());
    port_ = ferry_->waitListening();
    ASSERT_NE(port_, 0) << ferry::testing::slurp(dir_ / "ferry.stderr");
  }

  ferry::testing::Run cli(const std::vector<std::string>& args) {
    return ferry::testing::runProgram(kFerry, args, env(), dir_ / ("cli" + std::to_string(++runs_)),
                                      90s);
  }

  Json ghlState() {
    return http("GET", ghl_["admin_url"].get<std::string>() + "/state")["locations"][kLocation];
  }
  std::string ghlAdmin() const { return ghl_["admin_url"].get<std::string>(); }

  Json newContact(const std::string& email, const std::string& first, const std::string& last,
                  const std::string& phone, const std::string& company) {
    Json data = {{"global_contact_email", email},
                 {"global_contact_first_name", first},
                 {"global_contact_last_name", last},
                 {"global_contact_phone", phone},
                 {"global_contact_company", company}};
    return http("POST", umz_["admin_url"].get<std::string>() + "/contact", {{"data", data}});
  }

  // A series of ferry's /metrics, e.g. metric("ferry_queue_depth") or with labels.
  double metric(const std::string& series) {
    return ferry::testing::metricValue(
        ferry::testing::httpText("http://127.0.0.1:" + std::to_string(port_) + "/metrics"), series);
  }
  bool drained() { return metric("ferry_queue_depth") == 0 && metric("ferry_events_running") == 0; }

  static const Json* byField(const Json& list, const std::string& field, const std::string& value) {
    for (const auto& x : list) {
      if (x.value(field, std::string()) == value) {
        return &x;
      }
    }
    return nullptr;
  }

  struct Person {
    std::string email, first, last, phone, company;
    Json umz;
  };

  // Five contacts made in Umsatz-io and synced by `ferry run` into GHL; returns them.
  std::vector<Person> syncFive() {
    std::vector<Person> people = {
        {"hanna.roth@drift.example", "Hanna", "Roth", "+49301110001", "Roth AG", {}},
        {"jonas.weiss@drift.example", "Jonas", "Weiss", "+49301110002", "Weiss KG", {}},
        {"karla.blau@drift.example", "Karla", "Blau", "+49301110003", "Blau GmbH", {}},
        {"lukas.gruen@drift.example", "Lukas", "Gruen", "+49301110004", "Gruen OHG", {}},
        {"mia.schwarz@drift.example", "Mia", "Schwarz", "+49301110005", "Schwarz eG", {}},
    };
    for (auto& p : people) {
      p.umz = newContact(p.email, p.first, p.last, p.phone, p.company);
    }
    EXPECT_TRUE(waitUntil([&] { return ghlState()["contacts"].size() == 5 && drained(); }, 60s))
        << ghlState().dump(2) << ferry::testing::slurp(dir_ / "ferry.stderr");
    return people;
  }

  // Behind ferry's back: GHL loses Hanna, Jonas's last name and Karla's phone and company are
  // changed in GHL, and Lukas is deleted in Umsatz-io. Returns the GHL ids by e-mail before.
  std::map<std::string, std::string> makeDrift(const std::vector<Person>& people) {
    std::map<std::string, std::string> ids;
    const Json state = ghlState();
    for (const auto& c : state["contacts"]) {
      ids[c.value("email", std::string())] = c.value("id", std::string());
    }
    for (const auto& p : people) {
      EXPECT_EQ(ids.count(p.email), 1U) << p.email << " is not in GHL:\n" << state.dump(2);
      if (ids.count(p.email) == 0) {
        throw std::runtime_error("GHL does not hold " + p.email);
      }
    }
    http("DELETE", ghlAdmin() + "/contacts/" + ids.at(people[0].email));
    http("PUT", ghlAdmin() + "/contacts/" + ids.at(people[1].email), {{"lastName", "Falsch"}});
    http("PUT", ghlAdmin() + "/contacts/" + ids.at(people[2].email),
         {{"phone", "+49999000000"}, {"companyName", "Andere GmbH"}});
    http("POST", umz_["admin_url"].get<std::string>() + "/contact/delete",
         {{"id", people[3].umz["id"]}});
    return ids;
  }

  // GHL holds every person as Umsatz-io has them (Lukas as the untouched orphan), once each.
  bool restored(const Json& state, const std::vector<Person>& people) {
    const Json& contacts = state["contacts"];
    if (contacts.size() != people.size()) {
      return false;
    }
    for (const auto& p : people) {
      const Json* c = byField(contacts, "email", p.email);
      if (c == nullptr || c->value("firstName", "") != p.first ||
          c->value("lastName", "") != p.last || c->value("phone", "") != p.phone ||
          c->value("companyName", "") != p.company) {
        return false;
      }
    }
    return true;
  }

  fs::path dir_;
  fs::path config_;
  std::string token_;
  std::string umzKey_;
  Json ghl_;
  Json umz_;
  ferry::testing::Sandbox ghlBox_;
  ferry::testing::Sandbox umzBox_;
  std::unique_ptr<FerryRun> ferry_;
  unsigned short port_ = 0;
  int runs_ = 0;
};

TEST_F(SyncE2e, DryRunReportsExactlyTheDriftAndOneCycleRestoresItWithoutDuplicates) {
  writeConfig();
  startFerry();
  const auto people = syncFive();
  const auto ids = makeDrift(people);
  const Json before = ghlState();
  ASSERT_EQ(before["contacts"].size(), 4U);

  // The dry run: exactly the drift made above, and nothing written.
  const auto dry = cli({"sync", "contact-sync", "--dry-run", "--full", "--json", "--config",
                        config_.string()});
  ASSERT_EQ(dry.exitCode, 0) << dry.out << dry.err;
  const Json report = Json::parse(dry.out);
  EXPECT_EQ(report["dry_run"], true);
  EXPECT_EQ(report["mode"], "full");
  EXPECT_EQ(report["source_records"], 4) << report.dump(2);
  EXPECT_EQ(report["target_records"], 4);
  EXPECT_EQ(report["counts"]["missing"], 1) << report.dump(2);
  EXPECT_EQ(report["counts"]["different"], 2) << report.dump(2);
  EXPECT_EQ(report["counts"]["orphaned"], 1) << report.dump(2);
  EXPECT_EQ(report["in_sync"], 1);
  EXPECT_EQ(report["queued"], 0);
  const Json& missing = report["drift"]["missing"];
  ASSERT_EQ(missing.size(), 1U);
  EXPECT_EQ(missing[0]["source_id"], people[0].umz["id"]);
  EXPECT_EQ(missing[0]["target_id"], ids.at(people[0].email));
  EXPECT_EQ(missing[0]["label"], people[0].email);
  std::map<std::string, Json> different;
  for (const auto& d : report["drift"]["different"]) {
    different[d["label"].get<std::string>()] = d;
  }
  ASSERT_EQ(different.count(people[1].email), 1U) << report.dump(2);
  ASSERT_EQ(different.count(people[2].email), 1U) << report.dump(2);
  const Json jonas = different[people[1].email]["fields"];
  EXPECT_EQ(jonas, (Json{{"lastName", {{"source", "Weiss"}, {"target", "Falsch"}}}})) << jonas.dump();
  const Json karla = different[people[2].email]["fields"];
  EXPECT_EQ(karla, (Json{{"phone", {{"source", "+49301110003"}, {"target", "+49999000000"}}},
                         {"companyName", {{"source", "Blau GmbH"}, {"target", "Andere GmbH"}}}}))
      << karla.dump();
  const Json& orphaned = report["drift"]["orphaned"];
  ASSERT_EQ(orphaned.size(), 1U);
  EXPECT_EQ(orphaned[0]["source_id"], people[3].umz["id"]);
  EXPECT_EQ(orphaned[0]["target_id"], ids.at(people[3].email));
  // The text form says the same.
  const auto text = cli({"sync", "contact-sync", "--dry-run", "--full", "--config", config_.string()});
  ASSERT_EQ(text.exitCode, 0) << text.err;
  EXPECT_NE(text.out.find("missing in target  1"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("different          2"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("orphaned in target 1"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Dry run: nothing was queued"), std::string::npos) << text.out;
  // Nothing was written: GHL as before, no event queued.
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(ghlState()["contacts"], before["contacts"]);
  EXPECT_EQ(metric("ferry_queue_depth"), 0);

  // One cycle repairs the missing and the different contacts.
  const auto repair = cli({"sync", "contact-sync", "--full", "--json", "--config", config_.string()});
  ASSERT_EQ(repair.exitCode, 0) << repair.out << repair.err;
  const Json done = Json::parse(repair.out);
  EXPECT_EQ(done["queued"], 3) << done.dump(2);
  EXPECT_EQ(done["counts"]["total"], 4);
  EXPECT_NE(repair.err.find("repair(s) queued"), std::string::npos) << repair.err;

  Json state;
  const bool ok = waitUntil(
      [&] {
        state = ghlState();
        return restored(state, people) && drained();
      },
      60s);
  ASSERT_TRUE(ok) << state.dump(2) << ferry::testing::slurp(dir_ / "ferry.stderr");
  std::this_thread::sleep_for(3s);  // anything late or duplicated would show now
  state = ghlState();
  ASSERT_EQ(state["contacts"].size(), people.size()) << "a duplicate contact\n" << state.dump(2);
  std::set<std::string> emails;
  for (const auto& c : state["contacts"]) {
    emails.insert(c["email"].get<std::string>());
  }
  EXPECT_EQ(emails.size(), people.size());
  EXPECT_TRUE(restored(state, people)) << state.dump(2);
  // The untouched ones kept their ids; Hanna is back under a new one; the orphan is still there.
  for (std::size_t i = 1; i < people.size(); ++i) {
    EXPECT_EQ(byField(state["contacts"], "email", people[i].email)->value("id", ""),
              ids.at(people[i].email));
  }
  EXPECT_NE(byField(state["contacts"], "email", people[0].email)->value("id", ""),
            ids.at(people[0].email));

  // After the repair only the orphan is left, and the gauge shows what the cycle found.
  const auto after = cli({"sync", "contact-sync", "--dry-run", "--full", "--json", "--config",
                          config_.string()});
  ASSERT_EQ(after.exitCode, 0) << after.err;
  const Json left = Json::parse(after.out);
  EXPECT_EQ(left["counts"], (Json{{"missing", 0}, {"different", 0}, {"orphaned", 1}, {"total", 1}}))
      << left.dump(2);
  EXPECT_EQ(left["in_sync"], 4);
  EXPECT_TRUE(waitUntil([&] { return metric("ferry_sync_drift{flow=\"contact-sync\"}") == 4; }, 20s))
      << metric("ferry_sync_drift{flow=\"contact-sync\"}");
}

TEST_F(SyncE2e, AScheduledCycleInFerryRunRepairsDriftAndPublishesTheGauge) {
  writeConfig("schedule: {every: 3s, full: true, budget_share: 0.5}\n");
  startFerry();
  const auto people = syncFive();
  makeDrift(people);
  Json state;
  const bool ok = waitUntil(
      [&] {
        state = ghlState();
        return restored(state, people) && drained();
      },
      60s);
  ASSERT_TRUE(ok) << state.dump(2) << ferry::testing::slurp(dir_ / "ferry.stderr");
  // Later cycles find only the orphan.
  EXPECT_TRUE(waitUntil(
      [&] {
        return metric("ferry_sync_drift{flow=\"contact-sync\"}") == 1 &&
               metric("ferry_sync_drift_records{flow=\"contact-sync\",kind=\"orphaned\"}") == 1;
      },
      30s))
      << metric("ferry_sync_drift{flow=\"contact-sync\"}");
  std::this_thread::sleep_for(3s);
  state = ghlState();
  EXPECT_EQ(state["contacts"].size(), people.size()) << state.dump(2);
  EXPECT_TRUE(restored(state, people)) << state.dump(2);
}

}  // namespace

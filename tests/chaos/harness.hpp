#pragma once

// The crash and fault harness: real `ferry run` workers (child processes, killed with SIGKILL
// and started again), the real GHL and Umsatz-io sandboxes, a throwaway PostgreSQL cluster of
// the test's own (so it can be stopped and started under load), generated Umsatz-io traffic,
// and the comparison of GHL's final state with the state the traffic implies. The processes,
// HTTP and bounded polls are the shared harness's (tests/support/ferry_run.hpp); this file adds
// what only the chaos tests need. Every loop is bounded in count and time.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/ferry_run.hpp"

namespace ferry::chaos {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using namespace std::chrono_literals;

using testing::call;
using testing::FerryRun;
using testing::freePort;
using testing::http;
using testing::Sandbox;
using testing::slurp;
using testing::waitUntil;

inline const std::string kSource = FERRY_SOURCE_DIR;
inline const std::string kLocation = "ferrySandboxLoc00001";

// A size or time from the environment (the full runs of scripts/chaos.sh), else `fallback`.
inline long envNumber(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::stol(v) : fallback;
}

// A throwaway PostgreSQL cluster owned by one test (scripts/pg-cluster.sh in C++), so the test
// may stop and start it. Runs the server binaries as `postgres` when the test runs as root.
class PgCluster {
 public:
  // Empty when the server binaries are missing (the caller skips).
  static std::string binDir() {
    std::string best;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
      if (fs::exists(e.path() / "bin" / "pg_ctl") && e.path().string() > best) {
        best = e.path().string();
      }
    }
    return best.empty() ? "" : best + "/bin";
  }

  explicit PgCluster(unsigned short port) : port_(port), bin_(binDir()) {
    char tmpl[] = "/tmp/ferry-chaos-pg-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir_ = tmpl;
    if (geteuid() == 0) {
      run("chown postgres " + dir_.string(), false, true);
    }
    run(bin_ + "/initdb -D " + (dir_ / "data").string() + " -A trust -U postgres --no-sync >/dev/null");
    start();
  }

  ~PgCluster() {
    stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void start() {
    run(bin_ + "/pg_ctl -D " + (dir_ / "data").string() + " -l " + (dir_ / "log").string() +
        " -w -o \"-p " + std::to_string(port_) + " -k " + dir_.string() +
        " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start >/dev/null");
  }

  void stop() {
    run(bin_ + "/pg_ctl -D " + (dir_ / "data").string() + " -m fast -w stop >/dev/null 2>&1", true,
        false);
  }

  // The store URL (libpq key=value form).
  std::string url() const {
    return "postgres:host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
  }

 private:
  void run(const std::string& command, bool asPostgres = true, bool mustSucceed = true) {
    const std::string full =
        (asPostgres && geteuid() == 0 ? "runuser -u postgres -- " : "") + command;
    if (std::system(full.c_str()) != 0 && mustSucceed) {
      throw std::runtime_error("failed: " + full);
    }
  }

  unsigned short port_;
  std::string bin_;
  fs::path dir_;
};

// What GHL holds, counted by source reference.
struct Observed {
  std::map<std::string, int> contactEmails;
  std::map<std::string, std::string> lastNameOf;  // e-mail -> lastName
  std::map<std::string, int> taskActivities;
  std::map<std::string, int> noteIds;
  int unattributed = 0;
};

inline std::string lower(std::string s) {
  for (auto& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

inline std::string str(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) {
    return "";
  }
  return j[key].get<std::string>();
}

inline Observed observe(const Json& location) {
  static const std::regex activity(R"(Umsatz-io activity ([A-Za-z]+_[0-9]+))");
  static const std::regex note(R"(\[Umsatz-io note ([A-Za-z]+_[0-9]+))");
  Observed o;
  for (const auto& c : location.value("contacts", Json::array())) {
    const auto email = lower(str(c, "email"));
    if (email.empty()) {
      ++o.unattributed;
      continue;
    }
    ++o.contactEmails[email];
    o.lastNameOf[email] = str(c, "lastName");
  }
  for (const auto& t : location.value("tasks", Json::array())) {
    std::smatch m;
    const auto body = str(t, "body");
    if (std::regex_search(body, m, activity)) {
      ++o.taskActivities[m[1].str()];
    } else {
      ++o.unattributed;
    }
  }
  for (const auto& n : location.value("notes", Json::array())) {
    std::smatch m;
    const auto body = str(n, "body");
    if (std::regex_search(body, m, note)) {
      ++o.noteIds[m[1].str()];
    } else {
      ++o.unattributed;
    }
  }
  return o;
}

// What the traffic implies in GHL.
struct Expected {
  std::set<std::string> contactEmails;
  std::map<std::string, std::string> lastNameOf;  // e-mail -> the last name it was changed to
  std::set<std::string> taskActivities;
  std::set<std::string> noteIds;
};

// The followups-to-tasks flow's `when:` — a follow-up time, or a result mentioning "follow".
inline bool needsFollowUp(const Json& call) {
  const bool hasTime = call.contains("followUpAt") && call["followUpAt"].is_string() &&
                       !call["followUpAt"].get<std::string>().empty();
  return hasTime || lower(str(call, "phoneCallResult")).find("follow") != std::string::npos;
}

// Compares the Umsatz-io state before and after the traffic: new or changed contacts, new
// calls needing a follow-up (and their contacts), new notes. `renamed` maps contact ids to the
// last name the traffic gave them last.
inline Expected expect(const Json& before, const Json& after,
                       const std::map<std::string, std::string>& renamed) {
  std::map<std::string, std::string> versionsBefore;
  for (const auto& c : before.value("contacts", Json::array())) {
    versionsBefore[str(c, "id")] = str(c, "updatedAt");
  }
  std::set<std::string> callsBefore;
  for (const auto& c : before.value("calls", Json::array())) {
    callsBefore.insert(str(c, "id"));
  }
  std::set<std::string> notesBefore;
  for (const auto& n : before.value("notes", Json::array())) {
    notesBefore.insert(str(n, "id"));
  }
  Expected e;
  std::map<std::string, std::string> emailOf;
  for (const auto& c : after.value("contacts", Json::array())) {
    const auto id = str(c, "id");
    const auto email = lower(str(c.value("data", Json::object()), "global_contact_email"));
    emailOf[id] = email;
    auto it = versionsBefore.find(id);
    const bool changed = it == versionsBefore.end() || it->second != str(c, "updatedAt");
    if (changed && !email.empty()) {
      e.contactEmails.insert(email);
    }
    if (auto r = renamed.find(id); r != renamed.end() && !email.empty()) {
      e.lastNameOf[email] = r->second;
    }
  }
  for (const auto& call : after.value("calls", Json::array())) {
    if (callsBefore.contains(str(call, "id")) || !needsFollowUp(call)) {
      continue;
    }
    if (const auto email = emailOf[str(call, "parentId")]; !email.empty()) {
      e.contactEmails.insert(email);
    }
    e.taskActivities.insert(str(call, "id"));
  }
  for (const auto& n : after.value("notes", Json::array())) {
    if (!notesBefore.contains(str(n, "id"))) {
      e.noteIds.insert(str(n, "id"));
    }
  }
  return e;
}

// The comparison: lost (expected, absent), duplicated (present more than once), unexpected,
// and contacts whose last change did not arrive.
struct Comparison {
  long expected = 0;
  long lost = 0;
  long duplicated = 0;
  long unexpected = 0;
  long stale = 0;
  std::vector<std::string> details;

  bool exact() const { return lost == 0 && duplicated == 0 && unexpected == 0 && stale == 0; }
};

inline Comparison compare(const Expected& want, const Observed& seen) {
  Comparison c;
  auto one = [&c](const std::string& what, const std::set<std::string>& expected,
                  const std::map<std::string, int>& present) {
    c.expected += static_cast<long>(expected.size());
    for (const auto& key : expected) {
      if (!present.contains(key)) {
        ++c.lost;
        if (c.details.size() < 20) {
          c.details.push_back(what + " " + key + " missing");
        }
      }
    }
    for (const auto& [key, count] : present) {
      if (count > 1) {
        c.duplicated += count - 1;
        if (c.details.size() < 20) {
          c.details.push_back(what + " " + key + " x" + std::to_string(count));
        }
      }
      if (!expected.contains(key)) {
        ++c.unexpected;
        if (c.details.size() < 20) {
          c.details.push_back(what + " " + key + " not implied by the traffic");
        }
      }
    }
  };
  one("contact", want.contactEmails, seen.contactEmails);
  one("task", want.taskActivities, seen.taskActivities);
  one("note", want.noteIds, seen.noteIds);
  c.unexpected += seen.unattributed;
  for (const auto& [email, last] : want.lastNameOf) {
    auto it = seen.lastNameOf.find(email);
    if (it != seen.lastNameOf.end() && it->second != last) {
      ++c.stale;
      if (c.details.size() < 20) {
        c.details.push_back("contact " + email + " has lastName '" + it->second + "', not '" + last + "'");
      }
    }
  }
  return c;
}

}  // namespace ferry::chaos

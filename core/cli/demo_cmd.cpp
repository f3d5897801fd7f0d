// ferry demo: both sandboxes as child processes, the three seed flows on SQLite in a temporary
// directory, generated Umsatz-io traffic, progress, and a summary checked against what the
// traffic implies. Exit 0 only when the GHL sandbox holds exactly the expected records.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli.hpp"
#include "engine/engine.hpp"
#include "engine/runtime_config.hpp"
#include "flow/diagnostic.hpp"
#include "http/client.hpp"
#include "loader/loader.hpp"
#include "log/log.hpp"
#include "store/store.hpp"

extern char** environ;

namespace ferry::core::cli {

namespace {

namespace fs = std::filesystem;
using Json = sdk::Json;
using namespace std::chrono_literals;

std::atomic<bool> gInterrupted{false};

extern "C" void onDemoSignal(int) { gInterrupted = true; }

// A sandbox child: started with posix_spawn, its stdout piped (the first line describes it),
// stopped with SIGTERM (SIGKILL after a grace period) when this object goes away.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int fds[2];
    if (pipe(fds) != 0) {
      throw std::runtime_error(std::string("pipe failed: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv.at(0).c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
    }
    out_ = fds[0];
  }
  ~Child() {
    stop();
    if (out_ >= 0) {
      close(out_);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The first stdout line; throws when the child exits or stays silent past the timeout.
  std::string readLine(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        throw std::runtime_error("no first line within " + std::to_string(timeout.count()) +
                                 " ms");
      }
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        continue;
      }
      char chunk[4096];
      const auto n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) {
        throw std::runtime_error("the process exited before describing itself");
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  void stop() {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

// A temporary directory, removed on destruction unless kept.
struct TempDir {
  fs::path path;
  bool keep = false;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ferry-demo-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error(std::string("cannot create a temporary directory: ") +
                               std::strerror(errno));
    }
    path = tmpl;
  }
  ~TempDir() {
    if (!keep) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }
};

struct Options {
  int contacts = 200;
  int calls = 80;
  int notes = 80;
  std::uint64_t seed = 42;
  int timeoutSeconds = 300;
  std::string faults = "429=0.03,5xx=0.05,latency=0-20";
  bool json = false;
  bool keep = false;
};

Json request(http::Client& client, const std::string& method, const std::string& url,
             const Json& body = nullptr) {
  sdk::HttpRequest req;
  req.method = method;
  req.url = url;
  req.timeout = 30s;
  if (!body.is_null()) {
    req.body = body.dump();
    req.headers.emplace_back("Content-Type", "application/json");
  }
  const auto res = client.send(req);
  if (res.status < 200 || res.status >= 300) {
    throw std::runtime_error(method + " " + url + " answered " + std::to_string(res.status) +
                             ": " + res.body.substr(0, 300));
  }
  return res.body.empty() ? Json() : Json::parse(res.body);
}

// The sum of every series of one metric in the Prometheus text (labels ignored).
double metricSum(const std::string& text, const std::string& name) {
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) {
      continue;
    }
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != ' ' && next != '{') {
      continue;
    }
    const auto space = line.rfind(' ');
    try {
      sum += std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
    }
  }
  return sum;
}

// Sum of one metric's series whose labels contain `label` (e.g. status="429").
double metricSumWith(const std::string& text, const std::string& name, const std::string& label) {
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) != 0 || line.find(label) == std::string::npos) {
      continue;
    }
    try {
      sum += std::stod(line.substr(line.rfind(' ') + 1));
    } catch (const std::exception&) {
    }
  }
  return sum;
}

std::string lower(std::string s) {
  for (auto& ch : s) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return s;
}

std::string str(const Json& j, const char* key) {
  if (!j.is_object()) {
    return "";
  }
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The GHL location's records (contacts, tasks, notes) from the sandbox's admin state.
struct GhlView {
  Json contacts = Json::array();
  Json tasks = Json::array();
  Json notes = Json::array();
  Json counters = Json::object();
};

GhlView readGhl(http::Client& client, const std::string& adminUrl, const std::string& location) {
  const Json state = request(client, "GET", adminUrl + "/state");
  GhlView view;
  if (state.contains("locations") && state["locations"].contains(location)) {
    const auto& loc = state["locations"][location];
    view.contacts = loc.value("contacts", Json::array());
    view.tasks = loc.value("tasks", Json::array());
    view.notes = loc.value("notes", Json::array());
  }
  view.counters = state.value("counters", Json::object());
  return view;
}

// What the generated traffic implies, and what GHL holds, keyed so they compare exactly.
struct Expectation {
  std::set<std::string> contactEmails;  // lower-case
  std::set<std::string> taskActivities;  // Umsatz-io call ids
  std::set<std::string> noteIds;         // Umsatz-io note ids
};

struct Observed {
  std::map<std::string, int> contactEmails;
  std::map<std::string, int> taskActivities;
  std::map<std::string, int> noteIds;
  int contactsWithoutEmail = 0;
  int tasksUnattributed = 0;
  int notesUnattributed = 0;
  int contactsUpdated = 0;
  int tasksUpdated = 0;
  int notesUpdated = 0;
};

Observed observe(const GhlView& ghl) {
  static const std::regex activity(R"(Umsatz-io activity ([A-Za-z]+_[0-9]+))");
  static const std::regex note(R"(\[Umsatz-io note ([A-Za-z]+_[0-9]+))");
  Observed o;
  auto updated = [](const Json& r) {
    const auto added = str(r, "dateAdded");
    const auto changed = str(r, "dateUpdated");
    return !changed.empty() && changed != added;
  };
  for (const auto& c : ghl.contacts) {
    const auto email = lower(str(c, "email"));
    if (email.empty()) {
      ++o.contactsWithoutEmail;
    } else {
      ++o.contactEmails[email];
    }
    o.contactsUpdated += updated(c) ? 1 : 0;
  }
  for (const auto& t : ghl.tasks) {
    std::smatch m;
    const auto body = str(t, "body");
    if (std::regex_search(body, m, activity)) {
      ++o.taskActivities[m[1].str()];
    } else {
      ++o.tasksUnattributed;
    }
    o.tasksUpdated += updated(t) ? 1 : 0;
  }
  for (const auto& n : ghl.notes) {
    std::smatch m;
    const auto body = str(n, "body");
    if (std::regex_search(body, m, note)) {
      ++o.noteIds[m[1].str()];
    } else {
      ++o.notesUnattributed;
    }
    o.notesUpdated += updated(n) ? 1 : 0;
  }
  return o;
}

// The followups-to-tasks flow's `when:` — a follow-up time, or a result mentioning "follow".
bool needsFollowUp(const Json& call) {
  const bool hasTime = call.contains("followUpAt") && !call["followUpAt"].is_null() &&
                       !(call["followUpAt"].is_string() && call["followUpAt"].get<std::string>().empty());
  return hasTime || lower(str(call, "phoneCallResult")).find("follow") != std::string::npos;
}

// Compares: each expected key present exactly once, nothing unexpected.
std::vector<std::string> differences(const std::string& what, const std::set<std::string>& expected,
                                     const std::map<std::string, int>& seen, int unattributed) {
  std::vector<std::string> out;
  std::vector<std::string> missing;
  std::vector<std::string> duplicated;
  std::vector<std::string> extra;
  for (const auto& key : expected) {
    auto it = seen.find(key);
    if (it == seen.end()) {
      missing.push_back(key);
    }
  }
  for (const auto& [key, count] : seen) {
    if (count > 1) {
      duplicated.push_back(key + " x" + std::to_string(count));
    }
    if (!expected.contains(key)) {
      extra.push_back(key);
    }
  }
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size() && i < 10; ++i) {
      s += (i ? ", " : "") + v[i];
    }
    return v.size() > 10 ? s + ", ..." : s;
  };
  if (!missing.empty()) {
    out.push_back(std::to_string(missing.size()) + " " + what + " missing in GHL: " + list(missing));
  }
  if (!duplicated.empty()) {
    out.push_back(std::to_string(duplicated.size()) + " " + what + " duplicated in GHL: " +
                  list(duplicated));
  }
  if (!extra.empty()) {
    out.push_back(std::to_string(extra.size()) + " " + what + " in GHL that the traffic does not imply: " +
                  list(extra));
  }
  if (unattributed > 0) {
    out.push_back(std::to_string(unattributed) + " " + what + " in GHL without a source reference");
  }
  return out;
}

int duplicates(const std::map<std::string, int>& seen) {
  int n = 0;
  for (const auto& [key, count] : seen) {
    n += count > 1 ? count - 1 : 0;
  }
  return n;
}

int matched(const std::set<std::string>& expected, const std::map<std::string, int>& seen) {
  int n = 0;
  for (const auto& key : expected) {
    n += seen.contains(key) ? 1 : 0;
  }
  return n;
}

fs::path findFlowsDir() {
  const auto exe = loader::executableDir();
  for (const auto& candidate : {exe / ".." / "share" / "ferry" / "flows"}) {
    if (fs::exists(candidate / "contact-sync.yaml")) {
      return fs::weakly_canonical(candidate);
    }
  }
  throw std::runtime_error("the seed flows are not in " +
                           (exe / ".." / "share" / "ferry" / "flows").lexically_normal().string() +
                           " (build the `ferry_flows` target, or install ferry)");
}

std::string yamlString(const std::string& s) { return Json(s).dump(); }

int runDemo(const Options& opt, Cli& cli) {
  const auto started = std::chrono::steady_clock::now();
  auto say = [&opt](const std::string& line) {
    (opt.json ? std::cerr : std::cout) << line << std::endl;
  };
  const auto exe = loader::executableDir();
  const auto libexec = exe / ".." / "libexec" / "ferry";
  const auto flowsDir = findFlowsDir();
  const std::string webhookSecret = [] {
    std::random_device rd;
    std::ostringstream s;
    s << std::hex << rd() << rd() << rd() << rd();
    return s.str();
  }();

  // 1. The sandboxes.
  say("Starting the sandboxes (faults: " + opt.faults + ") ...");
  Child ghlProc({(libexec / "ferry-sandbox-ghl").lexically_normal().string(), "--port", "0",
                 "--faults", opt.faults});
  const Json ghl = Json::parse(ghlProc.readLine(30s));
  Child umzProc({(libexec / "ferry-sandbox-umsatzio").lexically_normal().string(), "--port", "0",
                 "--faults", opt.faults, "--webhook-secret", webhookSecret});
  const Json umz = Json::parse(umzProc.readLine(30s));
  const std::string ghlAdmin = ghl.at("admin_url");
  const std::string umzAdmin = umz.at("admin_url");
  const std::string location = ghl.at("location_id");
  say("  GHL sandbox      " + ghl.at("base_url").get<std::string>());
  say("  Umsatz-io sandbox " + umz.at("base_url").get<std::string>());

  // 2. The config, in a temporary directory.
  TempDir dir;
  dir.keep = opt.keep;
  ::setenv("FERRY_DEMO_GHL_TOKEN", ghl.at("tokens").at("full").at("token").get<std::string>().c_str(), 1);
  ::setenv("FERRY_DEMO_UMSATZIO_KEY", umz.at("api_key").get<std::string>().c_str(), 1);
  ::setenv("FERRY_DEMO_UMSATZIO_WEBHOOK_SECRET", webhookSecret.c_str(), 1);
  std::string scopes;
  for (const auto& s : ghl.at("tokens").at("full").at("scopes")) {
    scopes += (scopes.empty() ? "" : ", ") + yamlString(s.get<std::string>());
  }
  const auto configPath = dir.path / "ferry.yaml";
  {
    std::ofstream out(configPath);
    out << "# Written by `ferry demo` for one run against the sandboxes.\n"
        << "version: 1\n"
        << "state_dir: " << yamlString((dir.path / "state").string()) << "\n"
        << "server:\n  bind: 127.0.0.1\n  port: 0\n"
        << "flows:\n";
    for (const char* f : {"contact-sync.yaml", "followups-to-tasks.yaml", "notes-to-notes.yaml"}) {
      out << "  - " << yamlString((flowsDir / f).string()) << "\n";
    }
    out << "limits:\n  workers: 4\n  poll_interval_seconds: 1\n"
        << "connections:\n"
        << "  ghl:\n    plugin: ghl\n    auth: private_token\n"
        << "    base_url: " << yamlString(ghl.at("base_url")) << "\n"
        << "    scopes: [" << scopes << "]\n"
        << "    settings:\n      location_id: " << yamlString(location) << "\n"
        << "      webhook_public_key: " << yamlString(ghl.value("webhook_public_key", "")) << "\n"
        << "    secrets:\n      token: env:FERRY_DEMO_GHL_TOKEN\n"
        << "  umsatzio:\n    plugin: umsatzio\n    auth: api_key\n"
        << "    base_url: " << yamlString(umz.at("base_url")) << "\n"
        << "    secrets:\n      api_key: env:FERRY_DEMO_UMSATZIO_KEY\n"
        << "      webhook_secret: env:FERRY_DEMO_UMSATZIO_WEBHOOK_SECRET\n";
  }
  if (opt.keep) {
    say("  config           " + configPath.string() + " (kept)");
  }

  // 3. The engine, in process.
  std::vector<flow::Diagnostic> diagnostics;
  auto config = engine::loadRuntimeConfig(configPath, diagnostics);
  if (!config || !diagnostics.empty()) {
    std::cerr << flow::formatText(diagnostics);
    return kInvalid;
  }
  fs::create_directories(config->stateDir);
  auto scan = loader::scan(loader::defaultPluginDirs());
  for (const auto& error : scan.errors) {
    log::write(sdk::LogLevel::Warn, "Plugin library refused.",
               {{"path", error.path.string()}, {"code", error.code}, {"reason", error.reason}});
  }
  catalog::Catalog catalog(std::move(scan.plugins));
  auto store = store::Store::open(config->storeUrl);
  engine::Engine engine(*config, catalog, *store, nullptr);
  if (auto d = engine.loadFlows(); !d.empty()) {
    std::cerr << flow::formatText(d);
    return kInvalid;
  }
  engine.start();
  say("  ferry engine     127.0.0.1:" + std::to_string(engine.port()) + ", " +
      std::to_string(engine.flows().size()) + " flows, store " + config->storeUrl);
  // The pollers start at "now": let their first poll happen before the traffic.
  std::this_thread::sleep_for(1500ms);

  http::Client client;
  const Json before = request(client, "GET", umzAdmin + "/state");
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

  say("Generating " + std::to_string(opt.contacts) + " contacts, " + std::to_string(opt.calls) +
      " calls and " + std::to_string(opt.notes) + " notes in Umsatz-io (seed " +
      std::to_string(opt.seed) + ") ...");
  request(client, "POST", umzAdmin + "/generate",
          {{"contacts", opt.contacts}, {"calls", opt.calls}, {"notes", opt.notes}, {"seed", opt.seed}});

  // What the traffic implies, from the Umsatz-io state after it.
  const Json after = request(client, "GET", umzAdmin + "/state");
  Expectation expect;
  std::map<std::string, std::string> emailOf;
  for (const auto& c : after.value("contacts", Json::array())) {
    const auto id = str(c, "id");
    const auto email = lower(str(c.value("data", Json::object()), "global_contact_email"));
    emailOf[id] = email;
    auto it = versionsBefore.find(id);
    const bool changed = it == versionsBefore.end() || it->second != str(c, "updatedAt");
    if (changed && !email.empty()) {
      expect.contactEmails.insert(email);
    }
  }
  int followUps = 0;
  for (const auto& call : after.value("calls", Json::array())) {
    if (callsBefore.contains(str(call, "id")) || !needsFollowUp(call)) {
      continue;
    }
    const auto contactEmail = emailOf[str(call, "parentId")];
    if (!contactEmail.empty()) {
      expect.contactEmails.insert(contactEmail);  // the flow upserts the contact first
    }
    expect.taskActivities.insert(str(call, "id"));
    ++followUps;
  }
  for (const auto& n : after.value("notes", Json::array())) {
    if (!notesBefore.contains(str(n, "id"))) {
      expect.noteIds.insert(str(n, "id"));
    }
  }
  say("Expecting " + std::to_string(expect.contactEmails.size()) + " GHL contacts, " +
      std::to_string(expect.taskActivities.size()) + " tasks (calls needing a follow-up) and " +
      std::to_string(expect.noteIds.size()) + " notes.");

  // 4. Progress until everything is processed, or the timeout.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(opt.timeoutSeconds);
  int idleSeconds = 0;
  double lastReceived = -1;
  bool timedOut = false;
  GhlView view;
  Observed seen;
  for (;;) {
    std::this_thread::sleep_for(1s);
    const auto stats = store->queueStats();
    const std::string metrics = engine.metrics().render();
    const double received = metricSum(metrics, "ferry_events_received_total");
    const double done = metricSum(metrics, "ferry_events_done_total");
    const double retried = metricSum(metrics, "ferry_steps_retried_total");
    view = readGhl(client, ghlAdmin, location);
    seen = observe(view);
    const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now() - started)
                             .count();
    std::ostringstream line;
    line << "[" << elapsed << "s] events " << static_cast<long>(received) << " in, "
         << static_cast<long>(done) << " done, queue " << stats.queued << ", running "
         << stats.running << ", retries " << static_cast<long>(retried) << ", dead " << stats.dead
         << " | GHL contacts " << view.contacts.size() << "/" << expect.contactEmails.size()
         << ", tasks " << view.tasks.size() << "/" << expect.taskActivities.size() << ", notes "
         << view.notes.size() << "/" << expect.noteIds.size();
    say(line.str());
    const bool idle = stats.queued == 0 && stats.running == 0;
    idleSeconds = idle && received == lastReceived ? idleSeconds + 1 : 0;
    lastReceived = received;
    const bool complete = matched(expect.contactEmails, seen.contactEmails) ==
                              static_cast<int>(expect.contactEmails.size()) &&
                          matched(expect.taskActivities, seen.taskActivities) ==
                              static_cast<int>(expect.taskActivities.size()) &&
                          matched(expect.noteIds, seen.noteIds) ==
                              static_cast<int>(expect.noteIds.size());
    // Done when the GHL state is complete and ferry idle (a few seconds, so late duplicates show),
    // or when ferry has had nothing to do for a while (what is missing then stays missing).
    if ((complete && idleSeconds >= 3) || idleSeconds >= 15) {
      break;
    }
    if (gInterrupted) {
      say("Interrupted: stopping.");
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      timedOut = true;
      say("Timed out after " + std::to_string(opt.timeoutSeconds) + " s.");
      break;
    }
  }
  engine.stop();
  const std::string metrics = engine.metrics().render();
  const auto stats = store->queueStats();
  view = readGhl(client, ghlAdmin, location);
  seen = observe(view);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // 5. The summary.
  std::vector<std::string> diffs;
  for (auto& d : differences("contacts", expect.contactEmails, seen.contactEmails,
                             seen.contactsWithoutEmail)) {
    diffs.push_back(d);
  }
  for (auto& d : differences("tasks", expect.taskActivities, seen.taskActivities,
                             seen.tasksUnattributed)) {
    diffs.push_back(d);
  }
  for (auto& d : differences("notes", expect.noteIds, seen.noteIds, seen.notesUnattributed)) {
    diffs.push_back(d);
  }
  if (stats.dead > 0) {
    diffs.push_back(std::to_string(stats.dead) + " dead letter(s)");
  }
  if (timedOut) {
    diffs.push_back("timed out after " + std::to_string(opt.timeoutSeconds) + " s");
  }
  if (gInterrupted) {
    diffs.push_back("interrupted");
  }
  const auto& counters = view.counters;
  const long injected429 = counters.value("injected", Json::object()).value("429", 0L);
  const long rateLimited = counters.value("rateLimited", 0L);
  const Json summary = {
      {"ok", diffs.empty()},
      {"seconds", std::round(seconds * 10) / 10},
      {"generated", {{"contacts", opt.contacts}, {"calls", opt.calls}, {"notes", opt.notes},
                     {"follow_up_calls", followUps}, {"seed", opt.seed}}},
      {"expected", {{"contacts", expect.contactEmails.size()},
                    {"tasks", expect.taskActivities.size()},
                    {"notes", expect.noteIds.size()}}},
      {"ghl", {{"contacts", {{"total", view.contacts.size()}, {"updated", seen.contactsUpdated}}},
               {"tasks", {{"total", view.tasks.size()}, {"updated", seen.tasksUpdated}}},
               {"notes", {{"total", view.notes.size()}, {"updated", seen.notesUpdated}}},
               {"creates", counters.value("creates", 0L)},
               {"updates", counters.value("updates", 0L)},
               {"requests", counters.value("requests", 0L)},
               {"rate_limited_429", rateLimited},
               {"injected_429", injected429},
               {"injected_5xx", counters.value("injected", Json::object()).value("5xx", 0L)}}},
      {"ferry", {{"events_received", std::llround(metricSum(metrics, "ferry_events_received_total"))},
                 {"events_done", std::llround(metricSum(metrics, "ferry_events_done_total"))},
                 {"retries", std::llround(metricSum(metrics, "ferry_steps_retried_total"))},
                 {"http_requests", std::llround(metricSum(metrics, "ferry_http_requests_total"))},
                 {"http_429", std::llround(metricSumWith(metrics, "ferry_http_requests_total", "status=\"429\""))},
                 {"rate_budget_waits", std::llround(metricSum(metrics, "ferry_rate_budget_waits_total"))},
                 {"dead_letters", stats.dead},
                 {"queued_left", stats.queued}}},
      {"duplicates", {{"contacts_sharing_an_email", duplicates(seen.contactEmails)},
                      {"tasks_per_activity_over_one", duplicates(seen.taskActivities)},
                      {"notes_per_note_over_one", duplicates(seen.noteIds)}}},
      {"lost", {{"contacts", expect.contactEmails.size() - static_cast<std::size_t>(matched(expect.contactEmails, seen.contactEmails))},
                {"tasks", expect.taskActivities.size() - static_cast<std::size_t>(matched(expect.taskActivities, seen.taskActivities))},
                {"notes", expect.noteIds.size() - static_cast<std::size_t>(matched(expect.noteIds, seen.noteIds))}}},
      {"differences", diffs}};
  if (opt.json) {
    std::cout << summary.dump(2) << std::endl;
  } else {
    const auto& g = summary["ghl"];
    const auto& f = summary["ferry"];
    const auto& dup = summary["duplicates"];
    std::cout << "\nSummary (" << summary["seconds"] << " s)\n"
              << "  GHL contacts  " << g["contacts"]["total"] << " (" << g["contacts"]["updated"]
              << " updated since created), expected " << expect.contactEmails.size() << "\n"
              << "  GHL tasks     " << g["tasks"]["total"] << " (" << g["tasks"]["updated"]
              << " updated), expected " << expect.taskActivities.size() << "\n"
              << "  GHL notes     " << g["notes"]["total"] << " (" << g["notes"]["updated"]
              << " updated), expected " << expect.noteIds.size() << "\n"
              << "  GHL counters  " << g["creates"] << " creates, " << g["updates"] << " updates, "
              << g["requests"] << " requests, " << rateLimited << " rate-limit 429s, "
              << injected429 << " injected 429s, " << g["injected_5xx"] << " injected 5xx\n"
              << "  ferry         " << f["events_received"] << " events, " << f["events_done"]
              << " done, " << f["retries"] << " retries, " << f["http_requests"]
              << " HTTP requests (" << f["http_429"] << " answered 429), " << stats.dead
              << " dead letters\n"
              << "  duplicates    " << dup["contacts_sharing_an_email"] << " contacts sharing an e-mail, "
              << dup["tasks_per_activity_over_one"] << " extra tasks, "
              << dup["notes_per_note_over_one"] << " extra notes\n";
    if (diffs.empty()) {
      std::cout << "OK: the GHL sandbox holds exactly what the Umsatz-io traffic implies.\n";
    } else {
      std::cout << "FAILED: the GHL state differs from what the traffic implies:\n";
      for (const auto& d : diffs) {
        std::cout << "  - " << d << "\n";
      }
    }
  }
  cli.exitCode = diffs.empty() ? kOk : kFailure;
  return cli.exitCode;
}

}  // namespace

void addDemoCommand(Cli& cli) {
  auto opt = std::make_shared<Options>();
  auto* demo = cli.app.add_subcommand(
      "demo", "Run the seed flows against both sandboxes (faults on) and check the result");
  demo->add_option("--contacts", opt->contacts, "Contacts to generate in Umsatz-io")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  demo->add_option("--calls", opt->calls, "Phone calls to generate")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  demo->add_option("--notes", opt->notes, "Notes to generate")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  demo->add_option("--seed", opt->seed, "Seed of the generated traffic")->capture_default_str();
  demo->add_option("--timeout", opt->timeoutSeconds, "Seconds to wait for the sync")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  demo->add_option("--faults", opt->faults, "Fault injection of both sandboxes (\"\" for none)")
      ->capture_default_str();
  demo->add_flag("--json", opt->json, "Print the summary as JSON (progress goes to stderr)");
  demo->add_flag("--keep", opt->keep, "Keep the temporary directory (config and store)");
  demo->callback([&cli, opt] {
    gInterrupted = false;
    struct sigaction sa {};
    sa.sa_handler = onDemoSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    try {
      runDemo(*opt, cli);
    } catch (const std::exception& e) {
      printError("ferry demo", "demo", e.what(),
                 "run a full build first (cmake --build --preset dev); --keep keeps the config");
      cli.exitCode = kFailure;
    }
  });
}

}  // namespace ferry::core::cli

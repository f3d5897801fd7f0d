// End-to-end benchmark of the contact-sync flow: the real `ferry run` process, the real GHL and
// Umsatz-io sandboxes, everything on 127.0.0.1. Measures and reports; asserts nothing.
//
//   build/dev/bench/flow_bench --store sqlite|pg [--pg "host=... port=... user=..."]
//       [--events N] [--senders 1,16,64] [--contacts C --changes M] [--no-backlog]
//       [--backlog-timeout S] [--out FILE]
//   build/dev/bench/flow_bench --report DIR      (merge DIR/*.json into DIR/results.json, print a table)
//
// The flow is flows/contact-sync.yaml with its trigger switched from the poller to the
// Umsatz-io webhook `umsatzio.contact.property_changed` (everything else unchanged). A load
// generator (threads here) sends signed `changeContactProperty` deliveries, shaped like the
// Umsatz-io sandbox's own, for contacts the sandbox generated (`/_sandbox/generate`).
//
// 1. Throughput: at each sender count, N changes of N distinct contacts with the GHL sandbox's
//    rate limit lifted (`/_sandbox/rate-limit {"enabled": false, "max": 1000000}`); a fresh store and a fresh
//    `ferry run` per level. Throughput = events / (first send -> last event done); latency per
//    event = run finished (store run history) - event received (store inbox).
// 2. Backlog: the real limit (100 requests / 10 s, in the sandbox and in ferry's budget); M
//    changes to C contacts (5 rounds: phone, city, last name, city, first name; the city is not
//    mapped, so its update is a no-op) sent by 16 senders, then drained. Reports the GHL calls,
//    the 429s, the rate budget's use and GHL calls per Umsatz-io event.
// 3. Memory: VmRSS of `ferry run` when ready and idle, its peak under load (VmHWM), and the
//    time from spawn to the first 200 from /readyz.
#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/client.hpp"
#include "store/store.hpp"
#include "support/process.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string gBuild = FERRY_BENCH_BINARY_DIR;
std::string gSource = FERRY_BENCH_SOURCE_DIR;
const std::string kLocation = "ferrySandboxLoc00001";
const std::string kFlowId = "contact-sync";

// The children alive now (sandboxes, ferry): a SIGTERM/SIGINT (e.g. from `timeout`) stops them
// before flow_bench exits, so that nothing is left running.
std::atomic<pid_t> gChildren[4];

void track(int slot, pid_t pid) { gChildren[slot] = pid; }

extern "C" void onTerminate(int sig) {
  for (auto& c : gChildren) {
    const pid_t pid = c.load();
    if (pid > 0) {
      kill(pid, SIGTERM);
    }
  }
  _exit(128 + sig);
}

double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string hmacHex(const std::string& key, const std::string& body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

std::string isoNow() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// One HTTP exchange on a per-thread client; never throws (status 0 = no answer).
ferry::sdk::HttpResponse send(const std::string& method, const std::string& url,
                              const std::string& body = "",
                              ferry::sdk::Headers headers = {}) {
  thread_local ferry::core::http::Client client;
  ferry::sdk::HttpRequest req;
  req.method = method;
  req.url = url;
  req.body = body;
  req.headers = std::move(headers);
  if (!body.empty()) {
    req.headers.push_back({"Content-Type", "application/json"});
  }
  try {
    return client.send(req);
  } catch (const std::exception& e) {
    ferry::sdk::HttpResponse r;
    r.status = 0;
    r.body = e.what();
    return r;
  }
}

Json jsonCall(const std::string& method, const std::string& url, const Json& body = nullptr) {
  const auto r = send(method, url, body.is_null() ? "" : body.dump());
  if (r.status < 200 || r.status >= 300) {
    throw std::runtime_error(method + " " + url + " answered " + std::to_string(r.status) + ": " +
                             r.body.substr(0, 300));
  }
  return r.body.empty() ? Json() : Json::parse(r.body);
}

// Sum of every sample of a metric (all label sets) in the Prometheus text; -1 when absent.
double metric(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  double sum = 0;
  bool found = false;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) == 0 && line.size() > name.size() &&
        (line[name.size()] == ' ' || line[name.size()] == '{')) {
      const auto sp = line.rfind(' ');
      sum += std::stod(line.substr(sp + 1));
      found = true;
    }
  }
  return found ? sum : -1;
}

long statusKb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::stol(line.substr(field.size() + 1));
    }
  }
  return -1;
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0, mean = 0;
};

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) {
    return p;
  }
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = v.back();
  double s = 0;
  for (double x : v) {
    s += x;
  }
  p.mean = s / static_cast<double>(v.size());
  return p;
}

// `ferry run` as a child process with its output in files of its directory.
class Ferry {
 public:
  Ferry(const fs::path& dir, const fs::path& config, const std::map<std::string, std::string>& env)
      : dir_(dir) {
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      if (env.count(entry.substr(0, entry.find('='))) == 0) {
        envs.push_back(entry);
      }
    }
    for (const auto& [k, v] : env) {
      envs.push_back(k + "=" + v);
    }
    const std::string exe = gBuild + "/bin/ferry";
    std::vector<std::string> argv{exe, "run", "--config", config.string()};
    std::vector<char*> cargv;
    for (auto& a : argv) {
      cargv.push_back(a.data());
    }
    cargv.push_back(nullptr);
    std::vector<char*> cenv;
    for (auto& e : envs) {
      cenv.push_back(e.data());
    }
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, (dir / "ferry.stdout").c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, (dir / "ferry.stderr").c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    started_ = Clock::now();
    const int rc = posix_spawn(&pid_, exe.c_str(), &actions, nullptr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      throw std::runtime_error("cannot start " + exe);
    }
    track(2, pid_);
  }
  ~Ferry() { stop(); }

  // Waits (<= 60 s) for the listening line, then for /readyz; returns ms from spawn to ready.
  double waitReady() {
    const std::string marker = "ferry: listening on 127.0.0.1:";
    const auto deadline = Clock::now() + 60s;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        forget();
        throw std::runtime_error("ferry run exited early:\n" + slurp(dir_ / "ferry.stderr"));
      }
      if (port_ == 0) {
        const std::string err = slurp(dir_ / "ferry.stderr");
        const auto at = err.find(marker);
        // Only a whole line: the port may not be written yet.
        if (at != std::string::npos && err.find('\n', at) != std::string::npos) {
          port_ = static_cast<unsigned short>(std::stoi(err.substr(at + marker.size())));
        }
      }
      if (port_ != 0 && send("GET", url("/readyz")).status == 200) {
        return msSince(started_);
      }
      std::this_thread::sleep_for(2ms);
    }
    throw std::runtime_error("ferry run was not ready within 60 s:\n" + slurp(dir_ / "ferry.stderr"));
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string metrics() const { return send("GET", url("/metrics")).body; }
  pid_t pid() const { return pid_; }

  void stop() {
    if (pid_ <= 0) {
      return;
    }
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 1000; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        forget();
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    forget();
  }

 private:
  void forget() { track(2, 0); }
  fs::path dir_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  Clock::time_point started_;
};

struct Options {
  std::string store = "sqlite";
  std::string pg;  // libpq key=value string without dbname: a server we may create databases on
  int events = 1000;
  std::vector<int> senders{1, 16, 64};
  int contacts = 1000;
  int changes = 5000;
  bool backlog = true;
  int backlogTimeoutS = 600;
  int storeConnections = 0;  // limits.store_connections; 0 = ferry's default
  std::string out;
};

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {
    char tmpl[] = "/tmp/ferry-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    root_ = tmpl;
    umzKey_ = "umz-bench-key";
    webhookSecret_ = "whsec-bench-secret";
    ghlProc_ = std::make_unique<ferry::testing::ChildProcess>(std::vector<std::string>{
        gBuild + "/libexec/ferry/ferry-sandbox-ghl", "--port", "0"});
    track(0, ghlProc_->pid());
    ghl_ = Json::parse(ghlProc_->readLine());
    umzProc_ = std::make_unique<ferry::testing::ChildProcess>(std::vector<std::string>{
        gBuild + "/libexec/ferry/ferry-sandbox-umsatzio", "--port", "0", "--api-key", umzKey_,
        "--webhook-secret", webhookSecret_});
    track(1, umzProc_->pid());
    umz_ = Json::parse(umzProc_->readLine());
    token_ = ghl_["tokens"]["full"]["token"].get<std::string>();
    const int needed = std::max(o_.events, o_.backlog ? o_.contacts : 0);
    jsonCall("POST", umz_["admin_url"].get<std::string>() + "/generate",
             {{"contacts", needed}, {"calls", 0}, {"notes", 0}, {"seed", 7}});
    const Json state = jsonCall("GET", umz_["admin_url"].get<std::string>() + "/state");
    for (const auto& c : state["contacts"]) {
      if (c.contains("data") && c["data"].value("global_contact_email", Json()).is_string()) {
        contacts_.push_back(c);
      }
    }
    if (static_cast<int>(contacts_.size()) < needed) {
      throw std::runtime_error("the Umsatz-io sandbox generated only " +
                               std::to_string(contacts_.size()) + " contacts with an e-mail");
    }
    contacts_.resize(static_cast<std::size_t>(needed));
  }

  ~Bench() {
    ferry_.reset();
    umzProc_.reset();
    ghlProc_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  Json run() {
    Json out;
    out["store"] = o_.store;
    Json levels = Json::array();
    for (int senders : o_.senders) {
      levels.push_back(throughput(senders));
    }
    out["throughput"] = levels;
    if (o_.backlog) {
      out["backlog"] = backlog();
    }
    return out;
  }

 private:
  // A fresh directory, store and config for one phase; starts ferry and waits until ready.
  double startPhase(const std::string& name, long rateLimit) {
    ferry_.reset();
    dir_ = root_ / name;
    fs::create_directories(dir_);
    std::string flow = slurp(gSource + "/flows/contact-sync.yaml");
    const std::string from = "use: umsatzio.contact.updated";
    const auto at = flow.find(from);
    if (at == std::string::npos) {
      throw std::runtime_error("flows/contact-sync.yaml no longer has '" + from + "'");
    }
    flow.replace(at, from.size(), "use: umsatzio.contact.property_changed");
    std::ofstream(dir_ / "contact-sync.yaml") << flow;
    if (o_.store == "pg") {
      const std::string db = "ferry_bench_" + std::to_string(getpid()) + "_" + name;
      psql("DROP DATABASE IF EXISTS " + db);
      psql("CREATE DATABASE " + db);
      storeUrl_ = "postgres:" + o_.pg + " dbname=" + db;
    } else {
      storeUrl_ = "sqlite:" + (dir_ / "state" / "ferry.db").string();
    }
    std::ostringstream y;
    y << "version: 1\nstate_dir: " << (dir_ / "state").string() << "\n"
      << "store: \"" << storeUrl_ << "\"\n"
      << "server: {bind: 127.0.0.1, port: 0, queue_high_water: 1000000}\n"
      << "limits: {poll_interval_seconds: 30, lease_seconds: 30, "
      << (o_.storeConnections > 0 ? "store_connections: " + std::to_string(o_.storeConnections) + ", "
                                  : std::string())
      << "retry: {max_attempts: 8, initial_ms: 200, max_ms: 5000}}\n"
      << "flows:\n  - contact-sync.yaml\n"
      << "connections:\n"
      << "  ghl:\n    plugin: ghl\n    auth: private_token\n"
      << "    base_url: " << ghl_["base_url"].get<std::string>() << "\n"
      << "    settings: {location_id: " << kLocation << "}\n"
      << "    secrets: {token: env:BENCH_GHL_TOKEN}\n"
      << "    rate_limit: {requests: " << rateLimit << ", interval_ms: 10000}\n"
      << "  umsatzio:\n    plugin: umsatzio\n    auth: api_key\n"
      << "    base_url: " << umz_["base_url"].get<std::string>() << "\n"
      << "    secrets: {api_key: env:BENCH_UMZ_KEY, webhook_secret: env:BENCH_UMZ_WEBHOOK_SECRET}\n";
    std::ofstream(dir_ / "ferry.yaml") << y.str();
    ferry_ = std::make_unique<Ferry>(dir_, dir_ / "ferry.yaml",
                                     std::map<std::string, std::string>{
                                         {"BENCH_GHL_TOKEN", token_},
                                         {"BENCH_UMZ_KEY", umzKey_},
                                         {"BENCH_UMZ_WEBHOOK_SECRET", webhookSecret_},
                                         {"FERRY_MASTER_KEY", ""}});
    return ferry_->waitReady();
  }

  void psql(const std::string& sql) {
    const std::string cmd = "psql -q -X \"" + o_.pg + " dbname=postgres\" -c \"" + sql + "\" >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      throw std::runtime_error("psql failed: " + sql);
    }
  }

  void ghlAdmin(const std::string& path, const Json& body) {
    jsonCall("POST", ghl_["admin_url"].get<std::string>() + path, body);
  }
  Json ghlCounters() {
    return jsonCall("GET", ghl_["admin_url"].get<std::string>() + "/state")["counters"];
  }

  // A signed changeContactProperty delivery for `contact` (its current data).
  std::pair<std::string, ferry::sdk::Headers> delivery(const std::string& id,
                                                                     const Json& contact,
                                                                     const Json& changed) {
    Json body = {{"id", id},
                 {"event", "changeContactProperty"},
                 {"webhookId", "wh_bench"},
                 {"occurredAt", isoNow()},
                 {"data", {{"contact", contact}, {"changedProperties", changed}, {"previous", Json::object()}}}};
    std::string text = body.dump();
    ferry::sdk::Headers headers{{"x-umsatzio-event", "changeContactProperty"},
                                            {"x-umsatzio-signature", hmacHex(webhookSecret_, text)}};
    return {std::move(text), std::move(headers)};
  }

  struct SendStats {
    int accepted = 0;
    int refused = 0;  // non-200 answers, retried
    double ms = 0;
  };

  // Sends bodies[i] with `senders` threads; a refused delivery is retried (<= 20 times).
  SendStats sendAll(const std::vector<std::pair<std::string, ferry::sdk::Headers>>& bodies,
                    int senders) {
    std::atomic<std::size_t> next{0};
    std::atomic<int> accepted{0};
    std::atomic<int> refused{0};
    const std::string hook = ferry_->url("/hooks/" + kFlowId);
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < senders; ++t) {
      threads.emplace_back([&] {
        for (std::size_t i = next++; i < bodies.size(); i = next++) {
          for (int attempt = 0; attempt < 20; ++attempt) {
            const auto r = send("POST", hook, bodies[i].first, bodies[i].second);
            if (r.status == 200) {
              ++accepted;
              break;
            }
            ++refused;
            std::this_thread::sleep_for(50ms);
          }
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    return {accepted.load(), refused.load(), msSince(start)};
  }

  // Polls /metrics every 50 ms until `done(metrics text)` or the timeout; samples RSS meanwhile.
  bool waitFor(const std::function<bool(const std::string&)>& done, std::chrono::seconds timeout,
               long& peakRssKb) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      peakRssKb = std::max(peakRssKb, statusKb(ferry_->pid(), "VmRSS"));
      if (done(ferry_->metrics())) {
        return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // Latencies (ms) of every event with a "done" run: run finished - event received; `service`
  // gets run finished - run started (the processing alone, without the wait in the queue).
  std::vector<double> latencies(ferry::core::store::Store& store, std::vector<double>& service) {
    std::vector<double> out;
    ferry::core::store::RunFilter filter;
    filter.flowId = kFlowId;
    filter.status = "done";
    filter.limit = 500;
    while (true) {
      const auto runs = store.listRuns(filter);
      if (runs.empty()) {
        break;
      }
      for (const auto& r : runs) {
        if (auto e = store.getEvent(r.eventId)) {
          out.push_back(static_cast<double>(r.finishedAt - e->receivedAt) / 1000.0);
          service.push_back(static_cast<double>(r.finishedAt - r.startedAt) / 1000.0);
          if (r.finishedAt - r.startedAt > 2'000'000) {  // a slow run: say where its time went
            std::cerr << "flow_bench: slow run " << r.id << " (" << (r.finishedAt - r.startedAt) / 1000
                      << " ms):";
            const auto full = store.getRun(r.id);
            for (const auto& st : full ? full->steps : std::vector<ferry::core::store::StepRecord>{}) {
              std::cerr << " " << st.stepId << " " << st.status << " +" << (st.startedAt - r.startedAt) / 1000
                        << ".." << (st.finishedAt - r.startedAt) / 1000 << " ms";
            }
            std::cerr << "\n";
          }
        }
      }
      filter.beforeId = runs.back().id;
    }
    return out;
  }

  Json throughput(int senders) {
    ghlAdmin("/reset", Json::object());
    // Lifted means lifted: the sandbox still reports X-RateLimit-Remaining against its window
    // maximum when not enforcing it, and ferry rightly waits when that reaches 0 (at 100 it
    // capped every level at 100 calls per 10 s).
    ghlAdmin("/rate-limit", {{"enabled", false}, {"max", 1000000}, {"reset", true}});
    const double readyMs = startPhase("tp" + std::to_string(senders), 1000000);
    std::this_thread::sleep_for(1s);
    const long idleRss = statusKb(ferry_->pid(), "VmRSS");
    std::vector<std::pair<std::string, ferry::sdk::Headers>> bodies;
    for (int i = 0; i < o_.events; ++i) {
      Json c = contacts_[static_cast<std::size_t>(i)];
      c["data"]["global_contact_phone"] = "+49 30 " + std::to_string(5550000 + i);
      bodies.push_back(delivery("evt_tp" + std::to_string(senders) + "_" + std::to_string(i), c,
                                {"global_contact_phone"}));
    }
    const auto start = Clock::now();
    long peakRss = idleRss;
    SendStats sent;
    std::thread sender([&] { sent = sendAll(bodies, senders); });
    const bool drained = waitFor(
        [&](const std::string& m) {
          return metric(m, "ferry_events_done_total") + std::max(0.0, metric(m, "ferry_events_dead_total")) >=
                 o_.events;
        },
        180s, peakRss);
    const double totalMs = msSince(start);
    sender.join();
    const std::string m = ferry_->metrics();
    const long hwm = statusKb(ferry_->pid(), "VmHWM");
    const Json counters = ghlCounters();
    ferry_->stop();
    auto store = ferry::core::store::Store::open(storeUrl_);
    std::vector<double> service;
    const auto lat = percentiles(latencies(*store, service));
    const auto svc = percentiles(service);
    Json r = {{"senders", senders},
              {"events", o_.events},
              {"accepted", sent.accepted},
              {"refused_retried", sent.refused},
              {"drained", drained},
              {"done", metric(m, "ferry_events_done_total")},
              {"dead", std::max(0.0, metric(m, "ferry_events_dead_total"))},
              {"send_ms", sent.ms},
              {"total_ms", totalMs},
              {"events_per_s", static_cast<double>(o_.events) / (totalMs / 1000.0)},
              {"latency_ms", {{"p50", lat.p50}, {"p99", lat.p99}, {"max", lat.max}, {"mean", lat.mean}}},
              {"run_ms", {{"p50", svc.p50}, {"p99", svc.p99}, {"max", svc.max}, {"mean", svc.mean}}},
              {"ghl_requests", counters.value("requests", 0)},
              {"ghl_429", counters.value("rateLimited", 0)},
              {"ready_ms", readyMs},
              {"rss_idle_kb", idleRss},
              {"rss_peak_kb", std::max(peakRss, hwm)}};
    std::cerr << "flow_bench: " << o_.store << " senders=" << senders << " " << r.dump() << "\n";
    return r;
  }

  Json backlog() {
    ghlAdmin("/reset", Json::object());
    ghlAdmin("/rate-limit", {{"enabled", true}, {"max", 100}, {"intervalMs", 10000}, {"reset", true}});
    const double readyMs = startPhase("backlog", 100);
    const auto nContacts = static_cast<std::size_t>(o_.contacts);
    std::vector<Json> current(contacts_.begin(), contacts_.begin() + static_cast<long>(nContacts));
    // Rounds of changes; the city is not mapped by the flow, so its change is a no-op in GHL.
    const std::vector<std::pair<std::string, std::string>> rounds{
        {"global_contact_phone", "phone"}, {"contact_city", "city"}, {"global_contact_last_name", "last"},
        {"contact_city", "city2"}, {"global_contact_first_name", "first"}};
    std::vector<std::pair<std::string, ferry::sdk::Headers>> bodies;
    for (int i = 0; i < o_.changes; ++i) {
      const std::size_t who = static_cast<std::size_t>(i) % nContacts;
      const auto& [field, tag] = rounds[(static_cast<std::size_t>(i) / nContacts) % rounds.size()];
      Json& c = current[who];
      if (field == "global_contact_phone") {
        c["data"][field] = "+49 171 " + std::to_string(1000000 + i);
      } else if (field == "contact_city") {
        c["data"][field] = tag == "city" ? "Berlin" : "Hamburg";
      } else {
        c["data"][field] = (field == "global_contact_last_name" ? "Neumann" : "Kim") + std::to_string(i);
      }
      bodies.push_back(delivery("evt_bl_" + std::to_string(i), c, {field}));
    }
    const auto start = Clock::now();
    long peakRss = statusKb(ferry_->pid(), "VmRSS");
    SendStats sent;
    std::atomic<bool> allSent{false};
    std::thread sender([&] {
      sent = sendAll(bodies, 16);
      allSent = true;
    });
    const bool drained = waitFor(
        [&](const std::string& m) {
          return allSent && metric(m, "ferry_queue_depth") == 0 && metric(m, "ferry_events_running") == 0;
        },
        std::chrono::seconds(o_.backlogTimeoutS), peakRss);
    const double drainMs = msSince(start);
    sender.join();
    const std::string m = ferry_->metrics();
    const Json counters = ghlCounters();
    ferry_->stop();

    // The calls' span from the run history: first call started -> last call finished.
    auto store = ferry::core::store::Store::open(storeUrl_);
    long long first = 0;
    long long last = 0;
    long long lastStart = 0;
    int callSteps = 0;
    int unchanged = 0;
    int runs = 0;
    ferry::core::store::RunFilter filter;
    filter.flowId = kFlowId;
    filter.limit = 500;
    while (true) {
      const auto page = store->listRuns(filter);
      if (page.empty()) {
        break;
      }
      for (const auto& r : page) {
        ++runs;
        const auto full = store->getRun(r.id);
        for (const auto& s : full ? full->steps : std::vector<ferry::core::store::StepRecord>{}) {
          if (s.status == "unchanged") {
            ++unchanged;
          }
          if (s.status != "done" && s.status != "failed") {
            continue;
          }
          ++callSteps;
          if (s.startedAt > 0 && (first == 0 || s.startedAt < first)) {
            first = s.startedAt;
          }
          last = std::max<long long>(last, s.finishedAt);
          lastStart = std::max<long long>(lastStart, s.startedAt);
        }
      }
      filter.beforeId = page.back().id;
    }
    const double spanS = static_cast<double>(last - first) / 1e6;
    const double requests = counters.value("requests", 0);
    // Under a 100 per 10 s window, a span of T seconds allows at most 100 * (floor(T / 10) + 1).
    const double allowed = 100.0 * (std::floor(spanS / 10.0) + 1.0);
    // The pace: the least time the limit lets these calls start in (the first 100 at once, then
    // 10 s per further 100) over the time they took to start, first to last. 100% means every
    // window was spent in full while calls waited; unlike budget_use it does not count the last,
    // partly needed window against the budget (1,208 calls can show at most 92.9% there).
    const double startSpanS = static_cast<double>(lastStart - first) / 1e6;
    const double leastS = 10.0 * std::floor(std::max(0.0, requests - 1) / 100.0);
    const double pace = startSpanS > 0 ? std::min(1.0, leastS / startSpanS) : 0;
    Json r = {{"contacts", o_.contacts},
              {"changes", o_.changes},
              {"accepted", sent.accepted},
              {"drained", drained},
              {"drain_ms", drainMs},
              {"send_ms", sent.ms},
              {"runs", runs},
              {"events_done", metric(m, "ferry_events_done_total")},
              {"events_dead", std::max(0.0, metric(m, "ferry_events_dead_total"))},
              {"events_coalesced", std::max(0.0, metric(m, "ferry_events_coalesced_total"))},
              {"calls_suppressed", std::max(0.0, metric(m, "ferry_calls_suppressed_total"))},
              {"unchanged_steps", unchanged},
              {"call_steps", callSteps},
              {"ghl_requests", requests},
              {"ghl_429", counters.value("rateLimited", 0)},
              {"call_span_s", spanS},
              {"allowed_calls", allowed},
              {"budget_use", allowed > 0 ? requests / allowed : 0},
              {"call_start_span_s", startSpanS},
              {"budget_pace", pace},
              {"ghl_calls_per_event", requests / o_.changes},
              {"ready_ms", readyMs},
              {"rss_peak_kb", peakRss}};
    std::cerr << "flow_bench: " << o_.store << " backlog " << r.dump() << "\n";
    return r;
  }

  Options o_;
  fs::path root_;
  fs::path dir_;
  std::string storeUrl_;
  std::string umzKey_;
  std::string webhookSecret_;
  std::string token_;
  Json ghl_;
  Json umz_;
  std::vector<Json> contacts_;
  std::unique_ptr<ferry::testing::ChildProcess> ghlProc_;
  std::unique_ptr<ferry::testing::ChildProcess> umzProc_;
  std::unique_ptr<Ferry> ferry_;
};

std::vector<int> intList(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    out.push_back(std::stoi(part));
  }
  return out;
}


Json readJson(const fs::path& p) {
  std::ifstream in(p);
  if (!in) {
    return Json();
  }
  return Json::parse(in, nullptr, false);
}

std::string fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// --report DIR: merges DIR/{machine,startup,mapping,sqlite,pg}.json into DIR/results.json and
// prints one table of every figure.
int report(const fs::path& dir) {
  Json all;
  all["machine"] = readJson(dir / "machine.json");
  all["startup"] = readJson(dir / "startup.json");
  all["mapping"] = readJson(dir / "mapping.json");
  all["flow"] = Json::object();
  for (const char* store : {"sqlite", "pg"}) {
    const Json r = readJson(dir / (std::string(store) + ".json"));
    if (!r.is_discarded() && !r.is_null()) {
      all["flow"][store] = r;
    }
  }
  std::ofstream(dir / "results.json") << all.dump(2) << "\n";

  const Json& m = all["machine"];
  if (m.is_object()) {
    std::printf("machine: %s, %d cores, %s MiB, load %s, %s\n", m.value("cpu", "?").c_str(),
                m.value("nproc", 0), m.value("mem_mib", "?").c_str(), m.value("load", "?").c_str(),
                m.value("when", "?").c_str());
  }
  std::printf("\n%-8s %7s %7s %9s %9s %9s %9s %9s %9s\n", "store", "senders", "events", "events/s",
              "p50 ms", "p99 ms", "run p50", "RSS idle", "RSS peak");
  for (const auto& [store, r] : all["flow"].items()) {
    for (const auto& t : r.value("throughput", Json::array())) {
      const Json run = t.contains("run_ms") ? t["run_ms"] : Json();
      std::printf("%-8s %7d %7d %9s %9s %9s %9s %8ldK %8ldK\n", store.c_str(), t.value("senders", 0),
                  t.value("events", 0), fixed(t.value("events_per_s", 0.0)).c_str(),
                  fixed(t["latency_ms"].value("p50", 0.0)).c_str(),
                  fixed(t["latency_ms"].value("p99", 0.0)).c_str(),
                  run.is_object() ? fixed(run.value("p50", 0.0)).c_str() : "-", t.value("rss_idle_kb", 0L),
                  t.value("rss_peak_kb", 0L));
    }
  }
  std::printf("\n%-8s %8s %8s %8s %8s %9s %7s %9s %10s %10s %8s\n", "backlog", "changes", "contacts",
              "accept s", "drain s", "GHL calls", "429s", "calls/evt", "budget use", "pace", "coalesced");
  for (const auto& [store, r] : all["flow"].items()) {
    if (!r.contains("backlog")) {
      continue;
    }
    const Json& b = r["backlog"];
    std::printf("%-8s %8d %8d %8s %8s %9s %7d %9s %9s%% %9s%% %8s\n", store.c_str(), b.value("changes", 0),
                b.value("contacts", 0), fixed(b.value("send_ms", 0.0) / 1000.0).c_str(),
                fixed(b.value("drain_ms", 0.0) / 1000.0).c_str(),
                fixed(b.value("ghl_requests", 0.0), 0).c_str(), b.value("ghl_429", 0),
                fixed(b.value("ghl_calls_per_event", 0.0), 3).c_str(),
                fixed(100.0 * b.value("budget_use", 0.0)).c_str(),
                fixed(100.0 * b.value("budget_pace", 0.0)).c_str(),
                fixed(b.value("events_coalesced", 0.0), 0).c_str());
  }
  std::printf("\n%-48s %10s %10s\n", "start-up", "median ms", "p90 ms");
  for (const auto& s : all["startup"].is_array() ? all["startup"] : Json::array()) {
    std::printf("%-48s %10s %10s\n", s.value("what", "").c_str(), fixed(s.value("median_ms", 0.0), 2).c_str(),
                fixed(s.value("p90_ms", 0.0), 2).c_str());
  }
  for (const auto& [store, r] : all["flow"].items()) {
    std::vector<double> ready;
    for (const auto& t : r.value("throughput", Json::array())) {
      ready.push_back(t.value("ready_ms", 0.0));
    }
    const auto p = percentiles(ready);
    std::printf("%-48s %10s %10s\n", ("ferry run to /readyz (" + store + ")").c_str(),
                fixed(p.p50, 2).c_str(), fixed(p.max, 2).c_str());
  }
  std::printf("\n%-48s %14s\n", "mapping (Google Benchmark)", "items/s");
  if (all["mapping"].is_object()) {
    for (const auto& b : all["mapping"].value("benchmarks", Json::array())) {
      std::printf("%-48s %14s\n", b.value("name", "").c_str(),
                  fixed(b.value("items_per_second", 0.0), 0).c_str());
    }
  }
  std::printf("\nJSON: %s\n", (dir / "results.json").c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "flow_bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--store") {
      o.store = value();
    } else if (a == "--pg") {
      o.pg = value();
    } else if (a == "--events") {
      o.events = std::stoi(value());
    } else if (a == "--senders") {
      o.senders = intList(value());
    } else if (a == "--contacts") {
      o.contacts = std::stoi(value());
    } else if (a == "--changes") {
      o.changes = std::stoi(value());
    } else if (a == "--no-backlog") {
      o.backlog = false;
    } else if (a == "--backlog-timeout") {
      o.backlogTimeoutS = std::stoi(value());
    } else if (a == "--store-connections") {
      o.storeConnections = std::stoi(value());
    } else if (a == "--out") {
      o.out = value();
    } else if (a == "--report") {
      return report(value());
    } else if (a == "--build") {
      gBuild = value();
    } else {
      std::cerr << "flow_bench: unknown option " << a
                << "\nusage: flow_bench --store sqlite|pg [--pg CONN] [--events N] [--senders 1,16,64]"
                   " [--contacts C --changes M] [--no-backlog] [--backlog-timeout S]"
                   " [--store-connections N] [--out FILE]\n";
      return 2;
    }
  }
  if (o.store != "sqlite" && o.store != "pg") {
    std::cerr << "flow_bench: --store must be sqlite or pg\n";
    return 2;
  }
  if (o.store == "pg" && o.pg.empty()) {
    std::cerr << "flow_bench: --store pg needs --pg \"host=127.0.0.1 port=N user=postgres dbname=postgres\"\n";
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, onTerminate);
  signal(SIGINT, onTerminate);
  try {
    Bench bench(o);
    const Json result = bench.run();
    if (!o.out.empty()) {
      std::ofstream(o.out) << result.dump(2) << "\n";
    }
    std::cout << result.dump(2) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "flow_bench: " << e.what() << "\n";
    return 1;
  }
}

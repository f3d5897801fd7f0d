#pragma once

// What the tests that run the real `ferry` binary against the real sandbox processes share:
// JSON over HTTP on 127.0.0.1, bounded polls, `ferry run` as a child process (its port read from
// its "listening" line), the sandboxes, and the ferry.yaml connections to them. Header-only.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/run.hpp"
#include "http/client.hpp"
#include "support/process.hpp"
#include "support/spawn.hpp"

namespace ferry::testing {

inline const std::string& ferryBinary() {
  static const std::string path = std::string(FERRY_BINARY_DIR) + "/bin/ferry";
  return path;
}

inline core::http::Client& httpClient() {
  static core::http::Client client;
  return client;
}

struct HttpResult {
  int status = 0;  // 0: no answer (refused, dropped, timed out)
  std::string body;  // the answer's body, or the error when there was none
};

// One HTTP call; never throws for a status or a transport error.
inline HttpResult call(const std::string& method, const std::string& url,
                       const nlohmann::json& body = nullptr,
                       std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  sdk::HttpRequest req;
  req.method = method;
  req.url = url;
  req.timeout = timeout;
  if (!body.is_null()) {
    req.body = body.dump();
    req.headers.push_back({"Content-Type", "application/json"});
  }
  try {
    const auto res = httpClient().send(req);
    return {res.status, res.body};
  } catch (const std::exception& e) {
    return {0, e.what()};
  }
}

// One HTTP call; throws unless the answer is 2xx. Returns the parsed body (null when empty).
inline nlohmann::json http(const std::string& method, const std::string& url,
                           const nlohmann::json& body = nullptr,
                           std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  const auto res = call(method, url, body, timeout);
  if (res.status < 200 || res.status >= 300) {
    throw std::runtime_error(method + " " + url + " answered " + std::to_string(res.status) +
                             ": " + res.body);
  }
  return res.body.empty() ? nlohmann::json() : nlohmann::json::parse(res.body, nullptr, false);
}

// A TCP port free on 127.0.0.1 now (for a `ferry run` that must keep its port, and so its
// webhook URL, across restarts).
inline unsigned short freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// The body of a GET, whatever the status.
inline std::string httpText(const std::string& url) {
  sdk::HttpRequest req;
  req.url = url;
  return httpClient().send(req).body;
}

// Polls `ready` every `every` until it holds or `timeout` passes; returns whether it held. An
// exception from `ready` counts as "not yet" (a process still starting).
inline bool waitUntil(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                      std::chrono::milliseconds every = std::chrono::milliseconds(200)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (ready()) {
        return true;
      }
    } catch (const std::exception&) {
      // not yet
    }
    std::this_thread::sleep_for(every);
  }
  return false;
}

// A series of a Prometheus text exposition, e.g. metricValue(text, "ferry_queue_depth") or with
// its labels; -1 when absent.
inline double metricValue(const std::string& exposition, const std::string& series) {
  std::istringstream text(exposition);
  std::string line;
  while (std::getline(text, line)) {
    if (line.rfind(series + " ", 0) == 0) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

// `ferry <args>` as a child (e.g. `run --config ...`): stdout and stderr appended to
// <dir>/ferry.stdout and <dir>/ferry.stderr (kept across restarts), stopped by SIGTERM when
// destroyed.
class FerryRun {
 public:
  FerryRun(const std::filesystem::path& dir, const std::vector<std::string>& args,
           const std::map<std::string, std::string>& env)
      : errPath_(dir / "ferry.stderr") {
    errOffset_ = std::filesystem::exists(errPath_) ? std::filesystem::file_size(errPath_) : 0;
    pid_ = spawnProgram(ferryBinary(), args, env, {{}, dir / "ferry.stdout", errPath_, true});
  }
  ~FerryRun() { stop(SIGTERM); }
  FerryRun(const FerryRun&) = delete;
  FerryRun& operator=(const FerryRun&) = delete;

  // -1 once the child has been reaped: never pass it to kill() (kill(-1, ...) signals every
  // process we may signal); use signal().
  pid_t pid() const { return pid_; }
  // Sends `sig` to the child if it is still running; false when it is not.
  bool signal(int sig) { return alive() && ::kill(pid_, sig) == 0; }
  // Whether the process still runs; reaps it when it has exited (so stop() sends nothing).
  bool alive() {
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
    }
    return pid_ > 0;
  }
  // What this run wrote to stderr so far.
  std::string stderrText() const { return slurp(errPath_).substr(errOffset_); }

  // Waits (up to `timeout`) for "ferry: listening on 127.0.0.1:<port>" on stderr; returns the
  // port, 0 when it did not come or the process exited first.
  unsigned short waitListening(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    unsigned short port = 0;
    const std::string marker = "ferry: listening on 127.0.0.1:";
    bool exited = false;
    waitUntil(
        [&] {
          const std::string err = stderrText();
          const auto at = err.find(marker);
          // The whole line: "<marker><port> with N flow(s)", the port digits only.
          if (at != std::string::npos) {
            const auto from = at + marker.size();
            const auto to = err.find_first_not_of("0123456789", from);
            if (to != std::string::npos && to > from && err.compare(to, 6, " with ") == 0) {
              port = static_cast<unsigned short>(std::stoi(err.substr(from, to - from)));
              return true;
            }
          }
          int status = 0;
          if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            exited = true;
            return true;
          }
          return false;
        },
        timeout);
    return exited ? 0 : port;
  }

  // Sends `sig`; waits up to 20 s for the exit (SIGKILL after). Returns the waitpid status.
  int stop(int sig) { return stopProcess(pid_, sig); }

 private:
  std::filesystem::path errPath_;
  std::uintmax_t errOffset_ = 0;
  pid_t pid_ = -1;
};

// A sandbox process (libexec/ferry/ferry-sandbox-<id>) and the JSON it describes itself with
// on its first line (base_url, admin_url, tokens, ...).
struct Sandbox {
  std::unique_ptr<ChildProcess> process;
  nlohmann::json info;

  static Sandbox start(const std::string& id, std::vector<std::string> args = {}) {
    std::vector<std::string> argv{std::string(FERRY_BINARY_DIR) + "/libexec/ferry/ferry-sandbox-" +
                                      id,
                                  "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    Sandbox s;
    s.process = std::make_unique<ChildProcess>(argv);
    s.info = nlohmann::json::parse(s.process->readLine());
    return s;
  }
  std::string baseUrl() const { return info.at("base_url").get<std::string>(); }
  std::string adminUrl() const { return info.at("admin_url").get<std::string>(); }
  void stop() { process.reset(); }
};

// The `connections:` section of a ferry.yaml for the GHL and Umsatz-io sandboxes.
struct SandboxConnections {
  std::string ghlBaseUrl;
  std::string umsatzioBaseUrl;
  std::string location = "ferrySandboxLoc00001";
  std::string ghlToken = "env:E2E_GHL_TOKEN";  // the secret source of the GHL token
  std::string ghlScopes;                       // "" = not declared
  bool umsatzioWebhookSecret = true;           // webhook_secret: env:E2E_UMZ_WEBHOOK_SECRET

  std::string yaml() const {
    std::ostringstream y;
    y << "connections:\n"
      << "  ghl:\n    plugin: ghl\n    auth: private_token\n"
      << "    base_url: " << ghlBaseUrl << "\n"
      << "    settings: {location_id: " << location << "}\n"
      << (ghlScopes.empty() ? "" : "    scopes: [" + ghlScopes + "]\n")
      << "    secrets: {token: " << ghlToken << "}\n"
      << "  umsatzio:\n    plugin: umsatzio\n    auth: api_key\n"
      << "    base_url: " << umsatzioBaseUrl << "\n"
      << "    secrets: {api_key: env:E2E_UMZ_KEY"
      << (umsatzioWebhookSecret ? ", webhook_secret: env:E2E_UMZ_WEBHOOK_SECRET" : "") << "}\n";
    return y.str();
  }
};

// The head of a test ferry.yaml: state in <dir>/state, a free port on 127.0.0.1, and short
// polls, leases and retries so that tests settle quickly.
inline std::string testConfigHead(const std::filesystem::path& dir, unsigned short port = 0) {
  std::ostringstream y;
  y << "version: 1\nstate_dir: " << (dir / "state").string() << "\n"
    << "server: {bind: 127.0.0.1, port: " << port << "}\n"
    << "limits: {poll_interval_seconds: 1, lease_seconds: 5, retry: {max_attempts: 8, "
       "initial_ms: 200, max_ms: 2000}}\n";
  return y.str();
}

}  // namespace ferry::testing

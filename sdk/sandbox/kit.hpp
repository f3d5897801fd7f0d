#pragma once

// The sandbox kit: what every connector's local emulator is built on. An HTTP server on
// loopback with one handler function, fault injection (--faults), and the command-line
// contract of `ferry sandbox <id>`: the first line on stdout is one JSON object describing
// the running sandbox, then it serves until SIGTERM or SIGINT.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include "ferry/sdk/http.hpp"
#include "ferry/sdk/json.hpp"

namespace ferry::sandbox {

using sdk::Headers;
using sdk::Json;

struct Request {
  std::string method;
  std::string path;                          // without the query string
  std::map<std::string, std::string> query;  // decoded
  std::string rawQuery;
  Headers headers;
  std::string body;

  std::optional<std::string> header(std::string_view name) const {
    return sdk::findHeader(headers, name);
  }
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  static Response json(int status, const Json& body);
  static Response text(int status, std::string body);
};

// Fault injection, parsed from a spec like "429=0.05,5xx=0.1,drop=0.01,latency=0-200".
// Rates are probabilities per request (0..1); latency is a uniform range in milliseconds.
// Faults never apply to the admin paths (/_sandbox/...).
struct Faults {
  double rate429 = 0;
  double rate5xx = 0;
  double rateDrop = 0;
  int latencyMinMs = 0;
  int latencyMaxMs = 0;

  // Throws std::invalid_argument naming the bad part of the spec.
  static Faults parse(std::string_view spec);
  Json toJson() const;
  bool any() const { return rate429 > 0 || rate5xx > 0 || rateDrop > 0 || latencyMaxMs > 0; }
};

struct FaultCounters {
  std::atomic<long> requests{0};
  std::atomic<long> injected429{0};
  std::atomic<long> injected5xx{0};
  std::atomic<long> dropped{0};
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 0;  // 0 = any free port
  int threads = 32;
};

// An HTTP/1.1 server calling `handler` for every request, on a pool of threads. The handler
// must be thread-safe. Exceptions from the handler become 500 answers.
class Server {
 public:
  Server(Handler handler, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  void stop();
  unsigned short port() const;
  std::string baseUrl() const;  // "http://127.0.0.1:<port>"

  void setFaults(const Faults& faults);
  Faults faults() const;
  const FaultCounters& counters() const { return counters_; }

  // Decides whether to inject a fault into this request. Called by the server before the
  // handler; public so that sandboxes can describe it in their admin state.
  enum class Injection { None, TooMany, ServerError, Drop };
  Injection draw();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Handler handler_;
  ServerOptions options_;
  mutable std::mutex faultsMutex_;
  Faults faults_;
  std::mt19937_64 rng_;
  FaultCounters counters_;
};

// The main() of a sandbox executable. Parses --port N, --host H and --faults SPEC (plus the
// extra options the sandbox declares through `configure`), starts the server, prints
// `describe(server)` as one JSON line on stdout, flushes, and serves until SIGTERM/SIGINT.
// Returns the process exit code (2 for a usage error).
struct MainOptions {
  std::string name;  // "ghl"
  // Builds the handler once the options are known; may read `extra` (the unparsed
  // --key=value options).
  std::function<Handler(Server& server, const std::map<std::string, std::string>& extra)> setup;
  std::function<Json(const Server& server)> describe;
};
int runMain(int argc, char** argv, const MainOptions& options);

}  // namespace ferry::sandbox

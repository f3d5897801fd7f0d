#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ferry/sdk/connector.hpp"

namespace ferry::core::http {

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless the config says otherwise
  unsigned short port = 8088;       // 0 = any free port
  std::size_t maxBodyBytes = 1 << 20;
  int threads = 16;
};

struct Reply {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  sdk::Headers headers;
};

// The routes ferry serves. Each handler runs on a server thread and must be thread-safe.
struct Routes {
  // POST /hooks/<name>[/<token>]: `name` is the route name (one per subscribed trigger).
  std::function<Reply(const std::string& name, const sdk::WebhookRequest& request)> webhook;
  std::function<Reply()> metrics;  // GET /metrics (Prometheus text format)
  std::function<Reply()> health;   // GET /healthz: the process is alive
  std::function<Reply()> ready;    // GET /readyz: the store answers and the queue is below the mark
};

// ferry's HTTP server (Poco). Refuses bodies over the limit with 413 before reading them,
// answers 404 for unknown paths and 405 for wrong methods, and never lets a handler's
// exception escape (500 with a generic message; the detail goes to the log).
class Server {
 public:
  Server(ServerOptions options, Routes routes);
  ~Server();
  void start();
  // Stops accepting, lets in-flight requests finish, closes idle keep-alive connections.
  void stop();
  unsigned short port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::core::http

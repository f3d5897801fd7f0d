#include "http/server.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include "log/log.hpp"

namespace ferry::core::http {

namespace {

constexpr std::size_t kDrainLimit = 16 << 20;

Reply jsonReply(int status, const std::string& code, const std::string& message) {
  Reply r;
  r.status = status;
  r.body = sdk::Json{{"error", code}, {"message", message}}.dump();
  return r;
}

void send(Poco::Net::HTTPServerResponse& res, const Reply& reply) {
  res.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
  res.setContentType(reply.contentType);
  for (const auto& [k, v] : reply.headers) {
    res.set(k, v);
  }
  res.setContentLength(static_cast<std::streamsize>(reply.body.size()));
  res.send() << reply.body;
}

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  Handler(const ServerOptions& options, const Routes& routes)
      : options_(options), routes_(routes) {}

  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& res) override {
    Reply reply;
    try {
      reply = route(req);
    } catch (const std::exception& e) {
      log::write(sdk::LogLevel::Error, "A request handler failed.",
                 {{"path", req.getURI()}, {"error", e.what()}});
      reply = jsonReply(500, "internal", "internal error; see the ferry log");
    }
    if (reply.status == 413) {
      // The body was not read; the connection cannot be reused.
      res.setKeepAlive(false);
    }
    send(res, reply);
  }

 private:
  Reply route(Poco::Net::HTTPServerRequest& req) {
    const Poco::URI uri(req.getURI());
    const std::string path = uri.getPath();
    const std::string& method = req.getMethod();
    auto get = [&](const std::function<Reply()>& fn) {
      if (method != "GET" && method != "HEAD") {
        return jsonReply(405, "method_not_allowed", "use GET");
      }
      return fn ? fn() : jsonReply(404, "not_found", "not served here");
    };
    if (path == "/metrics") {
      return get(routes_.metrics);
    }
    if (path == "/healthz") {
      return get(routes_.health);
    }
    if (path == "/readyz") {
      return get(routes_.ready);
    }
    static const std::string prefix = "/hooks/";
    if (path.rfind(prefix, 0) != 0 || !routes_.webhook) {
      return jsonReply(404, "not_found", "no route for " + path);
    }
    if (method != "POST") {
      return jsonReply(405, "method_not_allowed", "webhooks are POSTed");
    }
    const auto length = req.getContentLength64();
    if (length > static_cast<Poco::Int64>(options_.maxBodyBytes)) {
      // Read and drop a moderately large body, so that the client sees the 413 instead of a
      // broken pipe; a huge one is cut off (the connection is closed after the answer).
      if (length <= static_cast<Poco::Int64>(kDrainLimit)) {
        req.stream().ignore(static_cast<std::streamsize>(length));
      }
      return jsonReply(413, "too_large",
                       "body of " + std::to_string(length) + " bytes exceeds the limit of " +
                           std::to_string(options_.maxBodyBytes));
    }
    sdk::WebhookRequest hook;
    hook.method = method;
    hook.path = path;
    hook.query = uri.getRawQuery();
    for (const auto& [k, v] : req) {
      hook.headers.emplace_back(k, v);
    }
    // Read at most limit + 1 bytes, so a chunked body cannot exceed the limit either.
    auto& in = req.stream();
    std::string body;
    char buffer[8192];
    while (in.good() && body.size() <= options_.maxBodyBytes) {
      in.read(buffer, sizeof buffer);
      body.append(buffer, static_cast<std::size_t>(in.gcount()));
    }
    if (body.size() > options_.maxBodyBytes) {
      return jsonReply(413, "too_large",
                       "body exceeds the limit of " + std::to_string(options_.maxBodyBytes) +
                           " bytes");
    }
    hook.body = std::move(body);
    std::string name = path.substr(prefix.size());
    return routes_.webhook(name, hook);
  }

  const ServerOptions& options_;
  const Routes& routes_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(const ServerOptions& options, const Routes& routes)
      : options_(options), routes_(routes) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(options_, routes_);
  }

 private:
  const ServerOptions& options_;
  const Routes& routes_;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Routes routes;
  std::unique_ptr<Poco::ThreadPool> pool;
  std::unique_ptr<Poco::Net::HTTPServer> server;
  unsigned short port = 0;
};

Server::Server(ServerOptions options, Routes routes) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->routes = std::move(routes);
}

Server::~Server() { stop(); }

void Server::start() {
  Poco::Net::ServerSocket socket(
      Poco::Net::SocketAddress(impl_->options.host, impl_->options.port), 256);
  impl_->port = socket.address().port();
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(impl_->options.threads);
  params->setMaxQueued(512);
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(2, 0));  // idle keep-alive pins a thread (#17)
  impl_->pool = std::make_unique<Poco::ThreadPool>(2, impl_->options.threads);
  impl_->server = std::make_unique<Poco::Net::HTTPServer>(
      new Factory(impl_->options, impl_->routes), *impl_->pool, socket, params);
  impl_->server->start();
}

void Server::stop() {
  if (impl_->server) {
    impl_->server->stopAll(false);
    impl_->server.reset();
    impl_->pool->joinAll();
    impl_->pool.reset();
  }
}

unsigned short Server::port() const { return impl_->port; }

}  // namespace ferry::core::http

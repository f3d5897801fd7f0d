#include "http/server.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "http/request_plan.hpp"
#include "log/log.hpp"

namespace ferry::core::http {

namespace {

void send(Poco::Net::HTTPServerResponse& res, const Reply& reply) {
  // With its reason phrase: setStatus alone leaves "OK" (a "404 OK").
  res.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
  res.setContentType(reply.contentType);
  for (const auto& [k, v] : reply.headers) {
    res.set(k, v);
  }
  res.setContentLength(static_cast<std::streamsize>(reply.body.size()));
  // Flushed here, before the handler counts itself done: stop() closes connections once no
  // handler runs, and Poco would otherwise write the buffered answer only after that.
  std::ostream& out = res.send();
  out << reply.body;
  out.flush();
}

// The requests being handled, so that stop() can let them finish before it closes connections.
class Active {
 public:
  void enter() {
    std::lock_guard lock(mutex_);
    ++count_;
  }
  void leave() {
    {
      std::lock_guard lock(mutex_);
      --count_;
    }
    idle_.notify_all();
  }
  // True when none is left within `timeout`.
  bool waitIdle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, timeout, [&] { return count_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable idle_;
  int count_ = 0;
};

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  Handler(const ServerOptions& options, const Routes& routes, Active& active)
      : options_(options), routes_(routes), active_(active) {}

  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& res) override {
    active_.enter();
    struct Leave {
      Active& active;
      ~Leave() { active.leave(); }
    } leave{active_};
    Reply reply;
    try {
      reply = route(req);
    } catch (const std::exception& e) {
      log::write(sdk::LogLevel::Error, "A request handler failed.",
                 {{"path", req.getURI()}, {"error", e.what()}});
      reply = jsonReply(500, "internal", "internal error; see the ferry log");
      bodyLeft_ = true;  // how much of the body was read is unknown: do not reuse the connection
    }
    if (bodyLeft_) {
      // Bytes of the body are still unread; the connection cannot be reused.
      res.setKeepAlive(false);
    }
    send(res, reply);
  }

 private:
  // The decisions are in planRequest and readBody (request_plan.hpp, fuzzed); this only does
  // the I/O.
  Reply route(Poco::Net::HTTPServerRequest& req) {
    RequestPlan plan = planRequest(req.getMethod(), req.getURI(), req.getContentLength64(),
                                   options_.maxBodyBytes, static_cast<bool>(routes_.webhook));
    const auto call = [](const std::function<Reply()>& fn) {
      return fn ? fn() : jsonReply(404, "not_found", "not served here");
    };
    if (plan.target != RouteTarget::Webhook) {
      if (plan.drainBytes > 0) {
        req.stream().ignore(static_cast<std::streamsize>(plan.drainBytes));
      }
      bodyLeft_ = req.getChunkedTransferEncoding() || req.getContentLength64() > plan.drainBytes;
    }
    switch (plan.target) {
      case RouteTarget::Metrics:
        return call(routes_.metrics);
      case RouteTarget::Health:
        return call(routes_.health);
      case RouteTarget::Ready:
        return call(routes_.ready);
      case RouteTarget::Answer:
        return plan.reply;
      case RouteTarget::Webhook:
        break;
    }
    sdk::WebhookRequest hook;
    hook.method = req.getMethod();
    hook.path = plan.path;
    hook.query = plan.query;
    for (const auto& [k, v] : req) {
      hook.headers.emplace_back(k, v);
    }
    auto body = readBody(req.stream(), options_.maxBodyBytes);
    if (!body) {
      bodyLeft_ = true;
      return jsonReply(413, "too_large",
                       "body exceeds the limit of " + std::to_string(options_.maxBodyBytes) +
                           " bytes");
    }
    hook.body = std::move(*body);
    return routes_.webhook(plan.name, hook);
  }

  const ServerOptions& options_;
  const Routes& routes_;
  Active& active_;
  bool bodyLeft_ = false;  // set by route(): some of the request's body was not read
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(const ServerOptions& options, const Routes& routes, Active& active)
      : options_(options), routes_(routes), active_(active) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(options_, routes_, active_);
  }

 private:
  const ServerOptions& options_;
  const Routes& routes_;
  Active& active_;
};

// How long stop() lets the requests being handled finish before it closes their connections.
constexpr std::chrono::seconds kDrainTimeout{10};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Routes routes;
  Active active;
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
      new Factory(impl_->options, impl_->routes, impl_->active), *impl_->pool, socket, params);
  impl_->server->start();
}

void Server::stop() {
  if (impl_->server) {
    // Stop accepting, let the requests being handled finish, then close every connection.
    // Poco's own graceful stop (stopAll(false)) also waits for idle keep-alive connections,
    // each until its read timeout (60 s) runs out: a client holding one open would hold up
    // `ferry run`'s shutdown for a minute.
    impl_->server->stop();
    if (!impl_->active.waitIdle(kDrainTimeout)) {
      log::write(sdk::LogLevel::Warn,
                 "Requests were still being handled when the server stopped; their connections "
                 "are closed and their senders will retry.",
                 {{"waited_s", kDrainTimeout.count()}});
    }
    impl_->server->stopAll(true);
    impl_->server.reset();
    impl_->pool->joinAll();
    impl_->pool.reset();
  }
}

unsigned short Server::port() const { return impl_->port; }

}  // namespace ferry::core::http

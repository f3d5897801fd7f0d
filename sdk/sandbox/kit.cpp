#include "kit.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <csignal>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ferry::sandbox {

Response Response::json(int status, const Json& body) {
  Response r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  r.body = body.dump();
  return r;
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
  r.body = std::move(body);
  return r;
}

Faults Faults::parse(std::string_view spec) {
  Faults f;
  std::size_t start = 0;
  const std::string text(spec);
  while (start < text.size()) {
    auto comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                           : comma - start);
    start = comma == std::string::npos ? text.size() : comma + 1;
    if (part.empty()) {
      continue;
    }
    const auto eq = part.find('=');
    if (eq == std::string::npos) {
      throw std::invalid_argument("fault '" + part +
                                  "' has no '=' (expected e.g. 429=0.05,5xx=0.1,drop=0.01,"
                                  "latency=0-200)");
    }
    const std::string key = part.substr(0, eq);
    const std::string value = part.substr(eq + 1);
    auto rate = [&](double& out) {
      std::size_t used = 0;
      double v = 0;
      try {
        v = std::stod(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size() || v < 0 || v > 1) {
        throw std::invalid_argument("fault '" + key + "' needs a rate between 0 and 1, got '" +
                                    value + "'");
      }
      out = v;
    };
    if (key == "429") {
      rate(f.rate429);
    } else if (key == "5xx" || key == "500") {
      rate(f.rate5xx);
    } else if (key == "drop") {
      rate(f.rateDrop);
    } else if (key == "latency") {
      const auto dash = value.find('-');
      try {
        f.latencyMinMs = std::stoi(value.substr(0, dash));
        f.latencyMaxMs = dash == std::string::npos ? f.latencyMinMs : std::stoi(value.substr(dash + 1));
      } catch (const std::exception&) {
        throw std::invalid_argument("fault 'latency' needs milliseconds like 0-200, got '" +
                                    value + "'");
      }
      if (f.latencyMinMs < 0 || f.latencyMaxMs < f.latencyMinMs || f.latencyMaxMs > 60000) {
        throw std::invalid_argument("fault 'latency' range '" + value + "' is not valid");
      }
    } else {
      throw std::invalid_argument("unknown fault '" + key + "' (allowed: 429, 5xx, drop, latency)");
    }
  }
  return f;
}

Json Faults::toJson() const {
  return {{"429", rate429},
          {"5xx", rate5xx},
          {"drop", rateDrop},
          {"latency_ms", {latencyMinMs, latencyMaxMs}}};
}

namespace {

class RequestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  RequestHandler(Server& server, const Handler& handler) : server_(server), handler_(handler) {}

  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& res) override {
    Request r;
    r.method = req.getMethod();
    Poco::URI uri(req.getURI());
    r.path = uri.getPath();
    r.rawQuery = uri.getRawQuery();
    for (const auto& [k, v] : uri.getQueryParameters()) {
      r.query[k] = v;
    }
    for (const auto& [k, v] : req) {
      r.headers.emplace_back(k, v);
    }
    std::ostringstream body;
    Poco::StreamCopier::copyStream(req.stream(), body);
    r.body = body.str();

    Response out;
    const bool admin = r.path.rfind("/_sandbox/", 0) == 0;
    const auto injection = admin ? Server::Injection::None : server_.draw();
    if (injection == Server::Injection::Drop) {
      // Close the connection without an answer, as a crashed upstream would.
      auto& impl = static_cast<Poco::Net::HTTPServerRequestImpl&>(req);
      impl.socket().shutdown();
      impl.socket().close();
      return;
    }
    if (injection == Server::Injection::TooMany) {
      out = Response::json(429, {{"statusCode", 429}, {"message", "Too Many Requests (injected)"}});
      out.headers.emplace_back("Retry-After", "1");
    } else if (injection == Server::Injection::ServerError) {
      out = Response::json(503, {{"statusCode", 503}, {"message", "Service Unavailable (injected)"}});
    } else {
      try {
        out = handler_(r);
      } catch (const std::exception& e) {
        out = Response::json(500, {{"statusCode", 500}, {"message", e.what()}});
      }
    }
    res.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(out.status));
    for (const auto& [k, v] : out.headers) {
      res.set(k, v);
    }
    res.setContentLength(static_cast<std::streamsize>(out.body.size()));
    res.send() << out.body;
  }

 private:
  Server& server_;
  const Handler& handler_;
};

class HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  HandlerFactory(Server& server, const Handler& handler) : server_(server), handler_(handler) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new RequestHandler(server_, handler_);
  }

 private:
  Server& server_;
  const Handler& handler_;
};

}  // namespace

struct Server::Impl {
  std::unique_ptr<Poco::ThreadPool> pool;
  std::unique_ptr<Poco::Net::HTTPServer> http;
  unsigned short port = 0;
};

Server::Server(Handler handler, ServerOptions options)
    : impl_(std::make_unique<Impl>()),
      handler_(std::move(handler)),
      options_(std::move(options)),
      rng_(std::random_device{}()) {}

Server::~Server() { stop(); }

void Server::start() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(options_.host, options_.port), 128);
  impl_->port = socket.address().port();
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(options_.threads);
  params->setMaxQueued(256);
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(2, 0));  // idle keep-alive pins a thread (#17)
  impl_->pool = std::make_unique<Poco::ThreadPool>(2, options_.threads);
  impl_->http = std::make_unique<Poco::Net::HTTPServer>(new HandlerFactory(*this, handler_),
                                                        *impl_->pool, socket, params);
  impl_->http->start();
}

void Server::stop() {
  if (impl_ && impl_->http) {
    impl_->http->stopAll(true);  // stop() waits out idle keep-alive connections (#18)
    impl_->http.reset();
    impl_->pool->joinAll();
    impl_->pool.reset();
  }
}

unsigned short Server::port() const { return impl_->port; }

std::string Server::baseUrl() const {
  return "http://" + options_.host + ":" + std::to_string(impl_->port);
}

void Server::setFaults(const Faults& faults) {
  std::lock_guard lock(faultsMutex_);
  faults_ = faults;
}

Faults Server::faults() const {
  std::lock_guard lock(faultsMutex_);
  return faults_;
}

Server::Injection Server::draw() {
  counters_.requests++;
  Faults f;
  double a = 0;
  double b = 0;
  int latency = 0;
  {
    std::lock_guard lock(faultsMutex_);
    f = faults_;
    std::uniform_real_distribution<double> u(0, 1);
    a = u(rng_);
    b = u(rng_);
    if (f.latencyMaxMs > 0) {
      latency = std::uniform_int_distribution<int>(f.latencyMinMs, f.latencyMaxMs)(rng_);
    }
  }
  if (latency > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(latency));
  }
  if (a < f.rateDrop) {
    counters_.dropped++;
    return Injection::Drop;
  }
  if (b < f.rate429) {
    counters_.injected429++;
    return Injection::TooMany;
  }
  if (b < f.rate429 + f.rate5xx) {
    counters_.injected5xx++;
    return Injection::ServerError;
  }
  return Injection::None;
}

int runMain(int argc, char** argv, const MainOptions& options) {
  ServerOptions serverOptions;
  Faults faults;
  std::map<std::string, std::string> extra;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    const auto eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg.rfind("--", 0) == 0 && i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      value = argv[++i];
    }
    try {
      if (arg == "--port") {
        const int port = std::stoi(value);
        if (port < 0 || port > 65535) {
          throw std::invalid_argument("out of range");
        }
        serverOptions.port = static_cast<unsigned short>(port);
      } else if (arg == "--host") {
        serverOptions.host = value;
      } else if (arg == "--faults") {
        faults = Faults::parse(value);
      } else if (arg == "--help" || arg == "-h") {
        std::cout << "usage: ferry sandbox " << options.name
                  << " [--port N] [--host H] [--faults 429=R,5xx=R,drop=R,latency=MIN-MAX]\n";
        return 0;
      } else if (arg.rfind("--", 0) == 0) {
        extra[arg.substr(2)] = value;
      } else {
        throw std::invalid_argument("unexpected argument");
      }
    } catch (const std::exception& e) {
      std::cerr << "ferry sandbox " << options.name << ": error[usage]: " << arg << " "
                << value << ": " << e.what() << "\n";
      return 2;
    }
  }
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<Server> server;
  Handler handler;
  // The handler is built after the server exists (it may need the base URL), and the server
  // calls it through this indirection.
  server = std::make_unique<Server>([&handler](const Request& r) { return handler(r); },
                                    serverOptions);
  try {
    server->start();
    server->setFaults(faults);
    handler = options.setup(*server, extra);
  } catch (const std::invalid_argument& e) {
    std::cerr << "ferry sandbox " << options.name << ": error[usage]: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ferry sandbox " << options.name << ": error[start]: " << e.what() << "\n";
    return 1;
  }
  std::cout << options.describe(*server).dump() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server->stop();
  return 0;
}

}  // namespace ferry::sandbox

#include "http/client.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <sstream>

namespace ferry::core::http {

namespace {

Poco::Net::Context::Ptr makeTlsContext(const ClientOptions& options) {
  using Poco::Net::Context;
  // VERIFY_STRICT also checks the host name for loopback peers (cpp-stack.md #19).
  const auto mode = options.verifyTls ? Context::VERIFY_STRICT : Context::VERIFY_NONE;
  return new Context(Context::TLS_CLIENT_USE, "", "", options.caFile, mode, 9,
                     true, "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH");
}

}  // namespace

Client::Client(ClientOptions options) : options_(std::move(options)) {}
Client::~Client() = default;

std::unique_ptr<Poco::Net::HTTPClientSession> Client::acquire(const std::string& key,
                                                              const std::string& scheme,
                                                              const std::string& host,
                                                              unsigned short port,
                                                              bool pooled) {
  if (pooled) {
    std::lock_guard lock(mutex_);
    auto& pool = idle_[key];
    if (!pool.empty()) {
      auto session = std::move(pool.back());
      pool.pop_back();
      return session;
    }
  }
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (scheme == "https") {
    session = std::make_unique<Poco::Net::HTTPSClientSession>(host, port, makeTlsContext(options_));
  } else {
    session = std::make_unique<Poco::Net::HTTPClientSession>(host, port);
  }
  session->setKeepAlive(true);
  return session;
}

void Client::release(const std::string& key,
                     std::unique_ptr<Poco::Net::HTTPClientSession> session) {
  std::lock_guard lock(mutex_);
  auto& pool = idle_[key];
  if (pool.size() < options_.maxIdlePerHost) {
    pool.push_back(std::move(session));
  }
}

sdk::HttpResponse Client::send(const sdk::HttpRequest& request) {
  Poco::URI uri;
  try {
    uri = Poco::URI(request.url);
  } catch (const Poco::Exception& e) {
    throw sdk::TransportError("Invalid URL '" + request.url + "': " + e.displayText());
  }
  const std::string scheme = uri.getScheme();
  if (scheme != "http" && scheme != "https") {
    throw sdk::TransportError("Unsupported URL scheme in '" + request.url + "'");
  }
  const std::string key = scheme + "://" + uri.getHost() + ":" + std::to_string(uri.getPort());
  std::string target = uri.getPathEtc();
  if (target.empty()) {
    target = "/";
  }
  // A pooled connection may have been closed by the server while idle; one retry for a
  // connection failure on a reused session is safe because nothing was received. The retry
  // takes a new connection: the other idle ones are older, so likely closed too (with several
  // of them pooled, a retry on the next one failed the request: an e2e step failed five
  // attempts in a row in CI), and they are dropped.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto session = acquire(key, scheme, uri.getHost(), uri.getPort(), attempt == 0);
    const bool reused = session->connected();
    try {
      const auto timeout = Poco::Timespan(static_cast<long>(request.timeout.count() / 1000),
                                          static_cast<long>(request.timeout.count() % 1000) * 1000);
      session->setTimeout(timeout);
      Poco::Net::HTTPRequest req(request.method, target, Poco::Net::HTTPMessage::HTTP_1_1);
      req.setKeepAlive(true);
      for (const auto& [name, value] : request.headers) {
        req.set(name, value);
      }
      if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
          request.method == "PATCH") {
        req.setContentLength(static_cast<std::streamsize>(request.body.size()));
      }
      std::ostream& os = session->sendRequest(req);
      os << request.body;
      Poco::Net::HTTPResponse res;
      std::istream& is = session->receiveResponse(res);
      sdk::HttpResponse out;
      out.status = static_cast<int>(res.getStatus());
      for (const auto& [name, value] : res) {
        out.headers.emplace_back(name, value);
      }
      std::ostringstream body;
      Poco::StreamCopier::copyStream(is, body);
      out.body = body.str();
      if (res.getKeepAlive()) {
        release(key, std::move(session));
      }
      return out;
    } catch (const Poco::TimeoutException& e) {
      throw sdk::TransportError("Request to " + key + " timed out: " + e.displayText());
    } catch (const Poco::Net::SSLException& e) {
      // Certificates are verified by default; name the fix instead of only OpenSSL's words.
      throw sdk::TransportError(
          "TLS handshake with " + key + " failed (the certificate was not accepted?): " +
          e.displayText() +
          ". A server whose certificate comes from a private CA needs that CA in `tls.ca_file` "
          "(ferry.yaml, docs/config.md).");
    } catch (const Poco::Exception& e) {
      if (reused && attempt == 0) {
        std::lock_guard lock(mutex_);
        idle_[key].clear();
        continue;
      }
      throw sdk::TransportError("Request to " + key + " failed: " + e.displayText());
    } catch (const std::exception& e) {
      throw sdk::TransportError("Request to " + key + " failed: " + e.what());
    }
  }
  throw sdk::TransportError("Request to " + key + " failed");
}

}  // namespace ferry::core::http

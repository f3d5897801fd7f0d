#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ferry/sdk/http.hpp"

namespace Poco::Net {
class HTTPClientSession;
}

namespace ferry::core::http {

struct ClientOptions {
  std::string caFile;        // extra CA bundle for https (a self-signed sandbox), beside the system CAs
  bool verifyTls = true;     // certificates and host names are verified unless switched off
  std::size_t maxIdlePerHost = 8;
};

// The HTTP client lent to plugins: Poco underneath, keep-alive sessions pooled per
// scheme://host:port. Thread-safe. This is the one place where a request leaves the process.
class Client : public sdk::HttpClient {
 public:
  explicit Client(ClientOptions options = {});
  ~Client() override;
  sdk::HttpResponse send(const sdk::HttpRequest& request) override;

 private:
  // A session for `key`: the most recently released idle one when `pooled`, else a new one.
  std::unique_ptr<Poco::Net::HTTPClientSession> acquire(const std::string& key,
                                                        const std::string& scheme,
                                                        const std::string& host,
                                                        unsigned short port, bool pooled);
  void release(const std::string& key, std::unique_ptr<Poco::Net::HTTPClientSession> session);

  ClientOptions options_;
  std::mutex mutex_;
  std::map<std::string, std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>>> idle_;
};

}  // namespace ferry::core::http

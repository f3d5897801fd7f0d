#pragma once

// Shared pieces of the GHL plugin tests: the loaded plugin, a Context over in-memory parts,
// a clock the test sets, and a loopback server scripted per test.

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/local_context.hpp"
#include "ferry/sdk/sdk.hpp"
#include "http/client.hpp"
#include "kit.hpp"
#include "loader/loader.hpp"

namespace ferry::tests::ghl {

using sdk::Json;

inline std::shared_ptr<sdk::Connector> loadGhl() {
  static std::shared_ptr<sdk::Connector> connector = [] {
    auto outcome = core::loader::loadLibrary(std::filesystem::path(FERRY_BINARY_DIR) / "lib" /
                                             "ferry" / "plugins" / "ghl.so");
    if (outcome.error) {
      throw std::runtime_error(outcome.error->message());
    }
    return outcome.plugin->connector;
  }();
  return connector;
}

inline Json readJson(const std::string& relative) {
  std::ifstream in(std::filesystem::path(FERRY_SOURCE_DIR) / "tests/plugins/ghl/data" / relative);
  if (!in) {
    throw std::runtime_error("cannot read test data " + relative);
  }
  return Json::parse(in);
}

class SetClock : public sdk::Clock {
 public:
  std::chrono::system_clock::time_point now() override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  void set(std::chrono::system_clock::time_point t) {
    std::lock_guard lock(mutex_);
    now_ = t;
  }

 private:
  std::mutex mutex_;
  std::chrono::system_clock::time_point now_ = std::chrono::system_clock::now();
};

// A journal shared by the scripted server and the recording secrets, so a test can check the
// order "refresh token stored" before "new access token used".
struct Journal {
  std::mutex mutex;
  std::vector<std::string> lines;
  void add(std::string line) {
    std::lock_guard lock(mutex);
    lines.push_back(std::move(line));
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mutex);
    return lines;
  }
};

class RecordingSecrets : public sdk::Secrets {
 public:
  RecordingSecrets(std::map<std::string, std::string, std::less<>> values, Journal& journal)
      : inner_(std::move(values)), journal_(journal) {}
  std::optional<std::string> get(std::string_view name) override { return inner_.get(name); }
  void put(std::string_view name, std::string_view value) override {
    if (failPuts) {
      throw std::runtime_error("secret store is read-only");
    }
    journal_.add("put " + std::string(name) + "=" + std::string(value));
    inner_.put(name, value);
  }
  bool failPuts = false;

 private:
  core::engine::MemorySecrets inner_;
  Journal& journal_;
};

// A loopback server whose answers the test scripts. Every request is recorded.
class ScriptedServer {
 public:
  using Reply = std::function<sandbox::Response(const sandbox::Request&)>;

  explicit ScriptedServer(Journal* journal = nullptr)
      : journal_(journal), server_([this](const sandbox::Request& r) { return handle(r); }) {
    server_.start();
  }
  ~ScriptedServer() { server_.stop(); }

  std::string baseUrl() const { return server_.baseUrl(); }
  // Answers the next request (FIFO); when the script is empty, `fallback` answers.
  void then(Reply reply) {
    std::lock_guard lock(mutex_);
    script_.push_back(std::move(reply));
  }
  void otherwise(Reply reply) {
    std::lock_guard lock(mutex_);
    fallback_ = std::move(reply);
  }
  std::vector<sandbox::Request> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  sandbox::Response handle(const sandbox::Request& request) {
    Reply reply;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      if (!script_.empty()) {
        reply = std::move(script_.front());
        script_.pop_front();
      } else {
        reply = fallback_;
      }
    }
    if (journal_ != nullptr) {
      journal_->add(request.method + " " + request.path +
                    " auth=" + request.header("Authorization").value_or(""));
    }
    if (!reply) {
      return sandbox::Response::json(599, {{"message", "unscripted request"}});
    }
    return reply(request);
  }

  Journal* journal_;
  std::mutex mutex_;
  std::deque<Reply> script_;
  Reply fallback_;
  std::vector<sandbox::Request> requests_;
  sandbox::Server server_;
};

// A context for one connection, over the given parts.
struct Harness {
  core::http::Client http;
  core::engine::MemoryState state;
  SetClock clock;
  Journal journal;
  std::unique_ptr<RecordingSecrets> secrets;
  std::mutex reportsMutex;
  std::vector<sdk::RateLimitReport> reports;
  std::unique_ptr<core::engine::LocalContext> ctx;

  Harness(const std::string& baseUrl, const std::string& auth,
          std::map<std::string, std::string, std::less<>> secretValues,
          Json settings = {{"location_id", "loc_test_1"}}) {
    secrets = std::make_unique<RecordingSecrets>(std::move(secretValues), journal);
    core::engine::LocalContext::Parts parts;
    parts.connection.name = "ghl_test";
    parts.connection.plugin = "ghl";
    parts.connection.auth = auth;
    parts.connection.baseUrl = baseUrl;
    parts.connection.settings = std::move(settings);
    parts.http = &http;
    parts.state = &state;
    parts.secrets = secrets.get();
    parts.clock = &clock;
    parts.onRateLimit = [this](const sdk::RateLimitReport& r) {
      std::lock_guard lock(reportsMutex);
      reports.push_back(r);
    };
    ctx = std::make_unique<core::engine::LocalContext>(std::move(parts));
  }
};

inline sandbox::Response jsonReply(int status, const Json& body, sdk::Headers headers = {}) {
  auto r = sandbox::Response::json(status, body);
  for (auto& h : headers) {
    r.headers.push_back(std::move(h));
  }
  return r;
}

}  // namespace ferry::tests::ghl

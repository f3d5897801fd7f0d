#pragma once

// Runs the real sandbox executable for a test: posix_spawn, read the first stdout line (the
// JSON description), SIGTERM and wait at the end. Local to these tests on purpose.

#include <sys/types.h>

#include <string>
#include <vector>

#include "ferry/sdk/json.hpp"
#include "http/client.hpp"

namespace ferry::tests::umsatzio {

using sdk::Json;

class SandboxProcess {
 public:
  // Starts build/dev/libexec/ferry/ferry-sandbox-umsatzio with `args`. Throws
  // std::runtime_error when it does not start or print its description within 20 s.
  explicit SandboxProcess(const std::vector<std::string>& args = {});
  ~SandboxProcess();
  SandboxProcess(const SandboxProcess&) = delete;
  SandboxProcess& operator=(const SandboxProcess&) = delete;

  const Json& info() const { return info_; }
  std::string baseUrl() const { return info_["base_url"]; }
  std::string apiKey() const { return info_["api_key"]; }

  // Calls the admin API (`/_sandbox/<path>`); returns the parsed answer, throws on non-2xx.
  Json admin(const std::string& method, const std::string& path, const Json& body = Json::object());

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  Json info_;
  core::http::Client http_;
};

}  // namespace ferry::tests::umsatzio

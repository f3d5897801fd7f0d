#include "engine/worker_identity.hpp"

#include <openssl/sha.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace ferry::core::engine {

std::string workerIdentity(const RuntimeConfig& config) {
  if (!config.workerId.empty()) {
    return config.workerId;
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof host, "%s", "localhost");
  }
  std::error_code ec;
  auto dir = std::filesystem::weakly_canonical(config.stateDir, ec);
  if (ec) {
    dir = std::filesystem::absolute(config.stateDir, ec).lexically_normal();
  }
  const std::string path = dir.string();
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(path.data()), path.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string id = host;
  id += ':';
  for (int i = 0; i < 6; ++i) {
    id.push_back(hex[digest[i] >> 4]);
    id.push_back(hex[digest[i] & 15]);
  }
  return id;
}

}  // namespace ferry::core::engine

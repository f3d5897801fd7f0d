// What ferry exposes by default: the webhook server listens on loopback only unless the config
// says otherwise, and the credentials file and the master key are refused as soon as their group
// or other users may read (or write) them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

#include "engine/runtime_config.hpp"
#include "http/server.hpp"
#include "secrets/credentials.hpp"

namespace ferry::core::security {
namespace {

namespace fs = std::filesystem;

// An IPv4 address of this machine that is not loopback, if it has one.
std::optional<std::string> nonLoopbackAddress() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return std::nullopt;
  }
  std::optional<std::string> found;
  for (ifaddrs* it = list; it != nullptr && !found; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) {
      continue;
    }
    const auto* in = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
    if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) {
      continue;
    }
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    found = text;
  }
  ::freeifaddrs(list);
  return found;
}

// True when a TCP connection to address:port is accepted.
bool connects(const std::string& address, unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &to.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
  ::close(fd);
  return ok;
}

http::Routes routes() {
  http::Routes r;
  r.webhook = [](const std::string&, const sdk::WebhookRequest&) { return http::Reply{}; };
  r.metrics = [] { return http::Reply{}; };
  r.health = [] { return http::Reply{}; };
  r.ready = [] { return http::Reply{}; };
  return r;
}

TEST(Exposure, TheConfigBindsTheWebhookServerToLoopbackByDefault) {
  std::vector<flow::Diagnostic> diagnostics;
  const auto config =
      engine::parseRuntimeConfig("version: 1\nserver: {port: 9000}\n", "/tmp/ferry.yaml", diagnostics);
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->bind, "127.0.0.1");
  EXPECT_EQ(config->publicUrl, "http://127.0.0.1:9000");
  EXPECT_EQ(http::ServerOptions{}.host, "127.0.0.1");
}

TEST(Exposure, TheServerIsNotReachableOnOtherAddressesUnlessToldSo) {
  const auto other = nonLoopbackAddress();
  if (!other) {
    GTEST_SKIP() << "this machine has no IPv4 address besides loopback";
  }
  {
    http::ServerOptions options;
    options.port = 0;
    http::Server server(options, routes());
    server.start();
    EXPECT_TRUE(connects("127.0.0.1", server.port()));
    EXPECT_FALSE(connects(*other, server.port())) << "reachable on " << *other;
    server.stop();
  }
  {
    http::ServerOptions options;
    options.host = "0.0.0.0";  // told otherwise
    options.port = 0;
    http::Server server(options, routes());
    server.start();
    EXPECT_TRUE(connects(*other, server.port()));
    server.stop();
  }
}

class SecretFiles : public ::testing::TestWithParam<unsigned> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-secret-files-" + std::to_string(::getpid()) + "-" + std::to_string(GetParam()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_P(SecretFiles, TheKeyFileIsRefused) {
  const auto path = dir_ / "master.key";
  secrets::MasterKey::createFile(path);
  EXPECT_NO_THROW(secrets::MasterKey::fromFile(path)) << "created private";
  ASSERT_EQ(::chmod(path.c_str(), GetParam()), 0);
  try {
    secrets::MasterKey::fromFile(path);
    FAIL() << "a key file with mode " << std::oct << GetParam() << " was accepted";
  } catch (const secrets::SecretsError& e) {
    EXPECT_EQ(e.code, "permissions");
    EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
  }
}

TEST_P(SecretFiles, TheCredentialsFileIsRefused) {
  const auto key = secrets::MasterKey::createFile(dir_ / "master.key");
  {
    secrets::CredentialsFile file(dir_ / "credentials.enc", key);
    file.load();
    file.put("ghl", "token", "pit-security-canary");
  }
  ASSERT_EQ(::chmod((dir_ / "credentials.enc").c_str(), GetParam()), 0);
  secrets::CredentialsFile again(dir_ / "credentials.enc", key);
  try {
    again.load();
    FAIL() << "a credentials file with mode " << std::oct << GetParam() << " was accepted";
  } catch (const secrets::SecretsError& e) {
    EXPECT_EQ(e.code, "permissions");
    EXPECT_EQ(std::string(e.what()).find("pit-security-canary"), std::string::npos);
  }
}

// Group-readable, other-readable, group-writable, other-writable, both.
INSTANTIATE_TEST_SUITE_P(Modes, SecretFiles, ::testing::Values(0640u, 0604u, 0620u, 0602u, 0644u));

}  // namespace
}  // namespace ferry::core::security

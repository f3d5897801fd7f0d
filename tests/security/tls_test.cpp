// TLS certificates are verified by default: a local HTTPS server (Poco NetSSL, 127.0.0.1) whose
// certificate comes from a CA made here is refused by core/http/client with an error naming the
// fix, accepted once that CA is configured (ClientOptions::caFile, ferry.yaml `tls.ca_file`),
// and refused again when the certificate names another host.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "engine/runtime_config.hpp"
#include "http/client.hpp"

namespace ferry::core::security {
namespace {

namespace fs = std::filesystem;

class Hello : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    (void)request;
    response.setContentType("application/json");
    response.send() << R"({"hello":"tls"})";
  }
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override {
    (void)request;
    return new Hello;
  }
};

// An HTTPS server on 127.0.0.1 with the given certificate and key.
class HttpsServer {
 public:
  HttpsServer(const fs::path& cert, const fs::path& key) {
    Poco::Net::Context::Ptr context =
        new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, key.string(), cert.string(), "",
                               Poco::Net::Context::VERIFY_NONE);
    Poco::Net::SecureServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0), 64, context);
    port_ = socket.address().port();
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory, socket,
                                                      new Poco::Net::HTTPServerParams);
    server_->start();
  }
  ~HttpsServer() { server_->stopAll(true); }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  unsigned short port_ = 0;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("ferry-tls-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string d = dir_.string();
    // A CA, a certificate for 127.0.0.1 it signs, and one it signs for another host name.
    const std::string script =
        "cd '" + d + "' && "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "-subj '/CN=ferry test CA' && "
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > good.ext && "
        "printf 'subjectAltName=DNS:other.invalid\\n' > other.ext && "
        "for n in good other; do "
        "openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj \"/CN=$n\" && "
        "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem "
        "-days 2 -extfile $n.ext || exit 1; done > openssl.log 2>&1";
    ASSERT_EQ(std::system(script.c_str()), 0) << "openssl failed; see " << d << "/openssl.log";
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static sdk::HttpResponse get(http::Client& client, const std::string& url) {
    sdk::HttpRequest request;
    request.url = url;
    return client.send(request);
  }

  static fs::path dir_;
};

fs::path TlsTest::dir_;

TEST_F(TlsTest, AnUntrustedCertificateIsRefusedWithAClearError) {
  HttpsServer server(dir_ / "good.pem", dir_ / "good.key");
  http::Client client;  // defaults: verification on, system CAs only
  try {
    get(client, server.url());
    FAIL() << "a certificate from an unknown CA was accepted";
  } catch (const sdk::TransportError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("TLS"), std::string::npos) << message;
    EXPECT_NE(message.find("certificate"), std::string::npos) << message;
    EXPECT_NE(message.find("tls.ca_file"), std::string::npos) << message;
  }
}

TEST_F(TlsTest, TheSameServerIsAcceptedOnceItsCaIsConfigured) {
  HttpsServer server(dir_ / "good.pem", dir_ / "good.key");
  http::ClientOptions options;
  options.caFile = (dir_ / "ca.pem").string();
  http::Client client(options);
  const auto response = get(client, server.url());
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"hello":"tls"})");
}

TEST_F(TlsTest, ACertificateForAnotherHostIsRefusedEvenFromATrustedCa) {
  HttpsServer server(dir_ / "other.pem", dir_ / "other.key");
  http::ClientOptions options;
  options.caFile = (dir_ / "ca.pem").string();
  http::Client client(options);
  EXPECT_THROW(get(client, server.url()), sdk::TransportError);
}

TEST_F(TlsTest, FerryYamlNamesTheCaFileRelativeToItself) {
  std::vector<flow::Diagnostic> diagnostics;
  const auto config = engine::parseRuntimeConfig("version: 1\ntls:\n  ca_file: certs/ca.pem\n",
                                                 "/etc/ferry/ferry.yaml", diagnostics);
  ASSERT_TRUE(config.has_value());
  EXPECT_TRUE(diagnostics.empty());
  EXPECT_EQ(config->tlsCaFile, fs::path("/etc/ferry/certs/ca.pem"));

  diagnostics.clear();
  const auto none = engine::parseRuntimeConfig("version: 1\n", "/etc/ferry/ferry.yaml", diagnostics);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->tlsCaFile.empty());

  diagnostics.clear();
  (void)engine::parseRuntimeConfig("version: 1\ntls:\n  verify: false\n", "/etc/ferry/ferry.yaml",
                                   diagnostics);
  ASSERT_EQ(diagnostics.size(), 1u) << "there is no switch to turn verification off";
  EXPECT_EQ(diagnostics[0].code, "unknown_key");
}

}  // namespace
}  // namespace ferry::core::security

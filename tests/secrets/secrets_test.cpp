#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "secrets/credentials.hpp"
#include "secrets/masker.hpp"

namespace ferry::core::secrets {
namespace {

namespace fs = std::filesystem;

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ferry-secrets-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ::unsetenv("FERRY_MASTER_KEY");
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST_F(SecretsTest, RoundTripsThroughAnEncryptedFile) {
  auto key = MasterKey::createFile(dir_ / "master.key");
  {
    CredentialsFile file(dir_ / "credentials.enc", key);
    file.load();
    file.put("ghl_main", "token", "pit-canary-4f1e9a");
    file.put("umsatzio", "api_key", "uio-canary-77aa");
  }
  EXPECT_EQ(slurp(dir_ / "credentials.enc").find("canary"), std::string::npos)
      << "the file must not hold secrets in clear";
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "credentials.enc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  CredentialsFile again(dir_ / "credentials.enc", MasterKey::fromFile(dir_ / "master.key"));
  again.load();
  EXPECT_EQ(again.get("ghl_main", "token"), "pit-canary-4f1e9a");
  EXPECT_EQ(again.get("umsatzio", "api_key"), "uio-canary-77aa");
  EXPECT_EQ(again.get("umsatzio", "nope"), std::nullopt);
}

TEST_F(SecretsTest, APassphraseKeyIsStretchedAndAWrongKeyIsRefused) {
  ::setenv("FERRY_MASTER_KEY", "correct horse battery staple", 1);
  {
    CredentialsFile file(dir_ / "c.enc", MasterKey::fromEnvironment());
    file.put("c", "token", "secret-value-1");
  }
  CredentialsFile good(dir_ / "c.enc", MasterKey::fromEnvironment());
  good.load();
  EXPECT_EQ(good.get("c", "token"), "secret-value-1");

  ::setenv("FERRY_MASTER_KEY", "wrong horse", 1);
  CredentialsFile bad(dir_ / "c.enc", MasterKey::fromEnvironment());
  try {
    bad.load();
    FAIL() << "a wrong key must be refused";
  } catch (const SecretsError& e) {
    EXPECT_EQ(e.code, "decrypt");
    EXPECT_NE(std::string(e.what()).find("c.enc"), std::string::npos);
  }
  ::unsetenv("FERRY_MASTER_KEY");
}

TEST_F(SecretsTest, RefusesAKeyFileOthersCanRead) {
  auto path = dir_ / "master.key";
  MasterKey::createFile(path);
  ::chmod(path.c_str(), 0644);
  try {
    MasterKey::fromFile(path);
    FAIL() << "a world-readable key file must be refused";
  } catch (const SecretsError& e) {
    EXPECT_EQ(e.code, "permissions");
    EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos);
  }
}

TEST_F(SecretsTest, RefusesACredentialsFileOthersCanRead) {
  auto key = MasterKey::createFile(dir_ / "master.key");
  CredentialsFile file(dir_ / "c.enc", key);
  file.put("c", "token", "abcdefgh");
  ::chmod((dir_ / "c.enc").c_str(), 0640);
  CredentialsFile again(dir_ / "c.enc", key);
  EXPECT_THROW(again.load(), SecretsError);
}

TEST_F(SecretsTest, RefusesAnAlteredFile) {
  auto key = MasterKey::createFile(dir_ / "master.key");
  {
    CredentialsFile file(dir_ / "c.enc", key);
    file.put("c", "token", "abcdefgh");
  }
  std::string text = slurp(dir_ / "c.enc");
  const auto pos = text.find("\"data\": \"") + 9;
  text[pos] = text[pos] == 'A' ? 'B' : 'A';
  std::ofstream(dir_ / "c.enc", std::ios::binary | std::ios::trunc) << text;
  CredentialsFile again(dir_ / "c.enc", key);
  EXPECT_THROW(again.load(), SecretsError);
}

TEST_F(SecretsTest, RotationIsDurableAndWinsOverTheEnvironment) {
  auto key = MasterKey::createFile(dir_ / "master.key");
  ::setenv("FERRY_TEST_REFRESH", "refresh-from-env-1", 1);
  CredentialsFile file(dir_ / "c.enc", key);
  file.load();
  ConnectionSecrets secrets("ghl", {{"refresh_token", "FERRY_TEST_REFRESH"}}, &file);
  EXPECT_EQ(secrets.get("refresh_token"), "refresh-from-env-1");
  secrets.put("refresh_token", "refresh-rotated-2");
  EXPECT_EQ(secrets.get("refresh_token"), "refresh-rotated-2");

  // A restarted process reads the rotated token, not the used one from the environment.
  CredentialsFile reopened(dir_ / "c.enc", key);
  reopened.load();
  ConnectionSecrets after("ghl", {{"refresh_token", "FERRY_TEST_REFRESH"}}, &reopened);
  EXPECT_EQ(after.get("refresh_token"), "refresh-rotated-2");
  ::unsetenv("FERRY_TEST_REFRESH");
}

TEST_F(SecretsTest, ARotationByAnotherProcessIsSeenWithoutARestart) {
  auto key = MasterKey::createFile(dir_ / "master.key");
  CredentialsFile running(dir_ / "c.enc", key);
  running.put("ghl", "token", "token-before-rotation");
  EXPECT_EQ(running.get("ghl", "token"), "token-before-rotation");
  // `ferry connection rotate` in another process writes the file anew.
  CredentialsFile other(dir_ / "c.enc", key);
  other.load();
  other.put("ghl", "token", "token-after-rotation");
  EXPECT_EQ(running.get("ghl", "token"), "token-after-rotation");
}

TEST_F(SecretsTest, ConcurrentRotationsAllLand) {
  auto key = MasterKey::createFile(dir_ / "master.key");
  CredentialsFile a(dir_ / "c.enc", key);
  CredentialsFile b(dir_ / "c.enc", key);
  std::thread ta([&] {
    for (int i = 0; i < 20; ++i) {
      a.put("a", "k" + std::to_string(i), "value-a-" + std::to_string(i));
    }
  });
  std::thread tb([&] {
    for (int i = 0; i < 20; ++i) {
      b.put("b", "k" + std::to_string(i), "value-b-" + std::to_string(i));
    }
  });
  ta.join();
  tb.join();
  CredentialsFile check(dir_ / "c.enc", key);
  check.load();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(check.get("a", "k" + std::to_string(i)), "value-a-" + std::to_string(i));
    EXPECT_EQ(check.get("b", "k" + std::to_string(i)), "value-b-" + std::to_string(i));
  }
}

TEST(Masker, MasksKnownSecretsEverywhere) {
  Masker m;
  m.add("tok-123456");
  m.add("tok-123456-long");
  m.add("ab");  // too short to mask safely
  EXPECT_EQ(m.maskText("Bearer tok-123456-long and tok-123456, ab"), "Bearer *** and ***, ab");
  const auto j = m.maskJson(sdk::Json{{"auth", "tok-123456"}, {"list", {"x tok-123456 y"}}});
  EXPECT_EQ(j.dump(), R"({"auth":"***","list":["x *** y"]})");
  const auto h = m.maskHeaders(sdk::Headers{{"Authorization", "Bearer anything"},
                                     {"x-tenant-api-key", "k"},
                                     {"X-Other", "tok-123456"}});
  EXPECT_EQ(h[0].second, "Bearer ***");
  EXPECT_EQ(h[1].second, "***");
  EXPECT_EQ(h[2].second, "***");
}

}  // namespace
}  // namespace ferry::core::secrets

#include "secrets/credentials.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "ferry/sdk/json.hpp"
#include "secrets/masker.hpp"

namespace ferry::core::secrets {

namespace fs = std::filesystem;
using sdk::Json;

namespace {

constexpr int kPbkdf2Iterations = 200000;

std::string base64(const std::vector<unsigned char>& in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), in.data(),
                                static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::vector<unsigned char> unbase64(const std::string& in, const fs::path& file) {
  std::vector<unsigned char> out(3 * in.size() / 4 + 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) {
    throw SecretsError("corrupt", file.string() + ": the credentials file is corrupt (bad base64)");
  }
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts padding bytes as data.
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) {
    --size;
  }
  out.resize(size);
  return out;
}

std::vector<unsigned char> randomBytes(std::size_t n) {
  std::vector<unsigned char> out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    throw SecretsError("random", "OpenSSL could not produce random bytes");
  }
  return out;
}

bool isHexKey(const std::string& s) {
  if (s.size() != 64) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

std::vector<unsigned char> fromHex(const std::string& s) {
  std::vector<unsigned char> out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<unsigned char>(std::stoi(s.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::vector<unsigned char> derive(const std::string& passphrase,
                                  const std::vector<unsigned char>& salt) {
  std::vector<unsigned char> key(32);
  if (PKCS5_PBKDF2_HMAC(passphrase.data(), static_cast<int>(passphrase.size()), salt.data(),
                        static_cast<int>(salt.size()), kPbkdf2Iterations, EVP_sha256(), 32,
                        key.data()) != 1) {
    throw SecretsError("kdf", "PBKDF2 failed");
  }
  return key;
}

MasterKey keyFromText(std::string text, std::string source) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  if (text.empty()) {
    throw SecretsError("key_missing", source + " is empty");
  }
  MasterKey key;
  key.source = std::move(source);
  if (isHexKey(text)) {
    key.bytes = fromHex(text);
  } else {
    key.passphrase = text;
  }
  return key;
}

struct FileLock {
  explicit FileLock(const fs::path& lockPath) {
    fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
      throw SecretsError("lock", lockPath.string() + ": cannot lock the credentials file");
    }
  }
  ~FileLock() {
    if (fd >= 0) {
      ::flock(fd, LOCK_UN);
      ::close(fd);
    }
  }
  int fd = -1;
};

}  // namespace

void checkPrivate(const fs::path& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return;
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    std::ostringstream mode;
    mode << std::oct << (st.st_mode & 0777);
    throw SecretsError("permissions", path.string() + ": the " + what +
                                          " can be read by other users (mode " + mode.str() +
                                          "); run: chmod 600 " + path.string());
  }
}

MasterKey MasterKey::fromEnvironment() {
  const char* env = std::getenv("FERRY_MASTER_KEY");
  if (env == nullptr || *env == '\0') {
    throw SecretsError("key_missing", "FERRY_MASTER_KEY is not set");
  }
  return keyFromText(env, "FERRY_MASTER_KEY");
}

MasterKey MasterKey::fromFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw SecretsError("key_missing", path.string() + ": no such key file");
  }
  checkPrivate(path, "master key file");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return keyFromText(text.str(), path.string());
}

MasterKey MasterKey::createFile(const fs::path& path) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    throw SecretsError("exists", path.string() + ": a key file already exists; it was kept");
  }
  fs::create_directories(path.parent_path(), ec);
  const auto bytes = randomBytes(32);
  std::string hex;
  static const char* digits = "0123456789abcdef";
  for (unsigned char b : bytes) {
    hex.push_back(digits[b >> 4]);
    hex.push_back(digits[b & 15]);
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw SecretsError("write", path.string() + ": cannot create the key file");
  }
  hex.push_back('\n');
  const bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    throw SecretsError("write", path.string() + ": cannot write the key file");
  }
  MasterKey key;
  key.bytes = bytes;
  key.source = path.string();
  return key;
}

MasterKey MasterKey::resolve(const fs::path& keyFile) {
  const char* env = std::getenv("FERRY_MASTER_KEY");
  if (env != nullptr && *env != '\0') {
    return fromEnvironment();
  }
  std::error_code ec;
  if (!keyFile.empty() && fs::exists(keyFile, ec)) {
    return fromFile(keyFile);
  }
  throw SecretsError("key_missing",
                     "no master key: set FERRY_MASTER_KEY or create the key file " +
                         keyFile.string() + " (ferry connection add creates one)");
}

CredentialsFile::CredentialsFile(fs::path path, MasterKey key)
    : path_(std::move(path)), key_(std::move(key)) {}

CredentialsFile::Data CredentialsFile::readLocked() {
  std::error_code ec;
  if (!fs::exists(path_, ec)) {
    return {};
  }
  checkPrivate(path_, "credentials file");
  std::ifstream in(path_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const Json envelope = Json::parse(text.str(), nullptr, false);
  if (!envelope.is_object() || envelope.value("format", "") != "ferry-credentials") {
    throw SecretsError("corrupt", path_.string() + ": not a ferry credentials file");
  }
  if (envelope.value("version", 0) != 1) {
    throw SecretsError("version", path_.string() + ": credentials file version " +
                                      envelope.value("version", Json(0)).dump() +
                                      " is newer than this ferry understands");
  }
  const auto salt = unbase64(envelope.value("salt", ""), path_);
  const auto nonce = unbase64(envelope.value("nonce", ""), path_);
  const auto data = unbase64(envelope.value("data", ""), path_);
  const auto tag = unbase64(envelope.value("tag", ""), path_);
  salt_ = salt;
  std::vector<unsigned char> keyBytes =
      key_.passphrase.empty() ? key_.bytes : derive(key_.passphrase, salt);

  std::vector<unsigned char> plain(data.size() + 16);
  int len = 0;
  int total = 0;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  bool ok = ctx != nullptr && tag.size() == 16 && nonce.size() == 12 &&
            EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, keyBytes.data(), nonce.data()) ==
                1 &&
            EVP_DecryptUpdate(ctx, plain.data(), &len, data.data(), static_cast<int>(data.size())) ==
                1;
  total = len;
  ok = ok &&
       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, const_cast<unsigned char*>(tag.data())) ==
           1 &&
       EVP_DecryptFinal_ex(ctx, plain.data() + total, &len) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    throw SecretsError("decrypt", path_.string() + ": cannot decrypt with the key from " +
                                      key_.source +
                                      " (wrong key, or the file was altered)");
  }
  total += len;
  const Json content = Json::parse(std::string(plain.begin(), plain.begin() + total), nullptr,
                                   false);
  Data out;
  if (content.is_object() && content.contains("connections")) {
    for (auto it = content["connections"].begin(); it != content["connections"].end(); ++it) {
      for (auto s = it->begin(); s != it->end(); ++s) {
        if (s->is_string()) {
          out[it.key()][s.key()] = s->get<std::string>();
          Masker::global().add(s->get<std::string>());
        }
      }
    }
  }
  return out;
}

void CredentialsFile::writeLocked(const Data& data) {
  Json content = {{"connections", Json::object()}};
  for (const auto& [connection, values] : data) {
    for (const auto& [name, value] : values) {
      content["connections"][connection][name] = value;
    }
  }
  const std::string plain = content.dump();
  if (salt_.empty()) {
    salt_ = randomBytes(16);
  }
  const auto nonce = randomBytes(12);
  std::vector<unsigned char> keyBytes =
      key_.passphrase.empty() ? key_.bytes : derive(key_.passphrase, salt_);
  std::vector<unsigned char> cipher(plain.size() + 16);
  std::vector<unsigned char> tag(16);
  int len = 0;
  int total = 0;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  bool ok = ctx != nullptr &&
            EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, keyBytes.data(), nonce.data()) ==
                1 &&
            EVP_EncryptUpdate(ctx, cipher.data(), &len,
                              reinterpret_cast<const unsigned char*>(plain.data()),
                              static_cast<int>(plain.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx, cipher.data() + total, &len) == 1 &&
       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag.data()) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    throw SecretsError("encrypt", "cannot encrypt the credentials");
  }
  total += len;
  cipher.resize(static_cast<std::size_t>(total));
  const Json envelope = {{"format", "ferry-credentials"},
                         {"version", 1},
                         {"cipher", "aes-256-gcm"},
                         {"kdf", key_.passphrase.empty() ? "raw" : "pbkdf2-sha256"},
                         {"iterations", kPbkdf2Iterations},
                         {"salt", base64(salt_)},
                         {"nonce", base64(nonce)},
                         {"data", base64(cipher)},
                         {"tag", base64(tag)}};
  const std::string text = envelope.dump(2) + "\n";

  std::error_code ec;
  fs::create_directories(path_.parent_path(), ec);
  const fs::path tmp = path_.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw SecretsError("write", tmp.string() + ": cannot write the credentials file");
  }
  ::fchmod(fd, 0600);
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    throw SecretsError("write", tmp.string() + ": cannot write the credentials file (disk full?)");
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw SecretsError("write", path_.string() + ": cannot replace the credentials file");
  }
  // The rename is durable only once the directory entry is on disk.
  const int dir = ::open(path_.parent_path().empty() ? "." : path_.parent_path().c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

namespace {
std::int64_t fileStamp(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return 0;
  }
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec +
         static_cast<std::int64_t>(st.st_size) * 7919;
}
}  // namespace

void CredentialsFile::load() {
  std::lock_guard lock(mutex_);
  loadedStamp_ = fileStamp(path_);
  data_ = readLocked();
}

void CredentialsFile::reloadIfChangedLocked() {
  const auto stamp = fileStamp(path_);
  if (stamp == loadedStamp_) {
    return;
  }
  try {
    data_ = readLocked();
    loadedStamp_ = stamp;
  } catch (const SecretsError&) {
    // A half-written or broken file keeps the last good secrets; the next get() tries again.
  }
}

std::optional<std::string> CredentialsFile::get(std::string_view connection,
                                                std::string_view name) {
  std::lock_guard lock(mutex_);
  reloadIfChangedLocked();
  auto c = data_.find(connection);
  if (c == data_.end()) {
    return std::nullopt;
  }
  auto s = c->second.find(std::string(name));
  return s == c->second.end() ? std::nullopt : std::optional<std::string>(s->second);
}

void CredentialsFile::put(std::string_view connection, std::string_view name,
                          std::string_view value) {
  std::lock_guard lock(mutex_);
  FileLock fileLock(path_.string() + ".lock");
  Data data = readLocked();  // another process may have rotated something meanwhile
  data[std::string(connection)][std::string(name)] = std::string(value);
  writeLocked(data);
  data_ = std::move(data);
  loadedStamp_ = fileStamp(path_);
  Masker::global().add(value);
}

void CredentialsFile::erase(std::string_view connection) {
  std::lock_guard lock(mutex_);
  FileLock fileLock(path_.string() + ".lock");
  Data data = readLocked();
  auto it = data.find(connection);
  if (it != data.end()) {
    data.erase(it);
  }
  writeLocked(data);
  data_ = std::move(data);
}

std::vector<std::string> CredentialsFile::connections() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, values] : data_) {
    out.push_back(name);
  }
  return out;
}

std::vector<std::string> CredentialsFile::allValues() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, values] : data_) {
    for (const auto& [k, v] : values) {
      out.push_back(v);
    }
  }
  return out;
}

ConnectionSecrets::ConnectionSecrets(std::string connection,
                                     std::map<std::string, std::string> envNames,
                                     CredentialsFile* file)
    : connection_(std::move(connection)), envNames_(std::move(envNames)), file_(file) {}

std::optional<std::string> ConnectionSecrets::get(std::string_view name) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = overrides_.find(name); it != overrides_.end()) {
      return it->second;
    }
  }
  // A value in the credentials file wins: it is where rotated tokens are persisted, so after a
  // restart a single-use refresh token from the environment is not replayed.
  if (file_ != nullptr) {
    if (auto v = file_->get(connection_, name)) {
      Masker::global().add(*v);
      return v;
    }
  }
  if (auto it = envNames_.find(std::string(name)); it != envNames_.end()) {
    if (const char* v = std::getenv(it->second.c_str()); v != nullptr && *v != '\0') {
      Masker::global().add(v);
      return std::string(v);
    }
  }
  return std::nullopt;
}

void ConnectionSecrets::put(std::string_view name, std::string_view value) {
  Masker::global().add(value);
  if (file_ != nullptr) {
    file_->put(connection_, name, value);
  }
  // An environment-backed secret cannot be rewritten; the rotated value wins in this process
  // and is persisted in the credentials file (when there is one) for the next start.
  std::lock_guard lock(mutex_);
  overrides_[std::string(name)] = std::string(value);
}

}  // namespace ferry::core::secrets

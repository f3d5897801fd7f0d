#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/sdk/context.hpp"

namespace ferry::core::secrets {

// A credentials problem the user must fix: a missing or badly protected key, a file that does
// not decrypt. The message names the file and says what to do.
class SecretsError : public std::runtime_error {
 public:
  SecretsError(std::string code, const std::string& message)
      : std::runtime_error(message), code(std::move(code)) {}
  std::string code;  // "key_missing", "key_permissions", "file_permissions", "decrypt", ...
};

// The 32-byte master key. Read from FERRY_MASTER_KEY (64 hex digits, or any passphrase, which
// is stretched with PBKDF2-HMAC-SHA256) or from a key file that only its owner may read
// (mode 0600 or stricter; a group- or world-readable key file is refused).
struct MasterKey {
  std::vector<unsigned char> bytes;  // 32 bytes once resolved
  std::string passphrase;            // set when the key must be derived with the file's salt
  std::string source;                // "FERRY_MASTER_KEY" or the key file's path, for messages

  static MasterKey fromEnvironment();  // nullopt-like: throws key_missing when unset
  static MasterKey fromFile(const std::filesystem::path& path);
  // Generates a fresh random key file (mode 0600); refuses to overwrite an existing one.
  static MasterKey createFile(const std::filesystem::path& path);
  // FERRY_MASTER_KEY when set, else the key file at `keyFile` when it exists; throws otherwise.
  static MasterKey resolve(const std::filesystem::path& keyFile);
};

// The encrypted credentials file: every connection's secrets, encrypted with AES-256-GCM under
// the master key, written atomically (temp file, fsync, rename) with mode 0600. Thread-safe;
// several processes may share the file (writes take an exclusive flock and re-read first).
class CredentialsFile {
 public:
  CredentialsFile(std::filesystem::path path, MasterKey key);

  // Reads and decrypts the file; a missing file is an empty store. Throws SecretsError.
  // get() re-reads the file when it changed on disk, so a secret rotated by another process
  // (`ferry connection rotate`) is used without a restart.
  void load();
  std::optional<std::string> get(std::string_view connection, std::string_view name);
  // Stores one secret durably: returns only after the new file is renamed into place.
  void put(std::string_view connection, std::string_view name, std::string_view value);
  void erase(std::string_view connection);
  std::vector<std::string> connections();
  // Every secret value in the file, for masking.
  std::vector<std::string> allValues();

  const std::filesystem::path& path() const { return path_; }

 private:
  using Data = std::map<std::string, std::map<std::string, std::string>, std::less<>>;
  Data readLocked();
  void writeLocked(const Data& data);

  std::filesystem::path path_;
  MasterKey key_;
  std::vector<unsigned char> salt_;
  void reloadIfChangedLocked();

  std::mutex mutex_;
  Data data_;
  std::int64_t loadedStamp_ = -1;  // mtime (ns) + size of the file as last read
};

// sdk::Secrets for one connection: each secret comes from the credentials file, or else from the
// environment variable the config names. Rotated values are written to the credentials file
// (durably, before put() returns) and win over the environment from then on.
class ConnectionSecrets : public sdk::Secrets {
 public:
  ConnectionSecrets(std::string connection, std::map<std::string, std::string> envNames,
                    CredentialsFile* file);
  std::optional<std::string> get(std::string_view name) override;
  void put(std::string_view name, std::string_view value) override;

 private:
  std::string connection_;
  std::map<std::string, std::string> envNames_;  // secret name -> environment variable
  CredentialsFile* file_;
  std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> overrides_;  // rotated env-backed values
};

// Refuses a file that other users may read (or write). Throws SecretsError naming the file and
// the chmod that fixes it.
void checkPrivate(const std::filesystem::path& path, const std::string& what);

}  // namespace ferry::core::secrets

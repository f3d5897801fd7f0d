#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "alerts/config.hpp"
#include "engine/retry.hpp"
#include "flow/config.hpp"
#include "flow/diagnostic.hpp"

namespace ferry::core::engine {

// What `ferry run` reads from ferry.yaml beyond the connections (docs/config.md).
struct RuntimeConfig {
  flow::Config base;                           // connections, as flow validation sees them
  std::filesystem::path file;                  // the config file itself
  std::filesystem::path stateDir;              // default: <config dir>/.ferry
  std::string storeUrl;                        // default: sqlite:<stateDir>/ferry.db
  std::string bind = "127.0.0.1";
  unsigned short port = 8088;
  std::string publicUrl;                       // default: http://<bind>:<port>
  bool publicUrlDefaulted = true;              // follow the port actually bound (port 0)
  std::size_t maxBodyBytes = 1 << 20;
  long queueHighWater = 10000;
  std::vector<std::filesystem::path> flowFiles;
  std::vector<std::filesystem::path> pluginDirs;
  std::filesystem::path credentialsFile;       // default: <stateDir>/credentials.enc
  std::filesystem::path keyFile;               // default: <stateDir>/master.key
  // This process's worker identity: its worker threads are "<workerId>/w<n>", and at start it
  // releases the leases still held under that identity (a previous run of this same process
  // that crashed). Must be unique per running `ferry run`. Default (empty here): derived from
  // the host name and the state directory (engine/worker_identity.hpp).
  std::string workerId;
  std::filesystem::path tlsCaFile;             // tls.ca_file: extra CA bundle, empty = system
  int workers = 4;
  int storeConnections = 8;  // limits.store_connections: PostgreSQL pool size (SQLite: unused)
  std::chrono::seconds lease{60};
  // limits.max_interruptions: an event whose runs ended this many times without an outcome (its
  // worker died or lost the lease) is dead-lettered at its next claim instead of run again.
  int maxInterruptions = 5;
  std::chrono::seconds pollInterval{30};
  RetryPolicy retry;

  struct ConnectionRuntime {
    std::map<std::string, std::string> secretEnv;  // secret name -> environment variable
    long rateLimit = 100;                          // requests per interval
    std::chrono::milliseconds rateInterval{10000};
    std::string bucketSetting;                     // setting naming the bucket (location_id)
    bool operator==(const ConnectionRuntime&) const = default;
  };
  std::map<std::string, ConnectionRuntime, std::less<>> connections;
  alerts::Config alerts;  // `alerts:` (docs/alerts.md)
};

// Parses ferry.yaml: the connections through flow::parseConfig, the rest here. Relative paths
// are relative to the config file's directory. Every problem goes to `diagnostics` with its
// place; returns nullopt when the file is not usable at all. Reads only `text`.
std::optional<RuntimeConfig> parseRuntimeConfig(std::string_view text,
                                                const std::filesystem::path& file,
                                                std::vector<flow::Diagnostic>& diagnostics);

// Reads and parses the file; an unreadable file is an io_error diagnostic.
std::optional<RuntimeConfig> loadRuntimeConfig(const std::filesystem::path& file,
                                               std::vector<flow::Diagnostic>& diagnostics);

}  // namespace ferry::core::engine

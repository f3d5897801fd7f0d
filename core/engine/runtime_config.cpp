#include "engine/runtime_config.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "flow/yaml_util.hpp"

namespace ferry::core::engine {

namespace fs = std::filesystem;
namespace yaml = flow::yaml;

namespace {

struct Parser {
  std::string file;
  std::vector<flow::Diagnostic>& out;

  void error(const YAML::Node& node, const std::string& message, const std::string& hint) {
    out.push_back({file, yaml::at(node), "config_error", message, hint});
  }

  void keys(const YAML::Node& node, const std::string& where,
            std::initializer_list<std::string_view> allowed) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      const auto key = it->first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        out.push_back({file, yaml::at(it->first), "unknown_key",
                       "unknown key '" + key + "' in " + where,
                       "allowed keys: " + yaml::joined(allowed)});
      }
    }
  }

  template <class T>
  void number(const YAML::Node& node, const char* key, T& value, T min, T max) {
    const auto n = node[key];
    if (!n) {
      return;
    }
    try {
      const auto v = n.as<long long>();
      if (v < static_cast<long long>(min) || v > static_cast<long long>(max)) {
        throw std::out_of_range("range");
      }
      value = static_cast<T>(v);
    } catch (const std::exception&) {
      error(n, std::string("`") + key + ":` must be a whole number from " + std::to_string(min) +
                   " to " + std::to_string(max),
            "for example `" + std::string(key) + ": " + std::to_string(min) + "`");
    }
  }

  std::string text(const YAML::Node& node, const char* key, const std::string& fallback) {
    const auto n = node[key];
    if (!n) {
      return fallback;
    }
    if (!n.IsScalar()) {
      error(n, std::string("`") + key + ":` must be a single value", "write it on one line");
      return fallback;
    }
    return n.Scalar();
  }
};

fs::path resolve(const fs::path& base, const std::string& p) {
  fs::path path(p);
  return path.is_absolute() ? path : (base / path).lexically_normal();
}

}  // namespace

std::optional<RuntimeConfig> parseRuntimeConfig(std::string_view text, const fs::path& file,
                                                std::vector<flow::Diagnostic>& diagnostics) {
  auto base = flow::parseConfig(text, file.string(), diagnostics);
  if (!base) {
    return std::nullopt;
  }
  RuntimeConfig cfg;
  cfg.base = std::move(*base);
  cfg.file = file;
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  YAML::Node root = YAML::Load(std::string(text));  // parseConfig already proved it parses
  Parser p{file.string(), diagnostics};
  p.keys(root, "ferry.yaml",
         {"version", "state_dir", "store", "server", "flows", "plugins", "credentials", "limits",
          "connections", "worker_id", "alerts", "tls"});

  if (auto v = root["version"]; v && v.Scalar() != "1") {
    diagnostics.push_back({file.string(), yaml::at(v), "unsupported_version",
                           "config version '" + v.Scalar() + "' is not supported",
                           "write `version: 1`"});
  }
  cfg.stateDir = resolve(dir, p.text(root, "state_dir", ".ferry"));
  cfg.workerId = p.text(root, "worker_id", "");
  if (auto w = root["worker_id"]; w && w.IsScalar() &&
      (cfg.workerId.empty() || cfg.workerId.size() > 100 ||
       cfg.workerId.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789._:-") != std::string::npos)) {
    p.error(w, "`worker_id:` must be 1 to 100 letters, digits, '.', '_', ':' or '-'",
            "write e.g. `worker_id: ferry-eu-1`, one distinct id per running `ferry run` (or "
            "leave it out: the host name and state directory are used)");
    cfg.workerId.clear();
  }
  cfg.storeUrl = p.text(root, "store", "sqlite:" + (cfg.stateDir / "ferry.db").string());

  if (auto server = root["server"]) {
    if (!server.IsMap()) {
      p.error(server, "`server:` must be a mapping", "write `server: {bind: 127.0.0.1, port: 8088}`");
    } else {
      p.keys(server, "server", {"bind", "port", "public_url", "max_body_bytes", "queue_high_water"});
      cfg.bind = p.text(server, "bind", cfg.bind);
      p.number(server, "port", cfg.port, static_cast<unsigned short>(0),
               static_cast<unsigned short>(65535));
      cfg.publicUrl = p.text(server, "public_url", "");
      p.number(server, "max_body_bytes", cfg.maxBodyBytes, std::size_t{1024},
               std::size_t{64} << 20);
      p.number(server, "queue_high_water", cfg.queueHighWater, 1L, 100000000L);
    }
  }
  cfg.publicUrlDefaulted = cfg.publicUrl.empty();
  if (cfg.publicUrlDefaulted) {
    cfg.publicUrl = "http://" + cfg.bind + ":" + std::to_string(cfg.port);
  }

  if (auto flows = root["flows"]) {
    if (!flows.IsSequence()) {
      p.error(flows, "`flows:` must be a list of flow files", "write `flows: [flows/contact-sync.yaml]`");
    } else {
      for (const auto& f : flows) {
        cfg.flowFiles.push_back(resolve(dir, f.Scalar()));
      }
    }
  }
  if (auto plugins = root["plugins"]) {
    if (!plugins.IsMap()) {
      p.error(plugins, "`plugins:` must be a mapping", "write `plugins: {dirs: [...]}`");
    } else {
      p.keys(plugins, "plugins", {"dirs"});
      for (const auto& d : plugins["dirs"]) {
        cfg.pluginDirs.push_back(resolve(dir, d.Scalar()));
      }
    }
  }
  cfg.credentialsFile = cfg.stateDir / "credentials.enc";
  cfg.keyFile = cfg.stateDir / "master.key";
  // Certificates are always verified; `tls.ca_file` adds a CA (a private one, a sandbox's).
  if (auto tls = root["tls"]) {
    if (!tls.IsMap()) {
      p.error(tls, "`tls:` must be a mapping", "write `tls: {ca_file: certs/private-ca.pem}`");
    } else {
      p.keys(tls, "tls", {"ca_file"});
      if (const std::string ca = p.text(tls, "ca_file", ""); !ca.empty()) {
        cfg.tlsCaFile = resolve(dir, ca);
      }
    }
  }
  if (auto creds = root["credentials"]) {
    if (!creds.IsMap()) {
      p.error(creds, "`credentials:` must be a mapping",
              "write `credentials: {file: credentials.enc, key_file: master.key}`");
    } else {
      p.keys(creds, "credentials", {"file", "key_file"});
      cfg.credentialsFile = resolve(cfg.stateDir, p.text(creds, "file", "credentials.enc"));
      cfg.keyFile = resolve(cfg.stateDir, p.text(creds, "key_file", "master.key"));
    }
  }
  if (auto limits = root["limits"]) {
    if (!limits.IsMap()) {
      p.error(limits, "`limits:` must be a mapping", "write `limits: {workers: 4}`");
    } else {
      p.keys(limits, "limits",
             {"workers", "store_connections", "lease_seconds", "poll_interval_seconds",
              "max_interruptions", "retry"});
      p.number(limits, "workers", cfg.workers, 1, 256);
      p.number(limits, "store_connections", cfg.storeConnections, 1, 256);
      p.number(limits, "max_interruptions", cfg.maxInterruptions, 1, 1000);
      long lease = cfg.lease.count();
      p.number(limits, "lease_seconds", lease, 5L, 3600L);
      cfg.lease = std::chrono::seconds(lease);
      long poll = cfg.pollInterval.count();
      p.number(limits, "poll_interval_seconds", poll, 1L, 86400L);
      cfg.pollInterval = std::chrono::seconds(poll);
      if (auto retry = limits["retry"]) {
        p.keys(retry, "limits.retry", {"max_attempts", "initial_ms", "max_ms"});
        p.number(retry, "max_attempts", cfg.retry.maxAttempts, 1, 1000);
        long initial = cfg.retry.initial.count();
        long max = cfg.retry.max.count();
        p.number(retry, "initial_ms", initial, 1L, 3600000L);
        p.number(retry, "max_ms", max, 1L, 86400000L);
        cfg.retry.initial = std::chrono::milliseconds(initial);
        cfg.retry.max = std::chrono::milliseconds(max);
      }
    }
  }
  // The runtime's part of each connection: where its secrets come from and its rate limit.
  if (auto connections = root["connections"]; connections && connections.IsMap()) {
    for (auto it = connections.begin(); it != connections.end(); ++it) {
      RuntimeConfig::ConnectionRuntime rt;
      const YAML::Node node = it->second;  // a copy: `it->second` lives in a temporary proxy
      if (auto secrets = node["secrets"]; secrets && secrets.IsMap()) {
        for (auto s = secrets.begin(); s != secrets.end(); ++s) {
          const std::string source = s->second.Scalar();
          if (source.rfind("env:", 0) == 0 && source.size() > 4) {
            rt.secretEnv[s->first.Scalar()] = source.substr(4);
          } else if (source != "credentials") {
            p.error(s->second,
                    "secret '" + s->first.Scalar() + "' must come from `env:<VARIABLE>` or "
                    "`credentials`",
                    "the value itself never goes in ferry.yaml: write `" + s->first.Scalar() +
                        ": env:GHL_TOKEN` and export GHL_TOKEN");
          }
        }
      }
      if (auto rl = node["rate_limit"]; rl && rl.IsMap()) {
        p.keys(rl, "rate_limit", {"requests", "interval_ms", "bucket_setting"});
        p.number(rl, "requests", rt.rateLimit, 1L, 1000000L);
        long interval = rt.rateInterval.count();
        p.number(rl, "interval_ms", interval, 1L, 86400000L);
        rt.rateInterval = std::chrono::milliseconds(interval);
        rt.bucketSetting = p.text(rl, "bucket_setting", "");
      }
      cfg.connections[it->first.Scalar()] = rt;
    }
  }
  if (auto alerts = root["alerts"]) {
    cfg.alerts = alerts::parseAlerts(alerts, file.string(), diagnostics);
  }
  return cfg;
}

std::optional<RuntimeConfig> loadRuntimeConfig(const fs::path& file,
                                               std::vector<flow::Diagnostic>& diagnostics) {
  std::ifstream in(file);
  if (!in) {
    diagnostics.push_back({file.string(), {}, "io_error", "cannot read the config file",
                           "check the path, or pass --config <ferry.yaml>"});
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  return parseRuntimeConfig(text.str(), file, diagnostics);
}

}  // namespace ferry::core::engine

// Engine::reload: SIGHUP swaps the config's flows, connections and credentials under the running
// server and workers. Nothing is stopped: a webhook request or a worker keeps the flow set (and
// connection) it started with, new ones get the new set.
#include <set>

#include "engine/engine.hpp"
#include "flow/diagnostic.hpp"
#include "log/log.hpp"
#include "secrets/masker.hpp"

namespace ferry::core::engine {

namespace {

std::string place(const flow::Diagnostic& d) {
  std::string out = d.file;
  if (d.at.line > 0) {
    out += ":" + std::to_string(d.at.line) + ":" + std::to_string(d.at.column);
  }
  return out;
}

// Logs why a reload was refused: one error line per problem, with its place and hint.
void reportRefused(const std::vector<flow::Diagnostic>& diagnostics) {
  for (const auto& d : diagnostics) {
    log::write(sdk::LogLevel::Error,
               "Reload refused: the old flows keep running until this is fixed and ferry gets "
               "SIGHUP again.",
               {{"place", place(d)}, {"code", d.code}, {"problem", d.message}, {"hint", d.hint}});
  }
}

// Whether a webhook flow must be registered again: new, or its trigger, filters or connection
// changed.
bool needsSubscribe(const LoadedFlow& now, const FlowSet& before) {
  auto it = before.byId.find(now.flow.id);
  if (it == before.byId.end()) {
    return true;
  }
  const LoadedFlow& old = *it->second;
  return old.flow.trigger.use != now.flow.trigger.use ||
         old.flow.trigger.connection != now.flow.trigger.connection || old.filters != now.filters;
}

bool isWebhook(const LoadedFlow& lf) {
  return lf.trigger != nullptr && lf.triggerSpec != nullptr &&
         lf.triggerSpec->delivery == sdk::Delivery::Webhook;
}

}  // namespace

Engine::Reloaded Engine::reload() {
  std::lock_guard one(reloadMutex_);  // one reload at a time
  log::write(sdk::LogLevel::Debug, "Reload: reading the config file.",
             {{"config", config_.file.string()}});
  std::vector<flow::Diagnostic> diagnostics;
  auto fresh = loadRuntimeConfig(config_.file, diagnostics);
  if (!fresh || !diagnostics.empty()) {
    if (diagnostics.empty()) {
      diagnostics.push_back({config_.file.string(), {}, "io_error", "cannot read the config file",
                             "check that it still exists and is readable"});
    }
    reportRefused(diagnostics);
    return {std::move(diagnostics), std::nullopt};
  }
  log::write(sdk::LogLevel::Debug, "Reload: parsing and validating the flows.",
             {{"files", fresh->flowFiles.size()}});
  auto set = buildFlows(*fresh, diagnostics);
  if (!diagnostics.empty()) {
    reportRefused(diagnostics);
    return {std::move(diagnostics), std::nullopt};
  }
  // Settings a running process cannot change in place.
  std::vector<std::string> ignored;
  if (fresh->bind != config_.bind || fresh->port != config_.port) {
    ignored.push_back("server.bind/port");
  }
  if (fresh->storeUrl != config_.storeUrl) {
    ignored.push_back("store");
  }
  if (fresh->workers != config_.workers) {
    ignored.push_back("limits.workers");
  }
  if (fresh->storeConnections != config_.storeConnections) {
    ignored.push_back("limits.store_connections");
  }
  if (fresh->workerId != config_.workerId || fresh->stateDir != config_.stateDir) {
    ignored.push_back("worker_id/state_dir");
  }
  if (fresh->publicUrlDefaulted != config_.publicUrlDefaulted ||
      (!fresh->publicUrlDefaulted && fresh->publicUrl != config_.publicUrl)) {
    ignored.push_back("server.public_url");
  }
  if (fresh->maxBodyBytes != config_.maxBodyBytes) {
    ignored.push_back("server.max_body_bytes");
  }
  if (fresh->queueHighWater != config_.queueHighWater) {
    ignored.push_back("server.queue_high_water");
  }
  if (fresh->lease != config_.lease || fresh->pollInterval != config_.pollInterval ||
      !(fresh->retry == config_.retry)) {
    ignored.push_back("limits.lease_seconds/poll_interval_seconds/retry");
  }
  if (fresh->maxInterruptions != config_.maxInterruptions) {
    ignored.push_back("limits.max_interruptions");
  }
  if (fresh->pluginDirs != config_.pluginDirs) {
    ignored.push_back("plugins");
  }
  if (fresh->credentialsFile != config_.credentialsFile || fresh->keyFile != config_.keyFile) {
    ignored.push_back("credentials");
  }
  if (fresh->tlsCaFile != config_.tlsCaFile) {
    ignored.push_back("tls.ca_file");
  }
  if (!ignored.empty()) {
    std::string list;
    for (const auto& i : ignored) {
      list += (list.empty() ? "" : ", ") + i;
    }
    log::write(sdk::LogLevel::Warn,
               "Some changed settings take effect only after a restart; the old values stay.",
               {{"settings", list}, {"hint", "restart ferry (SIGTERM, then start it) to apply them"}});
  }

  if (credentials_ != nullptr) {
    log::write(sdk::LogLevel::Debug, "Reload: re-reading the credentials file.",
               {{"file", credentials_->path().string()}});
    try {
      credentials_->load();
    } catch (const std::exception& e) {
      log::write(sdk::LogLevel::Error,
                 "The credentials file could not be re-read; the secrets read before stay in use.",
                 {{"file", credentials_->path().string()},
                  {"error", secrets::Masker::global().maskText(e.what())},
                  {"hint", "fix the file or key, then send SIGHUP again"}});
    }
  }

  const auto before = flowSet();
  {
    // New connection runtimes are made on first use from the new definitions; in-flight calls
    // keep the ones they hold.
    std::lock_guard lock(connectionsMutex_);
    config_.base = fresh->base;
    config_.connections = fresh->connections;
    config_.flowFiles = fresh->flowFiles;
    connections_.clear();
  }
  {
    std::lock_guard lock(flowsMutex_);
    flows_ = set;
  }

  std::vector<std::string> added, removed, changed;
  for (const auto& lf : set->flows) {
    auto it = before->byId.find(lf->flow.id);
    if (it == before->byId.end()) {
      added.push_back(lf->flow.id);
    } else if (it->second->hash != lf->hash) {
      changed.push_back(lf->flow.id);
    }
    if (running_ && isWebhook(*lf) && needsSubscribe(*lf, *before)) {
      log::write(sdk::LogLevel::Debug, "Reload: registering the webhook of a new or changed flow.",
                 {{"flow", lf->flow.id}});
      subscribeFlow(*lf);
    }
  }
  for (const auto& old : before->flows) {
    if (set->byId.count(old->flow.id) != 0) {
      continue;
    }
    removed.push_back(old->flow.id);
    if (!running_ || !isWebhook(*old)) {
      continue;
    }
    unsubscribeFlow(*old);
  }
  log::write(sdk::LogLevel::Info, "Reloaded flows and credentials.",
             {{"flows", set->flows.size()},
              {"added", added},
              {"removed", removed},
              {"changed", changed}});
  return {{}, std::move(fresh)};
}

}  // namespace ferry::core::engine

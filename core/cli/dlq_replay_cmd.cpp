// ferry dlq replay: queues dead letters again unless a newer version of their record has
// superseded them (docs/operations.md, "Recovering dead letters").
#include "cli/dlq_replay_cmd.hpp"

#include <algorithm>
#include <iostream>
#include <set>

#include "cli/runtime_setup.hpp"
#include "loader/loader.hpp"

namespace ferry::core::cli {

namespace {

using sdk::Json;

struct ReplayCmdOptions {
  std::string config = "ferry.yaml";
  std::string store;
  bool json = false;
  bool all = false;
  bool force = false;
  std::vector<long long> ids;
};

const char* statusName(store::EventStatus s) { return store::toString(s); }

// The catalog that knows which triggers deliver snapshots: the config's plugin directories (when
// the store comes from the config) and the default ones.
std::unique_ptr<catalog::Catalog> loadCatalog(const ReplayCmdOptions& o) {
  std::vector<std::filesystem::path> dirs;
  if (o.store.empty()) {
    std::vector<flow::Diagnostic> diagnostics;
    if (auto config = engine::loadRuntimeConfig(o.config, diagnostics)) {
      dirs = config->pluginDirs;
    }
  }
  for (auto& d : loader::defaultPluginDirs()) {
    dirs.push_back(d);
  }
  return std::make_unique<catalog::Catalog>(loader::scan(dirs).plugins);
}

}  // namespace

void addDlqReplayCommand(Cli& cli, CLI::App* dlq) {
  auto o = std::make_shared<ReplayCmdOptions>();
  auto* cmd = dlq->add_subcommand(
      "replay",
      "Queue dead events again (same ids and idempotency keys). A dead version of a record that "
      "a newer event of the same flow has superseded is not run again but settled as superseded");
  cmd->add_option("--config,-c", o->config, "The config file naming the store")
      ->capture_default_str();
  cmd->add_option("--store", o->store, "A store URL (instead of the config's)");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->add_option("event", o->ids, "The dead events' ids");
  cmd->add_flag("--all", o->all, "Replay every dead letter");
  cmd->add_flag("--force", o->force,
                "Replay even a dead version that a newer event of its record supersedes: it runs "
                "as it was and may write older data over newer");
  cmd->callback([&cli, o] {
    if (o->ids.empty() == !o->all) {
      printError("ferry dlq replay", "usage", "name the dead events to replay, or pass --all",
                 "ferry dlq replay 12 15   or   ferry dlq replay --all");
      cli.exitCode = kUsage;
      return;
    }
    auto store = openStore(o->config, o->store, cli);
    if (!store) {
      return;
    }
    std::vector<store::EventId> ids(o->ids.begin(), o->ids.end());
    if (o->all) {
      store::EventId after = 0;
      for (int page = 0; page < 100000; ++page) {
        const auto letters = store->listDeadLetters(1000, after);
        if (letters.empty()) {
          break;
        }
        for (const auto& d : letters) {
          ids.push_back(d.eventId);
        }
        after = letters.back().eventId;
      }
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

    const auto catalog = loadCatalog(*o);
    store::ReplayOptions options;
    options.force = o->force;
    options.snapshotTrigger = [&catalog](const std::string& op) {
      const auto entry = catalog->find(op);
      return entry.operation != nullptr && entry.operation->coalesce;
    };
    Json out = Json::array();
    int queued = 0;
    int superseded = 0;
    for (const auto id : ids) {
      const auto letter = store->getDeadLetter(id);
      if (!letter) {
        printError("event " + std::to_string(id), "not_found", "no dead letter with this id",
                   "ferry dlq list shows them");
        cli.exitCode = kInvalid;
        continue;
      }
      if (!o->force && !letter->recordKey.empty() &&
          catalog->find(letter->triggerOp).operation == nullptr) {
        printError("event " + std::to_string(id), "replay_unknown_trigger",
                   "no loaded plugin declares the trigger '" + letter->triggerOp +
                       "', so ferry cannot tell whether a newer event supersedes this one; "
                       "it was not replayed",
                   "install the plugin (ferry plugin list), or pass --force to replay it as it "
                   "was");
        cli.exitCode = kInvalid;
        continue;
      }
      store::ReplayResult r;
      try {
        r = store->replayDeadLetterGuarded(id, options);
      } catch (const store::StoreError& e) {
        if (e.kind() != store::ErrorKind::NotFound) {
          throw;
        }
        printError("event " + std::to_string(id), "not_found", e.what(),
                   "ferry dlq list shows them");
        cli.exitCode = kInvalid;
        continue;
      }
      (r.queued ? queued : superseded) += 1;
      const char* outcome = r.queued ? (r.forced ? "forced" : "queued") : "superseded";
      if (o->json) {
        out.push_back({{"event_id", id},
                       {"outcome", outcome},
                       {"newer_event_id", r.newerEventId},
                       {"newer_status", r.newerEventId == 0 ? "" : statusName(r.newerStatus)},
                       {"message", r.message}});
        continue;
      }
      std::cout << r.message << "\n";
      if (!r.queued) {
        std::cout << "  notice[replay_superseded]: settled as superseded by event "
                  << r.newerEventId
                  << " (the dead letter is removed; `ferry runs list --status superseded` shows "
                     "it). To run such an older version anyway, replay it with --force.\n";
      }
    }
    if (o->json) {
      std::cout << Json{{"replays", out}, {"queued", queued}, {"superseded", superseded}}.dump(2)
                << "\n";
    } else if (ids.size() > 1) {
      std::cout << queued << " queued, " << superseded << " superseded.\n";
    }
  });
}

}  // namespace ferry::core::cli

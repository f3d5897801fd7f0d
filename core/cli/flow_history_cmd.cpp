// ferry flow history: the versions of a flow that were loaded and ran (the mapping changelog),
// and the diff between two of them.
#include <ctime>
#include <iostream>

#include "cli/cli.hpp"
#include "cli/runtime_setup.hpp"
#include "flow/unified_diff.hpp"

namespace ferry::core::cli {

namespace {

using sdk::Json;

std::string utc(store::TimeUs us) {
  if (us == 0) {
    return "-";
  }
  const auto secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct HistoryOptions {
  std::string config = "ferry.yaml";
  std::string store;
  std::string flow;
  std::vector<std::string> diff;
  bool json = false;
};

// The one version whose hash starts with `prefix`; prints the error and returns null otherwise.
const store::FlowVersionUse* pick(const std::vector<store::FlowVersionUse>& history,
                                  const std::string& flow, const std::string& prefix, Cli& cli) {
  const store::FlowVersionUse* found = nullptr;
  int matches = 0;
  for (const auto& v : history) {
    if (!prefix.empty() && v.hash.rfind(prefix, 0) == 0) {
      found = &v;
      ++matches;
    }
  }
  if (matches == 1) {
    return found;
  }
  if (matches > 1) {
    printError(prefix, "bad_value", "the hash prefix matches " + std::to_string(matches) +
                                        " versions of flow '" + flow + "'",
               "give more characters of the hash");
    cli.exitCode = kUsage;
  } else {
    printError(prefix, "not_found", "flow '" + flow + "' has no version with this hash",
               "ferry flow history " + flow + " lists the versions");
    cli.exitCode = kInvalid;
  }
  return nullptr;
}

void diff(store::Store& store, const std::vector<store::FlowVersionUse>& history,
          const HistoryOptions& o, Cli& cli) {
  const auto* a = pick(history, o.flow, o.diff[0], cli);
  const auto* b = a == nullptr ? nullptr : pick(history, o.flow, o.diff[1], cli);
  if (a == nullptr || b == nullptr) {
    return;
  }
  const auto before = store.getFlowVersion(o.flow, a->hash);
  const auto after = store.getFlowVersion(o.flow, b->hash);
  for (const auto* v : {&before, &after}) {
    if (!*v) {
      const auto& hash = v == &before ? a->hash : b->hash;
      printError(hash.substr(0, 12), "not_found",
                 "the content of this version was not kept (it ran before ferry kept flow files)",
                 "only versions loaded by this ferry or a newer one can be compared");
      cli.exitCode = kInvalid;
      return;
    }
  }
  const auto name = [&](const store::FlowVersion& v) {
    return o.flow + "@" + v.hash.substr(0, 12) + " (" + utc(v.recordedAt) + ")";
  };
  const auto text = flow::unifiedDiff(before->content, after->content, name(*before),
                                      name(*after));
  if (o.json) {
    std::cout << Json{{"flow", o.flow},
                      {"from", before->hash},
                      {"to", after->hash},
                      {"identical", text.empty()},
                      {"diff", text}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << (text.empty() ? "The two versions are identical.\n" : text);
}

}  // namespace

void addFlowHistoryCommand(Cli& cli) {
  auto* flow = cli.app.get_subcommand("flow");
  auto o = std::make_shared<HistoryOptions>();
  auto* cmd = flow->add_subcommand(
      "history", "The versions of a flow that ran (hash, first and last run, runs), and diffs");
  cmd->add_option("flow", o->flow, "The flow id")->required();
  cmd->add_option("--config,-c", o->config, "The config file naming the store")
      ->capture_default_str();
  cmd->add_option("--store", o->store, "A store URL (instead of the config's)");
  cmd->add_option("--diff", o->diff,
                  "Two hashes (or unique prefixes): print a unified diff from the first to the "
                  "second")
      ->expected(2);
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([&cli, o] {
    auto store = openStore(o->config, o->store, cli);
    if (!store) {
      return;
    }
    const auto history = store->flowHistory(o->flow);
    if (history.empty()) {
      printError(o->flow, "not_found", "no version of this flow was loaded or ran",
                 "check the flow id (`ferry runs list` shows the flows that ran)");
      cli.exitCode = kInvalid;
      return;
    }
    if (!o->diff.empty()) {
      diff(*store, history, *o, cli);
      return;
    }
    if (o->json) {
      Json out = Json::array();
      for (const auto& v : history) {
        out.push_back({{"version", v.version},
                       {"hash", v.hash},
                       {"loaded_at", utc(v.recordedAt)},
                       {"first_run_at", utc(v.firstRunAt)},
                       {"last_run_at", utc(v.lastRunAt)},
                       {"runs", v.runs},
                       {"content_kept", v.hasContent}});
      }
      std::cout << Json{{"flow", o->flow}, {"versions", out}}.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& v : history) {
      rows.push_back({v.version, v.hash.substr(0, 12), utc(v.recordedAt), utc(v.firstRunAt),
                      utc(v.lastRunAt), std::to_string(v.runs)});
    }
    printTable({"VERSION", "HASH", "LOADED", "FIRST RUN", "LAST RUN", "RUNS"}, rows);
  });
}

}  // namespace ferry::core::cli

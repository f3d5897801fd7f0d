// ferry sync <flow>: one sync cycle on demand (docs/sync.md).
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/cli.hpp"
#include "cli/runtime_setup.hpp"
#include "secrets/masker.hpp"
#include "sync/sync.hpp"

namespace ferry::core::cli {

namespace {

struct SyncOptions {
  std::string config = "ferry.yaml";
  std::string flow;
  bool dryRun = false;
  bool full = false;
  bool json = false;
  bool quiet = false;
  double budgetShare = 0;  // 0 = the flow's schedule, else 0.3
};

std::string eta(std::chrono::seconds s) {
  std::ostringstream out;
  const long t = static_cast<long>(s.count());
  if (t >= 3600) {
    out << t / 3600 << "h " << (t % 3600) / 60 << "m";
  } else if (t >= 60) {
    out << t / 60 << "m " << t % 60 << "s";
  } else {
    out << t << "s";
  }
  return out.str();
}

void runSync(Cli& cli, const SyncOptions& o) {
  auto rt = RuntimeSetup::open(o.config, cli);
  if (!rt || !rt->loadFlows(cli)) {
    return;
  }
  const engine::LoadedFlow* lf = nullptr;
  std::string known;
  for (const auto& f : rt->engine->flows()) {
    known += (known.empty() ? "" : ", ") + f->flow.id;
    if (f->flow.id == o.flow) {
      lf = f.get();
    }
  }
  if (lf == nullptr) {
    printError(o.config, "unknown_flow", "no flow '" + o.flow + "' in the config",
               known.empty() ? "add the flow file under `flows:`" : "the flows are: " + known);
    cli.exitCode = kInvalid;
    return;
  }
  if (const auto why = sync::unsyncable(*lf); !why.empty()) {
    printError(lf->flow.file, "not_syncable", "flow '" + o.flow + "' cannot be synced: " + why,
               "docs/sync.md lists what a syncable flow needs");
    cli.exitCode = kInvalid;
    return;
  }
  rt->engine->allowCallsBeforeStart();
  sync::Options options;
  options.dryRun = o.dryRun;
  options.full = o.full;
  options.budgetShare = o.budgetShare > 0 ? o.budgetShare
                        : lf->flow.schedule ? lf->flow.schedule->budgetShare
                                            : 0.3;
  options.progress = [&](const sync::Progress& p) {
    if (o.quiet) {
      return;
    }
    if (p.phase == "list") {
      std::cerr << "sync " << o.flow << ": listed " << p.done << " source record(s)\n";
    } else if (p.phase == "compare") {
      std::cerr << "sync " << o.flow << ": compared " << p.done;
      if (p.total > 0) {
        std::cerr << "/" << p.total << " (" << p.done * 100 / p.total << "%)";
      }
      std::cerr << ", drift " << p.drift;
      if (p.eta.count() > 0) {
        std::cerr << ", about " << eta(p.eta) << " left at the sync's share of the rate budget";
      }
      std::cerr << "\n";
    } else if (p.phase == "queue" && p.total > 0) {
      std::cerr << "sync " << o.flow << ": " << p.total << " repair(s) "
                << (o.dryRun ? "would need" : "queued; the workers need") << " about "
                << eta(p.eta) << " of the rate budget share to run them\n";
    }
  };
  try {
    sync::Cycle cycle(*rt->engine, *lf);
    const auto report = cycle.run(options);
    if (o.json) {
      std::cout << report.toJson().dump(2) << std::endl;
    } else {
      std::cout << report.toText();
      if (!o.dryRun && report.queued > 0) {
        std::cout << "The repairs run in `ferry run` (or the next time it starts), through the "
                     "same inbox as webhook events.\n";
      }
    }
  } catch (const std::exception& e) {
    printError(o.flow, "sync_failed", secrets::Masker::global().maskText(e.what()),
               "check the connections with `ferry connection check <name>`; nothing of this "
               "cycle was written");
    cli.exitCode = kFailure;
  }
}

}  // namespace

void addSyncCommands(Cli& cli) {
  auto o = std::make_shared<SyncOptions>();
  auto* sync = cli.app.add_subcommand(
      "sync", "Run one sync cycle of a flow: find and repair drift between source and target");
  sync->add_option("flow", o->flow, "The flow id")->required();
  sync->add_option("--config,-c", o->config, "The config file")->capture_default_str();
  sync->add_flag("--dry-run", o->dryRun, "Report the drift only; write and queue nothing");
  sync->add_flag("--full", o->full,
                 "Compare every source record (default: those changed since the last cycle)");
  sync->add_flag("--json", o->json, "Print the report as JSON");
  sync->add_flag("--quiet,-q", o->quiet, "No progress lines on stderr");
  sync->add_option("--budget-share", o->budgetShare,
                   "Share of the target's rate budget the cycle may use (0-1; default: the "
                   "flow's schedule, else 0.3)")
      ->check(CLI::Range(0.01, 1.0));
  sync->callback([&cli, o] { runSync(cli, *o); });
}

}  // namespace ferry::core::cli

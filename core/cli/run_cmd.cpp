// ferry run: the webhook server, the pollers and the workers, until SIGTERM.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/alerts_setup.hpp"
#include "cli/cli.hpp"
#include "cli/runtime_setup.hpp"
#include "engine/engine.hpp"
#include "engine/runtime_config.hpp"
#include "flow/diagnostic.hpp"
#include "log/log.hpp"
#include "sync/scheduler.hpp"

namespace ferry::core::cli {

namespace {

// After a reload the engine took, with the config it read (`fresh`: the same reading, so a file
// changed since cannot give the alerts other settings than the flows): `alerts:` and the
// connections the token rule reads may have changed too. The monitor is replaced only when they
// did, and the new one takes over the alerts firing (so they are not announced again).
void reloadAlerts(RuntimeSetup& rt, const engine::RuntimeConfig& fresh,
                  std::unique_ptr<AlertsRuntime>& alerts) {
  std::vector<std::string> before, now;
  for (const auto& [name, c] : rt.config.base.connections) {
    before.push_back(name);
  }
  for (const auto& [name, c] : fresh.base.connections) {
    now.push_back(name);
  }
  const bool changed = !(fresh.alerts == rt.config.alerts) ||
                       fresh.connections != rt.config.connections || before != now;
  rt.config.base = fresh.base;
  rt.config.connections = fresh.connections;
  rt.config.flowFiles = fresh.flowFiles;
  rt.config.alerts = fresh.alerts;
  if (!changed) {
    return;
  }
  alerts = startAlerts(rt, alerts.get());
  log::write(sdk::LogLevel::Info, "Alert rules reloaded.",
             {{"rules", rt.config.alerts.rules.size()}});
}

// Writes `text` to stderr in one piece (stdio locks the stream per call, so log lines written by
// other threads cannot land inside it).
void sayLine(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

int waitForSignal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  int sig = 0;
  sigwait(&signals, &sig);
  return sig;
}

}  // namespace

void addRunCommands(Cli& cli) {
  auto config = std::make_shared<std::string>("ferry.yaml");
  auto* run = cli.app.add_subcommand("run", "Run the flows: webhook server, pollers and workers");
  run->add_option("--config,-c", *config, "The config file")->capture_default_str();
  run->callback([&cli, config] {
    // Signals are handled by sigwait in this thread only; block them before threads start.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    auto rt = RuntimeSetup::open(*config, cli);
    if (!rt) {
      return;  // exit code and errors already given
    }
    if (!rt->loadFlows(cli)) {
      return;
    }
    rt->engine->start();
    sync::Scheduler syncScheduler(*rt->engine);  // `schedule:` of the flows (docs/sync.md)
    syncScheduler.start();
    auto alerts = startAlerts(*rt);  // `alerts:` of ferry.yaml (docs/alerts.md)
    log::write(sdk::LogLevel::Info, "ferry is running.",
               {{"listen", rt->config.bind + ":" + std::to_string(rt->engine->port())},
                {"flows", rt->engine->flows().size()},
                {"worker", rt->engine->identity()},
                {"store", store::redactStoreUrl(rt->config.storeUrl)}});
    // Each line goes out in one write: the log threads write to stderr too, and a line cut in
    // two by one of theirs would hide the port from whoever reads it.
    sayLine("ferry: listening on " + rt->config.bind + ":" + std::to_string(rt->engine->port()) +
            " with " + std::to_string(rt->engine->flows().size()) + " flow(s)\n");
    for (;;) {
      const int sig = waitForSignal();
      if (sig != SIGHUP) {
        log::write(sdk::LogLevel::Info, "Stopping: draining work.", {{"signal", sig}});
        alerts.reset();
        syncScheduler.stop();
        rt->engine->stop();
        return;
      }
      // The server and the workers keep running: the new flows and credentials are swapped in
      // under them, or, when the new config is invalid, the old ones stay.
      log::write(sdk::LogLevel::Info, "Reloading flows and credentials.", {{"signal", sig}});
      const auto reloaded = rt->engine->reload();
      if (reloaded.config) {
        reloadAlerts(*rt, *reloaded.config, alerts);
        sayLine("ferry: reloaded " + std::to_string(rt->engine->flows().size()) + " flow(s)\n");
      } else {
        sayLine("ferry: reload refused; the previous flows keep running:\n" +
                flow::formatText(reloaded.diagnostics));
      }
    }
  });
}

}  // namespace ferry::core::cli

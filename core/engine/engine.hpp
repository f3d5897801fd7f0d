#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog.hpp"
#include "engine/budget.hpp"
#include "engine/lease_renewer.hpp"
#include "engine/runtime_config.hpp"
#include "flow/flow.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "metrics/metrics.hpp"
#include "secrets/credentials.hpp"
#include "store/store.hpp"

namespace ferry::core::engine {

// One flow as the runtime runs it: parsed, validated, and bound to its trigger.
struct LoadedFlow {
  flow::Flow flow;
  std::string hash;             // sha256 of the file's bytes: the version that ran
  const sdk::OperationSpec* triggerSpec = nullptr;
  sdk::Trigger* trigger = nullptr;
  std::string triggerPlugin;
  std::string targetPlugin;     // the plugin the flow's steps write to (for correlations)
  sdk::Json filters;            // the trigger's `with:`, evaluated once
};

// Everything the runtime keeps per configured connection.
struct ConnectionRuntime {
  sdk::Connection connection;
  std::unique_ptr<secrets::ConnectionSecrets> secrets;
  std::unique_ptr<sdk::State> state;
  long rateLimit = 100;
  std::chrono::milliseconds rateInterval{10000};
  std::string bucket;
};

// One generation of loaded flows. A reload builds a new set and swaps it in whole; workers and
// webhook requests hold the set they started with until they finish.
struct FlowSet {
  std::vector<std::unique_ptr<LoadedFlow>> flows;
  std::map<std::string, LoadedFlow*, std::less<>> byRoute;
  std::map<std::string, LoadedFlow*, std::less<>> byId;
};

// The runtime: intake (webhooks, pollers), workers, and everything they share. Built by
// `ferry run`, `ferry demo` and the end-to-end tests. Thread-safe after start().
class Engine {
 public:
  Engine(RuntimeConfig config, const catalog::Catalog& catalog, store::Store& store,
         secrets::CredentialsFile* credentials);
  ~Engine();

  // Parses and validates every flow of the config. Returns the diagnostics; the engine is usable
  // only when there are none.
  std::vector<flow::Diagnostic> loadFlows();
  // Registers webhooks with the services (idempotent) and starts the server, the workers and
  // the pollers.
  void start();
  // Stops taking events, lets in-flight steps finish (or their leases expire), joins threads.
  void stop();
  // SIGHUP: re-reads the config file, its flows and the credentials, and swaps them in under
  // the running server and workers (nothing stops; webhooks keep being answered and stored).
  // Webhooks of added or changed flows are registered, those of removed flows removed. When
  // the config or a flow is invalid, nothing changes: the old flows keep running, every
  // problem is logged with its place and hint, and the diagnostics are returned. A reload
  // that was taken hands back the config it read (alerts and restart-only settings included),
  // so that the caller acts on the same reading rather than reading the file again.
  // Defined in reload.cpp.
  struct Reloaded {
    std::vector<flow::Diagnostic> diagnostics;  // empty when the reload was taken
    std::optional<RuntimeConfig> config;        // set exactly when it was taken
  };
  Reloaded reload();

  // The webhook route of one flow: verifies, parses and durably enqueues the request's events
  // before answering 2xx. Public for tests.
  http::Reply receive(const std::string& route, const sdk::WebhookRequest& request);
  // Claims and processes at most one event. Returns false when nothing was claimable.
  bool processOne(const std::string& workerId);
  // Runs one poll of a polling flow and commits its cursor with its events.
  void pollOnce(const LoadedFlow& flow);

  // For sync cycles (core/sync): a Context for one configured connection whose HTTP calls are
  // paced by the connection's rate budget like a step's, the connection's limits, the store and
  // the catalog. allowCallsBeforeStart() lets a process that never start()s (`ferry sync`) wait
  // for its budget instead of failing the call as "stopping".
  std::unique_ptr<sdk::Context> callContext(const std::string& connection);
  std::shared_ptr<const ConnectionRuntime> connectionRuntime(const std::string& name) {
    return connection(name);
  }
  store::Store& store() { return store_; }
  const catalog::Catalog& catalog() const { return catalog_; }
  void allowCallsBeforeStart() { callsBeforeStart_ = true; }

  unsigned short port() const;
  metrics::Registry& metrics() { return metrics_; }
  // The flows in force (the current set; a reload replaces it).
  const std::vector<std::unique_ptr<LoadedFlow>>& flows() const { return flowSet()->flows; }
  std::shared_ptr<const FlowSet> flowSet() const;
  // This process's worker identity (engine/worker_identity.hpp); set by start().
  const std::string& identity() const { return identity_; }
  std::string webhookUrl(const LoadedFlow& flow) const;

 private:
  class CallContext;
  class PacedHttp;
  struct StepFailure;

  std::shared_ptr<ConnectionRuntime> connection(const std::string& name);
  // Parses and validates the flows `config` names (against its connections).
  std::shared_ptr<FlowSet> buildFlows(const RuntimeConfig& config,
                                      std::vector<flow::Diagnostic>& diagnostics);
  // Registers a webhook flow's URL with its service, with a few retries.
  void subscribeFlow(const LoadedFlow& flow);
  // Removes a webhook flow's registration (a reload dropped the flow); failures are logged.
  void unsubscribeFlow(const LoadedFlow& flow);
  // Moves a claimed event to the dead-letter queue, counted in ferry_events_dead_total first
  // (whoever sees it settled in the store sees it in /metrics).
  void deadLetter(const store::Lease& lease, const std::string& flowId, const std::string& reason,
                  const sdk::Json& request, const sdk::Json& response);
  void runStep(const LoadedFlow& lf, const flow::Step& step, const store::Claimed& claimed,
               store::RunId run, sdk::Json& outputs);
  void workerLoop(std::string workerId);
  void pollerLoop();
  void refreshGauges();
  // Remembers a store failure that means "cannot take events now" (disk full, read-only,
  // database unreachable): /readyz answers 503 for kStoreFaultWindow after the last one.
  void noteStoreFault(const std::exception& e);
  std::optional<std::string> recentStoreFault() const;

  RuntimeConfig config_;
  const catalog::Catalog& catalog_;
  store::Store& store_;
  secrets::CredentialsFile* credentials_;
  http::Client http_;
  Budgets budgets_;
  metrics::Registry metrics_;
  mutable std::mutex flowsMutex_;
  std::shared_ptr<const FlowSet> flows_ = std::make_shared<FlowSet>();
  std::mutex reloadMutex_;
  std::string identity_;
  std::map<std::string, std::shared_ptr<ConnectionRuntime>, std::less<>> connections_;
  std::mutex connectionsMutex_;
  std::unique_ptr<http::Server> server_;
  std::vector<std::thread> threads_;
  std::atomic<bool> running_{false};
  std::atomic<bool> callsBeforeStart_{false};
  std::atomic<store::TimeUs> lastStoreFaultUs_{0};
  mutable std::mutex storeFaultMutex_;
  std::string storeFault_;
  std::mutex rngMutex_;
  std::mt19937_64 rng_{std::random_device{}()};
  // Renews the leases of runs in progress (lease_renewer.hpp); see processOne.
  std::unique_ptr<LeaseRenewer> renewer_ = makeRenewer();
  std::unique_ptr<LeaseRenewer> makeRenewer();  // lease_renewer.cpp
};

}  // namespace ferry::core::engine

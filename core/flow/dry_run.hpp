#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "catalog/catalog.hpp"
#include "ferry/sdk/http.hpp"
#include "flow/config.hpp"
#include "flow/flow.hpp"

namespace ferry::core::flow {

// An in-memory correlation table, for dry runs and tests. Thread-safe.
class MemoryCorrelations : public CorrelationLookup {
 public:
  std::optional<std::string> find(std::string_view kind, std::string_view sourceId) override;
  void put(const std::string& kind, const std::string& sourceId, const std::string& targetId);

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::string> ids_;
};

struct DryRunOptions {
  Json event;  // the trigger's event payload
  std::chrono::system_clock::time_point now;
  MemoryCorrelations* correlations = nullptr;  // pre-filled ids; updated by `correlate:`
  // Live mode (`ferry flow test --against sandbox`): requests are really sent with this
  // client, and each connection's real secrets come from `secrets`. Null: nothing is sent.
  sdk::HttpClient* live = nullptr;
  std::function<sdk::Secrets*(const std::string& connection)> secrets;
};

struct Exchange {
  sdk::HttpRequest request;    // secrets masked as ***
  sdk::HttpResponse response;  // synthetic, or the service's answer (masked) in live mode
  bool live = false;
};

struct StepRun {
  std::string id;
  std::string use;
  std::string connection;
  bool ran = false;          // false when `when:` was false
  std::optional<Json> when;  // the condition's value, when there is one
  Json inputs;
  std::vector<Exchange> exchanges;
  Json output;
  std::string error;  // the action's or the mapping's failure; the run stops there
  Json correlation;   // {kind, source, target} when the step recorded one
};

struct DryRun {
  std::string flow;
  std::string trigger;
  std::vector<std::string> eventIssues;  // the event does not match the trigger's schema
  std::vector<StepRun> steps;
};

// Runs a validated flow against one event without sending anything (unless options.live is
// set: then every request is sent, and the real answers are recorded): each step's inputs are
// evaluated and the real plugin action runs with an HttpClient that records its requests and
// answers each with a synthetic response built from the operation's first example output
// (201 for POST creates and upserts, else 200), so later steps see plausible outputs. Secrets
// are fake values, masked as *** in everything returned. Connections come from `config` when it
// defines them (else one is made up from the plugin's id).
DryRun dryRun(const Flow& flow, const catalog::Catalog& catalog, const Config* config,
              const DryRunOptions& options);

std::string formatDryRun(const DryRun& run);
Json toJson(const DryRun& run);

}  // namespace ferry::core::flow

#pragma once

// Sync cycles (docs/sync.md): reconcile a flow's target with its source. A cycle lists the
// source records (changed since the last cycle, or all), compares each with the target through
// the correlation table and the target's get / duplicate lookup / search, and queues a repair
// event for every record that drifted, through the same store inbox (dedupe, per-record order,
// coalescing), rate budget and idempotent steps as webhook events. A dry run reports the drift
// and writes nothing.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "ferry/sdk/json.hpp"
#include "metrics/metrics.hpp"
#include "store/store.hpp"

namespace ferry::core::sync {

using sdk::Json;

// One record that differs between source and target.
struct Drift {
  enum class Kind { Missing, Different, Orphaned };
  Kind kind = Kind::Missing;
  std::string sourceId;  // "" for none
  std::string targetId;  // "" when the target has no record
  std::string label;     // e-mail or name, for people reading the report
  std::string reason;    // e.g. "deleted in ghl", "never synced", "gone from umsatzio"
  Json fields = Json::object();  // Different: {field: {"source": wanted, "target": found}}
};
const char* toString(Drift::Kind kind);  // "missing", "different", "orphaned"

// What a running cycle reports now and then (`ferry sync` prints it on stderr).
struct Progress {
  std::string phase;  // "list", "compare", "queue"
  long done = 0;
  long total = 0;
  long drift = 0;
  std::chrono::seconds eta{0};  // what the target's rate budget share allows for the rest
};

struct Options {
  bool dryRun = false;
  bool full = false;          // list every source record, not those changed since the last cycle
  double budgetShare = 0.3;   // at most this share of the target connection's rate budget
  std::function<void(const Progress&)> progress;  // may be empty
  std::function<bool()> cancelled;                // polled between records; may be empty
};

struct Report {
  std::string flow;
  bool full = false;
  bool dryRun = false;
  std::string reason;  // why the cycle was full ("--full", "first cycle", "schedule") or ""
  std::string startedAt;
  double seconds = 0;
  long sourceRecords = 0;  // listed in the source
  long targetRecords = -1; // records in the target (full cycles; -1 = not listed)
  long compared = 0;
  long inSync = 0;
  long skipped = 0;  // the flow's `when:` leaves them out (e.g. a contact with no e-mail or phone)
  std::vector<Drift> drift;
  long queued = 0;         // repair events enqueued
  long alreadyQueued = 0;  // repairs whose dedupe key was already in the inbox
  long targetCalls = 0;    // calls the comparison made to the target
  long sourceCalls = 0;
  // The target's budget as this cycle may use it, and what it implies for the repairs.
  double callsPerSecond = 0;
  long callsPerRepair = 0;
  std::chrono::seconds repairEta{0};

  long count(Drift::Kind kind) const;
  long driftTotal() const { return static_cast<long>(drift.size()); }
  Json toJson() const;
  std::string toText() const;
};

// Why `flow` cannot be synced, or "" when it can: its trigger must list Umsatz-io contacts and
// one of its steps must write GHL contacts with `correlate: {kind: contact}`.
std::string unsyncable(const engine::LoadedFlow& flow);

// The store key under which a flow's sync cursor lives (the poll-cursor table): {"source":
// <the source lister's cursor>, "last": <summary of the last committed cycle>}.
std::string cursorKey(const std::string& flowId);

// The summary of the last committed (not dry-run) cycle of a flow, if any: {at, full,
// source_records, missing, different, orphaned, drift, queued}.
std::optional<Json> lastCycle(store::Store& store, const std::string& flowId);

// Sets ferry_sync_drift{flow} and friends from a summary (the scheduler does it for every
// flow, so cycles run by `ferry sync` show up in `ferry run`'s /metrics too).
void publish(metrics::Registry& metrics, const std::string& flowId, const Json& summary);

// One cycle of one flow. Uses the engine's connections, budgets, store and catalog; the engine
// need not be started. Throws std::runtime_error (with a sentence) when the source or the
// target cannot be read; nothing is committed then.
class Cycle {
 public:
  Cycle(engine::Engine& engine, const engine::LoadedFlow& flow);
  Report run(const Options& options);

 private:
  engine::Engine& engine_;
  const engine::LoadedFlow& flow_;
};

}  // namespace ferry::core::sync

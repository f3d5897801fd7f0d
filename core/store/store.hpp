#pragma once

// The durable store under the runtime: inbox (with dedupe, leases and per-record order), per-step
// journal, correlation table, poll cursors, shared rate budgets, dead letters, run history and
// plugin state. One interface, two engines (SQLite: one WAL file, the default; PostgreSQL: several
// `ferry run` processes on several machines share one database). Both engines pass the same
// conformance suite (tests/store/). docs/store.md describes the schema and the semantics.
//
// Times are epoch microseconds (TimeUs) everywhere, stored as BIGINT. JSON values are stored as
// given: callers mask secrets before they hand a request or response to the store.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <ferry/sdk/context.hpp>
#include <nlohmann/json.hpp>

namespace ferry::core::store {

using Json = nlohmann::json;
using TimeUs = std::int64_t;  // microseconds since the Unix epoch, UTC
using EventId = std::int64_t;
using RunId = std::int64_t;

// The current time as epoch microseconds (the default Options::clock).
TimeUs systemNowUs();

// Why a store operation failed. The runtime maps Full, ReadOnly and Unavailable to "stop taking
// events" (webhooks answered 503) and retries Busy.
enum class ErrorKind {
  InvalidUrl,    // Store::open got a URL it cannot parse; the message has the place and a hint
  Invalid,       // a caller passed a bad value (empty id, unknown event, ...)
  Unavailable,   // cannot open the file / reach the server, or the connection broke
  Full,          // disk or database full (SQLITE_FULL, PostgreSQL 53100)
  ReadOnly,      // the database or its directory is read-only (SQLITE_READONLY, 25006)
  Busy,          // lock timeout, serialization failure, pool exhausted: try again later
  SchemaTooNew,  // the database was migrated by a newer ferry than this one
  LeaseLost,     // the event's lease expired and another worker took it over
  NotFound,      // the named event / dead letter / run does not exist
  Internal,      // anything else (a bug or an unexpected database answer)
};

const char* toString(ErrorKind kind);

class StoreError : public std::runtime_error {
 public:
  StoreError(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// ---- inbox ----------------------------------------------------------------------------------

enum class EventStatus { Queued, Running, Done, Dead, Superseded, Discarded };
const char* toString(EventStatus status);

// An event to enqueue. (source, sourceEventId) is the dedupe key: a second enqueue with the same
// pair returns the first event's id and queues nothing.
struct NewEvent {
  std::string source;         // who delivered it, e.g. "umsatzio.webhook", "umsatzio.poll"
  std::string sourceEventId;  // the sender's event id (or a stable hash of the body)
  std::string flowId;
  std::string triggerOp;  // e.g. "umsatzio.contact.created"
  std::string recordKey;  // ordering key, e.g. "umsatzio:contact:123"; "" = no ordering
  Json payload = Json::object();
  std::string rawBody;     // bytes as received (for audit / signature re-checks)
  TimeUs receivedAt = 0;   // 0 = now
  TimeUs availableAt = 0;  // 0 = receivedAt
};

struct Event {
  EventId id = 0;
  std::string source;
  std::string sourceEventId;
  std::string flowId;
  std::string triggerOp;
  std::string recordKey;
  Json payload;
  std::string rawBody;
  TimeUs receivedAt = 0;
  TimeUs availableAt = 0;
  int attempts = 0;  // claims so far (this claim included for a claimed event)
  // Runs of it left unfinished: taken over after its lease expired, or released by a restarted
  // process (releaseLeases). Reset, like attempts, by a dead-letter replay.
  int interruptions = 0;
  EventStatus status = EventStatus::Queued;
  std::string leaseOwner;  // worker id while Running
  TimeUs leaseUntil = 0;
  std::string lastError;           // the reason given to the last retryLater / deadLetter
  std::vector<EventId> coalesced;  // set by claim(coalesce): the older events this one replaced
};

struct EnqueueResult {
  EventId id = 0;
  bool created = false;  // false: a duplicate of an existing event (id is the existing one)
};

// A claimed event's lease. Every call that settles the event checks that the lease is still this
// one (same worker, same attempt); a lease taken over by another worker throws LeaseLost.
struct Lease {
  EventId eventId = 0;
  std::string workerId;
  int attempt = 0;
  TimeUs until = 0;
};

struct Claimed {
  Event event;
  Lease lease;
};

struct ClaimOptions {
  int limit = 1;
  std::chrono::microseconds leaseDuration = std::chrono::seconds(60);
  // Coalescing: when the claimed event is followed (same flow, record key and trigger op, with
  // nothing else of that record key in between) by newer queued events that no worker has
  // touched yet, claim returns the NEWEST of them and marks the older ones Superseded. Only
  // events with no journal entry take part (an event with a recorded intent is never dropped).
  bool coalesce = false;
  // When set, only events whose trigger op it accepts coalesce: triggers whose events are
  // snapshots of one record (a newer one carries everything an older one did). Events that are
  // distinct records sharing an ordering key (notes or calls of one contact) must never merge.
  // Unset: every trigger op may coalesce.
  std::function<bool(const std::string& triggerOp)> coalesceTrigger = nullptr;
};

struct QueueStats {
  std::int64_t queued = 0;    // waiting (including those waiting for a retry time)
  std::int64_t running = 0;   // claimed with a lease (live or expired)
  std::int64_t dead = 0;      // dead letters not yet replayed or discarded
  TimeUs oldestQueuedAt = 0;  // received_at of the oldest unfinished event; 0 when none
};

// ---- journal --------------------------------------------------------------------------------

enum class StepStatus { Intent, Done, Failed, Skipped };
const char* toString(StepStatus status);

struct JournalEntry {
  EventId eventId = 0;
  std::string stepId;
  std::string idempotencyKey;
  StepStatus status = StepStatus::Intent;
  int attempts = 0;
  Json request;
  Json output;
  Json response;
  TimeUs startedAt = 0;
  TimeUs finishedAt = 0;
};

// ---- correlation ------------------------------------------------------------------------------

struct Correlation {
  std::string kind;          // e.g. "contact"
  std::string sourceSystem;  // e.g. "umsatzio"
  std::string sourceId;
  std::string targetSystem;  // e.g. "ghl"
  std::string targetId;
};

struct CorrelateResult {
  std::string targetId;  // the mapping now stored (the winner's when a race was lost)
  bool created = false;  // this call inserted the mapping
};

// ---- rate budgets -----------------------------------------------------------------------------

struct TokenGrant {
  bool granted = false;
  std::chrono::microseconds wait{0};  // when denied: how long until a token may be available
  std::int64_t remaining = 0;         // tokens left in the current window after this call
};

// One budget row, for /metrics ("rate budget left per connection").
struct BudgetState {
  std::string connection;
  std::string bucket;
  TimeUs windowStart = 0;
  std::int64_t used = 0;              // tokens granted in the window starting at windowStart
  std::int64_t remoteRemaining = -1;  // the server's last count; -1 = never reported
  TimeUs remoteResetAt = 0;
};

// ---- dead letters ------------------------------------------------------------------------------

struct DeadLetter {
  EventId eventId = 0;
  std::string flowId;
  std::string triggerOp;
  std::string recordKey;
  std::string reason;
  Json request;
  Json response;
  int attempts = 0;
  TimeUs deadAt = 0;
};

// A dead letter replayed with Store::replayDeadLetterGuarded (replay_guard.cpp). Snapshot events
// (a contact's whole version) must never be replayed over a newer version of their record:
// replaying the older one would write older data last.
struct ReplayOptions {
  // Replay even when a newer event of the record exists: the event runs as it was (today's
  // replayDeadLetter), so it may write older data over newer. Recorded in the run history.
  bool force = false;
  // Which trigger ops deliver snapshots of one record (OperationSpec::coalesce). Only dead
  // letters of such a trigger can be superseded. Unset: none is (every replay queues).
  std::function<bool(const std::string& triggerOp)> snapshotTrigger = nullptr;
  // Who asked, for the run history's worker column.
  std::string actor = "ferry dlq replay";
};

struct ReplayResult {
  EventId eventId = 0;
  // true: queued again under its id (as replayDeadLetter); false: settled as Superseded.
  bool queued = false;
  // The newest event of the same flow, record key and trigger that is newer than the dead
  // letter and done, queued, running or itself dead; 0 when there is none (or not a snapshot).
  EventId newerEventId = 0;
  EventStatus newerStatus = EventStatus::Done;  // that event's status at the replay
  bool forced = false;  // queued only because options.force overrode a newer event
  std::string message;  // one sentence for the operator (CLI output, run history)
};

// The durable counts of guarded replays (all processes), for /metrics.
struct ReplayCounts {
  std::int64_t superseded = 0;  // replays settled as superseded by a newer event
  std::int64_t forced = 0;      // replays forced over a newer event
};

// ---- run history -------------------------------------------------------------------------------

// One run per processing attempt (per claim) of an event; `attempt` is the event's attempt.
struct RunStart {
  EventId eventId = 0;
  std::string flowId;
  std::string flowVersion;
  std::string flowHash;  // content hash of the flow file that ran
  std::string workerId;
  int attempt = 0;
  TimeUs startedAt = 0;  // 0 = now
};

struct StepRecord {
  std::string stepId;
  std::string status;  // "done", "failed", "skipped", "retry", ...
  int attempts = 0;
  TimeUs startedAt = 0;
  TimeUs finishedAt = 0;
  Json request;   // masked by the caller
  Json response;  // masked by the caller
  std::string error;
};

// A step that finished, settled by Store::finishStep in one write transaction.
struct StepFinish {
  EventId eventId = 0;
  std::string stepId;
  // Also begin the journal entry (journalBegin with `request`, no idempotency key) first: for a
  // step that made no call (skipped by its `when:`, or an update suppressed as a no-op).
  bool begin = false;
  Json request = Json::object();
  StepStatus status = StepStatus::Done;
  Json output;    // the journal's output
  Json response;  // the journal's record of the calls
  std::optional<Correlation> correlation;  // the id pair the step records (replacing a target)
  struct StateWrite {
    std::string plugin, connection, key, value;
  };
  std::optional<StateWrite> state;  // a plugin-state write (the engine's no-op hash)
  RunId run = 0;
  StepRecord record;  // the step's history row
};

struct Run {
  RunId id = 0;
  EventId eventId = 0;
  std::string flowId;
  std::string flowVersion;
  std::string flowHash;
  std::string workerId;
  int attempt = 0;
  std::string status;  // "running", then what finishRun was given
  std::string error;
  TimeUs startedAt = 0;
  TimeUs finishedAt = 0;
  std::vector<StepRecord> steps;  // filled by getRun, empty in listRuns
};

struct RunFilter {
  std::string flowId;   // "" = any
  EventId eventId = 0;  // 0 = any
  std::string status;   // "" = any
  RunId beforeId = 0;   // paging: runs with a smaller id; 0 = from the newest
  int limit = 50;
};

// ---- flow versions (the mapping changelog) ----------------------------------------------------

// One flow file's content as the runtime loaded it, kept once per (flowId, hash).
struct FlowVersion {
  std::string flowId;
  std::string hash;     // sha256 of content: the runs' flow_hash
  std::string version;  // the flow's `version:`
  std::string path;     // the file it was loaded from
  std::string content;  // the file's bytes
  TimeUs recordedAt = 0;  // when it was first loaded
};

// One version of a flow in its history: the runs that ran it.
struct FlowVersionUse {
  std::string hash;
  std::string version;
  TimeUs recordedAt = 0;  // first loaded; 0 when only runs know the version
  std::int64_t runs = 0;
  TimeUs firstRunAt = 0;  // 0 when it never ran
  TimeUs lastRunAt = 0;
  bool hasContent = false;  // false for versions that ran before flow_versions existed
};

// ---- the store ------------------------------------------------------------------------------

struct Options {
  // The clock used for leases, queue ages and default timestamps. Tests move it by hand.
  std::function<TimeUs()> clock = systemNowUs;
  // Migrate up to this schema version (0 = the newest this binary knows). Tests use it to make
  // an "old" database.
  int migrateTo = 0;
  // PostgreSQL: sessions in the pool.
  int poolSize = 8;
  // SQLite: how long a writer waits for the file lock before Busy. PostgreSQL: how long a call
  // waits for a free pooled connection before Busy.
  std::chrono::milliseconds busyTimeout = std::chrono::seconds(10);
};

// All methods are thread-safe. SQLite: one connection per Store, used by one thread at a time;
// concurrent write calls of one Store share one transaction and one fsync (group commit,
// sqlite_store.hpp), each still returning only once committed; writers of several Stores
// serialise on the file lock. PostgreSQL: a session pool of Options::poolSize connections.
// Every method throws StoreError (never a Poco exception).
class Store {
 public:
  virtual ~Store() = default;

  // Opens (creating and migrating if needed) the store named by url:
  //   sqlite:///abs/path.db, sqlite:relative/path.db, or a bare path   -> SQLite (WAL)
  //   postgresql://user[:password]@host[:port]/db[?key=value&...]       -> PostgreSQL
  //   postgres:host=... port=... dbname=...  (libpq key=value form)     -> PostgreSQL
  // Throws InvalidUrl, Unavailable, ReadOnly, Full or SchemaTooNew.
  static std::unique_ptr<Store> open(const std::string& url, Options options = {});

  virtual std::string engine() const = 0;  // "sqlite" or "postgresql"
  virtual int schemaVersion() = 0;         // the version of the open database
  static int latestSchemaVersion();        // the newest version this binary knows

  // Inbox. Durable when it returns (the transaction is committed).
  virtual EnqueueResult enqueue(const NewEvent& event) = 0;
  virtual std::optional<Event> getEvent(EventId id) = 0;

  // Claims up to options.limit events, oldest first, each with a lease for workerId. An event is
  // claimable when it is Queued and available (available_at <= now), or Running with an expired
  // lease (takeover), and no other event of its record key is earlier and unfinished (Queued or
  // Running) or holds a live lease. So the events of one record key run one at a time in id
  // order, across all workers. Increments attempts.
  virtual std::vector<Claimed> claim(const std::string& workerId, const ClaimOptions& options) = 0;
  // Extends the lease to now + duration. Throws LeaseLost when it is no longer ours.
  virtual Lease renew(const Lease& lease, std::chrono::microseconds duration) = 0;
  // Settles a claimed event. Each throws LeaseLost when the lease is no longer ours.
  virtual void complete(const Lease& lease) = 0;
  virtual void retryLater(const Lease& lease, TimeUs availableAt, const std::string& reason) = 0;
  virtual void deadLetter(const Lease& lease, const std::string& reason, const Json& request,
                          const Json& response) = 0;
  virtual QueueStats queueStats() = 0;
  // Hands back at once the events claimed by workers whose id starts with `ownerPrefix`: they
  // become Queued and available now (attempts kept), and their unfinished runs are marked
  // "interrupted". For a restarted process that knows its previous incarnation is gone, so its
  // leases need not wait out their expiry. Other workers' leases are untouched. Returns how
  // many events were released. Throws Invalid for an empty prefix.
  virtual std::int64_t releaseLeases(const std::string& ownerPrefix) = 0;
  // Deletes settled events (done, superseded, discarded) received before `before`, with their
  // journal. Their dedupe keys go with them: `before` is the dedupe window. Returns the count.
  virtual std::int64_t purge(TimeUs before) = 0;

  // Journal. journalBegin records the intent BEFORE the step's call; on a repeated begin (a
  // retry, a restart or a takeover) it keeps the FIRST idempotency key, records the latest
  // request, counts the attempt and sets the status back to Intent. The returned entry carries
  // the key to use. journalFinish throws NotFound for a step never begun.
  virtual std::optional<JournalEntry> journalGet(EventId eventId, const std::string& stepId) = 0;
  virtual std::vector<JournalEntry> journalList(EventId eventId) = 0;
  virtual JournalEntry journalBegin(EventId eventId, const std::string& stepId,
                                    const std::string& idempotencyKey, const Json& request) = 0;
  virtual void journalFinish(EventId eventId, const std::string& stepId, StepStatus status,
                             const Json& output, const Json& response) = 0;

  // Correlation. correlate inserts the mapping unless one exists for (kind, sourceSystem,
  // sourceId, targetSystem); then it returns the existing target (first writer wins). With
  // replace=true it overwrites instead (e.g. the target was deleted and re-created).
  virtual CorrelateResult correlate(const Correlation& mapping, bool replace = false) = 0;
  virtual std::optional<std::string> lookup(const std::string& kind,
                                            const std::string& sourceSystem,
                                            const std::string& sourceId,
                                            const std::string& targetSystem) = 0;
  // Reverse: the source ids mapped to (targetSystem, targetId).
  virtual std::vector<Correlation> reverseLookup(const std::string& kind,
                                                 const std::string& targetSystem,
                                                 const std::string& targetId) = 0;
  virtual void uncorrelate(const std::string& kind, const std::string& sourceSystem,
                           const std::string& sourceId, const std::string& targetSystem) = 0;

  // Poll cursors. commitPoll stores the cursor AND enqueues the events in one transaction: on
  // any failure neither is committed. Returns one result per event (duplicates included).
  virtual std::optional<Json> pollCursor(const std::string& triggerKey) = 0;
  virtual std::vector<EnqueueResult> commitPoll(const std::string& triggerKey, const Json& cursor,
                                                const std::vector<NewEvent>& events) = 0;
  // commitPoll guarded by the cursor the poll started from: commits only while the stored
  // cursor still equals `from` (null: no cursor stored yet), else commits nothing and returns
  // nullopt. Several workers poll the same trigger; a poll that read a cursor which another
  // worker has advanced since may hold an OLDER version of a record than the one that worker
  // queued, and queued after it (so under a later id) it would run last and win. Refused, its
  // poll is simply repeated from the newer cursor. Atomic with the check (row lock).
  virtual std::optional<std::vector<EnqueueResult>> commitPollFrom(
      const std::string& triggerKey, const Json& from, const Json& cursor,
      const std::vector<NewEvent>& events) = 0;

  // Rate budgets shared by all workers: a fixed window of `interval` per (connection, bucket)
  // with capacityPerInterval tokens, updated atomically. recordLimits feeds the server's view
  // (remaining calls until resetAt) from response headers; takeToken denies while it says 0.
  virtual TokenGrant takeToken(const std::string& connection, const std::string& bucket, TimeUs now,
                               std::int64_t capacityPerInterval,
                               std::chrono::microseconds interval) = 0;
  virtual void recordLimits(const std::string& connection, const std::string& bucket,
                            std::int64_t remaining, TimeUs resetAt) = 0;
  virtual std::vector<BudgetState> rateBudgets() = 0;

  // Dead letters. replay re-queues the event under its ORIGINAL id (its journal, and so its
  // idempotency keys, are kept) with attempts reset; discard drops the dead letter for good.
  virtual std::vector<DeadLetter> listDeadLetters(int limit = 100, EventId afterId = 0) = 0;
  virtual std::optional<DeadLetter> getDeadLetter(EventId eventId) = 0;
  virtual void replayDeadLetter(EventId eventId) = 0;
  virtual void discardDeadLetter(EventId eventId) = 0;
  // Replays a dead letter unless it is stale. It is stale when its trigger is a snapshot
  // (options.snapshotTrigger), it has a record key, and a NEWER event (higher id) of the same
  // flow, record key and trigger is done, queued, running or dead: that event carries a newer
  // version of the record, so running the old one could only write older data (after a done
  // one, or after a running one, whose live lease it would wait for) or repeat work the newer
  // one does anyway (queued; dead: replay that one instead). A stale dead letter is settled as
  // Superseded (superseded_by = the newer event), its dead letter removed, and a run with
  // status "superseded" naming the newer event is written to the history. Otherwise, or with
  // options.force, it is queued exactly as replayDeadLetter does (a forced one over a newer
  // event also gets a "forced" run in the history). Atomic against enqueues and claims of the
  // record. Throws NotFound when there is no such dead letter.
  virtual ReplayResult replayDeadLetterGuarded(EventId eventId, const ReplayOptions& options) = 0;
  virtual ReplayCounts replayCounts() = 0;

  // Run history.
  virtual RunId beginRun(const RunStart& run) = 0;
  // Inserts or replaces the step row (run, stepId).
  virtual void recordStep(RunId run, const StepRecord& step) = 0;
  virtual void finishRun(RunId run, const std::string& status, const std::string& error,
                         TimeUs finishedAt = 0) = 0;
  // A finished step in one write transaction (one commit instead of up to five): the same as
  // journalBegin when step.begin is set, journalFinish, correlate (replace) when
  // step.correlation is set, statePut when step.state is set, and recordStep, one after the
  // other; all or nothing.
  virtual void finishStep(const StepFinish& step) = 0;
  // A finished run and its event in one write transaction: finishRun(run, status, error) and
  // complete(lease). Throws LeaseLost, changing nothing, when the lease is gone.
  virtual void finishEvent(RunId run, const Lease& lease, const std::string& status,
                           const std::string& error) = 0;
  virtual std::optional<Run> getRun(RunId run) = 0;
  virtual std::vector<Run> listRuns(const RunFilter& filter) = 0;

  // Flow versions. recordFlowVersion keeps the first record of (flowId, hash) and ignores
  // repeats. flowHistory lists the versions that were loaded or ran, newest first (by last run,
  // then by first load).
  virtual void recordFlowVersion(const FlowVersion& version) = 0;
  virtual std::optional<FlowVersion> getFlowVersion(const std::string& flowId,
                                                    const std::string& hash) = 0;
  virtual std::vector<FlowVersionUse> flowHistory(const std::string& flowId) = 0;

  // Plugin state (key-value per plugin and connection), the backing of sdk::State.
  virtual std::optional<std::string> stateGet(const std::string& plugin,
                                              const std::string& connection,
                                              const std::string& key) = 0;
  virtual void statePut(const std::string& plugin, const std::string& connection,
                        const std::string& key, const std::string& value) = 0;
  virtual void stateErase(const std::string& plugin, const std::string& connection,
                          const std::string& key) = 0;
  // An sdk::State view of one plugin+connection; it must not outlive this Store.
  std::unique_ptr<sdk::State> stateFor(const std::string& plugin, const std::string& connection);
};

// What Store::open understood from a URL (exposed for tests and `ferry` diagnostics).
struct StoreUrl {
  std::string engine;      // "sqlite" or "postgresql"
  std::string path;        // SQLite file
  std::string connection;  // PostgreSQL: Poco/libpq key=value string, no spaces inside values
};
// Throws StoreError(InvalidUrl) with the place and a hint.
StoreUrl parseStoreUrl(const std::string& url);
// The url with any password replaced by "***", for logs and errors.
std::string redactStoreUrl(const std::string& url);

}  // namespace ferry::core::store

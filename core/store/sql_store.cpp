#include "store/sql_store.hpp"

#include <algorithm>
#include <limits>

namespace ferry::core::store {

using Poco::Data::Session;
using I64 = Poco::Int64;

namespace {

std::string dump(const Json& j) { return j.dump(); }

Json parse(const std::string& text) {
  if (text.empty()) {
    return Json();
  }
  Json j = Json::parse(text, nullptr, false);
  return j.is_discarded() ? Json(text) : j;
}


// The inverse of toString over every value of a status enum; Internal on an unknown text.
template <class Status, std::size_t N>
Status parseStatus(const std::string& s, const Status (&all)[N], const char* what) {
  for (const Status status : all) {
    if (s == toString(status)) {
      return status;
    }
  }
  throw StoreError(ErrorKind::Internal, "unknown " + std::string(what) + " '" + s + "'");
}

StepStatus stepStatus(const std::string& s) {
  static constexpr StepStatus kAll[] = {StepStatus::Intent, StepStatus::Done, StepStatus::Failed,
                                        StepStatus::Skipped};
  return parseStatus(s, kAll, "step status in the journal table");
}

void require(bool ok, const std::string& what) {
  if (!ok) {
    throw StoreError(ErrorKind::Invalid, what);
  }
}

void validate(const NewEvent& e) {
  require(!e.source.empty(), "enqueue: the event has no source (hint: e.g. 'umsatzio.webhook')");
  require(!e.sourceEventId.empty(),
          "enqueue: the event from '" + e.source + "' has no source event id (the dedupe key)");
  require(!e.flowId.empty(), "enqueue: event '" + e.sourceEventId + "' has no flow id");
  require(!e.triggerOp.empty(), "enqueue: event '" + e.sourceEventId + "' has no trigger op");
}

constexpr const char* kEventColumns =
    "id, source, source_event_id, flow_id, trigger_op, record_key, payload, raw_body, "
    "received_at, available_at, attempts, status, lease_owner, lease_until, last_error, "
    "interruptions";

constexpr const char* kJournalColumns =
    "event_id, step_id, idempotency_key, status, attempts, request, output, response, started_at, "
    "finished_at";

const std::string kJournalOfEvent = std::string("SELECT ") + kJournalColumns +
                                   " FROM journal WHERE event_id = $1 ORDER BY started_at, step_id";
const std::string kJournalOfStep = std::string("SELECT ") + kJournalColumns +
                                   " FROM journal WHERE event_id = $1 AND step_id = $2";

std::vector<JournalEntry> journalFrom(const SqlRows& rows) {
  std::vector<JournalEntry> out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out.push_back(JournalEntry{rows.i64(i, 0), rows.text(i, 1), rows.text(i, 2),
                               stepStatus(rows.text(i, 3)), rows.i32(i, 4), parse(rows.text(i, 5)),
                               parse(rows.text(i, 6)), parse(rows.text(i, 7)), rows.i64(i, 8),
                               rows.i64(i, 9)});
  }
  return out;
}

}  // namespace

EventStatus parseEventStatus(const std::string& s) {
  static constexpr EventStatus kAll[] = {EventStatus::Queued,     EventStatus::Running,
                                         EventStatus::Done,       EventStatus::Dead,
                                         EventStatus::Superseded, EventStatus::Discarded};
  return parseStatus(s, kAll, "event status in the inbox table");
}

TimeUs systemNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* toString(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidUrl:
      return "invalid_url";
    case ErrorKind::Invalid:
      return "invalid";
    case ErrorKind::Unavailable:
      return "unavailable";
    case ErrorKind::Full:
      return "full";
    case ErrorKind::ReadOnly:
      return "read_only";
    case ErrorKind::Busy:
      return "busy";
    case ErrorKind::SchemaTooNew:
      return "schema_too_new";
    case ErrorKind::LeaseLost:
      return "lease_lost";
    case ErrorKind::NotFound:
      return "not_found";
    case ErrorKind::Internal:
      return "internal";
  }
  return "internal";
}

const char* toString(EventStatus status) {
  switch (status) {
    case EventStatus::Queued:
      return "queued";
    case EventStatus::Running:
      return "running";
    case EventStatus::Done:
      return "done";
    case EventStatus::Dead:
      return "dead";
    case EventStatus::Superseded:
      return "superseded";
    case EventStatus::Discarded:
      return "discarded";
  }
  return "queued";
}

const char* toString(StepStatus status) {
  switch (status) {
    case StepStatus::Intent:
      return "intent";
    case StepStatus::Done:
      return "done";
    case StepStatus::Failed:
      return "failed";
    case StepStatus::Skipped:
      return "skipped";
  }
  return "intent";
}

int Store::latestSchemaVersion() { return migrations().back().version; }

// ---- schema ---------------------------------------------------------------------------------

int SqlStore::readVersion(Session& s) {
  const SqlRows v = exec(s, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  return v.empty() ? 0 : v.i32(0, 0);
}

int SqlStore::schemaVersion() {
  return transact("schema version", Tx::Read, [&](Session& s) { return readVersion(s); });
}

void SqlStore::migrate() {
  const int latest = latestSchemaVersion();
  const int target = options_.migrateTo > 0 ? std::min(options_.migrateTo, latest) : latest;
  // One transaction, under the migration lock from its first statement: workers starting
  // together on a fresh database would otherwise race even on CREATE TABLE IF NOT EXISTS.
  transact("migrate", Tx::Write, [&](Session& s) {
    lockMigrations(s);
    exec(s,
         "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
         " description TEXT NOT NULL, applied_at BIGINT NOT NULL)");
    int current = readVersion(s);
    if (current > latest) {
      throw StoreError(
          ErrorKind::SchemaTooNew,
          "the database has schema version " + std::to_string(current) +
              " but this ferry knows only up to version " + std::to_string(latest) +
              " (hint: run a newer ferry, or point the store URL at another database)");
    }
    for (const auto& m : migrations()) {
      if (m.version <= current || m.version > target) {
        continue;
      }
      for (std::string sql : m.statements) {
        for (auto [token, value] :
             {std::pair<std::string, std::string>{"{ID}", idColumn()}, {"{BLOB}", blobColumn()}}) {
          for (auto pos = sql.find(token); pos != std::string::npos; pos = sql.find(token)) {
            sql.replace(pos, token.size(), value);
          }
        }
        exec(s, sql);
      }
      exec(s, "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
           {m.version, m.description, nowUs()});
    }
  });
}

// ---- inbox ----------------------------------------------------------------------------------

EnqueueResult SqlStore::insertEvent(Session& s, const NewEvent& e) {
  validate(e);
  lockRecordKey(s, e.recordKey);
  const TimeUs received = e.receivedAt != 0 ? e.receivedAt : nowUs();
  const TimeUs available = e.availableAt != 0 ? e.availableAt : received;
  // RETURNING gives the new id in the same statement; a duplicate returns no row.
  const SqlRows inserted = exec(
      s,
      "INSERT INTO inbox (source, source_event_id, flow_id, trigger_op, record_key, payload,"
      " raw_body, received_at, available_at, attempts, status)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 'queued')"
      " ON CONFLICT (source, source_event_id) DO NOTHING RETURNING id",
      {e.source, e.sourceEventId, e.flowId, e.triggerOp, e.recordKey, dump(e.payload),
       Bytes{e.rawBody}, received, available});
  if (!inserted.empty()) {
    return EnqueueResult{inserted.i64(0, 0), true};
  }
  const SqlRows found = exec(s, "SELECT id FROM inbox WHERE source = $1 AND source_event_id = $2",
                             {e.source, e.sourceEventId});
  if (found.empty()) {
    throw StoreError(ErrorKind::Internal,
                     "enqueue: event '" + e.sourceEventId + "' was neither inserted nor found");
  }
  return EnqueueResult{found.i64(0, 0), false};
}

EnqueueResult SqlStore::enqueue(const NewEvent& event) {
  return transact("enqueue", Tx::Write, [&](Session& s) { return insertEvent(s, event); });
}

std::optional<Event> SqlStore::loadEvent(Session& s, EventId id) {
  static const std::string kSelect =
      std::string("SELECT ") + kEventColumns + " FROM inbox WHERE id = $1";
  const SqlRows r = exec(s, kSelect, {id});
  if (r.empty()) {
    return std::nullopt;
  }
  Event e;
  e.id = r.i64(0, 0);
  e.source = r.text(0, 1);
  e.sourceEventId = r.text(0, 2);
  e.flowId = r.text(0, 3);
  e.triggerOp = r.text(0, 4);
  e.recordKey = r.text(0, 5);
  e.payload = parse(r.text(0, 6));
  e.rawBody = r.text(0, 7);
  e.receivedAt = r.i64(0, 8);
  e.availableAt = r.i64(0, 9);
  e.attempts = r.i32(0, 10);
  e.status = parseEventStatus(r.text(0, 11));
  e.leaseOwner = r.text(0, 12);
  e.leaseUntil = r.i64(0, 13);
  e.lastError = r.text(0, 14);
  e.interruptions = r.i32(0, 15);
  return e;
}

std::optional<Event> SqlStore::getEvent(EventId id) {
  return transact("get event", Tx::Read, [&](Session& s) { return loadEvent(s, id); });
}

std::vector<Claimed> SqlStore::claim(const std::string& workerId, const ClaimOptions& options) {
  require(!workerId.empty(), "claim: the worker id is empty");
  require(options.limit > 0, "claim: the limit must be at least 1");
  require(options.leaseDuration.count() > 0, "claim: the lease duration must be positive");
  return transact("claim", Tx::Write, [&](Session& s) {
    const TimeUs t = nowUs();
    const TimeUs until = t + options.leaseDuration.count();
    // Claimable: queued and due, or running with an expired lease (takeover); and no other
    // event of the same record key is earlier and unfinished, or holds a live lease.
    const SqlRows heads = exec(
        s,
        "SELECT e.id, e.status, e.record_key, e.flow_id, e.trigger_op FROM inbox e"
         " WHERE e.status IN ('queued', 'running')"
         " AND ((e.status = 'queued' AND e.available_at <= $1)"
         "      OR (e.status = 'running' AND e.lease_until < $2))"
         " AND (e.record_key = '' OR NOT EXISTS ("
         "   SELECT 1 FROM inbox p WHERE p.record_key = e.record_key AND p.id <> e.id"
         "   AND p.status IN ('queued', 'running')"
         "   AND (p.id < e.id OR p.lease_until >= $3)))"
         " ORDER BY e.id LIMIT $4" +
            skipLocked(),
        {t, t, t, std::int64_t{options.limit}});
    std::vector<Claimed> out;
    for (std::size_t i = 0; i < heads.size(); ++i) {
      I64 id = heads.i64(i, 0);
      const std::string& status = heads.text(i, 1);
      const std::string& key = heads.text(i, 2);
      const std::string& flow = heads.text(i, 3);
      const std::string& op = heads.text(i, 4);
      std::vector<EventId> coalesced;
      if (options.coalesce && status == "queued" && !key.empty() &&
          (!options.coalesceTrigger || options.coalesceTrigger(op))) {
        // One statement: the later queued events of this key that fold into the head, if the
        // head has no journal entry, up to the first later event that must not be folded in
        // (another flow or trigger, already touched, or holding a journal) — the barrier.
        // (`status IN (...)` as the partial index inbox_open_key says it, so SQLite uses it.)
        const SqlRows later = exec(
            s,
            "SELECT p.id FROM inbox p WHERE p.record_key = $1 AND p.id > $2"
             " AND p.status IN ('queued', 'running')"
             " AND p.status = 'queued' AND p.flow_id = $3 AND p.trigger_op = $4"
             " AND NOT EXISTS (SELECT 1 FROM journal h WHERE h.event_id = $5)"
             " AND p.id < COALESCE((SELECT MIN(b.id) FROM inbox b WHERE b.record_key = $6"
             "   AND b.id > $7 AND b.status IN ('queued', 'running')"
             "   AND (b.flow_id <> $8 OR b.trigger_op <> $9 OR b.status <> 'queued'"
             "        OR b.available_at > $10"
             "        OR EXISTS (SELECT 1 FROM journal j WHERE j.event_id = b.id))),"
             "   9223372036854775807)"
             " ORDER BY p.id" +
                forUpdate(),
            {key, id, flow, op, id, key, id, flow, op, t});
        if (!later.empty()) {
          const I64 newest = later.i64(later.size() - 1, 0);
          coalesced.push_back(id);
          for (std::size_t j = 0; j + 1 < later.size(); ++j) {
            coalesced.push_back(later.i64(j, 0));
          }
          // Exactly the coalesced ones: between head and newest every queued event of this key
          // has this flow and trigger (any other would have been the barrier).
          exec(s,
               "UPDATE inbox SET status = 'superseded', superseded_by = $1, finished_at = $2"
               " WHERE record_key = $3 AND id >= $4 AND id < $5 AND status = 'queued'",
               {newest, t, key, id, newest});
          id = newest;
        }
      }
      exec(s,
           "UPDATE inbox SET status = 'running', lease_owner = $1, lease_until = $2,"
           " attempts = attempts + 1,"
           // a running event is claimed only when its lease expired: a takeover
           " interruptions = interruptions + CASE WHEN status = 'running' THEN 1 ELSE 0 END"
           " WHERE id = $3",
           {workerId, until, id});
      auto event = loadEvent(s, id);
      if (!event) {
        throw StoreError(ErrorKind::Internal, "claim: event " + std::to_string(id) + " vanished");
      }
      event->coalesced = coalesced;
      Lease lease{event->id, workerId, event->attempts, until};
      out.push_back(Claimed{std::move(*event), std::move(lease)});
    }
    return out;
  });
}

// Throws LeaseLost / NotFound when an update guarded by the lease touched no row.
void SqlStore::throwLeaseGone(Session& s, const Lease& lease) {
  const SqlRows r =
      exec(s, "SELECT status, lease_owner, attempts FROM inbox WHERE id = $1", {lease.eventId});
  if (r.empty()) {
    throw StoreError(ErrorKind::NotFound,
                     "event " + std::to_string(lease.eventId) + " does not exist");
  }
  throw StoreError(ErrorKind::LeaseLost,
                   "event " + std::to_string(lease.eventId) + ": the lease of worker '" +
                       lease.workerId + "' (attempt " + std::to_string(lease.attempt) +
                       ") is gone; the event is now '" + r.text(0, 0) + "'" +
                       (r.text(0, 1).empty() ? std::string()
                                             : " held by '" + r.text(0, 1) + "' (attempt " +
                                                   std::to_string(r.i64(0, 2)) + ")"));
}

// Runs `update` (an UPDATE of inbox up to its SET, with `params` for its placeholders) on the
// row the lease holds: the lease check's placeholders follow the SET's. Throws LeaseLost /
// NotFound when the lease is gone and no row was touched.
void SqlStore::updateLeased(Session& s, const Lease& lease, std::string_view update,
                            std::initializer_list<SqlParam> params) {
  const auto placeholder = [&](std::size_t k) { return "$" + std::to_string(params.size() + k); };
  const std::string sql = std::string(update) + " WHERE id = " + placeholder(1) +
                          " AND status = 'running' AND lease_owner = " + placeholder(2) +
                          " AND attempts = " + placeholder(3);
  std::vector<SqlParam> all(params);
  all.insert(all.end(), {lease.eventId, lease.workerId, lease.attempt});
  if (execute(s, sql, all).changed() == 0) {
    throwLeaseGone(s, lease);
  }
}

Lease SqlStore::renew(const Lease& lease, std::chrono::microseconds duration) {
  return transact("renew lease", Tx::Write, [&](Session& s) {
    Lease renewed = lease;
    renewed.until = nowUs() + duration.count();
    updateLeased(s, lease, "UPDATE inbox SET lease_until = $1", {renewed.until});
    return renewed;
  });
}

void SqlStore::complete(const Lease& lease) {
  transact("complete", Tx::Write, [&](Session& s) { completeIn(s, lease); });
}

void SqlStore::completeIn(Session& s, const Lease& lease) {
  updateLeased(s, lease,
               "UPDATE inbox SET status = 'done', lease_owner = '', lease_until = 0, finished_at = $1",
               {nowUs()});
}

void SqlStore::retryLater(const Lease& lease, TimeUs availableAt, const std::string& reason) {
  transact("retry later", Tx::Write, [&](Session& s) {
    updateLeased(s, lease,
                 "UPDATE inbox SET status = 'queued', lease_owner = '', lease_until = 0,"
                 " available_at = $1, last_error = $2",
                 {availableAt, reason});
  });
}

void SqlStore::deadLetter(const Lease& lease, const std::string& reason, const Json& request,
                          const Json& response) {
  transact("dead letter", Tx::Write, [&](Session& s) {
    const TimeUs t = nowUs();
    updateLeased(s, lease,
                 "UPDATE inbox SET status = 'dead', lease_owner = '', lease_until = 0,"
                 " last_error = $1, finished_at = $2",
                 {reason, t});
    exec(s,
         "INSERT INTO dead_letters (event_id, reason, request, response, dead_at)"
         " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO UPDATE SET"
         " reason = excluded.reason, request = excluded.request, response = excluded.response,"
         " dead_at = excluded.dead_at",
         {lease.eventId, reason, dump(request), dump(response), t});
  });
}

std::int64_t SqlStore::releaseLeases(const std::string& ownerPrefix) {
  require(!ownerPrefix.empty(), "release leases: the worker id prefix is empty");
  return transact("release leases", Tx::Write, [&](Session& s) {
    // substr, not LIKE: SQLite's LIKE ignores case and a prefix may hold '%' or '_'.
    const auto length = static_cast<std::int64_t>(ownerPrefix.size());
    const std::int64_t released =
        exec(s,
             "UPDATE inbox SET status = 'queued', lease_owner = '', lease_until = 0,"
             " interruptions = interruptions + 1, available_at = $1"
             " WHERE status = 'running' AND substr(lease_owner, 1, $2) = $3",
             {nowUs(), length, ownerPrefix})
            .changed();
    exec(s,
         "UPDATE runs SET status = 'interrupted', error = $1, finished_at = $2"
         " WHERE status = 'running' AND substr(worker_id, 1, $3) = $4",
         {"the worker stopped before the run finished; its event was released", nowUs(), length,
          ownerPrefix});
    return released;
  });
}

QueueStats SqlStore::queueStats() {
  return transact("queue stats", Tx::Read, [&](Session& s) {
    QueueStats q;
    // One statement (one round trip on PostgreSQL; the webhook asks this per delivery), answered
    // from the covering index inbox_open_status (migration 4): counts walk its small entries,
    // each oldest time is one seek, and no inbox row (payload included) is read. Every
    // subquery says `status IN ('queued', 'running')` exactly as the partial index does, so
    // that SQLite uses it.
    const SqlRows r = exec(
        s,
        "SELECT"
         " (SELECT COUNT(*) FROM inbox WHERE status IN ('queued', 'running')"
         "  AND status = 'queued'),"
         " (SELECT COUNT(*) FROM inbox WHERE status IN ('queued', 'running')"
         "  AND status = 'running'),"
         " COALESCE((SELECT MIN(received_at) FROM inbox WHERE status IN ('queued', 'running')"
         "  AND status = 'queued'), 0),"
         " COALESCE((SELECT MIN(received_at) FROM inbox WHERE status IN ('queued', 'running')"
         "  AND status = 'running'), 0),"
         " (SELECT COUNT(*) FROM dead_letters)");
    if (r.empty()) {
      return q;
    }
    q.queued = r.i64(0, 0);
    q.running = r.i64(0, 1);
    q.dead = r.i64(0, 4);
    const I64 a = r.i64(0, 2);
    const I64 b = r.i64(0, 3);
    q.oldestQueuedAt = a == 0 ? b : (b == 0 ? a : std::min(a, b));
    return q;
  });
}

std::int64_t SqlStore::purge(TimeUs before) {
  return transact("purge", Tx::Write, [&](Session& s) {
    exec(s,
         "DELETE FROM journal WHERE event_id IN (SELECT id FROM inbox WHERE status IN"
         " ('done', 'superseded', 'discarded') AND received_at < $1)",
         {before});
    return exec(s,
                "DELETE FROM inbox WHERE status IN ('done', 'superseded', 'discarded')"
                " AND received_at < $1",
                {before})
        .changed();
  });
}

// ---- journal --------------------------------------------------------------------------------

std::optional<JournalEntry> SqlStore::journalGet(EventId eventId, const std::string& stepId) {
  return transact("journal get", Tx::Read, [&](Session& s) -> std::optional<JournalEntry> {
    auto rows = journalFrom(exec(s, kJournalOfStep, {eventId, stepId}));
    if (rows.empty()) {
      return std::nullopt;
    }
    return rows.front();
  });
}

std::vector<JournalEntry> SqlStore::journalList(EventId eventId) {
  return transact("journal list", Tx::Read, [&](Session& s) {
    return journalFrom(exec(s, kJournalOfEvent, {eventId}));
  });
}

JournalEntry SqlStore::journalBegin(EventId eventId, const std::string& stepId,
                                    const std::string& idempotencyKey, const Json& request) {
  return transact("journal begin", Tx::Write, [&](Session& s) {
    journalBeginIn(s, eventId, stepId, idempotencyKey, request);
    auto rows = journalFrom(exec(s, kJournalOfStep, {eventId, stepId}));
    if (rows.empty()) {
      throw StoreError(ErrorKind::Internal, "journal begin: the entry vanished");
    }
    return rows.front();
  });
}

void SqlStore::journalBeginIn(Session& s, EventId eventId, const std::string& stepId,
                              const std::string& idempotencyKey, const Json& request) {
  require(!stepId.empty(), "journal begin: the step id is empty");
  exec(s,
       "INSERT INTO journal (event_id, step_id, idempotency_key, status, attempts, request,"
       " started_at) VALUES ($1, $2, $3, 'intent', 1, $4, $5)"
       " ON CONFLICT (event_id, step_id) DO UPDATE SET attempts = journal.attempts + 1,"
       " status = 'intent', request = excluded.request, started_at = excluded.started_at,"
       " finished_at = 0",
       {eventId, stepId, idempotencyKey, dump(request), nowUs()});
}

void SqlStore::journalFinish(EventId eventId, const std::string& stepId, StepStatus status,
                             const Json& output, const Json& response) {
  transact("journal finish", Tx::Write,
           [&](Session& s) { journalFinishIn(s, eventId, stepId, status, output, response); });
}

void SqlStore::journalFinishIn(Session& s, EventId eventId, const std::string& stepId,
                               StepStatus status, const Json& output, const Json& response) {
  if (exec(s,
           "UPDATE journal SET status = $1, output = $2, response = $3, finished_at = $4"
           " WHERE event_id = $5 AND step_id = $6",
           {toString(status), dump(output), dump(response), nowUs(), eventId, stepId})
          .changed() == 0) {
    throw StoreError(ErrorKind::NotFound, "journal finish: event " + std::to_string(eventId) +
                                              " has no begun step '" + stepId +
                                              "' (hint: call journalBegin first)");
  }
}

// ---- correlation ----------------------------------------------------------------------------

CorrelateResult SqlStore::correlate(const Correlation& m, bool replace) {
  return transact("correlate", Tx::Write, [&](Session& s) { return correlateIn(s, m, replace); });
}

CorrelateResult SqlStore::correlateIn(Session& s, const Correlation& m, bool replace) {
  require(!m.kind.empty() && !m.sourceSystem.empty() && !m.sourceId.empty() &&
              !m.targetSystem.empty() && !m.targetId.empty(),
          "correlate: kind, source system, source id, target system and target id must all be set");
  const I64 t = nowUs();
  CorrelateResult r;
  if (replace) {
    const SqlRows before = exec(s,
                                "SELECT target_id FROM correlations WHERE kind = $1 AND"
                                " source_system = $2 AND source_id = $3 AND target_system = $4" +
                                    forUpdate(),
                                {m.kind, m.sourceSystem, m.sourceId, m.targetSystem});
    exec(s,
         "INSERT INTO correlations (kind, source_system, source_id, target_system, target_id,"
         " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
         " ON CONFLICT (kind, source_system, source_id, target_system) DO UPDATE SET"
         " target_id = excluded.target_id, updated_at = excluded.updated_at",
         {m.kind, m.sourceSystem, m.sourceId, m.targetSystem, m.targetId, t, t});
    r.created = before.empty();
    r.targetId = m.targetId;
    return r;
  }
  r.created = exec(s,
                   "INSERT INTO correlations (kind, source_system, source_id, target_system,"
                   " target_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                   " ON CONFLICT (kind, source_system, source_id, target_system) DO NOTHING",
                   {m.kind, m.sourceSystem, m.sourceId, m.targetSystem, m.targetId, t, t})
                  .changed() > 0;
  const SqlRows target = exec(s,
                              "SELECT target_id FROM correlations WHERE kind = $1 AND"
                              " source_system = $2 AND source_id = $3 AND target_system = $4",
                              {m.kind, m.sourceSystem, m.sourceId, m.targetSystem});
  if (target.empty()) {
    throw StoreError(ErrorKind::Internal,
                     "correlate: the mapping was neither inserted nor found");
  }
  r.targetId = target.text(0, 0);
  return r;
}

std::optional<std::string> SqlStore::lookup(const std::string& kind,
                                            const std::string& sourceSystem,
                                            const std::string& sourceId,
                                            const std::string& targetSystem) {
  return transact("lookup", Tx::Read, [&](Session& s) -> std::optional<std::string> {
    const SqlRows target = exec(s,
                                "SELECT target_id FROM correlations WHERE kind = $1 AND"
                                " source_system = $2 AND source_id = $3 AND target_system = $4",
                                {kind, sourceSystem, sourceId, targetSystem});
    if (target.empty()) {
      return std::nullopt;
    }
    return target.text(0, 0);
  });
}

std::vector<Correlation> SqlStore::reverseLookup(const std::string& kind,
                                                 const std::string& targetSystem,
                                                 const std::string& targetId) {
  return transact("reverse lookup", Tx::Read, [&](Session& s) {
    const SqlRows r = exec(s,
                           "SELECT source_system, source_id FROM correlations WHERE kind = $1"
                           " AND target_system = $2 AND target_id = $3"
                           " ORDER BY source_system, source_id",
                           {kind, targetSystem, targetId});
    std::vector<Correlation> out;
    for (std::size_t i = 0; i < r.size(); ++i) {
      out.push_back(Correlation{kind, r.text(i, 0), r.text(i, 1), targetSystem, targetId});
    }
    return out;
  });
}

void SqlStore::uncorrelate(const std::string& kind, const std::string& sourceSystem,
                           const std::string& sourceId, const std::string& targetSystem) {
  transact("uncorrelate", Tx::Write, [&](Session& s) {
    exec(s,
         "DELETE FROM correlations WHERE kind = $1 AND source_system = $2 AND source_id = $3"
         " AND target_system = $4",
         {kind, sourceSystem, sourceId, targetSystem});
  });
}

// ---- poll cursors ---------------------------------------------------------------------------

std::optional<Json> SqlStore::pollCursor(const std::string& triggerKey) {
  return transact("poll cursor", Tx::Read, [&](Session& s) -> std::optional<Json> {
    const SqlRows cursor =
        exec(s, "SELECT cursor_json FROM poll_cursors WHERE trigger_key = $1", {triggerKey});
    if (cursor.empty()) {
      return std::nullopt;
    }
    return parse(cursor.text(0, 0));
  });
}

std::vector<EnqueueResult> SqlStore::commitPoll(const std::string& triggerKey, const Json& cursor,
                                                const std::vector<NewEvent>& events) {
  require(!triggerKey.empty(), "commit poll: the trigger key is empty");
  return transact("commit poll", Tx::Write, [&](Session& s) {
    exec(s,
         "INSERT INTO poll_cursors (trigger_key, cursor_json, updated_at) VALUES ($1, $2, $3)"
         " ON CONFLICT (trigger_key) DO UPDATE SET cursor_json = excluded.cursor_json,"
         " updated_at = excluded.updated_at",
         {triggerKey, dump(cursor), nowUs()});
    std::vector<EnqueueResult> out;
    for (const auto& e : events) {
      out.push_back(insertEvent(s, e));
    }
    return out;
  });
}

// ---- rate budgets ---------------------------------------------------------------------------

TokenGrant SqlStore::takeToken(const std::string& connection, const std::string& bucket, TimeUs t,
                               std::int64_t capacity, std::chrono::microseconds interval) {
  require(capacity > 0, "take token: the capacity must be at least 1");
  require(interval.count() > 0, "take token: the interval must be positive");
  return transact("take token", Tx::Write, [&](Session& s) {
    exec(s,
         "INSERT INTO rate_budgets (conn, bucket, window_start, used, updated_at)"
         " VALUES ($1, $2, $3, 0, $4) ON CONFLICT (conn, bucket) DO NOTHING",
         {connection, bucket, t, t});
    const SqlRows row = exec(s,
                             "SELECT window_start, used, remote_remaining, remote_reset_at"
                             " FROM rate_budgets WHERE conn = $1 AND bucket = $2" +
                                 forUpdate(),
                             {connection, bucket});
    if (row.empty()) {
      throw StoreError(ErrorKind::Internal, "take token: the budget row vanished");
    }
    I64 ws = row.i64(0, 0);
    I64 u = row.i64(0, 1);
    I64 remote = row.i64(0, 2);
    const I64 reset = row.i64(0, 3);
    const I64 len = interval.count();
    if (t >= ws + len) {
      ws += ((t - ws) / len) * len;  // windows stay aligned to the first one
      u = 0;
    }
    TokenGrant g;
    const bool remoteKnown = reset > t && remote >= 0;
    if (remoteKnown && remote == 0) {
      g.wait = std::chrono::microseconds(reset - t);
    } else if (u >= capacity) {
      g.wait = std::chrono::microseconds(ws + len - t);
    } else {
      g.granted = true;
      ++u;
      if (remoteKnown) {
        --remote;
      }
    }
    g.remaining = capacity - u;
    if (remoteKnown) {
      g.remaining = std::min<std::int64_t>(g.remaining, remote);
    }
    exec(s,
         "UPDATE rate_budgets SET window_start = $1, used = $2, remote_remaining = $3,"
         " updated_at = $4 WHERE conn = $5 AND bucket = $6",
         {ws, u, remote, t, connection, bucket});
    return g;
  });
}

void SqlStore::recordLimits(const std::string& connection, const std::string& bucket,
                            std::int64_t remaining, TimeUs resetAt) {
  transact("record limits", Tx::Write, [&](Session& s) {
    const I64 t = nowUs();
    // Within the same server window the smaller count wins: answers arrive out of order, and
    // grants made since a response was sent are not in its header.
    exec(s,
         "INSERT INTO rate_budgets (conn, bucket, window_start, used, remote_remaining,"
         " remote_reset_at, updated_at) VALUES ($1, $2, $3, 0, $4, $5, $6)"
         " ON CONFLICT (conn, bucket) DO UPDATE SET"
         " remote_remaining = CASE WHEN rate_budgets.remote_reset_at = excluded.remote_reset_at"
         "   AND rate_budgets.remote_remaining >= 0"
         "   AND rate_budgets.remote_remaining < excluded.remote_remaining"
         "   THEN rate_budgets.remote_remaining ELSE excluded.remote_remaining END,"
         " remote_reset_at = excluded.remote_reset_at, updated_at = excluded.updated_at",
         {connection, bucket, t, std::max<std::int64_t>(remaining, 0), resetAt, t});
  });
}

std::vector<BudgetState> SqlStore::rateBudgets() {
  return transact("rate budgets", Tx::Read, [&](Session& s) {
    const SqlRows r = exec(s,
                           "SELECT conn, bucket, window_start, used, remote_remaining,"
                           " remote_reset_at FROM rate_budgets ORDER BY conn, bucket");
    std::vector<BudgetState> out;
    for (std::size_t i = 0; i < r.size(); ++i) {
      out.push_back(BudgetState{r.text(i, 0), r.text(i, 1), r.i64(i, 2), r.i64(i, 3), r.i64(i, 4),
                                r.i64(i, 5)});
    }
    return out;
  });
}

// ---- dead letters ---------------------------------------------------------------------------

namespace {
constexpr const char* kDeadLetterSelect =
    "SELECT d.event_id, i.flow_id, i.trigger_op, i.record_key, d.reason, d.request, d.response,"
    " i.attempts, d.dead_at FROM dead_letters d JOIN inbox i ON i.id = d.event_id";

std::vector<DeadLetter> deadLettersFrom(const SqlRows& r) {
  std::vector<DeadLetter> out;
  for (std::size_t i = 0; i < r.size(); ++i) {
    out.push_back(DeadLetter{r.i64(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4),
                             parse(r.text(i, 5)), parse(r.text(i, 6)), r.i32(i, 7),
                             r.i64(i, 8)});
  }
  return out;
}
}  // namespace

std::optional<DeadLetter> SqlStore::loadDeadLetter(Session& s, EventId eventId) {
  auto rows =
      deadLettersFrom(exec(s, std::string(kDeadLetterSelect) + " WHERE d.event_id = $1", {eventId}));
  if (rows.empty()) {
    return std::nullopt;
  }
  return rows.front();
}

std::vector<DeadLetter> SqlStore::listDeadLetters(int limit, EventId afterId) {
  return transact("list dead letters", Tx::Read, [&](Session& s) {
    return deadLettersFrom(
        exec(s, std::string(kDeadLetterSelect) + " WHERE d.event_id > $1 ORDER BY d.event_id LIMIT $2",
             {afterId, std::max(limit, 1)}));
  });
}

std::optional<DeadLetter> SqlStore::getDeadLetter(EventId eventId) {
  return transact("get dead letter", Tx::Read,
                  [&](Session& s) { return loadDeadLetter(s, eventId); });
}

void SqlStore::replayDeadLetter(EventId eventId) {
  transact("replay dead letter", Tx::Write, [&](Session& s) {
    if (exec(s, "DELETE FROM dead_letters WHERE event_id = $1", {eventId}).changed() == 0) {
      throw StoreError(ErrorKind::NotFound, "replay: there is no dead letter for event " +
                                                std::to_string(eventId) +
                                                " (hint: `ferry dlq list` shows them)");
    }
    exec(s,
         "UPDATE inbox SET status = 'queued', attempts = 0, interruptions = 0, available_at = $1,"
         " lease_owner = '', lease_until = 0, finished_at = 0 WHERE id = $2",
         {nowUs(), eventId});
  });
}

void SqlStore::discardDeadLetter(EventId eventId) {
  transact("discard dead letter", Tx::Write, [&](Session& s) {
    if (exec(s, "DELETE FROM dead_letters WHERE event_id = $1", {eventId}).changed() == 0) {
      throw StoreError(ErrorKind::NotFound,
                       "discard: there is no dead letter for event " + std::to_string(eventId));
    }
    exec(s, "UPDATE inbox SET status = 'discarded', finished_at = $1 WHERE id = $2",
         {nowUs(), eventId});
  });
}

// ---- run history ----------------------------------------------------------------------------

RunId SqlStore::beginRun(const RunStart& r) {
  require(!r.flowId.empty(), "begin run: the flow id is empty");
  return transact("begin run", Tx::Write, [&](Session& s) {
    const SqlRows id =
        exec(s,
             "INSERT INTO runs (event_id, flow_id, flow_version, flow_hash, worker_id, attempt,"
             " status, started_at) VALUES ($1, $2, $3, $4, $5, $6, 'running', $7) RETURNING id",
             {r.eventId, r.flowId, r.flowVersion, r.flowHash, r.workerId, r.attempt,
              r.startedAt != 0 ? r.startedAt : nowUs()});
    if (id.empty()) {
      throw StoreError(ErrorKind::Internal, "begin run: the insert returned no id");
    }
    return id.i64(0, 0);
  });
}

void SqlStore::recordStep(RunId run, const StepRecord& step) {
  transact("record step", Tx::Write, [&](Session& s) { recordStepIn(s, run, step); });
}

void SqlStore::recordStepIn(Session& s, RunId run, const StepRecord& step) {
  require(!step.stepId.empty(), "record step: the step id is empty");
  exec(s,
       "INSERT INTO run_steps (run_id, step_id, seq, status, attempts, started_at, finished_at,"
       " request, response, error) VALUES ($1, $2,"
       " (SELECT COUNT(*) FROM run_steps WHERE run_id = $3), $4, $5, $6, $7, $8, $9, $10)"
       " ON CONFLICT (run_id, step_id) DO UPDATE SET status = excluded.status,"
       " attempts = excluded.attempts, started_at = excluded.started_at,"
       " finished_at = excluded.finished_at, request = excluded.request,"
       " response = excluded.response, error = excluded.error",
       {run, step.stepId, run, step.status, step.attempts, step.startedAt, step.finishedAt,
        dump(step.request), dump(step.response), step.error});
}

void SqlStore::finishRun(RunId run, const std::string& status, const std::string& error,
                         TimeUs finishedAt) {
  transact("finish run", Tx::Write,
           [&](Session& s) { finishRunIn(s, run, status, error, finishedAt); });
}

void SqlStore::finishRunIn(Session& s, RunId run, const std::string& status,
                           const std::string& error, TimeUs finishedAt) {
  if (exec(s, "UPDATE runs SET status = $1, error = $2, finished_at = $3 WHERE id = $4",
           {status, error, finishedAt != 0 ? finishedAt : nowUs(), run})
          .changed() == 0) {
    throw StoreError(ErrorKind::NotFound,
                     "finish run: run " + std::to_string(run) + " does not exist");
  }
}

void SqlStore::finishStep(const StepFinish& step) {
  transact("finish step", Tx::Write, [&](Session& s) {
    if (step.begin) {
      journalBeginIn(s, step.eventId, step.stepId, "", step.request);
    }
    journalFinishIn(s, step.eventId, step.stepId, step.status, step.output, step.response);
    if (step.correlation) {
      correlateIn(s, *step.correlation, true);
    }
    if (step.state) {
      statePutIn(s, step.state->plugin, step.state->connection, step.state->key,
                 step.state->value);
    }
    recordStepIn(s, step.run, step.record);
  });
}

void SqlStore::finishEvent(RunId run, const Lease& lease, const std::string& status,
                           const std::string& error) {
  transact("finish event", Tx::Write, [&](Session& s) {
    finishRunIn(s, run, status, error, 0);
    completeIn(s, lease);
  });
}

namespace {
std::vector<Run> runsFrom(const SqlRows& r) {
  std::vector<Run> out;
  for (std::size_t i = 0; i < r.size(); ++i) {
    out.push_back(Run{r.i64(i, 0), r.i64(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4),
                      r.text(i, 5), r.i32(i, 6), r.text(i, 7), r.text(i, 8), r.i64(i, 9),
                      r.i64(i, 10), {}});
  }
  return out;
}
constexpr const char* kRunSelect =
    "SELECT id, event_id, flow_id, flow_version, flow_hash, worker_id, attempt, status, error,"
    " started_at, finished_at FROM runs";
}  // namespace

std::optional<Run> SqlStore::getRun(RunId run) {
  return transact("get run", Tx::Read, [&](Session& s) -> std::optional<Run> {
    auto runs = runsFrom(exec(s, std::string(kRunSelect) + " WHERE id = $1", {run}));
    if (runs.empty()) {
      return std::nullopt;
    }
    Run r = std::move(runs.front());
    const SqlRows steps =
        exec(s,
             "SELECT step_id, status, attempts, started_at, finished_at, request, response, error"
             " FROM run_steps WHERE run_id = $1 ORDER BY seq, step_id",
             {run});
    for (std::size_t i = 0; i < steps.size(); ++i) {
      r.steps.push_back(StepRecord{steps.text(i, 0), steps.text(i, 1), steps.i32(i, 2),
                                   steps.i64(i, 3), steps.i64(i, 4), parse(steps.text(i, 5)),
                                   parse(steps.text(i, 6)), steps.text(i, 7)});
    }
    return r;
  });
}

std::vector<Run> SqlStore::listRuns(const RunFilter& f) {
  return transact("list runs", Tx::Read, [&](Session& s) {
    std::string sql = std::string(kRunSelect) + " WHERE 1 = 1";
    std::vector<SqlParam> params;
    auto next = [&](SqlParam value) {
      params.push_back(value);
      return "$" + std::to_string(params.size());
    };
    if (!f.flowId.empty()) {
      sql += " AND flow_id = " + next(f.flowId);
    }
    if (f.eventId != 0) {
      sql += " AND event_id = " + next(f.eventId);
    }
    if (!f.status.empty()) {
      sql += " AND status = " + next(f.status);
    }
    if (f.beforeId != 0) {
      sql += " AND id < " + next(f.beforeId);
    }
    sql += " ORDER BY id DESC LIMIT " + next(std::max(f.limit, 1));
    return runsFrom(execute(s, sql, params));
  });
}

// ---- plugin state ---------------------------------------------------------------------------

std::optional<std::string> SqlStore::stateGet(const std::string& plugin,
                                              const std::string& connection,
                                              const std::string& key) {
  return transact("state get", Tx::Read, [&](Session& s) -> std::optional<std::string> {
    const SqlRows value = exec(
        s, "SELECT state_value FROM plugin_state WHERE plugin = $1 AND conn = $2 AND state_key = $3",
        {plugin, connection, key});
    if (value.empty()) {
      return std::nullopt;
    }
    return value.text(0, 0);
  });
}

void SqlStore::statePut(const std::string& plugin, const std::string& connection,
                        const std::string& key, const std::string& value) {
  transact("state put", Tx::Write,
           [&](Session& s) { statePutIn(s, plugin, connection, key, value); });
}

void SqlStore::statePutIn(Session& s, const std::string& plugin, const std::string& connection,
                          const std::string& key, const std::string& value) {
  exec(s,
       "INSERT INTO plugin_state (plugin, conn, state_key, state_value, updated_at)"
       " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (plugin, conn, state_key) DO UPDATE SET"
       " state_value = excluded.state_value, updated_at = excluded.updated_at",
       {plugin, connection, key, value, nowUs()});
}

void SqlStore::stateErase(const std::string& plugin, const std::string& connection,
                          const std::string& key) {
  transact("state erase", Tx::Write, [&](Session& s) {
    exec(s, "DELETE FROM plugin_state WHERE plugin = $1 AND conn = $2 AND state_key = $3",
         {plugin, connection, key});
  });
}

namespace {
class StoreState : public sdk::State {
 public:
  StoreState(Store& store, std::string plugin, std::string connection)
      : store_(store), plugin_(std::move(plugin)), connection_(std::move(connection)) {}
  std::optional<std::string> get(std::string_view key) override {
    return store_.stateGet(plugin_, connection_, std::string(key));
  }
  void put(std::string_view key, std::string_view value) override {
    store_.statePut(plugin_, connection_, std::string(key), std::string(value));
  }
  void erase(std::string_view key) override {
    store_.stateErase(plugin_, connection_, std::string(key));
  }

 private:
  Store& store_;
  std::string plugin_;
  std::string connection_;
};
}  // namespace

std::unique_ptr<sdk::State> Store::stateFor(const std::string& plugin,
                                            const std::string& connection) {
  return std::make_unique<StoreState>(*this, plugin, connection);
}

}  // namespace ferry::core::store

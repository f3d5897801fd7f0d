// The guarded dead-letter replay (Store::replayDeadLetterGuarded): a dead letter of a snapshot
// trigger is not run again when a newer event of its record has superseded it.
//
// Why: a snapshot event (a contact's whole version) that became a dead letter, replayed after a
// newer version of the same contact was synced, would write the older version again: replay
// re-queues the event as it was, and it runs after the newer one. Events of one record run in
// id order and ids of one record grow in the order their versions were taken (commitPollFrom,
// lockRecordKey), so a higher id of the same flow, record key and trigger is a newer version.
#include <cstdlib>
#include <string>
#include <vector>

#include "store/sql_store.hpp"

namespace ferry::core::store {

using namespace Poco::Data::Keywords;
using Poco::Data::Session;
using I64 = Poco::Int64;

namespace {

// The durable replay counts live in plugin_state under a name no plugin can have (plugin ids
// are connector ids, without spaces).
constexpr const char* kCountPlugin = "ferry core";
constexpr const char* kCountConn = "dlq";
constexpr const char* kSupersededKey = "replays_superseded";
constexpr const char* kForcedKey = "replays_forced";

std::string describe(EventStatus status) {
  switch (status) {
    case EventStatus::Queued:
      return "queued (it runs next and carries the newer version)";
    case EventStatus::Running:
      return "running (it writes the newer version)";
    case EventStatus::Dead:
      return "a dead letter itself (replay that one: it carries the newer version)";
    default:
      return "done (the newer version is already synced)";
  }
}

void countReplay(Session& s, const char* key, I64 t) {
  s << "INSERT INTO plugin_state (plugin, conn, state_key, state_value, updated_at)"
       " VALUES ($1, $2, $3, '1', $4) ON CONFLICT (plugin, conn, state_key) DO UPDATE SET"
       " state_value = CAST(CAST(plugin_state.state_value AS BIGINT) + 1 AS TEXT),"
       " updated_at = excluded.updated_at",
      bind(std::string(kCountPlugin)), bind(std::string(kCountConn)), bind(std::string(key)),
      bind(t), now;
}

void recordReplayRun(Session& s, I64 eventId, const std::string& flowId, const std::string& actor,
                     int attempts, const std::string& status, const std::string& message,
                     I64 t) {
  s << "INSERT INTO runs (event_id, flow_id, flow_version, flow_hash, worker_id, attempt, status,"
       " error, started_at, finished_at) VALUES ($1, $2, '', '', $3, $4, $5, $6, $7, $8)",
      bind(eventId), bind(flowId), bind(actor), bind(attempts), bind(status), bind(message),
      bind(t), bind(t), now;
}

}  // namespace

ReplayResult SqlStore::replayDeadLetterGuarded(EventId eventId, const ReplayOptions& options) {
  return transact("replay dead letter", Tx::Write, [&](Session& s) {
    const I64 t = nowUs();
    const I64 id = static_cast<I64>(eventId);
    // Deleting the dead letter first serialises concurrent replays and discards of it.
    Poco::Data::Statement del(s);
    del << "DELETE FROM dead_letters WHERE event_id = $1", bind(id);
    if (del.execute() == 0) {
      throw StoreError(ErrorKind::NotFound, "replay: there is no dead letter for event " +
                                                std::to_string(eventId) +
                                                " (hint: `ferry dlq list` shows them)");
    }
    std::vector<std::string> flow, op, key;
    std::vector<int> attempts;
    s << "SELECT flow_id, trigger_op, record_key, attempts FROM inbox WHERE id = $1" +
             forUpdate(),
        bind(id), into(flow), into(op), into(key), into(attempts), now;
    if (flow.empty()) {
      throw StoreError(ErrorKind::Internal,
                       "replay: dead letter " + std::to_string(eventId) + " has no inbox event");
    }
    ReplayResult result;
    result.eventId = eventId;
    const bool snapshot =
        !key[0].empty() && options.snapshotTrigger && options.snapshotTrigger(op[0]);
    if (snapshot) {
      // Enqueues of this record wait for this transaction (PostgreSQL), so an event enqueued
      // after the check gets a higher id and runs after the replayed one.
      lockRecordKey(s, key[0]);
      std::vector<I64> newer;
      std::vector<std::string> newerStatus;
      s << "SELECT id, status FROM inbox WHERE record_key = $1 AND flow_id = $2"
           " AND trigger_op = $3 AND id > $4"
           " AND status IN ('done', 'queued', 'running', 'dead')"
           " ORDER BY id DESC LIMIT 1",
          bind(key[0]), bind(flow[0]), bind(op[0]), bind(id), into(newer), into(newerStatus),
          now;
      if (!newer.empty()) {
        result.newerEventId = newer[0];
        result.newerStatus = parseEventStatus(newerStatus[0]);
      }
    }
    const std::string newerText =
        result.newerEventId == 0
            ? std::string()
            : "the newer event " + std::to_string(result.newerEventId) + " of record '" +
                  key[0] + "' (flow '" + flow[0] + "', trigger '" + op[0] + "') is " +
                  describe(result.newerStatus);
    if (result.newerEventId != 0 && !options.force) {
      result.message = "Event " + std::to_string(eventId) +
                       " was not replayed: it is superseded, as " + newerText + ".";
      s << "UPDATE inbox SET status = 'superseded', superseded_by = $1, finished_at = $2,"
           " lease_owner = '', lease_until = 0 WHERE id = $3",
          bind(static_cast<I64>(result.newerEventId)), bind(t), bind(id), now;
      recordReplayRun(s, id, flow[0], options.actor, attempts[0], "superseded", result.message,
                      t);
      countReplay(s, kSupersededKey, t);
      return result;
    }
    s << "UPDATE inbox SET status = 'queued', attempts = 0, interruptions = 0, available_at = $1,"
         " lease_owner = '', lease_until = 0, finished_at = 0 WHERE id = $2",
        bind(t), bind(id), now;
    result.queued = true;
    if (result.newerEventId != 0) {
      result.forced = true;
      result.message = "Event " + std::to_string(eventId) +
                       " is queued again although " + newerText +
                       "; forced, it runs its older version as it was.";
      recordReplayRun(s, id, flow[0], options.actor, attempts[0], "forced", result.message, t);
      countReplay(s, kForcedKey, t);
    } else {
      result.message = "Event " + std::to_string(eventId) + " is queued again.";
    }
    return result;
  });
}

ReplayCounts SqlStore::replayCounts() {
  return transact("replay counts", Tx::Read, [&](Session& s) {
    std::vector<std::string> keys, values;
    s << "SELECT state_key, state_value FROM plugin_state WHERE plugin = $1 AND conn = $2",
        bind(std::string(kCountPlugin)), bind(std::string(kCountConn)), into(keys), into(values),
        now;
    ReplayCounts counts;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::int64_t n = std::strtoll(values[i].c_str(), nullptr, 10);
      if (keys[i] == kSupersededKey) {
        counts.superseded = n;
      } else if (keys[i] == kForcedKey) {
        counts.forced = n;
      }
    }
    return counts;
  });
}

}  // namespace ferry::core::store

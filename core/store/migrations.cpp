#include "store/sql_store.hpp"

namespace ferry::core::store {

// Append-only: a released migration is never edited; a change is a new version. Every column is
// NOT NULL with a neutral default (cpp-stack.md #13: no NULL handling in the extractors), times
// are epoch microseconds (BIGINT, #12), JSON is stored as text.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {
      {1,
       "inbox, journal, correlations, poll cursors, dead letters",
       {
           "CREATE TABLE inbox ("
           " id {ID},"
           " source TEXT NOT NULL,"
           " source_event_id TEXT NOT NULL,"
           " flow_id TEXT NOT NULL,"
           " trigger_op TEXT NOT NULL,"
           " record_key TEXT NOT NULL,"
           " payload TEXT NOT NULL,"
           " raw_body {BLOB},"
           " received_at BIGINT NOT NULL,"
           " available_at BIGINT NOT NULL,"
           " attempts INTEGER NOT NULL DEFAULT 0,"
           " status TEXT NOT NULL,"
           " lease_owner TEXT NOT NULL DEFAULT '',"
           " lease_until BIGINT NOT NULL DEFAULT 0,"
           " last_error TEXT NOT NULL DEFAULT '',"
           " superseded_by BIGINT NOT NULL DEFAULT 0,"
           " finished_at BIGINT NOT NULL DEFAULT 0,"
           " UNIQUE (source, source_event_id))",
           // Only unfinished events are indexed: the claim query and the per-key order check.
           "CREATE INDEX inbox_open ON inbox (id) WHERE status IN ('queued', 'running')",
           "CREATE INDEX inbox_open_key ON inbox (record_key, id)"
           " WHERE status IN ('queued', 'running')",
           "CREATE INDEX inbox_received ON inbox (received_at)",
           "CREATE TABLE journal ("
           " event_id BIGINT NOT NULL,"
           " step_id TEXT NOT NULL,"
           " idempotency_key TEXT NOT NULL,"
           " status TEXT NOT NULL,"
           " attempts INTEGER NOT NULL DEFAULT 1,"
           " request TEXT NOT NULL DEFAULT 'null',"
           " output TEXT NOT NULL DEFAULT 'null',"
           " response TEXT NOT NULL DEFAULT 'null',"
           " started_at BIGINT NOT NULL,"
           " finished_at BIGINT NOT NULL DEFAULT 0,"
           " PRIMARY KEY (event_id, step_id))",
           "CREATE TABLE correlations ("
           " kind TEXT NOT NULL,"
           " source_system TEXT NOT NULL,"
           " source_id TEXT NOT NULL,"
           " target_system TEXT NOT NULL,"
           " target_id TEXT NOT NULL,"
           " created_at BIGINT NOT NULL,"
           " updated_at BIGINT NOT NULL,"
           " PRIMARY KEY (kind, source_system, source_id, target_system))",
           "CREATE INDEX correlations_reverse ON correlations (kind, target_system, target_id)",
           "CREATE TABLE poll_cursors ("
           " trigger_key TEXT PRIMARY KEY,"
           " cursor_json TEXT NOT NULL,"
           " updated_at BIGINT NOT NULL)",
           "CREATE TABLE dead_letters ("
           " event_id BIGINT PRIMARY KEY,"
           " reason TEXT NOT NULL,"
           " request TEXT NOT NULL,"
           " response TEXT NOT NULL,"
           " dead_at BIGINT NOT NULL)",
       }},
      {2,
       "rate budgets, run history, plugin state",
       {
           "CREATE TABLE rate_budgets ("
           " conn TEXT NOT NULL,"
           " bucket TEXT NOT NULL,"
           " window_start BIGINT NOT NULL,"
           " used BIGINT NOT NULL DEFAULT 0,"
           " remote_remaining BIGINT NOT NULL DEFAULT -1,"
           " remote_reset_at BIGINT NOT NULL DEFAULT 0,"
           " updated_at BIGINT NOT NULL,"
           " PRIMARY KEY (conn, bucket))",
           "CREATE TABLE runs ("
           " id {ID},"
           " event_id BIGINT NOT NULL,"
           " flow_id TEXT NOT NULL,"
           " flow_version TEXT NOT NULL,"
           " flow_hash TEXT NOT NULL,"
           " worker_id TEXT NOT NULL,"
           " attempt INTEGER NOT NULL,"
           " status TEXT NOT NULL,"
           " error TEXT NOT NULL DEFAULT '',"
           " started_at BIGINT NOT NULL,"
           " finished_at BIGINT NOT NULL DEFAULT 0)",
           "CREATE INDEX runs_event ON runs (event_id)",
           "CREATE INDEX runs_flow ON runs (flow_id, id)",
           "CREATE TABLE run_steps ("
           " run_id BIGINT NOT NULL,"
           " step_id TEXT NOT NULL,"
           " seq INTEGER NOT NULL,"
           " status TEXT NOT NULL,"
           " attempts INTEGER NOT NULL,"
           " started_at BIGINT NOT NULL,"
           " finished_at BIGINT NOT NULL,"
           " request TEXT NOT NULL,"
           " response TEXT NOT NULL,"
           " error TEXT NOT NULL,"
           " PRIMARY KEY (run_id, step_id))",
           "CREATE TABLE plugin_state ("
           " plugin TEXT NOT NULL,"
           " conn TEXT NOT NULL,"
           " state_key TEXT NOT NULL,"
           " state_value TEXT NOT NULL,"
           " updated_at BIGINT NOT NULL,"
           " PRIMARY KEY (plugin, conn, state_key))",
       }},
      {3,
       "flow versions: each flow file's content per hash (the mapping changelog)",
       {
           "CREATE TABLE flow_versions ("
           " flow_id TEXT NOT NULL,"
           " flow_hash TEXT NOT NULL,"
           " flow_version TEXT NOT NULL,"
           " path TEXT NOT NULL DEFAULT '',"
           " content TEXT NOT NULL,"
           " recorded_at BIGINT NOT NULL,"
           " PRIMARY KEY (flow_id, flow_hash))",
           "CREATE INDEX runs_flow_hash ON runs (flow_id, flow_hash)",
       }},
      {4,
       "queue depth from an index: the open events by status and age",
       {
           // queueStats (asked per webhook delivery) counts and dates the open events from this
           // index alone instead of visiting their rows (payload included): O(queue) small
           // index entries, the oldest one a seek, where it read the whole backlog's rows.
           "CREATE INDEX inbox_open_status ON inbox (status, received_at)"
           " WHERE status IN ('queued', 'running')",
       }},
      {5,
       "interruptions: the runs of an event a dead worker or a lost lease left unfinished",
       {
           // Counted apart from attempts so that an event crashing its worker every time is set
           // aside after limits.max_interruptions (the engine's check after a claim).
           "ALTER TABLE inbox ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0",
       }},
  };
  return all;
}

}  // namespace ferry::core::store

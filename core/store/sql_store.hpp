#pragma once

// The engine-independent half of the store: every operation written once in SQL that both
// SQLite (3.40) and PostgreSQL (15) accept, with `$n` placeholders in first-use order
// (cpp-stack.md #9; SQLite numbers `$n` by first appearance, so a placeholder is never
// repeated). The engines supply sessions, transactions, locking clauses, migrations and error
// mapping.

#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Poco/Data/Session.h>

#include "store/sql_exec.hpp"
#include "store/store.hpp"

namespace ferry::core::store {

// One schema version: SQL statements run in order in one transaction. `{ID}` and `{BLOB}` are
// replaced by the engine's auto-increment primary key and binary column types.
struct Migration {
  int version;
  const char* description;
  std::vector<std::string> statements;
};

// The migrations every engine runs, oldest first (defined in migrations.cpp).
const std::vector<Migration>& migrations();

// The inverse of toString(EventStatus), for the inbox's status column; Internal on an unknown
// status.
EventStatus parseEventStatus(const std::string& status);

class SqlStore : public Store {
 public:
  int schemaVersion() override;

  EnqueueResult enqueue(const NewEvent& event) override;
  std::optional<Event> getEvent(EventId id) override;
  std::vector<Claimed> claim(const std::string& workerId, const ClaimOptions& options) override;
  Lease renew(const Lease& lease, std::chrono::microseconds duration) override;
  void complete(const Lease& lease) override;
  void retryLater(const Lease& lease, TimeUs availableAt, const std::string& reason) override;
  void deadLetter(const Lease& lease, const std::string& reason, const Json& request,
                  const Json& response) override;
  QueueStats queueStats() override;
  std::int64_t releaseLeases(const std::string& ownerPrefix) override;
  std::int64_t purge(TimeUs before) override;

  std::optional<JournalEntry> journalGet(EventId eventId, const std::string& stepId) override;
  std::vector<JournalEntry> journalList(EventId eventId) override;
  JournalEntry journalBegin(EventId eventId, const std::string& stepId,
                            const std::string& idempotencyKey, const Json& request) override;
  void journalFinish(EventId eventId, const std::string& stepId, StepStatus status,
                     const Json& output, const Json& response) override;

  CorrelateResult correlate(const Correlation& mapping, bool replace) override;
  std::optional<std::string> lookup(const std::string& kind, const std::string& sourceSystem,
                                    const std::string& sourceId,
                                    const std::string& targetSystem) override;
  std::vector<Correlation> reverseLookup(const std::string& kind, const std::string& targetSystem,
                                         const std::string& targetId) override;
  void uncorrelate(const std::string& kind, const std::string& sourceSystem,
                   const std::string& sourceId, const std::string& targetSystem) override;

  std::optional<Json> pollCursor(const std::string& triggerKey) override;
  std::vector<EnqueueResult> commitPoll(const std::string& triggerKey, const Json& cursor,
                                        const std::vector<NewEvent>& events) override;
  std::optional<std::vector<EnqueueResult>> commitPollFrom(  // poll_guard.cpp
      const std::string& triggerKey, const Json& from, const Json& cursor,
      const std::vector<NewEvent>& events) override;

  TokenGrant takeToken(const std::string& connection, const std::string& bucket, TimeUs now,
                       std::int64_t capacityPerInterval,
                       std::chrono::microseconds interval) override;
  void recordLimits(const std::string& connection, const std::string& bucket,
                    std::int64_t remaining, TimeUs resetAt) override;
  std::vector<BudgetState> rateBudgets() override;

  std::vector<DeadLetter> listDeadLetters(int limit, EventId afterId) override;
  std::optional<DeadLetter> getDeadLetter(EventId eventId) override;
  void replayDeadLetter(EventId eventId) override;
  void discardDeadLetter(EventId eventId) override;
  ReplayResult replayDeadLetterGuarded(EventId eventId,  // replay_guard.cpp
                                       const ReplayOptions& options) override;
  ReplayCounts replayCounts() override;  // replay_guard.cpp

  RunId beginRun(const RunStart& run) override;
  void recordStep(RunId run, const StepRecord& step) override;
  void finishRun(RunId run, const std::string& status, const std::string& error,
                 TimeUs finishedAt) override;
  void finishStep(const StepFinish& step) override;
  void finishEvent(RunId run, const Lease& lease, const std::string& status,
                   const std::string& error) override;
  std::optional<Run> getRun(RunId run) override;
  std::vector<Run> listRuns(const RunFilter& filter) override;

  void recordFlowVersion(const FlowVersion& version) override;  // flow_versions.cpp
  std::optional<FlowVersion> getFlowVersion(const std::string& flowId,
                                            const std::string& hash) override;
  std::vector<FlowVersionUse> flowHistory(const std::string& flowId) override;

  std::optional<std::string> stateGet(const std::string& plugin, const std::string& connection,
                                      const std::string& key) override;
  void statePut(const std::string& plugin, const std::string& connection, const std::string& key,
                const std::string& value) override;
  void stateErase(const std::string& plugin, const std::string& connection,
                  const std::string& key) override;

 protected:
  explicit SqlStore(Options options) : options_(std::move(options)) {}

  enum class Tx { Read, Write };
  // Runs body on a session. Write: inside one write transaction, committed when body returns
  // and rolled back when it throws. Maps every database exception to StoreError (naming `op`).
  // The engine may run body again after a transient failure (deadlock, lost connection), so
  // body must not keep state across calls.
  virtual void run(const char* op, Tx tx,
                   const std::function<void(Poco::Data::Session&)>& body) = 0;
  // Runs one statement of a body on the body's session, straight on the engine's C API
  // (sql_exec.hpp). Throws what Poco would have thrown for the same failure, so run()'s error
  // mapping and retries see no difference.
  SqlRows exec(Poco::Data::Session& session, std::string_view sql,
               std::initializer_list<SqlParam> params = {}) {
    return execute(session, sql, std::span<const SqlParam>(params.begin(), params.size()));
  }
  virtual SqlRows execute(Poco::Data::Session& session, std::string_view sql,
                          std::span<const SqlParam> params) = 0;
  // " FOR UPDATE" where the engine has row locks, else "" (SQLite: the write lock covers all).
  virtual std::string forUpdate() const = 0;
  // " FOR UPDATE OF e SKIP LOCKED" for the claim query, else "".
  virtual std::string skipLocked() const = 0;
  // Serialises enqueues of one record key so that ids of one key grow in commit order.
  virtual void lockRecordKey(Poco::Data::Session& session, const std::string& key) = 0;
  // Serialises concurrent migrations of one database.
  virtual void lockMigrations(Poco::Data::Session& session) = 0;
  virtual std::string idColumn() const = 0;    // auto-increment BIGINT primary key
  virtual std::string blobColumn() const = 0;  // binary column type

  // Brings the schema to options_.migrateTo (or the newest); throws SchemaTooNew.
  void migrate();

  template <class F>
  auto transact(const char* op, Tx tx, F&& body) {
    using R = std::invoke_result_t<F&, Poco::Data::Session&>;
    if constexpr (std::is_void_v<R>) {
      run(op, tx, [&](Poco::Data::Session& s) { body(s); });
    } else {
      std::optional<R> out;
      run(op, tx, [&](Poco::Data::Session& s) { out.emplace(body(s)); });
      return std::move(*out);
    }
  }

  TimeUs nowUs() const { return options_.clock(); }

  Options options_;

 private:
  int readVersion(Poco::Data::Session& session);
  EnqueueResult insertEvent(Poco::Data::Session& session, const NewEvent& event);
  std::optional<Event> loadEvent(Poco::Data::Session& session, EventId id);
  [[noreturn]] void throwLeaseGone(Poco::Data::Session& session, const Lease& lease);
  void updateLeased(Poco::Data::Session& session, const Lease& lease, std::string_view update,
                    std::initializer_list<SqlParam> params);
  // The bodies of the write calls that finishStep and finishEvent combine.
  void completeIn(Poco::Data::Session& session, const Lease& lease);
  void journalBeginIn(Poco::Data::Session& session, EventId eventId, const std::string& stepId,
                      const std::string& idempotencyKey, const Json& request);
  void journalFinishIn(Poco::Data::Session& session, EventId eventId, const std::string& stepId,
                       StepStatus status, const Json& output, const Json& response);
  CorrelateResult correlateIn(Poco::Data::Session& session, const Correlation& mapping,
                              bool replace);
  void recordStepIn(Poco::Data::Session& session, RunId run, const StepRecord& step);
  void finishRunIn(Poco::Data::Session& session, RunId run, const std::string& status,
                   const std::string& error, TimeUs finishedAt);
  void statePutIn(Poco::Data::Session& session, const std::string& plugin,
                  const std::string& connection, const std::string& key, const std::string& value);
  std::optional<DeadLetter> loadDeadLetter(Poco::Data::Session& session, EventId eventId);
};

}  // namespace ferry::core::store

#pragma once

// The SQLite engine: one WAL file, synchronous=FULL. One connection per Store object, shared by
// the threads that call it (one at a time); several Store objects (threads or processes) may
// share the file, and writers then serialise on SQLite's write lock (BEGIN IMMEDIATE, busy
// timeout Options::busyTimeout).
//
// Group commit: write calls made concurrently on one Store share one transaction and one fsync.
// A write call that finds a batch transaction open runs its body inside it under its own
// SAVEPOINT; when its body is done it leaves the COMMIT to the next writer if one is waiting for
// the connection (and waits for the batch's outcome), else it commits the batch itself. Every
// write call still returns only after its changes are committed with synchronous=FULL:
// - a body that throws rolls back its own savepoint only and gets its own error; the others of
//   the batch are unaffected;
// - a failed COMMIT (disk full, I/O error) fails every call of the batch with that error (none
//   of them was committed) and the batch is rolled back;
// - if SQLite rolls the whole transaction back on a body's error (some full-disk and I/O errors
//   do), every call of the batch fails the same way.
// A batch ends after kMaxBatch calls.
// Reads (Tx::Read) run on a second, query-only connection of the same file, each in its own
// read transaction (one snapshot): WAL lets them read the last committed state while a batch is
// open, so they neither wait for a batch nor end it early, and never see uncommitted data. A
// write call returns only once committed, so a read that starts after it sees its changes.
// Until that connection is open (migrations), reads run on the write connection between
// batches (a waiting reader then ends the open batch).
// Statements run on sqlite3 directly (sql_exec.hpp), each connection keeping its prepared
// statements by SQL text: an event's statements are compiled once per process, not per call.

#include <condition_variable>
#include <memory>
#include <mutex>

#include "store/sql_store.hpp"

namespace ferry::core::store {

class SqliteStore : public SqlStore {
 public:
  SqliteStore(const std::string& path, Options options);
  ~SqliteStore() override;

  std::string engine() const override { return "sqlite"; }
  // Caps the file at `pages` pages (PRAGMA max_page_count): lets tests simulate a full disk.
  void maxPageCount(std::int64_t pages);

  // The most write calls one batch transaction takes before it commits.
  static constexpr int kMaxBatch = 64;

  // Writer lock of one database file, shared by the Stores of this process: a FIFO ticket lock
  // that any thread may release (a batch may be begun by one thread and committed by another).
  class FileLock;
  struct Batch;

 protected:
  void run(const char* op, Tx tx, const std::function<void(Poco::Data::Session&)>& body) override;
  SqlRows execute(Poco::Data::Session& session, std::string_view sql,
                  std::span<const SqlParam> params) override;
  std::string forUpdate() const override { return ""; }
  std::string skipLocked() const override { return ""; }
  void lockRecordKey(Poco::Data::Session&, const std::string&) override {}
  void lockMigrations(Poco::Data::Session&) override {}
  std::string idColumn() const override { return "INTEGER PRIMARY KEY AUTOINCREMENT"; }
  std::string blobColumn() const override { return "BLOB"; }

 private:
  void write(const char* op, const std::function<void(Poco::Data::Session&)>& body);
  void read(const char* op, const std::function<void(Poco::Data::Session&)>& body);
  // A read on the write connection, between batches (migrations; PRAGMAs of that connection).
  void readOnWriter(const char* op, const std::function<void(Poco::Data::Session&)>& body);
  void openReader();
  // Ends the open batch (COMMIT, or ROLLBACK when `poisoned`), releases the file lock and wakes
  // the batch's waiting members. Called without mutex_ held, by the thread using the connection.
  void endBatch(const std::shared_ptr<Batch>& batch, bool poisoned, const StoreError* cause);

  // The prepared statements of one connection, used by whoever holds that connection.
  class Statements;

  std::string path_;
  std::mutex mutex_;  // guards the fields below (not the connection: busy_ does)
  std::condition_variable cv_;
  bool busy_ = false;  // a thread is using session_
  int writersWaiting_ = 0;
  int readersWaiting_ = 0;
  std::shared_ptr<Batch> batch_;        // the open batch transaction, if any
  std::shared_ptr<FileLock> fileLock_;  // shared by all Stores of this file in this process
  std::unique_ptr<Poco::Data::Session> session_;
  std::mutex readMutex_;  // one read at a time on readSession_
  std::unique_ptr<Poco::Data::Session> readSession_;  // query-only; opened after migrations
  // Declared after the sessions: finalized before their connections close.
  std::unique_ptr<Statements> writeStatements_;
  std::unique_ptr<Statements> readStatements_;
};

}  // namespace ferry::core::store

#include "store/sqlite_store.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <variant>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <sqlite3.h>

namespace ferry::core::store {

using namespace Poco::Data::Keywords;
using Poco::Data::Session;

class SqliteStore::FileLock {
 public:
  void acquire() {
    std::unique_lock lock(mutex_);
    const std::uint64_t ticket = next_++;
    cv_.wait(lock, [&] { return serving_ == ticket; });
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      ++serving_;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t next_ = 0;
  std::uint64_t serving_ = 0;
};

// One batch transaction. Guarded by the Store's mutex_.
struct SqliteStore::Batch {
  int members = 0;  // write calls that ran their body in it
  bool done = false;
  bool failed = false;  // COMMIT failed or the transaction was rolled back: nothing was stored
  ErrorKind kind = ErrorKind::Internal;
  std::string reason;
};

class SqliteStore::Statements {
 public:
  explicit Statements(sqlite3* db) : db_(db) {}
  Statements(const Statements&) = delete;
  Statements& operator=(const Statements&) = delete;
  ~Statements() { clear(); }

  sqlite3* db() const { return db_; }

  // The prepared statement for `sql`, compiled on first use. Throws Poco's SQLite exception for
  // the error, as a Poco statement would.
  sqlite3_stmt* get(std::string_view sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) {
      return it->second;
    }
    if (cache_.size() >= kMaxStatements) {
      clear();  // only built SQL (runs filters) grows the set; start over rather than grow
    }
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) {
      Poco::Data::SQLite::Utility::throwException(db_, rc & 0xff, std::string(sql));
    }
    const std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
    if (stmt == nullptr || rest.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      sqlite3_finalize(stmt);
      throw StoreError(ErrorKind::Internal,
                       "SQLite store: one statement per call, not: " + std::string(sql));
    }
    // Checked once here so that execute() binds by position: SQLite numbers `$n` by first
    // appearance, which is n only when they appear in order, each once (sql_store.hpp).
    for (int i = 1; i <= sqlite3_bind_parameter_count(stmt); ++i) {
      const char* name = sqlite3_bind_parameter_name(stmt, i);
      if (name == nullptr || "$" + std::to_string(i) != name) {
        sqlite3_finalize(stmt);
        throw StoreError(ErrorKind::Internal, "SQLite store: placeholder " + std::to_string(i) +
                                                  " is not $" + std::to_string(i) +
                                                  " in: " + std::string(sql));
      }
    }
    cache_.emplace(std::string(sql), stmt);
    return stmt;
  }

 private:
  static constexpr std::size_t kMaxStatements = 256;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void clear() {
    for (auto& [sql, stmt] : cache_) {
      sqlite3_finalize(stmt);
    }
    cache_.clear();
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, Hash, std::equal_to<>> cache_;
};

namespace {

std::once_flag registered;

// One write lock per database file in this process. Store objects of one process queue on it
// (FIFO) instead of polling SQLite's busy handler, which can starve a writer for seconds when
// several threads write at once; other processes still meet the file lock and busy timeout.
std::shared_ptr<SqliteStore::FileLock> fileLockFor(const std::string& path) {
  static std::mutex registry;
  static std::map<std::string, std::weak_ptr<SqliteStore::FileLock>> locks;
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(path, ec);
  const std::string key = ec ? path : canonical.string();
  std::lock_guard guard(registry);
  auto& weak = locks[key];
  auto lock = weak.lock();
  if (!lock) {
    lock = std::make_shared<SqliteStore::FileLock>();
    weak = lock;
  }
  return lock;
}

// Maps SQLite's result codes (as Poco's exception types) to what the runtime acts on.
[[noreturn]] void rethrowMapped(const std::string& path, const char* op) {
  namespace sq = Poco::Data::SQLite;
  const std::string where = "SQLite store '" + path + "': " + op + ": ";
  try {
    throw;
  } catch (const StoreError&) {
    throw;
  } catch (const sq::DatabaseFullException& e) {
    throw StoreError(ErrorKind::Full, where + "the disk or database is full (" + e.displayText() +
                                          "); hint: free space on the file system");
  } catch (const sq::ReadOnlyException& e) {
    throw StoreError(ErrorKind::ReadOnly, where + "the database is read-only (" + e.displayText() +
                                              "); hint: check the permissions of the file and "
                                              "its directory");
  } catch (const sq::DBLockedException& e) {
    throw StoreError(ErrorKind::Busy,
                     where + "the database stayed locked (" + e.displayText() + ")");
  } catch (const sq::TableLockedException& e) {
    throw StoreError(ErrorKind::Busy, where + "a table stayed locked (" + e.displayText() + ")");
  } catch (const sq::CantOpenDBFileException& e) {
    throw StoreError(ErrorKind::Unavailable, where + "cannot open the file (" + e.displayText() +
                                                 "); hint: does the directory exist and is it "
                                                 "writable?");
  } catch (const sq::IOErrorException& e) {
    throw StoreError(ErrorKind::Unavailable, where + "I/O error (" + e.displayText() + ")");
  } catch (const sq::DBAccessDeniedException& e) {
    throw StoreError(ErrorKind::ReadOnly, where + "access denied (" + e.displayText() + ")");
  } catch (const Poco::Exception& e) {
    // SQLITE_FULL can surface as a generic error from COMMIT or a checkpoint.
    const std::string text = e.displayText();
    if (text.find("database or disk is full") != std::string::npos) {
      throw StoreError(ErrorKind::Full, where + "the disk or database is full (" + text + ")");
    }
    if (text.find("readonly") != std::string::npos || text.find("read-only") != std::string::npos) {
      throw StoreError(ErrorKind::ReadOnly, where + "the database is read-only (" + text + ")");
    }
    throw StoreError(ErrorKind::Internal, where + e.name() + ": " + text);
  } catch (const std::exception& e) {
    throw StoreError(ErrorKind::Internal, where + e.what());
  }
}

// The StoreError rethrowMapped makes of the exception being handled.
StoreError mappedError(const std::string& path, const char* op) {
  try {
    rethrowMapped(path, op);
  } catch (const StoreError& e) {
    return e;
  } catch (...) {
    // Not an exception type a body throws; still never leave the connection marked busy.
    return StoreError(ErrorKind::Internal,
                      "SQLite store '" + path + "': " + op + ": an unknown exception");
  }
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path, Options options)
    : SqlStore(std::move(options)), path_(path), fileLock_(fileLockFor(path)) {
  std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty() && !std::filesystem::is_directory(dir)) {
    throw StoreError(ErrorKind::Unavailable,
                     "SQLite store '" + path + "': the directory '" + dir.string() +
                         "' does not exist (hint: create it, or choose another store path)");
  }
  // Several workers opening a new file at once: switching it to WAL needs a moment alone with
  // the file, and SQLite answers SQLITE_BUSY at once (without its busy handler) to the others.
  // They try again until busyTimeout.
  const auto deadline = std::chrono::steady_clock::now() + options_.busyTimeout;
  for (;;) {
    try {
      session_ = std::make_unique<Session>("SQLite", path);
      std::vector<std::string> mode;
      std::vector<Poco::Int64> timeout;
      *session_ << "PRAGMA busy_timeout = " + std::to_string(options_.busyTimeout.count()),
          into(timeout), now;
      *session_ << "PRAGMA journal_mode = WAL", into(mode), now;
      // FULL: a committed enqueue survives a power cut, which a 2xx to the webhook promises.
      *session_ << "PRAGMA synchronous = FULL", now;
      writeStatements_ = std::make_unique<Statements>(
          Poco::Data::SQLite::Utility::dbHandle(*session_));
      break;
    } catch (const Poco::Data::SQLite::DBLockedException&) {
      writeStatements_.reset();
      session_.reset();
      if (std::chrono::steady_clock::now() >= deadline) {
        rethrowMapped(path, "open");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } catch (...) {
      // SQLite says only "unable to open database file"; name the usual cause.
      struct statvfs fs {};
      const std::string dirName = dir.empty() ? std::string(".") : dir.string();
      if ((::statvfs(dirName.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY) != 0) ||
          ::access(dirName.c_str(), W_OK) != 0) {
        throw StoreError(ErrorKind::ReadOnly,
                         "SQLite store '" + path + "': open: the directory '" + dirName +
                             "' is read-only (hint: SQLite needs to write the file and its -wal "
                             "and -shm companions there)");
      }
      rethrowMapped(path, "open");
    }
  }
  migrate();
  openReader();
}

SqliteStore::~SqliteStore() {
  // Before the connections close: SQLite keeps a connection with live statements open.
  writeStatements_.reset();
  readStatements_.reset();
}

SqlRows SqliteStore::execute(Session& session, std::string_view sql,
                             std::span<const SqlParam> params) {
  sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(session);
  Statements* statements = nullptr;
  for (Statements* candidate : {writeStatements_.get(), readStatements_.get()}) {
    if (candidate != nullptr && candidate->db() == db) {
      statements = candidate;
    }
  }
  if (statements == nullptr) {
    throw StoreError(ErrorKind::Internal, "SQLite store '" + path_ + "': an unknown connection");
  }
  sqlite3_stmt* stmt = statements->get(sql);
  // Reset whatever happens: a statement left stepping would hold its read transaction open.
  struct Reset {
    sqlite3_stmt* stmt;
    ~Reset() {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    }
  } reset{stmt};
  if (sqlite3_bind_parameter_count(stmt) != static_cast<int>(params.size())) {
    throw StoreError(ErrorKind::Internal,
                     "SQLite store: " + std::to_string(params.size()) + " values for " +
                         std::to_string(sqlite3_bind_parameter_count(stmt)) +
                         " placeholders in: " + std::string(sql));
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    const int index = static_cast<int>(i) + 1;  // `$index` (checked when prepared)
    const int rc = std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::int64_t>) {
            return sqlite3_bind_int64(stmt, index, v);
          } else if constexpr (std::is_same_v<T, std::string_view>) {
            // (A view without data is "", not NULL.)
            return sqlite3_bind_text64(stmt, index, v.data() != nullptr ? v.data() : "", v.size(),
                                       SQLITE_STATIC, SQLITE_UTF8);
          } else if constexpr (std::is_same_v<T, Bytes>) {
            return v.data.empty() ? sqlite3_bind_zeroblob(stmt, index, 0)
                                  : sqlite3_bind_blob64(stmt, index, v.data.data(), v.data.size(),
                                                        SQLITE_STATIC);
          } else {
            return sqlite3_bind_null(stmt, index);
          }
        },
        params[i]);
    if (rc != SQLITE_OK) {
      Poco::Data::SQLite::Utility::throwException(db, rc & 0xff, std::string(sql));
    }
  }
  const int columns = sqlite3_column_count(stmt);
  std::vector<std::optional<std::string>> cells;
  for (;;) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
      break;
    }
    if (rc != SQLITE_ROW) {
      Poco::Data::SQLite::Utility::throwException(db, rc & 0xff, std::string(sql));
    }
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL:
          cells.emplace_back(std::nullopt);
          break;
        case SQLITE_INTEGER:
          cells.emplace_back(std::to_string(sqlite3_column_int64(stmt, c)));
          break;
        case SQLITE_BLOB: {
          const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt, c));
          cells.emplace_back(std::string(bytes != nullptr ? bytes : "",
                                         static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))));
          break;
        }
        default: {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          cells.emplace_back(std::string(text != nullptr ? text : "",
                                         static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))));
        }
      }
    }
  }
  // (sqlite3_changes counts the last INSERT, UPDATE or DELETE: not this statement's if it read.)
  return SqlRows(static_cast<std::size_t>(columns),
                 sqlite3_stmt_readonly(stmt) != 0 ? 0 : sqlite3_changes64(db), std::move(cells));
}

void SqliteStore::openReader() {
  const auto deadline = std::chrono::steady_clock::now() + options_.busyTimeout;
  for (;;) {
    try {
      auto reader = std::make_unique<Session>("SQLite", path_);
      std::vector<Poco::Int64> timeout;
      *reader << "PRAGMA busy_timeout = " + std::to_string(options_.busyTimeout.count()),
          into(timeout), now;
      *reader << "PRAGMA query_only = 1", now;
      readStatements_ = std::make_unique<Statements>(
          Poco::Data::SQLite::Utility::dbHandle(*reader));
      readSession_ = std::move(reader);
      return;
    } catch (const Poco::Data::SQLite::DBLockedException&) {
      if (std::chrono::steady_clock::now() >= deadline) {
        rethrowMapped(path_, "open the read connection");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } catch (...) {
      rethrowMapped(path_, "open the read connection");
    }
  }
}

void SqliteStore::run(const char* op, Tx tx, const std::function<void(Session&)>& body) {
  if (tx == Tx::Read) {
    read(op, body);
  } else {
    write(op, body);
  }
}

void SqliteStore::read(const char* op, const std::function<void(Session&)>& body) {
  if (!readSession_) {
    readOnWriter(op, body);
    return;
  }
  std::lock_guard lock(readMutex_);
  Session& s = *readSession_;
  try {
    // One read transaction: the body's statements see one snapshot.
    s << "BEGIN", now;
  } catch (...) {
    rethrowMapped(path_, op);
  }
  try {
    body(s);
    s << "COMMIT", now;
  } catch (...) {
    try {
      s << "ROLLBACK", now;
    } catch (...) {
      // Nothing to undo: the read transaction is already gone.
    }
    rethrowMapped(path_, op);
  }
}

void SqliteStore::readOnWriter(const char* op, const std::function<void(Session&)>& body) {
  {
    std::unique_lock lock(mutex_);
    ++readersWaiting_;
    cv_.wait(lock, [&] { return !busy_ && !batch_; });
    --readersWaiting_;
    busy_ = true;
  }
  std::exception_ptr failure;
  try {
    body(*session_);
  } catch (...) {
    failure = std::current_exception();
  }
  {
    std::lock_guard lock(mutex_);
    busy_ = false;
  }
  cv_.notify_all();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (...) {
      rethrowMapped(path_, op);
    }
  }
}

void SqliteStore::write(const char* op, const std::function<void(Session&)>& body) {
  Session& s = *session_;
  std::unique_lock lock(mutex_);
  ++writersWaiting_;
  // Between batches a waiting reader goes first (it would otherwise wait for a whole batch).
  cv_.wait(lock, [&] { return !busy_ && (batch_ || readersWaiting_ == 0); });
  --writersWaiting_;
  busy_ = true;
  std::shared_ptr<Batch> batch = batch_;
  if (!batch) {
    lock.unlock();
    fileLock_->acquire();
    try {
      // IMMEDIATE takes the write lock up front: the transaction is the only writer from its
      // first read on, so claim's read-then-update needs no row locks.
      s << "BEGIN IMMEDIATE", now;
    } catch (...) {
      fileLock_->release();
      {
        std::lock_guard guard(mutex_);
        busy_ = false;
      }
      cv_.notify_all();
      rethrowMapped(path_, op);
    }
    lock.lock();
    batch = batch_ = std::make_shared<Batch>();
  }
  ++batch->members;
  lock.unlock();

  // This call's own outcome: its body under a savepoint of the batch transaction.
  std::optional<StoreError> own;
  bool poisoned = false;  // the batch transaction is gone (SQLite rolled it back)
  try {
    s << "SAVEPOINT ferry_call", now;
    try {
      body(s);
      s << "RELEASE ferry_call", now;
    } catch (...) {
      own = mappedError(path_, op);
      try {
        s << "ROLLBACK TO ferry_call", now;
        s << "RELEASE ferry_call", now;
      } catch (...) {
        poisoned = true;  // "no such savepoint": the whole transaction was rolled back
      }
    }
  } catch (...) {
    own = mappedError(path_, op);  // SAVEPOINT itself failed
    poisoned = true;
  }

  lock.lock();
  if (!poisoned && writersWaiting_ > 0 && readersWaiting_ == 0 &&
      batch->members < kMaxBatch) {
    // Leave the commit to the next writer, which joins this batch.
    busy_ = false;
    cv_.notify_all();
    if (own) {
      throw *own;  // its savepoint is rolled back: the batch's fate does not change its answer
    }
    cv_.wait(lock, [&] { return batch->done; });
    if (batch->failed) {
      throw StoreError(batch->kind, "SQLite store '" + path_ + "': " + op +
                                        ": nothing was stored: " + batch->reason);
    }
    return;
  }
  lock.unlock();
  endBatch(batch, poisoned, own ? &*own : nullptr);
  if (own) {
    throw *own;
  }
  if (batch->failed) {  // written by this thread in endBatch
    throw StoreError(batch->kind, "SQLite store '" + path_ + "': " + op +
                                      ": nothing was stored: " + batch->reason);
  }
}

void SqliteStore::endBatch(const std::shared_ptr<Batch>& batch, bool poisoned,
                           const StoreError* cause) {
  Session& s = *session_;
  bool failed = false;
  ErrorKind kind = ErrorKind::Internal;
  std::string reason;
  if (poisoned) {
    failed = true;
    kind = cause != nullptr ? cause->kind() : ErrorKind::Internal;
    reason = "the transaction it shared with other calls was rolled back after an error (" +
             std::string(cause != nullptr ? cause->what() : "unknown") + ")";
  } else {
    try {
      s << "COMMIT", now;
    } catch (...) {
      const StoreError error = mappedError(path_, "commit");
      failed = true;
      kind = error.kind();
      reason = std::string("the commit of its transaction failed (") + error.what() + ")";
    }
  }
  if (failed) {
    try {
      s << "ROLLBACK", now;
    } catch (...) {
      // The transaction may already be gone (SQLite rolls back on some I/O errors).
    }
  }
  fileLock_->release();
  {
    std::lock_guard lock(mutex_);
    batch->done = true;
    batch->failed = failed;
    batch->kind = kind;
    batch->reason = reason;
    batch_.reset();
    busy_ = false;
  }
  cv_.notify_all();
}

void SqliteStore::maxPageCount(std::int64_t pages) {
  readOnWriter("max page count", [&](Session& s) {
    std::vector<Poco::Int64> result;
    s << "PRAGMA max_page_count = " + std::to_string(pages), into(result), now;
  });
}

}  // namespace ferry::core::store

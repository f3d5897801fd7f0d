#include "store/sqlite_store.hpp"

#include <filesystem>
#include <map>
#include <mutex>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>

namespace ferry::core::store {

using namespace Poco::Data::Keywords;
using Poco::Data::Session;

namespace {

std::once_flag registered;

// One write lock per database file in this process. Store objects of one process queue on it
// (fairly) instead of polling SQLite's busy handler, which can starve a writer for seconds when
// several threads write at once; other processes still meet the file lock and busy timeout.
std::shared_ptr<std::mutex> writeLockFor(const std::string& path) {
  static std::mutex registry;
  static std::map<std::string, std::weak_ptr<std::mutex>> locks;
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(path, ec);
  const std::string key = ec ? path : canonical.string();
  std::lock_guard guard(registry);
  auto& weak = locks[key];
  auto lock = weak.lock();
  if (!lock) {
    lock = std::make_shared<std::mutex>();
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
    throw StoreError(ErrorKind::Busy, where + "the database stayed locked (" + e.displayText() + ")");
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

}  // namespace

SqliteStore::SqliteStore(const std::string& path, Options options)
    : SqlStore(std::move(options)), path_(path), writeLock_(writeLockFor(path)) {
  std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty() && !std::filesystem::is_directory(dir)) {
    throw StoreError(ErrorKind::Unavailable,
                     "SQLite store '" + path + "': the directory '" + dir.string() +
                         "' does not exist (hint: create it, or choose another store path)");
  }
  try {
    session_ = std::make_unique<Session>("SQLite", path);
    std::vector<std::string> mode;
    std::vector<Poco::Int64> timeout;
    *session_ << "PRAGMA busy_timeout = " + std::to_string(options_.busyTimeout.count()),
        into(timeout), now;
    *session_ << "PRAGMA journal_mode = WAL", into(mode), now;
    // FULL: a committed enqueue survives a power cut, which a 2xx to the webhook promises.
    *session_ << "PRAGMA synchronous = FULL", now;
  } catch (...) {
    rethrowMapped(path, "open");
  }
  migrate();
}

SqliteStore::~SqliteStore() = default;

void SqliteStore::run(const char* op, Tx tx, const std::function<void(Session&)>& body) {
  std::lock_guard lock(mutex_);
  Session& s = *session_;
  if (tx == Tx::Read) {
    try {
      body(s);
    } catch (...) {
      rethrowMapped(path_, op);
    }
    return;
  }
  std::lock_guard writer(*writeLock_);
  try {
    // IMMEDIATE takes the write lock up front: the transaction is the only writer from its
    // first read on, so claim's read-then-update needs no row locks.
    s << "BEGIN IMMEDIATE", now;
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
      // The transaction may already be gone (SQLite rolls back on some I/O errors).
    }
    rethrowMapped(path_, op);
  }
}

void SqliteStore::maxPageCount(std::int64_t pages) {
  std::lock_guard lock(mutex_);
  std::vector<Poco::Int64> result;
  *session_ << "PRAGMA max_page_count = " + std::to_string(pages), into(result), now;
}

}  // namespace ferry::core::store

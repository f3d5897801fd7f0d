#pragma once

// The SQLite engine: one WAL file, synchronous=FULL. One connection per Store object, every call
// serialised by a mutex; several Store objects (threads or processes) may share the file, and
// writers then serialise on SQLite's write lock (BEGIN IMMEDIATE, busy timeout Options::busyTimeout).

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

 protected:
  void run(const char* op, Tx tx, const std::function<void(Poco::Data::Session&)>& body) override;
  std::string forUpdate() const override { return ""; }
  std::string skipLocked() const override { return ""; }
  void lockRecordKey(Poco::Data::Session&, const std::string&) override {}
  void lockMigrations(Poco::Data::Session&) override {}
  std::string idColumn() const override { return "INTEGER PRIMARY KEY AUTOINCREMENT"; }
  std::string blobColumn() const override { return "BLOB"; }

 private:
  std::string path_;
  std::mutex mutex_;
  std::shared_ptr<std::mutex> writeLock_;  // shared by all Stores of this file in this process
  std::unique_ptr<Poco::Data::Session> session_;
};

}  // namespace ferry::core::store

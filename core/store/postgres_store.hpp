#pragma once

// The PostgreSQL engine: several `ferry run` processes share one database. A Poco SessionPool of
// Options::poolSize connections; write transactions run at READ COMMITTED and lock rows
// (FOR UPDATE, FOR UPDATE SKIP LOCKED for claims, an advisory lock per record key for enqueues).
// A call waits (up to Options::busyTimeout, then Busy) for a free pooled connection: more
// threads than connections queue instead of failing.

#include <condition_variable>
#include <memory>
#include <mutex>

#include <Poco/Data/SessionPool.h>

#include "store/sql_store.hpp"

namespace ferry::core::store {

class PostgresStore : public SqlStore {
 public:
  PostgresStore(const std::string& connection, Options options);
  ~PostgresStore() override;

  std::string engine() const override { return "postgresql"; }

 protected:
  void run(const char* op, Tx tx, const std::function<void(Poco::Data::Session&)>& body) override;
  std::string forUpdate() const override { return " FOR UPDATE"; }
  std::string skipLocked() const override { return " FOR UPDATE OF e SKIP LOCKED"; }
  void lockRecordKey(Poco::Data::Session& session, const std::string& key) override;
  void lockMigrations(Poco::Data::Session& session) override;
  std::string idColumn() const override { return "BIGSERIAL PRIMARY KEY"; }
  std::string blobColumn() const override { return "BYTEA"; }

 private:
  // Throws Unavailable without opening a connection when the pool would have to connect and
  // the server does not answer.
  void refuseIfServerSilent();

  std::string connection_;  // libpq's connection string, password included: never logged
  std::string redacted_;
  std::unique_ptr<Poco::Data::SessionPool> pool_;
  // Free pooled connections: run() takes one before pool_->get() and gives it back after.
  std::mutex slotsMutex_;
  std::condition_variable slotsFree_;
  int slots_ = 0;
};

}  // namespace ferry::core::store

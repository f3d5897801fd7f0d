#pragma once

// The PostgreSQL engine: several `ferry run` processes share one database. A pool of up to
// Options::poolSize Poco sessions; write transactions run at READ COMMITTED and lock rows
// (FOR UPDATE, FOR UPDATE SKIP LOCKED for claims, an advisory lock per record key for enqueues).
// A call waits (up to Options::busyTimeout, then Busy) for a free pooled connection: more
// threads than connections queue instead of failing. Statements run on the session's libpq
// connection with PQexecParams (sql_exec.hpp): one round trip each.

#include <condition_variable>
#include <mutex>
#include <vector>

#include <Poco/Data/Session.h>

#include "store/sql_store.hpp"

namespace ferry::core::store {

class PostgresStore : public SqlStore {
 public:
  PostgresStore(const std::string& connection, Options options);
  ~PostgresStore() override;

  std::string engine() const override { return "postgresql"; }

 protected:
  void run(const char* op, Tx tx, const std::function<void(Poco::Data::Session&)>& body) override;
  SqlRows execute(Poco::Data::Session& session, std::string_view sql,
                  std::span<const SqlParam> params) override;
  std::string forUpdate() const override { return " FOR UPDATE"; }
  std::string skipLocked() const override { return " FOR UPDATE OF e SKIP LOCKED"; }
  void lockRecordKey(Poco::Data::Session& session, const std::string& key) override;
  void lockMigrations(Poco::Data::Session& session) override;
  std::string idColumn() const override { return "BIGSERIAL PRIMARY KEY"; }
  std::string blobColumn() const override { return "BYTEA"; }

 private:
  // An idle connection, or a new one when none is idle. Throws Unavailable without trying to
  // connect when the server does not answer.
  Poco::Data::Session acquire();
  // Back to the idle ones when it is still connected and outside a transaction; else closed.
  void release(Poco::Data::Session& session);

  std::string connection_;  // libpq's connection string, password included: never logged
  std::string redacted_;
  // Free connection slots: run() takes one before acquire() and gives it back after release().
  std::mutex slotsMutex_;
  std::condition_variable slotsFree_;
  int slots_ = 0;
  std::mutex idleMutex_;
  std::vector<Poco::Data::Session> idle_;
};

}  // namespace ferry::core::store

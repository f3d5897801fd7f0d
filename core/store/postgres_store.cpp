#include "store/postgres_store.hpp"

#include <mutex>

#include <Poco/Data/DataException.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/PostgreSQL/PostgreSQLException.h>
#include <Poco/Data/SessionPool.h>
#include <libpq-fe.h>

namespace ferry::core::store {

using namespace Poco::Data::Keywords;
using Poco::Data::Session;

namespace {

std::once_flag registered;

bool mentions(const std::string& text, std::initializer_list<const char*> needles) {
  for (const char* n : needles) {
    if (text.find(n) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Retried inside run(): the transaction was rolled back and may simply be run again.
bool isTransientConflict(const std::string& text) {
  return mentions(text, {"40001", "40P01", "deadlock detected", "could not serialize"});
}

StoreError mapped(const std::string& where, const char* op) {
  const std::string at = "PostgreSQL store (" + where + "): " + op + ": ";
  try {
    throw;
  } catch (const StoreError& e) {
    return e;
  } catch (const Poco::Data::SessionPoolExhaustedException& e) {
    return StoreError(ErrorKind::Busy, at + "all pooled connections are in use (" +
                                           e.displayText() + "); hint: raise the pool size");
  } catch (const Poco::Data::ConnectionFailedException& e) {
    return StoreError(ErrorKind::Unavailable, at + "cannot connect (" + e.displayText() +
                                                  "); hint: is the server running and reachable, "
                                                  "and are host, port, user and dbname right?");
  } catch (const Poco::Data::PostgreSQL::ConnectionException& e) {
    return StoreError(ErrorKind::Unavailable, at + "the connection failed (" + e.displayText() +
                                                  "); hint: is the server running and reachable?");
  } catch (const Poco::Exception& e) {
    const std::string text = e.displayText();
    if (mentions(text, {"53100", "No space left", "could not extend file"})) {
      return StoreError(ErrorKind::Full, at + "the database server's disk is full (" + text + ")");
    }
    if (mentions(text, {"25006", "read-only transaction"})) {
      return StoreError(ErrorKind::ReadOnly, at + "the database is read-only (" + text + ")");
    }
    if (isTransientConflict(text) || mentions(text, {"55P03", "lock timeout"})) {
      return StoreError(ErrorKind::Busy, at + "a lock conflict (" + text + ")");
    }
    if (mentions(text, {"57P01", "57P02", "57P03", "server closed the connection", "08006", "08001",
                        "08003", "no connection to the server", "terminating connection",
                        "could not connect", "Connection refused", "the database system is"})) {
      return StoreError(ErrorKind::Unavailable, at + "the server is unavailable (" + text + ")");
    }
    return StoreError(ErrorKind::Internal, at + e.name() + ": " + text);
  } catch (const std::exception& e) {
    return StoreError(ErrorKind::Internal, at + e.what());
  }
}

std::string redactConnection(const std::string& connection) {
  std::string out;
  std::size_t start = 0;
  while (start <= connection.size()) {
    auto end = connection.find(' ', start);
    std::string token =
        connection.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (token.rfind("password=", 0) == 0) {
      token = "password=***";
    }
    if (token.rfind("options=", 0) != 0 && token.rfind("connect_timeout=", 0) != 0 &&
        !token.empty()) {
      out += (out.empty() ? "" : " ") + token;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

PostgresStore::PostgresStore(const std::string& connection, Options options)
    : SqlStore(std::move(options)),
      connection_(connection),
      redacted_(redactConnection(connection)),
      slots_(std::max(options_.poolSize, 1)) {
  std::call_once(registered, [] { Poco::Data::PostgreSQL::Connector::registerConnector(); });
  pool_ = std::make_unique<Poco::Data::SessionPool>("PostgreSQL", connection, 1,
                                                    std::max(options_.poolSize, 1), 60);
  migrate();
}

PostgresStore::~PostgresStore() {
  try {
    pool_->shutdown();
  } catch (...) {
    // Closing sockets to a dead server may throw; nothing to do about it here.
  }
}

void PostgresStore::run(const char* op, Tx tx, const std::function<void(Session&)>& body) {
  // Poco's SessionPool throws at once when every connection is in use; queue for one instead.
  {
    std::unique_lock lock(slotsMutex_);
    if (!slotsFree_.wait_for(lock, options_.busyTimeout, [&] { return slots_ > 0; })) {
      throw StoreError(ErrorKind::Busy,
                       "PostgreSQL store (" + redacted_ + "): " + op + ": all " +
                           std::to_string(std::max(options_.poolSize, 1)) +
                           " pooled connections stayed in use for " +
                           std::to_string(options_.busyTimeout.count()) +
                           " ms; hint: raise the pool size");
    }
    --slots_;
  }
  struct Release {
    PostgresStore& self;
    ~Release() {
      {
        std::lock_guard lock(self.slotsMutex_);
        ++self.slots_;
      }
      self.slotsFree_.notify_one();
    }
  } release{*this};
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    bool commitSent = false;
    try {
      refuseIfServerSilent();
      Session s(pool_->get());
      if (tx == Tx::Read) {
        body(s);
        return;
      }
      s.begin();
      try {
        body(s);
        commitSent = true;
        s.commit();
        return;
      } catch (...) {
        if (!commitSent) {
          try {
            s.rollback();
          } catch (...) {
            // A broken connection cannot roll back; the server does it when the socket closes.
          }
        }
        throw;
      }
    } catch (...) {
      StoreError error = mapped(redacted_, op);
      const bool conflict = error.kind() == ErrorKind::Busy && isTransientConflict(error.what());
      // A dropped pooled connection (server restart) is retried on a fresh one, unless the
      // COMMIT may have reached the server.
      const bool dropped = error.kind() == ErrorKind::Unavailable && !commitSent;
      if (attempt < kAttempts && (conflict || dropped)) {
        continue;
      }
      throw error;
    }
  }
}

void PostgresStore::refuseIfServerSilent() {
  // Poco 1.11's SessionHandle frees a libpq connection only while it is connected: a failed
  // connection attempt leaks its PGconn (about 35-100 KiB). While the server is down every store
  // call would open (and leak) one, so ask libpq first whenever the pool has to connect; PQping
  // cleans up after itself. A server that answers but refuses us (wrong password, no such
  // database) still goes through Poco, once, for its precise error.
  if (pool_->idle() > 0) {
    return;
  }
  const PGPing ping = PQping(connection_.c_str());
  if (ping == PQPING_NO_RESPONSE || ping == PQPING_REJECT) {
    throw StoreError(ErrorKind::Unavailable,
                     "PostgreSQL store (" + redacted_ + "): cannot connect (the server " +
                         (ping == PQPING_REJECT ? "refuses connections for now, e.g. starting up "
                                                  "or shutting down"
                                                : "does not answer") +
                         "); hint: is the server running and reachable, and are host and port "
                         "right?");
  }
}

void PostgresStore::lockRecordKey(Session& s, const std::string& key) {
  if (key.empty()) {
    return;
  }
  // Enqueues of one key serialise until commit, so their ids (taken after the lock) grow in
  // commit order and a claimer never sees a later event of a key before an earlier one.
  std::vector<Poco::Int64> done;
  s << "SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS l",
      bind(key), into(done), now;
}

void PostgresStore::lockMigrations(Session& s) {
  std::vector<Poco::Int64> done;
  s << "SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(7346021990417)) AS l", into(done), now;
}

}  // namespace ferry::core::store

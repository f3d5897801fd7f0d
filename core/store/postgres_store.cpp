#include "store/postgres_store.hpp"

#include <charconv>
#include <memory>
#include <mutex>
#include <type_traits>
#include <variant>

#include <Poco/Data/DataException.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/PostgreSQL/PostgreSQLException.h>
#include <Poco/Data/PostgreSQL/SessionImpl.h>
#include <libpq-fe.h>

namespace ferry::core::store {

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
  migrate();
}

PostgresStore::~PostgresStore() {
  std::lock_guard lock(idleMutex_);
  for (auto& session : idle_) {
    try {
      session.close();
    } catch (...) {
      // Closing a socket to a dead server may throw; nothing to do about it here.
    }
  }
}

void PostgresStore::run(const char* op, Tx tx, const std::function<void(Session&)>& body) {
  // More callers than connections queue for one.
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
  struct FreeSlot {
    PostgresStore& self;
    ~FreeSlot() {
      {
        std::lock_guard lock(self.slotsMutex_);
        ++self.slots_;
      }
      self.slotsFree_.notify_one();
    }
  } freeSlot{*this};
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    bool commitSent = false;
    try {
      Session s = acquire();
      struct Return {
        PostgresStore& self;
        Session& session;
        ~Return() { self.release(session); }
      } giveBack{*this, s};
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
      if (error.kind() == ErrorKind::Unavailable) {
        // After a server restart every idle connection is dead too; open fresh ones.
        std::vector<Session> stale;
        {
          std::lock_guard lock(idleMutex_);
          stale.swap(idle_);
        }
        for (auto& session : stale) {
          try {
            session.close();
          } catch (...) {
            // A dead socket.
          }
        }
      }
      if (attempt < kAttempts && (conflict || dropped)) {
        continue;
      }
      throw error;
    }
  }
}

Session PostgresStore::acquire() {
  {
    std::lock_guard lock(idleMutex_);
    if (!idle_.empty()) {
      Session s = idle_.back();
      idle_.pop_back();
      return s;
    }
  }
  // Poco 1.11's SessionHandle frees a libpq connection only while it is connected: a failed
  // connection attempt leaks its PGconn (about 35-100 KiB). While the server is down every store
  // call would open (and leak) one, so ask libpq first whenever a connection must be opened;
  // PQping cleans up after itself. A server that answers but refuses us (wrong password, no
  // such database) still goes through Poco, once, for its precise error.
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
  return Session("PostgreSQL", connection_);
}

void PostgresStore::release(Session& session) {
  bool keep = false;
  try {
    keep = session.isConnected() && !session.isTransaction();
  } catch (...) {
    keep = false;
  }
  if (keep) {
    std::lock_guard lock(idleMutex_);
    idle_.push_back(session);
    return;
  }
  try {
    session.close();  // a dropped connection (server restart), or a transaction left open
  } catch (...) {
    // Nothing to close on a broken socket.
  }
}

SqlRows PostgresStore::execute(Session& session, std::string_view sql,
                               std::span<const SqlParam> params) {
  auto* impl = dynamic_cast<Poco::Data::PostgreSQL::SessionImpl*>(session.impl());
  if (impl == nullptr) {
    throw StoreError(ErrorKind::Internal, "PostgreSQL store: a session of another engine");
  }
  Poco::Data::PostgreSQL::SessionHandle& handle = impl->handle();
  // Text parameters are NUL-terminated copies (libpq reads text until NUL); bytes go binary.
  std::vector<std::string> text(params.size());
  std::vector<const char*> values(params.size(), nullptr);
  std::vector<int> lengths(params.size(), 0);
  std::vector<int> formats(params.size(), 0);
  for (std::size_t i = 0; i < params.size(); ++i) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::int64_t>) {
            text[i] = std::to_string(v);
            values[i] = text[i].c_str();
          } else if constexpr (std::is_same_v<T, std::string_view>) {
            text[i].assign(v);
            values[i] = text[i].c_str();
          } else if constexpr (std::is_same_v<T, Bytes>) {
            values[i] = v.data.data();
            lengths[i] = static_cast<int>(v.data.size());
            formats[i] = 1;
          }
        },
        params[i]);
  }
  const std::string statement(sql);
  PGresult* raw = nullptr;
  {
    Poco::FastMutex::ScopedLock lock(handle.mutex());
    raw = PQexecParams(handle, statement.c_str(), static_cast<int>(params.size()), nullptr,
                       values.data(), lengths.data(), formats.data(), 0);
  }
  const std::unique_ptr<PGresult, decltype(&PQclear)> result(raw, &PQclear);
  const ExecStatusType status = raw == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(raw);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    // The same words Poco's statements throw with, so that mapped() classifies them alike.
    const char* state = raw == nullptr ? nullptr : PQresultErrorField(raw, PG_DIAG_SQLSTATE);
    std::string message = raw == nullptr ? PQerrorMessage(handle) : PQresultErrorMessage(raw);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    message += std::string(" State: ") + (state != nullptr ? state : "N/A") + " (in: " +
               statement.substr(0, 60) + (statement.size() > 60 ? "...)" : ")");
    if (PQstatus(handle) != CONNECTION_OK) {
      throw Poco::Data::PostgreSQL::ConnectionException(message);
    }
    throw Poco::Data::PostgreSQL::StatementException(message);
  }
  const int rows = PQntuples(raw);
  const int columns = PQnfields(raw);
  // Rows an INSERT, UPDATE or DELETE changed, RETURNING or not (PQcmdTuples also counts a
  // SELECT's rows, which SQLite's count does not: left at 0 for reads on both engines).
  std::int64_t changed = 0;
  if (std::string_view(PQcmdStatus(raw)).rfind("SELECT", 0) != 0) {
    const std::string_view count = PQcmdTuples(raw);
    std::from_chars(count.data(), count.data() + count.size(), changed);
  }
  std::vector<std::optional<std::string>> cells;
  cells.reserve(static_cast<std::size_t>(rows) * static_cast<std::size_t>(columns));
  constexpr Oid kBytea = 17;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) {
      if (PQgetisnull(raw, r, c) == 1) {
        cells.emplace_back(std::nullopt);
      } else if (PQftype(raw, c) == kBytea) {
        std::size_t length = 0;
        unsigned char* bytes =
            PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(raw, r, c)), &length);
        if (bytes == nullptr) {
          throw StoreError(ErrorKind::Internal, "PostgreSQL store: a BYTEA value could not be read");
        }
        cells.emplace_back(std::string(reinterpret_cast<const char*>(bytes), length));
        PQfreemem(bytes);
      } else {
        cells.emplace_back(
            std::string(PQgetvalue(raw, r, c), static_cast<std::size_t>(PQgetlength(raw, r, c))));
      }
    }
  }
  return SqlRows(static_cast<std::size_t>(columns), changed, std::move(cells));
}

void PostgresStore::lockRecordKey(Session& s, const std::string& key) {
  if (key.empty()) {
    return;
  }
  // Enqueues of one key serialise until commit, so their ids (taken after the lock) grow in
  // commit order and a claimer never sees a later event of a key before an earlier one.
  exec(s, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {key});
}

void PostgresStore::lockMigrations(Session& s) {
  exec(s, "SELECT pg_advisory_xact_lock(7346021990417)");
}

}  // namespace ferry::core::store

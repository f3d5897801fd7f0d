#pragma once

// One SQL statement run straight on the engine's C API (libpq's PQexecParams, a cached
// sqlite3_stmt), below Poco's Statement. Poco's PostgreSQL connector spends four round trips on
// every statement (PQprepare, PQdescribePrepared, PQexecPrepared, DEALLOCATE) where PQexecParams
// needs one; Poco's SQLite connector prepares every statement again. The store's per-event
// statements go this way (docs/store.md, "Statements").

#include <charconv>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ferry::core::store {

// The bytes of a BLOB (SQLite) / BYTEA (PostgreSQL) parameter.
struct Bytes {
  std::string_view data;
};

// One `$n` parameter: NULL, an integer, text or bytes. Views must outlive the call only.
using SqlParam = std::variant<std::nullptr_t, std::int64_t, std::string_view, Bytes>;

// A statement's rows, each value as the engine gave it (integers as decimal text, BYTEA and BLOB
// as their bytes; NULL as nothing), and the number of rows an INSERT, UPDATE or DELETE changed
// (0 for a read).
class SqlRows {
 public:
  SqlRows() = default;
  // `cells` row by row, `columns` to a row.
  SqlRows(std::size_t columns, std::int64_t changed, std::vector<std::optional<std::string>> cells)
      : columns_(columns), changed_(changed), cells_(std::move(cells)) {}

  std::size_t size() const { return columns_ == 0 ? 0 : cells_.size() / columns_; }
  bool empty() const { return size() == 0; }
  std::int64_t changed() const { return changed_; }

  bool isNull(std::size_t row, std::size_t column) const { return !cell(row, column).has_value(); }
  // NULL reads as "" and 0, as Poco's into() gave.
  const std::string& text(std::size_t row, std::size_t column) const {
    static const std::string kEmpty;
    const auto& c = cell(row, column);
    return c ? *c : kEmpty;
  }
  std::int64_t i64(std::size_t row, std::size_t column) const {
    const std::string& t = text(row, column);
    std::int64_t v = 0;
    std::from_chars(t.data(), t.data() + t.size(), v);
    return v;
  }
  int i32(std::size_t row, std::size_t column) const {
    return static_cast<int>(i64(row, column));
  }

 private:
  const std::optional<std::string>& cell(std::size_t row, std::size_t column) const {
    return cells_.at(row * columns_ + column);
  }

  std::size_t columns_ = 0;
  std::int64_t changed_ = 0;
  std::vector<std::optional<std::string>> cells_;
};

}  // namespace ferry::core::store

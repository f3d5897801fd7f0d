#include "store/store.hpp"

#include "store/postgres_store.hpp"
#include "store/sqlite_store.hpp"

namespace ferry::core::store {

std::unique_ptr<Store> Store::open(const std::string& url, Options options) {
  StoreUrl parsed = parseStoreUrl(url);
  if (parsed.engine == "sqlite") {
    return std::make_unique<SqliteStore>(parsed.path, std::move(options));
  }
  return std::make_unique<PostgresStore>(parsed.connection, std::move(options));
}

}  // namespace ferry::core::store

// The guarded poll commit (Store::commitPollFrom): a poll's cursor and events are committed only
// while the stored cursor is still the one the poll started from.
//
// Why: every worker runs a poller for every polling flow, all sharing one cursor. Two pollers
// that read the same cursor may fetch different versions of one record (a contact created, then
// renamed between their fetches). If the one holding the NEWER version commits first and the
// other commits after it, the older version is queued under the later id; events of a record run
// in id order (and coalescing keeps the newest id), so the older version runs last and wins: an
// update is lost. Refusing the second commit closes that window; nothing is lost by it, as the
// refused poll's changes are fetched again from the newer cursor.
#include "store/sql_store.hpp"

namespace ferry::core::store {

using namespace Poco::Data::Keywords;
using Poco::Data::Session;
using I64 = Poco::Int64;

namespace {

Json parseCursor(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_discarded() ? Json(text) : j;
}

}  // namespace

std::optional<std::vector<EnqueueResult>> SqlStore::commitPollFrom(
    const std::string& triggerKey, const Json& from, const Json& cursor,
    const std::vector<NewEvent>& events) {
  if (triggerKey.empty()) {
    throw StoreError(ErrorKind::Invalid, "commit poll: the trigger key is empty");
  }
  return transact("commit poll", Tx::Write,
                  [&](Session& s) -> std::optional<std::vector<EnqueueResult>> {
    const I64 t = nowUs();
    if (from.is_null()) {
      // The first poll: only one poller may create the cursor. A concurrent insert of the same
      // key waits for the other transaction and then inserts nothing.
      Poco::Data::Statement ins(s);
      ins << "INSERT INTO poll_cursors (trigger_key, cursor_json, updated_at) VALUES ($1, $2, $3)"
             " ON CONFLICT (trigger_key) DO NOTHING",
          bind(triggerKey), bind(cursor.dump()), bind(t);
      if (ins.execute() == 0) {
        return std::nullopt;
      }
    } else {
      std::vector<std::string> stored;
      s << "SELECT cursor_json FROM poll_cursors WHERE trigger_key = $1" + forUpdate(),
          bind(triggerKey), into(stored), now;
      if (stored.empty() || parseCursor(stored.front()) != from) {
        return std::nullopt;
      }
      s << "UPDATE poll_cursors SET cursor_json = $1, updated_at = $2 WHERE trigger_key = $3",
          bind(cursor.dump()), bind(t), bind(triggerKey), now;
    }
    std::vector<EnqueueResult> out;
    for (const auto& e : events) {
      out.push_back(insertEvent(s, e));
    }
    return out;
  });
}

}  // namespace ferry::core::store

// Polling triggers for what webhooks do not cover: new notes and changed contacts.
//
// Cursor: {"since": ISO timestamp, "seen": [{"id", "at"}]}. A poll asks for items whose
// timestamp is >= since - window (setting `poll_dedupe_window_seconds`, default 10), sorted by
// (timestamp, id), drops the ids in `seen`, and emits the rest. The new cursor's `since` is the
// greatest timestamp emitted and `seen` keeps every id whose timestamp lies within the window
// before it. So items sharing a timestamp are never skipped (the boundary is inclusive) nor
// repeated (they are in `seen`), and a restarted poller given the last committed cursor carries
// on exactly where the committed one stopped.
#include <algorithm>
#include <set>

#include "client.hpp"
#include "fields.hpp"
#include "model.hpp"
#include "operations.hpp"
#include "time.hpp"

namespace ferry::plugins::umsatzio {

namespace {

using namespace sdk;

constexpr int kPageLimit = 100;
constexpr int kMaxPagesPerPoll = 20;
constexpr long long kDefaultWindowSeconds = 10;
constexpr long long kMaxWindowSeconds = 86400;  // a day; more would re-read a day of changes per poll

struct Source {
  std::string query;
  std::string root;       // answer path of the list: {data:[...], pagination}
  std::string sinceVar;   // the variable carrying the lower bound
  std::string stampField; // which field of an item orders it
  std::function<Json(const Json& raw, Context& ctx)> payload;
  std::function<std::string(const Json& payload)> eventId;
};

class PollingTrigger : public Trigger {
 public:
  explicit PollingTrigger(Source source) : source_(std::move(source)) {}

  PollResult poll(Context& ctx, const Json& filters, const Json& cursor) override {
    const auto& settings = ctx.connection().settings;
    long long window = kDefaultWindowSeconds;
    if (auto it = settings.find("poll_dedupe_window_seconds"); it != settings.end() && it->is_number_integer()) {
      window = std::clamp(it->get<long long>(), 0LL, kMaxWindowSeconds);
    }
    const int maxEvents = filters.contains("maxEvents") && filters["maxEvents"].is_number_integer()
                              ? std::max(1, filters["maxEvents"].get<int>())
                              : 500;

    long long since = 0;
    std::set<std::string> seen;
    std::vector<std::pair<std::string, long long>> seenList;
    if (cursor.is_object() && cursor.contains("since") && cursor["since"].is_string()) {
      since = parseIsoMillis(cursor["since"].get<std::string>()).value_or(0);
      for (const auto& s : cursor.value("seen", Json::array())) {
        if (s.is_object() && s.contains("id") && s["id"].is_string()) {
          const auto at = parseIsoMillis(sdk::member(s, "at", "")).value_or(since);
          seen.insert(s["id"].get<std::string>());
          seenList.emplace_back(s["id"].get<std::string>(), at);
        }
      }
    } else if (filters.contains("since") && filters["since"].is_string()) {
      since = parseIsoMillis(filters["since"].get<std::string>()).value_or(0);
    } else {
      since = std::chrono::duration_cast<std::chrono::milliseconds>(ctx.clock().now().time_since_epoch()).count();
    }

    Client client(ctx);
    struct Item {
      long long at;
      std::string id;
      Json payload;
    };
    std::vector<Item> fresh;
    const long long from = since - window * 1000;
    for (int page = 0; page < kMaxPagesPerPoll; ++page) {
      Json vars = {{source_.sinceVar, formatIsoMillis(from)},
                   {"pagination", {{"page", page}, {"limit", kPageLimit}}},
                   {"sort", {{"field", source_.stampField}, {"direction", "ASC"}}}};
      if (filters.contains("contactId") && filters["contactId"].is_string()) {
        vars["parentId"] = filters["contactId"];
      }
      const Json node = valueAt(client.execute(source_.query, vars), source_.root);
      const Json list = node.is_object() ? node.value("data", Json::array()) : Json::array();
      for (const auto& raw : list) {
        const auto at = parseIsoMillis(sdk::member(raw, source_.stampField.c_str(), ""));
        if (!at || *at < from) {
          continue;
        }
        Json payload = source_.payload(raw, ctx);
        const std::string id = source_.eventId(payload);
        if (seen.count(id) != 0) {
          continue;
        }
        fresh.push_back({*at, id, std::move(payload)});
      }
      const Json totalNode = valueAt(node, "pagination.total");
      const long long total = totalNode.is_number_integer() ? totalNode.get<long long>() : 0;
      if (static_cast<long long>((page + 1) * kPageLimit) >= total || list.empty()) {
        break;
      }
    }
    std::stable_sort(fresh.begin(), fresh.end(), [](const Item& a, const Item& b) {
      return a.at != b.at ? a.at < b.at : a.id < b.id;
    });
    if (static_cast<int>(fresh.size()) > maxEvents) {
      fresh.resize(static_cast<std::size_t>(maxEvents));
    }

    PollResult result;
    long long newSince = since;
    for (auto& item : fresh) {
      newSince = std::max(newSince, item.at);
      seenList.emplace_back(item.id, item.at);
      Event e;
      e.id = item.id;
      e.occurredAt = formatIsoMillis(item.at);
      const Json key = item.payload.value(recordKeyName(), Json());
      e.recordKey = key.is_string() ? key.get<std::string>() : key.dump();
      e.payload = std::move(item.payload);
      result.events.push_back(std::move(e));
    }
    Json keep = Json::array();
    std::set<std::string> kept;
    for (const auto& [id, at] : seenList) {
      if (at >= newSince - window * 1000 && kept.insert(id).second) {
        keep.push_back({{"id", id}, {"at", formatIsoMillis(at)}});
      }
    }
    result.cursor = {{"since", formatIsoMillis(newSince)}, {"seen", keep}};
    return result;
  }

 private:
  std::string recordKeyName() const { return source_.root == "notes" ? "contactId" : "id"; }

  Source source_;
};

void cursorFilters(std::vector<Field>& out) {
  out.push_back(datetime("since").describe(
      "Where the first poll starts (default: now). Later polls continue from the cursor."));
  out.push_back(integer("maxEvents").defaults(500).describe("At most this many events per poll."));
}

}  // namespace

std::vector<TriggerDecl> pollingTriggers() {
  std::vector<TriggerDecl> out;

  OperationSpec notes;
  notes.id = "umsatzio.note.created";
  notes.kind = OperationKind::Trigger;
  notes.summary = "A note was added (polled)";
  notes.description =
      "Polls the notes of the account (root field `notes(createdSince, parentId, sort, "
      "pagination)`; an assumption, no webhook exists for notes). Cursor: {since, seen}.";
  notes.delivery = Delivery::Poll;
  notes.recordKey = "contactId";
  notes.input = {str("contactId").describe("Only notes of this contact.")};
  cursorFilters(notes.input);
  notes.output = noteSchema();
  notes.examples = {Example{"since", {{"since", "2026-11-26T00:00:00.000Z"}}, exampleNote()}};
  out.push_back({std::move(notes),
                 std::make_unique<PollingTrigger>(Source{
                     "query Notes($createdSince: DateTime, $parentId: ID, $sort: SortInput, "
                     "$pagination: PaginationInput!) { notes(createdSince: $createdSince, parentId: "
                     "$parentId, sort: $sort, pagination: $pagination) { data { id parentId "
                     "description isPinned createdAt } pagination { page limit total } } }",
                     "notes", "createdSince", "createdAt",
                     [](const Json& raw, Context&) { return normalizeNote(raw); },
                     [](const Json& p) { return sdk::member(p, "id", ""); }})});

  OperationSpec contacts;
  contacts.id = "umsatzio.contact.updated";
  contacts.kind = OperationKind::Trigger;
  contacts.summary = "A contact was created or changed (polled)";
  contacts.description =
      "Polls contacts sorted by updatedAt (`contacts(updatedSince, sort, pagination)`; "
      "updatedSince is an assumption). One event per contact version: id@updatedAt.";
  contacts.delivery = Delivery::Poll;
  contacts.recordKey = "id";
  contacts.coalesce = true;  // each event is the contact's whole current version
  cursorFilters(contacts.input);
  contacts.output = contactSchema();
  contacts.examples = {Example{"since", {{"since", "2026-11-26T00:00:00.000Z"}}, exampleContact()}};
  out.push_back({std::move(contacts),
                 std::make_unique<PollingTrigger>(Source{
                     "query Contacts($updatedSince: DateTime, $sort: SortInput, $pagination: "
                     "PaginationInput!) { contacts(updatedSince: $updatedSince, sort: $sort, "
                     "pagination: $pagination) { data { id data createdAt updatedAt } pagination { "
                     "page limit total } } }",
                     "contacts", "updatedSince", "updatedAt", normalizeContactFor,
                     [](const Json& p) {
                       return sdk::member(p, "id", "") + "@" + sdk::member(p, "updatedAt", "");
                     }})});
  return out;
}

}  // namespace ferry::plugins::umsatzio

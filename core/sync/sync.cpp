#include "sync/sync.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "alerts/monitor.hpp"
#include "engine/budget.hpp"
#include "ferry/sdk/errors.hpp"
#include "ferry/sdk/validate.hpp"
#include "flow/flow.hpp"
#include "log/log.hpp"
#include "secrets/masker.hpp"

namespace ferry::core::sync {

using namespace std::chrono_literals;

namespace {

// The pairs a cycle knows how to list and compare. The source lister is a polling trigger that
// returns the same normalised records as the flow's trigger; the target operations read one
// record by id, find one by e-mail/phone, and page through all of them.
struct Pairing {
  std::string sourcePlugin = "umsatzio";
  std::string sourcePrefix = "umsatzio.contact.";
  std::string lister = "umsatzio.contact.updated";
  std::string kind = "contact";
  std::string targetPlugin = "ghl";
  std::string getOp = "ghl.contact.get";
  std::string findOp = "ghl.contact.find_duplicate";
  std::string searchOp = "ghl.contact.search";
  int searchPage = 500;
};

const Pairing& pairing() {
  static const Pairing p;
  return p;
}

std::string pluginOf(std::string_view op) { return std::string(op.substr(0, op.find('.'))); }

bool isWrite(std::string_view op) {
  return op.ends_with(".upsert") || op.ends_with(".create") || op.ends_with(".update");
}

// The step that writes the target record and records the correlation.
const flow::Step* writeStep(const flow::Flow& f) {
  const auto& p = pairing();
  for (const auto& step : f.steps) {
    if (step.correlate && step.correlate->kind == p.kind && pluginOf(step.use) == p.targetPlugin &&
        step.use.starts_with(p.targetPlugin + "." + p.kind + ".") && isWrite(step.use)) {
      return &step;
    }
  }
  return nullptr;
}

std::string isoNow() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string text(const Json& v) { return v.is_string() ? v.get<std::string>() : ""; }

std::string duration(std::chrono::seconds s) {
  const long total = static_cast<long>(s.count());
  std::ostringstream out;
  if (total >= 3600) {
    out << total / 3600 << "h" << std::setw(2) << std::setfill('0') << (total % 3600) / 60 << "m";
  } else if (total >= 60) {
    out << total / 60 << "m" << std::setw(2) << std::setfill('0') << total % 60 << "s";
  } else {
    out << total << "s";
  }
  return out.str();
}

// Caps the calls of a cycle at a share of the connection's budget: a sliding window of
// share * limit calls per interval, on top of the engine's own pacing (which live events share).
class SharedHttp : public sdk::HttpClient {
 public:
  SharedHttp(sdk::HttpClient& inner, long limit, std::chrono::milliseconds interval,
             std::function<bool()> cancelled)
      : inner_(inner), budget_(limit, interval), cancelled_(std::move(cancelled)) {}

  sdk::HttpResponse send(const sdk::HttpRequest& request) override {
    for (int i = 0; i < 100000; ++i) {
      const auto wait = budget_.reserve(engine::Clock::now());
      if (wait == 0ms) {
        break;
      }
      if (cancelled_ && cancelled_()) {
        throw sdk::TransportError("the sync cycle was cancelled; the call was not sent");
      }
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(wait, 200ms));
    }
    ++calls;
    return inner_.send(request);
  }

  long calls = 0;

 private:
  sdk::HttpClient& inner_;
  engine::RateBudget budget_;
  std::function<bool()> cancelled_;
};

// The engine's Context for a connection, with its HTTP capped by a SharedHttp.
class SyncContext : public sdk::Context {
 public:
  SyncContext(std::unique_ptr<sdk::Context> inner, long limit, std::chrono::milliseconds interval,
              std::function<bool()> cancelled)
      : inner_(std::move(inner)), http_(inner_->http(), limit, interval, std::move(cancelled)) {}

  const sdk::Connection& connection() override { return inner_->connection(); }
  sdk::HttpClient& http() override { return http_; }
  sdk::State& state() override { return inner_->state(); }
  sdk::Secrets& secrets() override { return inner_->secrets(); }
  sdk::Logger& log() override { return inner_->log(); }
  sdk::Clock& clock() override { return inner_->clock(); }
  void reportRateLimit(const sdk::RateLimitReport& report) override {
    inner_->reportRateLimit(report);
  }
  long calls() const { return http_.calls; }

 private:
  std::unique_ptr<sdk::Context> inner_;
  SharedHttp http_;
};

// The correlation table as the flow's correlate() sees it.
class Correlations : public flow::CorrelationLookup {
 public:
  explicit Correlations(store::Store& store) : store_(store) {}
  std::optional<std::string> find(std::string_view kind, std::string_view sourceId) override {
    return store_.lookup(std::string(kind), pairing().sourcePlugin, std::string(sourceId),
                         pairing().targetPlugin);
  }

 private:
  store::Store& store_;
};

// Whether a wanted value and the target's value agree. Strings compare exactly (e-mails
// without case); lists of strings (tags) must all be present; objects and lists of objects
// (custom fields) are not compared.
bool agrees(const std::string& key, const Json& wanted, const Json& found) {
  if (wanted.is_string()) {
    const std::string w = wanted.get<std::string>();
    if (!found.is_string()) {
      return w.empty() && found.is_null();
    }
    const std::string f = found.get<std::string>();
    return lower(key).find("email") != std::string::npos ? lower(w) == lower(f) : w == f;
  }
  if (wanted.is_array()) {
    if (!std::all_of(wanted.begin(), wanted.end(), [](const Json& x) { return x.is_string(); })) {
      return true;
    }
    std::set<std::string> have;
    if (found.is_array()) {
      for (const auto& x : found) {
        have.insert(lower(text(x)));
      }
    }
    return std::all_of(wanted.begin(), wanted.end(),
                       [&](const Json& x) { return have.count(lower(x.get<std::string>())) != 0; });
  }
  if (wanted.is_object()) {
    return true;
  }
  return wanted == found;
}

}  // namespace

const char* toString(Drift::Kind kind) {
  switch (kind) {
    case Drift::Kind::Missing:
      return "missing";
    case Drift::Kind::Different:
      return "different";
    case Drift::Kind::Orphaned:
      return "orphaned";
  }
  return "unknown";
}

long Report::count(Drift::Kind kind) const {
  return static_cast<long>(
      std::count_if(drift.begin(), drift.end(), [kind](const Drift& d) { return d.kind == kind; }));
}

Json Report::toJson() const {
  Json groups = {{"missing", Json::array()}, {"different", Json::array()},
                 {"orphaned", Json::array()}};
  for (const auto& d : drift) {
    Json item = {{"source_id", d.sourceId}, {"target_id", d.targetId}, {"label", d.label},
                 {"reason", d.reason}};
    if (d.kind == Drift::Kind::Different) {
      item["fields"] = d.fields;
    }
    groups[toString(d.kind)].push_back(item);
  }
  return {{"flow", flow},
          {"mode", full ? "full" : "changed"},
          {"full_reason", reason},
          {"dry_run", dryRun},
          {"started_at", startedAt},
          {"seconds", std::round(seconds * 1000) / 1000},
          {"source_records", sourceRecords},
          {"target_records", targetRecords},
          {"compared", compared},
          {"in_sync", inSync},
          {"skipped", skipped},
          {"counts",
           {{"missing", count(Drift::Kind::Missing)},
            {"different", count(Drift::Kind::Different)},
            {"orphaned", count(Drift::Kind::Orphaned)},
            {"total", driftTotal()}}},
          {"drift", groups},
          {"queued", queued},
          {"already_queued", alreadyQueued},
          {"calls", {{"source", sourceCalls}, {"target", targetCalls}}},
          {"budget",
           {{"calls_per_second", std::round(callsPerSecond * 100) / 100},
            {"calls_per_repair", callsPerRepair},
            {"repair_eta_seconds", repairEta.count()}}}};
}

std::string Report::toText() const {
  std::ostringstream out;
  out << "Sync of flow '" << flow << "' (" << (full ? "full" : "changed since the last cycle")
      << (dryRun ? ", dry run" : "") << "): " << sourceRecords << " source record(s)";
  if (targetRecords >= 0) {
    out << ", " << targetRecords << " target record(s)";
  }
  out << ", " << std::fixed << std::setprecision(1) << seconds << " s.\n";
  out << "  missing in target  " << count(Drift::Kind::Missing) << "\n"
      << "  different          " << count(Drift::Kind::Different) << "\n"
      << "  orphaned in target " << count(Drift::Kind::Orphaned)
      << (full ? "" : " (orphans are looked for in full cycles only)") << "\n"
      << "  in sync            " << inSync << "\n";
  if (skipped > 0) {
    out << "  skipped            " << skipped << " (the flow's `when:` leaves them out)\n";
  }
  for (const auto& d : drift) {
    out << toString(d.kind) << "  " << (d.sourceId.empty() ? "-" : d.sourceId) << " -> "
        << (d.targetId.empty() ? "-" : d.targetId) << "  " << d.label << "  " << d.reason;
    for (const auto& [field, v] : d.fields.items()) {
      out << "; " << field << ": " << v.value("target", Json()).dump() << " should be "
          << v.value("source", Json()).dump();
    }
    out << "\n";
  }
  const long repairs = count(Drift::Kind::Missing) + count(Drift::Kind::Different);
  if (dryRun) {
    out << "Dry run: nothing was queued or written; without --dry-run " << repairs
        << " repair event(s) would be queued.\n";
  } else {
    out << "Queued " << queued << " repair event(s)";
    if (alreadyQueued > 0) {
      out << " (" << alreadyQueued << " already queued)";
    }
    out << "; at " << std::setprecision(1) << callsPerSecond << " call(s)/s of the target budget "
        << "they need about " << duration(repairEta) << ".\n";
  }
  if (count(Drift::Kind::Orphaned) > 0) {
    out << "Orphans are reported, never deleted: check them and delete them in the target if "
           "they should go.\n";
  }
  return out.str();
}

std::string unsyncable(const engine::LoadedFlow& lf) {
  const auto& p = pairing();
  if (!lf.flow.trigger.use.starts_with(p.sourcePrefix)) {
    return "its trigger '" + lf.flow.trigger.use + "' is not a " + p.sourcePrefix +
           "* trigger; sync cycles list Umsatz-io contacts";
  }
  if (writeStep(lf.flow) == nullptr) {
    return "no step writes a " + p.targetPlugin + " contact with `correlate: {kind: " + p.kind +
           "}`";
  }
  return "";
}

std::string cursorKey(const std::string& flowId) { return "sync:" + flowId; }

std::optional<Json> lastCycle(store::Store& store, const std::string& flowId) {
  const auto cursor = store.pollCursor(cursorKey(flowId));
  if (!cursor || !cursor->is_object() || !cursor->contains("last")) {
    return std::nullopt;
  }
  return (*cursor)["last"];
}

void publish(metrics::Registry& metrics, const std::string& flowId, const Json& summary) {
  // The one writer of the gauge the `sync_drift` alert rule reads (alerts/monitor.hpp).
  alerts::reportSyncDrift(metrics, flowId, summary.value("drift", 0.0));
  for (const char* kind : {"missing", "different", "orphaned"}) {
    metrics
        .gauge("ferry_sync_drift_records", "Drift of the last sync cycle, by kind.",
               {{"flow", flowId}, {"kind", kind}})
        .set(summary.value(kind, 0.0));
  }
  metrics
      .gauge("ferry_sync_last_cycle_timestamp_seconds",
             "When the flow's last committed sync cycle started (Unix time).", {{"flow", flowId}})
      .set(summary.value("at_unix", 0.0));
}

Cycle::Cycle(engine::Engine& engine, const engine::LoadedFlow& flow)
    : engine_(engine), flow_(flow) {}

Report Cycle::run(const Options& options) {
  const auto& p = pairing();
  const auto started = std::chrono::steady_clock::now();
  const auto startedWall = std::chrono::system_clock::now();
  if (const auto why = unsyncable(flow_); !why.empty()) {
    throw std::runtime_error("flow '" + flow_.flow.id + "' cannot be synced: " + why);
  }
  const flow::Step& write = *writeStep(flow_.flow);
  auto& store = engine_.store();
  const auto& catalog = engine_.catalog();
  const auto* sourcePlugin = catalog.plugin(p.sourcePlugin);
  const auto* targetPlugin = catalog.plugin(p.targetPlugin);
  sdk::Trigger* lister = sourcePlugin ? sourcePlugin->connector->trigger(p.lister) : nullptr;
  sdk::Action* getAction = targetPlugin ? targetPlugin->connector->action(p.getOp) : nullptr;
  sdk::Action* findAction = targetPlugin ? targetPlugin->connector->action(p.findOp) : nullptr;
  sdk::Action* searchAction = targetPlugin ? targetPlugin->connector->action(p.searchOp) : nullptr;
  if (lister == nullptr || getAction == nullptr || findAction == nullptr ||
      searchAction == nullptr) {
    throw std::runtime_error("the " + p.sourcePlugin + " and " + p.targetPlugin +
                             " plugins must be installed for a sync cycle");
  }

  Report report;
  report.flow = flow_.flow.id;
  report.dryRun = options.dryRun;
  report.startedAt = isoNow();

  const std::string key = cursorKey(flow_.flow.id);
  const Json stored = store.pollCursor(key).value_or(Json());
  Json sourceCursor = stored.is_object() ? stored.value("source", Json()) : Json();
  report.full = options.full || sourceCursor.is_null();
  report.reason = options.full ? "requested" : (sourceCursor.is_null() ? "first cycle" : "");
  if (report.full) {
    sourceCursor = Json();
  }

  // Budgets: the cycle's own calls and the repairs' pace take at most `budgetShare` of the
  // target connection's budget.
  const auto targetConn = engine_.connectionRuntime(write.connection);
  const double share = std::clamp(options.budgetShare, 0.01, 1.0);
  const long shareLimit =
      std::max(1L, static_cast<long>(std::floor(static_cast<double>(targetConn->rateLimit) * share)));
  report.callsPerSecond = static_cast<double>(shareLimit) /
                          std::chrono::duration<double>(targetConn->rateInterval).count();
  long callsPerRepair = 0;
  for (const auto& step : flow_.flow.steps) {
    if (step.connection == write.connection) {
      ++callsPerRepair;
    }
  }
  report.callsPerRepair = std::max(1L, callsPerRepair);
  auto etaFor = [&](double calls) {
    return std::chrono::seconds(static_cast<long>(std::ceil(calls / report.callsPerSecond)));
  };
  auto say = [&](const std::string& phase, long done, long total, double callsLeft) {
    if (options.progress) {
      options.progress(
          {phase, done, total, static_cast<long>(report.drift.size()), etaFor(callsLeft)});
    }
  };
  auto cancelled = [&] { return options.cancelled && options.cancelled(); };

  // 1. List the source: every record (full) or those changed since the stored cursor.
  const auto sourceConn = engine_.connectionRuntime(flow_.flow.trigger.connection);
  SyncContext sourceCtx(engine_.callContext(flow_.flow.trigger.connection),
                        std::max(1L, static_cast<long>(std::floor(
                                         static_cast<double>(sourceConn->rateLimit) * share))),
                        sourceConn->rateInterval, options.cancelled);
  std::vector<Json> records;
  std::map<std::string, std::size_t> indexOf;
  Json listFilters = {{"maxEvents", 2000}, {"since", "1970-01-01T00:00:00.000Z"}};
  for (int poll = 0; poll < 100000 && !cancelled(); ++poll) {
    auto result = lister->poll(sourceCtx, listFilters, sourceCursor);
    sourceCursor = result.cursor;
    for (auto& e : result.events) {
      const std::string id = text(e.payload.value("id", Json()));
      if (id.empty()) {
        continue;
      }
      if (auto it = indexOf.find(id); it != indexOf.end()) {
        records[it->second] = std::move(e.payload);  // changed again meanwhile: the newest wins
      } else {
        indexOf[id] = records.size();
        records.push_back(std::move(e.payload));
      }
    }
    say("list", static_cast<long>(records.size()), 0, 0);
    if (result.events.empty()) {
      break;
    }
  }
  if (cancelled()) {
    throw std::runtime_error("the sync cycle was cancelled");
  }
  report.sourceRecords = static_cast<long>(records.size());
  report.sourceCalls = sourceCtx.calls();

  // 2. The target's side. A full cycle pages through every target record once (pages of 500:
  // far fewer calls than one lookup per record) and so also finds orphans; a changed-records
  // cycle looks each record up by its correlated id, else by e-mail or phone.
  SyncContext targetCtx(engine_.callContext(write.connection), shareLimit, targetConn->rateInterval,
                        options.cancelled);
  auto call = [&](sdk::Action& action, const std::string& op, Json input) -> Json {
    const auto entry = catalog.find(op);
    if (entry.operation != nullptr) {
      input = sdk::applyDefaults(entry.operation->input, input);
    }
    for (int attempt = 1;; ++attempt) {
      try {
        return action.invoke(input, targetCtx);
      } catch (const sdk::OperationError& e) {
        if (!sdk::isRetryable(e.kind) || attempt >= 6 || cancelled()) {
          throw;
        }
        std::this_thread::sleep_for(
            std::min<std::chrono::milliseconds>(e.retryAfter.value_or(250ms * attempt), 10s));
      } catch (const sdk::TransportError&) {
        if (attempt >= 6 || cancelled()) {
          throw;
        }
        std::this_thread::sleep_for(250ms * attempt);
      }
    }
  };

  std::map<std::string, Json> targetById;
  std::map<std::string, std::string> targetByEmail;
  if (report.full) {
    Json after;
    long total = -1;
    for (int page = 0; page < 100000 && !cancelled(); ++page) {
      Json input = {{"pageLimit", p.searchPage}};
      if (!after.is_null()) {
        input["searchAfter"] = after;
      }
      const Json out = call(*searchAction, p.searchOp, input);
      const Json list = out.value("contacts", Json::array());
      if (out.contains("total") && out["total"].is_number_integer()) {
        total = out["total"].get<long>();
      }
      for (const auto& c : list) {
        const std::string id = text(c.value("id", Json()));
        if (id.empty()) {
          continue;
        }
        targetById[id] = c;
        if (const auto email = lower(text(c.value("email", Json()))); !email.empty()) {
          targetByEmail.emplace(email, id);
        }
      }
      const long left = total < 0 ? 0 : (total - static_cast<long>(targetById.size()) + p.searchPage - 1) / p.searchPage;
      say("compare", static_cast<long>(targetById.size()), total, static_cast<double>(left));
      if (static_cast<int>(list.size()) < p.searchPage || list.empty() ||
          !list.back().contains("searchAfter")) {
        break;
      }
      after = list.back()["searchAfter"];
    }
    report.targetRecords = static_cast<long>(targetById.size());
  }

  // 3. Compare each source record with its target record.
  Correlations correlations(store);
  std::vector<std::size_t> repairs;  // indexes into records
  long done = 0;
  const auto total = static_cast<long>(records.size());
  auto lastSay = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < records.size() && !cancelled(); ++i) {
    const Json& record = records[i];
    const std::string sourceId = text(record.value("id", Json()));
    const std::string email = text(record.value("email", Json()));
    const std::string label = email.empty()
                                  ? text(record.value("firstName", Json())) + " " +
                                        text(record.value("lastName", Json()))
                                  : email;
    const auto correlated = store.lookup(p.kind, p.sourcePlugin, sourceId, p.targetPlugin);
    std::optional<Json> found;
    std::string how;
    if (report.full) {
      if (correlated) {
        if (auto it = targetById.find(*correlated); it != targetById.end()) {
          found = it->second;
        }
      } else {
        const auto byEmail = targetByEmail.find(lower(email));
        if (byEmail != targetByEmail.end()) {
          found = targetById[byEmail->second];
        }
      }
    } else if (correlated) {
      try {
        const Json out = call(*getAction, p.getOp, {{"contactId", *correlated}});
        if (out.contains("contact") && out["contact"].is_object()) {
          found = out["contact"];
        }
      } catch (const sdk::OperationError& e) {
        if (e.kind != sdk::ErrorKind::NotFound) {
          throw;
        }
      }
    } else if (!email.empty()) {
      const Json out = call(*findAction, p.findOp, {{"email", email}});
      if (out.contains("contact") && out["contact"].is_object()) {
        found = out["contact"];
      }
    }

    // What the flow would write for this record now, given what the target holds.
    Json outputs = Json::object();
    for (const auto& step : flow_.flow.steps) {
      if (&step == &write) {
        break;
      }
      if (step.use == p.getOp && found) {
        outputs[step.id] = {{"contact", *found}};
      }
    }
    flow::EvalEnv env;
    env.event = &record;
    env.steps = &outputs;
    env.correlations = &correlations;
    env.now = std::chrono::system_clock::now();
    Json wanted;
    try {
      if (write.when && !flow::truthy(flow::evaluate(*write.when, env))) {
        ++report.skipped;
        continue;
      }
      wanted = flow::evaluate(write.with, env);
    } catch (const flow::EvalError& e) {
      ++report.skipped;
      log::write(sdk::LogLevel::Warn, "A record was left out of the sync cycle: its mapping failed.",
                 {{"flow", flow_.flow.id}, {"record", sourceId}, {"error", e.what()}});
      continue;
    }
    ++report.compared;
    Drift d;
    d.sourceId = sourceId;
    d.label = label;
    if (!found) {
      d.kind = Drift::Kind::Missing;
      d.targetId = correlated.value_or("");
      d.reason = correlated ? "deleted in " + p.targetPlugin + " (was correlated)" : "never synced";
    } else {
      d.kind = Drift::Kind::Different;
      d.targetId = text(found->value("id", Json()));
      for (const auto& [field, value] : wanted.items()) {
        if (field == "locationId" || value.is_null()) {
          continue;
        }
        const Json have = found->value(field, Json());
        if (!agrees(field, value, have)) {
          d.fields[field] = {{"source", value}, {"target", have}};
        }
      }
      d.reason = correlated ? "changed in " + p.targetPlugin : "not correlated, matched by e-mail";
      if (d.fields.empty()) {
        ++report.inSync;
        d.targetId.clear();
      }
    }
    if (d.kind == Drift::Kind::Missing || !d.fields.empty()) {
      report.drift.push_back(std::move(d));
      repairs.push_back(i);
    }
    ++done;
    if (std::chrono::steady_clock::now() - lastSay > 2s || done == total) {
      lastSay = std::chrono::steady_clock::now();
      say("compare", done, total,
          report.full ? 0.0 : static_cast<double>(total - done));
    }
  }
  if (cancelled()) {
    throw std::runtime_error("the sync cycle was cancelled");
  }

  // 4. Orphans: target records correlated to a source record the full listing no longer has.
  if (report.full) {
    for (const auto& [id, contact] : targetById) {
      for (const auto& c : store.reverseLookup(p.kind, p.targetPlugin, id)) {
        if (c.sourceSystem == p.sourcePlugin && indexOf.count(c.sourceId) == 0) {
          Drift d;
          d.kind = Drift::Kind::Orphaned;
          d.sourceId = c.sourceId;
          d.targetId = id;
          d.label = text(contact.value("email", Json()));
          d.reason = "gone from " + p.sourcePlugin;
          report.drift.push_back(std::move(d));
        }
      }
    }
  }
  report.targetCalls = targetCtx.calls();

  // 5. Queue the repairs with the new cursor, in one transaction. They become available at the
  // pace the budget share allows, so live events are never stuck behind a long cycle.
  const double repairsPerSecond =
      report.callsPerSecond / static_cast<double>(report.callsPerRepair);
  report.repairEta = etaFor(static_cast<double>(repairs.size() * report.callsPerRepair));
  if (!options.dryRun) {
    const auto nowUs = store::systemNowUs();
    const std::string cycleId = std::to_string(nowUs);
    std::vector<store::NewEvent> events;
    for (std::size_t n = 0; n < repairs.size(); ++n) {
      const Json& record = records[repairs[n]];
      store::NewEvent e;
      e.source = flow_.triggerPlugin + ".sync";
      e.sourceEventId = "sync:" + cycleId + ":" + text(record.value("id", Json()));
      e.flowId = flow_.flow.id;
      e.triggerOp = flow_.flow.trigger.use;
      e.recordKey = flow_.triggerPlugin + ":" + text(record.value("id", Json()));
      e.payload = record;
      e.receivedAt = nowUs;
      e.availableAt =
          nowUs + static_cast<store::TimeUs>(static_cast<double>(n) / repairsPerSecond * 1e6);
      events.push_back(std::move(e));
    }
    const double atUnix =
        std::chrono::duration<double>(startedWall.time_since_epoch()).count();
    Json last = {{"at", report.startedAt},
                 {"at_unix", std::floor(atUnix)},
                 {"full", report.full},
                 {"source_records", report.sourceRecords},
                 {"missing", report.count(Drift::Kind::Missing)},
                 {"different", report.count(Drift::Kind::Different)},
                 {"orphaned", report.count(Drift::Kind::Orphaned)},
                 {"drift", report.driftTotal()},
                 {"queued", static_cast<long>(events.size())}};
    // Guarded by the cursor this cycle started from: when another worker's cycle committed in
    // the meantime, its repairs (read at least as late as ours) stand and ours are dropped, so
    // an older copy of a record can never be queued after a newer one.
    const auto results =
        store.commitPollFrom(key, stored, {{"source", sourceCursor}, {"last", last}}, events);
    if (!results) {
      report.alreadyQueued += static_cast<long>(events.size());
      log::write(sdk::LogLevel::Info,
                 "Another worker's sync cycle committed first; this cycle queued nothing.",
                 {{"flow", flow_.flow.id}, {"repairs", events.size()}});
      report.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      return report;
    }
    for (const auto& r : *results) {
      (r.created ? report.queued : report.alreadyQueued) += 1;
    }
    auto& metrics = engine_.metrics();
    publish(metrics, flow_.flow.id, last);
    metrics
        .counter("ferry_sync_cycles_total", "Sync cycles committed.",
                 {{"flow", flow_.flow.id}, {"mode", report.full ? "full" : "changed"}})
        .add();
    metrics
        .counter("ferry_sync_repairs_queued_total", "Repair events queued by sync cycles.",
                 {{"flow", flow_.flow.id}})
        .add(static_cast<double>(report.queued));
  }
  say("queue", report.queued, static_cast<long>(repairs.size()),
      static_cast<double>(repairs.size() * report.callsPerRepair));
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace ferry::core::sync

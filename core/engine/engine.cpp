#include "engine/engine.hpp"

#include <openssl/sha.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "engine/local_context.hpp"
#include "engine/replay_metrics.hpp"
#include "engine/worker_identity.hpp"
#include "ferry/sdk/validate.hpp"
#include "flow/validate.hpp"
#include "log/debug.hpp"
#include "log/log.hpp"
#include "secrets/masker.hpp"

namespace ferry::core::engine {

using sdk::Json;
using namespace std::chrono_literals;

namespace {

std::string sha256Hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 15]);
  }
  return out;
}

store::TimeUs nowUs() { return store::systemNowUs(); }

std::string pluginOf(std::string_view operationId) {
  return std::string(operationId.substr(0, operationId.find('.')));
}

bool isUpdate(std::string_view operationId) {
  return operationId.ends_with(".update") || operationId.ends_with(".upsert");
}

http::Reply jsonReply(int status, const Json& body) {
  http::Reply r;
  r.status = status;
  // A connector's rejection message may carry bytes that are not UTF-8: replace them rather
  // than throw (which would answer 500).
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

// The correlation table as the mapping language's correlate() sees it for one flow.
class StoreCorrelations : public flow::CorrelationLookup {
 public:
  StoreCorrelations(store::Store& store, std::string source, std::string target)
      : store_(store), source_(std::move(source)), target_(std::move(target)) {}
  std::optional<std::string> find(std::string_view kind, std::string_view sourceId) override {
    return store_.lookup(std::string(kind), source_, std::string(sourceId), target_);
  }

 private:
  store::Store& store_;
  std::string source_;
  std::string target_;
};

}  // namespace

// An HTTP client that keeps a connection under its rate budget and records every exchange
// (masked) for run history and dead letters.
class Engine::PacedHttp : public sdk::HttpClient {
 public:
  PacedHttp(Engine& engine, ConnectionRuntime& conn) : engine_(engine), conn_(conn) {}

  sdk::HttpResponse send(const sdk::HttpRequest& request) override {
    auto& budget = engine_.budgets_.get(conn_.connection.name, conn_.bucket, conn_.rateLimit,
                                        conn_.rateInterval);
    const bool shared = engine_.store_.engine() == "postgresql";
    bool told = false;
    for (;;) {
      auto wait = budget.reserve(Clock::now());
      if (wait == 0ms && shared) {
        const auto grant = engine_.store_.takeToken(
            conn_.connection.name, conn_.bucket, nowUs(), conn_.rateLimit,
            std::chrono::duration_cast<std::chrono::microseconds>(conn_.rateInterval));
        if (!grant.granted) {
          wait = std::max(1ms, std::chrono::duration_cast<std::chrono::milliseconds>(grant.wait));
        }
      }
      if (wait == 0ms) {
        break;
      }
      if (!engine_.running_ && !engine_.callsBeforeStart_) {
        throw sdk::TransportError("ferry is stopping; the call was not sent");
      }
      if (!told && log::enabled(sdk::LogLevel::Debug)) {
        told = true;
        log::write(sdk::LogLevel::Debug, "A call waits for its rate budget.",
                   {{"connection", conn_.connection.name},
                    {"bucket", conn_.bucket},
                    {"wait_ms", wait.count()},
                    {"budget", shared ? "shared (store)" : "local"},
                    {"limit", conn_.rateLimit},
                    {"interval_ms", conn_.rateInterval.count()}});
      }
      engine_.metrics_
          .counter("ferry_rate_budget_waits_total", "Calls delayed to stay within a rate budget.",
                   {{"connection", conn_.connection.name}})
          .add();
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(wait, 500ms));
    }
    const auto& masker = secrets::Masker::global();
    Json exchange = {{"request",
                      {{"method", request.method},
                       {"url", masker.maskText(request.url)},
                       {"headers", Json::object()},
                       {"body", masker.maskText(request.body)}}}};
    for (const auto& [k, v] : masker.maskHeaders(request.headers)) {
      exchange["request"]["headers"][k] = v;
    }
    const auto started = Clock::now();
    try {
      auto response = engine_.http_.send(request);
      exchange["response"] = {{"status", response.status},
                              {"body", masker.maskText(response.body)},
                              {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                         Clock::now() - started)
                                         .count()}};
      engine_.metrics_
          .counter("ferry_http_requests_total", "HTTP requests sent to services.",
                   {{"connection", conn_.connection.name},
                    {"status", std::to_string(response.status)}})
          .add();
      exchanges.push_back(std::move(exchange));
      return response;
    } catch (const sdk::TransportError& e) {
      exchange["response"] = {{"error", masker.maskText(e.what())}};
      exchanges.push_back(std::move(exchange));
      throw;
    }
  }

  std::vector<Json> exchanges;

 private:
  Engine& engine_;
  ConnectionRuntime& conn_;
};

// The Context lent to a plugin for one call.
class Engine::CallContext : public sdk::Context {
 public:
  CallContext(Engine& engine, ConnectionRuntime& conn)
      : engine_(engine), conn_(conn), http_(engine, conn), logger_(conn.connection.plugin) {}
  // Keeps the connection alive for the context's lifetime (a reload may replace it).
  CallContext(Engine& engine, std::shared_ptr<ConnectionRuntime> conn)
      : CallContext(engine, *conn) {
    keep_ = std::move(conn);
  }

  const sdk::Connection& connection() override { return conn_.connection; }
  sdk::HttpClient& http() override { return http_; }
  sdk::State& state() override { return *conn_.state; }
  sdk::Secrets& secrets() override { return *conn_.secrets; }
  sdk::Logger& log() override { return logger_; }
  sdk::Clock& clock() override { return clock_; }
  void reportRateLimit(const sdk::RateLimitReport& report) override {
    const std::string bucket = report.bucket.empty() ? conn_.bucket : report.bucket;
    engine_.budgets_.get(conn_.connection.name, bucket, conn_.rateLimit, conn_.rateInterval)
        .observe(report, Clock::now());
    if (report.remaining) {
      engine_.metrics_
          .gauge("ferry_rate_budget_remaining", "Calls left in the current rate window, as the "
                                                "service reported.",
                 {{"connection", conn_.connection.name}, {"bucket", bucket}})
          .set(static_cast<double>(*report.remaining));
    }
    if (report.dailyRemaining) {
      engine_.metrics_
          .gauge("ferry_rate_budget_daily_remaining", "Calls left today, as the service reported.",
                 {{"connection", conn_.connection.name}, {"bucket", bucket}})
          .set(static_cast<double>(*report.dailyRemaining));
    }
  }

  PacedHttp& paced() { return http_; }

 private:
  Engine& engine_;
  ConnectionRuntime& conn_;
  PacedHttp http_;
  log::PluginLogger logger_;
  SystemClock clock_;
  std::shared_ptr<ConnectionRuntime> keep_;
};

// Why a step did not finish, and what to do about it.
struct Engine::StepFailure {
  sdk::ErrorKind kind = sdk::ErrorKind::Permanent;
  std::string code;
  std::string message;
  std::optional<std::chrono::milliseconds> retryAfter;
  int attempts = 0;  // of this step, 0 when it never reached its call
  Json request;
  Json response;
  const flow::Step* step = nullptr;
};

Engine::Engine(RuntimeConfig config, const catalog::Catalog& catalog, store::Store& store,
               secrets::CredentialsFile* credentials)
    : config_(std::move(config)),
      catalog_(catalog),
      store_(store),
      credentials_(credentials),
      http_([this] {
        http::ClientOptions options;
        options.caFile = config_.tlsCaFile.string();
        return options;
      }()) {}

Engine::~Engine() { stop(); }

std::shared_ptr<ConnectionRuntime> Engine::connection(const std::string& name) {
  std::lock_guard lock(connectionsMutex_);
  auto& slot = connections_[name];
  if (slot) {
    return slot;
  }
  const auto* cfg = config_.base.find(name);
  if (cfg == nullptr) {
    throw std::runtime_error("connection '" + name + "' is not configured");
  }
  slot = std::make_shared<ConnectionRuntime>();
  slot->connection = cfg->connection;
  auto rt = config_.connections.find(name);
  std::map<std::string, std::string> env;
  if (rt != config_.connections.end()) {
    env = rt->second.secretEnv;
    slot->rateLimit = rt->second.rateLimit;
    slot->rateInterval = rt->second.rateInterval;
    if (!rt->second.bucketSetting.empty()) {
      slot->bucket = slot->connection.settings.value(rt->second.bucketSetting, "");
    }
  }
  if (slot->bucket.empty()) {
    slot->bucket = slot->connection.settings.value("location_id", name);
  }
  slot->secrets = std::make_unique<secrets::ConnectionSecrets>(name, env, credentials_);
  slot->state = store_.stateFor(slot->connection.plugin, name);
  return slot;
}

std::shared_ptr<const FlowSet> Engine::flowSet() const {
  std::lock_guard lock(flowsMutex_);
  return flows_;
}

std::vector<flow::Diagnostic> Engine::loadFlows() {
  std::vector<flow::Diagnostic> diagnostics;
  auto set = buildFlows(config_, diagnostics);
  if (diagnostics.empty()) {
    std::lock_guard lock(flowsMutex_);
    flows_ = std::move(set);
  }
  return diagnostics;
}

std::shared_ptr<FlowSet> Engine::buildFlows(const RuntimeConfig& config,
                                            std::vector<flow::Diagnostic>& diagnostics) {
  std::vector<flow::Flow> parsed;
  std::vector<std::string> hashes;
  std::vector<store::FlowVersion> versions;  // the mapping changelog (ferry flow history)
  for (const auto& file : config.flowFiles) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      diagnostics.push_back({file.string(), {}, "io_error", "cannot read the flow file",
                             "check the path under `flows:` in " + config.file.string()});
      continue;
    }
    std::stringstream text;
    text << in.rdbuf();
    if (auto f = flow::parseFlow(text.str(), file.string(), diagnostics)) {
      parsed.push_back(std::move(*f));
      hashes.push_back(sha256Hex(text.str()));
      versions.push_back({parsed.back().id, hashes.back(), std::to_string(parsed.back().version),
                          file.string(), text.str(), 0});
    }
  }
  flow::validate(parsed, catalog_, &config.base, diagnostics);
  auto set = std::make_shared<FlowSet>();
  if (!diagnostics.empty()) {
    return set;
  }
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    auto lf = std::make_unique<LoadedFlow>();
    lf->flow = std::move(parsed[i]);
    lf->hash = hashes[i];
    const auto entry = catalog_.find(lf->flow.trigger.use);
    lf->triggerSpec = entry.operation;
    lf->triggerPlugin = pluginOf(lf->flow.trigger.use);
    const auto* plugin = catalog_.plugin(lf->triggerPlugin);
    lf->trigger = plugin == nullptr ? nullptr : plugin->connector->trigger(lf->flow.trigger.use);
    for (const auto& step : lf->flow.steps) {
      const auto p = pluginOf(step.use);
      if (p != lf->triggerPlugin) {
        lf->targetPlugin = p;
        break;
      }
    }
    flow::EvalEnv env;
    lf->filters = flow::evaluate(lf->flow.trigger.with, env);
    set->byRoute[lf->flow.id] = lf.get();
    set->byId[lf->flow.id] = lf.get();
    set->flows.push_back(std::move(lf));
  }
  for (const auto& v : versions) {
    try {
      store_.recordFlowVersion(v);
    } catch (const store::StoreError& e) {
      log::write(sdk::LogLevel::Warn, "A flow version could not be recorded; its history lacks it.",
                 {{"flow", v.flowId}, {"hash", v.hash}, {"error", e.what()}});
    }
  }
  return set;
}

// The inbox record key of an event: events of one record (a contact and the notes, calls and
// changes keyed by it) run one at a time, in order. Which of them may be coalesced is decided
// at claim time (processOne), not by splitting keys.
static std::string inboxRecordKey(const LoadedFlow& lf, const sdk::Event& e) {
  return e.recordKey.empty() ? "" : lf.triggerPlugin + ":" + e.recordKey;
}

std::string Engine::webhookUrl(const LoadedFlow& lf) const {
  return config_.publicUrl + "/hooks/" + lf.flow.id;
}

http::Reply Engine::receive(const std::string& route, const sdk::WebhookRequest& request) {
  const auto flows = flowSet();  // held until the answer: a reload cannot pull it away
  auto it = flows->byRoute.find(route);
  if (it == flows->byRoute.end()) {
    return jsonReply(404, {{"error", "unknown_route"}, {"message", "no flow listens here"}});
  }
  const LoadedFlow& lf = *it->second;
  auto& received = metrics_.counter("ferry_webhooks_total", "Webhook requests received.",
                                    {{"flow", lf.flow.id}});
  received.add();
  store::QueueStats stats;
  try {
    stats = store_.queueStats();
  } catch (const store::StoreError& e) {
    noteStoreFault(e);
    log::write(sdk::LogLevel::Error, "The store is unavailable; webhooks are refused for now.",
               {{"error", e.what()}});
    auto r = jsonReply(429, {{"error", "store_unavailable"}, {"message", "try again later"}});
    r.headers = {{"Retry-After", "30"}};
    return r;
  }
  if (stats.queued >= config_.queueHighWater) {
    metrics_.counter("ferry_webhooks_throttled_total", "Webhooks answered 429 (queue full).")
        .add();
    auto r = jsonReply(429, {{"error", "queue_full"},
                             {"message", "the queue is over its high-water mark; retry later"}});
    r.headers = {{"Retry-After", "10"}};
    return r;
  }
  const auto conn = connection(lf.flow.trigger.connection);
  CallContext ctx(*this, *conn);
  std::vector<sdk::Event> events;
  try {
    events = lf.trigger->receive(ctx, lf.filters, request);
  } catch (const sdk::WebhookRejected& e) {
    metrics_.counter("ferry_webhooks_rejected_total", "Webhook requests refused.",
                     {{"flow", lf.flow.id}, {"code", e.code}})
        .add();
    log::write(sdk::LogLevel::Warn, "A webhook request was refused.",
               {{"flow", lf.flow.id}, {"code", e.code}, {"reason", e.what()}});
    return jsonReply(e.status, {{"error", e.code}, {"message", e.what()}});
  } catch (const std::exception& e) {
    // Not a refusal: a call the plugin made to read the delivery failed (an OperationError, a
    // TransportError), or the plugin has a bug. GHL drops a delivery answered anything but 2xx or
    // 429, so the sender is asked to retry (GHL: 6 times over about 70 minutes) while the log and
    // the metric say why.
    std::string code = "plugin_error";
    if (const auto* op = dynamic_cast<const sdk::OperationError*>(&e)) {
      code = op->code;
    } else if (dynamic_cast<const sdk::TransportError*>(&e) != nullptr) {
      code = "transport";
    }
    metrics_.counter("ferry_webhooks_failed_total",
                     "Webhook requests that failed unrefused; answered 429 so the sender retries.",
                     {{"flow", lf.flow.id}, {"code", code}})
        .add();
    log::write(sdk::LogLevel::Error,
               "A webhook could not be read; the sender is asked to retry. If it repeats with "
               "code plugin_error, upgrade the plugin (or report the error).",
               {{"flow", lf.flow.id},
                {"plugin", lf.triggerPlugin},
                {"code", code},
                {"error", secrets::Masker::global().maskText(e.what())}});
    auto r = jsonReply(429, {{"error", code}, {"message", "the delivery could not be read; retry later"}});
    r.headers = {{"Retry-After", "60"}};
    return r;
  }
  Json ids = Json::array();
  try {
    for (const auto& e : events) {
      store::NewEvent ne;
      ne.source = lf.triggerPlugin + ".webhook";
      ne.sourceEventId = e.id.empty() ? sha256Hex(request.body) : e.id;
      ne.flowId = lf.flow.id;
      ne.triggerOp = lf.flow.trigger.use;
      ne.recordKey = inboxRecordKey(lf, e);
      ne.payload = e.payload;
      ne.rawBody = request.body;
      const auto result = store_.enqueue(ne);
      ids.push_back(result.id);
      metrics_.counter("ferry_events_received_total", "Events durably queued.",
                       {{"flow", lf.flow.id}, {"duplicate", result.created ? "false" : "true"}})
          .add();
    }
  } catch (const store::StoreError& e) {
    noteStoreFault(e);
    log::write(sdk::LogLevel::Error, "An event could not be stored; the sender is asked to retry.",
               {{"flow", lf.flow.id}, {"error", e.what()}});
    auto r = jsonReply(429, {{"error", "store_unavailable"}, {"message", "try again later"}});
    r.headers = {{"Retry-After", "30"}};
    return r;
  }
  return jsonReply(200, {{"accepted", ids.size()}, {"ids", ids}});
}

void Engine::pollOnce(const LoadedFlow& lf) {
  const auto conn = connection(lf.flow.trigger.connection);
  CallContext ctx(*this, *conn);
  const std::string key = lf.flow.id + ":" + lf.flow.trigger.use;
  const auto cursor = store_.pollCursor(key).value_or(Json());
  auto result = lf.trigger->poll(ctx, lf.filters, cursor);
  std::vector<store::NewEvent> events;
  for (const auto& e : result.events) {
    store::NewEvent ne;
    ne.source = lf.triggerPlugin + ".poll";
    ne.sourceEventId = e.id;
    ne.flowId = lf.flow.id;
    ne.triggerOp = lf.flow.trigger.use;
    ne.recordKey = inboxRecordKey(lf, e);
    ne.payload = e.payload;
    events.push_back(std::move(ne));
  }
  // Guarded by the cursor this poll started from: when another worker committed a poll of this
  // trigger meanwhile, this one's result is dropped (it may hold older versions of records than
  // that worker queued) and the next poll fetches again from the newer cursor.
  if (!store_.commitPollFrom(key, cursor, result.cursor, events)) {
    metrics_.counter("ferry_polls_superseded_total",
                     "Polls dropped because another worker committed the same cursor first.",
                     {{"flow", lf.flow.id}})
        .add();
    log::write(sdk::LogLevel::Debug,
               "Another worker committed a poll of this trigger first; this poll's result is "
               "dropped and the next poll continues from that worker's cursor.",
               {{"flow", lf.flow.id}, {"events", events.size()}});
    return;
  }
  metrics_.counter("ferry_polls_total", "Polls run.", {{"flow", lf.flow.id}}).add();
  if (!events.empty()) {
    // Polled events are queued events too ("events in"), not only the webhook ones.
    metrics_.counter("ferry_events_received_total", "Events durably queued.",
                     {{"flow", lf.flow.id}, {"duplicate", "false"}})
        .add(static_cast<double>(events.size()));
  }
}

void Engine::runStep(const LoadedFlow& lf, const flow::Step& step, const store::Claimed& claimed,
                     store::RunId run, Json& outputs) {
  const auto& event = claimed.event;
  const auto& masker = secrets::Masker::global();
  store::StepRecord record;
  record.stepId = step.id;
  record.startedAt = nowUs();

  if (auto done = store_.journalGet(event.id, step.id)) {
    if (done->status == store::StepStatus::Done) {
      outputs[step.id] = done->output;
      return;  // ran in an earlier attempt: the journal keeps its output
    }
    if (done->status == store::StepStatus::Skipped) {
      return;
    }
  }
  StoreCorrelations correlations(store_, lf.triggerPlugin, lf.targetPlugin);
  flow::EvalEnv env;
  env.event = &event.payload;
  env.steps = &outputs;
  env.correlations = &correlations;
  env.now = std::chrono::system_clock::now();

  StepFailure failure;
  failure.step = &step;
  auto fail = [&](sdk::ErrorKind kind, std::string code, std::string message) {
    failure.kind = kind;
    failure.code = std::move(code);
    failure.message = std::move(message);
    throw failure;
  };

  Json input;
  try {
    if (step.when && !flow::truthy(flow::evaluate(*step.when, env))) {
      store::StepFinish skipped;
      skipped.eventId = event.id;
      skipped.stepId = step.id;
      skipped.begin = true;
      skipped.status = store::StepStatus::Skipped;
      skipped.run = run;
      skipped.record = record;
      skipped.record.status = "skipped";
      skipped.record.finishedAt = nowUs();
      store_.finishStep(skipped);
      return;
    }
    input = flow::evaluate(step.with, env);
  } catch (const flow::EvalError& e) {
    fail(sdk::ErrorKind::Invalid, "mapping", std::string("a mapping failed: ") + e.what());
  }

  const auto entry = catalog_.find(step.use);
  const auto* plugin = catalog_.plugin(pluginOf(step.use));
  sdk::Action* action = plugin == nullptr ? nullptr : plugin->connector->action(step.use);
  if (entry.operation == nullptr || action == nullptr) {
    fail(sdk::ErrorKind::Permanent, "unknown_operation",
         "operation '" + step.use + "' is not loaded");
  }
  input = sdk::applyDefaults(entry.operation->input, input);
  const auto connHolder = connection(step.connection);  // kept alive across a reload
  auto& conn = *connHolder;
  // Inputs the connection fills (locationId from location_id) are the connector's business;
  // an issue for one of them is not an error here.
  std::string problems;
  for (const auto& issue : sdk::validate(entry.operation->input, input)) {
    if (issue.code == "missing" && flow::settingFills(conn.connection, issue.path)) {
      continue;
    }
    problems += (problems.empty() ? "" : "; ") + issue.message;
  }
  if (!problems.empty()) {
    record.request = masker.maskJson(input);
    fail(sdk::ErrorKind::Invalid, "invalid_input", "the mapped input is invalid: " + problems);
  }

  if (log::enabled(sdk::LogLevel::Debug)) {
    log::write(sdk::LogLevel::Debug, "A step's input is mapped; calling the operation.",
               {{"flow", lf.flow.id},
                {"event", event.id},
                {"step", step.id},
                {"use", step.use},
                {"connection", step.connection},
                {"input_shape", log::shapeOf(input)}});
  }
  // No-op suppression: an update with exactly the inputs this step last sent for this record
  // would change nothing. Only updates of a keyed record need the hash (it costs a dump and a
  // SHA-256 of the input).
  const bool suppressible = isUpdate(step.use) && !event.recordKey.empty();
  const std::string inputHash = suppressible ? sha256Hex(input.dump()) : std::string();
  const std::string sentKey = "sent:" + lf.flow.id + ":" + step.id + ":" + event.recordKey;
  // Sync events (core/sync) exist because the target drifted from what was last sent: they
  // are always sent.
  const bool syncEvent = event.source.ends_with(".sync");
  if (suppressible && !syncEvent) {
    if (auto last = conn.state->get(sentKey)) {
      const Json saved = Json::parse(*last, nullptr, false);
      if (saved.is_object() && saved.value("hash", "") == inputHash) {
        outputs[step.id] = saved["output"];
        store::StepFinish unchanged;
        unchanged.eventId = event.id;
        unchanged.stepId = step.id;
        unchanged.begin = true;
        unchanged.request = masker.maskJson(input);
        unchanged.output = saved["output"];
        unchanged.response = Json{{"unchanged", true}};
        unchanged.run = run;
        unchanged.record = record;
        unchanged.record.status = "unchanged";
        unchanged.record.finishedAt = nowUs();
        store_.finishStep(unchanged);
        log::write(sdk::LogLevel::Debug, "An update was not sent: it would change nothing.",
                   {{"flow", lf.flow.id}, {"event", event.id}, {"step", step.id}});
        metrics_.counter("ferry_calls_suppressed_total", "Updates not sent: nothing changed.",
                         {{"flow", lf.flow.id}, {"step", step.id}})
            .add();
        return;
      }
    }
  }

  const std::string key = sha256Hex(event.source + ":" + event.sourceEventId + ":" +
                                    lf.flow.id + ":" + step.id)
                              .substr(0, 32);
  const auto journal = store_.journalBegin(event.id, step.id, key, masker.maskJson(input));
  record.attempts = journal.attempts;
  failure.attempts = journal.attempts;
  // An earlier attempt recorded its intent and no result: it may have taken effect. Repeat it
  // with its own input (a mapping with now() would differ) and look for its effect first.
  const bool repeated = journal.attempts > 1 && journal.request.is_object();
  if (repeated) {
    input = journal.request;
  }

  CallContext ctx(*this, conn);
  const auto started = Clock::now();
  Json output;
  try {
    std::optional<Json> previous;
    if (repeated) {
      previous = action->findPrevious(input, ctx);
      log::write(sdk::LogLevel::Debug,
                 previous ? "A repeated call's earlier effect was found; it is not sent again."
                          : "A repeated call left no trace; it is sent again.",
                 {{"flow", lf.flow.id}, {"event", event.id}, {"step", step.id},
                  {"attempt", journal.attempts}});
      if (previous) {
        metrics_.counter("ferry_duplicates_avoided_total",
                         "Repeated calls whose earlier effect was found, so not sent again.",
                         {{"flow", lf.flow.id}, {"step", step.id}})
            .add();
      }
    }
    output = previous ? std::move(*previous) : action->invoke(input, ctx);
  } catch (const sdk::OperationError& e) {
    failure.retryAfter = e.retryAfter;
    if (!ctx.paced().exchanges.empty()) {
      failure.request = ctx.paced().exchanges.back()["request"];
      failure.response = ctx.paced().exchanges.back().value("response", Json());
    }
    record.request = failure.request;
    record.response = failure.response;
    fail(e.kind, e.code, masker.maskText(e.what()));
  } catch (const sdk::TransportError& e) {
    if (!ctx.paced().exchanges.empty()) {
      failure.request = ctx.paced().exchanges.back()["request"];
    }
    fail(sdk::ErrorKind::Transient, "transport", masker.maskText(e.what()));
  } catch (const std::exception& e) {
    fail(sdk::ErrorKind::Permanent, "plugin_error",
         "the plugin failed: " + masker.maskText(e.what()));
  }
  const double seconds =
      std::chrono::duration<double>(Clock::now() - started).count();
  metrics_
      .histogram("ferry_step_duration_seconds", "Time a step's call took.",
                 {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
                 {{"flow", lf.flow.id}, {"step", step.id}})
      .observe(seconds);

  Json exchanges = Json::array();
  for (auto& x : ctx.paced().exchanges) {
    exchanges.push_back(x);
  }
  // The journal's result, the id pair, the no-op hash and the history row: one commit.
  store::StepFinish done;
  done.eventId = event.id;
  done.stepId = step.id;
  done.output = output;
  outputs[step.id] = output;
  if (step.correlate) {
    // The call took effect: an id pair that cannot be evaluated must not undo the step's
    // result (the journal would say "intent" and the call would be repeated).
    Json source, target;
    try {
      source = flow::evaluate(step.correlate->source, env);
      target = flow::evaluate(step.correlate->target, env);
    } catch (const flow::EvalError& e) {
      log::write(sdk::LogLevel::Warn, "A step's id pair could not be evaluated; it is not recorded.",
                 {{"flow", lf.flow.id}, {"event", event.id}, {"step", step.id},
                  {"error", masker.maskText(e.what())}});
    }
    if (source.is_string() && target.is_string() && !source.get<std::string>().empty() &&
        !target.get<std::string>().empty()) {
      done.correlation = store::Correlation{step.correlate->kind, lf.triggerPlugin,
                                            source.get<std::string>(), pluginOf(step.use),
                                            target.get<std::string>()};
    }
  }
  if (suppressible) {
    done.state = store::StepFinish::StateWrite{
        conn.connection.plugin, step.connection, sentKey,
        Json{{"hash", inputHash}, {"output", output}}.dump()};
  }
  record.status = "done";
  record.finishedAt = nowUs();
  if (log::enabled(sdk::LogLevel::Debug)) {
    log::write(sdk::LogLevel::Debug, "A step is done.",
               {{"flow", lf.flow.id},
                {"event", event.id},
                {"step", step.id},
                {"calls", exchanges.size()},
                {"ms", static_cast<long long>(seconds * 1000)},
                {"output_shape", log::shapeOf(output)}});
  }
  if (!exchanges.empty()) {
    record.request = exchanges.back()["request"];
    record.response = exchanges.back().value("response", Json());
  }
  done.response = std::move(exchanges);
  done.run = run;
  done.record = std::move(record);
  store_.finishStep(done);
}

void Engine::deadLetter(const store::Lease& lease, const std::string& flowId,
                        const std::string& reason, const Json& request, const Json& response) {
  metrics_.counter("ferry_events_dead_total", "Events moved to the dead-letter queue.",
                   {{"flow", flowId}})
      .add();
  store_.deadLetter(lease, reason, request, response);
}

bool Engine::processOne(const std::string& workerId) {
  store::ClaimOptions options;
  options.limit = 1;
  options.leaseDuration = std::chrono::duration_cast<std::chrono::microseconds>(config_.lease);
  options.coalesce = true;
  // Only events of triggers that declare themselves snapshots of one record coalesce
  // (OperationSpec::coalesce: a contact's newer version replaces an older one). Created events,
  // calls, notes and stage changes are each a fact of their own and never merge.
  options.coalesceTrigger = [this](const std::string& op) {
    const auto entry = catalog_.find(op);
    return entry.operation != nullptr && entry.operation->coalesce;
  };
  auto claimed = store_.claim(workerId, options);
  if (claimed.empty()) {
    return false;
  }
  const auto& c = claimed.front();
  const auto& event = c.event;
  if (log::enabled(sdk::LogLevel::Debug)) {
    log::write(sdk::LogLevel::Debug, "A worker claimed an event.",
               {{"worker", workerId},
                {"event", event.id},
                {"flow", event.flowId},
                {"trigger", event.triggerOp},
                {"record", event.recordKey},
                {"attempt", c.lease.attempt},
                {"coalesced", event.coalesced.size()},
                {"queued_ms", (nowUs() - event.receivedAt) / 1000}});
  }
  if (!event.coalesced.empty()) {
    metrics_.counter("ferry_events_coalesced_total", "Queued events merged into a newer one.")
        .add(static_cast<double>(event.coalesced.size()));
  }
  if (event.interruptions >= config_.maxInterruptions) {
    // Its runs keep ending with their worker (a crash, a kill, a lease lost mid-run): set it
    // aside before it takes this worker down too. Its journal keeps what it did; a replay runs
    // it again from there.
    const std::string reason =
        "interrupted: " + std::to_string(event.interruptions) +
        " runs of this event ended without an outcome (a worker crashed, was killed or lost its "
        "lease during each); set aside so that it cannot take down more workers (limits."
        "max_interruptions is " + std::to_string(config_.maxInterruptions) +
        "). Hint: read the workers' logs around its runs (`ferry runs list --flow " + event.flowId +
        "`), then `ferry dlq replay " + std::to_string(event.id) + "`";
    log::write(sdk::LogLevel::Error, "An event was set aside: its runs keep being interrupted.",
               {{"event", event.id},
                {"flow", event.flowId},
                {"record", event.recordKey},
                {"interruptions", event.interruptions},
                {"max_interruptions", config_.maxInterruptions}});
    deadLetter(c.lease, event.flowId, reason, Json(), Json());
    return true;
  }
  const auto flows = flowSet();  // the flows this event runs with, even if a reload comes
  auto flowIt = flows->byId.find(event.flowId);
  if (flowIt == flows->byId.end()) {
    deadLetter(c.lease, event.flowId, "flow '" + event.flowId + "' is not loaded", Json(), Json());
    return true;
  }
  const LoadedFlow& lf = *flowIt->second;
  // The lease is renewed while the run is in progress (a call may outlast it). Before each
  // settle the watch is finished; when a renewal was refused the event is someone else's now,
  // so the run ends without settling it.
  const auto watch = renewer_->watch(c.lease, options.leaseDuration);
  store::RunStart start;
  start.eventId = event.id;
  start.flowId = lf.flow.id;
  start.flowVersion = std::to_string(lf.flow.version);
  start.flowHash = lf.hash;
  start.workerId = workerId;
  start.attempt = c.lease.attempt;
  const auto run = store_.beginRun(start);
  const auto leaseLost = [&] {
    if (!watch->finish()) {
      return false;
    }
    store_.finishRun(run, "lease_lost", "the lease was lost: " + watch->reason());
    return true;
  };

  Json outputs = Json::object();
  for (const auto& step : lf.flow.steps) {
    if (watch->lost() && leaseLost()) {
      return true;
    }
    try {
      runStep(lf, step, c, run, outputs);
    } catch (StepFailure& f) {
      store::StepRecord record;
      record.stepId = step.id;
      record.status = "failed";
      record.error = f.code + ": " + f.message;
      record.request = f.request;
      record.response = f.response;
      record.finishedAt = nowUs();
      store_.recordStep(run, record);

      const auto& policy = step.onError;
      // What the step's on_error leaves unset comes from the config's limits.retry.
      RetryPolicy retry = config_.retry;
      retry.maxAttempts = policy.maxAttempts.value_or(config_.retry.maxAttempts);
      retry.initial = policy.delay.value_or(config_.retry.initial);
      if (policy.backoff == "fixed") {
        retry.multiplier = 1.0;
      }
      RetryDecision decision;
      {
        std::lock_guard lock(rngMutex_);
        // The step's journal counts its attempts across replays; the claim's count restarts
        // at a replay, so a replayed dead letter gets its full retries again, not one try.
        const int attempt = f.attempts > 0 ? std::min(f.attempts, c.lease.attempt) : c.lease.attempt;
        decision = decideRetry(retry, attempt, f.kind, f.retryAfter, rng_);
      }
      const std::string reason = step.id + ": " + f.message;
      log::write(decision.retry ? sdk::LogLevel::Debug : sdk::LogLevel::Warn,
                 decision.retry ? "A step failed and will be retried."
                                : "A step failed and will not be retried.",
                 {{"flow", lf.flow.id},
                  {"event", event.id},
                  {"step", step.id},
                  {"kind", sdk::errorKindName(f.kind)},
                  {"code", f.code},
                  {"error", f.message},
                  {"attempt", f.attempts > 0 ? f.attempts : c.lease.attempt},
                  {"max_attempts", retry.maxAttempts},
                  {"decision", decision.reason},
                  {"delay_ms", decision.delay.count()},
                  {"retry_after_ms", f.retryAfter ? f.retryAfter->count() : -1},
                  {"then", decision.retry ? "retry" : "on_error policy"}});
      if (decision.retry) {
        metrics_.counter("ferry_steps_retried_total", "Steps scheduled for another attempt.",
                         {{"flow", lf.flow.id}, {"kind", sdk::errorKindName(f.kind)}})
            .add();
        if (leaseLost()) {
          return true;
        }
        // History first: once the event is settled another worker may pick it up at once.
        store_.finishRun(run, "retry", reason);
        store_.retryLater(c.lease,
                          nowUs() + std::chrono::duration_cast<std::chrono::microseconds>(
                                        decision.delay)
                                        .count(),
                          reason);
        return true;
      }
      metrics_.counter("ferry_steps_failed_total", "Steps that failed for good.",
                       {{"flow", lf.flow.id}, {"kind", sdk::errorKindName(f.kind)}})
          .add();
      using P = flow::OnError::Policy;
      if (policy.then == P::Skip) {
        store_.journalFinish(event.id, step.id, store::StepStatus::Skipped, Json(),
                             f.response);
        continue;
      }
      if (leaseLost()) {
        return true;
      }
      if (policy.then == P::Fallback && flows->byId.count(policy.fallback) != 0) {
        store::NewEvent ne;
        ne.source = "fallback:" + lf.flow.id;
        ne.sourceEventId = event.sourceEventId;
        ne.flowId = policy.fallback;
        ne.triggerOp = event.triggerOp;
        ne.recordKey = event.recordKey;
        ne.payload = event.payload;
        ne.rawBody = event.rawBody;
        store_.enqueue(ne);  // deduplicated: a repeat after a lost lease queues nothing new
        store_.finishEvent(run, c.lease, "fallback", reason);
        return true;
      }
      store_.finishRun(run, "dead", reason);
      deadLetter(c.lease, lf.flow.id, reason + " (" + decision.reason + ")", f.request, f.response);
      return true;
    }
  }
  if (leaseLost()) {
    return true;
  }
  // Counted before the settle: whoever sees the event settled in the store sees it in /metrics
  // too.
  metrics_.counter("ferry_events_done_total", "Events whose flow finished.", {{"flow", lf.flow.id}})
      .add();
  try {
    store_.finishEvent(run, c.lease, "done", "");  // the run's history and the settle: one commit
  } catch (const store::StoreError& e) {
    if (e.kind() == store::ErrorKind::LeaseLost) {
      store_.finishRun(run, "lease_lost", e.what());
    }
    throw;
  }
  return true;
}

void Engine::refreshGauges() {
  try {
    const auto stats = store_.queueStats();
    metrics_.gauge("ferry_queue_depth", "Events waiting to run.").set(static_cast<double>(stats.queued));
    metrics_.gauge("ferry_events_running", "Events being run.").set(static_cast<double>(stats.running));
    metrics_.gauge("ferry_dead_letters", "Dead letters not yet replayed or discarded.")
        .set(static_cast<double>(stats.dead));
    const double age = stats.oldestQueuedAt == 0
                           ? 0
                           : static_cast<double>(nowUs() - stats.oldestQueuedAt) / 1e6;
    metrics_.gauge("ferry_oldest_event_age_seconds", "Age of the oldest unfinished event.")
        .set(age);
    refreshReplayGauges(store_, metrics_);
  } catch (const store::StoreError&) {
    metrics_.counter("ferry_store_errors_total", "Store calls that failed.").add();
  }
  budgets_.forEach([this](const std::string& connection, const std::string& bucket,
                          RateBudget& budget) {
    metrics_
        .gauge("ferry_rate_budget_available", "Calls ferry may still start in this window.",
               {{"connection", connection}, {"bucket", bucket}})
        .set(static_cast<double>(budget.available(Clock::now())));
  });
}

// How long /readyz stays not-ready after a store failure: a full disk or a database that is down
// does not fail every call (reads and small writes may still pass), so one success proves little.
constexpr store::TimeUs kStoreFaultWindow = 10'000'000;

void Engine::noteStoreFault(const std::exception& e) {
  const auto* error = dynamic_cast<const store::StoreError*>(&e);
  if (error == nullptr) {
    return;
  }
  switch (error->kind()) {
    case store::ErrorKind::Unavailable:
    case store::ErrorKind::Full:
    case store::ErrorKind::ReadOnly:
    case store::ErrorKind::Internal: {
      std::lock_guard lock(storeFaultMutex_);
      storeFault_ = std::string(store::toString(error->kind())) + ": " + error->what();
      lastStoreFaultUs_ = nowUs();
      metrics_.counter("ferry_store_errors_total", "Store calls that failed.").add();
      break;
    }
    default:
      break;
  }
}

std::optional<std::string> Engine::recentStoreFault() const {
  if (nowUs() - lastStoreFaultUs_.load() >= kStoreFaultWindow) {
    return std::nullopt;
  }
  std::lock_guard lock(storeFaultMutex_);
  return storeFault_;
}

void Engine::workerLoop(std::string workerId) {
  auto idle = 20ms;
  while (running_) {
    bool worked = false;
    try {
      worked = processOne(workerId);
    } catch (const store::StoreError& e) {
      if (e.kind() == store::ErrorKind::LeaseLost) {
        // Settling found the event taken over (the lease lapsed between two renewals, e.g.
        // while the store was unreachable): it is someone else's now.
        metrics_.counter("ferry_leases_lost_total",
                         "Runs whose event was taken over by another worker while they ran.")
            .add();
        log::write(sdk::LogLevel::Warn,
                   "An event's lease was lost before its run could settle it; another worker "
                   "owns it now.",
                   {{"worker", workerId}, {"error", e.what()}});
        continue;
      }
      noteStoreFault(e);
      log::write(sdk::LogLevel::Error, "A worker could not reach the store; it will retry.",
                 {{"worker", workerId}, {"error", e.what()}, {"kind", store::toString(e.kind())}});
      std::this_thread::sleep_for(1s);
    } catch (const std::exception& e) {
      log::write(sdk::LogLevel::Error, "A worker hit an unexpected error; it carries on.",
                 {{"worker", workerId}, {"error", secrets::Masker::global().maskText(e.what())}});
      std::this_thread::sleep_for(200ms);
    }
    if (worked) {
      idle = 20ms;
    } else {
      std::this_thread::sleep_for(idle);
      idle = std::min(idle * 2, std::chrono::milliseconds(500));
    }
  }
}

void Engine::pollerLoop() {
  std::map<std::string, Clock::time_point> due;
  while (running_) {
    const auto flows = flowSet();
    for (const auto& lf : flows->flows) {
      if (lf->triggerSpec == nullptr || lf->triggerSpec->delivery != sdk::Delivery::Poll) {
        continue;
      }
      auto& next = due[lf->flow.id];
      if (Clock::now() < next) {
        continue;
      }
      next = Clock::now() + config_.pollInterval;
      try {
        pollOnce(*lf);
      } catch (const std::exception& e) {
        noteStoreFault(e);
        log::write(sdk::LogLevel::Warn, "A poll failed; the next one retries from the same cursor.",
                   {{"flow", lf->flow.id}, {"error", secrets::Masker::global().maskText(e.what())}});
      }
    }
    refreshGauges();
    for (int i = 0; i < 10 && running_; ++i) {
      std::this_thread::sleep_for(100ms);
    }
  }
}

void Engine::start() {
  running_ = true;
  http::ServerOptions options;
  options.host = config_.bind;
  options.port = config_.port;
  options.maxBodyBytes = config_.maxBodyBytes;
  http::Routes routes;
  routes.webhook = [this](const std::string& route, const sdk::WebhookRequest& req) {
    return receive(route, req);
  };
  routes.metrics = [this] {
    refreshGauges();
    http::Reply r;
    r.contentType = "text/plain; version=0.0.4";
    r.body = secrets::Masker::global().maskText(metrics_.render());
    return r;
  };
  routes.health = [] { return http::Reply{200, "text/plain", "ok\n", {}}; };
  routes.ready = [this] {
    if (auto fault = recentStoreFault()) {
      return http::Reply{503, "text/plain", "store unavailable: " + *fault + "\n", {}};
    }
    try {
      const auto stats = store_.queueStats();
      if (stats.queued >= config_.queueHighWater) {
        return http::Reply{503, "text/plain", "queue over its high-water mark\n", {}};
      }
      return http::Reply{200, "text/plain", "ready\n", {}};
    } catch (const store::StoreError& e) {
      return http::Reply{503, "text/plain", std::string("store unavailable\n"), {}};
    }
  };
  server_ = std::make_unique<http::Server>(options, routes);
  server_->start();
  if (config_.publicUrlDefaulted) {
    config_.publicUrl = "http://" + config_.bind + ":" + std::to_string(server_->port());
  }
  for (const auto& lf : flowSet()->flows) {
    if (lf->triggerSpec == nullptr || lf->triggerSpec->delivery != sdk::Delivery::Webhook) {
      continue;
    }
    subscribeFlow(*lf);
  }
  identity_ = workerIdentity(config_);
  // A previous run of this same process (same identity) that crashed or was killed may still
  // hold leases: hand them back now rather than after lease_seconds.
  try {
    const auto released = store_.releaseLeases(identity_ + "/");
    log::write(released > 0 ? sdk::LogLevel::Info : sdk::LogLevel::Debug,
               released > 0 ? "Released the leases a previous run of this worker still held."
                            : "No stale leases of this worker to release.",
               {{"worker", identity_}, {"released", released}});
  } catch (const store::StoreError& e) {
    log::write(sdk::LogLevel::Warn,
               "Stale leases of this worker could not be released; they expire on their own.",
               {{"worker", identity_}, {"error", e.what()}});
  }
  for (int i = 0; i < config_.workers; ++i) {
    threads_.emplace_back(&Engine::workerLoop, this, identity_ + "/w" + std::to_string(i));
  }
  threads_.emplace_back(&Engine::pollerLoop, this);
}

void Engine::subscribeFlow(const LoadedFlow& lf) {
  const auto conn = connection(lf.flow.trigger.connection);
  CallContext ctx(*this, *conn);
  // A transient failure (a 429, a 503, a dropped connection) must not leave the flow deaf:
  // subscribe is idempotent, so try a few times before giving up.
  for (int attempt = 1; attempt <= 5; ++attempt) {
    try {
      lf.trigger->subscribe(ctx, lf.filters, webhookUrl(lf));
      log::write(sdk::LogLevel::Info, "Webhook registered.",
                 {{"flow", lf.flow.id}, {"url", webhookUrl(lf)}});
      break;
    } catch (const std::exception& e) {
      const bool last = attempt == 5;
      log::write(last ? sdk::LogLevel::Error : sdk::LogLevel::Warn,
                 last ? "A webhook could not be registered; events may be missed."
                      : "A webhook registration failed; trying again.",
                 {{"flow", lf.flow.id},
                  {"attempt", attempt},
                  {"error", secrets::Masker::global().maskText(e.what())}});
      if (!last) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300 * attempt));
      }
    }
  }
}

void Engine::unsubscribeFlow(const LoadedFlow& lf) {
  try {
    const auto conn = connection(lf.flow.trigger.connection);
    CallContext ctx(*this, *conn);
    lf.trigger->unsubscribe(ctx, lf.filters, webhookUrl(lf));
    log::write(sdk::LogLevel::Info, "Webhook removed: its flow is no longer configured.",
               {{"flow", lf.flow.id}, {"url", webhookUrl(lf)}});
  } catch (const std::exception& e) {
    log::write(sdk::LogLevel::Warn,
               "The webhook of a removed flow could not be removed; its events are answered "
               "404 until it is.",
               {{"flow", lf.flow.id},
                {"error", secrets::Masker::global().maskText(e.what())},
                {"hint", "remove the webhook in the service's settings"}});
  }
}

void Engine::stop() {
  if (!running_.exchange(false)) {
    return;
  }
  if (server_) {
    server_->stop();
  }
  for (auto& t : threads_) {
    t.join();
  }
  threads_.clear();
}

std::unique_ptr<sdk::Context> Engine::callContext(const std::string& name) {
  return std::make_unique<CallContext>(*this, connection(name));
}

unsigned short Engine::port() const { return server_ ? server_->port() : 0; }

}  // namespace ferry::core::engine

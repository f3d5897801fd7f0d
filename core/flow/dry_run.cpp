#include "flow/dry_run.hpp"

#include <algorithm>

#include "engine/local_context.hpp"
#include "secrets/masker.hpp"
#include "ferry/sdk/errors.hpp"
#include "ferry/sdk/validate.hpp"

namespace ferry::core::flow {

std::optional<std::string> MemoryCorrelations::find(std::string_view kind,
                                                    std::string_view sourceId) {
  std::lock_guard lock(mutex_);
  auto it = ids_.find({std::string(kind), std::string(sourceId)});
  return it == ids_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

void MemoryCorrelations::put(const std::string& kind, const std::string& sourceId,
                             const std::string& targetId) {
  std::lock_guard lock(mutex_);
  ids_[{kind, sourceId}] = targetId;
}

namespace {

constexpr std::string_view kFakePrefix = "ferry-dry-run-secret-";

// Every secret a plugin asks for exists, with a recognisable fake value that mask() hides.
class FakeSecrets : public sdk::Secrets {
 public:
  std::optional<std::string> get(std::string_view name) override {
    return std::string(kFakePrefix) + std::string(name);
  }
  void put(std::string_view, std::string_view) override {}
};

std::string mask(std::string text) {
  for (auto pos = text.find(kFakePrefix); pos != std::string::npos;
       pos = text.find(kFakePrefix, pos)) {
    auto end = pos + kFakePrefix.size();
    while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) ||
                                 text[end] == '_' || text[end] == '-' || text[end] == '.')) {
      ++end;
    }
    text.replace(pos, end - pos, "***");
    pos += 3;
  }
  return text;
}

class RecordingHttp : public sdk::HttpClient {
 public:
  RecordingHttp(const sdk::OperationSpec& op, std::vector<Exchange>& log, sdk::HttpClient* live)
      : op_(op), log_(log), live_(live) {}

  sdk::HttpResponse send(const sdk::HttpRequest& request) override {
    Exchange e;
    e.request = request;
    e.request.url = mask(e.request.url);
    e.request.body = mask(e.request.body);
    for (auto& [name, value] : e.request.headers) {
      value = mask(value);
    }
    sdk::HttpResponse response;
    if (live_ != nullptr) {
      // Real secrets were used: mask them (and credential headers) in what is shown.
      const auto& masker = secrets::Masker::global();
      e.request.headers = masker.maskHeaders(e.request.headers);
      e.request.url = masker.maskText(e.request.url);
      e.request.body = masker.maskText(e.request.body);
      e.live = true;
      try {
        response = live_->send(request);
      } catch (const sdk::TransportError& err) {
        e.response.status = 0;
        e.response.body = masker.maskText(err.what());
        log_.push_back(std::move(e));
        throw;
      }
      e.response = response;
      e.response.body = masker.maskText(response.body);
      log_.push_back(std::move(e));
      return response;
    }
    const auto verb = op_.id.substr(op_.id.rfind('.') + 1);
    const bool creates = verb == "create" || verb == "upsert" || verb.rfind("create", 0) == 0;
    response.status = request.method == "POST" && creates ? 201 : 200;
    response.headers = {{"Content-Type", "application/json"}};
    response.body = op_.examples.empty() ? "{}" : op_.examples.front().output.dump();
    e.response = response;
    log_.push_back(std::move(e));
    return response;
  }

 private:
  const sdk::OperationSpec& op_;
  std::vector<Exchange>& log_;
  sdk::HttpClient* live_;
};

class FixedClock : public sdk::Clock {
 public:
  explicit FixedClock(std::chrono::system_clock::time_point t) : t_(t) {}
  std::chrono::system_clock::time_point now() override { return t_; }

 private:
  std::chrono::system_clock::time_point t_;
};

sdk::Connection connectionFor(const Config* config, const std::string& name,
                              const sdk::ConnectorSpec& connector) {
  if (config != nullptr) {
    if (const auto* c = config->find(name)) {
      sdk::Connection conn = c->connection;
      if (conn.baseUrl.empty()) {
        if (const auto* f = sdk::findField(connector.settings, "base_url");
            f != nullptr && f->defaultValue && f->defaultValue->is_string()) {
          conn.baseUrl = f->defaultValue->get<std::string>();
        }
      }
      if (conn.baseUrl.empty()) {
        conn.baseUrl = "https://" + connector.id + ".invalid";
      }
      return conn;
    }
  }
  sdk::Connection conn;
  conn.name = name;
  conn.plugin = connector.id;
  conn.baseUrl = "https://" + connector.id + ".invalid";
  if (!connector.auth.empty()) {
    conn.auth = connector.auth.front().id;
  }
  return conn;
}

std::string text(const Json& v) {
  std::string out;
  appendText(out, v);
  return out;
}

}  // namespace

DryRun dryRun(const Flow& flow, const catalog::Catalog& catalog, const Config* config,
              const DryRunOptions& options) {
  DryRun run;
  run.flow = flow.id;
  run.trigger = flow.trigger.use;
  if (const auto trigger = catalog.find(flow.trigger.use); trigger.operation != nullptr) {
    for (const auto& issue : sdk::validate(trigger.operation->output, options.event)) {
      run.eventIssues.push_back(issue.message);
    }
  }
  MemoryCorrelations ownCorrelations;
  MemoryCorrelations* correlations =
      options.correlations != nullptr ? options.correlations : &ownCorrelations;
  Json steps = Json::object();
  EvalEnv env{&options.event, &steps, correlations, options.now};
  engine::MemoryState state;
  FakeSecrets secrets;
  FixedClock clock(options.now);

  for (const auto& step : flow.steps) {
    StepRun sr;
    sr.id = step.id;
    sr.use = step.use;
    sr.connection = step.connection;
    try {
      if (step.when) {
        const Json w = evaluate(*step.when, env);
        sr.when = w;
        if (!truthy(w)) {
          run.steps.push_back(std::move(sr));
          continue;
        }
      }
      sr.ran = true;
      sr.inputs = evaluate(step.with, env);
    } catch (const EvalError& e) {
      sr.error = std::string("mapping failed: ") + e.what();
      run.steps.push_back(std::move(sr));
      break;
    }
    const auto entry = catalog.find(step.use);
    sdk::Action* action = nullptr;
    if (entry.operation != nullptr) {
      if (const auto* plugin = catalog.plugin(entry.connector->id)) {
        action = plugin->connector->action(step.use);
      }
    }
    if (action == nullptr) {
      sr.error = "no loaded plugin implements '" + step.use + "'";
      run.steps.push_back(std::move(sr));
      break;
    }
    const auto connection = connectionFor(config, step.connection, *entry.connector);
    Json input = sdk::applyDefaults(entry.operation->input, sr.inputs);
    std::vector<std::string> problems;
    for (const auto& issue : sdk::validate(entry.operation->input, input)) {
      if (issue.code == "missing" && settingFills(connection, issue.path)) {
        continue;  // the plugin fills it from the connection's settings
      }
      problems.push_back(issue.message);
    }
    if (!problems.empty()) {
      sr.error = "the inputs do not validate: ";
      for (std::size_t i = 0; i < problems.size(); ++i) {
        sr.error += (i == 0 ? "" : "; ") + problems[i];
      }
      run.steps.push_back(std::move(sr));
      break;
    }
    RecordingHttp http(*entry.operation, sr.exchanges, options.live);
    sdk::Secrets* stepSecrets = &secrets;
    if (options.live != nullptr && options.secrets) {
      if (auto* real = options.secrets(step.connection)) {
        stepSecrets = real;
      }
    }
    engine::LocalContext ctx({connection, &http, &state, stepSecrets, &clock, {}});
    try {
      sr.output = action->invoke(input, ctx);
    } catch (const sdk::OperationError& e) {
      sr.error = mask(e.what());
      run.steps.push_back(std::move(sr));
      break;
    } catch (const std::exception& e) {
      sr.error = mask(e.what());
      run.steps.push_back(std::move(sr));
      break;
    }
    steps[step.id] = sr.output;
    if (step.correlate) {
      try {
        const Json source = evaluate(step.correlate->source, env);
        const Json target = evaluate(step.correlate->target, env);
        sr.correlation = {{"kind", step.correlate->kind}, {"source", source}, {"target", target}};
        if (!source.is_null() && !target.is_null()) {
          correlations->put(step.correlate->kind, text(source), text(target));
        }
      } catch (const EvalError& e) {
        sr.error = std::string("correlate failed: ") + e.what();
        run.steps.push_back(std::move(sr));
        break;
      }
    }
    run.steps.push_back(std::move(sr));
  }
  return run;
}

namespace {

void indent(std::string& out, const std::string& text, const std::string& prefix) {
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find('\n', start);
    out += prefix + text.substr(start, end == std::string::npos ? std::string::npos : end - start) +
           "\n";
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
}

}  // namespace

std::string formatDryRun(const DryRun& run) {
  std::string out = "flow " + run.flow + " (trigger " + run.trigger + ")\n";
  for (const auto& issue : run.eventIssues) {
    out += "warning: the event does not match the trigger's schema: " + issue + "\n";
  }
  for (const auto& s : run.steps) {
    out += "\nstep " + s.id + ": " + s.use + " via " + s.connection + "\n";
    if (s.when) {
      out += "  when: " + s.when->dump() + (s.ran ? "" : " (skipped)") + "\n";
    }
    if (!s.ran) {
      continue;
    }
    if (!s.inputs.is_null()) {
      out += "  inputs:\n";
      indent(out, s.inputs.dump(2), "    ");
    }
    for (std::size_t i = 0; i < s.exchanges.size(); ++i) {
      const auto& e = s.exchanges[i];
      out += "  request " + std::to_string(i + 1) + ": " + e.request.method + " " + e.request.url +
             "\n";
      for (const auto& [name, value] : e.request.headers) {
        out += "    " + name + ": " + value + "\n";
      }
      if (!e.request.body.empty()) {
        out += "    body: " + e.request.body + "\n";
      }
      out += "  response " + std::to_string(i + 1) + (e.live ? " (live): " : " (synthetic): ") +
             std::to_string(e.response.status) + " " + e.response.body + "\n";
    }
    if (!s.output.is_null()) {
      out += "  output: " + s.output.dump() + "\n";
    }
    if (!s.correlation.is_null()) {
      out += "  correlate: " + s.correlation["kind"].get<std::string>() + " " +
             text(s.correlation["source"]) + " -> " + text(s.correlation["target"]) + "\n";
    }
    if (!s.error.empty()) {
      out += "  error: " + s.error + "\n";
    }
  }
  return out;
}

Json toJson(const DryRun& run) {
  Json steps = Json::array();
  for (const auto& s : run.steps) {
    Json exchanges = Json::array();
    for (const auto& e : s.exchanges) {
      Json headers = Json::array();
      for (const auto& [name, value] : e.request.headers) {
        headers.push_back({name, value});
      }
      exchanges.push_back(
          {{"request",
            {{"method", e.request.method},
             {"url", e.request.url},
             {"headers", headers},
             {"body", e.request.body}}},
           {"response", {{"status", e.response.status}, {"body", e.response.body}}}});
      if (e.live) {
        exchanges.back()["live"] = true;
      }
    }
    Json j = {{"id", s.id},         {"use", s.use},       {"connection", s.connection},
              {"ran", s.ran},       {"inputs", s.inputs}, {"exchanges", exchanges},
              {"output", s.output}, {"error", s.error}};
    if (s.when) {
      j["when"] = *s.when;
    }
    if (!s.correlation.is_null()) {
      j["correlate"] = s.correlation;
    }
    steps.push_back(j);
  }
  return {{"flow", run.flow},
          {"trigger", run.trigger},
          {"event_issues", run.eventIssues},
          {"steps", steps}};
}

}  // namespace ferry::core::flow

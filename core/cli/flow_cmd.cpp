// `ferry flow validate` and `ferry flow test`.
#include <filesystem>
#include <iostream>

#include "cli/cli.hpp"
#include "flow/dates.hpp"
#include "flow/dry_run.hpp"
#include "flow/files.hpp"
#include "engine/runtime_config.hpp"
#include "flow/validate.hpp"
#include "http/client.hpp"
#include "secrets/credentials.hpp"

#include <Poco/URI.h>

namespace ferry::core::cli {

namespace {

using sdk::Json;

struct FlowOptions {
  std::vector<std::string> files;
  std::string config;
  bool json = false;
  std::string event;
  std::string now;
  std::vector<std::string> correlations;
  std::string against;
};

// What `--against sandbox` needs: the real secrets of each connection (from the sources the
// config names) and a client that really sends. Only loopback base URLs are allowed, so that a
// dry run can never write to a production account by mistake.
struct LiveTarget {
  std::optional<engine::RuntimeConfig> config;
  std::unique_ptr<secrets::CredentialsFile> credentials;
  std::map<std::string, std::unique_ptr<secrets::ConnectionSecrets>> secrets;
  http::Client client;
};

bool isLoopback(const std::string& url) {
  try {
    const auto host = Poco::URI(url).getHost();
    return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  } catch (const std::exception&) {
    return false;
  }
}

bool prepareLive(Cli& cli, const FlowOptions& o, const flow::Flow& flow, LiveTarget& live) {
  const std::string path = o.config.empty() ? "ferry.yaml" : o.config;
  std::vector<flow::Diagnostic> diagnostics;
  live.config = engine::loadRuntimeConfig(path, diagnostics);
  if (!live.config || !diagnostics.empty()) {
    std::cerr << flow::formatText(diagnostics);
    if (diagnostics.empty()) {
      printError(path, "config_error", "--against sandbox needs a config with the connections",
                 "pass --config ferry.yaml whose connections point at `ferry sandbox all`");
    }
    cli.exitCode = kInvalid;
    return false;
  }
  std::vector<std::string> names = {flow.trigger.connection};
  for (const auto& s : flow.steps) {
    names.push_back(s.connection);
  }
  for (const auto& name : names) {
    const auto* c = live.config->base.find(name);
    if (c == nullptr) {
      continue;  // validation already reported it
    }
    if (!isLoopback(c->connection.baseUrl)) {
      printError(path, "not_a_sandbox",
                 "connection '" + name + "' points at '" + c->connection.baseUrl +
                     "', not at a sandbox on this machine",
                 "--against sandbox only sends to 127.0.0.1/localhost; start `ferry sandbox all` "
                 "and use its base_url");
      cli.exitCode = kInvalid;
      return false;
    }
  }
  try {
    auto key = secrets::MasterKey::resolve(live.config->keyFile);
    live.credentials =
        std::make_unique<secrets::CredentialsFile>(live.config->credentialsFile, key);
    live.credentials->load();
  } catch (const secrets::SecretsError&) {
    live.credentials.reset();  // environment only
  }
  for (const auto& [name, c] : live.config->base.connections) {
    std::map<std::string, std::string> env;
    if (auto it = live.config->connections.find(name); it != live.config->connections.end()) {
      env = it->second.secretEnv;
    }
    live.secrets[name] =
        std::make_unique<secrets::ConnectionSecrets>(name, env, live.credentials.get());
  }
  return true;
}

// The config named with --config, else ./ferry.yaml when it exists, else none.
std::optional<flow::Config> config(const std::string& path,
                                   std::vector<flow::Diagnostic>& diagnostics) {
  if (!path.empty()) {
    return flow::loadConfigFile(path, diagnostics);
  }
  if (std::filesystem::exists("ferry.yaml")) {
    return flow::loadConfigFile("ferry.yaml", diagnostics);
  }
  return std::nullopt;
}

// Parses and validates; prints the errors and returns false when there are any.
bool load(Cli& cli, const std::vector<std::string>& files, const std::string& configPath, bool json,
          std::vector<flow::Flow>& flows, std::optional<flow::Config>& cfg) {
  std::vector<flow::Diagnostic> diagnostics;
  cfg = config(configPath, diagnostics);
  flows = flow::loadFlowFiles(files, diagnostics);
  flow::validate(flows, cli.catalog(), cfg ? &*cfg : nullptr, diagnostics);
  flow::sortDiagnostics(diagnostics);
  if (diagnostics.empty()) {
    return true;
  }
  if (json) {
    Json out = flow::toJson(diagnostics);
    out["ok"] = false;
    std::cout << out.dump(2) << "\n";
  } else {
    std::cerr << flow::formatText(diagnostics);
    std::cerr << diagnostics.size() << " error" << (diagnostics.size() == 1 ? "" : "s")
              << " found.\n";
  }
  cli.exitCode = kInvalid;
  return false;
}

void validateCommand(Cli& cli, const FlowOptions& o) {
  std::vector<flow::Flow> flows;
  std::optional<flow::Config> cfg;
  if (!load(cli, o.files, o.config, o.json, flows, cfg)) {
    return;
  }
  if (o.json) {
    Json ids = Json::array();
    for (const auto& f : flows) {
      ids.push_back(f.id);
    }
    std::cout << Json{{"ok", true}, {"errors", Json::array()}, {"flows", ids}}.dump(2) << "\n";
  } else {
    for (const auto& f : flows) {
      std::cout << f.file << ": flow '" << f.id << "' is valid\n";
    }
  }
}

void testCommand(Cli& cli, const FlowOptions& o) {
  std::vector<flow::Flow> flows;
  std::optional<flow::Config> cfg;
  if (!load(cli, o.files, o.config, o.json, flows, cfg)) {
    return;
  }
  const auto eventText = flow::readFile(o.event);
  if (!eventText) {
    printError(o.event, "io_error", "cannot read the event file", "check the path of --event");
    cli.exitCode = kInvalid;
    return;
  }
  flow::DryRunOptions options;
  options.event = Json::parse(*eventText, nullptr, false);
  if (options.event.is_discarded() || !options.event.is_object()) {
    printError(o.event, "bad_value", "the event file is not a JSON object",
               "write the trigger's event payload as a JSON object");
    cli.exitCode = kInvalid;
    return;
  }
  options.now = std::chrono::system_clock::now();
  if (!o.now.empty()) {
    auto m = flow::dates::parse(o.now, "");
    if (!m) {
      printError("--now", "bad_value", "'" + o.now + "' is not a date-time",
                 "write an ISO date-time: 2026-11-26T10:00:00Z");
      cli.exitCode = kUsage;
      return;
    }
    options.now = m->time;
  }
  flow::MemoryCorrelations correlations;
  for (const auto& c : o.correlations) {
    const auto colon = c.find(':');
    const auto eq = c.find('=');
    if (colon == std::string::npos || eq == std::string::npos || eq < colon) {
      printError("--correlation", "bad_value", "'" + c + "' is not kind:source=target",
                 "write e.g. --correlation contact:42=ghl-abc");
      cli.exitCode = kUsage;
      return;
    }
    correlations.put(c.substr(0, colon), c.substr(colon + 1, eq - colon - 1), c.substr(eq + 1));
  }
  options.correlations = &correlations;
  LiveTarget live;
  if (!o.against.empty()) {
    if (!prepareLive(cli, o, flows.front(), live)) {
      return;
    }
    options.live = &live.client;
    options.secrets = [&live](const std::string& connection) -> sdk::Secrets* {
      auto it = live.secrets.find(connection);
      return it == live.secrets.end() ? nullptr : it->second.get();
    };
  }
  const auto run = flow::dryRun(flows.front(), cli.catalog(), cfg ? &*cfg : nullptr, options);
  if (o.json) {
    std::cout << flow::toJson(run).dump(2) << "\n";
  } else {
    std::cout << flow::formatDryRun(run);
  }
  for (const auto& s : run.steps) {
    if (!s.error.empty()) {
      cli.exitCode = kFailure;
    }
  }
}

}  // namespace

void addFlowCommands(Cli& cli) {
  auto* group = cli.app.add_subcommand("flow", "Check flow files and try them on sample events");
  group->require_subcommand(1);

  auto validate = std::make_shared<FlowOptions>();
  auto* v = group->add_subcommand(
      "validate",
      "Check flow files without any network: operations, inputs, mapping types, "
      "connections, scopes and fallbacks. Exit 3 when any error is found.");
  v->add_option("files", validate->files, "Flow files, validated together")->required();
  v->add_option("--config", validate->config, "The config with `connections:` (ferry.yaml)");
  v->add_flag("--json", validate->json, "Print the result as JSON on stdout");
  v->callback([&cli, validate] { validateCommand(cli, *validate); });

  auto test = std::make_shared<FlowOptions>();
  auto* t = group->add_subcommand(
      "test",
      "Dry-run a flow on a sample event: print each step's inputs and the exact HTTP "
      "requests it would send (secrets masked), sending nothing.");
  t->add_option("files", test->files,
                "The flow file to run, then any flows its fallbacks name (validated with it)")
      ->required();
  t->add_option("--event", test->event, "The sample event (JSON)")->required();
  t->add_option("--config", test->config, "The config with `connections:` (ferry.yaml)");
  t->add_option("--now", test->now, "The time now() returns (ISO date-time); default: now");
  t->add_option("--correlation", test->correlations,
                "A known id pair kind:source=target for correlate(); repeatable");
  t->add_flag("--json", test->json, "Print the result as JSON on stdout");
  t->add_option("--against", test->against,
                "Really send the requests to the sandboxes the config's connections point at "
                "(loopback only) and print their answers")
      ->check(CLI::IsMember({"sandbox"}));
  t->callback([&cli, test] { testCommand(cli, *test); });
}

}  // namespace ferry::core::cli

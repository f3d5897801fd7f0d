// ferry connection: the credentials of the connections a config defines.
#include <termios.h>
#include <unistd.h>

#include <iomanip>
#include <iostream>

#include "cli/cli.hpp"
#include "cli/runtime_setup.hpp"
#include "engine/local_context.hpp"
#include "ferry/sdk/validate.hpp"
#include "flow/config.hpp"
#include "secrets/masker.hpp"

namespace ferry::core::cli {

namespace {

using sdk::Json;

// Reads one secret value from standard input, without echo on a terminal, so that it never
// appears in a shell history or a process listing.
std::string readSecret(const std::string& prompt) {
  const bool tty = ::isatty(STDIN_FILENO) != 0;
  termios old{};
  if (tty) {
    std::cerr << prompt << std::flush;
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string value;
  std::getline(std::cin, value);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) {
    value.pop_back();
  }
  return value;
}

struct Options {
  std::string config = "ferry.yaml";
  std::string name;
  std::vector<std::string> secrets;
  bool json = false;
};

// Stores secrets read from stdin into the credentials file, creating the key file when there
// is no master key yet.
bool storeSecrets(RuntimeSetup& rt, const Options& o, Cli& cli) {
  if (!rt.credentials) {
    try {
      auto key = secrets::MasterKey::createFile(rt.config.keyFile);
      rt.credentials = std::make_unique<secrets::CredentialsFile>(rt.config.credentialsFile, key);
      std::cerr << "Created the master key " << rt.config.keyFile.string()
                << " (mode 0600). Back it up: without it the credentials cannot be read.\n";
    } catch (const secrets::SecretsError& e) {
      printError(rt.config.keyFile.string(), "credentials", e.what(),
                 "set FERRY_MASTER_KEY, or remove the stale key file");
      cli.exitCode = kFailure;
      return false;
    }
  }
  for (const auto& name : o.secrets) {
    const auto value = readSecret("Value of " + o.name + "." + name + ": ");
    if (value.empty()) {
      printError(o.name + "." + name, "empty_secret", "no value was given on standard input",
                 "pipe it in: printenv GHL_TOKEN | ferry connection add " + o.name +
                     " --secret " + name);
      cli.exitCode = kInvalid;
      return false;
    }
    rt.credentials->put(o.name, name, value);
  }
  return true;
}

}  // namespace

void addConnectionCommands(Cli& cli) {
  auto* conn = cli.app.add_subcommand("connection", "Credentials of the configured connections");
  conn->require_subcommand(1);
  addConnectionFieldsCommand(cli, conn);

  auto add = std::make_shared<Options>();
  auto* addCmd = conn->add_subcommand(
      "add", "Store a connection's secrets (read from stdin) in the encrypted credentials file");
  addCmd->add_option("--config,-c", add->config, "The config file")->capture_default_str();
  addCmd->add_option("name", add->name, "The connection, as named in the config")->required();
  addCmd->add_option("--secret", add->secrets, "A secret's name (token, api_key, ...); repeatable")
      ->required();
  addCmd->callback([&cli, add] {
    auto rt = RuntimeSetup::open(add->config, cli, false);
    if (!rt) {
      return;
    }
    if (rt->config.base.find(add->name) == nullptr) {
      printError(add->config, "unknown_connection",
                 "connection '" + add->name + "' is not defined in the config",
                 "add it under `connections:` first (plugin, auth, base_url, scopes)");
      cli.exitCode = kInvalid;
      return;
    }
    if (storeSecrets(*rt, *add, cli)) {
      std::cout << "Stored " << add->secrets.size() << " secret(s) of '" << add->name << "' in "
                << rt->config.credentialsFile.string() << ".\n";
    }
  });

  auto rotate = std::make_shared<Options>();
  auto* rotateCmd = conn->add_subcommand(
      "rotate", "Replace a secret; a running ferry picks it up without a restart");
  rotateCmd->add_option("--config,-c", rotate->config, "The config file")->capture_default_str();
  rotateCmd->add_option("name", rotate->name, "The connection")->required();
  rotateCmd->add_option("--secret", rotate->secrets, "The secret's name")->required();
  rotateCmd->callback([&cli, rotate] {
    auto rt = RuntimeSetup::open(rotate->config, cli, false);
    if (!rt) {
      return;
    }
    if (!rt->credentials) {
      printError(rotate->config, "credentials", "there is no credentials file to rotate in",
                 "ferry connection add creates it");
      cli.exitCode = kInvalid;
      return;
    }
    if (storeSecrets(*rt, *rotate, cli)) {
      std::cout << "Rotated " << rotate->secrets.size() << " secret(s) of '" << rotate->name
                << "'.\n";
    }
  });

  auto list = std::make_shared<Options>();
  auto* listCmd = conn->add_subcommand("list", "List connections and where their secrets come from");
  listCmd->add_option("--config,-c", list->config, "The config file")->capture_default_str();
  listCmd->add_flag("--json", list->json, "Print JSON");
  listCmd->callback([&cli, list] {
    auto rt = RuntimeSetup::open(list->config, cli, false);
    if (!rt) {
      return;
    }
    Json out = Json::array();
    for (const auto& [name, c] : rt->config.base.connections) {
      Json secrets = Json::object();
      auto runtime = rt->config.connections.find(name);
      if (runtime != rt->config.connections.end()) {
        for (const auto& [secret, env] : runtime->second.secretEnv) {
          secrets[secret] = std::getenv(env.c_str()) != nullptr ? "env:" + env + " (set)"
                                                                 : "env:" + env + " (unset)";
        }
      }
      if (rt->credentials) {
        for (const auto& file : rt->credentials->connections()) {
          if (file == name) {
            secrets["(credentials file)"] = "present";
          }
        }
      }
      out.push_back({{"name", name},
                     {"plugin", c.connection.plugin},
                     {"auth", c.connection.auth},
                     {"base_url", c.connection.baseUrl},
                     {"scopes", c.connection.scopes},
                     {"secrets", secrets}});
    }
    if (list->json) {
      std::cout << Json{{"connections", out}}.dump(2) << "\n";
      return;
    }
    for (const auto& c : out) {
      std::cout << c["name"].get<std::string>() << " (" << c["plugin"].get<std::string>()
                << ", " << c["auth"].get<std::string>() << ") " << c["base_url"].get<std::string>()
                << "\n  scopes:  " << c["scopes"].dump() << "\n  secrets: " << c["secrets"].dump()
                << "\n";
    }
  });

  auto check = std::make_shared<Options>();
  auto* checkCmd = conn->add_subcommand(
      "check", "Call a cheap read for each granted scope and report which scopes work");
  checkCmd->add_option("--config,-c", check->config, "The config file")->capture_default_str();
  checkCmd->add_option("name", check->name, "The connection")->required();
  checkCmd->add_flag("--json", check->json, "Print JSON");
  checkCmd->callback([&cli, check] {
    auto rt = RuntimeSetup::open(check->config, cli, false);
    if (!rt) {
      return;
    }
    const auto* cfg = rt->config.base.find(check->name);
    if (cfg == nullptr) {
      printError(check->config, "unknown_connection",
                 "connection '" + check->name + "' is not defined in the config",
                 "ferry connection list shows the defined ones");
      cli.exitCode = kInvalid;
      return;
    }
    const auto* plugin = rt->catalog->plugin(cfg->connection.plugin);
    if (plugin == nullptr) {
      printError(check->name, "unknown_plugin",
                 "plugin '" + cfg->connection.plugin + "' is not installed",
                 "ferry plugin list shows the installed plugins");
      cli.exitCode = kInvalid;
      return;
    }
    std::map<std::string, std::string> env;
    if (auto it = rt->config.connections.find(check->name); it != rt->config.connections.end()) {
      env = it->second.secretEnv;
    }
    secrets::ConnectionSecrets secrets(check->name, env, rt->credentials.get());
    engine::MemoryState state;
    http::Client http;
    engine::LocalContext ctx({cfg->connection, &http, &state, &secrets, nullptr, {}});
    Json results = Json::array();
    bool allOk = true;
    for (const auto& scope : cfg->connection.scopes) {
      // The cheapest check of a scope: a GET that needs it and nothing the settings lack.
      const sdk::OperationSpec* probe = nullptr;
      for (const auto& op : plugin->spec().operations) {
        if (op.kind != sdk::OperationKind::Action || op.method != "GET" ||
            std::find(op.scopes.begin(), op.scopes.end(), scope) == op.scopes.end()) {
          continue;
        }
        bool fillable = true;
        for (const auto& f : op.input) {
          fillable = fillable && (!f.required || f.defaultValue ||
                                  flow::settingFills(cfg->connection, f.name));
        }
        if (fillable) {
          probe = &op;
          break;
        }
      }
      Json r = {{"scope", scope}};
      if (probe == nullptr) {
        r["status"] = "unchecked";
        r["detail"] = "no read operation of this scope can run without inputs";
      } else {
        r["operation"] = probe->id;
        try {
          plugin->connector->action(probe->id)->invoke(sdk::applyDefaults(probe->input, Json::object()), ctx);
          r["status"] = "ok";
        } catch (const sdk::OperationError& e) {
          r["status"] = "refused";
          r["detail"] = std::string(sdk::errorKindName(e.kind)) + ": " + secrets::Masker::global().maskText(e.what());
          allOk = false;
        } catch (const std::exception& e) {
          r["status"] = "unreachable";
          r["detail"] = secrets::Masker::global().maskText(e.what());
          allOk = false;
        }
      }
      results.push_back(r);
    }
    if (check->json) {
      std::cout << Json{{"connection", check->name}, {"scopes", results}}.dump(2) << "\n";
    } else {
      for (const auto& r : results) {
        std::cout << std::left << std::setw(28) << r["scope"].get<std::string>()
                  << std::setw(12) << r["status"].get<std::string>()
                  << r.value("operation", "") << " " << r.value("detail", "") << "\n";
      }
    }
    if (!allOk) {
      cli.exitCode = kFailure;
    }
  });
}

}  // namespace ferry::core::cli

// `ferry connection fields`: lists a service's field API names (for the connection setting
// `field_map`) by running the connector's own field-listing action against a base URL.
// Registered by addConnectionCommands (connections_cmd.cpp) under `ferry connection`.
#include <cstdlib>
#include <iomanip>
#include <iostream>

#include "cli/cli.hpp"
#include "engine/local_context.hpp"
#include "http/client.hpp"

namespace ferry::core::cli {

void addConnectionFieldsCommand(Cli& cli, CLI::App* connection) {
  struct Options {
    std::string plugin = "umsatzio";
    std::string baseUrl;
    std::string apiKeyEnv;
    std::string authScheme;
    std::string kind = "contact";
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  auto* fields = connection->add_subcommand(
      "fields", "List the fields (API names, labels, types) of contacts or deals");
  fields->add_option("plugin", options->plugin, "Connector id (only umsatzio lists fields)")
      ->capture_default_str();
  fields->add_option("--base-url", options->baseUrl, "The service's base URL")->required();
  fields->add_option("--api-key-env", options->apiKeyEnv,
                     "Name of the environment variable holding the API key")
      ->required();
  fields->add_option("--auth-scheme", options->authScheme,
                     "Header scheme: basic_and_tenant, api_key_header or bearer");
  fields->add_option("--kind", options->kind, "contact or deal")
      ->check(CLI::IsMember({"contact", "deal"}))
      ->capture_default_str();
  fields->add_flag("--json", options->json, "Print JSON");
  fields->callback([&cli, options] {
    const char* key = std::getenv(options->apiKeyEnv.c_str());
    if (key == nullptr || *key == '\0') {
      printError("--api-key-env", "usage", "the environment variable '" + options->apiKeyEnv + "' is not set",
                 "export it with the API key, e.g. export " + options->apiKeyEnv + "=...");
      cli.exitCode = kUsage;
      return;
    }
    const std::string actionId = options->plugin + ".card.list_" + options->kind;
    const auto entry = cli.catalog().find(actionId);
    const auto* plugin = cli.catalog().plugin(options->plugin);
    if (entry.operation == nullptr || plugin == nullptr) {
      printError(options->plugin, "unknown_operation", "no loaded plugin declares '" + actionId + "'",
                 "run `ferry plugin list` to see the loaded plugins");
      cli.exitCode = kInvalid;
      return;
    }
    sdk::Connection conn;
    conn.name = "cli";
    conn.plugin = options->plugin;
    conn.auth = "api_key";
    conn.baseUrl = options->baseUrl;
    if (!options->authScheme.empty()) {
      conn.settings["auth_header_scheme"] = options->authScheme;
    }
    http::Client http;
    engine::MemoryState state;
    engine::MemorySecrets secrets({{"api_key", std::string(key)}});
    engine::LocalContext ctx({conn, &http, &state, &secrets, nullptr, {}});
    sdk::Json result;
    try {
      result = plugin->connector->action(actionId)->invoke(sdk::Json::object(), ctx);
    } catch (const sdk::OperationError& e) {
      printError(actionId, e.code, e.what());
      cli.exitCode = kFailure;
      return;
    } catch (const std::exception& e) {
      printError(actionId, "transport", e.what(), "check --base-url");
      cli.exitCode = kFailure;
      return;
    }
    if (options->json) {
      std::cout << result.dump(2) << "\n";
      return;
    }
    std::cout << std::left << std::setw(40) << "API NAME" << std::setw(28) << "LABEL" << "TYPE\n";
    for (const auto& f : result.value("fields", sdk::Json::array())) {
      std::cout << std::left << std::setw(40) << f.value("name", std::string()) << std::setw(28)
                << f.value("label", std::string()) << f.value("fieldType", std::string()) << "\n";
    }
  });
}

}  // namespace ferry::core::cli

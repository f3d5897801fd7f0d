#include "errors/reference.hpp"

#include <map>

#include "flow/diagnostic.hpp"

namespace ferry::core::errors {

namespace {

// What to do about each flow and config validation code; the meaning is kErrorCodes' own.
const std::map<std::string_view, std::string_view>& validationRemedies() {
  static const std::map<std::string_view, std::string_view> remedies = {
      {"io_error", "Check the path and the file's permissions; paths in ferry.yaml are relative "
                   "to the config file."},
      {"yaml_syntax", "Fix the indentation or quoting near the reported line and column."},
      {"bad_value", "Give the key a value of the shape the hint shows (docs/flow-format.md, "
                    "docs/config.md)."},
      {"unsupported_version", "Write `version: 1`."},
      {"missing_key", "Add the key named in the message."},
      {"unknown_key", "Fix the spelling; the hint lists the keys allowed at that place."},
      {"secret_in_flow", "Remove the value; name where the secret comes from under the "
                         "connection's `secrets:` (env:VAR or credentials)."},
      {"duplicate_step", "Give each step of the flow its own id."},
      {"duplicate_flow", "Give each flow file its own `id:`."},
      {"expr_syntax", "Fix the `${...}` expression (docs/mapping-language.md)."},
      {"unknown_function", "Use a function of docs/mapping-language.md; the hint names the "
                           "closest one."},
      {"wrong_arity", "Pass the number of arguments the function takes."},
      {"unknown_variable", "Start the path with `event.` or `steps.<id>.`."},
      {"unknown_field", "Read a field the schema declares (`ferry catalog show <operation>` "
                        "lists them)."},
      {"unknown_step", "Name a step of this flow."},
      {"step_order", "Read only the outputs of earlier steps; move the step down."},
      {"type_mismatch", "Convert the value (date(), string(), ...) or map a field of the right "
                        "type."},
      {"enum_value", "Use one of the values the hint lists."},
      {"unknown_operation", "Fix the id (`ferry catalog list`), or install the plugin that "
                            "declares it."},
      {"wrong_kind", "Use a trigger under `trigger:` and actions under `steps:`."},
      {"unknown_input", "Map only inputs the operation declares (`ferry catalog show <id>`)."},
      {"missing_input", "Map the input under `with:`, or set the connection setting that fills "
                        "it."},
      {"unknown_connection", "Define the connection under `connections:` in ferry.yaml, or fix "
                             "the name."},
      {"connection_plugin", "Use a connection of the operation's plugin."},
      {"missing_scope", "Grant the scope to the credential and list it under the connection's "
                        "`scopes:`."},
      {"unknown_flow", "Name a flow that is validated and run together with this one."},
      {"fallback_cycle", "Break the cycle: a fallback flow must not fall back, directly or not, "
                         "to the flow that uses it."},
      {"config_error", "Fix the key named in the message; docs/config.md describes every "
                       "section."},
  };
  return remedies;
}

std::vector<Entry> validationEntries() {
  std::vector<Entry> out;
  const auto& remedies = validationRemedies();
  for (const auto& c : flow::kErrorCodes) {
    const auto it = remedies.find(c.code);
    out.push_back({c.code, c.meaning, it == remedies.end() ? std::string_view() : it->second});
  }
  return out;
}

std::vector<Area> build() {
  std::vector<Area> all;
  all.push_back({"validation", "Flow and config validation",
                 "`ferry flow validate`, `ferry run` and every command that reads ferry.yaml print "
                 "these as `file:line:col: error[code]: message` and exit 3.",
                 validationEntries()});
  all.push_back(
      {"cli", "Command errors",
       "Commands print these as `place: error[code]: message` with a `hint:` line; the exit code "
       "is 1 (failure), 2 (usage) or 3 (invalid input).",
       {
           {"usage", "The command line is wrong: an unknown command or option, a missing "
                     "argument, a bad value or a missing environment variable.",
            "Run the command with --help; the hint names what was wrong."},
           {"internal", "An unexpected error escaped a command (a bug).",
            "Run again with --log-level debug and report the message."},
           {"state_dir", "The state directory cannot be created.",
            "Set `state_dir:` to a directory the user running ferry may write."},
           {"store", "The store cannot be opened: a bad URL, an unreachable server, a read-only "
                     "or full disk, or a schema newer than this ferry.",
            "Check `store:` (docs/store.md); upgrade ferry when the schema is newer."},
           {"credentials", "The credentials file or its master key cannot be used (missing, "
                           "wrong mode, wrong key, damaged).",
            "Set FERRY_MASTER_KEY or fix the key file (mode 0600); `ferry connection add` "
            "creates the file."},
           {"empty_secret", "`ferry connection add --secret` read nothing on standard input.",
            "Pipe the value in: `printenv GHL_TOKEN | ferry connection add ...`."},
           {"not_syncable", "`ferry sync` was given a flow it cannot reconcile: its trigger "
                            "has no source listing or no step writes the target record.",
            "docs/sync.md lists what a syncable flow needs (an Umsatz-io contact trigger and a "
            "GHL contact write step)."},
           {"sync_failed", "A sync cycle could not read the source or the target (network, "
                           "auth, rate limit exhausted); nothing of the cycle was written.",
            "Check the connections with `ferry connection check <name>` and run the cycle "
            "again; the cursor has not moved."},
           {"unknown_connection", "The named connection is not defined in the config.",
            "Add it under `connections:`; `ferry connection list` shows the defined ones."},
           {"unknown_plugin", "No loaded plugin has this id.",
            "`ferry plugin list` shows the loaded plugins and where ferry looks."},
           {"unknown_connector", "No loaded plugin has this connector id.",
            "Use an id of `ferry plugin list`; the hint suggests the closest."},
           {"unknown_operation", "No loaded plugin declares this operation.",
            "`ferry catalog list` shows every operation; the hint suggests the closest."},
           {"transport", "A request could not reach the service (refused, timed out, TLS).",
            "Check the base URL and the network path to the service."},
           {"not_found", "The named run, dead letter or flow version does not exist.",
            "`ferry runs list`, `ferry dlq list` or `ferry flow history` show the existing ones."},
           {"replay_superseded",
            "A notice of `ferry dlq replay`, not an error: the dead letter is an older version "
            "of a record (a snapshot trigger such as umsatzio.contact.updated) and a newer event "
            "of the same flow and record is done, queued, running or dead, so replaying it "
            "could only write older data over newer. It was settled as superseded (run history "
            "status `superseded`, metric ferry_dlq_replays_superseded) instead of running.",
            "Nothing: the newer event carries the record's newer version (when it is a dead "
            "letter itself, replay that one). To run the older version anyway, replay it with "
            "--force (docs/operations.md, \"Recovering dead letters\")."},
           {"replay_unknown_trigger",
            "`ferry dlq replay` cannot tell whether a newer event supersedes the dead letter: no "
            "loaded plugin declares its trigger. It was not replayed.",
            "Install the plugin (`ferry plugin list` shows where ferry looks), or replay it with "
            "--force to run it as it was."},
           {"io_error", "A file named on the command line cannot be read.",
            "Check the path and its permissions."},
           {"bad_value", "A command-line value has the wrong form (a date, a correlation, a hash).",
            "Write it as the hint shows."},
           {"config_error", "The command needs something the config does not have.",
            "Pass the config the hint names."},
           {"not_a_sandbox", "`--against sandbox` was asked to send to a host that is not this "
                             "machine.",
            "Point the connections at `ferry sandbox all` on 127.0.0.1."},
           {"no_sandbox", "No sandbox executable is installed.",
            "Build them: cmake --build --preset dev."},
           {"unknown_sandbox", "No sandbox of this id is installed.",
            "Use one of the ids the hint lists, or `all`."},
           {"spawn_failed", "A sandbox process could not be started.",
            "Check that the executable exists and may be run."},
           {"sandbox_failed", "A sandbox did not describe itself on its first output line.",
            "Run that sandbox alone to see its error."},
           {"exec_failed", "The sandbox executable could not be run.",
            "Check that it exists and may be run."},
           {"export_failed", "An export directory or file could not be written.",
            "Check that the directory exists and is writable."},
           {"demo", "`ferry demo` failed to start or check its run.",
            "Build everything first; `--keep` keeps the config and the log to look at."},
       }});
  all.push_back(
      {"plugin", "Plugin loading and installation",
       "`ferry plugin inspect|install|remove` print these; at start-up a refused library is a "
       "warning that names the code, and the library is left out.",
       {
           {"not_found", "The plugin file does not exist.", "Check the path."},
           {"not_elf", "The file is not an ELF shared library.",
            "Pass the plugin's .so, built with FERRY_PLUGIN(factory)."},
           {"no_entry_point", "The library does not export ferry's entry point.",
            "Build it with FERRY_PLUGIN(factory) from <ferry/sdk/plugin.hpp>."},
           {"abi_mismatch", "The library was built against another SDK ABI version.",
            "Rebuild the plugin against this ferry's SDK."},
           {"load_failed", "The dynamic loader refused the library (often an unresolved symbol).",
            "Link with -Wl,--no-undefined and only against the SDK (ferry_add_plugin does)."},
           {"factory_threw", "The plugin's factory threw or returned nothing.",
            "Fix the plugin: its factory must build the connector without throwing."},
           {"bad_spec", "The connector's declaration is malformed (ids, duplicates, schemas).",
            "Operation ids are `<connector>.<resource>.<verb>` in lower snake case, each once."},
           {"duplicate", "Several libraries in one directory declare the same connector and "
                         "version; all of them are refused.",
            "Keep one of them."},
           {"shadowed", "A library declares a connector already loaded from a directory searched "
                        "earlier; the later one is left out.",
            "`ferry plugin list` shows where each plugin comes from; remove the one not wanted."},
           {"io", "A plugin file or directory cannot be read or written.",
            "Check the permissions of FERRY_HOME's plugin directory."},
           {"bad_lock", "The plugin lock file is damaged.",
            "Restore it, or delete it and install the plugins again."},
           {"conflict", "Another library already provides this connector.",
            "Remove the other one first, or install a newer version."},
           {"not_installed", "No installed plugin has this id.",
            "`ferry plugin list` shows the installed ones."},
       }});
  all.push_back(
      {"run", "Step failures in run history",
       "`ferry runs show` and `ferry dlq show` print a failed step's error as `code: message`; "
       "the code is one of these or a connector's code (ghl.*, umsatzio.*).",
       {
           {"mapping", "Evaluating the step's `with:` mapping failed at run time (a missing "
                       "field, a bad date).",
            "Fix the mapping or the data; replay the dead letter with `ferry dlq replay`."},
           {"unknown_operation", "The step's operation is not loaded any more.",
            "Install the plugin again, then replay."},
           {"invalid_input", "The mapped input does not satisfy the operation's schema.",
            "Fix the mapping (the message lists the problems), then replay."},
           {"transport", "The request did not reach the service (refused, timed out, reset).",
            "Retried automatically; if it persists check the network and the base URL."},
           {"plugin_error", "The plugin threw something that is not an OperationError (a bug in "
                            "the plugin).",
            "Report it to the plugin's authors with the run's record."},
       }});
  all.push_back(
      {"kind", "Connector error kinds",
       "Every connector error carries one of these kinds; the runtime decides retries by it, and "
       "`ferry_steps_failed_total{kind}` counts them.",
       {
           {"transient", "A 5xx, a timeout or a dropped connection.",
            "Nothing: retried with backoff; alert when it persists."},
           {"rate_limited", "The service answered 429 with budget left.",
            "Nothing: retried after the time the service gave; lower `rate_limit` if frequent."},
           {"exhausted", "A daily budget is spent; not retried before it resets.",
            "Wait for the reset, then `ferry dlq replay`; raise the plan's limit."},
           {"auth", "The credential was refused (expired, revoked, wrong).",
            "Renew the credential (`ferry connection add` or `rotate`), then replay."},
           {"scope", "The credential lacks a scope the operation needs.",
            "Grant the scope to the app or token and list it under `scopes:`, then replay."},
           {"invalid", "The service rejected the request as malformed (400, 422).",
            "Fix the mapping or the data; the response is kept in the run record."},
           {"not_found", "The record does not exist at the service (404).",
            "Check the correlation (it may have been deleted); replay or discard."},
           {"permanent", "Any other permanent failure.",
            "Read the message and the response in `ferry runs show`."},
       }});
  all.push_back(
      {"webhook", "Webhook server answers",
       "`ferry run` answers refused requests with an HTTP status and a JSON body "
       "`{\"error\": code, \"message\": ...}`; connectors add their own codes (below).",
       {
           {"unknown_route", "404: no flow listens at this /hooks/ path.",
            "Check the URL registered with the service against the flow ids."},
           {"not_found", "404: no such path.", "Use /hooks/<flow>, /metrics, /healthz or /readyz."},
           {"bad_request", "400: the request target is not a valid URI (e.g. a bad % escape).",
            "Check the URL the sender posts to."},
           {"method_not_allowed", "405: the wrong HTTP method.",
            "Webhooks are POSTed; the other paths are read with GET."},
           {"too_large", "413: the body is larger than `server.max_body_bytes`.",
            "Raise `server.max_body_bytes` if such bodies are legitimate."},
           {"queue_full", "429: more events are queued than `server.queue_high_water`.",
            "The sender retries (GHL does on 429); add workers or look at what blocks them."},
           {"store_unavailable", "429: the store cannot be reached or written.",
            "Check the disk or the database server; the sender retries."},
           {"plugin_error",
            "429: the plugin failed on a delivery it did not refuse (a bug in the plugin). When "
            "a call it made to read the delivery failed, the code is that call's (e.g. "
            "`umsatzio.server_error`, `transport`).",
            "The sender retries (GHL for about 70 minutes); the ferry log names the error: "
            "upgrade the plugin or report it."},
           {"internal", "500: an unexpected error while answering.", "See the ferry log."},
       }});
  all.push_back(
      {"store", "Store error kinds",
       "Store failures are logged with one of these kinds and printed by commands as "
       "error[store].",
       {
           {"invalid_url", "The store URL cannot be parsed.", "Use a form of docs/store.md."},
           {"invalid", "A caller passed a bad value (a bug).", "Report it with the log."},
           {"unavailable", "The file cannot be opened or the server cannot be reached.",
            "Check the path or the server; ferry retries while running."},
           {"full", "The disk or the database is full.", "Free space; no event is lost."},
           {"read_only", "The database or its directory is read-only.",
            "Make it writable by the user running ferry."},
           {"busy", "A lock timeout or serialization failure.",
            "Nothing: retried; frequent ones mean too many writers on one SQLite file."},
           {"schema_too_new", "The database was migrated by a newer ferry.", "Upgrade ferry."},
           {"lease_lost", "An event's lease expired and another worker took it over.",
            "Nothing: the other worker finishes it; raise `limits.lease_seconds` if steps are "
            "slow."},
           {"not_found", "The named event, dead letter or run does not exist.",
            "List the existing ones first."},
           {"internal", "An unexpected database answer (a bug).", "Report it with the log."},
       }});
  all.push_back(
      {"ghl", "HighLevel connector (ghl.*)",
       "Errors of GHL operations (run history, dead letters) and refused GHL webhooks.",
       {
           {"ghl.missing_secret", "The connection has no usable credential.",
            "Set the token or the OAuth secrets (`ferry connection add`)."},
           {"ghl.missing_setting", "A setting the operation needs (location_id) is not set.",
            "Set it under the connection's `settings:`."},
           {"ghl.missing_input", "A path parameter or locationId is missing.",
            "Map it in the flow or set the connection setting."},
           {"ghl.oauth_refused", "GHL refused the OAuth refresh token.",
            "Install the app again to get a new refresh token."},
           {"ghl.oauth_bad_answer", "GHL's token endpoint answered without a usable token.",
            "Retried; if it persists check the app's client id and secret."},
           {"ghl.token_store_failed", "A refreshed token could not be saved.",
            "Check that the credentials file is writable."},
           {"ghl.unauthorized", "401: GHL refused the token.",
            "Renew the token (`ferry connection rotate` or add it again)."},
           {"ghl.scope", "401/403: the token lacks a scope.",
            "Grant the scope named in the message to the app or token."},
           {"ghl.forbidden", "403: the token may not act on this resource or location.",
            "Check the location id and the token's access."},
           {"ghl.daily_limit", "429: the daily request limit of the location is spent.",
            "Wait for the reset (the message says when), then replay."},
           {"ghl.rate_limited", "429: the burst limit was hit.",
            "Nothing: retried after the time GHL gave."},
           {"ghl.server_error", "5xx from GHL.", "Nothing: retried with backoff."},
           {"ghl.timeout", "GHL timed out the request.", "Nothing: retried with backoff."},
           {"ghl.not_found", "404: the record does not exist.",
            "Check the correlation; the record may have been deleted in GHL."},
           {"ghl.bad_request", "400: GHL rejected the request.",
            "Read the response in the run record and fix the mapping."},
           {"ghl.unprocessable", "422: GHL rejected the fields.",
            "Read GHL's message list in the run record and fix the mapping."},
           {"ghl.http_<status>", "Another HTTP status GHL answered with.",
            "Read the response in the run record."},
           {"ghl.bad_response", "GHL answered with a body ferry cannot read.",
            "Report it with the run record."},
           {"ghl.webhook_key", "401: the connection setting `webhook_public_key` (Ed25519) or "
                               "`webhook_rsa_public_key` is missing or not a PEM public key.",
            "Set the key GHL publishes for webhooks in the connection's `settings:`."},
           {"ghl.webhook_signature", "401: the webhook signature does not verify.",
            "Check the public key; a forged or altered request is refused rightly."},
           {"ghl.webhook_unsigned", "401: the webhook carries no signature.",
            "Only GHL's signed webhooks are accepted."},
           {"ghl.webhook_legacy_refused", "401: a legacy-signed webhook was refused.",
            "Set the connection setting `accept_legacy_rsa` to accept RSA-signed webhooks."},
           {"ghl.webhook_replay", "409: the same webhook was seen before (replay).",
            "Nothing: duplicates are refused on purpose."},
           {"ghl.webhook_body", "400: the webhook body is not a JSON object.",
            "Check what posts to the route."},
           {"ghl.webhook_timestamp", "400: the webhook's timestamp is not a date.",
            "Check what posts to the route."},
           {"ghl.webhook_stale", "401: the webhook's timestamp is outside the 5-minute window.",
            "Check the clocks; GHL does not resend it, a sync cycle restores the data."},
       }});
  all.push_back(
      {"umsatzio", "Umsatz-io connector (umsatzio.*)",
       "Errors of Umsatz-io operations (run history, dead letters) and refused Umsatz-io "
       "webhooks.",
       {
           {"umsatzio.no_api_key", "The connection has no API key.",
            "Set the secret `api_key` (env:VAR or `ferry connection add`)."},
           {"umsatzio.auth_header_scheme", "The setting `auth_header_scheme` is not a known "
                                           "scheme.",
            "Use one of the schemes the message lists."},
           {"umsatzio.unauthenticated", "Umsatz-io refused the API key.",
            "Check the secret `api_key` and the setting `auth_header_scheme`."},
           {"umsatzio.forbidden", "The API key may not do this.",
            "Create the key as an admin of the Umsatz-io account."},
           {"umsatzio.not_found", "The record does not exist.",
            "Check the id; it may have been deleted."},
           {"umsatzio.invalid", "Umsatz-io rejected the request (bad input, GraphQL validation).",
            "Read the response in the run record and fix the mapping."},
           {"umsatzio.unknown_field", "A property name is not a field of the account.",
            "Use a field `umsatzio.contact.get` shows."},
           {"umsatzio.note_empty", "A note has no text.", "Map a non-empty content."},
           {"umsatzio.server_error", "5xx or INTERNAL_SERVER_ERROR.", "Nothing: retried."},
           {"umsatzio.rate_limited", "429 from Umsatz-io.", "Nothing: retried after a pause."},
           {"umsatzio.bad_response", "An answer without GraphQL `data`.", "Nothing: retried."},
           {"umsatzio.graphql", "A GraphQL error without a code.",
            "Read the response in the run record."},
           {"umsatzio.<GRAPHQL_CODE>", "A GraphQL error with another code.",
            "Read the response in the run record."},
           {"umsatzio.webhook_bad_json", "400: the webhook body is not JSON.",
            "Check what posts to the route."},
           {"umsatzio.webhook_no_event", "400: the webhook names no event.",
            "Check what posts to the route."},
           {"umsatzio.webhook_too_large", "413: the webhook body is too large.",
            "Check what posts to the route."},
           {"umsatzio.webhook_unsigned", "401: the webhook carries no signature.",
            "Configure the webhook secret on both sides."},
           {"umsatzio.webhook_bad_signature", "401: the signature does not verify.",
            "Check the webhook secret."},
           {"umsatzio.webhook_bad_token", "401: the webhook token does not match.",
            "Check the webhook token."},
       }});
  return all;
}

// `<status>` stands for digits, an upper-case placeholder (`<GRAPHQL_CODE>`) for upper-case
// letters, digits and underscores: ghl.http_404 and umsatzio.NOT_ALLOWED match, ghl.http_x and
// umsatzio.note_typo do not.
bool matches(std::string_view pattern, std::string_view code) {
  const auto open = pattern.find('<');
  if (open == std::string_view::npos) {
    return pattern == code;
  }
  if (code.size() <= open || code.substr(0, open) != pattern.substr(0, open)) {
    return false;
  }
  const bool digits = pattern.substr(open) == "<status>";
  for (char c : code.substr(open)) {
    const bool ok = digits ? (c >= '0' && c <= '9')
                           : ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

const std::vector<Area>& areas() {
  static const std::vector<Area> all = build();
  return all;
}

const Entry* find(std::string_view area, std::string_view code) {
  for (const auto& a : areas()) {
    if (a.id != area) {
      continue;
    }
    for (const auto& e : a.entries) {
      if (matches(e.code, code)) {
        return &e;
      }
    }
  }
  return nullptr;
}

std::string renderMarkdown() {
  std::string out =
      "# Error reference\n\n"
      "<!-- Generated by `ferry errors export docs/errors.md` from core/errors/reference.cpp and\n"
      "     core/flow/diagnostic.hpp. Do not edit: the ctest errors_reference checks it. -->\n\n"
      "Every code ferry prints, where it appears, what it means and what to do. A code with "
      "`<...>` has a variable part.\n\n";
  for (const auto& a : areas()) {
    out += "- [" + std::string(a.title) + "](#" + std::string(a.id) + ")\n";
  }
  for (const auto& a : areas()) {
    out += "\n## <a id=\"" + std::string(a.id) + "\"></a>" + std::string(a.title) + "\n\n";
    out += std::string(a.where) + "\n\n";
    out += "| Code | Meaning | Remedy |\n|---|---|---|\n";
    for (const auto& e : a.entries) {
      out += "| `" + std::string(e.code) + "` | " + cell(e.meaning) + " | " + cell(e.remedy) +
             " |\n";
    }
  }
  return out;
}

sdk::Json toJson() {
  sdk::Json out = {{"areas", sdk::Json::array()}};
  for (const auto& a : areas()) {
    sdk::Json codes = sdk::Json::array();
    for (const auto& e : a.entries) {
      codes.push_back({{"code", e.code}, {"meaning", e.meaning}, {"remedy", e.remedy}});
    }
    out["areas"].push_back(
        {{"id", a.id}, {"title", a.title}, {"where", a.where}, {"codes", std::move(codes)}});
  }
  return out;
}

}  // namespace ferry::core::errors

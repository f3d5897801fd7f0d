#pragma once

// The GHL sandbox: an in-memory emulator of HighLevel API v2 (Contacts, Businesses, the
// location tag / custom field / custom value / task search operations, OAuth), faithful to
// the official OpenAPI specs (GoHighLevel/highlevel-api-docs) and to shared/research/ghl-api.md:
// envelopes, status codes, NestJS-style error bodies, Version header, token scopes, rate limits
// with the five X-RateLimit-* headers, rotating refresh tokens and signed webhooks.
// Thread-safe: one mutex guards all state.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kit.hpp"
#include "webhooks.hpp"

namespace ferry::plugins::ghl::sandbox {

using ferry::sandbox::Request;
using ferry::sandbox::Response;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string locationId = "ferrySandboxLoc00001";
  std::string companyId = "ferrySandboxCompany1";
  std::string clientId = "ferry-sandbox-client";
  std::string clientSecret = "ferry-sandbox-secret";
  long accessTokenLifetimeS = 86399;  // expires_in of OAuth access tokens
  bool rateLimit = true;
  int burstMax = 100;  // requests per interval, per token and location
  int burstIntervalMs = 10000;
  long dailyLimit = 200000;      // requests per UTC day, per token and location
  bool allowDuplicates = false;  // the location's "Allow Duplicate Contact" setting
  std::chrono::milliseconds webhookRetryDelay{2000};
};

// Parses the sandbox's extra command-line options (--location-id, --token-lifetime,
// --rate-limit-max, --rate-limit-interval-ms, --daily-limit, --no-rate-limit,
// --allow-duplicates, --webhook-retry-ms). Throws std::invalid_argument naming the option.
Options parseOptions(const std::map<std::string, std::string>& extra);

// The kinds a request body property may have (the OpenAPI `type` of the spec's DTO).
enum class Kind { String, Bool, Number, Array, Object, Any };

struct Prop {
  std::string name;
  Kind kind = Kind::Any;
  bool required = false;
};

// The property list of one request DTO from the spec; unknown properties are refused (422).
struct BodySchema {
  std::vector<Prop> props;
};

// Rows of one resource in insertion order.
struct Table {
  std::map<std::string, sdk::Json> rows;
  std::map<long, std::string> order;
  std::map<std::string, long> seqOf;

  sdk::Json* find(const std::string& id);
  void put(const std::string& id, sdk::Json row, long seq);
  bool erase(const std::string& id);
  std::vector<const sdk::Json*> all() const;  // in insertion order
};

struct LocationData {
  Table contacts, tasks, notes, tags, businesses, customFields, customValues, appointments;
  std::map<std::string, std::set<std::string>> campaigns;  // contactId -> campaign ids
  std::map<std::string, std::set<std::string>> workflows;  // contactId -> workflow ids
  // Duplicate lookups by lower-case email and by phone: value -> (seq, contactId).
  std::map<std::string, std::set<std::pair<long, std::string>>> byEmail, byPhone;
};

struct Token {
  std::string token;
  std::set<std::string> scopes;
  std::string locationId;
  std::string companyId;
  std::string userType = "Location";
  std::string kind = "private_integration";  // private_integration, oauth, location
  std::optional<Clock::time_point> expires;
};

struct Grant {  // an authorization code or a refresh token
  std::set<std::string> scopes;
  std::string locationId;
  std::string companyId;
  std::string userType = "Location";
  bool used = false;
};

struct Bucket {
  Clock::time_point windowStart{};
  int windowCount = 0;
  long day = -1;
  long dayCount = 0;
};

struct WebhookTarget {
  std::string id;
  std::string url;
  std::set<std::string> events;  // empty = every event
};

class GhlSandbox;

// One API call being answered: what the router matched and the caller's identity.
struct Call {
  const Request& req;
  std::map<std::string, std::string> params;
  sdk::Json body = sdk::Json::object();
  const Token* token = nullptr;
  LocationData* loc = nullptr;
  std::string locationId;
};

using RouteHandler = Response (GhlSandbox::*)(Call&);

struct Route {
  std::string method;
  std::vector<std::string> segments;  // "{name}" captures a path parameter
  std::string scope;                  // empty: any valid token
  const BodySchema* body = nullptr;   // nullptr: the body is ignored
  RouteHandler handler = nullptr;
};

class GhlSandbox {
 public:
  GhlSandbox(Options options, ferry::sandbox::Server& server);
  ~GhlSandbox();

  Response handle(const Request& req);
  sdk::Json describe() const;

  // Every scope the sandbox knows (the "full" token gets them all).
  static const std::vector<std::string>& knownScopes();

  // ---- the API (routes.cpp); each runs with mutex_ held ----
  Response contactCreate(Call& c);
  Response contactGet(Call& c);
  Response contactUpdate(Call& c);
  Response contactDelete(Call& c);
  Response contactUpsert(Call& c);
  Response contactSearch(Call& c);
  Response contactDuplicate(Call& c);
  Response contactList(Call& c);
  Response contactListByBusiness(Call& c);
  Response bulkTags(Call& c);
  Response bulkBusiness(Call& c);
  Response taskList(Call& c);
  Response taskGet(Call& c);
  Response taskCreate(Call& c);
  Response taskUpdate(Call& c);
  Response taskCompleted(Call& c);
  Response taskDelete(Call& c);
  Response noteList(Call& c);
  Response noteGet(Call& c);
  Response noteCreate(Call& c);
  Response noteUpdate(Call& c);
  Response noteDelete(Call& c);
  Response tagsAdd(Call& c);
  Response tagsRemove(Call& c);
  Response followersAdd(Call& c);
  Response followersRemove(Call& c);
  Response campaignAdd(Call& c);
  Response campaignRemove(Call& c);
  Response campaignRemoveAll(Call& c);
  Response workflowAdd(Call& c);
  Response workflowRemove(Call& c);
  Response appointmentsForContact(Call& c);
  Response businessList(Call& c);
  Response businessGet(Call& c);
  Response businessCreate(Call& c);
  Response businessUpdate(Call& c);
  Response businessDelete(Call& c);
  Response locationTagList(Call& c);
  Response locationTagGet(Call& c);
  Response locationTagCreate(Call& c);
  Response locationTagUpdate(Call& c);
  Response locationTagDelete(Call& c);
  Response customFieldList(Call& c);
  Response customFieldGet(Call& c);
  Response customFieldCreate(Call& c);
  Response customFieldUpdate(Call& c);
  Response customFieldDelete(Call& c);
  Response customValueList(Call& c);
  Response customValueGet(Call& c);
  Response customValueCreate(Call& c);
  Response customValueUpdate(Call& c);
  Response customValueDelete(Call& c);
  Response locationTaskSearch(Call& c);
  Response oauthLocationToken(Call& c);

 private:
  std::vector<Route> buildRoutes();  // routes.cpp

  // Helpers shared by the handlers (mutex_ held).
  std::string newId();
  std::string now() const;  // ISO 8601 UTC with milliseconds
  long nextSeq() { return ++seq_; }
  void emit(const std::string& type, const std::string& locationId, const sdk::Json& object);
  sdk::Json* contactOr404(Call& c, const std::string& id, Response& error);
  void ensureLocationTags(LocationData& loc, const std::string& locationId, const sdk::Json& tags);
  void applyContactFields(sdk::Json& contact, const sdk::Json& body);
  Response ok(int status, sdk::Json body);

  Response handleApi(const Request& req);
  Response handleAdmin(const Request& req);
  // PUT/DELETE /_sandbox/contacts/{id}: changes "behind the integration's back" (no webhook,
  // no rate limit, no counters), for drift tests. routes.cpp.
  Response adminContact(const std::string& method, const std::string& id, const sdk::Json& body);
  Response oauthToken(const Request& req);
  Response oauthAuthorize(const Request& req);
  void addRateHeaders(Response& res, const Bucket* bucket) const;
  Token& issueToken(std::set<std::string> scopes, const std::string& locationId,
                    const std::string& kind, std::optional<long> lifetimeS);
  sdk::Json stateJson() const;

  Options options_;
  ferry::sandbox::Server& server_;
  std::vector<Route> routes_;
  mutable std::mutex mutex_;
  std::mt19937_64 rng_;
  long seq_ = 0;
  std::map<std::string, LocationData> locations_;
  std::map<std::string, Token> tokens_;
  std::map<std::string, Grant> codes_;
  std::map<std::string, Grant> refreshTokens_;
  std::map<std::string, Bucket> buckets_;
  std::vector<WebhookTarget> webhooks_;
  std::string fullToken_;
  std::string readonlyToken_;
  std::map<std::string, long> counters_;
  Signer signer_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

}  // namespace ferry::plugins::ghl::sandbox

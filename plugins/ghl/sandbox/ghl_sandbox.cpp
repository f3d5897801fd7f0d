#include "ghl_sandbox.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>

namespace ferry::plugins::ghl::sandbox {

using sdk::Json;

namespace {

// NestJS-style error body, as GHL answers (common-schemas.json: BadRequestDTO,
// UnauthorizedDTO, UnprocessableDTO).
Response error(int status, const Json& message) {
  static const std::map<int, std::string> names = {
      {400, "Bad Request"}, {401, "Unauthorized"},         {403, "Forbidden"},
      {404, "Not Found"},   {422, "Unprocessable Entity"}, {429, "Too Many Requests"}};
  Json body = {{"statusCode", status}, {"message", message}};
  if (auto it = names.find(status); it != names.end()) {
    body["error"] = it->second;
  }
  return Response::json(status, body);
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string::npos) {
      slash = path.size();
    }
    if (slash > start) {
      out.push_back(path.substr(start, slash - start));
    }
    start = slash + 1;
  }
  return out;
}

std::string urlDecode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Json parseForm(const std::string& body) {
  Json out = Json::object();
  std::size_t start = 0;
  while (start < body.size()) {
    auto amp = body.find('&', start);
    if (amp == std::string::npos) {
      amp = body.size();
    }
    const std::string pair = body.substr(start, amp - start);
    const auto eq = pair.find('=');
    if (!pair.empty()) {
      out[urlDecode(pair.substr(0, eq))] =
          eq == std::string::npos ? "" : urlDecode(pair.substr(eq + 1));
    }
    start = amp + 1;
  }
  return out;
}

std::string kindMessage(const std::string& name, Kind kind) {
  switch (kind) {
    case Kind::String:
      return name + " must be a string";
    case Kind::Bool:
      return name + " must be a boolean value";
    case Kind::Number:
      return name + " must be a number conforming to the specified constraints";
    case Kind::Array:
      return name + " must be an array";
    case Kind::Object:
      return name + " must be an object";
    case Kind::Any:
      break;
  }
  return "";
}

bool kindMatches(const Json& v, Kind kind) {
  switch (kind) {
    case Kind::String:
      return v.is_string();
    case Kind::Bool:
      return v.is_boolean();
    case Kind::Number:
      return v.is_number();
    case Kind::Array:
      return v.is_array();
    case Kind::Object:
      return v.is_object();
    case Kind::Any:
      return true;
  }
  return true;
}

// class-validator's messages for a body checked against the DTO's property list.
std::vector<std::string> validateBody(const BodySchema& schema, const Json& body) {
  std::vector<std::string> out;
  for (const auto& [key, value] : body.items()) {
    const bool known = std::any_of(schema.props.begin(), schema.props.end(),
                                   [&key](const Prop& p) { return p.name == key; });
    if (!known) {
      out.push_back("property " + key + " should not exist");
    }
  }
  for (const auto& p : schema.props) {
    const auto it = body.find(p.name);
    const bool missing =
        it == body.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty());
    if (missing) {
      if (p.required) {
        out.push_back(p.name + " should not be empty");
        if (p.kind != Kind::Any) {
          out.push_back(kindMessage(p.name, p.kind));
        }
      }
      continue;
    }
    if (!kindMatches(*it, p.kind)) {
      out.push_back(kindMessage(p.name, p.kind));
    }
  }
  return out;
}

constexpr const char* kAppId = "ferrySandboxApp00001";
constexpr const char* kUserId = "ferrySandboxUser0001";

long utcDay() { return static_cast<long>(std::time(nullptr) / 86400); }

}  // namespace

// ---- Table ----

Json* Table::find(const std::string& id) {
  auto it = rows.find(id);
  return it == rows.end() ? nullptr : &it->second;
}

void Table::put(const std::string& id, Json row, long seq) {
  if (!seqOf.count(id)) {
    seqOf[id] = seq;
    order[seq] = id;
  }
  rows[id] = std::move(row);
}

bool Table::erase(const std::string& id) {
  auto it = seqOf.find(id);
  if (it == seqOf.end()) {
    return false;
  }
  order.erase(it->second);
  seqOf.erase(it);
  rows.erase(id);
  return true;
}

std::vector<const Json*> Table::all() const {
  std::vector<const Json*> out;
  out.reserve(order.size());
  for (const auto& [seq, id] : order) {
    out.push_back(&rows.at(id));
  }
  return out;
}

// ---- options ----

Options parseOptions(const std::map<std::string, std::string>& extra) {
  Options o;
  auto number = [](const std::string& key, const std::string& value, long min) {
    std::size_t used = 0;
    long v = 0;
    try {
      v = std::stol(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != value.size() || v < min) {
      throw std::invalid_argument("--" + key + " needs a whole number >= " + std::to_string(min) +
                                  ", got '" + value + "'");
    }
    return v;
  };
  for (const auto& [key, value] : extra) {
    if (key == "location-id") {
      if (value.empty()) {
        throw std::invalid_argument("--location-id needs a value");
      }
      o.locationId = value;
    } else if (key == "token-lifetime") {
      o.accessTokenLifetimeS = number(key, value, 1);
    } else if (key == "rate-limit-max") {
      o.burstMax = static_cast<int>(number(key, value, 1));
    } else if (key == "rate-limit-interval-ms") {
      o.burstIntervalMs = static_cast<int>(number(key, value, 1));
    } else if (key == "daily-limit") {
      o.dailyLimit = number(key, value, 1);
    } else if (key == "no-rate-limit") {
      o.rateLimit = false;
    } else if (key == "allow-duplicates") {
      o.allowDuplicates = true;
    } else if (key == "webhook-retry-ms") {
      o.webhookRetryDelay = std::chrono::milliseconds(number(key, value, 0));
    } else {
      throw std::invalid_argument(
          "unknown option --" + key +
          " (allowed: --location-id, --token-lifetime, --rate-limit-max, "
          "--rate-limit-interval-ms, --daily-limit, --no-rate-limit, --allow-duplicates, "
          "--webhook-retry-ms)");
    }
  }
  return o;
}

// ---- the sandbox ----

const std::vector<std::string>& GhlSandbox::knownScopes() {
  static const std::vector<std::string> scopes = {"contacts.readonly",
                                                  "contacts.write",
                                                  "businesses.readonly",
                                                  "businesses.write",
                                                  "locations/tags.readonly",
                                                  "locations/tags.write",
                                                  "locations/customFields.readonly",
                                                  "locations/customFields.write",
                                                  "locations/customValues.readonly",
                                                  "locations/customValues.write",
                                                  "locations/tasks.readonly",
                                                  "calendars/events.readonly",
                                                  "oauth.readonly",
                                                  "oauth.write"};
  return scopes;
}

GhlSandbox::GhlSandbox(Options options, ferry::sandbox::Server& server)
    : options_(std::move(options)), server_(server), rng_(std::random_device{}()) {
  routes_ = buildRoutes();
  dispatcher_ = std::make_unique<Dispatcher>(signer_, options_.webhookRetryDelay);
  locations_[options_.locationId];
  const auto& all = knownScopes();
  fullToken_ =
      issueToken({all.begin(), all.end()}, options_.locationId, "private_integration", std::nullopt)
          .token;
  readonlyToken_ =
      issueToken({"contacts.readonly"}, options_.locationId, "private_integration", std::nullopt)
          .token;
}

GhlSandbox::~GhlSandbox() { dispatcher_.reset(); }

std::string GhlSandbox::newId() {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<int> pick(0, 61);
  std::string id(20, 'x');
  for (auto& ch : id) {
    ch = alphabet[pick(rng_)];
  }
  return id;
}

std::string GhlSandbox::now() const {
  const auto t = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(t);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

Token& GhlSandbox::issueToken(std::set<std::string> scopes, const std::string& locationId,
                              const std::string& kind, std::optional<long> lifetimeS) {
  Token t;
  const std::string prefix = kind == "private_integration" ? "pit-" : "at-";
  t.token = prefix + newId() + newId();
  t.scopes = std::move(scopes);
  t.locationId = locationId;
  t.companyId = options_.companyId;
  t.kind = kind;
  if (lifetimeS) {
    t.expires = Clock::now() + std::chrono::seconds(*lifetimeS);
  }
  locations_[locationId];
  auto& stored = tokens_[t.token];
  stored = std::move(t);
  return stored;
}

Json GhlSandbox::describe() const {
  std::lock_guard lock(mutex_);
  auto scopesOf = [this](const std::string& token) {
    const auto& s = tokens_.at(token).scopes;
    return Json(std::vector<std::string>(s.begin(), s.end()));
  };
  const std::string base = server_.baseUrl();
  return {{"sandbox", "ghl"},
          {"base_url", base},
          {"location_id", options_.locationId},
          {"company_id", options_.companyId},
          {"tokens",
           {{"full", {{"token", fullToken_}, {"scopes", scopesOf(fullToken_)}}},
            {"readonly", {{"token", readonlyToken_}, {"scopes", scopesOf(readonlyToken_)}}}}},
          {"oauth",
           {{"client_id", options_.clientId},
            {"client_secret", options_.clientSecret},
            {"app_id", kAppId},
            {"token_url", base + "/oauth/token"},
            {"authorize_url", base + "/oauth/chooselocation"},
            {"access_token_lifetime_s", options_.accessTokenLifetimeS}}},
          {"admin_url", base + "/_sandbox"},
          {"webhook_public_key", signer_.publicKeyPem()},
          {"rate_limit",
           {{"enabled", options_.rateLimit},
            {"max", options_.burstMax},
            {"interval_ms", options_.burstIntervalMs},
            {"daily", options_.dailyLimit}}},
          {"faults", server_.faults().toJson()}};
}

Response GhlSandbox::ok(int status, Json body) {
  if (body.is_object() && !body.contains("traceId")) {
    const std::string a = newId();
    body["traceId"] = a.substr(0, 8) + "-" + a.substr(8, 4) + "-" + a.substr(12, 4) + "-" +
                      a.substr(16, 4) + "-" + newId().substr(0, 12);
  }
  return Response::json(status, body);
}

void GhlSandbox::addRateHeaders(Response& res, const Bucket* bucket) const {
  const long windowLeft =
      bucket ? std::max(0, options_.burstMax - bucket->windowCount) : options_.burstMax;
  const long dailyLeft =
      bucket ? std::max(0L, options_.dailyLimit - bucket->dayCount) : options_.dailyLimit;
  res.headers.emplace_back("X-RateLimit-Limit-Daily", std::to_string(options_.dailyLimit));
  res.headers.emplace_back("X-RateLimit-Daily-Remaining", std::to_string(dailyLeft));
  res.headers.emplace_back("X-RateLimit-Interval-Milliseconds",
                           std::to_string(options_.burstIntervalMs));
  res.headers.emplace_back("X-RateLimit-Max", std::to_string(options_.burstMax));
  res.headers.emplace_back("X-RateLimit-Remaining", std::to_string(windowLeft));
}

void GhlSandbox::emit(const std::string& type, const std::string& locationId, const Json& object) {
  // The event's own `type` wins over a contact's `type` ("lead"), as in GHL's payloads.
  Json payload = Json::object();
  for (const auto& [k, v] : object.items()) {
    if (k != "searchAfter" && k != "traceId") {
      payload[k] = v;
    }
  }
  payload["type"] = type;
  payload["locationId"] = locationId;
  payload["timestamp"] = now();
  for (const auto& hook : webhooks_) {
    if (!hook.events.empty() && !hook.events.count(type)) {
      continue;
    }
    // Each delivery has its own webhookId, like GHL's per-subscription deliveries.
    const std::string a = newId();
    const std::string webhookId =
        a.substr(0, 8) + "-" + a.substr(8, 4) + "-" + a.substr(12, 4) + "-" + newId().substr(0, 12);
    payload["webhookId"] = webhookId;
    dispatcher_->enqueue(hook.url, type, webhookId, payload.dump());
    counters_["webhooksQueued"]++;
  }
}

Response GhlSandbox::handle(const Request& req) {
  if (req.path.rfind("/_sandbox", 0) == 0) {
    return handleAdmin(req);
  }
  return handleApi(req);
}

Response GhlSandbox::handleApi(const Request& req) {
  std::lock_guard lock(mutex_);
  counters_["requests"]++;
  const auto segments = splitPath(req.path);

  if (req.method == "POST" && segments == std::vector<std::string>{"oauth", "token"}) {
    auto res = oauthToken(req);
    addRateHeaders(res, nullptr);
    return res;
  }
  if (req.method == "GET" && segments == std::vector<std::string>{"oauth", "chooselocation"}) {
    return oauthAuthorize(req);
  }

  // 1. Authentication.
  const auto auth = req.header("Authorization");
  const Token* token = nullptr;
  if (auth && auth->rfind("Bearer ", 0) == 0) {
    auto it = tokens_.find(auth->substr(7));
    if (it != tokens_.end()) {
      token = &it->second;
    }
  }
  if (token == nullptr) {
    counters_["authFailures"]++;
    auto res = ok(401, {{"statusCode", 401},
                        {"message", "Invalid token: access token is invalid"},
                        {"error", "Unauthorized"}});
    addRateHeaders(res, nullptr);
    return res;
  }
  if (token->expires && Clock::now() >= *token->expires) {
    counters_["authFailures"]++;
    auto res =
        ok(401, {{"statusCode", 401}, {"message", "Invalid JWT"}, {"error", "Unauthorized"}});
    addRateHeaders(res, nullptr);
    return res;
  }

  // 2. Rate limits, per token and location: a fixed window and a daily budget.
  Bucket& bucket = buckets_[token->token + "|" + token->locationId];
  const auto t = Clock::now();
  if (t - bucket.windowStart >= std::chrono::milliseconds(options_.burstIntervalMs)) {
    bucket.windowStart = t;
    bucket.windowCount = 0;
  }
  if (bucket.day != utcDay()) {
    bucket.day = utcDay();
    bucket.dayCount = 0;
  }
  if (options_.rateLimit &&
      (bucket.windowCount >= options_.burstMax || bucket.dayCount >= options_.dailyLimit)) {
    counters_["rateLimited"]++;
    auto res = ok(429, {{"statusCode", 429},
                        {"message", "Too many requests, please try again later."},
                        {"error", "Too Many Requests"}});
    addRateHeaders(res, &bucket);
    return res;
  }
  bucket.windowCount++;
  bucket.dayCount++;

  Response res = [&]() -> Response {
    // 3. The Version header.
    const auto version = req.header("Version");
    if (!version) {
      return ok(400, {{"statusCode", 400},
                      {"message", "version header was not found"},
                      {"error", "Bad Request"}});
    }
    if (*version != "2021-07-28" && *version != "2023-02-21") {
      return ok(400, {{"statusCode", 400},
                      {"message", "version header is invalid: '" + *version +
                                      "' (supported: 2021-07-28, 2023-02-21)"},
                      {"error", "Bad Request"}});
    }
    // 4. Routing: the route with the most literal segments wins (/contacts/search/duplicate
    // over /contacts/{contactId}/tasks).
    const Route* best = nullptr;
    bool pathKnown = false;
    int bestLiterals = -1;
    std::map<std::string, std::string> params;
    for (const auto& r : routes_) {
      if (r.segments.size() != segments.size()) {
        continue;
      }
      std::map<std::string, std::string> p;
      int literals = 0;
      bool match = true;
      for (std::size_t i = 0; i < segments.size() && match; ++i) {
        const auto& s = r.segments[i];
        if (s.size() > 2 && s.front() == '{') {
          p[s.substr(1, s.size() - 2)] = urlDecode(segments[i]);
        } else if (s == segments[i]) {
          literals++;
        } else {
          match = false;
        }
      }
      if (!match) {
        continue;
      }
      pathKnown = true;
      if (r.method == req.method && literals > bestLiterals) {
        best = &r;
        bestLiterals = literals;
        params = std::move(p);
      }
    }
    if (best == nullptr) {
      (void)pathKnown;
      return ok(404, {{"statusCode", 404},
                      {"message", "Cannot " + req.method + " " + req.path},
                      {"error", "Not Found"}});
    }
    // 5. Scope.
    if (!best->scope.empty() && !token->scopes.count(best->scope)) {
      counters_["scopeFailures"]++;
      return ok(401,
                {{"statusCode", 401}, {"message", "The token is not authorized for this scope."}});
    }
    Call call{req, std::move(params), Json::object(), nullptr, nullptr, ""};
    call.token = token;
    call.locationId = token->locationId;
    call.loc = &locations_[token->locationId];
    // 6. Path and body locationIds must be the token's location.
    if (auto it = call.params.find("locationId");
        it != call.params.end() && it->second != token->locationId) {
      return ok(403, {{"statusCode", 403},
                      {"message", "The token does not have access to this location."},
                      {"error", "Forbidden"}});
    }
    // 7. The body, against the DTO's property list.
    if (best->body != nullptr) {
      if (!req.body.empty()) {
        try {
          call.body = Json::parse(req.body);
        } catch (const std::exception&) {
          return ok(400, {{"statusCode", 400},
                          {"message", "Unexpected token in JSON body"},
                          {"error", "Bad Request"}});
        }
      }
      if (!call.body.is_object()) {
        return ok(400, {{"statusCode", 400},
                        {"message", "The request body must be a JSON object"},
                        {"error", "Bad Request"}});
      }
      auto issues = validateBody(*best->body, call.body);
      if (!issues.empty()) {
        counters_["validationFailures"]++;
        return ok(422,
                  {{"statusCode", 422}, {"message", issues}, {"error", "Unprocessable Entity"}});
      }
      if (auto it = call.body.find("locationId");
          it != call.body.end() && it->is_string() && *it != token->locationId) {
        return ok(403, {{"statusCode", 403},
                        {"message", "The token does not have access to this location."},
                        {"error", "Forbidden"}});
      }
    }
    auto q = req.query.find("locationId");
    if (q != req.query.end() && q->second != token->locationId) {
      return ok(403, {{"statusCode", 403},
                      {"message", "The token does not have access to this location."},
                      {"error", "Forbidden"}});
    }
    return (this->*(best->handler))(call);
  }();
  addRateHeaders(res, &bucket);
  return res;
}

// ---- OAuth ----

Response GhlSandbox::oauthAuthorize(const Request& req) {
  // The consent screen, answered at once: redirects to redirect_uri?code=...
  auto get = [&req](const std::string& k) {
    auto it = req.query.find(k);
    return it == req.query.end() ? std::string() : it->second;
  };
  if (get("client_id") != options_.clientId || get("redirect_uri").empty()) {
    return error(400, "client_id and redirect_uri are required (client_id must be the sandbox's)");
  }
  Grant g;
  g.locationId = options_.locationId;
  g.companyId = options_.companyId;
  std::string scope = get("scope");
  std::size_t start = 0;
  while (start < scope.size()) {
    auto sp = scope.find(' ', start);
    if (sp == std::string::npos) {
      sp = scope.size();
    }
    if (sp > start) {
      g.scopes.insert(scope.substr(start, sp - start));
    }
    start = sp + 1;
  }
  if (g.scopes.empty()) {
    g.scopes = {knownScopes().begin(), knownScopes().end()};
  }
  const std::string code = newId() + newId();
  codes_[code] = g;
  Response res;
  res.status = 302;
  const std::string uri = get("redirect_uri");
  res.headers = {
      {"Location", uri + (uri.find('?') == std::string::npos ? "?" : "&") + "code=" + code}};
  return res;
}

Response GhlSandbox::oauthToken(const Request& req) {
  const auto type = req.header("Content-Type").value_or("");
  Json form;
  if (type.find("application/json") != std::string::npos) {
    try {
      form = Json::parse(req.body);
    } catch (const std::exception&) {
      return error(400, "Unexpected token in JSON body");
    }
  } else {
    form = parseForm(req.body);
  }
  static const BodySchema schema{{{"client_id", Kind::String, true},
                                  {"client_secret", Kind::String, true},
                                  {"grant_type", Kind::String, true},
                                  {"code", Kind::String},
                                  {"refresh_token", Kind::String},
                                  {"user_type", Kind::String},
                                  {"redirect_uri", Kind::String}}};
  if (!form.is_object()) {
    return error(400, "The request body must be form fields");
  }
  if (auto issues = validateBody(schema, form); !issues.empty()) {
    return error(422, issues);
  }
  if (form["client_id"] != options_.clientId || form["client_secret"] != options_.clientSecret) {
    counters_["authFailures"]++;
    return Response::json(401, {{"statusCode", 401},
                                {"message", "Invalid client credentials"},
                                {"error", "Unauthorized"}});
  }
  const std::string grantType = form["grant_type"];
  Grant grant;
  auto invalidGrant = [](const std::string& what) {
    return Response::json(400, {{"statusCode", 400},
                                {"message", "Invalid grant: " + what},
                                {"error", "invalid_grant"},
                                {"error_description", "Invalid grant: " + what}});
  };
  if (grantType == "authorization_code") {
    const std::string code = form.value("code", "");
    auto it = codes_.find(code);
    if (it == codes_.end() || it->second.used) {
      return invalidGrant("authorization code is invalid");
    }
    it->second.used = true;
    grant = it->second;
  } else if (grantType == "refresh_token") {
    const std::string refresh = form.value("refresh_token", "");
    auto it = refreshTokens_.find(refresh);
    if (it == refreshTokens_.end() || it->second.used) {
      counters_["refreshRefused"]++;
      return invalidGrant("refresh token is invalid");
    }
    // Single use: the presented refresh token dies here, a new one is returned.
    it->second.used = true;
    grant = it->second;
  } else {
    return error(422, Json::array({"grant_type must be one of the following values: "
                                   "authorization_code, refresh_token"}));
  }
  grant.used = false;
  if (auto ut = form.find("user_type"); ut != form.end() && !ut->get<std::string>().empty()) {
    grant.userType = *ut;
  }
  Token& token = issueToken(grant.scopes, grant.locationId, "oauth", options_.accessTokenLifetimeS);
  token.userType = grant.userType;
  if (grantType == "authorization_code") {
    // Exchanging a code completes the app's installation: GHL sends INSTALL.
    emit("INSTALL", grant.locationId,
         {{"appId", kAppId},
          {"companyId", grant.companyId},
          {"userId", kUserId},
          {"isWhitelabelCompany", false}});
  }
  const std::string refresh = "rt-" + newId() + newId();
  refreshTokens_[refresh] = grant;
  counters_["tokensIssued"]++;
  std::string scope;
  for (const auto& s : grant.scopes) {
    scope += (scope.empty() ? "" : " ") + s;
  }
  Json body = {{"access_token", token.token},
               {"token_type", "Bearer"},
               {"expires_in", options_.accessTokenLifetimeS},
               {"refresh_token", refresh},
               {"scope", scope},
               {"userType", grant.userType},
               {"companyId", grant.companyId},
               {"userId", kUserId},
               {"isBulkInstallation", false}};
  if (grant.userType == "Location") {
    body["locationId"] = grant.locationId;
  } else {
    body["approvedLocations"] = Json::array({grant.locationId});
  }
  return Response::json(200, body);
}

Response GhlSandbox::oauthLocationToken(Call& c) {
  // Agency token -> location token (form body companyId, locationId).
  Json form = parseForm(c.req.body);
  static const BodySchema schema{
      {{"companyId", Kind::String, true}, {"locationId", Kind::String, true}}};
  if (auto issues = validateBody(schema, form); !issues.empty()) {
    return ok(422, {{"statusCode", 422}, {"message", issues}, {"error", "Unprocessable Entity"}});
  }
  if (form["companyId"] != c.token->companyId) {
    return ok(403, {{"statusCode", 403},
                    {"message", "The token does not have access to this company."},
                    {"error", "Forbidden"}});
  }
  const std::string locationId = form["locationId"];
  std::set<std::string> scopes = c.token->scopes;
  Token& token = issueToken(scopes, locationId, "location", options_.accessTokenLifetimeS);
  std::string scope;
  for (const auto& s : token.scopes) {
    scope += (scope.empty() ? "" : " ") + s;
  }
  return Response::json(200, {{"access_token", token.token},
                              {"token_type", "Bearer"},
                              {"expires_in", options_.accessTokenLifetimeS},
                              {"scope", scope},
                              {"locationId", locationId},
                              {"userId", kUserId}});
}

// ---- admin ----

Json GhlSandbox::stateJson() const {
  Json locations = Json::object();
  for (const auto& [id, loc] : locations_) {
    auto rows = [](const Table& t) {
      Json a = Json::array();
      for (const auto* r : t.all()) {
        a.push_back(*r);
      }
      return a;
    };
    Json campaigns = Json::object();
    for (const auto& [cid, set] : loc.campaigns) {
      campaigns[cid] = std::vector<std::string>(set.begin(), set.end());
    }
    Json workflows = Json::object();
    for (const auto& [cid, set] : loc.workflows) {
      workflows[cid] = std::vector<std::string>(set.begin(), set.end());
    }
    locations[id] = {{"contacts", rows(loc.contacts)},
                     {"tasks", rows(loc.tasks)},
                     {"notes", rows(loc.notes)},
                     {"tags", rows(loc.tags)},
                     {"businesses", rows(loc.businesses)},
                     {"customFields", rows(loc.customFields)},
                     {"customValues", rows(loc.customValues)},
                     {"appointments", rows(loc.appointments)},
                     {"campaigns", campaigns},
                     {"workflows", workflows}};
  }
  Json counters = Json::object();
  for (const char* k :
       {"requests", "creates", "updates", "deletes", "rateLimited", "authFailures", "scopeFailures",
        "validationFailures", "tokensIssued", "refreshRefused", "webhooksQueued"}) {
    auto it = counters_.find(k);
    counters[k] = it == counters_.end() ? 0 : it->second;
  }
  const auto& fc = server_.counters();
  counters["injected"] = {{"429", fc.injected429.load()},
                          {"5xx", fc.injected5xx.load()},
                          {"dropped", fc.dropped.load()}};
  Json hooks = Json::array();
  for (const auto& h : webhooks_) {
    hooks.push_back({{"id", h.id},
                     {"url", h.url},
                     {"events", std::vector<std::string>(h.events.begin(), h.events.end())}});
  }
  return {{"locations", locations},
          {"counters", counters},
          {"faults", server_.faults().toJson()},
          {"rateLimit",
           {{"enabled", options_.rateLimit},
            {"max", options_.burstMax},
            {"intervalMs", options_.burstIntervalMs},
            {"daily", options_.dailyLimit}}},
          {"webhooks", hooks},
          {"deliveries", dispatcher_->toJson()}};
}

Response GhlSandbox::handleAdmin(const Request& req) {
  std::lock_guard lock(mutex_);
  const auto seg = splitPath(req.path);  // seg[0] == "_sandbox"
  const std::string what = seg.size() > 1 ? seg[1] : "";
  Json body = Json::object();
  if (!req.body.empty()) {
    try {
      body = Json::parse(req.body);
    } catch (const std::exception& e) {
      return error(400, std::string("The admin body is not JSON: ") + e.what());
    }
  }
  const bool get = req.method == "GET";
  const bool post = req.method == "POST" || req.method == "PUT";
  if (what == "state" && get) {
    return Response::json(200, stateJson());
  }
  if (what == "reset" && post) {
    locations_.clear();
    locations_[options_.locationId];
    for (const auto& [token, t] : tokens_) {
      locations_[t.locationId];
    }
    buckets_.clear();
    counters_.clear();
    webhooks_.clear();
    dispatcher_->clear();
    return Response::json(200, {{"reset", true}});
  }
  if (what == "faults") {
    if (post) {
      try {
        std::string spec;
        if (body.contains("spec")) {
          spec = body["spec"].get<std::string>();
        } else {
          for (const auto& [k, v] : body.items()) {
            spec += (spec.empty() ? "" : ",") + k + "=" +
                    (v.is_string() ? v.get<std::string>() : v.dump());
          }
        }
        server_.setFaults(ferry::sandbox::Faults::parse(spec));
      } catch (const std::exception& e) {
        return error(400, std::string("Bad faults: ") + e.what() +
                              " (send {\"spec\": \"429=0.1,5xx=0.1,drop=0,latency=0-50\"})");
      }
    }
    if (post || get) {
      return Response::json(200, server_.faults().toJson());
    }
  }
  if (what == "rate-limit") {
    if (post) {
      if (auto it = body.find("enabled"); it != body.end() && it->is_boolean()) {
        options_.rateLimit = it->get<bool>();
      }
      if (auto it = body.find("max"); it != body.end() && it->is_number_integer()) {
        options_.burstMax = std::max(1, it->get<int>());
      }
      if (auto it = body.find("intervalMs"); it != body.end() && it->is_number_integer()) {
        options_.burstIntervalMs = std::max(1, it->get<int>());
      }
      if (auto it = body.find("daily"); it != body.end() && it->is_number_integer()) {
        options_.dailyLimit = std::max(1L, it->get<long>());
      }
      if (body.value("reset", false)) {
        buckets_.clear();
      }
    }
    if (post || get) {
      return Response::json(200, {{"enabled", options_.rateLimit},
                                  {"max", options_.burstMax},
                                  {"intervalMs", options_.burstIntervalMs},
                                  {"daily", options_.dailyLimit}});
    }
  }
  if (what == "webhooks") {
    if (seg.size() == 3 && seg[2] == "public-key" && get) {
      Response r = Response::text(200, signer_.publicKeyPem());
      r.headers = {{"Content-Type", "application/x-pem-file"}};
      return r;
    }
    if (seg.size() == 3 && seg[2] == "deliveries" && get) {
      return Response::json(200, dispatcher_->toJson());
    }
    if (seg.size() == 3 && req.method == "DELETE") {
      const auto before = webhooks_.size();
      std::erase_if(webhooks_, [&seg](const WebhookTarget& w) { return w.id == seg[2]; });
      return before == webhooks_.size() ? error(404, "No webhook " + seg[2])
                                        : Response::json(200, {{"deleted", seg[2]}});
    }
    if (seg.size() == 2 && req.method == "POST") {
      const std::string url = body.value("url", "");
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
        return error(400,
                     "Webhook needs {\"url\": \"http://127.0.0.1:PORT/path\", "
                     "\"events\": [\"ContactCreate\", ...]} (events optional)");
      }
      WebhookTarget w;
      w.id = newId();
      w.url = url;
      if (auto it = body.find("events"); it != body.end() && it->is_array()) {
        for (const auto& e : *it) {
          w.events.insert(e.get<std::string>());
        }
      }
      webhooks_.push_back(w);
      return Response::json(
          201, {{"id", w.id},
                {"url", w.url},
                {"events", std::vector<std::string>(w.events.begin(), w.events.end())}});
    }
    if (seg.size() == 2 && get) {
      return Response::json(200, stateJson()["webhooks"]);
    }
  }
  if (what == "tokens") {
    if (seg.size() == 2 && req.method == "POST") {
      std::set<std::string> scopes;
      if (auto it = body.find("scopes"); it != body.end() && it->is_array()) {
        for (const auto& s : *it) {
          scopes.insert(s.get<std::string>());
        }
      }
      std::optional<long> lifetime;
      if (auto it = body.find("expiresIn"); it != body.end() && it->is_number_integer()) {
        lifetime = it->get<long>();
      }
      const std::string location = body.value("locationId", options_.locationId);
      Token& t = issueToken(scopes, location, lifetime ? "oauth" : "private_integration", lifetime);
      return Response::json(201,
                            {{"token", t.token},
                             {"scopes", std::vector<std::string>(t.scopes.begin(), t.scopes.end())},
                             {"locationId", t.locationId}});
    }
    if (seg.size() == 3 && req.method == "DELETE") {
      return tokens_.erase(seg[2]) ? Response::json(200, {{"revoked", true}})
                                   : error(404, "No such token");
    }
  }
  if (what == "oauth" && seg.size() == 3 && seg[2] == "code" && req.method == "POST") {
    Grant g;
    g.locationId = body.value("locationId", options_.locationId);
    g.companyId = options_.companyId;
    if (auto it = body.find("scopes"); it != body.end() && it->is_array()) {
      for (const auto& s : *it) {
        g.scopes.insert(s.get<std::string>());
      }
    } else {
      g.scopes = {knownScopes().begin(), knownScopes().end()};
    }
    const std::string code = newId() + newId();
    codes_[code] = g;
    return Response::json(201, {{"code", code}});
  }
  if (what == "contacts" && seg.size() == 3 &&
      (req.method == "PUT" || req.method == "PATCH" || req.method == "DELETE")) {
    return adminContact(req.method, seg[2], body);
  }
  if (what == "uninstall" && req.method == "POST") {
    const std::string location = body.value("locationId", options_.locationId);
    emit("UNINSTALL", location, {{"appId", kAppId}, {"companyId", options_.companyId}});
    return Response::json(200, {{"uninstalled", location}});
  }
  if (what == "appointments" && seg.size() == 3 &&
      (req.method == "PUT" || req.method == "DELETE")) {
    const std::string location = body.value("locationId", options_.locationId);
    auto& table = locations_[location].appointments;
    Json* event = table.find(seg[2]);
    if (event == nullptr) {
      return error(404, "No appointment " + seg[2] + " in location " + location);
    }
    if (req.method == "DELETE") {
      const Json gone = *event;
      table.erase(seg[2]);
      emit("AppointmentDelete", location, {{"appointment", gone}});
      return Response::json(200, {{"succeded", true}});
    }
    for (const auto& [k, v] : body.items()) {
      if (k != "id" && k != "locationId") {
        (*event)[k] = v;
      }
    }
    (*event)["dateUpdated"] = now();
    emit("AppointmentUpdate", location, {{"appointment", *event}});
    return Response::json(200, {{"appointment", *event}});
  }
  if (what == "appointments" && req.method == "POST") {
    const std::string location = body.value("locationId", options_.locationId);
    Json event = body;
    event["id"] = newId();
    event["locationId"] = location;
    event["dateAdded"] = now();
    event["dateUpdated"] = event["dateAdded"];
    if (!event.contains("calendarId")) {
      event["calendarId"] = "ferrySandboxCalendar";
    }
    if (!event.contains("appointmentStatus")) {
      event["appointmentStatus"] = "confirmed";
    }
    locations_[location].appointments.put(event["id"], event, nextSeq());
    emit("AppointmentCreate", location, {{"appointment", event}});
    return Response::json(201, {{"appointment", event}});
  }
  return error(404, "Unknown admin call " + req.method + " " + req.path +
                        " (see docs/sandboxes.md: state, reset, faults, rate-limit, webhooks, "
                        "tokens, oauth/code, appointments, contacts, uninstall)");
}

}  // namespace ferry::plugins::ghl::sandbox

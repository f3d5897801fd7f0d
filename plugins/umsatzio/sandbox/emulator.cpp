#include "emulator.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>

#include "http/client.hpp"
#include "signature.hpp"
#include "slate.hpp"
#include "time.hpp"

namespace ferry::sandbox::umsatzio {

namespace {

namespace plugin = ferry::plugins::umsatzio;

const std::set<std::string> kTriggers = {"newContact",      "changeContactProperty", "newDeal",
                                         "changeDealProperty", "updateDealStage",   "submitForm",
                                         "newActivity"};

[[noreturn]] void fail(const char* code, const std::string& message) {
  throw GraphqlError{code, message};
}

std::string str(const Json& v, const char* key) {
  if (v.is_object() && v.contains(key)) {
    if (v[key].is_string()) {
      return v[key].get<std::string>();
    }
    if (v[key].is_number()) {
      return v[key].dump();
    }
  }
  return "";
}

std::string need(const Json& v, const char* key) {
  std::string s = str(v, key);
  if (s.empty()) {
    fail("BAD_USER_INPUT", std::string("Argument '") + key + "' is required.");
  }
  return s;
}

// The root field of a GraphQL document: the first field inside the first selection set.
std::string rootField(const std::string& doc) {
  std::size_t i = 0;
  int depth = 0;
  while (i < doc.size()) {
    const char c = doc[i];
    if (c == '#') {
      while (i < doc.size() && doc[i] != '\n') {
        ++i;
      }
    } else if (c == '(') {
      ++depth;
      ++i;
    } else if (c == ')') {
      --depth;
      ++i;
    } else if (c == '{' && depth == 0) {
      ++i;
      while (i < doc.size() && (std::isspace(static_cast<unsigned char>(doc[i])) || doc[i] == ',')) {
        ++i;
      }
      std::size_t start = i;
      while (i < doc.size() && (std::isalnum(static_cast<unsigned char>(doc[i])) || doc[i] == '_')) {
        ++i;
      }
      std::string name = doc.substr(start, i - start);
      while (i < doc.size() && std::isspace(static_cast<unsigned char>(doc[i]))) {
        ++i;
      }
      if (i < doc.size() && doc[i] == ':') {  // an alias: the field follows
        ++i;
        while (i < doc.size() && std::isspace(static_cast<unsigned char>(doc[i]))) {
          ++i;
        }
        start = i;
        while (i < doc.size() && (std::isalnum(static_cast<unsigned char>(doc[i])) || doc[i] == '_')) {
          ++i;
        }
        name = doc.substr(start, i - start);
      }
      return name;
    } else {
      ++i;
    }
  }
  return "";
}

Json page(const std::vector<Json>& all, const Json& vars) {
  const Json p = vars.value("pagination", Json::object());
  long long pageNo = p.is_object() && p.contains("page") && p["page"].is_number_integer() ? p["page"].get<long long>() : 0;
  long long limit = p.is_object() && p.contains("limit") && p["limit"].is_number_integer() ? p["limit"].get<long long>() : 50;
  if (pageNo < 0 || limit < 1 || limit > 100) {
    fail("BAD_USER_INPUT", "pagination: page must be >= 0 and limit within 1..100.");
  }
  Json data = Json::array();
  for (long long i = pageNo * limit; i < static_cast<long long>(all.size()) && i < (pageNo + 1) * limit; ++i) {
    data.push_back(all[static_cast<std::size_t>(i)]);
  }
  return {{"data", data}, {"pagination", {{"page", pageNo}, {"limit", limit}, {"total", all.size()}}}};
}

bool containsText(const Json& v, const std::string& needleLower) {
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s.find(needleLower) != std::string::npos;
  }
  if (v.is_object() || v.is_array()) {
    for (const auto& e : v) {
      if (containsText(e, needleLower)) {
        return true;
      }
    }
  }
  return false;
}

std::vector<Json> byParent(const std::map<std::string, Json>& items, const std::string& parentId) {
  std::vector<Json> out;
  for (auto it = items.rbegin(); it != items.rend(); ++it) {  // newest first
    if (str(it->second, "parentId") == parentId) {
      out.push_back(it->second);
    }
  }
  return out;
}

}  // namespace

Emulator::Emulator(Options options) : options_(std::move(options)) {
  reset();
  deliverer_ = std::thread([this] { deliverLoop(); });
}

Emulator::~Emulator() {
  {
    std::lock_guard lock(queueMutex_);
    stopping_ = true;
  }
  queueCv_.notify_all();
  if (deliverer_.joinable()) {
    deliverer_.join();
  }
}

std::string Emulator::nextId(const char* prefix) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s_%06lld", prefix, ++store_.counter);
  return buf;
}

std::string Emulator::now() {
  if (frozenClock_) {
    return plugin::formatIsoMillis(*frozenClock_);
  }
  return plugin::formatIso(std::chrono::system_clock::now());
}

void Emulator::reset() {
  store_ = Store{};
  store_.pipelines = pipelines();
  store_.callTypes = callTypes();
  store_.forms = forms();
  store_.accounts = accounts();
  store_.contactCards = contactCards();
  store_.dealCards = dealCards();
  nextFaults_.clear();
  if (options_.generate > 0) {
    generate({{"contacts", options_.generate},
              {"calls", options_.generate},
              {"notes", options_.generate},
              {"seed", options_.seed}});
  }
}

Json Emulator::checkData(const Json& cards, Json data, bool filterUnknown, bool contact) {
  if (data.is_null()) {
    return Json::object();
  }
  if (!data.is_object()) {
    fail("BAD_USER_INPUT", "'data' must be an object keyed by field API names.");
  }
  std::map<std::string, Json> fields;
  for (const auto& card : cards) {
    for (const auto& f : card["fields"]) {
      fields[f["name"].get<std::string>()] = f;
    }
  }
  Json out = Json::object();
  for (auto it = data.begin(); it != data.end(); ++it) {
    auto f = fields.find(it.key());
    if (f == fields.end()) {
      if (filterUnknown) {
        continue;
      }
      fail("BAD_USER_INPUT", "Unknown " + std::string(contact ? "contact" : "deal") + " field '" +
                                 it.key() + "'.");
    }
    const std::string type = f->second["fieldType"];
    if (type == "dropdown" && !it->is_null()) {
      bool ok = false;
      for (const auto& o : f->second["options"]) {
        ok = ok || o["value"] == *it;
      }
      if (!ok) {
        fail("BAD_USER_INPUT", "Value " + it->dump() + " is not an option of '" + it.key() + "'.");
      }
    }
    out[it.key()] = *it;
  }
  return out;
}

Json Emulator::stageOf(const std::string& pipelineId, const std::string& stageId) const {
  for (const auto& p : store_.pipelines) {
    if (p["id"] == pipelineId) {
      for (const auto& s : p["stages"]) {
        if (s["id"] == stageId) {
          return s;
        }
      }
    }
  }
  return Json();
}

Json Emulator::dealView(const Json& deal) const {
  Json d = deal;
  const Json s = stageOf(str(deal, "pipelineId"), str(deal, "stageId"));
  d["stage"] = s.is_null() ? Json() : Json{{"id", s["id"]}, {"name", s["name"]}};
  auto c = store_.contacts.find(str(deal, "contactId"));
  d["contact"] = c == store_.contacts.end() ? Json() : c->second;
  return d;
}

void Emulator::emit(const std::string& event, const Json& data, const std::vector<std::string>& matchKeys) {
  std::vector<Delivery> out;
  for (const auto& [id, hook] : store_.webhooks) {
    const Json& triggers = hook["triggers"];
    if (std::find(triggers.begin(), triggers.end(), Json(event)) == triggers.end()) {
      continue;
    }
    // The webhook's `properties` filter, as far as it is known: watched fields, pipeline/stage,
    // form ids, call type/results. An empty filter lets everything through.
    const Json& props = hook["properties"];
    bool pass = props.empty() || event == "newContact" || event == "newDeal";
    if (!pass && event == "updateDealStage") {
      pass = props[0] == data["deal"]["pipelineId"] && (props.size() < 2 || props[1] == data["deal"]["stageId"]);
    } else if (!pass) {
      for (const auto& key : matchKeys) {
        pass = pass || std::find(props.begin(), props.end(), Json(key)) != props.end();
      }
    }
    if (!pass) {
      continue;
    }
    Json envelope = {{"id", nextId("evt")},
                     {"event", event},
                     {"webhookId", id},
                     {"occurredAt", now()},
                     {"data", data}};
    out.push_back({hook["url"], event, envelope.dump()});
  }
  if (out.empty()) {
    return;
  }
  {
    std::lock_guard lock(queueMutex_);
    for (auto& d : out) {
      queue_.push_back(std::move(d));
    }
  }
  queueCv_.notify_all();
}

void Emulator::deliverLoop() {
  core::http::Client client;
  for (;;) {
    Delivery d;
    {
      std::unique_lock lock(queueMutex_);
      queueCv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        return;
      }
      d = std::move(queue_.front());
      queue_.pop_front();
      ++inFlight_;
    }
    sdk::HttpRequest req;
    req.method = "POST";
    req.url = d.url;
    req.timeout = std::chrono::milliseconds(5000);
    req.body = d.body;
    req.headers = {{"Content-Type", "application/json"}, {"x-umsatzio-event", d.event}};
    if (!options_.webhookSecret.empty()) {
      req.headers.emplace_back(options_.signatureHeader, plugin::hmacSha256Hex(options_.webhookSecret, d.body));
    }
    Json record = {{"url", d.url}, {"event", d.event}, {"attempts", 0}, {"statuses", Json::array()}};
    // A 5xx, a 429 (the receiver asks for a retry) or no answer is tried again, up to
    // --delivery-attempts times, 200 ms more apart each time (at most 2 s).
    const int attempts = std::max(1, options_.deliveryAttempts);
    for (int attempt = 1; attempt <= attempts; ++attempt) {
      record["attempts"] = attempt;
      try {
        const auto res = client.send(req);
        record["status"] = res.status;
        record["statuses"].push_back(res.status);
        if (res.status < 500 && res.status != 429) {
          break;
        }
      } catch (const std::exception& e) {
        record["status"] = 0;
        record["statuses"].push_back(0);
        record["error"] = e.what();
      }
      std::unique_lock lock(queueMutex_);
      if (attempt == attempts ||
          queueCv_.wait_for(lock, std::chrono::milliseconds(std::min(200 * attempt, 2000)),
                            [this] { return stopping_; })) {
        break;
      }
    }
    {
      std::lock_guard lock(mutex_);
      const int status = record.value("status", 0);
      ++(status >= 200 && status < 300 ? deliveriesOk_ : deliveriesFailed_);
      bool refused = false;  // answered 429 or 503 first (the receiver asked for a retry)
      for (const auto& s : record["statuses"]) {
        refused = refused || s == 429 || s == 503;
      }
      deliveriesRefusedThenOk_ += refused && status >= 200 && status < 300 ? 1 : 0;
      deliveryLog_.push_back(record);
      while (deliveryLog_.size() > 500) {
        deliveryLog_.pop_front();
      }
    }
    std::lock_guard lock(queueMutex_);
    --inFlight_;
  }
}

Json Emulator::createContact(Json data, bool filterUnknown) {
  data = checkData(store_.contactCards, std::move(data), filterUnknown, true);
  const std::string at = now();
  Json c = {{"id", nextId("ct")}, {"data", data}, {"isArchived", false}, {"createdAt", at}, {"updatedAt", at}};
  store_.contacts[c["id"]] = c;
  emit("newContact", {{"contact", c}}, {});
  return c;
}

Json Emulator::updateContact(const std::string& id, const Json& data, bool filterUnknown) {
  auto it = store_.contacts.find(id);
  if (it == store_.contacts.end()) {
    fail("NOT_FOUND", "Contact '" + id + "' does not exist.");
  }
  const Json clean = checkData(store_.contactCards, data, filterUnknown, true);
  Json& c = it->second;
  std::vector<std::string> changed;
  Json previous = Json::object();
  for (auto f = clean.begin(); f != clean.end(); ++f) {
    const Json old = c["data"].value(f.key(), Json());
    if (old != *f) {
      changed.push_back(f.key());
      previous[f.key()] = old;
      c["data"][f.key()] = *f;
    }
  }
  if (!changed.empty()) {
    c["updatedAt"] = now();
    emit("changeContactProperty", {{"contact", c}, {"changedProperties", changed}, {"previous", previous}}, changed);
  }
  return c;
}

Json Emulator::createDeal(const Json& input) {
  const std::string contactId = need(input, "contactId");
  const std::string pipelineId = need(input, "pipelineId");
  const std::string stageId = need(input, "stageId");
  if (store_.contacts.count(contactId) == 0) {
    fail("NOT_FOUND", "Contact '" + contactId + "' does not exist.");
  }
  if (stageOf(pipelineId, stageId).is_null()) {
    fail("BAD_USER_INPUT", "Stage '" + stageId + "' is not in pipeline '" + pipelineId + "'.");
  }
  const Json data = checkData(store_.dealCards, input.value("data", Json::object()),
                              input.value("filterUnknownFields", false), false);
  const std::string at = now();
  Json d = {{"id", nextId("dl")}, {"name", need(input, "name")}, {"contactId", contactId},
            {"pipelineId", pipelineId}, {"stageId", stageId}, {"data", data},
            {"createdAt", at}, {"updatedAt", at}};
  store_.deals[d["id"]] = d;
  const Json view = dealView(d);
  emit("newDeal", {{"deal", view}, {"contact", view["contact"]}}, {});
  return view;
}

Json Emulator::updateDeal(const std::string& id, const Json& input) {
  auto it = store_.deals.find(id);
  if (it == store_.deals.end()) {
    fail("NOT_FOUND", "Deal '" + id + "' does not exist.");
  }
  Json& d = it->second;
  std::vector<std::string> changed;
  if (input.contains("name") && input["name"].is_string() && input["name"] != d["name"]) {
    d["name"] = input["name"];
    changed.push_back("name");
  }
  const Json clean = checkData(store_.dealCards, input.value("data", Json::object()), false, false);
  for (auto f = clean.begin(); f != clean.end(); ++f) {
    if (d["data"].value(f.key(), Json()) != *f) {
      d["data"][f.key()] = *f;
      changed.push_back(f.key());
    }
  }
  const Json view = dealView(d);
  if (!changed.empty()) {
    d["updatedAt"] = now();
    emit("changeDealProperty", {{"deal", dealView(d)}, {"contact", view["contact"]}, {"changedProperties", changed}}, changed);
  }
  return dealView(d);
}

Json Emulator::moveDeal(const std::string& id, const std::string& pipelineId, const std::string& stageId) {
  auto it = store_.deals.find(id);
  if (it == store_.deals.end()) {
    fail("NOT_FOUND", "Deal '" + id + "' does not exist.");
  }
  if (stageOf(pipelineId, stageId).is_null()) {
    fail("BAD_USER_INPUT", "Stage '" + stageId + "' is not in pipeline '" + pipelineId + "'.");
  }
  Json& d = it->second;
  const Json previousStage = d["stageId"];
  const Json previousPipeline = d["pipelineId"];
  if (previousStage == stageId && previousPipeline == pipelineId) {
    return dealView(d);
  }
  d["pipelineId"] = pipelineId;
  d["stageId"] = stageId;
  d["updatedAt"] = now();
  const Json view = dealView(d);
  emit("updateDealStage",
       {{"deal", view}, {"contact", view["contact"]}, {"previousStageId", previousStage},
        {"previousPipelineId", previousPipeline}},
       {});
  return view;
}

Json Emulator::createNote(const std::string& parentId, const std::string& description) {
  if (store_.contacts.count(parentId) == 0 && store_.deals.count(parentId) == 0) {
    fail("NOT_FOUND", "No contact or deal '" + parentId + "'.");
  }
  const Json doc = Json::parse(description, nullptr, false);
  if (doc.is_discarded() || !doc.is_array()) {
    fail("BAD_USER_INPUT", "'description' must be a Slate JSON string (an array of elements).");
  }
  const std::string at = now();
  Json n = {{"id", nextId("nt")}, {"parentId", parentId}, {"description", description},
            {"isPinned", false}, {"createdAt", at}, {"updatedAt", at}};
  store_.notes[n["id"]] = n;
  return n;
}

Json Emulator::logCall(const Json& input) {
  const std::string contactId = need(input, "contactId");
  auto c = store_.contacts.find(contactId);
  if (c == store_.contacts.end()) {
    fail("NOT_FOUND", "Contact '" + contactId + "' does not exist.");
  }
  std::string typeId = str(input, "phoneCallActivityTypeId");
  if (typeId.empty()) {
    typeId = "ct_opening";
  }
  Json type;
  for (const auto& t : store_.callTypes) {
    if (t["id"] == typeId) {
      type = t;
    }
  }
  if (type.is_null()) {
    fail("BAD_USER_INPUT", "Unknown call type '" + typeId + "'.");
  }
  std::string result = str(input, "phoneCallResult");
  if (result.empty()) {
    result = "reached";
  }
  const Json& results = type["results"];
  if (std::find(results.begin(), results.end(), Json(result)) == results.end()) {
    fail("BAD_USER_INPUT", "Result '" + result + "' is not allowed for call type '" + typeId + "'.");
  }
  const std::string at = now();
  Json a = {{"id", nextId("ca")}, {"parentId", contactId}, {"parentType", "contact"}, {"kind", "phone_call"},
            {"description", input.value("description", std::string("Anruf"))}, {"activityTime", at},
            {"phoneCallResult", result}, {"phoneCallActivityTypeId", typeId},
            {"phoneNumber", c->second["data"].value("global_contact_phone", std::string())}};
  if (input.contains("followUpAt") && input["followUpAt"].is_string()) {
    a["followUpAt"] = input["followUpAt"];
  }
  store_.calls[a["id"]] = a;
  Json& contact = c->second;
  contact["data"]["global_contact_phone_call_count"] = contact["data"].value("global_contact_phone_call_count", 0) + 1;
  if (result != "not_reached") {
    contact["data"]["global_contact_last_reached"] = at;
  }
  contact["updatedAt"] = at;
  emit("newActivity", {{"activity", a}, {"contact", contact}}, {typeId, result});
  return a;
}

Json Emulator::logEmail(const Json& input) {
  const std::string contactId = need(input, "parentId");
  auto c = store_.contacts.find(contactId);
  if (c == store_.contacts.end()) {
    fail("NOT_FOUND", "Contact '" + contactId + "' does not exist.");
  }
  const std::string time = need(input, "activityTime");
  if (!plugin::parseIsoMillis(time)) {
    fail("BAD_USER_INPUT", "'activityTime' must be an ISO-8601 date-time.");
  }
  Json a = {{"id", nextId("em")}, {"parentId", contactId}, {"parentType", input.value("parentType", std::string("contact"))},
            {"kind", "email"}, {"description", need(input, "description")}, {"activityTime", time},
            {"emailAddress", input.value("emailAddress", c->second["data"].value("global_contact_email", std::string()))}};
  store_.emails[a["id"]] = a;
  emit("newActivity", {{"activity", a}, {"contact", c->second}}, {});
  return a;
}

Json Emulator::submitForm(const std::string& formId, const Json& data) {
  Json form;
  for (const auto& f : store_.forms) {
    if (f["id"] == formId) {
      form = f;
    }
  }
  if (form.is_null()) {
    fail("NOT_FOUND", "Form '" + formId + "' does not exist.");
  }
  const Json clean = checkData(store_.contactCards, data, true, true);
  Json contact;
  const std::string email = str(clean, "global_contact_email");
  for (const auto& [id, c] : store_.contacts) {
    if (!email.empty() && c["data"].value("global_contact_email", std::string()) == email) {
      contact = c;
    }
  }
  if (contact.is_null()) {
    contact = createContact(clean, true);
  }
  Json submission = {{"id", nextId("sb")}, {"formId", formId}, {"data", clean}, {"submittedAt", now()},
                     {"contactId", contact["id"]}};
  store_.submissions[submission["id"]] = submission;
  emit("submitForm", {{"form", form}, {"submission", submission}, {"contact", contact}}, {formId});
  return submission;
}

Json Emulator::generate(const Json& spec) {
  const auto& w = words();
  std::mt19937_64 rng(spec.value("seed", 42ULL));
  auto pick = [&rng](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
  };
  Json made = {{"contacts", Json::array()}, {"calls", Json::array()}, {"notes", Json::array()}, {"deals", Json::array()}};
  std::vector<std::string> ids;
  const Json statuses = {"Neu", "Kontaktiert", "Qualifiziert"};
  for (int i = 0; i < spec.value("contacts", 0); ++i) {
    const std::string first = pick(w.firstNames);
    const std::string last = pick(w.lastNames);
    const std::string company = pick(w.companies);
    std::string local = first + "." + last;
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"ä", "ae"}, {"ö", "oe"}, {"ü", "ue"}, {"ß", "ss"}, {"Ä", "ae"}, {"Ö", "oe"}, {"Ü", "ue"}}) {
      for (auto pos = local.find(from); pos != std::string::npos; pos = local.find(from, pos)) {
        local.replace(pos, from.size(), to);
      }
    }
    std::string ascii;
    for (unsigned char ch : local) {  // e-mail local part without umlauts
      ascii += std::isalnum(ch) || ch == '.' ? std::string(1, static_cast<char>(std::tolower(ch))) : "";
    }
    Json data = {{"global_contact_email", ascii + std::to_string(store_.counter + 1) + "@beispiel.de"},
                 {"global_contact_first_name", first},
                 {"global_contact_last_name", last},
                 {"global_contact_phone", "+49 " + std::to_string(std::uniform_int_distribution<int>(30, 99)(rng)) + " " +
                                              std::to_string(std::uniform_int_distribution<int>(100000, 9999999)(rng))},
                 {"global_contact_company", company},
                 {"contact_city", pick(w.cities)},
                 {"contact_source", pick(w.sources)},
                 {"contact_status", statuses[std::uniform_int_distribution<int>(0, 2)(rng)]}};
    const Json c = createContact(data, false);
    ids.push_back(c["id"]);
    made["contacts"].push_back(c["id"]);
    if (i % 2 == 0) {
      const Json d = createDeal({{"name", company + " – Jahresvertrag"}, {"contactId", c["id"]},
                                 {"pipelineId", "pl_vertrieb"}, {"stageId", "st_opening"},
                                 {"data", {{"deal_value", 1200 * (1 + i % 5)}, {"deal_product", "Professional"}}}});
      made["deals"].push_back(d["id"]);
    }
  }
  if (ids.empty()) {
    for (const auto& [id, c] : store_.contacts) {
      ids.push_back(id);
    }
  }
  if (ids.empty()) {
    return made;
  }
  const Json types = store_.callTypes;
  for (int i = 0; i < spec.value("calls", 0); ++i) {
    const Json& type = types[std::uniform_int_distribution<std::size_t>(0, types.size() - 1)(rng)];
    const Json& results = type["results"];
    const std::string result = results[std::uniform_int_distribution<std::size_t>(0, results.size() - 1)(rng)];
    Json call = {{"contactId", pick(ids)}, {"phoneCallActivityTypeId", type["id"]}, {"phoneCallResult", result},
                 {"description", pick(w.callTexts)}};
    if (result == "follow_up") {
      call["followUpAt"] = plugin::formatIsoMillis(*plugin::parseIsoMillis(now()) + 2 * 86400000LL);
    }
    made["calls"].push_back(logCall(call)["id"]);
  }
  for (int i = 0; i < spec.value("notes", 0); ++i) {
    made["notes"].push_back(createNote(pick(ids), plugin::plainTextToSlate(pick(w.noteTexts)).dump())["id"]);
  }
  return made;
}

Json Emulator::resolve(const std::string& root, const Json& vars) {
  auto page_ = [&vars](const std::vector<Json>& all) { return page(all, vars); };
  const bool filter = vars.value("filterUnknownFields", false);
  const Json input = vars.value("input", Json::object());
  if (root == "__typename") {
    return "Query";
  }
  if (root == "viewer") {
    return {{"id", "ac_admin"}, {"role", "admin"}};
  }
  if (root == "contact") {
    auto it = store_.contacts.find(need(vars, "contactId"));
    if (it == store_.contacts.end()) {
      fail("NOT_FOUND", "Contact '" + str(vars, "contactId") + "' does not exist.");
    }
    return it->second;
  }
  if (root == "contactByEmail") {
    const std::string email = need(vars, "email");
    for (const auto& [id, c] : store_.contacts) {
      if (c["data"].value("global_contact_email", std::string()) == email) {
        return c;
      }
    }
    return nullptr;
  }
  if (root == "contacts") {
    std::string needle = str(vars, "searchString");
    std::transform(needle.begin(), needle.end(), needle.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::string since = str(vars, "updatedSince");
    const auto sinceMs = since.empty() ? std::nullopt : plugin::parseIsoMillis(since);
    std::vector<Json> all;
    for (const auto& [id, c] : store_.contacts) {
      if ((needle.empty() || containsText(c["data"], needle)) &&
          (!sinceMs || plugin::parseIsoMillis(c["updatedAt"]).value_or(0) >= *sinceMs)) {
        all.push_back(c);
      }
    }
    const Json sort = vars.value("sort", Json::object());
    if (sort.is_object() && sort.value("field", std::string()) == "updatedAt") {
      std::stable_sort(all.begin(), all.end(), [](const Json& a, const Json& b) {
        return a["updatedAt"] != b["updatedAt"] ? a["updatedAt"] < b["updatedAt"] : a["id"] < b["id"];
      });
    }
    return page_(all);
  }
  if (root == "createContact") {
    return createContact(input.value("data", Json::object()), filter);
  }
  if (root == "updateContact") {
    return updateContact(need(input, "id"), input.value("data", Json::object()), filter);
  }
  if (root == "deal") {
    auto it = store_.deals.find(need(vars, "dealId"));
    if (it == store_.deals.end()) {
      fail("NOT_FOUND", "Deal '" + str(vars, "dealId") + "' does not exist.");
    }
    return dealView(it->second);
  }
  if (root == "deals") {
    const std::string stageId = need(vars, "stageId");
    std::string needle = str(vars, "searchString");
    std::transform(needle.begin(), needle.end(), needle.begin(), [](unsigned char c) { return std::tolower(c); });
    std::vector<Json> all;
    for (const auto& [id, d] : store_.deals) {
      if (d["stageId"] == stageId && (needle.empty() || containsText(d["name"], needle))) {
        all.push_back(dealView(d));
      }
    }
    return page_(all);
  }
  if (root == "createDeal") {
    Json in = input;
    in["filterUnknownFields"] = filter;
    return createDeal(in);
  }
  if (root == "updateDeal") {
    return updateDeal(need(input, "id"), input);
  }
  if (root == "changeDealPipeline") {
    return moveDeal(need(input, "id"), need(input, "pipelineId"), need(input, "stageId"));
  }
  if (root == "pipelines" || root == "pipeline") {
    Json list = Json::array();
    for (Json p : store_.pipelines) {
      long long total = 0;
      for (const auto& [id, d] : store_.deals) {
        total += d["pipelineId"] == p["id"] ? 1 : 0;
      }
      p["dealsTotal"] = total;
      if (root == "pipeline" && p["id"] == need(vars, "pipelineId")) {
        return p;
      }
      list.push_back(p);
    }
    if (root == "pipeline") {
      fail("NOT_FOUND", "Pipeline '" + str(vars, "pipelineId") + "' does not exist.");
    }
    return list;
  }
  if (root == "createNote") {
    return createNote(need(input, "parentId"), need(input, "description"));
  }
  if (root == "pinNote") {
    auto it = store_.notes.find(need(vars, "noteId"));
    if (it == store_.notes.end()) {
      fail("NOT_FOUND", "Note '" + str(vars, "noteId") + "' does not exist.");
    }
    it->second["isPinned"] = vars.value("isPinned", true);
    it->second["updatedAt"] = now();
    return it->second;
  }
  if (root == "contactNotes") {
    const auto all = byParent(store_.notes, need(vars, "contactId"));
    Json pinned = Json::array();
    for (const auto& n : all) {
      if (n["isPinned"] == true) {
        pinned.push_back(n);
      }
    }
    return {{"notes", page_(all)}, {"pinnedNotes", pinned}, {"count", all.size()}};
  }
  if (root == "notes") {  // an assumption of this emulator: account-wide notes since a time
    const std::string since = str(vars, "createdSince");
    const auto sinceMs = since.empty() ? std::nullopt : plugin::parseIsoMillis(since);
    const std::string parent = str(vars, "parentId");
    std::vector<Json> all;
    for (const auto& [id, n] : store_.notes) {
      if ((parent.empty() || n["parentId"] == parent) &&
          (!sinceMs || plugin::parseIsoMillis(n["createdAt"]).value_or(0) >= *sinceMs)) {
        all.push_back(n);
      }
    }
    std::stable_sort(all.begin(), all.end(), [](const Json& a, const Json& b) {
      return a["createdAt"] != b["createdAt"] ? a["createdAt"] < b["createdAt"] : a["id"] < b["id"];
    });
    return page_(all);
  }
  if (root == "createEmailActivity") {
    return logEmail(input);
  }
  if (root == "contactEmailActivities") {
    return page_(byParent(store_.emails, need(vars, "contactId")));
  }
  if (root == "contactPhoneCallActivities") {
    return page_(byParent(store_.calls, need(vars, "contactId")));
  }
  if (root == "phoneCallActivityTypes") {
    return store_.callTypes;
  }
  if (root == "cards") {
    const std::string type = need(vars, "serviceType");
    if (type != "contact" && type != "deal") {
      fail("BAD_USER_INPUT", "serviceType must be contact or deal.");
    }
    return type == "contact" ? store_.contactCards : store_.dealCards;
  }
  if (root == "accounts") {
    return {{"totalCount", store_.accounts.size()}, {"items", store_.accounts}};
  }
  if (root == "forms") {
    return store_.forms;
  }
  if (root == "webhooks") {
    Json list = Json::array();
    for (const auto& [id, w] : store_.webhooks) {
      list.push_back(w);
    }
    return list;
  }
  if (root == "createWebhook" || root == "updateWebhook") {
    const std::string url = need(input, "url");
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      fail("BAD_USER_INPUT", "'url' must be an http(s) URL.");
    }
    const Json triggers = input.value("triggers", Json::array());
    if (!triggers.is_array() || triggers.empty()) {
      fail("BAD_USER_INPUT", "'triggers' must name at least one trigger.");
    }
    for (const auto& t : triggers) {
      if (!t.is_string() || kTriggers.count(t.get<std::string>()) == 0) {
        fail("BAD_USER_INPUT", "Unknown trigger " + t.dump() + ".");
      }
    }
    std::string id;
    if (root == "updateWebhook") {
      id = need(vars, "id");
      if (store_.webhooks.count(id) == 0) {
        fail("NOT_FOUND", "Webhook '" + id + "' does not exist.");
      }
    } else {
      id = nextId("wh");
    }
    Json w = {{"id", id}, {"url", url}, {"triggers", triggers}, {"properties", input.value("properties", Json::array())}};
    store_.webhooks[id] = w;
    return w;
  }
  if (root == "deleteWebhook") {
    if (store_.webhooks.erase(need(vars, "id")) == 0) {
      fail("NOT_FOUND", "Webhook '" + str(vars, "id") + "' does not exist.");
    }
    return true;
  }
  fail("GRAPHQL_VALIDATION_FAILED", "Cannot query field \"" + root + "\" on this schema.");
}

Response Emulator::graphql(const Request& request) {
  auto error = [](int status, const std::string& code, const std::string& message) {
    return Response::json(status, {{"data", nullptr}, {"errors", {{{"message", message}, {"extensions", {{"code", code}}}}}}});
  };
  if (request.method != "POST") {
    return error(405, "BAD_REQUEST", "Use POST for GraphQL.");
  }
  // Deterministic faults from the admin API apply before anything else.
  Json fault;
  {
    std::lock_guard lock(mutex_);
    if (!nextFaults_.empty()) {
      fault = nextFaults_.front();
      nextFaults_.pop_front();
    }
  }
  if (!fault.is_null()) {
    const int status = fault.value("status", 200);
    const std::string code = fault.value("code", status == 429 ? "RATE_LIMITED" : "INTERNAL_SERVER_ERROR");
    Response r = error(status, code, fault.value("message", "Injected fault."));
    if (fault.contains("retryAfter")) {
      r.headers.emplace_back("Retry-After", fault["retryAfter"].dump());
    }
    return r;
  }
  bool authorised = false;
  const std::string& key = options_.apiKey;
  if (options_.authScheme == "api_key_header") {
    authorised = request.header("api-key") == key;
  } else if (options_.authScheme == "bearer") {
    authorised = request.header("Authorization") == "Bearer " + key;
  } else {
    authorised = request.header("Authorization") == "Basic " + key && request.header("x-tenant-api-key") == key;
  }
  if (!authorised) {
    return error(200, "UNAUTHENTICATED", "Invalid or missing API key.");
  }
  const Json body = Json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("query") || !body["query"].is_string()) {
    return error(400, "GRAPHQL_PARSE_FAILED", "The body must be JSON {query, variables}.");
  }
  const std::string root = rootField(body["query"].get<std::string>());
  if (root.empty()) {
    return error(400, "GRAPHQL_PARSE_FAILED", "The document has no selection set.");
  }
  const Json vars = body.contains("variables") && body["variables"].is_object() ? body["variables"] : Json::object();
  try {
    std::lock_guard lock(mutex_);
    return Response::json(200, {{"data", {{root, resolve(root, vars)}}}});
  } catch (const GraphqlError& e) {
    return error(e.code == "GRAPHQL_VALIDATION_FAILED" ? 400 : 200, e.code, e.message);
  } catch (const Json::exception& e) {
    return error(200, "BAD_USER_INPUT", std::string("Bad argument: ") + e.what());
  }
}

Json Emulator::state() const {
  auto values = [](const std::map<std::string, Json>& m) {
    Json a = Json::array();
    for (const auto& [k, v] : m) {
      a.push_back(v);
    }
    return a;
  };
  Json faults = server_ != nullptr ? server_->faults().toJson() : Json::object();
  faults["next"] = Json(std::vector<Json>(nextFaults_.begin(), nextFaults_.end()));
  return {{"contacts", values(store_.contacts)}, {"deals", values(store_.deals)},
          {"notes", values(store_.notes)},       {"calls", values(store_.calls)},
          {"emails", values(store_.emails)},     {"webhooks", values(store_.webhooks)},
          {"submissions", values(store_.submissions)},
          {"deliveries", Json(std::vector<Json>(deliveryLog_.begin(), deliveryLog_.end()))},
          {"deliveryTotals", {{"ok", deliveriesOk_}, {"failed", deliveriesFailed_},
                              {"refusedThenOk", deliveriesRefusedThenOk_}}},
          {"faults", faults},
          {"clock", frozenClock_ ? Json(plugin::formatIsoMillis(*frozenClock_)) : Json()}};
}

Response Emulator::admin(const Request& request) {
  const std::string path = request.path.substr(std::string("/_sandbox").size());
  Json body = request.body.empty() ? Json::object() : Json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Response::json(400, {{"error", "The admin body must be a JSON object."}});
  }
  try {
    if (path == "/state" && request.method == "GET") {
      std::lock_guard lock(mutex_);
      Json s = state();
      {
        std::lock_guard q(const_cast<std::mutex&>(queueMutex_));
        s["pendingDeliveries"] = queue_.size() + static_cast<std::size_t>(inFlight_);
      }
      return Response::json(200, s);
    }
    if (request.method != "POST") {
      return Response::json(405, {{"error", "Use POST for admin actions (GET only for /_sandbox/state)."}});
    }
    std::lock_guard lock(mutex_);
    if (path == "/reset") {
      if (body.contains("generate") && body["generate"].is_number_integer()) {
        options_.generate = body["generate"].get<int>();
      }
      reset();
      return Response::json(200, {{"ok", true}});
    }
    if (path == "/faults") {
      if (body.contains("spec") && body["spec"].is_string() && server_ != nullptr) {
        server_->setFaults(Faults::parse(body["spec"].get<std::string>()));
      }
      if (body.contains("next") && body["next"].is_array()) {
        for (const auto& f : body["next"]) {
          nextFaults_.push_back(f);
        }
      }
      if (body.value("clear", false)) {
        nextFaults_.clear();
        if (server_ != nullptr) {
          server_->setFaults(Faults{});
        }
      }
      return Response::json(200, state()["faults"]);
    }
    if (path == "/clock") {
      if (body.contains("now") && body["now"].is_string()) {
        frozenClock_ = plugin::parseIsoMillis(body["now"].get<std::string>());
      } else {
        frozenClock_.reset();
      }
      return Response::json(200, {{"now", now()}, {"frozen", frozenClock_.has_value()}});
    }
    if (path == "/contact/delete") {
      // A contact removed on Umsatz-io's side (merged or deleted by a rep). Umsatz-io documents
      // no webhook for it, so none is sent: sync cycles find it as an orphan in the target.
      const std::string id = str(body, "id");
      if (store_.contacts.erase(id) == 0) {
        return Response::json(404, {{"error", "No contact '" + id + "'."}});
      }
      return Response::json(200, {{"deleted", id}});
    }
    if (path == "/contact") {
      const Json data = body.value("data", Json::object());
      return Response::json(200, body.contains("id") ? updateContact(str(body, "id"), data, false)
                                                     : createContact(data, false));
    }
    if (path == "/call") {
      return Response::json(200, logCall(body));
    }
    if (path == "/note") {
      std::string description = str(body, "description");
      if (description.empty()) {
        description = plugin::plainTextToSlate(str(body, "text")).dump();
      }
      return Response::json(200, createNote(need(body, "contactId"), description));
    }
    if (path == "/deal") {
      Json in = body;
      if (!in.contains("name")) {
        in["name"] = "Neuer Deal";
      }
      if (!in.contains("pipelineId")) {
        in["pipelineId"] = "pl_vertrieb";
        in["stageId"] = "st_opening";
      }
      return Response::json(200, createDeal(in));
    }
    if (path == "/deal/move") {
      const std::string id = need(body, "dealId");
      std::string pipelineId = str(body, "pipelineId");
      if (pipelineId.empty() && store_.deals.count(id) != 0) {
        pipelineId = str(store_.deals[id], "pipelineId");
      }
      return Response::json(200, moveDeal(id, pipelineId, need(body, "stageId")));
    }
    if (path == "/deal/update") {
      return Response::json(200, updateDeal(need(body, "dealId"), body));
    }
    if (path == "/email") {
      Json in = body;
      in["parentId"] = str(body, "contactId");
      if (!in.contains("activityTime")) {
        in["activityTime"] = now();
      }
      return Response::json(200, logEmail(in));
    }
    if (path == "/form") {
      return Response::json(200, submitForm(need(body, "formId"), body.value("data", Json::object())));
    }
    if (path == "/generate") {
      return Response::json(200, generate(body));
    }
  } catch (const GraphqlError& e) {
    return Response::json(e.code == "NOT_FOUND" ? 404 : 400, {{"error", e.message}, {"code", e.code}});
  } catch (const std::exception& e) {
    return Response::json(400, {{"error", e.what()}});
  }
  return Response::json(404, {{"error", "Unknown admin path '" + request.path + "'."}});
}

Response Emulator::handle(const Request& request) {
  if (request.path.rfind("/_sandbox/", 0) == 0) {
    return admin(request);
  }
  if (request.path == "/api/graphql") {
    return graphql(request);
  }
  return Response::json(404, {{"error", "Not found; the API is POST /api/graphql."}});
}

}  // namespace ferry::sandbox::umsatzio

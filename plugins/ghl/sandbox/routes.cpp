// The API operations of the GHL sandbox: the route table (method, path, scope, request DTO
// from the official specs) and one handler per operation. Handlers run with the state mutex
// held (GhlSandbox::handleApi).

#include <algorithm>
#include <cctype>

#include "ghl_sandbox.hpp"

namespace ferry::plugins::ghl::sandbox {

using sdk::Json;

namespace {

// ---- request DTOs, property lists copied from apps/contacts.json, businesses.json,
// locations.json (GoHighLevel/highlevel-api-docs @ 0af86a4) ----

const std::vector<Prop> kContactFields = {
    {"firstName", Kind::String},   {"lastName", Kind::String},
    {"name", Kind::String},        {"email", Kind::String},
    {"phone", Kind::String},       {"address1", Kind::String},
    {"city", Kind::String},        {"state", Kind::String},
    {"postalCode", Kind::String},  {"website", Kind::String},
    {"timezone", Kind::String},    {"dnd", Kind::Bool},
    {"dndSettings", Kind::Object}, {"inboundDndSettings", Kind::Object},
    {"tags", Kind::Array},         {"customFields", Kind::Array},
    {"source", Kind::String},      {"dateOfBirth", Kind::Any},
    {"country", Kind::String},     {"assignedTo", Kind::String}};

BodySchema contactSchema(std::vector<Prop> extra) {
  BodySchema s{kContactFields};
  s.props.insert(s.props.end(), extra.begin(), extra.end());
  return s;
}

const BodySchema kCreateContact = contactSchema(
    {{"locationId", Kind::String, true}, {"gender", Kind::String}, {"companyName", Kind::String}});
const BodySchema kUpsertContact = contactSchema({{"locationId", Kind::String, true},
                                                 {"gender", Kind::String},
                                                 {"companyName", Kind::String},
                                                 {"createNewIfDuplicateAllowed", Kind::Bool}});
const BodySchema kUpdateContact = contactSchema({});
// SearchBodyV2DTO is empty in the spec; the documented search body (research §4).
const BodySchema kSearch{{{"locationId", Kind::String, true},
                          {"pageLimit", Kind::Number, true},
                          {"page", Kind::Number},
                          {"searchAfter", Kind::Array},
                          {"filters", Kind::Array},
                          {"sort", Kind::Array},
                          {"query", Kind::String}}};
const BodySchema kCreateTask{{{"title", Kind::String, true},
                              {"body", Kind::String},
                              {"dueDate", Kind::String, true},
                              {"completed", Kind::Bool, true},
                              {"assignedTo", Kind::String}}};
const BodySchema kUpdateTask{{{"title", Kind::String},
                              {"body", Kind::String},
                              {"dueDate", Kind::String},
                              {"completed", Kind::Bool},
                              {"assignedTo", Kind::String}}};
const BodySchema kTaskCompleted{{{"completed", Kind::Bool, true}}};
const BodySchema kTags{{{"tags", Kind::Array, true}}};
const BodySchema kCreateNote{{{"userId", Kind::String},
                              {"body", Kind::String, true},
                              {"title", Kind::String},
                              {"color", Kind::String},
                              {"pinned", Kind::Bool}}};
const BodySchema kUpdateNote{{{"userId", Kind::String},
                              {"body", Kind::String},
                              {"title", Kind::String},
                              {"color", Kind::String},
                              {"pinned", Kind::Bool}}};
const BodySchema kBulkTags{{{"contacts", Kind::Array, true},
                            {"tags", Kind::Array, true},
                            {"locationId", Kind::String, true},
                            {"removeAllTags", Kind::Bool}}};
// businessId is required but may be null (null removes the contacts from their business).
const BodySchema kBulkBusiness{
    {{"locationId", Kind::String, true}, {"ids", Kind::Array, true}, {"businessId", Kind::Any}}};
const BodySchema kFollowers{{{"followers", Kind::Array, true}}};
const BodySchema kCampaign{{}};
const BodySchema kWorkflow{{{"eventStartTime", Kind::String}}};
const BodySchema kCreateBusiness{{{"name", Kind::String, true},
                                  {"locationId", Kind::String, true},
                                  {"phone", Kind::String},
                                  {"email", Kind::String},
                                  {"website", Kind::String},
                                  {"address", Kind::String},
                                  {"city", Kind::String},
                                  {"postalCode", Kind::String},
                                  {"state", Kind::String},
                                  {"country", Kind::String},
                                  {"description", Kind::String}}};
const BodySchema kUpdateBusiness{{{"name", Kind::String},
                                  {"phone", Kind::String},
                                  {"email", Kind::String},
                                  {"postalCode", Kind::String},
                                  {"website", Kind::String},
                                  {"address", Kind::String},
                                  {"state", Kind::String},
                                  {"city", Kind::String},
                                  {"country", Kind::String},
                                  {"description", Kind::String}}};
const BodySchema kTagBody{{{"name", Kind::String, true}}};
const BodySchema kTaskSearch{{{"contactId", Kind::Array},
                              {"completed", Kind::Bool},
                              {"assignedTo", Kind::Array},
                              {"query", Kind::String},
                              {"limit", Kind::Number},
                              {"skip", Kind::Number},
                              {"businessId", Kind::String}}};
const std::vector<Prop> kCustomFieldCommon = {{"placeholder", Kind::String},
                                              {"acceptedFormat", Kind::Array},
                                              {"isMultipleFile", Kind::Bool},
                                              {"maxNumberOfFiles", Kind::Number},
                                              {"textBoxListOptions", Kind::Array},
                                              {"position", Kind::Number},
                                              {"model", Kind::String}};
BodySchema customFieldSchema(std::vector<Prop> head) {
  head.insert(head.end(), kCustomFieldCommon.begin(), kCustomFieldCommon.end());
  return BodySchema{head};
}
const BodySchema kCreateCustomField =
    customFieldSchema({{"name", Kind::String, true}, {"dataType", Kind::String, true}});
const BodySchema kUpdateCustomField = customFieldSchema({{"name", Kind::String, true}});
const BodySchema kCustomValue{{{"name", Kind::String, true}, {"value", Kind::String, true}}};

std::string lower(std::string s) {
  for (auto& ch : s) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return s;
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\n\r");
  if (a == std::string::npos) {
    return "";
  }
  const auto b = s.find_last_not_of(" \t\n\r");
  return s.substr(a, b - a + 1);
}

std::string snake(const std::string& s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) {
      out.push_back(static_cast<char>(std::tolower(c)));
    } else if (!out.empty() && out.back() != '_') {
      out.push_back('_');
    }
  }
  while (!out.empty() && out.back() == '_') {
    out.pop_back();
  }
  return out;
}

Response notFound(const std::string& what) {
  return Response::json(
      404, {{"statusCode", 404}, {"message", what + " not found"}, {"error", "Not Found"}});
}

Response unprocessable(const std::vector<std::string>& messages) {
  return Response::json(
      422, {{"statusCode", 422}, {"message", messages}, {"error", "Unprocessable Entity"}});
}

std::string query(const Call& c, const std::string& key) {
  auto it = c.req.query.find(key);
  return it == c.req.query.end() ? std::string() : it->second;
}

// A non-negative integer query parameter; nullopt when absent, -1 when malformed.
long queryNumber(const Call& c, const std::string& key, long fallback) {
  const auto text = query(c, key);
  if (text.empty()) {
    return fallback;
  }
  try {
    std::size_t used = 0;
    const long v = std::stol(text, &used);
    return used == text.size() && v >= 0 ? v : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

std::vector<std::string> strings(const Json& array) {
  std::vector<std::string> out;
  for (const auto& v : array) {
    if (v.is_string()) {
      out.push_back(v.get<std::string>());
    }
  }
  return out;
}

Json tagList(const Json& tags) {
  Json out = Json::array();
  for (const auto& t : tags) {
    if (!t.is_string()) {
      continue;
    }
    const std::string tag = lower(trim(t.get<std::string>()));
    if (!tag.empty() && std::find(out.begin(), out.end(), tag) == out.end()) {
      out.push_back(tag);
    }
  }
  return out;
}

bool textContains(const Json& v, const std::string& needle) {
  if (v.is_string()) {
    return lower(v.get<std::string>()).find(lower(needle)) != std::string::npos;
  }
  if (v.is_array()) {
    return std::any_of(v.begin(), v.end(), [&](const Json& e) { return textContains(e, needle); });
  }
  return false;
}

bool valueEquals(const Json& v, const Json& want) {
  if (v.is_array()) {
    return std::any_of(v.begin(), v.end(), [&](const Json& e) { return valueEquals(e, want); });
  }
  if (v.is_string() && want.is_string()) {
    return lower(v.get<std::string>()) == lower(want.get<std::string>());
  }
  return v == want;
}

// The value of a search field: a contact property, or customFields.<id>.
Json fieldValue(const Json& contact, const std::string& field) {
  if (field.rfind("customFields.", 0) == 0 || field.rfind("customField.", 0) == 0) {
    const auto id = field.substr(field.find('.') + 1);
    for (const auto& cf : contact.value("customFields", Json::array())) {
      if (cf.value("id", "") == id) {
        return cf.value("value", Json());
      }
    }
    return Json();
  }
  auto it = contact.find(field);
  return it == contact.end() ? Json() : *it;
}

bool present(const Json& v) {
  return !(v.is_null() || (v.is_string() && v.get<std::string>().empty()) ||
           (v.is_array() && v.empty()));
}

bool compareRange(const Json& v, const Json& bound, const std::string& op) {
  if (!present(v)) {
    return false;
  }
  int cmp = 0;
  if (v.is_number() && bound.is_number()) {
    const double a = v.get<double>();
    const double b = bound.get<double>();
    cmp = a < b ? -1 : (a > b ? 1 : 0);
  } else {
    const std::string a = v.is_string() ? v.get<std::string>() : v.dump();
    const std::string b = bound.is_string() ? bound.get<std::string>() : bound.dump();
    cmp = a.compare(b) < 0 ? -1 : (a.compare(b) > 0 ? 1 : 0);
  }
  if (op == "gt") {
    return cmp > 0;
  }
  if (op == "gte") {
    return cmp >= 0;
  }
  if (op == "lt") {
    return cmp < 0;
  }
  return cmp <= 0;  // lte
}

// Evaluates one search filter or group; adds a message to `issues` when it is malformed.
bool matchFilter(const Json& contact, const Json& f, std::vector<std::string>& issues) {
  if (!f.is_object()) {
    issues.push_back("each filter must be an object");
    return false;
  }
  if (f.contains("group")) {
    const std::string group = f.value("group", "");
    const auto filters = f.value("filters", Json::array());
    if (group != "AND" && group != "OR") {
      issues.push_back("filter group must be one of the following values: AND, OR");
      return false;
    }
    bool all = true;
    bool any = false;
    for (const auto& sub : filters) {
      const bool m = matchFilter(contact, sub, issues);
      all = all && m;
      any = any || m;
    }
    return group == "AND" ? all : any;
  }
  const std::string field = f.value("field", "");
  const std::string op = f.value("operator", "");
  if (field.empty()) {
    issues.push_back("filter field should not be empty");
    return false;
  }
  const Json v = fieldValue(contact, field);
  const Json want = f.value("value", Json());
  if (op == "eq") {
    return valueEquals(v, want);
  }
  if (op == "not_eq") {
    return !valueEquals(v, want);
  }
  if (op == "contains" || op == "not_contains") {
    if (!want.is_string()) {
      issues.push_back("filter value must be a string for operator " + op);
      return false;
    }
    return textContains(v, want.get<std::string>()) == (op == "contains");
  }
  if (op == "exists") {
    return present(v);
  }
  if (op == "not_exists") {
    return !present(v);
  }
  if (op == "range") {
    if (!want.is_object() || want.empty()) {
      issues.push_back(
          "filter value must be an object like {\"gte\": ..., \"lte\": ...} for "
          "operator range");
      return false;
    }
    for (const auto& [k, bound] : want.items()) {
      if (k != "gt" && k != "gte" && k != "lt" && k != "lte") {
        issues.push_back("range bound " + k + " is not one of gt, gte, lt, lte");
        return false;
      }
      if (!compareRange(v, bound, k)) {
        return false;
      }
    }
    return true;
  }
  issues.push_back(
      "filter operator must be one of the following values: eq, not_eq, contains, "
      "not_contains, exists, not_exists, range");
  return false;
}

bool matchesQuery(const Json& contact, const std::string& q) {
  if (q.empty()) {
    return true;
  }
  for (const char* k : {"firstName", "lastName", "name", "email", "phone", "companyName"}) {
    if (textContains(contact.value(k, Json()), q)) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<Route> GhlSandbox::buildRoutes() {
  auto split = [](const std::string& path) {
    std::vector<std::string> out;
    std::size_t start = 1;
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
  };
  const std::string cr = "contacts.readonly";
  const std::string cw = "contacts.write";
  std::vector<Route> r;
  auto add = [&](std::string method, const std::string& path, std::string scope,
                 const BodySchema* body, RouteHandler h) {
    r.push_back({std::move(method), split(path), std::move(scope), body, h});
  };
  using G = GhlSandbox;
  add("POST", "/contacts/search", cr, &kSearch, &G::contactSearch);
  add("GET", "/contacts/search/duplicate", cr, nullptr, &G::contactDuplicate);
  add("GET", "/contacts/{contactId}/tasks", cr, nullptr, &G::taskList);
  add("POST", "/contacts/{contactId}/tasks", cw, &kCreateTask, &G::taskCreate);
  add("GET", "/contacts/{contactId}/tasks/{taskId}", cr, nullptr, &G::taskGet);
  add("PUT", "/contacts/{contactId}/tasks/{taskId}", cw, &kUpdateTask, &G::taskUpdate);
  add("DELETE", "/contacts/{contactId}/tasks/{taskId}", cw, nullptr, &G::taskDelete);
  add("PUT", "/contacts/{contactId}/tasks/{taskId}/completed", cw, &kTaskCompleted,
      &G::taskCompleted);
  add("GET", "/contacts/{contactId}/appointments", cr, nullptr, &G::appointmentsForContact);
  add("POST", "/contacts/{contactId}/tags", cw, &kTags, &G::tagsAdd);
  add("DELETE", "/contacts/{contactId}/tags", cw, &kTags, &G::tagsRemove);
  add("GET", "/contacts/{contactId}/notes", cr, nullptr, &G::noteList);
  add("POST", "/contacts/{contactId}/notes", cw, &kCreateNote, &G::noteCreate);
  add("GET", "/contacts/{contactId}/notes/{id}", cr, nullptr, &G::noteGet);
  add("PUT", "/contacts/{contactId}/notes/{id}", cw, &kUpdateNote, &G::noteUpdate);
  add("DELETE", "/contacts/{contactId}/notes/{id}", cw, nullptr, &G::noteDelete);
  // The spec declares no scope for the two bulk operations; the sandbox asks for contacts.write.
  add("POST", "/contacts/bulk/tags/update/{type}", cw, &kBulkTags, &G::bulkTags);
  add("POST", "/contacts/bulk/business", cw, &kBulkBusiness, &G::bulkBusiness);
  add("GET", "/contacts/{contactId}", cr, nullptr, &G::contactGet);
  add("PUT", "/contacts/{contactId}", cw, &kUpdateContact, &G::contactUpdate);
  add("DELETE", "/contacts/{contactId}", cw, nullptr, &G::contactDelete);
  add("POST", "/contacts/upsert", cw, &kUpsertContact, &G::contactUpsert);
  add("GET", "/contacts/business/{businessId}", cr, nullptr, &G::contactListByBusiness);
  add("POST", "/contacts/{contactId}/followers", cw, &kFollowers, &G::followersAdd);
  add("DELETE", "/contacts/{contactId}/followers", cw, &kFollowers, &G::followersRemove);
  add("POST", "/contacts/{contactId}/campaigns/{campaignId}", cw, &kCampaign, &G::campaignAdd);
  add("DELETE", "/contacts/{contactId}/campaigns/{campaignId}", cw, nullptr, &G::campaignRemove);
  add("DELETE", "/contacts/{contactId}/campaigns/removeAll", cw, nullptr, &G::campaignRemoveAll);
  add("POST", "/contacts/{contactId}/workflow/{workflowId}", cw, &kWorkflow, &G::workflowAdd);
  add("DELETE", "/contacts/{contactId}/workflow/{workflowId}", cw, &kWorkflow, &G::workflowRemove);
  add("POST", "/contacts", cw, &kCreateContact, &G::contactCreate);
  add("GET", "/contacts", cr, nullptr, &G::contactList);

  add("GET", "/businesses", "businesses.readonly", nullptr, &G::businessList);
  add("POST", "/businesses", "businesses.write", &kCreateBusiness, &G::businessCreate);
  add("GET", "/businesses/{businessId}", "businesses.readonly", nullptr, &G::businessGet);
  add("PUT", "/businesses/{businessId}", "businesses.write", &kUpdateBusiness, &G::businessUpdate);
  add("DELETE", "/businesses/{businessId}", "businesses.write", nullptr, &G::businessDelete);

  // The spec leaves some location operations without a scope; the sandbox asks for the
  // resource's readonly/write scope.
  const std::string tr = "locations/tags.readonly";
  const std::string tw = "locations/tags.write";
  add("GET", "/locations/{locationId}/tags", tr, nullptr, &G::locationTagList);
  add("POST", "/locations/{locationId}/tags", tw, &kTagBody, &G::locationTagCreate);
  add("GET", "/locations/{locationId}/tags/{tagId}", tr, nullptr, &G::locationTagGet);
  add("PUT", "/locations/{locationId}/tags/{tagId}", tw, &kTagBody, &G::locationTagUpdate);
  add("DELETE", "/locations/{locationId}/tags/{tagId}", tw, nullptr, &G::locationTagDelete);
  const std::string fr = "locations/customFields.readonly";
  const std::string fw = "locations/customFields.write";
  add("GET", "/locations/{locationId}/customFields", fr, nullptr, &G::customFieldList);
  add("POST", "/locations/{locationId}/customFields", fw, &kCreateCustomField,
      &G::customFieldCreate);
  add("GET", "/locations/{locationId}/customFields/{id}", fr, nullptr, &G::customFieldGet);
  add("PUT", "/locations/{locationId}/customFields/{id}", fw, &kUpdateCustomField,
      &G::customFieldUpdate);
  add("DELETE", "/locations/{locationId}/customFields/{id}", fw, nullptr, &G::customFieldDelete);
  const std::string vr = "locations/customValues.readonly";
  const std::string vw = "locations/customValues.write";
  add("GET", "/locations/{locationId}/customValues", vr, nullptr, &G::customValueList);
  add("POST", "/locations/{locationId}/customValues", vw, &kCustomValue, &G::customValueCreate);
  add("GET", "/locations/{locationId}/customValues/{id}", vr, nullptr, &G::customValueGet);
  add("PUT", "/locations/{locationId}/customValues/{id}", vw, &kCustomValue, &G::customValueUpdate);
  add("DELETE", "/locations/{locationId}/customValues/{id}", vw, nullptr, &G::customValueDelete);
  add("POST", "/locations/{locationId}/tasks/search", "locations/tasks.readonly", &kTaskSearch,
      &G::locationTaskSearch);
  add("POST", "/oauth/locationToken", "oauth.write", nullptr, &G::oauthLocationToken);
  return r;
}

// ---- contacts ----

Json* GhlSandbox::contactOr404(Call& c, const std::string& id, Response& error) {
  Json* contact = c.loc->contacts.find(id);
  if (contact == nullptr) {
    error = notFound("Contact with id " + id);
  }
  return contact;
}

void GhlSandbox::ensureLocationTags(LocationData& loc, const std::string& locationId,
                                    const Json& tags) {
  for (const auto& t : tags) {
    const std::string name = t.get<std::string>();
    bool exists = false;
    for (const auto* row : loc.tags.all()) {
      exists = exists || (*row)["name"] == name;
    }
    if (!exists) {
      const std::string id = newId();
      loc.tags.put(id, {{"id", id}, {"name", name}, {"locationId", locationId}}, nextSeq());
    }
  }
}

void GhlSandbox::applyContactFields(Json& contact, const Json& body) {
  for (const auto& [key, value] : body.items()) {
    if (key == "locationId" || key == "createNewIfDuplicateAllowed") {
      continue;
    }
    if (value.is_null()) {
      contact.erase(key);
    } else if (key == "tags") {
      contact["tags"] = tagList(value);
    } else if (key == "customFields") {
      // Written as [{id | key, field_value | value}], read back as [{id, value}].
      Json fields = contact.value("customFields", Json::array());
      for (const auto& cf : value) {
        if (!cf.is_object()) {
          continue;
        }
        std::string id = cf.value("id", "");
        if (id.empty()) {
          const std::string key2 = cf.value("key", "");
          for (const auto* f : locations_[contact["locationId"]].customFields.all()) {
            if ((*f)["fieldKey"] == key2 || (*f)["fieldKey"] == "contact." + key2) {
              id = (*f)["id"];
            }
          }
          if (id.empty()) {
            id = key2;
          }
        }
        Json v = cf.contains("field_value") ? cf["field_value"] : cf.value("value", Json());
        if (v.is_number() || v.is_boolean()) {
          v = v.dump();
        }
        bool replaced = false;
        for (auto& existing : fields) {
          if (existing["id"] == id) {
            existing["value"] = v;
            replaced = true;
          }
        }
        if (!replaced) {
          fields.push_back({{"id", id}, {"value", v}});
        }
      }
      contact["customFields"] = fields;
    } else if (key == "email" && value.is_string()) {
      contact["email"] = trim(value.get<std::string>());
    } else {
      contact[key] = value;
    }
  }
  const std::string first = contact.value("firstName", "");
  const std::string last = contact.value("lastName", "");
  const std::string full = trim(first + " " + last);
  if (!full.empty()) {
    contact["name"] = full;
    contact["fullNameLowerCase"] = lower(full);
  }
  if (!first.empty()) {
    contact["firstNameLowerCase"] = lower(first);
  }
  if (!last.empty()) {
    contact["lastNameLowerCase"] = lower(last);
  }
  if (contact.contains("email")) {
    contact["emailLowerCase"] = lower(contact["email"].get<std::string>());
  }
}

namespace {

void indexContact(LocationData& loc, const Json& contact, bool add) {
  const std::string id = contact["id"];
  const long seq = loc.contacts.seqOf.count(id) ? loc.contacts.seqOf.at(id) : 0;
  auto apply = [&](std::map<std::string, std::set<std::pair<long, std::string>>>& index,
                   const std::string& key) {
    if (key.empty()) {
      return;
    }
    if (add) {
      index[key].insert({seq, id});
    } else if (auto it = index.find(key); it != index.end()) {
      it->second.erase({seq, id});
      if (it->second.empty()) {
        index.erase(it);
      }
    }
  };
  apply(loc.byEmail, lower(contact.value("email", "")));
  apply(loc.byPhone, contact.value("phone", ""));
}

// The oldest contact whose email (case-insensitive) or phone equals `value`.
const Json* findByField(LocationData& loc, const std::string& field, const std::string& value) {
  if (value.empty()) {
    return nullptr;
  }
  auto& index = field == "email" ? loc.byEmail : loc.byPhone;
  auto it = index.find(field == "email" ? lower(value) : value);
  if (it == index.end() || it->second.empty()) {
    return nullptr;
  }
  return loc.contacts.find(it->second.begin()->second);
}

}  // namespace

Response GhlSandbox::contactCreate(Call& c) {
  if (!options_.allowDuplicates) {
    for (const char* field : {"email", "phone"}) {
      const Json* dup = findByField(*c.loc, field, lower(trim(c.body.value(field, ""))));
      if (dup != nullptr) {
        return ok(400, {{"statusCode", 400},
                        {"message", "This location does not allow duplicated contacts."},
                        {"meta", {{"contactId", (*dup)["id"]}, {"matchingField", field}}}});
      }
    }
  }
  const std::string id = newId();
  const std::string t = now();
  Json contact = {{"id", id},         {"locationId", c.locationId},
                  {"dateAdded", t},   {"dateUpdated", t},
                  {"deleted", false}, {"tags", Json::array()},
                  {"type", "lead"},   {"customFields", Json::array()},
                  {"dnd", false}};
  applyContactFields(contact, c.body);
  c.loc->contacts.put(id, contact, nextSeq());
  indexContact(*c.loc, contact, true);
  ensureLocationTags(*c.loc, c.locationId, contact["tags"]);
  counters_["creates"]++;
  emit("ContactCreate", c.locationId, contact);
  return ok(201, {{"contact", contact}});
}

Response GhlSandbox::contactGet(Call& c) {
  Response err;
  Json* contact = contactOr404(c, c.params["contactId"], err);
  if (contact == nullptr) {
    return err;
  }
  return ok(200, {{"contact", *contact}});
}

namespace {

// Which webhook events an update fires: ContactUpdate always, plus tag and DND changes.
std::vector<std::string> updateEvents(const Json& before, const Json& after) {
  std::vector<std::string> out = {"ContactUpdate"};
  if (before.value("tags", Json::array()) != after.value("tags", Json::array())) {
    out.push_back("ContactTagUpdate");
  }
  if (before.value("dnd", false) != after.value("dnd", false) ||
      before.value("dndSettings", Json()) != after.value("dndSettings", Json())) {
    out.push_back("ContactDndUpdate");
  }
  return out;
}

}  // namespace

Response GhlSandbox::contactUpdate(Call& c) {
  Response err;
  Json* contact = contactOr404(c, c.params["contactId"], err);
  if (contact == nullptr) {
    return err;
  }
  const Json before = *contact;
  indexContact(*c.loc, before, false);
  applyContactFields(*contact, c.body);
  indexContact(*c.loc, *contact, true);
  (*contact)["dateUpdated"] = now();
  ensureLocationTags(*c.loc, c.locationId, (*contact)["tags"]);
  counters_["updates"]++;
  for (const auto& type : updateEvents(before, *contact)) {
    emit(type, c.locationId, *contact);
  }
  return ok(200, {{"succeded", true}, {"contact", *contact}});
}

Response GhlSandbox::contactDelete(Call& c) {
  const std::string id = c.params["contactId"];
  Response err;
  Json* contact = contactOr404(c, id, err);
  if (contact == nullptr) {
    return err;
  }
  const Json gone = *contact;
  indexContact(*c.loc, gone, false);
  c.loc->contacts.erase(id);
  for (auto* table : {&c.loc->tasks, &c.loc->notes}) {
    std::vector<std::string> ids;
    for (const auto* row : table->all()) {
      if ((*row)["contactId"] == id) {
        ids.push_back((*row)["id"]);
      }
    }
    for (const auto& rid : ids) {
      table->erase(rid);
    }
  }
  c.loc->campaigns.erase(id);
  c.loc->workflows.erase(id);
  counters_["deletes"]++;
  emit("ContactDelete", c.locationId, gone);
  return ok(200, {{"succeded", true}});
}

Response GhlSandbox::adminContact(const std::string& method, const std::string& id,
                                  const Json& body) {
  const std::string location = body.value("locationId", options_.locationId);
  auto& loc = locations_[location];
  Json* contact = loc.contacts.find(id);
  if (contact == nullptr) {
    return Response::json(404, {{"statusCode", 404},
                                {"message", "No contact " + id + " in location " + location}});
  }
  if (method == "DELETE") {
    indexContact(loc, *contact, false);
    loc.contacts.erase(id);
    return Response::json(200, {{"succeded", true}});
  }
  indexContact(loc, *contact, false);
  Json fields = body;
  fields.erase("id");
  applyContactFields(*contact, fields);
  indexContact(loc, *contact, true);
  (*contact)["dateUpdated"] = now();
  return Response::json(200, {{"contact", *contact}});
}

Response GhlSandbox::contactUpsert(Call& c) {
  // Matches by email first, then phone (the location's default duplicate priority). When
  // email and phone hit two different contacts, the email match is updated and the phone is
  // left out (highlevel-api-docs#37).
  const std::string email = lower(trim(c.body.value("email", "")));
  const std::string phone = c.body.value("phone", "");
  const Json* byEmail = findByField(*c.loc, "email", email);
  const Json* byPhone = findByField(*c.loc, "phone", phone);
  const bool forceNew =
      options_.allowDuplicates && c.body.value("createNewIfDuplicateAllowed", false);
  const Json* match = forceNew ? nullptr : (byEmail != nullptr ? byEmail : byPhone);
  if (match == nullptr) {
    const std::string id = newId();
    const std::string t = now();
    Json contact = {{"id", id},         {"locationId", c.locationId},
                    {"dateAdded", t},   {"dateUpdated", t},
                    {"deleted", false}, {"tags", Json::array()},
                    {"type", "lead"},   {"customFields", Json::array()},
                    {"dnd", false}};
    applyContactFields(contact, c.body);
    c.loc->contacts.put(id, contact, nextSeq());
    indexContact(*c.loc, contact, true);
    ensureLocationTags(*c.loc, c.locationId, contact["tags"]);
    counters_["creates"]++;
    emit("ContactCreate", c.locationId, contact);
    return ok(200, {{"new", true}, {"contact", contact}});
  }
  Json body = c.body;
  if (byEmail != nullptr && byPhone != nullptr && byEmail != byPhone) {
    body.erase("phone");
  }
  Json* contact = c.loc->contacts.find((*match)["id"]);
  const Json before = *contact;
  indexContact(*c.loc, before, false);
  applyContactFields(*contact, body);
  indexContact(*c.loc, *contact, true);
  (*contact)["dateUpdated"] = now();
  ensureLocationTags(*c.loc, c.locationId, (*contact)["tags"]);
  counters_["updates"]++;
  for (const auto& type : updateEvents(before, *contact)) {
    emit(type, c.locationId, *contact);
  }
  return ok(200, {{"new", false}, {"contact", *contact}});
}

Response GhlSandbox::contactSearch(Call& c) {
  const auto& b = c.body;
  std::vector<std::string> issues;
  const double pageLimit = b["pageLimit"].get<double>();
  if (pageLimit < 1 || pageLimit > 500) {
    issues.push_back("pageLimit must not be greater than 500 and not less than 1");
  }
  const long page = b.contains("page") ? b["page"].get<long>() : 1;
  if (page < 1) {
    issues.push_back("page must not be less than 1");
  }
  if (b.contains("page") && b.contains("searchAfter")) {
    issues.push_back("page and searchAfter cannot be used together");
  }
  if (b.value("query", "").size() > 75) {
    issues.push_back("query must be shorter than or equal to 75 characters");
  }
  const long limit = static_cast<long>(pageLimit);
  if (b.contains("page") && page * limit > 10000) {
    issues.push_back("page * pageLimit must not exceed 10000; use searchAfter for deeper paging");
  }
  std::vector<const Json*> hits;
  const std::string q = b.value("query", "");
  const Json filters = b.value("filters", Json::array());
  for (const auto* contact : c.loc->contacts.all()) {
    bool match = matchesQuery(*contact, q);
    for (const auto& f : filters) {
      match = matchFilter(*contact, f, issues) && match;
    }
    if (match) {
      hits.push_back(contact);
    }
  }
  for (const auto& s : b.value("sort", Json::array())) {
    if (!s.is_object() || !s.contains("field")) {
      issues.push_back("each sort entry needs a field and a direction (asc or desc)");
    }
  }
  if (!issues.empty()) {
    std::sort(issues.begin(), issues.end());
    issues.erase(std::unique(issues.begin(), issues.end()), issues.end());
    counters_["validationFailures"]++;
    return unprocessable(issues);
  }
  const auto sorts = b.value("sort", Json::array());
  if (!sorts.empty()) {
    std::stable_sort(hits.begin(), hits.end(), [&sorts](const Json* x, const Json* y) {
      for (const auto& s : sorts) {
        const std::string field = s["field"];
        const bool desc = lower(s.value("direction", "asc")) == "desc";
        const Json a = fieldValue(*x, field);
        const Json bb = fieldValue(*y, field);
        if (a == bb) {
          continue;
        }
        const bool less = a.is_string() && bb.is_string()
                              ? lower(a.get<std::string>()) < lower(bb.get<std::string>())
                              : a < bb;
        return desc ? !less : less;
      }
      return false;
    });
  }
  std::size_t start = 0;
  if (b.contains("searchAfter")) {
    // The cursor is the searchAfter of the last contact of the previous page: [seq, id].
    const auto& cursor = b["searchAfter"];
    const std::string after =
        cursor.size() == 2 && cursor[1].is_string() ? cursor[1].get<std::string>() : "";
    start = hits.size();
    for (std::size_t i = 0; i < hits.size(); ++i) {
      if ((*hits[i])["id"] == after) {
        start = i + 1;
      }
    }
  } else {
    start = static_cast<std::size_t>((page - 1) * limit);
  }
  Json out = Json::array();
  for (std::size_t i = start; i < hits.size() && out.size() < static_cast<std::size_t>(limit);
       ++i) {
    Json row = *hits[i];
    const std::string id = row["id"];
    row["searchAfter"] = Json::array({c.loc->contacts.seqOf[id], id});
    out.push_back(row);
  }
  return ok(200, {{"contacts", out}, {"total", hits.size()}});
}

Response GhlSandbox::contactDuplicate(Call& c) {
  if (query(c, "locationId").empty()) {
    return unprocessable({"locationId should not be empty"});
  }
  const std::string email = lower(trim(query(c, "email")));
  const std::string number = query(c, "number");
  const Json* match = findByField(*c.loc, "email", email);
  if (match == nullptr) {
    match = findByField(*c.loc, "phone", number);
  }
  return ok(200, {{"contact", match == nullptr ? Json() : *match}});
}

Response GhlSandbox::contactList(Call& c) {
  // Deprecated GET /contacts/: limit (<= 100, default 20), startAfterId, query.
  if (query(c, "locationId").empty()) {
    return unprocessable({"locationId should not be empty"});
  }
  const long limit = queryNumber(c, "limit", 20);
  if (limit < 1 || limit > 100) {
    return unprocessable({"limit must not be greater than 100 and not less than 1"});
  }
  const std::string after = query(c, "startAfterId");
  const std::string q = query(c, "query");
  Json out = Json::array();
  long total = 0;
  bool started = after.empty();
  for (const auto* contact : c.loc->contacts.all()) {
    if (!matchesQuery(*contact, q)) {
      continue;
    }
    total++;
    if (!started) {
      started = (*contact)["id"] == after;
      continue;
    }
    if (out.size() < static_cast<std::size_t>(limit)) {
      out.push_back(*contact);
    }
  }
  Json meta = {{"total", total}};
  if (!out.empty()) {
    meta["startAfterId"] = out.back()["id"];
  }
  return ok(200, {{"contacts", out}, {"count", total}, {"meta", meta}});
}

Response GhlSandbox::contactListByBusiness(Call& c) {
  if (query(c, "locationId").empty()) {
    return unprocessable({"locationId should not be empty"});
  }
  const long limit = queryNumber(c, "limit", 25);
  const long skip = queryNumber(c, "skip", 0);
  if (limit < 1 || skip < 0) {
    return unprocessable({"limit and skip must be non-negative whole numbers"});
  }
  const std::string q = query(c, "query");
  Json out = Json::array();
  long total = 0;
  for (const auto* contact : c.loc->contacts.all()) {
    if (contact->value("businessId", "") != c.params["businessId"] || !matchesQuery(*contact, q)) {
      continue;
    }
    if (total >= skip && out.size() < static_cast<std::size_t>(limit)) {
      out.push_back(*contact);
    }
    total++;
  }
  return ok(200, {{"contacts", out}, {"count", total}});
}

Response GhlSandbox::bulkTags(Call& c) {
  const std::string type = c.params["type"];
  if (type != "add" && type != "remove") {
    return unprocessable({"type must be one of the following values: add, remove"});
  }
  const Json tags = tagList(c.body["tags"]);
  const bool removeAll = c.body.value("removeAllTags", false);
  long errors = 0;
  Json responses = Json::array();
  for (const auto& id : strings(c.body["contacts"])) {
    Json* contact = c.loc->contacts.find(id);
    if (contact == nullptr) {
      errors++;
      responses.push_back("Contact " + id + " not found");
      continue;
    }
    Json next = Json::array();
    if (type == "add") {
      next = (*contact)["tags"];
      for (const auto& t : tags) {
        if (std::find(next.begin(), next.end(), t) == next.end()) {
          next.push_back(t);
        }
      }
    } else if (!removeAll) {
      for (const auto& t : (*contact)["tags"]) {
        if (std::find(tags.begin(), tags.end(), t) == tags.end()) {
          next.push_back(t);
        }
      }
    }
    const bool changed = next != (*contact)["tags"];
    (*contact)["tags"] = next;
    if (changed) {
      (*contact)["dateUpdated"] = now();
      counters_["updates"]++;
      emit("ContactTagUpdate", c.locationId, *contact);
    }
    responses.push_back("Contact " + id + " updated");
  }
  ensureLocationTags(*c.loc, c.locationId, tags);
  return ok(201, {{"succeded", errors == 0}, {"errorCount", errors}, {"responses", responses}});
}

Response GhlSandbox::bulkBusiness(Call& c) {
  if (!c.body.contains("businessId")) {
    return unprocessable({"businessId must be a string or null"});
  }
  const Json businessId = c.body["businessId"];
  if (!businessId.is_null() && !businessId.is_string()) {
    return unprocessable({"businessId must be a string"});
  }
  if (businessId.is_string() && c.loc->businesses.find(businessId) == nullptr) {
    return notFound("Business with id " + businessId.get<std::string>());
  }
  Json ids = Json::array();
  for (const auto& id : strings(c.body["ids"])) {
    Json* contact = c.loc->contacts.find(id);
    if (contact == nullptr) {
      continue;
    }
    if (businessId.is_null()) {
      contact->erase("businessId");
    } else {
      (*contact)["businessId"] = businessId;
    }
    (*contact)["dateUpdated"] = now();
    counters_["updates"]++;
    ids.push_back(id);
  }
  return ok(200, {{"success", true}, {"ids", ids}});
}

// ---- tasks ----

namespace {

Json* childOf(Table& table, const std::string& id, const std::string& contactId) {
  Json* row = table.find(id);
  return row != nullptr && (*row)["contactId"] == contactId ? row : nullptr;
}

Json childrenOf(const Table& table, const std::string& contactId) {
  Json out = Json::array();
  for (const auto* row : table.all()) {
    if ((*row)["contactId"] == contactId) {
      out.push_back(*row);
    }
  }
  return out;
}

}  // namespace

Response GhlSandbox::taskList(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  return ok(200, {{"tasks", childrenOf(c.loc->tasks, c.params["contactId"])}});
}

Response GhlSandbox::taskGet(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  Json* task = childOf(c.loc->tasks, c.params["taskId"], c.params["contactId"]);
  return task == nullptr ? notFound("Task with id " + c.params["taskId"])
                         : ok(200, {{"task", *task}});
}

Response GhlSandbox::taskCreate(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  const std::string id = newId();
  Json task = {{"id", id}, {"contactId", c.params["contactId"]}, {"dateAdded", now()}};
  for (const auto& [k, v] : c.body.items()) {
    task[k] = v;
  }
  c.loc->tasks.put(id, task, nextSeq());
  counters_["creates"]++;
  emit("TaskCreate", c.locationId, task);
  if (task.value("completed", false)) {
    emit("TaskComplete", c.locationId, task);
  }
  return ok(201, {{"task", task}});
}

Response GhlSandbox::taskUpdate(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  Json* task = childOf(c.loc->tasks, c.params["taskId"], c.params["contactId"]);
  if (task == nullptr) {
    return notFound("Task with id " + c.params["taskId"]);
  }
  const bool wasDone = task->value("completed", false);
  for (const auto& [k, v] : c.body.items()) {
    (*task)[k] = v;
  }
  counters_["updates"]++;
  // GHL has no TaskUpdate event; completing a task fires TaskComplete.
  if (!wasDone && task->value("completed", false)) {
    emit("TaskComplete", c.locationId, *task);
  }
  return ok(200, {{"task", *task}});
}

Response GhlSandbox::taskCompleted(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  Json* task = childOf(c.loc->tasks, c.params["taskId"], c.params["contactId"]);
  if (task == nullptr) {
    return notFound("Task with id " + c.params["taskId"]);
  }
  const bool wasDone = task->value("completed", false);
  (*task)["completed"] = c.body["completed"];
  counters_["updates"]++;
  if (!wasDone && task->value("completed", false)) {
    emit("TaskComplete", c.locationId, *task);
  }
  return ok(200, {{"task", *task}});
}

Response GhlSandbox::taskDelete(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  Json* task = childOf(c.loc->tasks, c.params["taskId"], c.params["contactId"]);
  if (task == nullptr) {
    return notFound("Task with id " + c.params["taskId"]);
  }
  const Json gone = *task;
  c.loc->tasks.erase(c.params["taskId"]);
  counters_["deletes"]++;
  emit("TaskDelete", c.locationId, gone);
  return ok(200, {{"succeded", true}});
}

// ---- notes ----

Response GhlSandbox::noteList(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  return ok(200, {{"notes", childrenOf(c.loc->notes, c.params["contactId"])}});
}

Response GhlSandbox::noteGet(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  Json* note = childOf(c.loc->notes, c.params["id"], c.params["contactId"]);
  return note == nullptr ? notFound("Note with id " + c.params["id"]) : ok(200, {{"note", *note}});
}

Response GhlSandbox::noteCreate(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  const std::string id = newId();
  Json note = {{"id", id}, {"contactId", c.params["contactId"]}, {"dateAdded", now()}};
  for (const auto& [k, v] : c.body.items()) {
    note[k] = v;
  }
  c.loc->notes.put(id, note, nextSeq());
  counters_["creates"]++;
  emit("NoteCreate", c.locationId, note);
  return ok(201, {{"note", note}});
}

Response GhlSandbox::noteUpdate(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  Json* note = childOf(c.loc->notes, c.params["id"], c.params["contactId"]);
  if (note == nullptr) {
    return notFound("Note with id " + c.params["id"]);
  }
  for (const auto& [k, v] : c.body.items()) {
    (*note)[k] = v;
  }
  counters_["updates"]++;
  emit("NoteUpdate", c.locationId, *note);
  return ok(200, {{"note", *note}});
}

Response GhlSandbox::noteDelete(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  Json* note = childOf(c.loc->notes, c.params["id"], c.params["contactId"]);
  if (note == nullptr) {
    return notFound("Note with id " + c.params["id"]);
  }
  const Json gone = *note;
  c.loc->notes.erase(c.params["id"]);
  counters_["deletes"]++;
  emit("NoteDelete", c.locationId, gone);
  return ok(200, {{"succeded", true}});
}

// ---- tags, followers, campaigns, workflows, appointments ----

Response GhlSandbox::tagsAdd(Call& c) {
  Response err;
  Json* contact = contactOr404(c, c.params["contactId"], err);
  if (contact == nullptr) {
    return err;
  }
  Json tags = (*contact)["tags"];
  for (const auto& t : tagList(c.body["tags"])) {
    if (std::find(tags.begin(), tags.end(), t) == tags.end()) {
      tags.push_back(t);
    }
  }
  const bool changed = tags != (*contact)["tags"];
  (*contact)["tags"] = tags;
  ensureLocationTags(*c.loc, c.locationId, tags);
  if (changed) {
    (*contact)["dateUpdated"] = now();
    counters_["updates"]++;
    emit("ContactTagUpdate", c.locationId, *contact);
  }
  return ok(201, {{"tags", tags}});
}

Response GhlSandbox::tagsRemove(Call& c) {
  Response err;
  Json* contact = contactOr404(c, c.params["contactId"], err);
  if (contact == nullptr) {
    return err;
  }
  const Json remove = tagList(c.body["tags"]);
  Json tags = Json::array();
  for (const auto& t : (*contact)["tags"]) {
    if (std::find(remove.begin(), remove.end(), t) == remove.end()) {
      tags.push_back(t);
    }
  }
  const bool changed = tags != (*contact)["tags"];
  (*contact)["tags"] = tags;
  if (changed) {
    (*contact)["dateUpdated"] = now();
    counters_["updates"]++;
    emit("ContactTagUpdate", c.locationId, *contact);
  }
  return ok(200, {{"tags", tags}});
}

Response GhlSandbox::followersAdd(Call& c) {
  Response err;
  Json* contact = contactOr404(c, c.params["contactId"], err);
  if (contact == nullptr) {
    return err;
  }
  Json followers = contact->value("followers", Json::array());
  Json added = Json::array();
  for (const auto& f : strings(c.body["followers"])) {
    if (std::find(followers.begin(), followers.end(), f) == followers.end()) {
      followers.push_back(f);
      added.push_back(f);
    }
  }
  (*contact)["followers"] = followers;
  counters_["updates"]++;
  return ok(201, {{"followers", followers}, {"followersAdded", added}});
}

Response GhlSandbox::followersRemove(Call& c) {
  Response err;
  Json* contact = contactOr404(c, c.params["contactId"], err);
  if (contact == nullptr) {
    return err;
  }
  const auto remove = strings(c.body["followers"]);
  Json followers = Json::array();
  Json removed = Json::array();
  for (const auto& f : contact->value("followers", Json::array())) {
    if (std::find(remove.begin(), remove.end(), f.get<std::string>()) == remove.end()) {
      followers.push_back(f);
    } else {
      removed.push_back(f);
    }
  }
  (*contact)["followers"] = followers;
  counters_["updates"]++;
  return ok(200, {{"followers", followers}, {"followersRemoved", removed}});
}

Response GhlSandbox::campaignAdd(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  c.loc->campaigns[c.params["contactId"]].insert(c.params["campaignId"]);
  return ok(201, {{"succeded", true}});
}

Response GhlSandbox::campaignRemove(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  c.loc->campaigns[c.params["contactId"]].erase(c.params["campaignId"]);
  return ok(200, {{"succeded", true}});
}

Response GhlSandbox::campaignRemoveAll(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  c.loc->campaigns.erase(c.params["contactId"]);
  return ok(200, {{"succeded", true}});
}

Response GhlSandbox::workflowAdd(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  c.loc->workflows[c.params["contactId"]].insert(c.params["workflowId"]);
  return ok(200, {{"succeded", true}});
}

Response GhlSandbox::workflowRemove(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  c.loc->workflows[c.params["contactId"]].erase(c.params["workflowId"]);
  return ok(200, {{"succeded", true}});
}

Response GhlSandbox::appointmentsForContact(Call& c) {
  Response err;
  if (contactOr404(c, c.params["contactId"], err) == nullptr) {
    return err;
  }
  return ok(200, {{"events", childrenOf(c.loc->appointments, c.params["contactId"])}});
}

// ---- businesses ----

Response GhlSandbox::businessList(Call& c) {
  if (query(c, "locationId").empty()) {
    return unprocessable({"locationId should not be empty"});
  }
  const long limit = queryNumber(c, "limit", 100);
  const long skip = queryNumber(c, "skip", 0);
  Json out = Json::array();
  long i = 0;
  for (const auto* b : c.loc->businesses.all()) {
    if (i++ >= skip && (limit < 0 || out.size() < static_cast<std::size_t>(limit))) {
      out.push_back(*b);
    }
  }
  return ok(200, {{"businesses", out}});
}

Response GhlSandbox::businessGet(Call& c) {
  Json* b = c.loc->businesses.find(c.params["businessId"]);
  return b == nullptr ? notFound("Business with id " + c.params["businessId"])
                      : ok(200, {{"business", *b}});
}

Response GhlSandbox::businessCreate(Call& c) {
  const std::string id = newId();
  const std::string t = now();
  Json b = {{"id", id}, {"createdAt", t}, {"updatedAt", t}};
  for (const auto& [k, v] : c.body.items()) {
    b[k] = v;
  }
  c.loc->businesses.put(id, b, nextSeq());
  counters_["creates"]++;
  return ok(201, {{"success", true}, {"buiseness", b}});
}

Response GhlSandbox::businessUpdate(Call& c) {
  Json* b = c.loc->businesses.find(c.params["businessId"]);
  if (b == nullptr) {
    return notFound("Business with id " + c.params["businessId"]);
  }
  for (const auto& [k, v] : c.body.items()) {
    (*b)[k] = v;
  }
  (*b)["updatedAt"] = now();
  counters_["updates"]++;
  return ok(200, {{"success", true}, {"buiseness", *b}});
}

Response GhlSandbox::businessDelete(Call& c) {
  const std::string id = c.params["businessId"];
  if (!c.loc->businesses.erase(id)) {
    return notFound("Business with id " + id);
  }
  for (const auto* contact : c.loc->contacts.all()) {
    if (contact->value("businessId", "") == id) {
      c.loc->contacts.find((*contact)["id"])->erase("businessId");
    }
  }
  counters_["deletes"]++;
  return ok(200, {{"success", true}});
}

// ---- location tags ----

Response GhlSandbox::locationTagList(Call& c) {
  Json out = Json::array();
  for (const auto* t : c.loc->tags.all()) {
    out.push_back(*t);
  }
  return ok(200, {{"tags", out}});
}

Response GhlSandbox::locationTagGet(Call& c) {
  Json* t = c.loc->tags.find(c.params["tagId"]);
  return t == nullptr ? notFound("Tag with id " + c.params["tagId"]) : ok(200, {{"tag", *t}});
}

Response GhlSandbox::locationTagCreate(Call& c) {
  const std::string name = lower(trim(c.body["name"].get<std::string>()));
  for (const auto* t : c.loc->tags.all()) {
    if ((*t)["name"] == name) {
      return ok(400, {{"statusCode", 400},
                      {"message", "Tag with the name '" + name + "' already exists"},
                      {"error", "Bad Request"}});
    }
  }
  const std::string id = newId();
  Json tag = {{"id", id}, {"name", name}, {"locationId", c.locationId}};
  c.loc->tags.put(id, tag, nextSeq());
  counters_["creates"]++;
  return ok(200, {{"tag", tag}});  // the spec answers 200 here, not 201
}

Response GhlSandbox::locationTagUpdate(Call& c) {
  Json* t = c.loc->tags.find(c.params["tagId"]);
  if (t == nullptr) {
    return notFound("Tag with id " + c.params["tagId"]);
  }
  (*t)["name"] = lower(trim(c.body["name"].get<std::string>()));
  counters_["updates"]++;
  return ok(200, {{"tag", *t}});
}

Response GhlSandbox::locationTagDelete(Call& c) {
  if (!c.loc->tags.erase(c.params["tagId"])) {
    return notFound("Tag with id " + c.params["tagId"]);
  }
  counters_["deletes"]++;
  return ok(200, {{"succeded", true}});
}

// ---- custom fields and values ----

Response GhlSandbox::customFieldList(Call& c) {
  const std::string model = query(c, "model");
  Json out = Json::array();
  for (const auto* f : c.loc->customFields.all()) {
    if (model.empty() || model == "all" || (*f)["model"] == model) {
      out.push_back(*f);
    }
  }
  return ok(200, {{"customFields", out}});
}

Response GhlSandbox::customFieldGet(Call& c) {
  Json* f = c.loc->customFields.find(c.params["id"]);
  return f == nullptr ? notFound("Custom field with id " + c.params["id"])
                      : ok(200, {{"customField", *f}});
}

Response GhlSandbox::customFieldCreate(Call& c) {
  const std::string id = newId();
  const std::string model = c.body.value("model", "contact");
  Json f = {{"id", id},
            {"name", c.body["name"]},
            {"fieldKey", model + "." + snake(c.body["name"].get<std::string>())},
            {"dataType", c.body["dataType"]},
            {"placeholder", c.body.value("placeholder", "")},
            {"position", c.body.value("position", 0)},
            {"locationId", c.locationId},
            {"model", model}};
  if (auto it = c.body.find("textBoxListOptions"); it != c.body.end()) {
    Json options = Json::array();
    for (const auto& o : *it) {
      options.push_back(o.is_string() ? o.get<std::string>() : o.value("label", o.dump()));
    }
    f["picklistOptions"] = options;
  }
  c.loc->customFields.put(id, f, nextSeq());
  counters_["creates"]++;
  return ok(201, {{"customField", f}});
}

Response GhlSandbox::customFieldUpdate(Call& c) {
  Json* f = c.loc->customFields.find(c.params["id"]);
  if (f == nullptr) {
    return notFound("Custom field with id " + c.params["id"]);
  }
  for (const char* k : {"name", "placeholder", "position", "model"}) {
    if (c.body.contains(k)) {
      (*f)[k] = c.body[k];
    }
  }
  counters_["updates"]++;
  return ok(200, {{"customField", *f}});
}

Response GhlSandbox::customFieldDelete(Call& c) {
  if (!c.loc->customFields.erase(c.params["id"])) {
    return notFound("Custom field with id " + c.params["id"]);
  }
  counters_["deletes"]++;
  return ok(200, {{"succeded", true}});
}

Response GhlSandbox::customValueList(Call& c) {
  Json out = Json::array();
  for (const auto* v : c.loc->customValues.all()) {
    out.push_back(*v);
  }
  return ok(200, {{"customValues", out}});
}

Response GhlSandbox::customValueGet(Call& c) {
  Json* v = c.loc->customValues.find(c.params["id"]);
  return v == nullptr ? notFound("Custom value with id " + c.params["id"])
                      : ok(200, {{"customValue", *v}});
}

Response GhlSandbox::customValueCreate(Call& c) {
  const std::string id = newId();
  Json v = {{"id", id},
            {"name", c.body["name"]},
            {"fieldKey", "{{ custom_values." + snake(c.body["name"].get<std::string>()) + " }}"},
            {"value", c.body["value"]},
            {"locationId", c.locationId}};
  c.loc->customValues.put(id, v, nextSeq());
  counters_["creates"]++;
  return ok(201, {{"customValue", v}});
}

Response GhlSandbox::customValueUpdate(Call& c) {
  Json* v = c.loc->customValues.find(c.params["id"]);
  if (v == nullptr) {
    return notFound("Custom value with id " + c.params["id"]);
  }
  (*v)["name"] = c.body["name"];
  (*v)["value"] = c.body["value"];
  counters_["updates"]++;
  return ok(200, {{"customValue", *v}});
}

Response GhlSandbox::customValueDelete(Call& c) {
  if (!c.loc->customValues.erase(c.params["id"])) {
    return notFound("Custom value with id " + c.params["id"]);
  }
  counters_["deletes"]++;
  return ok(200, {{"succeded", true}});
}

// ---- location task search ----

Response GhlSandbox::locationTaskSearch(Call& c) {
  const auto& b = c.body;
  const auto contactIds = strings(b.value("contactId", Json::array()));
  const auto assignedTo = strings(b.value("assignedTo", Json::array()));
  const std::string q = b.value("query", "");
  const std::string businessId = b.value("businessId", "");
  const long limit = b.value("limit", 25L);
  const long skip = b.value("skip", 0L);
  if (limit < 1 || skip < 0) {
    return unprocessable({"limit must be positive and skip must not be negative"});
  }
  Json out = Json::array();
  long i = 0;
  for (const auto* t : c.loc->tasks.all()) {
    const std::string cid = t->value("contactId", "");
    if (!contactIds.empty() &&
        std::find(contactIds.begin(), contactIds.end(), cid) == contactIds.end()) {
      continue;
    }
    if (b.contains("completed") && t->value("completed", false) != b["completed"].get<bool>()) {
      continue;
    }
    if (!assignedTo.empty() && std::find(assignedTo.begin(), assignedTo.end(),
                                         t->value("assignedTo", "")) == assignedTo.end()) {
      continue;
    }
    if (!q.empty() && !textContains(t->value("title", Json()), q) &&
        !textContains(t->value("body", Json()), q)) {
      continue;
    }
    if (!businessId.empty()) {
      const Json* contact = c.loc->contacts.find(cid);
      if (contact == nullptr || contact->value("businessId", "") != businessId) {
        continue;
      }
    }
    if (i++ < skip || out.size() >= static_cast<std::size_t>(limit)) {
      continue;
    }
    out.push_back(*t);
  }
  return ok(200, {{"tasks", out}});
}

}  // namespace ferry::plugins::ghl::sandbox

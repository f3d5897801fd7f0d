#include "fields.hpp"

#include <algorithm>
#include <set>

namespace ferry::plugins::umsatzio {

const FieldMap& defaultFieldMap() {
  static const FieldMap map = {{"email", "global_contact_email"},
                               {"firstName", "global_contact_first_name"},
                               {"lastName", "global_contact_last_name"},
                               {"phone", "global_contact_phone"},
                               {"company", "global_contact_company"}};
  return map;
}

const std::vector<std::string>& reservedContactNames() {
  static const std::vector<std::string> names = {"id", "data", "createdAt", "updatedAt", "fields",
                                                 "filterUnknownFields"};
  return names;
}

FieldMap fieldMapOf(const sdk::Connection& connection) {
  FieldMap map = defaultFieldMap();
  auto it = connection.settings.find("field_map");
  if (it == connection.settings.end() || !it->is_object()) {
    return map;
  }
  for (auto entry = it->begin(); entry != it->end(); ++entry) {
    if (entry->is_null()) {
      map.erase(entry.key());
    } else if (entry->is_string()) {
      map[entry.key()] = entry->get<std::string>();
    }
  }
  return map;
}

Json normalizeContact(const Json& raw, const FieldMap& map) {
  Json out = Json::object();
  if (!raw.is_object()) {
    return out;
  }
  out["id"] = raw.contains("id") && raw["id"].is_number() ? Json(raw["id"].dump())
                                                           : raw.value("id", Json());
  const Json data = raw.contains("data") && raw["data"].is_object() ? raw["data"] : Json::object();
  for (const auto& [stable, api] : map) {
    if (data.contains(api) && !data[api].is_null()) {
      out[stable] = data[api];
    }
  }
  out["data"] = data;
  for (const char* key : {"createdAt", "updatedAt"}) {
    if (raw.contains(key) && raw[key].is_string()) {
      out[key] = raw[key];
    }
  }
  return out;
}

Json denormalizeContact(const Json& input, const FieldMap& map, std::vector<std::string>& unknown) {
  Json data = Json::object();
  for (const auto& [stable, api] : map) {
    if (input.contains(stable) && !input[stable].is_null()) {
      data[api] = input[stable];
    }
  }
  if (input.contains("fields") && input["fields"].is_object()) {
    for (auto it = input["fields"].begin(); it != input["fields"].end(); ++it) {
      auto m = map.find(it.key());
      if (m == map.end()) {
        unknown.push_back(it.key());
      } else {
        data[m->second] = *it;
      }
    }
  }
  if (input.contains("data") && input["data"].is_object()) {
    for (auto it = input["data"].begin(); it != input["data"].end(); ++it) {
      data[it.key()] = *it;
    }
  }
  return data;
}

sdk::Schema contactSchema() {
  using namespace sdk;
  return {str("id").require().describe("Contact id (opaque)."),
          str("email").withFormat("email").describe("E-mail (data.global_contact_email)."),
          str("firstName").describe("First name, through the field map."),
          str("lastName").describe("Last name, through the field map."),
          str("phone").withFormat("phone").describe("Phone, through the field map."),
          str("company").describe("Company, through the field map."),
          object("data", {}).describe("Every attribute, keyed by Umsatz-io field API names."),
          datetime("createdAt").describe("When the contact was created."),
          datetime("updatedAt").describe("When the contact was last changed.")};
}

Json flattenCards(const Json& cards) {
  Json out = Json::array();
  if (!cards.is_array()) {
    return out;
  }
  for (const auto& card : cards) {
    if (!card.is_object()) {
      continue;
    }
    if (card.contains("fields") && card["fields"].is_array()) {
      for (const auto& f : card["fields"]) {
        if (!f.is_object()) {
          continue;
        }
        Json item = f;
        item["card"] = sdk::member(card, "name", sdk::member(card, "label", ""));
        out.push_back(item);
      }
    } else if (card.contains("name")) {
      out.push_back(card);
    }
  }
  return out;
}

std::vector<FieldMapIssue> validateFieldMap(const Json& fieldMap, const Json& cards) {
  std::vector<FieldMapIssue> issues;
  if (!fieldMap.is_object()) {
    issues.push_back({"", "", "not_an_object", "The field map must be an object of stable name -> API name.",
                      "Write it as e.g. {firstName: global_contact_first_name}."});
    return issues;
  }
  std::set<std::string> known;
  for (const auto& f : flattenCards(cards)) {
    if (f.contains("name") && f["name"].is_string()) {
      known.insert(f["name"].get<std::string>());
    }
  }
  known.insert("global_contact_email");  // present in every account
  std::string knownList;
  for (const auto& name : known) {
    knownList += (knownList.empty() ? "" : ", ") + name;
  }
  const auto& reserved = reservedContactNames();
  for (auto it = fieldMap.begin(); it != fieldMap.end(); ++it) {
    const std::string stable = it.key();
    if (std::find(reserved.begin(), reserved.end(), stable) != reserved.end()) {
      issues.push_back({stable, "", "reserved_name",
                        "Field map entry '" + stable + "' uses a name every contact already has.",
                        "Pick another stable name."});
      continue;
    }
    if (it->is_null()) {
      continue;  // removes a default mapping
    }
    if (!it->is_string()) {
      issues.push_back({stable, "", "not_a_string",
                        "Field map entry '" + stable + "' must name an API field (a string).",
                        "Run `ferry connection fields umsatzio` to list the API names."});
      continue;
    }
    const std::string api = it->get<std::string>();
    if (known.count(api) == 0) {
      issues.push_back({stable, api, "unknown_field",
                        "Field map entry '" + stable + "' names the field '" + api +
                            "', which the account does not have.",
                        "Known fields: " + knownList + "."});
    }
  }
  return issues;
}

}  // namespace ferry::plugins::umsatzio

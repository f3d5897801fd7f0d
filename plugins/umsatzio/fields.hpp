#pragma once

// Contacts and deals keep their attributes in a per-account `data` object keyed by field API
// names (only `global_contact_email` is known for every account). A connection's field map
// (setting `field_map`: stable name -> API name) gives flows stable names; these functions
// apply it in both directions and check it against the account's field cards.

#include <map>
#include <string>
#include <vector>

#include "ferry/sdk/context.hpp"
#include "ferry/sdk/json.hpp"
#include "ferry/sdk/schema.hpp"

namespace ferry::plugins::umsatzio {

using sdk::Json;

// stable name -> API name, e.g. firstName -> global_contact_first_name.
using FieldMap = std::map<std::string, std::string>;

// The default map, which matches the sandbox's German field set (Vorname, Nachname, ...).
const FieldMap& defaultFieldMap();

// The connection's map: the defaults overlaid with the setting `field_map` (an entry whose
// value is null removes a default).
FieldMap fieldMapOf(const sdk::Connection& connection);

// Names every normalised contact has; a field map may not use them for custom fields.
const std::vector<std::string>& reservedContactNames();

// A raw contact (`{id, data, createdAt, updatedAt, ...}`) as flows see it:
// `{id, email, firstName, lastName, phone, company, data, createdAt, updatedAt}` plus one
// member per custom entry of the map. Absent values are left out.
Json normalizeContact(const Json& raw, const FieldMap& map);

// The `data` object for createContact/updateContact from stable names: every mapped stable
// name in `input` (top level, or inside `fields`) becomes its API name; `input.data` (raw
// API names) is merged over it. Returns the names in `input.fields` the map does not know in
// `unknown` (the caller decides whether that is an error).
Json denormalizeContact(const Json& input, const FieldMap& map, std::vector<std::string>& unknown);

// The schema members of a normalised contact (for operation outputs).
sdk::Schema contactSchema();

struct FieldMapIssue {
  std::string stableName;
  std::string apiName;
  std::string code;  // "unknown_field", "reserved_name", "not_a_string"
  std::string message;
  std::string hint;
};

// Checks a field map (a JSON object) against the field cards of the account: `cards` is the
// answer of `cards(serviceType: contact)`: an array of cards with `fields`, or an array of
// fields. Pure: no network. Returns every issue, empty when the map is valid.
std::vector<FieldMapIssue> validateFieldMap(const Json& fieldMap, const Json& cards);

// Flattens a `cards` answer to a list of `{name, label, fieldType, required, options, card}`.
Json flattenCards(const Json& cards);

}  // namespace ferry::plugins::umsatzio

namespace ferry::plugins::umsatzio {

// Lists the account's fields for "contact" or "deal" from `cards(serviceType: ...)`, flattened
// (see flattenCards). Network call through ctx; throws OperationError. The action
// `umsatzio.card.list_contact` returns exactly this, and `ferry connection fields umsatzio`
// calls that action.
Json fetchFields(sdk::Context& ctx, const std::string& serviceType);

}  // namespace ferry::plugins::umsatzio

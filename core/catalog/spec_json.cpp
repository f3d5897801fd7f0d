#include "catalog/spec_json.hpp"

namespace ferry::core::catalog {

using sdk::Json;

Json fieldToJson(const sdk::Field& f) {
  Json j = Json::object();
  j["name"] = f.name;
  j["type"] = std::string(sdk::typeName(f.type));
  j["required"] = f.required;
  j["description"] = f.description;
  if (f.defaultValue) {
    j["default"] = *f.defaultValue;
  }
  if (!f.enumValues.empty()) {
    j["enum"] = f.enumValues;
  }
  if (!f.format.empty()) {
    j["format"] = f.format;
  }
  if (!f.fields.empty()) {
    j["fields"] = schemaToJson(f.fields);
  }
  if (f.items) {
    j["items"] = fieldToJson(*f.items);
  }
  if (f.additionalFields) {
    j["additional_fields"] = true;
  }
  if (!f.example.is_null()) {
    j["example"] = f.example;
  }
  return j;
}

Json schemaToJson(const sdk::Schema& schema) {
  Json out = Json::array();
  for (const auto& f : schema) {
    out.push_back(fieldToJson(f));
  }
  return out;
}

Json operationToJson(const sdk::OperationSpec& op, bool full) {
  Json j = Json::object();
  j["id"] = op.id;
  j["kind"] = std::string(sdk::kindName(op.kind));
  j["summary"] = op.summary;
  j["scopes"] = op.scopes;
  if (op.kind == sdk::OperationKind::Trigger) {
    j["delivery"] = std::string(sdk::deliveryName(op.delivery));
  }
  if (!op.method.empty()) {
    j["http"] = {{"method", op.method}, {"path", op.path}};
  }
  if (op.deprecated) {
    j["deprecated"] = true;
  }
  if (!full) {
    return j;
  }
  j["description"] = op.description;
  j["input"] = schemaToJson(op.input);
  j["output"] = schemaToJson(op.output);
  if (!op.recordKey.empty()) {
    j["record_key"] = op.recordKey;
  }
  if (op.kind == sdk::OperationKind::Trigger) {
    j["coalesce"] = op.coalesce;
  }
  Json examples = Json::array();
  for (const auto& ex : op.examples) {
    examples.push_back({{"title", ex.title}, {"input", ex.input}, {"output", ex.output}});
  }
  j["examples"] = examples;
  return j;
}

Json connectorToJson(const sdk::ConnectorSpec& spec, bool withOperations) {
  Json j = Json::object();
  j["id"] = spec.id;
  j["name"] = spec.name;
  j["version"] = spec.version;
  j["description"] = spec.description;
  if (!spec.homepage.empty()) {
    j["homepage"] = spec.homepage;
  }
  Json auth = Json::array();
  for (const auto& a : spec.auth) {
    auth.push_back(
        {{"id", a.id}, {"description", a.description}, {"settings", schemaToJson(a.settings)}});
  }
  j["auth"] = auth;
  j["settings"] = schemaToJson(spec.settings);
  j["scopes"] = spec.scopes;
  std::size_t actions = 0;
  std::size_t triggers = 0;
  for (const auto& op : spec.operations) {
    (op.kind == sdk::OperationKind::Action ? actions : triggers)++;
  }
  j["actions"] = actions;
  j["triggers"] = triggers;
  if (withOperations) {
    Json ops = Json::array();
    for (const auto& op : spec.operations) {
      ops.push_back(operationToJson(op, true));
    }
    j["operations"] = ops;
  }
  return j;
}

}  // namespace ferry::core::catalog

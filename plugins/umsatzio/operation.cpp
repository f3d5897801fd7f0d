#include "operation.hpp"

#include "client.hpp"

namespace ferry::plugins::umsatzio {

Json GraphqlAction::invoke(const Json& input, sdk::Context& ctx) {
  const Json variables = variables_ ? variables_(input, ctx) : input;
  const Json data = Client(ctx).execute(query_, variables);
  if (!result_) {
    return data;
  }
  try {
    return result_(data, input, ctx);
  } catch (const Json::exception& e) {
    // An answer with `data` but not the shape the mapping reads (umsatzio_graphql_fuzz found
    // `{"data":{}}` to account.list escaping as a json type_error): an OperationError, like an
    // answer without `data`.
    throw sdk::OperationError(sdk::ErrorKind::Transient, "umsatzio.bad_response",
                              "Umsatz-io's answer does not have the expected shape (" +
                                  std::string(e.what()) + ").");
  }
}

ActionDecl graphqlAction(sdk::OperationSpec spec, std::string query, VariablesFn variables,
                         ResultFn result) {
  return {std::move(spec), std::make_unique<GraphqlAction>(std::move(query), std::move(variables),
                                                           std::move(result))};
}

VariablesFn pick(std::vector<std::string> names) {
  return [names = std::move(names)](const Json& input, sdk::Context&) {
    Json out = Json::object();
    for (const auto& name : names) {
      if (input.contains(name) && !input[name].is_null()) {
        out[name] = input[name];
      }
    }
    return out;
  };
}

VariablesFn pickPaged(std::vector<std::string> names) {
  return [base = pick(std::move(names))](const Json& input, sdk::Context& ctx) {
    Json out = base(input, ctx);
    out["pagination"] = pagination(input);
    return out;
  };
}

Json valueAt(const Json& data, const std::string& path) {
  const Json* cur = &data;
  std::size_t start = 0;
  while (start <= path.size() && !path.empty()) {
    const auto dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!cur->is_object() || !cur->contains(part)) {
      return Json();
    }
    cur = &(*cur)[part];
    if (dot == std::string::npos) {
      break;
    }
    start = dot + 1;
  }
  return *cur;
}

ResultFn at(std::string path) {
  return [path = std::move(path)](const Json& data, const Json&, sdk::Context&) {
    return valueAt(data, path);
  };
}

ResultFn wrap(std::string path, std::string as) {
  return [path = std::move(path), as = std::move(as)](const Json& data, const Json&,
                                                      sdk::Context&) {
    return Json{{as, valueAt(data, path)}};
  };
}

ResultFn pagedAt(std::string path, std::function<Json(const Json&, sdk::Context&)> item) {
  return [path = std::move(path), item = std::move(item)](const Json& data, const Json& input,
                                                          sdk::Context& ctx) {
    const Json node = valueAt(data, path);
    Json list = node.is_array() ? node : (node.is_object() ? node.value("data", Json::array())
                                                           : Json::array());
    Json items = Json::array();
    for (const auto& each : list) {
      items.push_back(item ? item(each, ctx) : each);
    }
    Json page = node.is_object() && node.contains("pagination") ? node["pagination"]
                                                                 : pagination(input);
    if (!page.contains("total")) {
      page["total"] = items.size();
    }
    return Json{{"items", items}, {"pagination", page}};
  };
}

namespace schema {

std::vector<sdk::Field> pageInputs() {
  return {sdk::integer("page").defaults(0).describe("Page index, 0-based."),
          sdk::integer("limit").defaults(50).describe(
              "Items per page; values outside 1..100 are clamped.")};
}

sdk::Field paginationOutput() {
  return sdk::object("pagination",
                     {sdk::integer("page").describe("Page index, 0-based."),
                      sdk::integer("limit").describe("Items per page."),
                      sdk::integer("total").describe("Items in all pages.")})
      .describe("Where this page is in the whole list.");
}

sdk::OperationSpec action(std::string id, std::string summary, sdk::Schema input,
                          sdk::Schema output, std::string graphqlRoot) {
  sdk::OperationSpec op;
  op.id = std::move(id);
  op.kind = sdk::OperationKind::Action;
  op.summary = std::move(summary);
  op.input = std::move(input);
  op.output = std::move(output);
  op.method = "POST";
  op.path = "/api/graphql#" + graphqlRoot;
  op.recordKey = "id";
  return op;
}

sdk::Example example(std::string title, Json input, Json output) {
  return sdk::Example{std::move(title), std::move(input), std::move(output)};
}

}  // namespace schema

}  // namespace ferry::plugins::umsatzio

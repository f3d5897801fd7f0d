#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "ferry/sdk/connector.hpp"
#include "ferry/sdk/spec.hpp"

namespace ferry::plugins::umsatzio {

using sdk::Json;

// One declared operation and its implementation, as connector.cpp adds them.
struct ActionDecl {
  sdk::OperationSpec spec;
  std::unique_ptr<sdk::Action> impl;
};
struct TriggerDecl {
  sdk::OperationSpec spec;
  std::unique_ptr<sdk::Trigger> impl;
};

// Maps a validated action input to GraphQL variables.
using VariablesFn = std::function<Json(const Json& input, sdk::Context& ctx)>;
// Maps the GraphQL `data` answer to the action's output.
using ResultFn = std::function<Json(const Json& data, const Json& input, sdk::Context& ctx)>;

// The one action class of this connector: a GraphQL document, how its variables are made from
// the input, and how the output is taken from the answer. An operation is one declaration:
//   graphqlAction(spec, "query($contactId: ID!) { contact(contactId: $contactId) { id } }",
//                 pick({"contactId"}), at("contact"))
class GraphqlAction : public sdk::Action {
 public:
  GraphqlAction(std::string query, VariablesFn variables, ResultFn result)
      : query_(std::move(query)), variables_(std::move(variables)), result_(std::move(result)) {}
  Json invoke(const Json& input, sdk::Context& ctx) override;

 private:
  std::string query_;
  VariablesFn variables_;
  ResultFn result_;
};

ActionDecl graphqlAction(sdk::OperationSpec spec, std::string query, VariablesFn variables,
                         ResultFn result);

// Variable mappings.
VariablesFn pick(std::vector<std::string> names);            // the named inputs that are set
VariablesFn pickPaged(std::vector<std::string> names);       // ... plus `pagination`
// Result mappings.
ResultFn at(std::string path);                               // data at a dotted path
ResultFn wrap(std::string path, std::string as);             // {as: data at path}
// A paged list: {items: data.<path>.data (or the array itself), pagination}.
ResultFn pagedAt(std::string path, std::function<Json(const Json&, sdk::Context&)> item = {});

// Takes the value at a dotted path ("contactNotes.notes.data"); null when absent.
Json valueAt(const Json& data, const std::string& path);

// Schema fragments used by several resources.
namespace schema {
std::vector<sdk::Field> pageInputs();  // page, limit
sdk::Field paginationOutput();         // {page, limit, total}
sdk::OperationSpec action(std::string id, std::string summary, sdk::Schema input,
                          sdk::Schema output, std::string graphqlRoot);
sdk::Example example(std::string title, Json input, Json output);
}  // namespace schema

}  // namespace ferry::plugins::umsatzio

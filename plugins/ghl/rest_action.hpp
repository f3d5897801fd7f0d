#pragma once

#include "client.hpp"
#include "ferry/sdk/connector.hpp"
#include "operations.hpp"

namespace ferry::plugins::ghl {

// Runs any RestOperation: fills the path template from the inputs, puts the declared query
// inputs in the query string and only the declared body inputs in the JSON body (GHL answers
// 422 to unknown body fields), fills `locationId` from the connection, and returns GHL's body.
class RestAction : public sdk::Action {
 public:
  RestAction(RestOperation op, Tokens& tokens) : op_(std::move(op)), tokens_(tokens) {}
  sdk::Json invoke(const sdk::Json& input, sdk::Context& ctx) override;
  // For the creates GHL does not deduplicate by itself (a task, a note, a contact): looks the
  // earlier attempt's record up (the contact's tasks or notes with the same content, the
  // contact with the same e-mail). Other operations are idempotent: nullopt.
  std::optional<sdk::Json> findPrevious(const sdk::Json& input, sdk::Context& ctx) override;

  // The request this action would send for `input` (no network). Used by invoke and tests.
  // Throws OperationError(Invalid) when a path parameter or locationId is missing.
  ApiCall buildCall(const sdk::Json& input, sdk::Context& ctx) const;

 private:
  RestOperation op_;
  Tokens& tokens_;
};

}  // namespace ferry::plugins::ghl

#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "client.hpp"
#include "ferry/sdk/connector.hpp"

namespace ferry::plugins::ghl {

// ghl.oauth.exchange_code: the OAuth authorization-code exchange, as an action a setup flow
// (or `ferry run`) calls once with the `code` GHL sent to the redirect URL.
// ghl.oauth.location_token: a location token from the agency token (/oauth/locationToken).
std::vector<std::pair<sdk::OperationSpec, std::unique_ptr<sdk::Action>>> oauthActions(
    Tokens& tokens);

}  // namespace ferry::plugins::ghl

#pragma once

// The shapes flows see: raw Umsatz-io objects normalised for actions and events alike.

#include "ferry/sdk/context.hpp"
#include "ferry/sdk/json.hpp"
#include "ferry/sdk/schema.hpp"

namespace ferry::plugins::umsatzio {

using sdk::Json;

// `{id, name, contactId, pipelineId, stageId, stageName, data, createdAt, updatedAt}`.
Json normalizeDeal(const Json& raw);
sdk::Schema dealSchema();

// `{id, contactId, content (plain text), description (Slate JSON string), isPinned, createdAt}`.
Json normalizeNote(const Json& raw);
sdk::Schema noteSchema();

// `{id, contactId, kind, description, activityTime, phoneCallResult, phoneCallActivityTypeId,
// followUpAt, phoneNumber, emailAddress}`; `kind` is "phone_call" or "email".
Json normalizeActivity(const Json& raw, const char* kind);
sdk::Schema activitySchema();

// The connection's contact normaliser (field map applied).
Json normalizeContactFor(const Json& raw, sdk::Context& ctx);

// Example values shared by operation examples.
Json exampleContact();
Json exampleDeal();
Json exampleNote();

}  // namespace ferry::plugins::umsatzio

#include "model.hpp"

#include "fields.hpp"
#include "slate.hpp"

namespace ferry::plugins::umsatzio {

namespace {

Json idOf(const Json& v) { return v.is_number() ? Json(v.dump()) : v; }

void copy(const Json& from, Json& to, const char* key, const char* as = nullptr) {
  if (from.is_object() && from.contains(key) && !from[key].is_null()) {
    to[as != nullptr ? as : key] = from[key];
  }
}

}  // namespace

Json normalizeDeal(const Json& raw) {
  Json out = Json::object();
  if (!raw.is_object()) {
    return out;
  }
  out["id"] = idOf(raw.value("id", Json()));
  for (const char* key : {"name", "contactId", "pipelineId", "stageId", "createdAt", "updatedAt"}) {
    copy(raw, out, key);
  }
  if (raw.contains("stage") && raw["stage"].is_object()) {
    copy(raw["stage"], out, "name", "stageName");
    if (!out.contains("stageId")) {
      copy(raw["stage"], out, "id", "stageId");
    }
  }
  copy(raw, out, "stageName");
  copy(raw, out, "previousStageId");
  out["data"] = raw.contains("data") && raw["data"].is_object() ? raw["data"] : Json::object();
  return out;
}

sdk::Schema dealSchema() {
  using namespace sdk;
  return {str("id").require().describe("Deal id (opaque)."),
          str("name").describe("Deal name."),
          str("contactId").describe("The contact the deal belongs to."),
          str("pipelineId").describe("Pipeline id."),
          str("stageId").describe("Stage id within the pipeline."),
          str("stageName").describe("Stage name."),
          object("data", {}).describe("Deal attributes keyed by field API names."),
          datetime("createdAt").describe("When the deal was created."),
          datetime("updatedAt").describe("When the deal was last changed.")};
}

Json normalizeNote(const Json& raw) {
  Json out = Json::object();
  if (!raw.is_object()) {
    return out;
  }
  out["id"] = idOf(raw.value("id", Json()));
  copy(raw, out, "parentId", "contactId");
  copy(raw, out, "contactId");
  const std::string description = sdk::member(raw, "description", "");
  out["description"] = description;
  out["content"] = slateToPlainText(description);
  out["isPinned"] = sdk::member(raw, "isPinned", false);
  copy(raw, out, "createdAt");
  return out;
}

sdk::Schema noteSchema() {
  using namespace sdk;
  return {str("id").require().describe("Note id."),
          str("contactId").describe("The contact (or deal) the note is attached to."),
          str("content").describe("The note as plain text (paragraphs, lists, headings kept)."),
          str("description").withFormat("slate").describe("The note as a Slate JSON string."),
          boolean("isPinned").describe("Whether the note is pinned."),
          datetime("createdAt").describe("When the note was written.")};
}

Json normalizeActivity(const Json& raw, const char* kind) {
  Json out = Json::object();
  if (!raw.is_object()) {
    return out;
  }
  out["id"] = idOf(raw.value("id", Json()));
  copy(raw, out, "parentId", "contactId");
  copy(raw, out, "contactId");
  out["kind"] = sdk::member(raw, "kind", kind);
  for (const char* key : {"description", "activityTime", "phoneCallResult",
                          "phoneCallActivityTypeId", "followUpAt", "phoneNumber", "emailAddress"}) {
    copy(raw, out, key);
  }
  return out;
}

sdk::Schema activitySchema() {
  using namespace sdk;
  return {str("id").require().describe("Activity id."),
          str("contactId").describe("The contact the activity is logged on."),
          str("kind").oneOf({"phone_call", "email"}).describe("What kind of activity."),
          str("description").describe("What the rep wrote."),
          datetime("activityTime").describe("When the call or e-mail happened."),
          str("phoneCallResult").describe("Call result key (phone calls), e.g. follow_up."),
          str("phoneCallActivityTypeId").describe("Call type id (opening/setting/closing call)."),
          datetime("followUpAt").describe("The follow-up the rep scheduled, if any."),
          str("phoneNumber").describe("The number called."),
          str("emailAddress").describe("The e-mail address written to.")};
}

Json normalizeContactFor(const Json& raw, sdk::Context& ctx) {
  return normalizeContact(raw, fieldMapOf(ctx.connection()));
}

Json exampleContact() {
  return {{"id", "ct_1"},
          {"email", "jana.mueller@baeckerei-gross.de"},
          {"firstName", "Jana"},
          {"lastName", "Müller"},
          {"phone", "+49 89 1234567"},
          {"company", "Bäckerei Groß GmbH"},
          {"data",
           {{"global_contact_email", "jana.mueller@baeckerei-gross.de"},
            {"global_contact_first_name", "Jana"},
            {"global_contact_last_name", "Müller"},
            {"global_contact_phone", "+49 89 1234567"},
            {"global_contact_company", "Bäckerei Groß GmbH"},
            {"contact_source", "Empfehlung"}}},
          {"createdAt", "2026-11-26T09:15:00.000Z"},
          {"updatedAt", "2026-11-26T09:15:00.000Z"}};
}

Json exampleDeal() {
  return {{"id", "dl_1"},
          {"name", "Jahresvertrag Bäckerei Groß"},
          {"contactId", "ct_1"},
          {"pipelineId", "pl_1"},
          {"stageId", "st_2"},
          {"stageName", "Setting terminiert"},
          {"data", {{"deal_value", 4800}}},
          {"createdAt", "2026-11-26T09:20:00.000Z"},
          {"updatedAt", "2026-11-26T10:00:00.000Z"}};
}

Json exampleNote() {
  return {{"id", "nt_1"},
          {"contactId", "ct_1"},
          {"content", "Rückruf am Freitag.\n\n- Preisliste schicken\n- Größe klären"},
          {"description",
           "[{\"type\":\"paragraph\",\"children\":[{\"text\":\"Rückruf am Freitag.\"}]},"
           "{\"type\":\"bulleted-list\",\"children\":[{\"type\":\"list-item\",\"children\":"
           "[{\"text\":\"Preisliste schicken\"}]},{\"type\":\"list-item\",\"children\":"
           "[{\"text\":\"Größe klären\"}]}]}]"},
          {"isPinned", false},
          {"createdAt", "2026-11-26T10:05:00.000Z"}};
}

}  // namespace ferry::plugins::umsatzio

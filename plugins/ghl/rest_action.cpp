#include "rest_action.hpp"

#include <cmath>

namespace ferry::plugins::ghl {

namespace {

std::string queryValue(const sdk::Json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_number_float()) {
    const double number = value.get<double>();
    // Whole numbers within 64 bits read without ".0" (casting 1e300 or NaN was undefined).
    if (std::isfinite(number) && std::fabs(number) < 9.2e18 && number == std::trunc(number)) {
      return std::to_string(static_cast<long long>(number));
    }
  }
  return value.dump();
}

sdk::OperationError invalid(const std::string& opId, const std::string& text) {
  return sdk::OperationError(sdk::ErrorKind::Invalid, "ghl.missing_input", opId + ": " + text);
}

}  // namespace

ApiCall RestAction::buildCall(const sdk::Json& input, sdk::Context& ctx) const {
  const auto& settings = ctx.connection().settings;
  const std::string connectionLocation = sdk::member(settings, "location_id", "");
  auto valueOf = [&](const std::string& name) -> std::optional<sdk::Json> {
    if (input.contains(name) && !input[name].is_null()) {
      return input[name];
    }
    if (name == "locationId" && !connectionLocation.empty()) {
      return sdk::Json(connectionLocation);
    }
    return std::nullopt;
  };

  ApiCall call;
  call.method = op_.spec.method;
  call.scope = op_.spec.scopes.empty() ? std::string() : op_.spec.scopes.front();
  std::string path = op_.spec.path;
  std::string query;
  sdk::Json body = sdk::Json::object();
  bool hasBodyFields = false;
  for (const auto& [name, place] : op_.placement) {
    const auto value = valueOf(name);
    if (place == Place::Body) {
      hasBodyFields = true;
    }
    if (!value) {
      if (place == Place::Path) {
        throw invalid(
            op_.spec.id,
            "the path parameter '" + name + "' is missing" +
                (name == "locationId" ? "; map it or set the connection setting location_id" : ""));
      }
      if (name == "locationId") {
        // Every operation that declares locationId needs it; GHL would refuse the call.
        throw invalid(op_.spec.id,
                      "'locationId' is missing; map it or set the connection setting location_id");
      }
      continue;
    }
    switch (place) {
      case Place::Path: {
        const std::string token = "{" + name + "}";
        const auto at = path.find(token);
        if (at != std::string::npos) {
          path.replace(at, token.size(), sdk::urlEncode(queryValue(*value)));
        }
        break;
      }
      case Place::Query:
        query += (query.empty() ? "?" : "&") + sdk::urlEncode(name) + "=" +
                 sdk::urlEncode(queryValue(*value));
        break;
      case Place::Body:
        body[name] = *value;
        break;
    }
  }
  call.pathAndQuery = path + query;
  // POST and PUT always carry a JSON object; DELETE only when it has fields (tags, followers).
  if (call.method == "POST" || call.method == "PUT" ||
      (hasBodyFields && !body.empty() && call.method != "GET")) {
    call.body = body;
  }
  if (!connectionLocation.empty()) {
    call.bucket = connectionLocation;
  } else if (const auto location = valueOf("locationId"); location && location->is_string()) {
    call.bucket = location->get<std::string>();
  } else {
    call.bucket = ctx.connection().name;
  }
  return call;
}

sdk::Json RestAction::invoke(const sdk::Json& input, sdk::Context& ctx) {
  return send(ctx, tokens_, buildCall(input, ctx));
}

namespace {

std::string text(const sdk::Json& object, const char* key) {
  return sdk::member(object, key, "");
}

// GHL echoes dates with milliseconds ("2026-11-28T08:00:00.000Z"); compare to the second.
std::string second(const std::string& isoDate) { return isoDate.substr(0, 19); }

}  // namespace

std::optional<sdk::Json> RestAction::findPrevious(const sdk::Json& input, sdk::Context& ctx) {
  const std::string& id = op_.spec.id;
  if (id != "ghl.task.create" && id != "ghl.note.create" && id != "ghl.contact.create") {
    return std::nullopt;
  }
  ApiCall lookup;
  lookup.method = "GET";
  lookup.scope = "contacts.readonly";
  lookup.bucket = buildCall(input, ctx).bucket;
  if (id == "ghl.contact.create") {
    const std::string email = text(input, "email");
    if (email.empty()) {
      return std::nullopt;  // nothing to recognise it by
    }
    const auto& settings = ctx.connection().settings;
    const std::string location = !text(input, "locationId").empty()
                                     ? text(input, "locationId")
                                     : text(settings, "location_id");
    lookup.pathAndQuery = "/contacts/search/duplicate?locationId=" + sdk::urlEncode(location) +
                          "&email=" + sdk::urlEncode(email);
    const auto found = send(ctx, tokens_, lookup);
    if (found.contains("contact") && found["contact"].is_object() &&
        found["contact"].contains("id")) {
      return sdk::Json{{"contact", found["contact"]}};
    }
    return std::nullopt;
  }
  const std::string contact = text(input, "contactId");
  if (contact.empty()) {
    return std::nullopt;
  }
  const bool task = id == "ghl.task.create";
  lookup.pathAndQuery =
      "/contacts/" + sdk::urlEncode(contact) + (task ? "/tasks" : "/notes");
  const auto list = send(ctx, tokens_, lookup);
  const char* key = task ? "tasks" : "notes";
  if (!list.contains(key) || !list[key].is_array()) {
    return std::nullopt;
  }
  for (const auto& item : list[key]) {
    if (!item.is_object() || text(item, "body") != text(input, "body")) {
      continue;
    }
    if (task && (text(item, "title") != text(input, "title") ||
                 second(text(item, "dueDate")) != second(text(input, "dueDate")))) {
      continue;
    }
    return sdk::Json{{task ? "task" : "note", item}};
  }
  return std::nullopt;
}

}  // namespace ferry::plugins::ghl

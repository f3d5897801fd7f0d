#include "http/request_plan.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <limits>

namespace ferry::core::http {

namespace {

RequestPlan answer(Reply reply) {
  RequestPlan plan;
  plan.target = RouteTarget::Answer;
  plan.reply = std::move(reply);
  return plan;
}

}  // namespace

Reply jsonReply(int status, const std::string& code, const std::string& message) {
  Reply r;
  r.status = status;
  // `message` may quote the sender's path, which need not be UTF-8 (http_server_fuzz,
  // regression-path-not-utf8: dump() threw and the answer became a 500).
  r.body = sdk::Json{{"error", code}, {"message", message}}.dump(
      -1, ' ', false, sdk::Json::error_handler_t::replace);
  return r;
}

namespace {

RequestPlan planRoute(std::string_view method, const std::string& uri,
                      std::int64_t contentLength, std::size_t maxBodyBytes, bool webhooks) {
  std::string path;
  std::string query;
  try {
    const Poco::URI parsed(uri);
    path = parsed.getPath();
    query = parsed.getRawQuery();
  } catch (const Poco::Exception&) {
    // Before, Poco's SyntaxException escaped to the handler and became a 500.
    return answer(jsonReply(400, "bad_request", "the request target is not a valid URI"));
  }
  const auto get = [&](RouteTarget target) {
    if (method != "GET" && method != "HEAD") {
      return answer(jsonReply(405, "method_not_allowed", "use GET"));
    }
    RequestPlan plan;
    plan.target = target;
    plan.path = path;
    plan.query = query;
    return plan;
  };
  if (path == "/metrics") {
    return get(RouteTarget::Metrics);
  }
  if (path == "/healthz") {
    return get(RouteTarget::Health);
  }
  if (path == "/readyz") {
    return get(RouteTarget::Ready);
  }
  static constexpr std::string_view kPrefix = "/hooks/";
  if (path.rfind(kPrefix, 0) != 0 || !webhooks) {
    return answer(jsonReply(404, "not_found", "no route for " + path));
  }
  if (method != "POST") {
    return answer(jsonReply(405, "method_not_allowed", "webhooks are POSTed"));
  }
  if (contentLength > 0 && static_cast<std::uint64_t>(contentLength) > maxBodyBytes) {
    return answer(jsonReply(413, "too_large",
                            "body of " + std::to_string(contentLength) +
                                " bytes exceeds the limit of " + std::to_string(maxBodyBytes)));
  }
  RequestPlan plan;
  plan.target = RouteTarget::Webhook;
  plan.name = path.substr(kPrefix.size());
  plan.path = std::move(path);
  plan.query = std::move(query);
  return plan;
}

}  // namespace

RequestPlan planRequest(std::string_view method, const std::string& uri,
                        std::int64_t contentLength, std::size_t maxBodyBytes, bool webhooks) {
  RequestPlan plan = planRoute(method, uri, contentLength, maxBodyBytes, webhooks);
  // Only a webhook reads its body. Any other request's body is read and dropped, so that its
  // bytes are not taken for the next request on a kept-alive connection (a POST to an unknown
  // path left them there: they were parsed as a request line, and the connection hung).
  if (plan.target != RouteTarget::Webhook && contentLength > 0 && contentLength <= kDrainLimit) {
    plan.drainBytes = contentLength;
  }
  return plan;
}

std::optional<std::string> readBody(std::istream& in, std::size_t maxBodyBytes) {
  // Read at most limit + 1 bytes: enough to tell that a body is too long, whatever it declared.
  const std::size_t cap = maxBodyBytes == std::numeric_limits<std::size_t>::max()
                              ? maxBodyBytes
                              : maxBodyBytes + 1;
  std::string body;
  char buffer[8192];
  while (in.good() && body.size() < cap) {
    const std::size_t want = std::min(sizeof buffer, cap - body.size());
    in.read(buffer, static_cast<std::streamsize>(want));
    body.append(buffer, static_cast<std::size_t>(in.gcount()));
  }
  if (body.size() > maxBodyBytes) {
    return std::nullopt;
  }
  return body;
}

}  // namespace ferry::core::http

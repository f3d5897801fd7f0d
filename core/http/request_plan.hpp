#pragma once

// The webhook server's request handling as pure functions (no sockets, no Poco handler): which
// route a request goes to, what is answered without reading the body, and how the body is read
// within its limit. core/http/server.cpp calls them; fuzz/http_server_fuzz.cpp fuzzes them.
#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include "http/server.hpp"

namespace ferry::core::http {

enum class RouteTarget {
  Metrics,  // GET /metrics
  Health,   // GET /healthz
  Ready,    // GET /readyz
  Webhook,  // POST /hooks/<name>: read the body (readBody), then call Routes::webhook
  Answer,   // answer `reply` at once, without calling a route
};

struct RequestPlan {
  RouteTarget target = RouteTarget::Answer;
  std::string path;   // the request's path, percent-decoded
  std::string query;  // the raw query (without '?'), as the sender wrote it
  std::string name;   // Webhook: the path after "/hooks/" (a flow id, maybe "/<token>" after it)
  Reply reply;        // Answer: 400, 404, 405 or 413
  // Every target but Webhook: read and drop this many bytes of the declared body first (the
  // whole body up to kDrainLimit), so that its bytes are not taken for the next request on a
  // kept-alive connection and a 413's sender sees the answer instead of a broken pipe. A body
  // that is not drained (larger, or chunked) closes the connection after the answer.
  std::int64_t drainBytes = 0;
};

// A body larger than this is not drained; the connection is closed after the answer instead.
inline constexpr std::int64_t kDrainLimit = std::int64_t{16} << 20;

// A JSON error answer: {"error": code, "message": message}.
Reply jsonReply(int status, const std::string& code, const std::string& message);

// Plans one request from its method, its request target as sent ("/hooks/x?token=..."), its
// declared body length (-1 when not declared, e.g. chunked) and the body limit. `webhooks`
// says whether webhook routes are served at all (when not, /hooks/... is a 404). Never throws:
// a request target that is not a valid URI is a 400.
RequestPlan planRequest(std::string_view method, const std::string& uri,
                        std::int64_t contentLength, std::size_t maxBodyBytes, bool webhooks);

// Reads the body from `in` to its end, reading at most maxBodyBytes + 1 bytes: the body, or
// nullopt when it is longer than maxBodyBytes (whatever its declared length; a chunked body too).
std::optional<std::string> readBody(std::istream& in, std::size_t maxBodyBytes);

}  // namespace ferry::core::http

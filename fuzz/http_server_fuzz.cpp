// Fuzz target: the webhook server's request handling (core/http/request_plan.cpp, which
// core/http/server.cpp calls for every request). The input is a raw HTTP/1.1 request as it
// arrives on the socket: the request line and headers are read by Poco (as the server does),
// then planRequest picks the route or the answer (path matching, method, declared length
// against the body limit, query) and readBody reads the body within the limit. Expected
// failures: Poco's refusal of a malformed request head (the server answers it 400 itself).
// Anything else escaping, a crash, a sanitizer report or a broken invariant (checked below,
// abort()) is a bug.
#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "http/request_plan.hpp"

namespace {

using namespace ferry::core::http;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_server_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

constexpr std::size_t kLimit = 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream wire(std::string(reinterpret_cast<const char*>(data), size));
  Poco::Net::HTTPRequest head;
  std::int64_t declared = -1;
  try {
    head.read(wire);
    // Poco's server request reads the length (to make the body stream) before our handler
    // runs; a Content-Length that is not a number fails there (SyntaxException), not in ours.
    declared = head.getContentLength64();
  } catch (const Poco::Exception&) {
    return 0;
  }
  // What the server's body stream would deliver: the declared length, or everything (chunked).
  std::string rest((std::istreambuf_iterator<char>(wire)), std::istreambuf_iterator<char>());
  if (declared >= 0 && static_cast<std::uint64_t>(declared) < rest.size()) {
    rest.resize(static_cast<std::size_t>(declared));
  }

  const RequestPlan plan = planRequest(head.getMethod(), head.getURI(), declared, kLimit, true);
  switch (plan.target) {
    case RouteTarget::Answer: {
      const int s = plan.reply.status;
      check(s == 400 || s == 404 || s == 405 || s == 413, "an early answer is 400/404/405/413");
      check(ferry::sdk::Json::accept(plan.reply.body), "an early answer's body is JSON");
      check(plan.drainBytes >= 0 && plan.drainBytes <= kDrainLimit, "drain within its limit");
      check(plan.drainBytes == (declared > 0 && declared <= kDrainLimit ? declared : 0),
            "an early answer drains the whole declared body up to the limit");
      check(s != 413 || declared > static_cast<std::int64_t>(kLimit), "413 only over the limit");
      return 0;
    }
    case RouteTarget::Metrics:
    case RouteTarget::Health:
    case RouteTarget::Ready:
      check(head.getMethod() == "GET" || head.getMethod() == "HEAD", "status routes are GET");
      check(plan.drainBytes == (declared > 0 && declared <= kDrainLimit ? declared : 0),
            "a status route drains the whole declared body up to the limit");
      return 0;
    case RouteTarget::Webhook:
      break;
  }
  check(head.getMethod() == "POST", "webhooks are POSTed");
  check(plan.drainBytes == 0, "a webhook reads its body itself");
  check(plan.path.rfind("/hooks/", 0) == 0, "a webhook path starts with /hooks/");
  check(plan.name == plan.path.substr(7), "the route name is the rest of the path");
  check(declared <= static_cast<std::int64_t>(kLimit), "a declared body within the limit");
  check(plan.query.find('#') == std::string::npos, "the query stops at a fragment");

  // The body, read within three limits: the server's, none at all, and a tiny one.
  for (const std::size_t limit : std::array<std::size_t, 3>{kLimit, 0, 7}) {
    std::istringstream in(rest);
    const auto body = readBody(in, limit);
    if (rest.size() <= limit) {
      check(body.has_value() && *body == rest, "a body within the limit is read whole");
    } else {
      check(!body.has_value(), "a body over the limit is refused");
      check(in.tellg() == -1 || static_cast<std::size_t>(in.tellg()) <= limit + 1,
            "at most limit + 1 bytes are read");
    }
  }
  return 0;
}

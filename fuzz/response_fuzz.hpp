#pragma once

// The body of the two response fuzz targets: a connector's actions (and polling triggers) are run
// against an HTTP answer the fuzzer made: status, headers and body. Each operation's first
// example input is its input. The only expected failures are OperationError and TransportError
// (the SDK's contract for invoke, findPrevious and poll); anything else escaping is a bug.
#include <string>
#include <vector>

#include "ferry/sdk/validate.hpp"
#include "support.hpp"

namespace ferry::fuzz {

struct ResponseFixture {
  std::unique_ptr<sdk::Connector> connector;
  sdk::Connection connection;
  std::map<std::string, std::string, std::less<>> secrets;
  std::vector<const sdk::OperationSpec*> operations;
  FixedClock clock;

  ResponseFixture(std::unique_ptr<sdk::Connector> c, sdk::Connection conn,
                  std::map<std::string, std::string, std::less<>> s)
      : connector(std::move(c)), connection(std::move(conn)), secrets(std::move(s)) {
    for (const auto& op : connector->spec().operations) {
      if (op.kind == sdk::OperationKind::Action || op.delivery == sdk::Delivery::Poll) {
        operations.push_back(&op);
      }
    }
  }
};

// The input: "<operation id>\n<status>[ previous]\n<header: value>...\n\n<body>". An unknown
// operation id picks an operation by the sum of its bytes; a status that is not a number is 200;
// "previous" calls findPrevious instead of invoke (or polls with a cursor).
inline int runResponse(ResponseFixture& f, const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::string_view id = in.until('\n');
  const sdk::OperationSpec* found = nullptr;
  std::size_t sum = 0;
  for (const auto* op : f.operations) {
    if (op->id == id) {
      found = op;
    }
  }
  for (const char c : id) {
    sum += static_cast<unsigned char>(c);
  }
  const sdk::OperationSpec& op = found != nullptr ? *found : *f.operations[sum % f.operations.size()];
  const std::string_view statusLine = in.until('\n');
  int status = 0;
  for (const char c : statusLine.substr(0, 3)) {
    status = c >= '0' && c <= '9' ? status * 10 + (c - '0') : status;
  }
  const bool previous = statusLine.find("previous") != std::string_view::npos;
  ScriptedHttp http;
  http.response.status = status == 0 ? 200 : status;
  http.response.headers = readHeaders(in);
  http.response.body = std::string(in.rest());

  core::engine::MemoryState state;
  core::engine::MemorySecrets secrets(f.secrets);
  core::engine::LocalContext ctx({f.connection, &http, &state, &secrets, &f.clock, {}});
  sdk::Json input = op.examples.empty() ? sdk::Json::object() : op.examples.front().input;
  input = sdk::applyDefaults(op.input, input);
  try {
    if (op.kind == sdk::OperationKind::Action) {
      sdk::Action* action = f.connector->action(op.id);
      if (previous) {
        (void)action->findPrevious(input, ctx);
      } else {
        (void)action->invoke(input, ctx);
      }
    } else {
      const sdk::Json cursor = previous ? sdk::Json{{"since", "2026-01-01T00:00:00.000Z"}}
                                                : sdk::Json();
      (void)f.connector->trigger(op.id)->poll(ctx, input, cursor);
    }
  } catch (const sdk::OperationError&) {
  } catch (const sdk::TransportError&) {
  }
  return 0;
}

}  // namespace ferry::fuzz

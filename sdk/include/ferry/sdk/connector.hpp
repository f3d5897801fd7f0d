#pragma once

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/sdk/context.hpp"
#include "ferry/sdk/errors.hpp"
#include "ferry/sdk/json.hpp"
#include "ferry/sdk/spec.hpp"

namespace ferry::sdk {

// An action: one operation that changes or reads something in the service.
class Action {
 public:
  virtual ~Action() = default;
  // Runs the action. `input` has already been validated against the operation's input schema
  // and has its defaults applied. Returns a value matching the output schema.
  // Called by the core on a worker thread; several calls may run at once on one Action.
  // Throws OperationError (classified) or TransportError (always transient). Whether a retry
  // is safe is the core's business: it keeps an idempotency journal around every call.
  virtual Json invoke(const Json& input, Context& ctx) = 0;

  // Finds the effect of an earlier attempt. Called by the core instead of invoke() when an
  // earlier attempt of the same step recorded its intent but not its result (the process died,
  // or the answer was lost), with that attempt's very input. Returns the earlier call's output
  // when its effect exists in the service, nullopt when it does not; the core then calls
  // invoke(). Creates that are not idempotent by nature (a task, a note) implement it, so that a
  // crash between the service's answer and the core's commit never makes a duplicate. The
  // default returns nullopt, which is right for calls that are idempotent anyway (get, update,
  // upsert). Same threading and errors as invoke().
  virtual std::optional<Json> findPrevious(const Json& input, Context& ctx) {
    (void)input, (void)ctx;
    return std::nullopt;
  }
};

// An inbound webhook request, exactly as the core's server received it.
struct WebhookRequest {
  std::string method;
  std::string path;
  std::string query;
  Headers headers;
  std::string body;  // the raw body, byte for byte (signatures are computed over it)
};

// One event a trigger produced.
struct Event {
  std::string id;          // unique per event at the source; used to drop duplicates
  std::string recordKey;   // the record the event is about; events of one record run in order
  std::string occurredAt;  // ISO-8601, as the source said (or the receive time)
  Json payload;            // matches the trigger's output schema
};

struct PollResult {
  std::vector<Event> events;
  Json cursor;  // committed by the core together with the events, atomically
};

// A trigger: a source of events. Webhook triggers implement subscribe/unsubscribe/receive;
// polling triggers implement poll. The defaults throw std::logic_error.
class Trigger {
 public:
  virtual ~Trigger() = default;

  // Registers `url` with the service for this trigger and `filters`. Idempotent: calling it
  // twice for the same url leaves exactly one registration. Called by the core at start-up.
  virtual void subscribe(Context& ctx, const Json& filters, const std::string& url) {
    (void)ctx, (void)filters, (void)url;
    throw std::logic_error("this trigger does not support webhooks");
  }
  // Removes the registration made by subscribe. Idempotent.
  virtual void unsubscribe(Context& ctx, const Json& filters, const std::string& url) {
    (void)ctx, (void)filters, (void)url;
    throw std::logic_error("this trigger does not support webhooks");
  }
  // Authenticates and parses one webhook request. Returns the events it carries that match
  // this trigger and its filters (possibly none). Throws WebhookRejected when the request is
  // malformed, unsigned, badly signed, stale or replayed. Called on a server thread; pure
  // except for replay bookkeeping in ctx.state().
  virtual std::vector<Event> receive(Context& ctx, const Json& filters,
                                     const WebhookRequest& request) {
    (void)ctx, (void)filters, (void)request;
    throw std::logic_error("this trigger does not support webhooks");
  }
  // Fetches events after `cursor` (null on the first call). Must neither skip nor repeat an
  // event when called again with the cursor it returned. Throws OperationError.
  virtual PollResult poll(Context& ctx, const Json& filters, const Json& cursor) {
    (void)ctx, (void)filters, (void)cursor;
    throw std::logic_error("this trigger does not poll");
  }
};

// A connector plugin: its declaration and the implementations of its operations.
// Created once per process by the plugin's factory; lives until the host unloads it.
class Connector {
 public:
  virtual ~Connector() = default;
  virtual const ConnectorSpec& spec() const = 0;
  // Returns the implementation of an action or trigger, or nullptr for an unknown id or
  // another kind. The pointer lives as long as the connector.
  virtual Action* action(std::string_view operationId) = 0;
  virtual Trigger* trigger(std::string_view operationId) = 0;
};

// The usual way to write a connector: declare each operation together with its
// implementation, so that no operation is declared without code or coded without a declaration.
//
//   class MyConnector : public BasicConnector {
//    public:
//     MyConnector() : BasicConnector(makeSpec()) {
//       add(contactGetSpec(), std::make_unique<ContactGet>());
//     }
//   };
class BasicConnector : public Connector {
 public:
  explicit BasicConnector(ConnectorSpec spec) : spec_(std::move(spec)) {}

  const ConnectorSpec& spec() const override { return spec_; }

  Action* action(std::string_view id) override {
    auto it = actions_.find(std::string(id));
    return it == actions_.end() ? nullptr : it->second.get();
  }
  Trigger* trigger(std::string_view id) override {
    auto it = triggers_.find(std::string(id));
    return it == triggers_.end() ? nullptr : it->second.get();
  }

 protected:
  void add(OperationSpec op, std::unique_ptr<Action> impl) {
    op.kind = OperationKind::Action;
    actions_[op.id] = std::move(impl);
    spec_.operations.push_back(std::move(op));
  }
  void add(OperationSpec op, std::unique_ptr<Trigger> impl) {
    op.kind = OperationKind::Trigger;
    triggers_[op.id] = std::move(impl);
    spec_.operations.push_back(std::move(op));
  }

 private:
  ConnectorSpec spec_;
  std::map<std::string, std::unique_ptr<Action>, std::less<>> actions_;
  std::map<std::string, std::unique_ptr<Trigger>, std::less<>> triggers_;
};

}  // namespace ferry::sdk

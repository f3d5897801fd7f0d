#pragma once

#include <mutex>

#include "ferry/sdk/connector.hpp"
#include "operations.hpp"

namespace ferry::plugins::ghl {

// A GHL webhook trigger: one per event type. GHL webhooks are configured once per Marketplace
// app (URL and scopes), not per subscription through the API, so subscribe() checks the
// connection's verification keys and logs the URL to enter in the app's settings.
//
// receive() checks, in order: a signature (Ed25519 `x-ghl-signature` with the setting
// `webhook_public_key`; RSA-SHA256 `x-wh-signature` with `webhook_rsa_public_key` only when
// `accept_legacy_rsa` is true), a JSON object body, the event `type` (other types yield no
// event and are not recorded), the `timestamp` (at most 5 minutes old, at most 1 minute
// ahead), and the `webhookId` (each accepted at most once; ids are remembered in ctx.state()
// for 10 minutes, longer than the timestamp window).
class WebhookTrigger : public sdk::Trigger {
 public:
  explicit WebhookTrigger(WebhookEventSpec event) : event_(std::move(event)) {}

  void subscribe(sdk::Context& ctx, const sdk::Json& filters, const std::string& url) override;
  void unsubscribe(sdk::Context& ctx, const sdk::Json& filters, const std::string& url) override;
  std::vector<sdk::Event> receive(sdk::Context& ctx, const sdk::Json& filters,
                                  const sdk::WebhookRequest& request) override;

 private:
  void checkSignature(sdk::Context& ctx, const sdk::WebhookRequest& request) const;
  void remember(sdk::Context& ctx, const std::string& deliveryId);

  WebhookEventSpec event_;
  std::mutex replayMutex_;
};

}  // namespace ferry::plugins::ghl

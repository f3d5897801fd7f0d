#pragma once

// Webhook delivery of the GHL sandbox: an Ed25519 signer (GHL's `x-ghl-signature`) and a
// background thread that posts queued events to the registered URLs with the core HTTP client.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ferry/sdk/json.hpp"

namespace ferry::plugins::ghl::sandbox {

using sdk::Json;

// An Ed25519 key pair made at startup. Thread-safe after construction.
class Signer {
 public:
  Signer();
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // Base64 of the Ed25519 signature over `body` (what GHL sends as x-ghl-signature).
  std::string sign(const std::string& body) const;
  // The public key as PEM (SubjectPublicKeyInfo), what a receiver configures.
  const std::string& publicKeyPem() const { return publicPem_; }

 private:
  struct Key;
  std::unique_ptr<Key> key_;
  std::string publicPem_;
};

struct Delivery {
  std::string url;
  std::string type;
  std::string webhookId;
  std::string body;
  int attempts = 0;
  int lastStatus = 0;               // 0 = no answer (transport error)
  std::string outcome = "pending";  // pending, delivered, failed, retrying
  std::chrono::steady_clock::time_point due{};
};

// Delivers events in order on one background thread. A 429 answer is retried (up to
// `maxRetries` times, `retryDelay` apart); any other answer or a transport error is final,
// as with GHL.
class Dispatcher {
 public:
  Dispatcher(const Signer& signer, std::chrono::milliseconds retryDelay, int maxRetries = 6);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void enqueue(std::string url, std::string type, std::string webhookId, std::string body);
  // The last deliveries (newest last) and counters, for the admin state.
  Json toJson() const;
  void clear();

 private:
  void run();

  const Signer& signer_;
  std::chrono::milliseconds retryDelay_;
  int maxRetries_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Delivery>> queue_;
  std::deque<std::shared_ptr<Delivery>> log_;
  long delivered_ = 0;
  long failed_ = 0;
  long retried_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ferry::plugins::ghl::sandbox

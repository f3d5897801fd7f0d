#include "webhooks.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <stdexcept>

#include "http/client.hpp"

namespace ferry::plugins::ghl::sandbox {

namespace {

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

constexpr std::size_t kLogSize = 200;

}  // namespace

struct Signer::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

Signer::Signer() : key_(std::make_unique<Key>()) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &key_->pkey) <= 0) {
    EVP_PKEY_CTX_free(ctx);
    throw std::runtime_error("cannot generate the sandbox's Ed25519 webhook key");
  }
  EVP_PKEY_CTX_free(ctx);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key_->pkey);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  publicPem_.assign(data, static_cast<std::size_t>(len));
  BIO_free(bio);
}

Signer::~Signer() = default;

std::string Signer::sign(const std::string& body) const {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  unsigned char sig[64];
  std::size_t sigLen = sizeof sig;
  const bool ok =
      md != nullptr && EVP_DigestSignInit(md, nullptr, nullptr, nullptr, key_->pkey) == 1 &&
      EVP_DigestSign(md, sig, &sigLen, reinterpret_cast<const unsigned char*>(body.data()),
                     body.size()) == 1;
  EVP_MD_CTX_free(md);
  if (!ok) {
    throw std::runtime_error("Ed25519 signing failed");
  }
  return base64(sig, sigLen);
}

Dispatcher::Dispatcher(const Signer& signer, std::chrono::milliseconds retryDelay, int maxRetries)
    : signer_(signer), retryDelay_(retryDelay), maxRetries_(maxRetries) {
  thread_ = std::thread([this] { run(); });
}

Dispatcher::~Dispatcher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Dispatcher::enqueue(std::string url, std::string type, std::string webhookId,
                         std::string body) {
  auto d = std::make_shared<Delivery>();
  d->url = std::move(url);
  d->type = std::move(type);
  d->webhookId = std::move(webhookId);
  d->body = std::move(body);
  d->due = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(d);
    log_.push_back(d);
    while (log_.size() > kLogSize) {
      log_.pop_front();
    }
  }
  wake_.notify_all();
}

void Dispatcher::clear() {
  std::lock_guard lock(mutex_);
  queue_.clear();
  log_.clear();
  delivered_ = failed_ = retried_ = 0;
}

Json Dispatcher::toJson() const {
  std::lock_guard lock(mutex_);
  Json list = Json::array();
  for (const auto& d : log_) {
    list.push_back({{"url", d->url},
                    {"type", d->type},
                    {"webhookId", d->webhookId},
                    {"attempts", d->attempts},
                    {"lastStatus", d->lastStatus},
                    {"outcome", d->outcome}});
  }
  return {{"pending", queue_.size()},
          {"delivered", delivered_},
          {"failed", failed_},
          {"retried", retried_},
          {"deliveries", list}};
}

void Dispatcher::run() {
  core::http::Client client;
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (queue_.empty()) {
      wake_.wait(lock);
      continue;
    }
    // The earliest due delivery goes first; others keep their order.
    auto next = queue_.begin();
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if ((*it)->due < (*next)->due) {
        next = it;
      }
    }
    const auto due = (*next)->due;
    if (due > std::chrono::steady_clock::now()) {
      wake_.wait_until(lock, due);
      continue;
    }
    auto d = *next;
    queue_.erase(next);
    const std::string url = d->url;
    const std::string body = d->body;
    lock.unlock();

    sdk::HttpRequest req;
    req.method = "POST";
    req.url = url;
    req.timeout = std::chrono::milliseconds(5000);
    req.headers = {{"Content-Type", "application/json"},
                   {"User-Agent", "ferry-ghl-sandbox-webhooks"},
                   {"x-ghl-signature", signer_.sign(body)}};
    req.body = body;
    int status = 0;
    try {
      status = client.send(req).status;
    } catch (const std::exception&) {
      status = 0;
    }

    lock.lock();
    d->attempts++;
    d->lastStatus = status;
    if (status == 429 && d->attempts <= maxRetries_) {
      d->outcome = "retrying";
      d->due = std::chrono::steady_clock::now() + retryDelay_;
      queue_.push_back(d);
      retried_++;
    } else if (status >= 200 && status < 300) {
      d->outcome = "delivered";
      delivered_++;
    } else {
      d->outcome = "failed";
      failed_++;
    }
  }
}

}  // namespace ferry::plugins::ghl::sandbox

#pragma once

// The Umsatz-io emulator behind `ferry sandbox umsatzio`. Not a GraphQL engine: it reads the
// operation's root field name from the document and its arguments from `variables` (the
// connector passes every argument as a variable of the same name), and answers with the whole
// object, whatever the selection set asked for. Envelopes, error codes and pagination follow
// the real API as far as it is known (research/umsatzio.md). Admin API under /_sandbox/.

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kit.hpp"

namespace ferry::sandbox::umsatzio {

struct Options {
  std::string apiKey = "umz_sandbox_key";
  std::string authScheme = "basic_and_tenant";  // or api_key_header, bearer
  std::string webhookSecret;                    // empty: deliveries are unsigned
  std::string signatureHeader = "x-umsatzio-signature";
  int generate = 0;                             // contacts generated at start and on reset
  unsigned long long seed = 42;
  int deliveryAttempts = 3;                     // per webhook delivery (5xx, 429 or no answer)
};

// A GraphQL error: `{message, extensions:{code}}`.
struct GraphqlError {
  std::string code;
  std::string message;
};

class Emulator {
 public:
  explicit Emulator(Options options);
  ~Emulator();  // stops and joins the delivery thread
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  Response handle(const Request& request);
  void attach(Server* server) { server_ = server; }

 private:
  struct Store {
    long long counter = 0;
    std::map<std::string, Json> contacts, deals, notes, calls, emails, webhooks, submissions;
    Json pipelines = Json::array();
    Json callTypes = Json::array();
    Json forms = Json::array();
    Json accounts = Json::array();
    Json contactCards = Json::array();
    Json dealCards = Json::array();
  };
  struct Delivery {
    std::string url;
    std::string event;
    std::string body;
  };

  Response graphql(const Request& request);
  Response admin(const Request& request);
  Json resolve(const std::string& root, const Json& vars);  // under mutex_; throws GraphqlError

  // Mutations shared by GraphQL and the admin's simulated sales reps (under mutex_).
  Json createContact(Json data, bool filterUnknown);
  Json updateContact(const std::string& id, const Json& data, bool filterUnknown);
  Json createDeal(const Json& input);
  Json updateDeal(const std::string& id, const Json& input);
  Json moveDeal(const std::string& id, const std::string& pipelineId, const std::string& stageId);
  Json createNote(const std::string& parentId, const std::string& description);
  Json logCall(const Json& input);
  Json logEmail(const Json& input);
  Json submitForm(const std::string& formId, const Json& data);
  Json generate(const Json& spec);

  void reset();
  std::string nextId(const char* prefix);
  std::string now();
  Json checkData(const Json& cards, Json data, bool filterUnknown, bool contact);
  Json dealView(const Json& deal) const;
  Json stageOf(const std::string& pipelineId, const std::string& stageId) const;
  void emit(const std::string& event, const Json& data, const std::vector<std::string>& matchKeys);
  Json state() const;

  void deliverLoop();

  Options options_;
  Server* server_ = nullptr;
  mutable std::mutex mutex_;
  Store store_;
  std::optional<long long> frozenClock_;
  std::deque<Json> nextFaults_;
  std::deque<Json> deliveryLog_;
  long deliveriesOk_ = 0;      // final outcomes of all deliveries (the log keeps the last 500)
  long deliveriesFailed_ = 0;
  long deliveriesRefusedThenOk_ = 0;  // first answered 429/503, delivered later

  std::mutex queueMutex_;
  std::condition_variable queueCv_;
  std::deque<Delivery> queue_;
  int inFlight_ = 0;
  bool stopping_ = false;
  std::thread deliverer_;
};

// Seed data (seed.cpp): field cards with the German field set, pipelines, call types, forms,
// users; and the word lists `generate` draws from.
Json contactCards();
Json dealCards();
Json pipelines();
Json callTypes();
Json forms();
Json accounts();
struct Words {
  std::vector<std::string> firstNames, lastNames, companies, cities, sources, noteTexts, callTexts;
};
const Words& words();

}  // namespace ferry::sandbox::umsatzio

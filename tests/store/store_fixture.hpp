#pragma once

// The store conformance fixture: every TEST_P runs against SQLite (a real temp file) and
// PostgreSQL (a fresh database on the server named by FERRY_TEST_PG, dropped afterwards).

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <gtest/gtest.h>

#include "store/store.hpp"

namespace ferry::core::store::testing {

inline std::string randomSuffix() {
  std::random_device rd;
  std::mt19937_64 gen(rd());
  std::ostringstream out;
  out << std::hex << gen();
  return out.str();
}

// Replaces (or adds) one key=value pair of a libpq connection string.
inline std::string withPgKey(const std::string& conn, const std::string& key,
                             const std::string& value) {
  std::istringstream in(conn);
  std::string token, out;
  bool replaced = false;
  while (in >> token) {
    if (token.rfind(key + "=", 0) == 0) {
      token = key + "=" + value;
      replaced = true;
    }
    out += (out.empty() ? "" : " ") + token;
  }
  if (!replaced) {
    out += " " + key + "=" + value;
  }
  return out;
}

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      const char* pg = std::getenv("FERRY_TEST_PG");
      if (pg == nullptr || *pg == '\0') {
        const char* skip = std::getenv("FERRY_SKIP_PG");
        if (skip != nullptr && std::string(skip) == "1") {
          GTEST_SKIP() << "FERRY_SKIP_PG=1: the PostgreSQL store tests are skipped";
        }
        FAIL() << "FERRY_TEST_PG is not set, so the PostgreSQL store cannot be tested. Run "
                  "scripts/test.sh (it starts a throwaway server), or set FERRY_TEST_PG to a Poco "
                  "connection string such as 'host=127.0.0.1 port=55432 user=postgres "
                  "dbname=postgres', or set FERRY_SKIP_PG=1 to skip these tests.";
      }
      Poco::Data::PostgreSQL::Connector::registerConnector();
      admin_ = withPgKey(pg, "options", "-cclient_min_messages=warning");
      database_ = "ferry_test_" + randomSuffix();
      Poco::Data::Session admin("PostgreSQL", admin_);
      admin << "CREATE DATABASE " + database_, Poco::Data::Keywords::now;
      raw_ = withPgKey(admin_, "dbname", database_);
      url_ = "postgres:" + raw_;
    } else {
      Poco::Data::SQLite::Connector::registerConnector();
      dir_ = std::filesystem::temp_directory_path() / ("ferry-store-" + randomSuffix());
      std::filesystem::create_directories(dir_);
      raw_ = (dir_ / "store.db").string();
      url_ = "sqlite://" + raw_;
    }
  }

  void TearDown() override {
    if (!database_.empty()) {
      try {
        Poco::Data::Session admin("PostgreSQL", admin_);
        admin << "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)",
            Poco::Data::Keywords::now;
      } catch (const Poco::Exception& e) {
        ADD_FAILURE() << "cannot drop test database " << database_ << ": " << e.displayText();
      }
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // A store on this test's database whose clock is clock_ (moved by hand).
  std::unique_ptr<Store> open(Options options = {}) {
    options.clock = [this] { return clock_.load(); };
    return Store::open(url_, options);
  }
  // A store with the real clock.
  std::unique_ptr<Store> openReal(Options options = {}) { return Store::open(url_, options); }

  // A raw Poco session on the same database (to break things on purpose).
  Poco::Data::Session rawSession() {
    return GetParam() == "postgresql" ? Poco::Data::Session("PostgreSQL", raw_)
                                      : Poco::Data::Session("SQLite", raw_);
  }

  bool isPg() const { return GetParam() == "postgresql"; }

  std::atomic<TimeUs> clock_{1'700'000'000'000'000};
  std::string url_;

 private:
  std::string raw_;
  std::string admin_;
  std::string database_;
  std::filesystem::path dir_;
};

inline NewEvent event(const std::string& id, const std::string& key, Json payload = Json::object(),
                      const std::string& op = "umsatzio.contact.updated",
                      const std::string& flow = "contacts") {
  NewEvent e;
  e.source = "umsatzio.webhook";
  e.sourceEventId = id;
  e.flowId = flow;
  e.triggerOp = op;
  e.recordKey = key;
  e.payload = std::move(payload);
  e.rawBody = "{\"id\":\"" + id + "\"}";
  return e;
}

inline std::string engineName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace ferry::core::store::testing

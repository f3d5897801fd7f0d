// Store URLs and engine-specific faults: a full disk under SQLite, an unreachable PostgreSQL.

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <gmock/gmock.h>

#include "store/sqlite_store.hpp"
#include "store_fixture.hpp"

namespace ferry::core::store::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StoreUrl, SqliteForms) {
  EXPECT_EQ(parseStoreUrl("sqlite:///var/lib/ferry/store.db").path, "/var/lib/ferry/store.db");
  EXPECT_EQ(parseStoreUrl("sqlite:///var/lib/ferry/store.db").engine, "sqlite");
  EXPECT_EQ(parseStoreUrl("sqlite:state/store.db").path, "state/store.db");
  EXPECT_EQ(parseStoreUrl("/tmp/a b.db").path, "/tmp/a b.db");
  EXPECT_EQ(parseStoreUrl("store.db").engine, "sqlite");
  EXPECT_EQ(parseStoreUrl("./x:y.db").path, "./x:y.db");
  EXPECT_EQ(parseStoreUrl("sqlite:///tmp/with%20space.db").path, "/tmp/with space.db");
}

TEST(StoreUrl, PostgresUriBecomesKeyValue) {
  auto u = parseStoreUrl("postgresql://ferry:p%40ss@db.internal:5433/ferry?sslmode=require");
  EXPECT_EQ(u.engine, "postgresql");
  EXPECT_EQ(u.connection,
            "host=db.internal port=5433 user=ferry password=p@ss dbname=ferry sslmode=require "
            "options=-cclient_min_messages=warning connect_timeout=5");
  EXPECT_EQ(parseStoreUrl("postgres://u@[::1]/d").connection,
            "host=::1 user=u dbname=d options=-cclient_min_messages=warning connect_timeout=5");
  auto kv = parseStoreUrl("postgres:host=127.0.0.1 port=55432 dbname=x connect_timeout=2");
  EXPECT_EQ(kv.connection,
            "host=127.0.0.1 port=55432 dbname=x connect_timeout=2 "
            "options=-cclient_min_messages=warning");
}

TEST(StoreUrl, BadUrlsSayWhatIsWrongAndHowToWriteIt) {
  struct Case {
    std::string url;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{
           {"", "empty"},
           {"mysql://h/db", "unknown scheme 'mysql'"},
           {"postgresql://host-only", "no database name"},
           {"postgresql://h:5x/db", "port '5x' is not a number"},
           {"postgresql:///db", "no host"},
           {"postgresql://u:pw@h/db?options=-c a=b", "contains a space"},
           {"postgres:host=h port", "'port' is not key=value"},
           {"sqlite:", "no file path"},
       }) {
    try {
      parseStoreUrl(c.url);
      ADD_FAILURE() << "'" << c.url << "' was accepted";
    } catch (const StoreError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidUrl) << c.url;
      EXPECT_THAT(e.what(), HasSubstr(c.says)) << c.url;
      EXPECT_THAT(e.what(), HasSubstr("hint")) << c.url;
    }
  }
}

TEST(StoreUrl, PasswordsAreRedacted) {
  EXPECT_EQ(redactStoreUrl("postgresql://u:s3cret@h/db"), "postgresql://u:***@h/db");
  EXPECT_EQ(redactStoreUrl("postgres:host=h password=s3cret dbname=d"),
            "postgres:host=h password=*** dbname=d");
  try {
    parseStoreUrl("postgresql://u:s3cret@h:xx/db");
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_THAT(e.what(), Not(HasSubstr("s3cret")));
  }
}

TEST(StoreEngine, UnreachablePostgresIsUnavailableWithAHint) {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  try {
    Store::open("postgresql://ferry:s3cret@127.0.0.1:1/ferry");
    FAIL() << "opening an unreachable server must throw";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1"));
    EXPECT_THAT(e.what(), HasSubstr("hint"));
    EXPECT_THAT(e.what(), Not(HasSubstr("s3cret")));
    // Asked with PQping, not through Poco's connect (which leaks a failed attempt's PGconn).
    EXPECT_THAT(e.what(), HasSubstr("does not answer"));
  }
}

TEST(StoreEngine, SqliteInAMissingDirectoryIsUnavailable) {
  try {
    Store::open("sqlite:///nonexistent-ferry-dir/sub/store.db");
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent-ferry-dir/sub"));
  }
}

// A small tmpfs when we may mount one (root); unmounted on destruction.
class TinyFs {
 public:
  TinyFs() : dir_(std::filesystem::temp_directory_path() / ("ferry-tinyfs-" + randomSuffix())) {
    std::filesystem::create_directories(dir_);
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=1m") == 0;
  }
  ~TinyFs() {
    if (mounted_) {
      ::umount2(dir_.c_str(), MNT_DETACH);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool mounted() const { return mounted_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

NewEvent bigEvent(int i) {
  NewEvent e = event("big-" + std::to_string(i), "k" + std::to_string(i),
                     {{"blob", std::string(8000, 'x')}});
  return e;
}

TEST(StoreEngine, SqliteFullDiskIsAFullErrorAndRecovers) {
  TinyFs fs;
  std::unique_ptr<Store> store;
  std::filesystem::path filler = fs.dir() / "filler";
  if (fs.mounted()) {
    store = Store::open((fs.dir() / "store.db").string());
    store->enqueue(bigEvent(0));
    // Eat what space is left, so the next growth of the database fails.
    std::ofstream out(filler, std::ios::binary);
    std::string chunk(4096, 'f');
    for (int i = 0; i < 1024 && out.write(chunk.data(), chunk.size()); ++i) {
      out.flush();
    }
  } else {
    // No tmpfs (not root): cap the file's page count instead, which SQLite reports as
    // SQLITE_FULL just the same.
    std::cout << "[ note ] cannot mount a tmpfs; simulating a full disk with max_page_count\n";
    store = Store::open((fs.dir() / "store.db").string());
    store->enqueue(bigEvent(0));
    auto* sqlite = dynamic_cast<SqliteStore*>(store.get());
    ASSERT_NE(sqlite, nullptr);
    sqlite->maxPageCount(60);
  }
  bool full = false;
  int accepted = 1;
  for (int i = 1; i < 400 && !full; ++i) {
    try {
      store->enqueue(bigEvent(i));
      ++accepted;
    } catch (const StoreError& e) {
      ASSERT_EQ(e.kind(), ErrorKind::Full) << e.what();
      EXPECT_THAT(e.what(), HasSubstr("full"));
      full = true;
    }
  }
  ASSERT_TRUE(full) << "the store never reported a full disk";
  // Nothing committed was lost, and the store works again once space is freed.
  EXPECT_EQ(store->queueStats().queued, accepted);
  if (fs.mounted()) {
    std::filesystem::remove(filler);
  } else {
    dynamic_cast<SqliteStore*>(store.get())->maxPageCount(100000);
  }
  EXPECT_TRUE(store->enqueue(bigEvent(1000)).created);
  EXPECT_EQ(store->queueStats().queued, accepted + 1);
  store.reset();
  auto reopened = Store::open((fs.dir() / "store.db").string());
  EXPECT_EQ(reopened->queueStats().queued, accepted + 1);
}

}  // namespace
}  // namespace ferry::core::store::testing

namespace ferry::core::store::testing {
namespace {

TEST(StoreEngine, SqliteInAReadOnlyPlaceIsReadOnly) {
  TinyFs fs;
  const std::string path = (fs.dir() / "store.db").string();
  Store::open(path)->enqueue(event("e1", "K"));
  if (fs.mounted()) {
    // Root ignores permissions: make the whole file system read-only.
    ASSERT_EQ(::mount("tmpfs", fs.dir().c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=1m"), 0)
        << "remount read-only failed: " << std::strerror(errno);
  } else if (::geteuid() != 0) {
    std::filesystem::permissions(
        fs.dir(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  } else {
    GTEST_SKIP() << "root without mount rights: no way to make a read-only place";
  }
  try {
    auto store = Store::open(path);
    store->enqueue(event("e2", "K"));
    FAIL() << "writing on a read-only file system must throw";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::ReadOnly) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("read-only"));
  }
  std::error_code ec;  // the tmpfs case is still read-only here
  std::filesystem::permissions(fs.dir(), std::filesystem::perms::owner_all, ec);
}

}  // namespace
}  // namespace ferry::core::store::testing

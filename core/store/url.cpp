#include "store/store.hpp"

#include <cctype>
#include <sstream>

namespace ferry::core::store {

namespace {

constexpr const char* kUrlHint =
    "use sqlite:///abs/path.db, a bare file path, postgresql://user@host:port/dbname or "
    "postgres:host=... port=... dbname=...";

[[noreturn]] void bad(const std::string& url, const std::string& what) {
  throw StoreError(ErrorKind::InvalidUrl,
                   "store URL '" + redactStoreUrl(url) + "': " + what + " (hint: " + kUrlHint + ")");
}

std::string percentDecode(const std::string& url, const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        bad(url, "bad percent escape at offset " + std::to_string(i));
      }
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Poco re-splits the connection string on spaces (cpp-stack.md #10), so no value may hold one.
void addPair(const std::string& url, std::string& conn, const std::string& key, const std::string& value) {
  if (value.find_first_of(" \t'\"\\") != std::string::npos) {
    bad(url, "the value of '" + key + "' contains a space, quote or backslash, which the "
             "PostgreSQL driver cannot pass");
  }
  if (!conn.empty()) {
    conn += ' ';
  }
  conn += key + "=" + value;
}

bool hasKey(const std::string& conn, const std::string& key) {
  std::istringstream in(conn);
  std::string token;
  while (in >> token) {
    if (token.rfind(key + "=", 0) == 0) {
      return true;
    }
  }
  return false;
}

void addDefaults(const std::string& url, std::string& conn) {
  // NOTICEs would go to stderr (cpp-stack.md #11); a dead server should fail fast.
  if (!hasKey(conn, "options")) {
    addPair(url, conn, "options", "-cclient_min_messages=warning");
  }
  if (!hasKey(conn, "connect_timeout")) {
    addPair(url, conn, "connect_timeout", "5");
  }
}

StoreUrl parsePostgresUri(const std::string& url, const std::string& rest) {
  StoreUrl out{"postgresql", "", ""};
  std::string body = rest;
  std::string query;
  if (auto q = body.find('?'); q != std::string::npos) {
    query = body.substr(q + 1);
    body = body.substr(0, q);
  }
  std::string db;
  if (auto slash = body.find('/'); slash != std::string::npos) {
    db = percentDecode(url, body.substr(slash + 1));
    body = body.substr(0, slash);
  }
  std::string user;
  std::string password;
  if (auto at = body.rfind('@'); at != std::string::npos) {
    std::string info = body.substr(0, at);
    body = body.substr(at + 1);
    if (auto colon = info.find(':'); colon != std::string::npos) {
      user = percentDecode(url, info.substr(0, colon));
      password = percentDecode(url, info.substr(colon + 1));
    } else {
      user = percentDecode(url, info);
    }
  }
  std::string host = body;
  std::string port;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) {
      bad(url, "unterminated '[' in the host");
    }
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty()) {
      if (port.front() != ':') {
        bad(url, "expected ':port' after ']'");
      }
      port = port.substr(1);
    }
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) {
    bad(url, "no host after '//'");
  }
  if (!port.empty()) {
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        bad(url, "port '" + port + "' is not a number");
      }
    }
  }
  if (db.empty()) {
    bad(url, "no database name after the host (…/dbname)");
  }
  addPair(url, out.connection, "host", percentDecode(url, host));
  if (!port.empty()) {
    addPair(url, out.connection, "port", port);
  }
  if (!user.empty()) {
    addPair(url, out.connection, "user", user);
  }
  if (!password.empty()) {
    addPair(url, out.connection, "password", password);
  }
  addPair(url, out.connection, "dbname", db);
  std::size_t start = 0;
  while (start < query.size()) {
    auto amp = query.find('&', start);
    std::string item = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    start = amp == std::string::npos ? query.size() : amp + 1;
    if (item.empty()) {
      continue;
    }
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      bad(url, "query parameter '" + item + "' is not key=value");
    }
    addPair(url, out.connection, percentDecode(url, item.substr(0, eq)),
            percentDecode(url, item.substr(eq + 1)));
  }
  addDefaults(url, out.connection);
  return out;
}

StoreUrl parsePostgresKeyValue(const std::string& url, const std::string& rest) {
  StoreUrl out{"postgresql", "", ""};
  std::istringstream in(rest);
  std::string token;
  while (in >> token) {
    auto eq = token.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == token.size()) {
      bad(url, "'" + (token.find("password") == 0 ? std::string("password...") : token) +
                   "' is not key=value (values may not contain spaces)");
    }
    if (token.find_first_of("'\"") != std::string::npos) {
      bad(url, "quoted values are not supported by the PostgreSQL driver");
    }
    out.connection += (out.connection.empty() ? "" : " ") + token;
  }
  if (out.connection.empty()) {
    bad(url, "no key=value pairs after 'postgres:'");
  }
  addDefaults(url, out.connection);
  return out;
}

}  // namespace

std::string redactStoreUrl(const std::string& url) {
  std::string out = url;
  // URI form: scheme://user:password@host
  if (auto scheme = out.find("://"); scheme != std::string::npos) {
    auto at = out.find('@', scheme + 3);
    auto colon = out.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // key=value form: password=secret
  for (std::size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    auto start = pos + 9;
    auto end = out.find_first_of(" &", start);
    out.replace(start, (end == std::string::npos ? out.size() : end) - start, "***");
  }
  return out;
}

StoreUrl parseStoreUrl(const std::string& url) {
  if (url.empty()) {
    bad(url, "it is empty");
  }
  // A scheme is letters followed by ':'; anything else is a file path.
  std::size_t i = 0;
  while (i < url.size() && (std::isalnum(static_cast<unsigned char>(url[i])) || url[i] == '+' ||
                            url[i] == '-' || url[i] == '.')) {
    ++i;
  }
  bool hasScheme = i > 1 && i < url.size() && url[i] == ':' &&
                   std::isalpha(static_cast<unsigned char>(url[0]));
  if (!hasScheme) {
    return StoreUrl{"sqlite", url, ""};
  }
  std::string scheme = url.substr(0, i);
  for (auto& c : scheme) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string rest = url.substr(i + 1);
  if (scheme == "sqlite" || scheme == "sqlite3") {
    std::string path = rest;
    if (path.rfind("//", 0) == 0) {
      path = path.substr(2);  // sqlite:///abs -> /abs, sqlite://rel -> rel
    }
    path = percentDecode(url, path);
    if (path.empty()) {
      bad(url, "no file path after 'sqlite:'");
    }
    return StoreUrl{"sqlite", path, ""};
  }
  if (scheme == "postgresql" || scheme == "postgres" || scheme == "pgsql") {
    if (rest.rfind("//", 0) == 0) {
      return parsePostgresUri(url, rest.substr(2));
    }
    return parsePostgresKeyValue(url, rest);
  }
  bad(url, "unknown scheme '" + scheme + "'");
}

}  // namespace ferry::core::store

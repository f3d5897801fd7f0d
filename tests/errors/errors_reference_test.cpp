// The error reference is complete and docs/errors.md is generated from it.
//
// Completeness is checked against the sources, not against a hand-kept list: the test reads every
// .cpp/.hpp under core/ and plugins/ (sandboxes and generators aside), finds each call that
// passes an error code (printError, Diagnostic pushes, loader refusals, engine step failures,
// webhook answers, OperationError / WebhookRejected in plugins), takes the code argument when it
// is a string literal, and requires an entry in the area the call belongs to.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "../cli/run.hpp"
#include "errors/reference.hpp"
#include "ferry/sdk/errors.hpp"
#include "flow/diagnostic.hpp"
#include "store/store.hpp"

namespace ferry::core::errors {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = FERRY_SOURCE_DIR;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- a tiny C++ argument reader ---------------------------------------------------------------

// The top-level arguments of the call whose '(' or '{' is at text[open]; one level of braces
// around a single argument (push_back({...})) is unwrapped.
std::vector<std::string> arguments(const std::string& text, std::size_t open) {
  std::vector<std::string> args;
  std::string current;
  int depth = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"' || c == '\'') {
      const auto start = i;
      for (++i; i < text.size() && text[i] != c; ++i) {
        if (text[i] == '\\') {
          ++i;
        }
      }
      current += text.substr(start, i - start + 1);
      continue;
    }
    if (c == '(' || c == '{' || c == '[') {
      if (depth++ == 0) {
        continue;
      }
    } else if (c == ')' || c == '}' || c == ']') {
      if (--depth == 0) {
        args.push_back(current);
        break;
      }
    } else if (c == ',' && depth == 1) {
      args.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  for (auto& a : args) {
    const auto b = a.find_first_not_of(" \t\n");
    const auto e = a.find_last_not_of(" \t\n");
    a = b == std::string::npos ? "" : a.substr(b, e - b + 1);
  }
  if (args.size() == 1 && !args[0].empty() && args[0].front() == '{') {
    return arguments(args[0], 0);
  }
  return args;
}

// The literal's text when `arg` is exactly one string literal, else nullopt.
std::optional<std::string> literal(const std::string& arg) {
  static const std::regex re(R"re(^"([^"\\]*)"$)re");
  std::smatch m;
  if (std::regex_match(arg, m, re)) {
    return m[1].str();
  }
  return std::nullopt;
}

bool codeShaped(const std::string& s) {
  static const std::regex re("^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)?$");
  return std::regex_match(s, re);
}

struct Use {
  std::string code;
  std::string where;  // file:line
  std::vector<std::string> areas;
};

struct CallSpec {
  std::string name;                 // the callee, matched as a whole word before '(' or '{'
  std::vector<std::size_t> argIndexes;  // the first code-shaped literal among these is the code
  std::vector<std::string> areas;   // where its entry may be
  std::regex files;                 // which files (relative paths) are scanned for it
};

std::vector<fs::path> sources() {
  std::vector<fs::path> out;
  for (const auto* dir : {"core", "plugins"}) {
    for (const auto& e : fs::recursive_directory_iterator(kSource / dir)) {
      const auto ext = e.path().extension();
      const auto rel = fs::relative(e.path(), kSource).string();
      if ((ext == ".cpp" || ext == ".hpp") && rel.find("/sandbox/") == std::string::npos &&
          rel.find("/tools/") == std::string::npos) {
        out.push_back(e.path());
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Use> findUses() {
  const std::vector<CallSpec> specs = {
      {"printError", {1}, {"cli", "validation", "plugin"}, std::regex("^core/cli/.*")},
      {"refuse", {1}, {"plugin"}, std::regex("^core/loader/.*")},
      {"LoadError", {1}, {"plugin"}, std::regex("^core/loader/.*")},
      {"InstallError", {1}, {"plugin"}, std::regex("^core/loader/.*")},
      {"fail", {1}, {"run"}, std::regex("^core/engine/engine\\.cpp$")},
      {"jsonReply", {1}, {"webhook"}, std::regex("^core/(http|engine)/.*")},
      {"error", {1}, {"validation"},
       std::regex("^core/(flow/.*|engine/runtime_config\\.cpp|alerts/.*)$")},
      {"push_back", {1, 2}, {"validation"},
       std::regex("^core/(flow/.*|engine/runtime_config\\.cpp|engine/engine\\.cpp|alerts/.*)$")},
      {"OperationError", {0, 1}, {"ghl", "umsatzio"}, std::regex("^plugins/.*")},
      {"WebhookRejected", {0, 1}, {"ghl", "umsatzio"}, std::regex("^plugins/.*")},
      {"make", {1}, {"ghl", "umsatzio"}, std::regex("^plugins/.*")},
  };
  std::vector<Use> uses;
  for (const auto& path : sources()) {
    const auto rel = fs::relative(path, kSource).string();
    const auto text = slurp(path);
    for (const auto& spec : specs) {
      if (!std::regex_match(rel, spec.files)) {
        continue;
      }
      const std::regex call("\\b" + spec.name + "\\s*[({]");
      for (auto it = std::sregex_iterator(text.begin(), text.end(), call);
           it != std::sregex_iterator(); ++it) {
        const auto open = static_cast<std::size_t>(it->position() + it->length() - 1);
        const auto args = arguments(text, open);
        const auto line = 1 + std::count(text.begin(), text.begin() + it->position(), '\n');
        for (const auto index : spec.argIndexes) {
          if (index >= args.size()) {
            continue;
          }
          const auto lit = literal(args[index]);
          if (lit && codeShaped(*lit)) {
            uses.push_back({*lit, rel + ":" + std::to_string(line), spec.areas});
            break;
          }
        }
      }
    }
    // The engine's webhook answers are built as {"error", "<code>"} objects.
    static const std::regex errorMember(R"re(\{"error",\s*"([a-z_]+)"\})re");
    if (rel.rfind("core/", 0) == 0) {
      for (auto it = std::sregex_iterator(text.begin(), text.end(), errorMember);
           it != std::sregex_iterator(); ++it) {
        const auto line = 1 + std::count(text.begin(), text.begin() + it->position(), '\n');
        uses.push_back({(*it)[1].str(), rel + ":" + std::to_string(line), {"webhook"}});
      }
    }
    // A plugin code built at run time from a literal prefix: "ghl.http_" + status.
    static const std::regex prefix(R"re("((ghl|umsatzio)\.[a-z_]*)"\s*\+)re");
    if (rel.rfind("plugins/", 0) == 0) {
      for (auto it = std::sregex_iterator(text.begin(), text.end(), prefix);
           it != std::sregex_iterator(); ++it) {
        const auto line = 1 + std::count(text.begin(), text.begin() + it->position(), '\n');
        uses.push_back({(*it)[1].str() + "<", rel + ":" + std::to_string(line), {"ghl", "umsatzio"}});
      }
    }
  }
  return uses;
}

bool declared(const Use& use) {
  for (const auto& area : use.areas) {
    if (use.code.back() == '<') {
      // A prefix: some pattern entry of the area must start with it.
      for (const auto& a : areas()) {
        if (a.id != area) {
          continue;
        }
        for (const auto& e : a.entries) {
          if (e.code.find('<') != std::string_view::npos &&
              std::string(e.code).rfind(use.code, 0) == 0) {
            return true;
          }
        }
      }
    } else if (find(area, use.code) != nullptr) {
      return true;
    }
  }
  return false;
}

TEST(ErrorReference, EveryCodeLiteralInTheSourcesHasAnEntry) {
  const auto uses = findUses();
  // The scan must see the known call sites, or it proves nothing.
  std::set<std::string> seen;
  for (const auto& u : uses) {
    seen.insert(u.code);
  }
  for (const auto* expected : {"usage", "state_dir", "not_elf", "invalid_input", "queue_full",
                               "too_large", "unknown_key", "config_error", "ghl.unauthorized",
                               "umsatzio.webhook_bad_token", "ghl.http_<", "type_mismatch"}) {
    EXPECT_TRUE(seen.count(expected)) << "the scan no longer finds '" << expected
                                      << "': fix the scanner in this test";
  }
  EXPECT_GT(uses.size(), 150u);
  for (const auto& u : uses) {
    EXPECT_TRUE(declared(u)) << u.where << ": error code '" << u.code
                             << "' has no entry in core/errors/reference.cpp (areas: "
                             << ::testing::PrintToString(u.areas) << ")";
  }
}

TEST(ErrorReference, EveryEntryHasMeaningAndRemedyAndIsUniqueInItsArea) {
  std::size_t count = 0;
  for (const auto& a : areas()) {
    std::set<std::string_view> codes;
    EXPECT_FALSE(a.entries.empty()) << a.id;
    for (const auto& e : a.entries) {
      ++count;
      EXPECT_TRUE(codes.insert(e.code).second) << a.id << ": '" << e.code << "' twice";
      EXPECT_FALSE(e.meaning.empty()) << a.id << ": " << e.code;
      EXPECT_FALSE(e.remedy.empty()) << a.id << ": '" << e.code << "' has no remedy";
    }
  }
  EXPECT_GT(count, 100u);
}

TEST(ErrorReference, EveryValidationCodeIsInTheReference) {
  for (const auto& c : flow::kErrorCodes) {
    const auto* e = find("validation", c.code);
    ASSERT_NE(e, nullptr) << c.code;
    EXPECT_EQ(e->meaning, c.meaning);
  }
}

TEST(ErrorReference, EveryConnectorErrorKindAndStoreErrorKindIsInTheReference) {
  using sdk::ErrorKind;
  for (auto k : {ErrorKind::Transient, ErrorKind::RateLimited, ErrorKind::Exhausted,
                 ErrorKind::Auth, ErrorKind::Scope, ErrorKind::Invalid, ErrorKind::NotFound,
                 ErrorKind::Permanent}) {
    EXPECT_NE(find("kind", sdk::errorKindName(k)), nullptr) << sdk::errorKindName(k);
  }
  using S = store::ErrorKind;
  for (auto k : {S::InvalidUrl, S::Invalid, S::Unavailable, S::Full, S::ReadOnly, S::Busy,
                 S::SchemaTooNew, S::LeaseLost, S::NotFound, S::Internal}) {
    EXPECT_NE(find("store", store::toString(k)), nullptr) << store::toString(k);
  }
}

TEST(ErrorReference, PatternEntriesMatchTheirVariablePart) {
  ASSERT_NE(find("ghl", "ghl.http_418"), nullptr);
  EXPECT_EQ(find("ghl", "ghl.http_418")->code, "ghl.http_<status>");
  EXPECT_NE(find("umsatzio", "umsatzio.SOME_CODE"), nullptr);
  EXPECT_EQ(find("ghl", "ghl.no_such_code"), nullptr);
  EXPECT_EQ(find("ghl", "ghl.http_x"), nullptr);
  EXPECT_EQ(find("umsatzio", "umsatzio.note_typo"), nullptr);
  EXPECT_EQ(find("nowhere", "usage"), nullptr);
}

TEST(ErrorReference, DocsErrorsMdIsFresh) {
  const auto committed = slurp(kSource / "docs/errors.md");
  EXPECT_EQ(committed, renderMarkdown())
      << "docs/errors.md is stale: run `build/dev/bin/ferry errors export docs/errors.md`";
}

TEST(ErrorReference, FerryErrorsExportWritesTheSameFileAndListFilters) {
  const auto scratch = fs::temp_directory_path() / ("ferry-errors-" + std::to_string(::getpid()));
  const std::string ferry = std::string(FERRY_BINARY_DIR) + "/bin/ferry";
  const auto out = scratch / "errors.md";
  auto run = testing::runProgram(ferry, {"errors", "export", out.string()}, {}, scratch / "a");
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(slurp(out), renderMarkdown());

  run = testing::runProgram(ferry, {"errors", "list", "--area", "kind", "--json"}, {},
                            scratch / "b");
  ASSERT_EQ(run.exitCode, 0) << run.err;
  const auto json = sdk::Json::parse(run.out);
  ASSERT_EQ(json["areas"].size(), 1u);
  EXPECT_EQ(json["areas"][0]["id"], "kind");
  EXPECT_EQ(json["areas"][0]["codes"].size(), 8u);

  run = testing::runProgram(ferry, {"errors", "list", "--area", "nope"}, {}, scratch / "c");
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_THAT(run.err, ::testing::HasSubstr("error[usage]"));
  EXPECT_THAT(run.err, ::testing::HasSubstr("validation"));
  fs::remove_all(scratch);
}

}  // namespace
}  // namespace ferry::core::errors

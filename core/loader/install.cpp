#include "loader/install.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <memory>
#include <sstream>

#include "ferry/sdk/json.hpp"
#include "loader/loader.hpp"

namespace ferry::core::loader {

namespace fs = std::filesystem;
using sdk::Json;

namespace {

constexpr const char* kLockFile = "plugins.lock.json";

std::string tempName(const std::string& base) {
  return "." + base + ".tmp-" + std::to_string(::getpid());
}

// Writes `text` to a temporary file beside `target` and returns its path; commit() renames it
// over `target`, so readers see the old or the new content, never a torn one.
fs::path prepare(const fs::path& target, const std::string& text) {
  const auto tmp = target.parent_path() / tempName(target.filename().string());
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw InstallError(target, "io", "cannot write the file", "check the directory's permissions");
  }
  return tmp;
}

void commit(const fs::path& tmp, const fs::path& target) {
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw InstallError(target, "io", "cannot replace the file: " + ec.message(),
                       "check the directory's permissions");
  }
}

std::string lockText(std::vector<LockEntry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const LockEntry& a, const LockEntry& b) { return a.id < b.id; });
  Json plugins = Json::array();
  for (const auto& e : entries) {
    plugins.push_back(
        {{"id", e.id}, {"version", e.version}, {"sha256", e.sha256}, {"file", e.file}});
  }
  return Json{{"format", 1}, {"plugins", plugins}}.dump(2) + "\n";
}

// Every library in `dirs` that loads, including those a scan would refuse as duplicates.
std::vector<LoadedPlugin> loadEach(const std::vector<fs::path>& dirs) {
  std::vector<LoadedPlugin> out;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      continue;
    }
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() != ".so") {
        continue;
      }
      auto outcome = loadLibrary(entry.path());
      if (outcome.plugin) {
        out.push_back(std::move(*outcome.plugin));
      }
    }
  }
  return out;
}

}  // namespace

fs::path lockPath(const fs::path& pluginDir) { return pluginDir / kLockFile; }

std::vector<LockEntry> readLock(const fs::path& pluginDir) {
  const auto path = lockPath(pluginDir);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return {};
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const Json j = Json::parse(text.str(), nullptr, false);
  const auto bad = [&](const std::string& why) {
    return InstallError(
        path, "bad_lock", "the lock file is damaged: " + why,
        "restore it, or delete it and reinstall the plugins in " + pluginDir.string());
  };
  if (j.is_discarded() || !j.is_object()) {
    throw bad("it is not a JSON object");
  }
  if (!j.contains("plugins") || !j["plugins"].is_array()) {
    throw bad("it has no 'plugins' array");
  }
  std::vector<LockEntry> entries;
  for (const auto& p : j["plugins"]) {
    LockEntry e;
    for (auto [key, member] : {std::pair{"id", &e.id}, std::pair{"version", &e.version},
                               std::pair{"sha256", &e.sha256}, std::pair{"file", &e.file}}) {
      if (!p.is_object() || !p.contains(key) || !p[key].is_string()) {
        throw bad(std::string("an entry has no string '") + key + "'");
      }
      *member = p[key].get<std::string>();
    }
    if (e.file.find('/') != std::string::npos || e.file.starts_with(".")) {
      throw bad("the entry '" + e.id + "' names a file outside the directory");
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

std::string sha256File(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw InstallError(file, "io", "cannot read the file", "check that it exists and is readable");
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    throw InstallError(file, "io", "cannot start a SHA-256 digest", "");
  }
  std::array<char, 64 * 1024> buffer{};
  while (in) {
    in.read(buffer.data(), buffer.size());
    if (in.gcount() > 0) {
      EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
  }
  if (in.bad()) {
    throw InstallError(file, "io", "reading the file failed", "");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx.get(), digest.data(), &size);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

InstallResult install(const fs::path& library, const fs::path& pluginDir,
                      const std::vector<fs::path>& otherDirs) {
  // 1. The library must load exactly as it would at start-up.
  auto outcome = loadLibrary(library);
  if (outcome.error) {
    throw InstallError(outcome.error->path, outcome.error->code, outcome.error->reason,
                       outcome.error->hint());
  }
  const auto spec = outcome.plugin->spec();
  outcome.plugin.reset();

  // 2. The lock file must be readable before anything changes.
  auto entries = readLock(pluginDir);
  const auto previous = std::find_if(entries.begin(), entries.end(),
                                     [&](const LockEntry& e) { return e.id == spec.id; });
  std::string replacedVersion;
  std::string replacedFile;
  if (previous != entries.end()) {
    replacedVersion = previous->version;
    replacedFile = previous->file;
  }
  const std::string fileName = spec.id + ".so";
  const auto target = pluginDir / fileName;

  // 3. No other library may declare the same connector where ferry would load it too.
  std::vector<fs::path> dirs = otherDirs;
  dirs.push_back(pluginDir);
  std::error_code ec;
  for (const auto& p : loadEach(dirs)) {
    if (p.spec().id != spec.id) {
      continue;
    }
    const bool inPluginDir =
        fs::weakly_canonical(p.path.parent_path(), ec) == fs::weakly_canonical(pluginDir, ec);
    if (inPluginDir && (p.path.filename() == fileName || p.path.filename() == replacedFile)) {
      continue;  // the install being replaced
    }
    if (inPluginDir) {
      throw InstallError(library, "conflict",
                         "connector '" + spec.id + "' is already provided by " + p.path.string() +
                             ", which the lock file does not list",
                         "remove " + p.path.string() + " first");
    }
    if (p.spec().version == spec.version) {
      throw InstallError(library, "conflict",
                         "connector '" + spec.id + "' " + spec.version +
                             " is already available from " + p.path.string(),
                         "nothing to install; two copies of one version would both be refused");
    }
  }

  // 4. Copy, verify, then switch the library and the lock file by renames.
  fs::create_directories(pluginDir, ec);
  if (ec) {
    throw InstallError(pluginDir, "io", "cannot create the plugin directory: " + ec.message(),
                       "set FERRY_HOME to a writable directory");
  }
  const std::string sha = sha256File(library);
  const auto tmp = pluginDir / tempName(fileName);
  fs::copy_file(library, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    throw InstallError(pluginDir, "io", "cannot copy the library: " + ec.message(),
                       "check the directory's permissions");
  }
  if (sha256File(tmp) != sha) {
    fs::remove(tmp, ec);
    throw InstallError(library, "io", "the copy differs from the original (it changed meanwhile?)",
                       "install again");
  }
  LockEntry entry{spec.id, spec.version, sha, fileName};
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [&](const LockEntry& e) { return e.id == spec.id; }),
                entries.end());
  entries.push_back(entry);
  fs::path lockTmp;
  try {
    lockTmp = prepare(lockPath(pluginDir), lockText(entries));
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    fs::remove(lockTmp, ec);
    throw InstallError(target, "io", "cannot move the library into place: " + ec.message(),
                       "check the directory's permissions");
  }
  commit(lockTmp, lockPath(pluginDir));
  if (!replacedFile.empty() && replacedFile != fileName) {
    fs::remove(pluginDir / replacedFile, ec);
  }
  return InstallResult{entry, target, replacedVersion};
}

LockEntry remove(const std::string& id, const fs::path& pluginDir) {
  auto entries = readLock(pluginDir);
  const auto it =
      std::find_if(entries.begin(), entries.end(), [&](const LockEntry& e) { return e.id == id; });
  if (it == entries.end()) {
    std::string installed;
    for (const auto& e : entries) {
      installed += (installed.empty() ? "" : ", ") + e.id;
    }
    throw InstallError(id, "not_installed",
                       "no plugin with this id is installed in " + pluginDir.string(),
                       installed.empty() ? "no plugin is installed there; ferry plugin list shows "
                                           "where the loaded plugins come from"
                                         : "installed: " + installed);
  }
  const LockEntry removed = *it;
  entries.erase(it);
  // The lock file is switched first: a library left behind by a failed removal is unlisted,
  // never a listed library that is gone.
  commit(prepare(lockPath(pluginDir), lockText(entries)), lockPath(pluginDir));
  std::error_code ec;
  fs::remove(pluginDir / removed.file, ec);
  if (ec) {
    throw InstallError(pluginDir / removed.file, "io",
                       "unlisted, but the file cannot be removed: " + ec.message(),
                       "delete the file by hand");
  }
  return removed;
}

}  // namespace ferry::core::loader

#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace ferry::core::loader {

// One plugin installed by `ferry plugin install`, as recorded in the lock file
// `<user plugin dir>/plugins.lock.json`.
struct LockEntry {
  std::string id;       // the connector id the library declares
  std::string version;  // the connector version it declares
  std::string sha256;   // of the installed file, lower-case hex
  std::string file;     // the file name inside the plugin directory: "<id>.so"
};

// Why an install or removal did not happen. Nothing was changed when it is thrown.
// `code` is stable: the loader's codes (not_elf, abi_mismatch, ...) for a refused library,
// conflict, not_installed, bad_lock, io.
class InstallError : public std::runtime_error {
 public:
  InstallError(std::filesystem::path place, std::string code, const std::string& message,
               std::string hint)
      : std::runtime_error(message),
        place(std::move(place)),
        code(std::move(code)),
        hint(std::move(hint)) {}
  std::filesystem::path place;
  std::string code;
  std::string hint;
};

struct InstallResult {
  LockEntry entry;
  std::filesystem::path installedPath;
  std::string replacedVersion;  // the version it replaced, empty for a first install
};

// The lock file of a plugin directory; an absent file is an empty lock.
// Throws InstallError (bad_lock) when it cannot be parsed.
std::filesystem::path lockPath(const std::filesystem::path& pluginDir);
std::vector<LockEntry> readLock(const std::filesystem::path& pluginDir);

// Validates `library` exactly as the loader does (it is loaded and its factory called), then
// copies it to `<pluginDir>/<id>.so` and records it in the lock file. Both files are replaced
// atomically (write to a temporary file, then rename). Installing an id that is already
// installed replaces it. `otherDirs` are the other directories ferry loads plugins from: a
// library there with the same id and version would make both refused, so that is a conflict.
// Throws InstallError, in which case neither the directory nor the lock file changed.
InstallResult install(const std::filesystem::path& library, const std::filesystem::path& pluginDir,
                      const std::vector<std::filesystem::path>& otherDirs);

// Removes the plugin installed under `id`: its file and its lock entry. Throws InstallError
// (not_installed) when the lock file does not list it.
LockEntry remove(const std::string& id, const std::filesystem::path& pluginDir);

// SHA-256 of a file's bytes, lower-case hex. Throws InstallError (io) when it cannot be read.
std::string sha256File(const std::filesystem::path& file);

}  // namespace ferry::core::loader

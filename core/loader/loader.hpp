#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ferry/sdk/connector.hpp"

namespace ferry::core::loader {

// One plugin library, loaded and ready. The connector keeps its library mapped: the library is
// unloaded only after the last copy of `connector` (and every object made from it) is gone.
struct LoadedPlugin {
  std::filesystem::path path;
  std::shared_ptr<sdk::Connector> connector;

  const sdk::ConnectorSpec& spec() const { return connector->spec(); }
};

// Why a library was refused. `code` is stable: not_found, not_elf, no_entry_point,
// abi_mismatch, load_failed (e.g. an unresolved symbol), factory_threw, bad_spec, duplicate,
// shadowed.
struct LoadError {
  std::filesystem::path path;
  std::string code;
  std::string reason;

  std::string message() const { return path.string() + ": " + reason; }
  // What the user can do about it, one sentence (empty when there is nothing to say).
  std::string hint() const;
};

struct ScanResult {
  std::vector<LoadedPlugin> plugins;
  std::vector<LoadError> errors;
};

// Loads one library. Checks, in order: the file exists and is ELF; its dynamic symbol table
// (read from the file, before anything is mapped) exports the ABI version and it matches the
// host's; it loads; it exports the entry point; then calls the factory (once) and checks the
// declaration. Loads with immediate binding, so an unresolved symbol is an error
// here, never a crash later. Never throws; a refused library yields a LoadError.
struct LoadOutcome {
  std::unique_ptr<LoadedPlugin> plugin;
  std::unique_ptr<LoadError> error;
};
LoadOutcome loadLibrary(const std::filesystem::path& path);

// Every `*.so` file directly inside each directory, loaded in directory order and then by name.
// Directories that do not exist, or were already scanned, are skipped. Libraries declaring the
// same connector id and version are all refused (code "duplicate", each error naming every
// other path); among versions of one id the first in search order wins and the others are
// reported with code "shadowed". Refused libraries never reach `plugins`.
ScanResult scan(const std::vector<std::filesystem::path>& directories);

// The directories ferry searches, in order: each entry of FERRY_PLUGIN_PATH (colon separated),
// the user's install directory, and the bundled directories beside the running binary.
std::vector<std::filesystem::path> defaultPluginDirs();

// Where the plugins built or installed with ferry live: <exe>/../lib/ferry/plugins (the build
// tree and a default install), plus <exe>/../<libdir>/ferry/plugins when the install used
// another libdir.
std::vector<std::filesystem::path> bundledPluginDirs();

// The user's install directory: $FERRY_HOME/plugins, else $XDG_DATA_HOME/ferry/plugins, else
// ~/.local/share/ferry/plugins.
std::filesystem::path userPluginDir();

// The running binary's directory (/proc/self/exe).
std::filesystem::path executableDir();

// Checks that a connector's declaration is usable by the host: ids well formed and unique.
// Returns the reasons it is not, empty when it is.
std::vector<std::string> checkSpec(const sdk::ConnectorSpec& spec);

}  // namespace ferry::core::loader

#include "loader/loader.hpp"

#include <elf.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string_view>

#include "ferry/sdk/plugin.hpp"

namespace ferry::core::loader {

namespace fs = std::filesystem;
namespace dll = boost::dll;

namespace {

constexpr const char* kEntryPoint = "ferry_create_connector";
constexpr const char* kAbiSymbol = "ferry_sdk_abi_version";

bool isElf(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' &&
         magic[3] == 'F';
}

// What the file's dynamic symbol table says about the ABI symbol, read without loading the
// library, so that a library built for another ABI (or not for ferry at all) never runs any of
// its code, not even its static initialisers.
struct AbiProbe {
  enum class Result { Unknown, Absent, Found } result = Result::Unknown;
  std::uint32_t version = 0;
};

AbiProbe probeAbi(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const std::uint64_t fileSize = fs::file_size(path, ec);
  if (!in || ec) {
    return {};
  }
  // Reads `size` bytes at `offset` into `out`; false when they are not all in the file.
  auto readAt = [&](std::uint64_t offset, std::uint64_t size, void* out) {
    if (offset > fileSize || size > fileSize - offset) {
      return false;
    }
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(static_cast<char*>(out), static_cast<std::streamsize>(size));
    return static_cast<std::uint64_t>(in.gcount()) == size;
  };
  Elf64_Ehdr header{};
  if (!readAt(0, sizeof header, &header) || header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_ident[EI_DATA] != ELFDATA2LSB || header.e_shentsize != sizeof(Elf64_Shdr)) {
    return {};  // not what this parser reads: let dlopen decide
  }
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  if (!readAt(header.e_shoff, sections.size() * sizeof(Elf64_Shdr), sections.data())) {
    return {};
  }
  for (const auto& symtab : sections) {
    if (symtab.sh_type != SHT_DYNSYM || symtab.sh_link >= sections.size() ||
        symtab.sh_entsize != sizeof(Elf64_Sym)) {
      continue;
    }
    const auto& strtab = sections[symtab.sh_link];
    std::vector<Elf64_Sym> symbols(symtab.sh_size / sizeof(Elf64_Sym));
    std::string names(strtab.sh_size, '\0');
    if (!readAt(symtab.sh_offset, symbols.size() * sizeof(Elf64_Sym), symbols.data()) ||
        !readAt(strtab.sh_offset, names.size(), names.data())) {
      return {};
    }
    for (const auto& sym : symbols) {
      if (sym.st_name >= names.size() || sym.st_shndx == SHN_UNDEF ||
          std::string_view(names.c_str() + sym.st_name) != kAbiSymbol) {
        continue;
      }
      if (sym.st_shndx >= sections.size() || sym.st_size != sizeof(std::uint32_t)) {
        return {};
      }
      const auto& section = sections[sym.st_shndx];
      if (section.sh_type == SHT_NOBITS || sym.st_value < section.sh_addr) {
        return {};
      }
      AbiProbe probe{AbiProbe::Result::Found, 0};
      if (!readAt(section.sh_offset + (sym.st_value - section.sh_addr), sizeof probe.version,
                  &probe.version)) {
        return {};
      }
      return probe;
    }
    return {AbiProbe::Result::Absent, 0};
  }
  return {};
}

std::string abiMismatch(std::uint32_t abi) {
  return "was built for SDK ABI " + std::to_string(abi) + ", this ferry speaks ABI " +
         std::to_string(sdk::kAbiVersion) + "; rebuild it against this SDK";
}

// Boost.DLL's messages end with a bogus errno text; the dlerror part in parentheses is the
// useful one (cpp-stack.md #4).
std::string dlerrorText(const std::exception& e) {
  std::string what = e.what();
  const auto open = what.find("dlerror system message: ");
  if (open == std::string::npos) {
    return what;
  }
  auto text = what.substr(open + 24);
  const auto close = text.rfind(')');
  return close == std::string::npos ? text : text.substr(0, close);
}

LoadOutcome refuse(const fs::path& path, std::string code, std::string reason) {
  LoadOutcome out;
  out.error = std::make_unique<LoadError>(LoadError{path, std::move(code), std::move(reason)});
  return out;
}

}  // namespace

std::string LoadError::hint() const {
  if (code == "not_found") {
    return "check the path; ferry plugin list shows the installed plugins";
  }
  if (code == "not_elf" || code == "no_entry_point") {
    return "a ferry plugin is a shared library built with FERRY_PLUGIN(factory) from "
           "<ferry/sdk/plugin.hpp>";
  }
  if (code == "abi_mismatch") {
    return "rebuild the plugin against the SDK of this ferry (find_package(ferry_sdk))";
  }
  if (code == "load_failed") {
    return "link plugins with -Wl,--no-undefined (ferry_add_plugin does) and only against the SDK";
  }
  if (code == "factory_threw") {
    return "the plugin's factory must construct its connector without throwing";
  }
  if (code == "bad_spec") {
    return "operation ids are '<connector>.<resource>.<verb>' in lower snake case, each once";
  }
  if (code == "duplicate" || code == "shadowed") {
    return "ferry plugin list shows where each plugin comes from";
  }
  return "";
}

// Whether `s` is `n` dot-separated words, each [a-z][a-z0-9_]*. Hand-written: compiling and
// running std::regex for every operation id cost 2.8 M instructions in `ferry catalog list`
// (4%, both plugins); this costs 0.14 M.
static bool isSnakePath(std::string_view s, int n) {
  int words = 0;
  std::size_t i = 0;
  while (true) {
    if (i >= s.size() || s[i] < 'a' || s[i] > 'z') {
      return false;
    }
    ++words;
    ++i;
    while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) {
      ++i;
    }
    if (i == s.size()) {
      return words == n;
    }
    if (s[i] != '.' || words == n) {
      return false;
    }
    ++i;
  }
}

std::vector<std::string> checkSpec(const sdk::ConnectorSpec& spec) {
  std::vector<std::string> problems;
  if (!isSnakePath(spec.id, 1)) {
    problems.push_back("connector id '" + spec.id + "' is not lower snake case");
  }
  if (spec.version.empty()) {
    problems.push_back("connector '" + spec.id + "' declares no version");
  }
  std::set<std::string> seen;
  for (const auto& op : spec.operations) {
    if (!isSnakePath(op.id, 3) || op.id.rfind(spec.id + ".", 0) != 0) {
      problems.push_back("operation id '" + op.id + "' is not '" + spec.id + ".<resource>.<verb>'");
    }
    if (!seen.insert(op.id).second) {
      problems.push_back("operation id '" + op.id + "' is declared twice");
    }
  }
  return problems;
}

LoadOutcome loadLibrary(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return refuse(path, "not_found", "no such file");
  }
  if (!isElf(path)) {
    return refuse(path, "not_elf", "not an ELF shared library");
  }
  const auto probe = probeAbi(path);
  if (probe.result == AbiProbe::Result::Absent) {
    return refuse(path, "no_entry_point",
                  "exports no '" + std::string(kAbiSymbol) + "' (not built with FERRY_PLUGIN)");
  }
  if (probe.result == AbiProbe::Result::Found && probe.version != sdk::kAbiVersion) {
    return refuse(path, "abi_mismatch", abiMismatch(probe.version));
  }
  std::shared_ptr<dll::shared_library> lib;
  try {
    // Immediate binding: an unresolved symbol fails here instead of killing the process at the
    // first call (cpp-stack.md #1).
    lib = std::make_shared<dll::shared_library>(
        path, dll::load_mode::rtld_now | dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return refuse(path, "load_failed", "cannot be loaded: " + dlerrorText(e));
  } catch (...) {
    return refuse(path, "load_failed", "cannot be loaded: unknown error");
  }
  if (!lib->has(kAbiSymbol)) {
    return refuse(path, "no_entry_point",
                  "exports no '" + std::string(kAbiSymbol) + "' (not built with FERRY_PLUGIN)");
  }
  const auto abi = lib->get<const std::uint32_t>(kAbiSymbol);
  if (abi != sdk::kAbiVersion) {
    return refuse(path, "abi_mismatch", abiMismatch(abi));
  }
  if (!lib->has(kEntryPoint)) {
    return refuse(path, "no_entry_point",
                  "exports no entry point '" + std::string(kEntryPoint) + "'");
  }
  std::unique_ptr<sdk::Connector> made;
  try {
    auto& factory = lib->get_alias<sdk::ConnectorFactory>(kEntryPoint);
    made = factory();
  } catch (const std::exception& e) {
    return refuse(path, "factory_threw", std::string("factory threw: ") + e.what());
  } catch (...) {
    return refuse(path, "factory_threw", "factory threw a non-standard exception");
  }
  if (!made) {
    return refuse(path, "factory_threw", "factory returned no connector");
  }
  // The deleter holds the library, so it stays mapped while the connector lives
  // (cpp-stack.md #2).
  std::shared_ptr<sdk::Connector> connector(made.release(), [lib](sdk::Connector* c) { delete c; });
  std::vector<std::string> problems;
  try {
    problems = checkSpec(connector->spec());
  } catch (const std::exception& e) {
    problems.push_back(std::string("spec() threw: ") + e.what());
  }
  if (!problems.empty()) {
    std::string reason = "declaration refused: " + problems.front();
    if (problems.size() > 1) {
      reason += " (and " + std::to_string(problems.size() - 1) + " more)";
    }
    return refuse(path, "bad_spec", reason);
  }
  LoadOutcome out;
  out.plugin = std::make_unique<LoadedPlugin>(LoadedPlugin{path, std::move(connector)});
  return out;
}

ScanResult scan(const std::vector<fs::path>& directories) {
  ScanResult result;
  std::set<fs::path> visited;
  std::vector<LoadedPlugin> loaded;  // in search order
  for (const auto& dir : directories) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      continue;
    }
    const auto canonical = fs::weakly_canonical(dir, ec);
    if (!visited.insert(ec ? dir : canonical).second) {
      continue;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".so") {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      auto outcome = loadLibrary(file);
      if (outcome.error) {
        result.errors.push_back(std::move(*outcome.error));
      } else {
        loaded.push_back(std::move(*outcome.plugin));
      }
    }
  }
  // Two libraries with the same id and version: neither is trusted, and each error names every
  // library involved so that the user knows which file to remove.
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> byIdVersion;
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    byIdVersion[{loaded[i].spec().id, loaded[i].spec().version}].push_back(i);
  }
  std::vector<bool> refused(loaded.size(), false);
  for (const auto& [key, indexes] : byIdVersion) {
    if (indexes.size() < 2) {
      continue;
    }
    for (std::size_t i : indexes) {
      std::string others;
      for (std::size_t j : indexes) {
        if (j != i) {
          others += (others.empty() ? "" : ", ") + loaded[j].path.string();
        }
      }
      result.errors.push_back(LoadError{loaded[i].path, "duplicate",
                                        "declares connector '" + key.first + "' " + key.second +
                                            ", as does " + others +
                                            "; remove all but one of these libraries"});
      refused[i] = true;
    }
  }
  // Same id, another version: the first one in search order wins.
  std::map<std::string, std::size_t> winner;
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    if (refused[i]) {
      continue;
    }
    const auto& spec = loaded[i].spec();
    auto [it, fresh] = winner.emplace(spec.id, i);
    if (fresh) {
      result.plugins.push_back(loaded[i]);
      continue;
    }
    const auto& first = loaded[it->second];
    result.errors.push_back(LoadError{loaded[i].path, "shadowed",
                                      "declares connector '" + spec.id + "' " + spec.version +
                                          ", shadowed by version " + first.spec().version +
                                          " from " + first.path.string()});
  }
  return result;
}

fs::path executableDir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

fs::path userPluginDir() {
  if (const char* home = std::getenv("FERRY_HOME"); home != nullptr && *home != '\0') {
    return fs::path(home) / "plugins";
  }
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
    return fs::path(xdg) / "ferry" / "plugins";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr ? home : "/tmp") / ".local" / "share" / "ferry" / "plugins";
}

std::vector<fs::path> defaultPluginDirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("FERRY_PLUGIN_PATH"); env != nullptr) {
    std::string all = env;
    std::size_t start = 0;
    while (start <= all.size()) {
      const auto colon = all.find(':', start);
      const auto part =
          all.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!part.empty()) {
        dirs.emplace_back(part);
      }
      if (colon == std::string::npos) {
        break;
      }
      start = colon + 1;
    }
  }
  dirs.push_back(userPluginDir());
  for (auto& dir : bundledPluginDirs()) {
    dirs.push_back(std::move(dir));
  }
  return dirs;
}

std::vector<fs::path> bundledPluginDirs() {
  const auto prefix = executableDir().parent_path();
  std::vector<fs::path> dirs{prefix / "lib" / "ferry" / "plugins"};
#ifdef FERRY_INSTALL_PLUGINDIR
  // An install with another libdir (e.g. lib/x86_64-linux-gnu) puts the plugins there.
  const auto installed = prefix / FERRY_INSTALL_PLUGINDIR;
  if (installed.lexically_normal() != dirs.front().lexically_normal()) {
    dirs.push_back(installed);
  }
#endif
  return dirs;
}

}  // namespace ferry::core::loader

// `ferry sandbox [ghl|umsatzio|all] [--port N] [--faults SPEC] [extra options]`: starts the
// local emulators that live beside the binary in <exe>/../libexec/ferry/ferry-sandbox-<id>.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <vector>

#include "cli/cli.hpp"
#include "loader/loader.hpp"

extern char** environ;

namespace ferry::core::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kPrefix = "ferry-sandbox-";

fs::path sandboxDir() { return loader::executableDir() / ".." / "libexec" / "ferry"; }

// The sandboxes that are installed, by id, sorted.
std::vector<std::string> availableSandboxes() {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(sandboxDir(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) == 0 && access(entry.path().c_str(), X_OK) == 0) {
      ids.push_back(name.substr(std::strlen(kPrefix)));
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

struct Child {
  std::string id;
  pid_t pid = -1;
  int out = -1;
  std::string buffer;
};

std::vector<std::string> childArgs(const fs::path& exe, int port, const std::string& faults,
                                   const std::vector<std::string>& extra) {
  std::vector<std::string> args = {exe.string()};
  if (port >= 0) {
    args.push_back("--port");
    args.push_back(std::to_string(port));
  }
  if (!faults.empty()) {
    args.push_back("--faults");
    args.push_back(faults);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::vector<char*> cArgs(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) {
    out.push_back(a.data());
  }
  out.push_back(nullptr);
  return out;
}

// Reads the first stdout line of a child, bounded by `timeout`. Empty on failure.
std::string firstLine(Child& child, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto nl = child.buffer.find('\n');
    if (nl != std::string::npos) {
      return child.buffer.substr(0, nl);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return "";
    }
    pollfd p{child.out, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      return "";
    }
    if (ready <= 0) {
      continue;
    }
    char chunk[4096];
    const ssize_t n = read(child.out, chunk, sizeof chunk);
    if (n <= 0) {
      return "";
    }
    child.buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

void stopAll(std::vector<Child>& children) {
  for (auto& c : children) {
    if (c.pid > 0) {
      kill(c.pid, SIGTERM);
    }
  }
  for (auto& c : children) {
    if (c.pid > 0) {
      // Bounded: SIGKILL after 10 s.
      int status = 0;
      for (int i = 0; i < 500 && waitpid(c.pid, &status, WNOHANG) == 0; ++i) {
        usleep(20000);
      }
      if (waitpid(c.pid, &status, WNOHANG) == 0) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, &status, 0);
      }
      c.pid = -1;
    }
  }
}

int runAll(int port, const std::string& faults, const std::vector<std::string>& extra) {
  const auto ids = availableSandboxes();
  if (ids.empty()) {
    printError("ferry sandbox", "no_sandbox", "no sandbox is installed in " + sandboxDir().string(),
               "build the sandboxes (cmake --build --preset dev)");
    return kFailure;
  }
  // Stop signals are taken synchronously below; children get the default dispositions back.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGCHLD);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &signals, &previous);

  std::vector<Child> children;
  sdk::Json combined = sdk::Json::object();
  int failure = kOk;
  for (std::size_t i = 0; i < ids.size() && failure == kOk; ++i) {
    Child child;
    child.id = ids[i];
    int fds[2];
    if (pipe(fds) != 0) {
      failure = kFailure;
      break;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &previous);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    const int childPort = port > 0 ? port + static_cast<int>(i) : (port == 0 ? 0 : -1);
    auto args = childArgs(sandboxDir() / (kPrefix + ids[i]), childPort, faults, extra);
    auto argv = cArgs(args);
    const int rc = posix_spawn(&child.pid, args[0].c_str(), &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    child.out = fds[0];
    if (rc != 0) {
      printError(args[0], "spawn_failed", std::strerror(rc));
      close(child.out);
      failure = kFailure;
      break;
    }
    children.push_back(child);
    const std::string line = firstLine(children.back(), std::chrono::seconds(30));
    try {
      combined[ids[i]] = sdk::Json::parse(line);
    } catch (const std::exception&) {
      printError(args[0], "sandbox_failed",
                 "the sandbox did not describe itself on its first stdout line",
                 "run `ferry sandbox " + ids[i] + "` alone to see its error");
      failure = kFailure;
    }
  }
  if (failure != kOk) {
    stopAll(children);
    return failure;
  }
  std::cout << combined.dump() << std::endl;

  int result = kOk;
  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGCHLD) {
      break;
    }
    bool died = false;
    for (auto& c : children) {
      int status = 0;
      if (c.pid > 0 && waitpid(c.pid, &status, WNOHANG) == c.pid) {
        std::cerr << "ferry sandbox: error[sandbox_exited]: sandbox '" << c.id
                  << "' exited; stopping the others\n";
        c.pid = -1;
        died = true;
      }
    }
    if (died) {
      result = kFailure;
      break;
    }
  }
  stopAll(children);
  for (auto& c : children) {
    close(c.out);
  }
  return result;
}

}  // namespace

void addSandboxCommands(Cli& cli) {
  struct Options {
    std::string id = "all";
    int port = -1;
    std::string faults;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = cli.app.add_subcommand(
      "sandbox",
      "Start a local emulator of a service (ghl, umsatzio) or all of them. The first stdout line "
      "is JSON describing it (base_url, tokens, ...); it serves until SIGTERM. Options the "
      "sandbox itself knows (e.g. --no-rate-limit) are passed through.");
  cmd->add_option("id", opts->id, "Which sandbox: an installed id, or all")->capture_default_str();
  cmd->add_option("--port", opts->port, "Port (0 = any free port; with all: N, N+1, ...)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--faults", opts->faults,
                  "Inject faults, e.g. 429=0.05,5xx=0.1,drop=0.01,latency=0-200");
  cmd->allow_extras();
  cmd->callback([&cli, cmd, opts] {
    const auto extra = cmd->remaining();
    const auto ids = availableSandboxes();
    if (opts->id == "all") {
      cli.exitCode = runAll(opts->port, opts->faults, extra);
      return;
    }
    if (std::find(ids.begin(), ids.end(), opts->id) == ids.end()) {
      std::string list;
      for (const auto& id : ids) {
        list += (list.empty() ? "" : ", ") + id;
      }
      printError("ferry sandbox", "unknown_sandbox", "no sandbox '" + opts->id + "' is installed",
                 "available: " + (list.empty() ? std::string("none") : list) + ", all");
      cli.exitCode = kUsage;
      return;
    }
    auto args = childArgs(sandboxDir() / (kPrefix + opts->id), opts->port, opts->faults, extra);
    auto argv = cArgs(args);
    std::cout.flush();
    execv(args[0].c_str(), argv.data());
    printError(args[0], "exec_failed", std::strerror(errno));
    cli.exitCode = kFailure;
  });
}

}  // namespace ferry::core::cli

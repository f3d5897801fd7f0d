#pragma once

// Spawning a program for tests with a controlled environment and its output in files, and
// stopping it again. Header-only; every wait is bounded. (ChildProcess in process.hpp is the
// variant that pipes stdout, for programs that describe themselves on their first line.)

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace ferry::testing {

// This process's environment with `env` applied: an entry replaces the inherited variable of
// that name, and an empty value removes it.
inline std::vector<std::string> environmentWith(const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (env.count(entry.substr(0, entry.find('='))) == 0) {
      out.push_back(entry);
    }
  }
  for (const auto& [name, value] : env) {
    if (!value.empty()) {
      out.push_back(name + "=" + value);
    }
  }
  return out;
}

struct SpawnFiles {
  std::filesystem::path in;   // empty: /dev/null
  std::filesystem::path out;  // stdout
  std::filesystem::path err;  // stderr
  bool append = false;        // append to out/err (a process restarted into the same files)
};

// Starts `program` (a path) with `args` and the environment `env` applies (environmentWith).
// Throws std::runtime_error when it cannot be started.
inline pid_t spawnProgram(const std::string& program, const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env, const SpawnFiles& files) {
  auto envStrings = environmentWith(env);
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) {
    cargv.push_back(a.data());
  }
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (auto& e : envStrings) {
    cenv.push_back(e.data());
  }
  cenv.push_back(nullptr);
  const int mode = O_WRONLY | O_CREAT | (files.append ? O_APPEND : O_TRUNC);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, files.in.empty() ? "/dev/null" : files.in.c_str(),
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, files.out.c_str(), mode, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, files.err.c_str(), mode, 0644);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, program.c_str(), &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::runtime_error("cannot start " + program);
  }
  return pid;
}

// Waits up to `timeout` for `pid` to exit; SIGKILL after it, then throws (the program hung).
// Returns the waitpid status.
inline int waitExit(pid_t pid, std::chrono::milliseconds timeout, const std::string& what) {
  if (pid <= 0) {  // waitpid(-1) would wait for any child, kill(-1) signal every process
    throw std::runtime_error(what + ": no process to wait for");
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      throw std::runtime_error(what + " did not finish in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status;
}

// Sends `sig` to `pid` (when > 0), waits up to `grace` for the exit, SIGKILL after it. Sets
// `pid` to -1 and returns the waitpid status (-1 when there was nothing to stop).
inline int stopProcess(pid_t& pid, int sig,
                       std::chrono::milliseconds grace = std::chrono::seconds(20)) {
  if (pid <= 0) {
    return -1;
  }
  kill(pid, sig);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  pid = -1;
  return status;
}

// The exit code of a waitpid status: the code, or 128 + the signal that ended it.
inline int exitCodeOf(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace ferry::testing

#pragma once

// A child process for tests: started with posix_spawn, its stdout piped so the test can read
// the first line (the sandboxes describe themselves there), stopped with SIGTERM (then SIGKILL
// after a grace period). Header-only; every wait is bounded.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace ferry::testing {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with the given arguments; stdin is /dev/null, stderr is inherited.
  // Throws std::runtime_error when the program cannot be started.
  explicit ChildProcess(const std::vector<std::string>& argv) {
    int fds[2];
    if (pipe(fds) != 0) {
      throw std::runtime_error(std::string("pipe failed: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv.at(0).c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
    }
    out_ = fds[0];
  }

  ~ChildProcess() {
    terminate();
    if (out_ >= 0) {
      close(out_);
    }
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Reads one line from the child's stdout (without the newline). Throws when the child
  // closes stdout or the timeout passes first.
  std::string readLine(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        throw std::runtime_error("timed out waiting for a line from the child's stdout");
      }
      pollfd p{out_, POLLIN, 0};
      const int ready = poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno != EINTR) {
        throw std::runtime_error(std::string("poll failed: ") + std::strerror(errno));
      }
      if (ready <= 0) {
        continue;
      }
      char chunk[4096];
      const ssize_t n = read(out_, chunk, sizeof chunk);
      if (n <= 0) {
        throw std::runtime_error("the child closed stdout before writing a full line");
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // Sends SIGTERM, waits up to `grace`, then SIGKILL. Returns the exit status as
  // waitpid reports it (or -1 if the child was already reaped).
  int terminate(std::chrono::milliseconds grace = std::chrono::seconds(10)) {
    if (pid_ <= 0) {
      return status_;
    }
    kill(pid_, SIGTERM);
    return waitFor(grace, true);
  }

  // Waits for the child to exit on its own, up to `timeout`; SIGKILL after it. Returns the
  // waitpid status.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return waitFor(timeout, true);
  }

  // The exit code when the child exited normally, -1 otherwise.
  static int exitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

 private:
  int waitFor(std::chrono::milliseconds timeout, bool killAfter) {
    if (pid_ <= 0) {
      return status_;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        status_ = status;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (killAfter) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
      status_ = status;
    }
    return status_;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int status_ = -1;
  std::string buffer_;
};

}  // namespace ferry::testing

#include "sandbox_process.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ferry::tests::umsatzio {

SandboxProcess::SandboxProcess(const std::vector<std::string>& args) {
  const std::string exe = std::string(FERRY_BINARY_DIR) + "/libexec/ferry/ferry-sandbox-umsatzio";
  int fds[2];
  if (pipe(fds) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<std::string> all = {exe};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  const int rc = posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  out_ = fds[0];
  if (rc != 0) {
    close(out_);
    throw std::runtime_error("cannot start " + exe);
  }
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{out_, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      throw std::runtime_error("the sandbox printed no first line within 20 s");
    }
    char buf[512];
    const ssize_t n = read(out_, buf, sizeof buf);
    if (n <= 0) {
      throw std::runtime_error("the sandbox exited before printing its description");
    }
    line.append(buf, static_cast<std::size_t>(n));
  }
  info_ = Json::parse(line.substr(0, line.find('\n')));
}

SandboxProcess::~SandboxProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (waitpid(pid_, &status, WNOHANG) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  if (out_ >= 0) {
    close(out_);
  }
}

Json SandboxProcess::admin(const std::string& method, const std::string& path, const Json& body) {
  sdk::HttpRequest req;
  req.method = method;
  req.url = baseUrl() + "/_sandbox/" + path;
  if (method != "GET") {
    req.body = body.dump();
    req.headers = {{"Content-Type", "application/json"}};
  }
  const auto res = http_.send(req);
  if (res.status / 100 != 2) {
    throw std::runtime_error("admin " + path + " answered " + std::to_string(res.status) + ": " + res.body);
  }
  return Json::parse(res.body);
}

}  // namespace ferry::tests::umsatzio

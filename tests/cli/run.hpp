#pragma once

// Runs the real `ferry` binary for CLI tests: posix_spawn with a controlled environment,
// stdout and stderr captured through files, and a bounded wait (the child is killed after
// `timeout`).
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/spawn.hpp"

namespace ferry::testing {

struct Run {
  int exitCode = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `env` entries replace inherited ones; an empty value removes the variable. `input` (when
// not empty) is the program's stdin.
inline Run runProgram(const std::string& program, const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env,
                      const std::filesystem::path& scratch,
                      std::chrono::seconds timeout = std::chrono::seconds(60),
                      const std::string& input = "") {
  std::filesystem::create_directories(scratch);
  SpawnFiles files{{}, scratch / "stdout", scratch / "stderr", false};
  if (!input.empty()) {
    files.in = scratch / "stdin";
    std::ofstream(files.in, std::ios::binary) << input;
  }
  const pid_t pid = spawnProgram(program, args, env, files);
  const int status = waitExit(pid, timeout, program);
  Run run;
  run.exitCode = exitCodeOf(status);
  run.out = slurp(files.out);
  run.err = slurp(files.err);
  return run;
}

}  // namespace ferry::testing

// Measures how fast `ferry` starts and answers, and how long each plugin library takes to load.
//
//   build/dev/bench/startup_bench [--runs N] [--ferry PATH] [--plugins DIR]...
//
// --json FILE also writes every reported line as JSON.
// 1. Runs /bin/true (the baseline), `ferry --version` and `ferry catalog list` N times each (stdout
// to /dev/null) and
//    reports the median, p90, min and max wall time in milliseconds, and the same for the CPU
//    time (user + system) of the child, which depends far less on the machine's load.
// 2. For every *.so in the plugin directories (default: the bundled ones beside ferry, plus the
//    test and example fixtures of the build tree), loads it N times, each time in a fresh forked
//    process so that nothing is cached by the dynamic linker, and reports the same figures.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loader/loader.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Stats {
  double median = 0;
  double p90 = 0;
  double min = 0;
  double max = 0;
};

Stats summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Stats s;
  if (ms.empty()) {
    return s;
  }
  s.median = ms[ms.size() / 2];
  s.p90 = ms[std::min(ms.size() - 1, (ms.size() * 9) / 10)];
  s.min = ms.front();
  s.max = ms.back();
  return s;
}

// Every reported line, for --json.
nlohmann::json& results() {
  static nlohmann::json r = nlohmann::json::array();
  return r;
}

void report(const std::string& what, const Stats& s, std::size_t runs) {
  results().push_back({{"what", what}, {"median_ms", s.median}, {"p90_ms", s.p90},
                       {"min_ms", s.min}, {"max_ms", s.max}, {"runs", runs}});
  std::printf("%-48s median %7.2f ms  p90 %7.2f ms  min %7.2f ms  max %7.2f ms  (%zu runs)\n",
              what.c_str(), s.median, s.p90, s.min, s.max, runs);
}

struct Sample {
  double wallMs = -1;  // negative when the run failed
  double cpuMs = 0;    // user + system time of the child: what the run costs on an idle machine
};

// Wall and CPU time of one run of `ferry args...`.
Sample timeRun(const std::string& ferry, const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>(ferry.c_str())};
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  const auto start = Clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, ferry.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return {};
  }
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  const auto end = Clock::now();
  posix_spawn_file_actions_destroy(&actions);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return {};
  }
  auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return {std::chrono::duration<double, std::milli>(end - start).count(),
          ms(usage.ru_utime) + ms(usage.ru_stime)};
}

// Load time of one library in a fresh child process, or a negative value when it was refused.
double timeLoad(const fs::path& library) {
  int fds[2];
  if (pipe(fds) != 0) {
    return -1;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const auto start = Clock::now();
    auto outcome = ferry::core::loader::loadLibrary(library);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    const double result = outcome.error ? -1 : ms;
    [[maybe_unused]] auto written = write(fds[1], &result, sizeof result);
    _exit(0);
  }
  close(fds[1]);
  double ms = -1;
  if (read(fds[0], &ms, sizeof ms) != static_cast<ssize_t>(sizeof ms)) {
    ms = -1;
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t runs = 50;
  const auto binDir = ferry::core::loader::executableDir().parent_path() / "bin";
  std::string ferry = (binDir / "ferry").string();
  std::vector<fs::path> pluginDirs;
  std::string jsonOut;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc) {
      runs = std::clamp<std::size_t>(std::stoul(argv[++i]), 1, 1000);
    } else if (arg == "--ferry" && i + 1 < argc) {
      ferry = argv[++i];
    } else if (arg == "--plugins" && i + 1 < argc) {
      pluginDirs.emplace_back(argv[++i]);
    } else if (arg == "--json" && i + 1 < argc) {
      jsonOut = argv[++i];
    } else {
      std::cerr << "usage: startup_bench [--runs N (1..1000)] [--ferry PATH] [--plugins DIR]... [--json FILE]\n";
      return 2;
    }
  }
  if (pluginDirs.empty()) {
    const auto prefix = binDir.parent_path();
    pluginDirs = {prefix / "lib" / "ferry" / "plugins", prefix / "tests" / "fixtures" / "good",
                  prefix / "tests" / "fixtures" / "examples"};
  }

  std::printf("ferry: %s\n", ferry.c_str());
  {
    // The cost of starting any process on this machine, for scale.
    std::vector<double> samples;
    std::vector<double> cpu;
    for (std::size_t i = 0; i < runs; ++i) {
      const auto sample = timeRun("/bin/true", {});
      samples.push_back(sample.wallMs);
      cpu.push_back(sample.cpuMs);
    }
    report("/bin/true (process start-up baseline)", summarize(samples), runs);
    report("  cpu (user+sys)", summarize(cpu), runs);
  }
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--version"}, {"catalog", "list"}}) {
    std::string name = "ferry";
    for (const auto& a : args) {
      name += " " + a;
    }
    timeRun(ferry, args);  // warm the page cache
    std::vector<double> samples;
    std::vector<double> cpu;
    for (std::size_t i = 0; i < runs; ++i) {
      const auto sample = timeRun(ferry, args);
      if (sample.wallMs < 0) {
        std::cerr << "startup_bench: '" << name << "' failed\n";
        return 1;
      }
      samples.push_back(sample.wallMs);
      cpu.push_back(sample.cpuMs);
    }
    report(name, summarize(samples), runs);
    report("  cpu (user+sys)", summarize(cpu), runs);
  }

  for (const auto& dir : pluginDirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      continue;
    }
    std::vector<fs::path> libraries;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".so") {
        libraries.push_back(entry.path());
      }
    }
    std::sort(libraries.begin(), libraries.end());
    for (const auto& library : libraries) {
      std::vector<double> samples;
      for (std::size_t i = 0; i < runs; ++i) {
        const double ms = timeLoad(library);
        if (ms < 0) {
          break;
        }
        samples.push_back(ms);
      }
      if (samples.empty()) {
        std::printf("%-48s refused by the loader\n",
                    ("load " + library.filename().string()).c_str());
        continue;
      }
      report("load " + library.filename().string(), summarize(samples), samples.size());
    }
  }
  if (!jsonOut.empty()) {
    std::ofstream(jsonOut) << results().dump(2) << "\n";
  }
  return 0;
}

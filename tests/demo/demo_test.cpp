// Runs `ferry demo --json` with a small workload and checks its exit code and its summary.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace {

struct Outcome {
  int exitCode = -1;
  std::string out;
};

// The command's stdout (stderr goes to the test log); bounded by `timeout` and ferry's own --timeout.
Outcome run(const std::string& args) {
  const std::string command = "timeout 240 " + std::string(FERRY_BINARY_DIR) + "/bin/ferry demo " + args;
  Outcome o;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return o;
  }
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    o.out.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  o.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

TEST(Demo, SmallWorkloadArrivesExactlyOnceWithFaultsOn) {
  const auto o = run("--contacts 30 --calls 10 --notes 10 --timeout 120 --json");
  ASSERT_FALSE(o.out.empty()) << "no summary on stdout";
  const auto summary = nlohmann::json::parse(o.out, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << o.out;
  EXPECT_EQ(o.exitCode, 0) << summary.dump(2);
  EXPECT_TRUE(summary.at("ok").get<bool>()) << summary.dump(2);
  EXPECT_TRUE(summary.at("differences").empty()) << summary.dump(2);

  // Every generated contact has an e-mail: 30 contacts in GHL, one per e-mail.
  EXPECT_EQ(summary["expected"]["contacts"], 30);
  EXPECT_EQ(summary["ghl"]["contacts"]["total"], 30);
  EXPECT_EQ(summary["expected"]["notes"], 10);
  EXPECT_EQ(summary["ghl"]["notes"]["total"], 10);
  EXPECT_EQ(summary["ghl"]["tasks"]["total"], summary["expected"]["tasks"]);
  EXPECT_LE(summary["expected"]["tasks"].get<int>(), 10);

  for (const char* key : {"contacts_sharing_an_email", "tasks_per_activity_over_one",
                          "notes_per_note_over_one"}) {
    EXPECT_EQ(summary["duplicates"][key], 0) << key;
  }
  for (const char* key : {"contacts", "tasks", "notes"}) {
    EXPECT_EQ(summary["lost"][key], 0) << key;
  }
  EXPECT_EQ(summary["ferry"]["dead_letters"], 0);
  EXPECT_EQ(summary["ferry"]["queued_left"], 0);
  // Faults were on: the sandboxes injected failures and ferry got through them.
  EXPECT_GT(summary["ferry"]["events_done"].get<double>(), 0);
}

TEST(Demo, RejectsABadOption) {
  const auto o = run("--contacts -5 2>/dev/null");
  EXPECT_EQ(o.exitCode, 2);
}

}  // namespace

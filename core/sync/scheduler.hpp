#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "engine/engine.hpp"
#include "flow/schedule.hpp"

namespace ferry::core::sync {

// Runs the sync cycles of the flows that have a `schedule:` inside `ferry run`, one at a time on
// its own thread, and keeps ferry_sync_drift{flow} current for every syncable flow (cycles run
// by `ferry sync` included: their summary is in the store). A cycle is due at
// nextRun(schedule, start of the last committed cycle); a flow never synced is due at once.
// start() after Engine::start(); stop() before Engine::stop() (it cancels a running cycle
// between records; nothing of a cancelled cycle is committed).
class Scheduler {
 public:
  explicit Scheduler(engine::Engine& engine);
  ~Scheduler();

  void start();
  void stop();

  // When the flow's next cycle is due, given the start of its last committed cycle (nullopt:
  // never). Public for tests.
  static std::chrono::system_clock::time_point dueAt(
      const flow::Schedule& schedule, std::optional<std::chrono::system_clock::time_point> last,
      std::chrono::system_clock::time_point now);

 private:
  void loop();

  engine::Engine& engine_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

}  // namespace ferry::core::sync

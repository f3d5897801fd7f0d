#include "sync/scheduler.hpp"

#include <map>

#include "log/log.hpp"
#include "secrets/masker.hpp"
#include "sync/sync.hpp"

namespace ferry::core::sync {

using namespace std::chrono_literals;
using SysClock = std::chrono::system_clock;

Scheduler::Scheduler(engine::Engine& engine) : engine_(engine) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  if (running_.exchange(true)) {
    return;
  }
  thread_ = std::thread(&Scheduler::loop, this);
}

void Scheduler::stop() {
  if (!running_.exchange(false)) {
    return;
  }
  {
    std::lock_guard lock(mutex_);
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

SysClock::time_point Scheduler::dueAt(const flow::Schedule& schedule,
                                      std::optional<SysClock::time_point> last,
                                      SysClock::time_point now) {
  if (!last) {
    return now;
  }
  // A cron schedule missed while ferry was down runs once at start, not once per missed slot.
  return flow::nextRun(schedule, *last).value_or(SysClock::time_point::max());
}

void Scheduler::loop() {
  // A failed cycle is tried again after this back-off, not at every tick.
  std::map<std::string, SysClock::time_point> retryAt;
  while (running_) {
    // Hold the current set: a reload (SIGHUP) may replace it while a cycle runs.
    const auto flowSet = engine_.flowSet();
    for (const auto& lf : flowSet->flows) {
      if (!running_) {
        break;
      }
      if (!unsyncable(*lf).empty()) {
        continue;
      }
      const std::string id = lf->flow.id;
      std::optional<Json> last;
      try {
        last = lastCycle(engine_.store(), id);
      } catch (const std::exception&) {
        continue;  // the store is unavailable; the workers log that
      }
      if (last) {
        publish(engine_.metrics(), id, *last);
      }
      if (!lf->flow.schedule) {
        continue;
      }
      std::optional<SysClock::time_point> lastAt;
      if (last && last->contains("at_unix") && (*last)["at_unix"].is_number()) {
        lastAt = SysClock::time_point(std::chrono::duration_cast<SysClock::duration>(
            std::chrono::duration<double>((*last)["at_unix"].get<double>())));
      }
      const auto now = SysClock::now();
      if (now < dueAt(*lf->flow.schedule, lastAt, now)) {
        continue;
      }
      if (auto it = retryAt.find(id); it != retryAt.end() && now < it->second) {
        continue;
      }
      Options options;
      options.full = lf->flow.schedule->full;
      options.budgetShare = lf->flow.schedule->budgetShare;
      options.cancelled = [this] { return !running_; };
      try {
        log::write(sdk::LogLevel::Info, "A scheduled sync cycle starts.",
                   {{"flow", id}, {"schedule", lf->flow.schedule->text}});
        Cycle cycle(engine_, *lf);
        const Report report = cycle.run(options);
        retryAt.erase(id);
        log::write(sdk::LogLevel::Info, "A scheduled sync cycle finished.",
                   {{"flow", id},
                    {"mode", report.full ? "full" : "changed"},
                    {"source_records", report.sourceRecords},
                    {"missing", report.count(Drift::Kind::Missing)},
                    {"different", report.count(Drift::Kind::Different)},
                    {"orphaned", report.count(Drift::Kind::Orphaned)},
                    {"queued", report.queued},
                    {"repair_eta_seconds", report.repairEta.count()}});
      } catch (const std::exception& e) {
        if (!running_) {
          break;
        }
        retryAt[id] = SysClock::now() + 60s;
        engine_.metrics()
            .counter("ferry_sync_failures_total", "Sync cycles that failed.", {{"flow", id}})
            .add();
        log::write(sdk::LogLevel::Warn, "A scheduled sync cycle failed; it is tried again in a minute.",
                   {{"flow", id}, {"error", secrets::Masker::global().maskText(e.what())}});
      }
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, 1s, [this] { return !running_; });
  }
}

}  // namespace ferry::core::sync

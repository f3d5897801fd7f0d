#include "engine/lease_renewer.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "log/log.hpp"

namespace ferry::core::engine {

using Clock = std::chrono::steady_clock;

LeaseRenewer::LeaseRenewer(store::Store& store,
                           std::function<void(const store::Lease&, const std::string&)> onLost)
    : store_(store), onLost_(std::move(onLost)) {}

LeaseRenewer::~LeaseRenewer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::unique_ptr<LeaseRenewer::Watch> LeaseRenewer::watch(const store::Lease& lease,
                                                        std::chrono::microseconds duration) {
  auto entry = std::make_shared<Entry>();
  entry->lease = lease;
  entry->duration = duration;
  const auto every = std::max<std::chrono::microseconds>(duration / 3, std::chrono::milliseconds(10));
  entry->due = Clock::now() + every;
  {
    std::lock_guard lock(mutex_);
    entries_.insert(entry);
    if (!thread_.joinable() && !stopping_) {
      thread_ = std::thread(&LeaseRenewer::loop, this);
    }
  }
  cv_.notify_all();
  return std::make_unique<Watch>(*this, std::move(entry));
}

void LeaseRenewer::unwatch(const std::shared_ptr<Entry>& entry) {
  std::unique_lock lock(mutex_);
  entry->watched = false;
  entries_.erase(entry);
  cv_.wait(lock, [&] { return !entry->busy; });
}

bool LeaseRenewer::Watch::lost() const {
  std::lock_guard lock(renewer_->mutex_);
  return entry_->lost;
}

std::string LeaseRenewer::Watch::reason() const {
  std::lock_guard lock(renewer_->mutex_);
  return entry_->reason;
}

bool LeaseRenewer::Watch::finish() {
  renewer_->unwatch(entry_);
  return lost();
}

void LeaseRenewer::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto next = Clock::time_point::max();
    std::vector<std::shared_ptr<Entry>> due;
    const auto now = Clock::now();
    for (const auto& e : entries_) {
      if (e->lost) {
        continue;
      }
      if (e->due <= now) {
        due.push_back(e);
      } else {
        next = std::min(next, e->due);
      }
    }
    if (due.empty()) {
      if (next == Clock::time_point::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, next);
      }
      continue;
    }
    for (const auto& e : due) {
      e->busy = true;
    }
    lock.unlock();
    // Renewals run outside the lock: a slow store must not hold up watch() or finish().
    for (const auto& e : due) {
      const auto every =
          std::max<std::chrono::microseconds>(e->duration / 3, std::chrono::milliseconds(10));
      std::optional<store::Lease> renewed;
      std::string lostReason;
      try {
        renewed = store_.renew(e->lease, e->duration);
      } catch (const store::StoreError& error) {
        if (error.kind() == store::ErrorKind::LeaseLost ||
            error.kind() == store::ErrorKind::NotFound) {
          lostReason = error.what();
        } else {
          // The store is unreachable for now: the lease may still be ours. Try again soon;
          // if it lapses meanwhile, the next renewal (or the settle) finds out.
          log::write(sdk::LogLevel::Warn,
                     "A lease could not be renewed; trying again.",
                     {{"event", e->lease.eventId},
                      {"worker", e->lease.workerId},
                      {"error", error.what()}});
        }
      }
      bool report = false;
      {
        std::lock_guard relock(mutex_);
        if (renewed) {
          e->lease = *renewed;
        }
        if (!lostReason.empty() && e->watched) {
          e->lost = true;
          e->reason = lostReason;
          report = true;
        }
        e->due = Clock::now() + (renewed || !lostReason.empty() ? every : every / 2);
        e->busy = false;
      }
      cv_.notify_all();
      if (report && onLost_) {
        onLost_(e->lease, lostReason);
      }
    }
    lock.lock();
  }
}

}  // namespace ferry::core::engine

// ---- the engine's renewer ----------------------------------------------------------------------

#include "engine/engine.hpp"

namespace ferry::core::engine {

std::unique_ptr<LeaseRenewer> Engine::makeRenewer() {
  return std::make_unique<LeaseRenewer>(store_, [this](const store::Lease& lease,
                                                       const std::string& reason) {
    metrics_.counter("ferry_leases_lost_total",
                     "Runs whose event was taken over by another worker while they ran.")
        .add();
    log::write(sdk::LogLevel::Warn,
               "The lease of a running event was lost: another worker owns the event now, so "
               "this run stops and does not settle it.",
               {{"event", lease.eventId},
                {"worker", lease.workerId},
                {"attempt", lease.attempt},
                {"reason", reason}});
  });
}

}  // namespace ferry::core::engine

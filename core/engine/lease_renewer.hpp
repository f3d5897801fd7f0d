#pragma once

// Keeps the leases of runs in progress alive. A step whose call runs longer than the lease
// (ClaimOptions::leaseDuration, `limits.lease_seconds`) would otherwise let another worker take
// its event over while the first is still calling the service: a duplicate call. One thread per
// engine (started on first use) renews every watched lease every third of its duration, so two
// renewals may be missed before the lease lapses. When a renewal is refused (Store::renew throws
// LeaseLost or NotFound: the event was taken over, released or settled by someone else), the
// watch says so; the run must then not settle the event, which is someone else's now.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "store/store.hpp"

namespace ferry::core::engine {

class LeaseRenewer {
  struct Entry;

 public:
  // While a Watch lives (and until finish()), its lease is renewed.
  class Watch {
   public:
    Watch(LeaseRenewer& renewer, std::shared_ptr<Entry> entry)
        : renewer_(&renewer), entry_(std::move(entry)) {}
    ~Watch() { finish(); }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    // Whether a renewal was refused: the event is no longer this run's.
    bool lost() const;
    // Why (the store's LeaseLost message); empty while not lost.
    std::string reason() const;
    // Stops renewing, waiting for a renewal in flight to end, and returns lost(). Call it
    // before settling the event, so that no renewal races the settle. Idempotent.
    bool finish();

   private:
    LeaseRenewer* renewer_;
    std::shared_ptr<Entry> entry_;
  };

  // `onLost` is called (on the renewer's thread) once per lease found lost; it may log and
  // count, and must not call back into the renewer.
  explicit LeaseRenewer(store::Store& store,
                        std::function<void(const store::Lease&, const std::string&)> onLost = {});
  ~LeaseRenewer();
  LeaseRenewer(const LeaseRenewer&) = delete;
  LeaseRenewer& operator=(const LeaseRenewer&) = delete;

  // Starts renewing `lease` for `duration` every duration / 3 (at least every 10 ms).
  std::unique_ptr<Watch> watch(const store::Lease& lease, std::chrono::microseconds duration);

 private:
  struct Entry {
    store::Lease lease;
    std::chrono::microseconds duration{0};
    std::chrono::steady_clock::time_point due;
    bool busy = false;      // a renewal is in flight (guarded by the renewer's mutex)
    bool watched = true;    // false once finished
    bool lost = false;
    std::string reason;
  };

  void loop();
  void unwatch(const std::shared_ptr<Entry>& entry);

  store::Store& store_;
  std::function<void(const store::Lease&, const std::string&)> onLost_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::set<std::shared_ptr<Entry>> entries_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ferry::core::engine

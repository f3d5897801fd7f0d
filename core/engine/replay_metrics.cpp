#include "engine/replay_metrics.hpp"

namespace ferry::core::engine {

void refreshReplayGauges(store::Store& store, metrics::Registry& metrics) {
  const auto counts = store.replayCounts();
  metrics
      .gauge("ferry_dlq_replays_superseded",
             "Dead-letter replays settled as superseded: a newer event of the same record and "
             "flow was done, queued, running or dead (all workers, from the store).")
      .set(static_cast<double>(counts.superseded));
  metrics
      .gauge("ferry_dlq_replays_forced",
             "Dead-letter replays forced (--force) over a newer event of the same record and "
             "flow (all workers, from the store).")
      .set(static_cast<double>(counts.forced));
}

}  // namespace ferry::core::engine

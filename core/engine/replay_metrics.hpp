#pragma once

#include "metrics/metrics.hpp"
#include "store/store.hpp"

namespace ferry::core::engine {

// Sets the dead-letter replay gauges from the store's durable counts (replays are asked by
// `ferry dlq replay`, another process, so only the store knows them):
//   ferry_dlq_replays_superseded  replays settled as superseded by a newer event of the record
//   ferry_dlq_replays_forced      replays forced (--force) over a newer event of the record
// Throws StoreError like any store call.
void refreshReplayGauges(store::Store& store, metrics::Registry& metrics);

}  // namespace ferry::core::engine

// The single-node workload: one simulated shoald in memory mode, driven by a seeded random mix
// of puts (whole, streamed in pieces, abandoned by a client that disconnects, over budget),
// gets, stats, deletes and lists, each checked against a model of what must be stored.
//
// Safety: every acknowledged put reads back byte-exact with its digest until it is replaced
// or deleted; an abandoned or refused put never becomes visible; lists match the model; the
// memory budget returns to what the visible objects hold. The run is a pure function of its
// seed: `shoal-sim --seed=N` replays a failing one exactly.
#pragma once

#include <cstdint>
#include <string>

#include "shoal/base/status.h"

namespace shoal::sim {

struct WorkloadOptions {
    uint64_t seed = 1;
    uint32_t operations = 400;
    uint32_t keys = 24;                                     // Key space, so keys are overwritten.
    uint64_t object_bytes_max = uint64_t{3} * 1024 * 1024;  // Spans several 1 MiB pieces.
    uint64_t memory_bytes = uint64_t{16} * 1024 * 1024;     // Small, so the budget is hit.
};

struct WorkloadReport {
    Status status;              // OK, or the first property that failed, with its details.
    uint64_t trace_digest = 0;  // Hash of every reply; equal for equal seeds.
    uint64_t puts_acknowledged = 0;
    uint64_t puts_refused_no_space = 0;
    uint64_t puts_abandoned = 0;
    uint64_t gets_checked = 0;
    uint64_t lists_checked = 0;
    uint64_t events_run = 0;
};

WorkloadReport run_single_node_workload(const WorkloadOptions& options);

}  // namespace shoal::sim

// Garbage collection of superseded chunks (docs/cluster.md, "Garbage collection").
//
// A put or delete that has written a newer manifest (or a tombstone) to every manifest owner
// knows that no read can choose the version it superseded again: every read quorum meets a
// newer one. It then deletes that version's chunks. Until every owner holds the newer manifest
// the old chunks stay, so a read that still finds the old manifest also finds its chunks.
#pragma once

#include <functional>

#include "shoal/coordinator/layout.h"
#include "shoal/coordinator/peers.h"
#include "shoal/object/manifest.h"

namespace shoal::coordinator {

// Asks `node` to delete one chunk. Best effort: a delete that fails is counted.
void collect_chunk(Peers& peers,
                   const NodeKey& node,
                   const object::ChunkId& chunk,
                   OperationStats& stats);

// Asks the node that holds each chunk of `superseded` (the manifest's hint, else the stripe's
// candidate) to delete it. Best effort: a delete that fails is counted and its chunk stays.
// Nothing to do for an inline manifest or a tombstone. `answered`, if given, runs once every
// delete is answered (at once if there is none); `stats` must live until then.
void collect_chunks(Peers& peers,
                    const Layout& layout,
                    const object::Manifest& superseded,
                    OperationStats& stats,
                    std::function<void()> answered = nullptr);

}  // namespace shoal::coordinator

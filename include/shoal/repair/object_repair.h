// ObjectRepair: brings one object's copies back to what its newest manifest says
// (docs/repair.md).
//
// It asks every manifest owner for the key's manifest (and a node known to hold one, which
// may be no owner after a layout change) and writes the newest to each owner that answered
// with an older one or none, tombstones included. For a striped object it then reads
// every chunk of every stripe, one stripe at a time, from where a get would look for it (the
// node the manifest names, then the chunk's owner). A chunk that is missing or fails its
// checks is rebuilt from any k good ones, checked against the stripe's digest, and written to
// its owner under the current layout; a corrupt copy is deleted first. A chunk whose node did
// not answer is not rebuilt: the node may hold it. A stripe with fewer than k good chunks
// cannot be rebuilt and is counted.
//
// Once every owner holds the newest manifest (each answered with it or took it), no read
// can choose an older version again, so the chunks of any older version an owner still held
// (superseded while that owner was away) are deleted, as a put does for the version it
// replaces (coordinator/collect.h). Not when a holder outside the owners answered with a
// manifest (a node on another layout may read it), nor when the newest is not whole (a short,
// unknown or unrebuilt stripe): an older version may then hold the only good bytes.
//
// Bounded: one stripe's chunks, read and rebuilt, are in memory at a time, and each stripe
// waits for its caller's pace before it is read.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "shoal/coordinator/layout.h"
#include "shoal/coordinator/peers.h"
#include "shoal/erasure/codec.h"
#include "shoal/object/manifest.h"

namespace shoal::repair {

struct RepairStats {
    uint64_t objects_checked = 0;
    uint64_t manifests_repaired = 0;  // Newest manifests written to owners that lacked them.
    uint64_t chunks_checked = 0;      // Read back and found good.
    uint64_t chunks_rebuilt = 0;      // Missing or corrupt, rebuilt and written to their owner.
    uint64_t chunks_unknown = 0;      // Their node did not answer: left as they are.
    uint64_t chunk_rebuilds_failed = 0;
    uint64_t stripes_unrecoverable = 0;  // Fewer than k good chunks.
    uint64_t bytes_read = 0;             // Chunk records read.
    // Older versions an owner still held, whose chunks were deleted once the newest manifest
    // was on every owner, and those deletes.
    uint64_t versions_collected = 0;
    uint64_t chunks_collected = 0;
    uint64_t chunk_collections_failed = 0;
};

class ObjectRepair : public std::enable_shared_from_this<ObjectRepair> {
public:
    using Done = std::function<void()>;
    // Asked before each stripe is read, with the bytes it will read: true if it may go now;
    // false, and `resume` is called once it may. Null: every stripe goes at once.
    using Pace = std::function<bool(uint64_t bytes, std::function<void()> resume)>;

    // What to repair: the key, and a node that listed a manifest of it, asked with its owners.
    struct Target {
        std::string key;
        std::optional<coordinator::NodeKey> holder;
    };

    // Repairs `key`; `done` runs once every call it made has been answered, never inside this
    // call. `peers` and `stats` must outlive the repair.
    static void start(coordinator::Peers& peers,
                      std::shared_ptr<const coordinator::Layout> layout,
                      Target target,
                      RepairStats& stats,
                      Pace pace,
                      Done done);

    ObjectRepair(coordinator::Peers& peers,
                 std::shared_ptr<const coordinator::Layout> layout,
                 Target target,
                 RepairStats& stats,
                 Pace pace,
                 Done done);

private:
    enum class Found : uint8_t { kAsking, kGood, kMissing, kCorrupt, kUnknown };

    // One chunk of the stripe being repaired: where it was asked for and what came back.
    struct ChunkRead {
        Found found = Found::kAsking;
        coordinator::NodeKey node;
        bool asked_owner = false;
        Buffer record;
        size_t data_offset = 0;
    };

    void read_manifests();
    void on_manifests(const std::vector<Result<std::optional<object::Manifest>>>& answers);
    void start_stripe();
    void ask_chunk(uint32_t chunk_index, const coordinator::NodeKey& node);
    void on_chunk(uint32_t chunk_index, Result<Buffer> record);
    static Found found_of(const Status& failure);
    Found check_chunk(uint32_t chunk_index, ChunkRead& read) const;
    void on_stripe_read();
    Status rebuild(std::vector<Buffer>& rebuilt, erasure::ChunkMask good);
    void write_rebuilt(const std::shared_ptr<std::vector<Buffer>>& rebuilt);
    void write_chunk(uint32_t chunk_index,
                     const coordinator::NodeKey& owner,
                     const std::shared_ptr<std::vector<Buffer>>& rebuilt);
    void write_answered();
    void note_superseded(std::span<const Result<std::optional<object::Manifest>>> answers);
    void finish();
    void collect_superseded();
    void call_done();
    object::ChunkId chunk_id(uint32_t chunk_index) const;

    coordinator::Peers& peers_;
    std::shared_ptr<const coordinator::Layout> layout_;
    std::string key_;
    std::optional<coordinator::NodeKey> holder_;
    RepairStats& stats_;
    Pace pace_;
    bool paced_ = false;  // The current stripe has its pace already.
    Done done_;
    std::optional<object::Manifest> manifest_;
    // Older striped versions the owners held, and whether every owner holds manifest_ now.
    std::vector<object::Manifest> superseded_;
    bool owners_current_ = true;
    bool newest_whole_ = true;  // No stripe of it was short, unknown or failed to rebuild.
    bool finishing_ = false;
    coordinator::OperationStats collections_;
    std::optional<erasure::Codec> codec_;
    uint32_t stripe_ = 0;
    std::vector<coordinator::NodeKey> candidates_;  // The current stripe's.
    std::vector<ChunkRead> chunks_;                 // The current stripe's, by chunk index.
    uint32_t in_flight_ = 0;
};

}  // namespace shoal::repair

// Layout: where an operation finds a key's manifest owners and a stripe's chunk holders, and
// the quorums it must reach (docs/cluster.md, "Where things live" and "Quorums").
//
// Every node computes the same answers from the same partition table, so a reader asks the
// nodes a writer wrote to. Pure: no IO.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "shoal/base/status.h"
#include "shoal/object/layout.h"
#include "shoal/object/manifest.h"
#include "shoal/placement/partition_table.h"

namespace shoal::coordinator {

using placement::NodeKey;

// The manifest keeps node ids in the object module's type; the two are the same 128 bits.
inline NodeKey node_key_of(const object::NodeKey& node) {
    return {.high = node.high, .low = node.low};
}
inline object::NodeKey object_node_key(const NodeKey& node) {
    return {.high = node.high, .low = node.low};
}

// Chunks of one stripe, counted toward a write: k + ceil(m / 2).
uint32_t write_quorum(object::Scheme scheme);

// The code of a write that missed its quorum: out of space if that is why the first node
// refused (retrying will not help until space is freed), else unavailable (retry later).
inline Code missed_quorum_code(const std::optional<Status>& first_failure) {
    return first_failure.has_value() && first_failure->code() == Code::kResourceExhausted
                   ? Code::kResourceExhausted
                   : Code::kUnavailable;
}

// Counters the operations add to; the node reports them.
struct OperationStats {
    uint64_t chunks_written = 0;
    uint64_t chunks_handed_off = 0;  // Written to a fallback because an owner failed.
    uint64_t chunks_homeless = 0;    // No owner or fallback took them: repair rebuilds them.
    uint64_t chunk_writes_failed = 0;
    uint64_t chunks_read = 0;
    uint64_t chunks_corrupt = 0;      // Failed their checks: treated as missing.
    uint64_t chunks_unavailable = 0;  // Missing, or their node failed or timed out.
    uint64_t stripes_degraded = 0;    // Read with parity.
    uint64_t manifest_writes_failed = 0;
    uint64_t manifest_reads_failed = 0;
    uint64_t chunks_collected = 0;  // Chunks of superseded versions deleted.
    uint64_t chunk_collections_failed = 0;
};

class Layout {
public:
    // `manifest_scheme` is the cluster's default code, whose k + m owners hold each manifest.
    // REQUIRES: table is not null; check_scheme(manifest_scheme).
    Layout(std::shared_ptr<const placement::PartitionTable> table,
           NodeKey self,
           object::Scheme manifest_scheme);

    const placement::PartitionTable& table() const { return *table_; }
    NodeKey self() const { return self_; }

    uint32_t partition_of(std::string_view key) const;

    // The owners of the key's partition that hold its manifest: at most k + m of the default
    // code, fewer in a smaller cluster. Distinct, best first.
    std::vector<NodeKey> manifest_owners(std::string_view key) const;
    // Manifest copies a write needs (k + ceil(m / 2) of the default code) and answers a read
    // needs (the rest plus one), so that every read meets every completed write. In a cluster
    // with fewer nodes than the write quorum, writes fail with an error that says so.
    uint32_t manifest_replicas() const { return manifest_replicas_; }
    uint32_t manifest_write_quorum() const { return manifest_write_quorum_; }
    uint32_t manifest_read_quorum() const { return manifest_read_quorum_; }

    // Every node of the table, in the order a stripe's chunks try them: the owners of the
    // stripe's partition first (chunk i goes to the i-th), then the others as fallbacks, in an
    // order drawn from the partition so that fallbacks spread.
    std::vector<NodeKey> stripe_candidates(std::string_view key, uint32_t stripe_index) const;
    // The owner of a stripe's chunk `chunk_index` (stripe_candidates' entry of that index,
    // without ranking the fallbacks); nullopt past the partition's owners. By the key's hash
    // (shoal::key_hash), which a chunk's store key carries.
    std::optional<NodeKey> chunk_owner(uint64_t key_hash,
                                       uint32_t stripe_index,
                                       uint32_t chunk_index) const;

private:
    uint32_t stripe_partition(uint64_t key_hash, uint32_t stripe_index) const;

    std::shared_ptr<const placement::PartitionTable> table_;
    NodeKey self_;
    uint32_t manifest_replicas_;
    uint32_t manifest_write_quorum_;
    uint32_t manifest_read_quorum_;
};

}  // namespace shoal::coordinator

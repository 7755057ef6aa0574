// PartitionTable: which nodes own each partition, computed from a view of the cluster
// (DESIGN.md "Data model and placement"; the algorithm and its figures: docs/placement.md).
//
// Every node builds the table from its own membership view, so the table is a pure function of
// the view: the same set of nodes, in any order, gives the same table on every node, with no
// coordination. Each node ranks all partitions by a pinned hash of (partition, node id), and a
// partition wants the nodes that rank it best (rendezvous hashing over ranks, weights folded
// in), subject to the zone rule. Each node's load is capped near its fair share: a partition
// that a full node turns away goes to its next choice. Partitions and nodes settle as the
// unique stable matching (deferred acceptance), whatever the order of processing.
//
// Guarantees (exact, for every view):
// - Every partition has exactly owners_per_partition() = min(R, N) distinct owners.
// - Zone rule: every partition splits its owners between zones as evenly as the zones' sizes
//   allow. Let c = zone_owners_max(), the smallest c with sum over zones of min(c, zone size)
//   >= min(R, N), and k = full_zones_max() = min(R, N) - sum of min(c - 1, zone size). Then in
//   every partition each zone holds exactly min(c - 1, its size) owners, except that k zones
//   (of those with at least c nodes) hold c. So with at least min(R, N) zones every owner is in
//   a different zone; 3 zones of 4 nodes and R = 6 give exactly 2 per zone; 4 zones give 2, 2,
//   1 and 1. Nodes with the same zone text share a zone; nodes without one share the zone "".
// - Order: a partition's owners are listed by the rank each gives the partition, which depends
//   on the partition count and the node's id only. So across any membership change the owners
//   that stay keep their relative order; positions shift only around joiners and leavers.
// - Load: a node holds at most slot_caps()[node] owner slots, the larger of ceil(t) and
//   floor(1.1 t), where t is its fair share (its weight's share of the slots, after the zone
//   rule). Only a partition the matching cannot fill under the caps goes over them; such slots
//   are counted in overflow_slots(), which is zero in every layout the tests try.
// Measured, not guaranteed (docs/placement.md): with equal weights a join or a leave moves
// close to the minimum, the joiner's or the leaver's slots: within 1.1x of it in the tests at
// R >= 9 up to 64 nodes and at R = 6 up to 40; somewhat more beyond that and at smaller R.
// With weights, a node's slots approximate its fair share: within 10% in the tests' weighted
// view, rougher where shares near one slot per partition.
//
// Pure: no IO, no clock, no randomness. A build hashes every (partition, node) pair once and
// runs the matching: about 3 ms for 64 nodes and 9 ms for 256 at 1024 partitions (release).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "shoal/base/status.h"
#include "shoal/placement/partition.h"

namespace shoal::placement {

// A node's 128-bit id: membership::MemberId's two words, which the node layer copies over.
struct NodeKey {
    uint64_t high = 0;
    uint64_t low = 0;

    bool operator==(const NodeKey&) const = default;
    // Written out rather than defaulted <=>, which trips clang 14 (see base/time.h).
    bool operator<(const NodeKey& other) const {
        return high != other.high ? high < other.high : low < other.low;
    }
};

// One node of the view: a live member, as far as this node knows.
struct Node {
    NodeKey id;           // Never zero.
    std::string zone;     // Failure domain. Nodes with the same text share one; "" is a zone too.
    uint32_t weight = 1;  // Capacity weight: weight 2 gets about twice the slots of weight 1.
};

inline constexpr uint32_t kNodesMax = 1024;  // membership::kMembersMax.
inline constexpr uint32_t kOwnerCountMax = 32;
inline constexpr uint32_t kOwnerCountDefault = 6;  // RS 4+2.
inline constexpr size_t kZoneBytesMax = 64;        // membership::kZoneBytesMax.

class PartitionTable {
public:
    struct Options {
        // Fixed at cluster creation: changing it moves almost every object.
        uint32_t partition_count = kPartitionCountDefault;
        // R, the owners each partition wants: k + m for erasure coding, or the replica count.
        uint32_t owner_count = kOwnerCountDefault;

        // kInvalidArgument naming the field out of range: partition_count in
        // 1..kPartitionCountMax, owner_count in 1..kOwnerCountMax.
        Status validate() const;
    };

    // The table for `view`, whose order does not matter. kInvalidArgument, naming the node,
    // for: invalid options, an empty view or one over kNodesMax, a zero or repeated id, a zero
    // weight, a zone over kZoneBytesMax.
    static Result<PartitionTable> build(std::span<const Node> view, const Options& options);

    uint32_t partition_count() const { return partition_count_; }
    // R as asked for.
    uint32_t owner_count() const { return owner_count_; }
    // min(R, N): every partition has exactly this many owners. When it is below owner_count()
    // the cluster is too small for the code, and callers see the shortfall here.
    uint32_t owners_per_partition() const { return owners_per_partition_; }
    // The zone rule's c and k (above).
    uint32_t zone_owners_max() const { return zone_owners_max_; }
    uint32_t full_zones_max() const { return full_zones_max_; }

    // The owners of `partition`, best first. REQUIRES: partition < partition_count().
    std::span<const NodeKey> owners(uint32_t partition) const;

    // The view, sorted by id; the spans below are parallel to it.
    std::span<const Node> nodes() const { return nodes_; }
    // Owner slots each node holds: the partitions it owns.
    std::span<const uint32_t> slot_counts() const { return slot_counts_; }
    // The most slots the balancer gives each node (see "Load" above).
    std::span<const uint32_t> slot_caps() const { return slot_caps_; }
    // Slots placed over a node's cap because the matching could not fill a partition otherwise.
    uint32_t overflow_slots() const { return overflow_slots_; }

    // A digest of the table (partition count, R, every owner list in order), so that two nodes
    // can tell cheaply whether they place alike: equal tables give equal fingerprints, and
    // different ones differ but with probability 2^-64. Shown as the layout epoch.
    uint64_t fingerprint() const { return fingerprint_; }

private:
    PartitionTable() = default;

    uint32_t partition_count_ = 0;
    uint32_t owner_count_ = 0;
    uint32_t owners_per_partition_ = 0;
    uint32_t zone_owners_max_ = 0;
    uint32_t full_zones_max_ = 0;
    uint32_t overflow_slots_ = 0;
    uint64_t fingerprint_ = 0;
    std::vector<Node> nodes_;
    std::vector<uint32_t> slot_counts_;
    std::vector<uint32_t> slot_caps_;
    std::vector<NodeKey> owners_;  // partition_count_ rows of owners_per_partition_.
};

// The owner slots of `after` that `before` did not have: the sum over partitions of the owners
// in `after` that were not owners in `before`, so the chunks a change of layout must copy.
// REQUIRES: both tables have the same partition count.
uint64_t slots_moved(const PartitionTable& before, const PartitionTable& after);

}  // namespace shoal::placement

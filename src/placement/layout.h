// Layout: the canonical form of a view that the table is computed from, and the two steps that
// compute it: the shares (how many owner slots each node may hold) and the matching (which
// partitions it holds).
//
// Nodes are indexed in id order and zones in name order, so nothing below depends on the order
// the view arrived in.
#pragma once

#include <cstdint>
#include <vector>

#include "shoal/placement/partition_table.h"

namespace shoal::placement {

struct Layout {
    uint32_t partition_count = 0;
    uint32_t owners_per_partition = 0;  // min(R, N).
    std::vector<NodeKey> ids;           // Ascending.
    std::vector<uint32_t> weights;      // Parallel to ids, and so are the two below.
    std::vector<uint32_t> zone_of;      // Index of the node's zone, zones in name order.
    uint32_t zone_count = 0;
};

// A non-negative rational number of slots.
struct Fraction {
    uint64_t numerator = 0;
    uint64_t denominator = 1;
};

struct Shares {
    uint32_t zone_owners_max = 0;       // The zone rule's c (partition_table.h).
    uint32_t full_zones_max = 0;        // The zone rule's k: zones of a partition holding c.
    std::vector<Fraction> slot_shares;  // Per node: its fair share of the owner slots.
    std::vector<uint32_t> slot_caps;    // Per node: the most owner slots it is given.
};

// The zone rule's c and k, then each node's fair share of the partition_count *
// owners_per_partition slots: every zone gets its floor, min(c - 1, size) per partition, the k
// extra owners per partition are split by weight between the zones with at least c nodes (at
// most one each per partition), and the nodes of a zone split its share by weight, none above
// partition_count. The cap is the larger of ceil(share) and floor(1.1 * share).
Shares compute_shares(const Layout& layout);

struct Assignment {
    std::vector<uint32_t> owners;       // partition_count rows of owners_per_partition node
                                        // indices, best score first.
    std::vector<uint32_t> slot_counts;  // Per node.
    uint32_t overflow_slots = 0;
};

// Deferred acceptance: each partition asks for its best-keyed nodes (placement/score.h) that the
// zone rule allows; a node at its cap keeps the partitions it scores best and turns the worst away,
// and that partition asks its next choice. A partition that runs out of choices under the caps is
// then filled with its best allowed nodes regardless of caps (counted as overflow).
Assignment assign_owners(const Layout& layout, const Shares& shares);

}  // namespace shoal::placement

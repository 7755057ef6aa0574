// Fair shares and caps. Integer arithmetic throughout: a share is a fraction whose numerator and
// denominator fit in 64 bits because slots <= 2^21 (kPartitionCountMax * kOwnerCountMax) and a
// sum of weights < 2^42 (kNodesMax * 2^32), so every product below stays under 2^63.
#include <algorithm>
#include <numeric>

#include "placement/layout.h"

namespace shoal::placement {
namespace {

static_assert(uint64_t{kPartitionCountMax} * kOwnerCountMax <= (uint64_t{1} << 21));
static_assert(kNodesMax <= (1U << 10));

// The slack over a fair share that a node may hold, in percent: the 1.10x bound.
constexpr uint64_t kSlotCapPercent = 110;

// Water-filling: splits `total` over items in proportion to `weights`, giving none more than
// its limit; the items held at their limit get it, the rest split what remains by weight, so
// the unlimited ones share one denominator. REQUIRES: total <= sum(limits), weights > 0.
std::vector<Fraction> water_fill(uint64_t total,
                                 const std::vector<uint64_t>& weights,
                                 const std::vector<uint64_t>& limits) {
    SHOAL_ASSERT(weights.size() == limits.size());
    SHOAL_ASSERT(total <= std::accumulate(limits.begin(), limits.end(), uint64_t{0}));
    std::vector<bool> limited(weights.size(), false);
    uint64_t total_rest = total;
    uint64_t weight_rest = std::accumulate(weights.begin(), weights.end(), uint64_t{0});
    // Limiting an item leaves the others a larger share each, so one that goes over its limit
    // stays over: repeat until a pass limits nothing.
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t index = 0; index < weights.size(); index++) {
            if (limited[index] || total_rest * weights[index] <= limits[index] * weight_rest) {
                continue;
            }
            limited[index] = true;
            total_rest -= limits[index];
            weight_rest -= weights[index];
            changed = true;
        }
    }
    std::vector<Fraction> shares(weights.size());
    for (size_t index = 0; index < weights.size(); index++) {
        shares[index] = limited[index] ? Fraction{limits[index], 1}
                                       : Fraction{total_rest * weights[index], weight_rest};
    }
    return shares;
}

// Whole numbers summing to `total`: each share rounded down, then the largest remainders
// rounded up (the lowest index first among equals). REQUIRES: the shares sum to `total`, and
// the fractional ones share one denominator (as water_fill's do).
std::vector<uint64_t> round_shares(uint64_t total, const std::vector<Fraction>& shares) {
    std::vector<uint64_t> rounded(shares.size());
    std::vector<size_t> order(shares.size());
    uint64_t sum = 0;
    for (size_t index = 0; index < shares.size(); index++) {
        rounded[index] = shares[index].numerator / shares[index].denominator;
        sum += rounded[index];
        order[index] = index;
    }
    SHOAL_ASSERT(sum <= total);
    std::stable_sort(order.begin(), order.end(), [&](size_t left, size_t right) {
        return shares[left].numerator % shares[left].denominator >
               shares[right].numerator % shares[right].denominator;
    });
    for (size_t rank = 0; rank < total - sum; rank++) {
        SHOAL_ASSERT(shares[order[rank]].numerator % shares[order[rank]].denominator != 0);
        rounded[order[rank]] += 1;
    }
    return rounded;
}

// The smallest c with sum over zones of min(c, zone size) >= owners_per_partition.
uint32_t zone_owners_max(const Layout& layout, const std::vector<uint32_t>& zone_sizes) {
    for (uint32_t owners_max = 1; owners_max < layout.owners_per_partition; owners_max++) {
        uint32_t room = 0;
        for (const uint32_t size : zone_sizes) {
            room += std::min(owners_max, size);
        }
        if (room >= layout.owners_per_partition) return owners_max;
    }
    return layout.owners_per_partition;
}

uint32_t slot_cap(Fraction share, uint32_t partition_count) {
    const uint64_t ceiling = (share.numerator + share.denominator - 1) / share.denominator;
    const uint64_t slack = share.numerator * kSlotCapPercent / (share.denominator * 100);
    const uint64_t cap = std::min<uint64_t>(std::max(ceiling, slack), partition_count);
    SHOAL_ASSERT(cap >= ceiling);  // A share never exceeds partition_count.
    return static_cast<uint32_t>(cap);
}

// Splits a zone's whole number of slots over its nodes by weight, none above partition_count.
void split_zone(const Layout& layout, uint32_t zone, uint64_t slots, Shares& shares) {
    std::vector<size_t> members;
    std::vector<uint64_t> weights;
    for (size_t node = 0; node < layout.ids.size(); node++) {
        if (layout.zone_of[node] != zone) continue;
        members.push_back(node);
        weights.push_back(layout.weights[node]);
    }
    const std::vector<uint64_t> limits(members.size(), layout.partition_count);
    const std::vector<Fraction> node_shares = water_fill(slots, weights, limits);
    for (size_t index = 0; index < members.size(); index++) {
        shares.slot_shares[members[index]] = node_shares[index];
        shares.slot_caps[members[index]] = slot_cap(node_shares[index], layout.partition_count);
    }
}

}  // namespace

Shares compute_shares(const Layout& layout) {
    SHOAL_ASSERT(layout.zone_count >= 1);
    SHOAL_ASSERT(layout.owners_per_partition <= layout.ids.size());
    std::vector<uint32_t> zone_sizes(layout.zone_count, 0);
    std::vector<uint64_t> zone_weights(layout.zone_count, 0);
    for (size_t node = 0; node < layout.ids.size(); node++) {
        zone_sizes[layout.zone_of[node]] += 1;
        zone_weights[layout.zone_of[node]] += layout.weights[node];
    }
    Shares shares;
    shares.zone_owners_max = zone_owners_max(layout, zone_sizes);
    // Each zone holds its floor, min(c - 1, size), of every partition; the k owners left over
    // per partition go one each to zones with at least c nodes, split between them by weight.
    std::vector<uint64_t> zone_slots(layout.zone_count);
    std::vector<uint32_t> roomy_zones;
    std::vector<uint64_t> roomy_weights;
    uint32_t floor_owners = 0;
    for (uint32_t zone = 0; zone < layout.zone_count; zone++) {
        const uint32_t floor = std::min(shares.zone_owners_max - 1, zone_sizes[zone]);
        floor_owners += floor;
        zone_slots[zone] = uint64_t{floor} * layout.partition_count;
        if (zone_sizes[zone] < shares.zone_owners_max) continue;
        roomy_zones.push_back(zone);
        roomy_weights.push_back(zone_weights[zone]);
    }
    SHOAL_ASSERT(floor_owners < layout.owners_per_partition);
    shares.full_zones_max = layout.owners_per_partition - floor_owners;
    SHOAL_ASSERT(shares.full_zones_max <= roomy_zones.size());
    const uint64_t extra_slots = uint64_t{shares.full_zones_max} * layout.partition_count;
    const std::vector<uint64_t> extra_limits(roomy_zones.size(), layout.partition_count);
    const std::vector<uint64_t> extras =
            round_shares(extra_slots, water_fill(extra_slots, roomy_weights, extra_limits));
    for (size_t index = 0; index < roomy_zones.size(); index++) {
        zone_slots[roomy_zones[index]] += extras[index];
    }
    const uint64_t slots = uint64_t{layout.partition_count} * layout.owners_per_partition;
    shares.slot_shares.assign(layout.ids.size(), Fraction{});
    shares.slot_caps.assign(layout.ids.size(), 0);
    for (uint32_t zone = 0; zone < layout.zone_count; zone++) {
        split_zone(layout, zone, zone_slots[zone], shares);
    }
    SHOAL_ASSERT(std::accumulate(shares.slot_caps.begin(), shares.slot_caps.end(), uint64_t{0}) >=
                 slots);
    return shares;
}

}  // namespace shoal::placement

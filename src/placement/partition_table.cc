#include "shoal/placement/partition_table.h"

#include <algorithm>

#include <fmt/format.h>

#include "placement/layout.h"
#include "shoal/base/coding.h"
#include "shoal/base/hash.h"

namespace shoal::placement {
namespace {

// The seed of the table fingerprint: the ASCII bytes "shoaltab".
constexpr uint64_t kFingerprintSeed = 0x73686f616c746162;

std::string id_text(NodeKey id) {
    return fmt::format("{:016x}{:016x}", id.high, id.low);
}

Status validate_node(const Node& node) {
    const auto invalid = [&](std::string_view why) {
        return Status::invalid_argument(
                fmt::format("placement: node {}: {}", id_text(node.id), why));
    };
    if (node.id == NodeKey{}) return invalid("the id is zero");
    if (node.weight == 0) return invalid("the weight is zero");
    if (node.zone.size() > kZoneBytesMax) {
        return invalid(
                fmt::format("the zone is {} bytes, over {}", node.zone.size(), kZoneBytesMax));
    }
    return Status::ok();
}

Result<std::vector<Node>> sorted_view(std::span<const Node> view) {
    if (view.empty()) return Status::invalid_argument("placement: the view has no nodes");
    if (view.size() > kNodesMax) {
        return Status::invalid_argument(
                fmt::format("placement: {} nodes, over the limit of {}", view.size(), kNodesMax));
    }
    for (const Node& node : view) {
        SHOAL_TRY(validate_node(node));
    }
    std::vector<Node> nodes(view.begin(), view.end());
    std::sort(nodes.begin(), nodes.end(), [](const Node& left, const Node& right) {
        return left.id < right.id;
    });
    for (size_t index = 1; index < nodes.size(); index++) {
        if (nodes[index - 1].id == nodes[index].id) {
            return Status::invalid_argument(fmt::format("placement: node {} is in the view twice",
                                                        id_text(nodes[index].id)));
        }
    }
    return nodes;
}

Layout make_layout(const std::vector<Node>& nodes, const PartitionTable::Options& options) {
    std::vector<std::string> zones;
    zones.reserve(nodes.size());
    for (const Node& node : nodes) {
        zones.push_back(node.zone);
    }
    std::sort(zones.begin(), zones.end());
    zones.erase(std::unique(zones.begin(), zones.end()), zones.end());
    Layout layout{
            .partition_count = options.partition_count,
            .owners_per_partition =
                    std::min(options.owner_count, static_cast<uint32_t>(nodes.size())),
            .zone_count = static_cast<uint32_t>(zones.size()),
    };
    for (const Node& node : nodes) {
        const auto zone = std::lower_bound(zones.begin(), zones.end(), node.zone);
        SHOAL_ASSERT(zone != zones.end());
        SHOAL_ASSERT(*zone == node.zone);
        layout.ids.push_back(node.id);
        layout.weights.push_back(node.weight);
        layout.zone_of.push_back(static_cast<uint32_t>(zone - zones.begin()));
    }
    return layout;
}

// The rules every table keeps, checked from the finished table itself: distinct owners, the
// zone rule, and slot counts that add up and stay within the caps but for the overflow.
bool keeps_its_rules(const PartitionTable& table, const Layout& layout) {
    std::vector<uint32_t> counted(table.nodes().size(), 0);
    for (uint32_t partition = 0; partition < table.partition_count(); partition++) {
        std::vector<uint32_t> zone_owners(layout.zone_count, 0);
        uint32_t full_zones = 0;
        const std::span<const NodeKey> owners = table.owners(partition);
        for (size_t index = 0; index < owners.size(); index++) {
            const auto found =
                    std::lower_bound(layout.ids.begin(), layout.ids.end(), owners[index]);
            if (found == layout.ids.end() || *found != owners[index]) return false;
            const auto node = static_cast<size_t>(found - layout.ids.begin());
            counted[node] += 1;
            zone_owners[layout.zone_of[node]] += 1;
            if (zone_owners[layout.zone_of[node]] > table.zone_owners_max()) return false;
            if (zone_owners[layout.zone_of[node]] == table.zone_owners_max()) full_zones += 1;
            const std::span<const NodeKey> earlier = owners.first(index);
            if (std::find(earlier.begin(), earlier.end(), owners[index]) != earlier.end()) {
                return false;
            }
        }
        if (full_zones > table.full_zones_max()) return false;
    }
    uint64_t over_caps = 0;
    for (size_t node = 0; node < counted.size(); node++) {
        if (counted[node] != table.slot_counts()[node]) return false;
        over_caps += counted[node] - std::min(counted[node], table.slot_caps()[node]);
    }
    return over_caps <= table.overflow_slots();
}

}  // namespace

Status PartitionTable::Options::validate() const {
    if (partition_count == 0 || partition_count > kPartitionCountMax) {
        return Status::invalid_argument(fmt::format("placement: partition_count {} is not in 1..{}",
                                                    partition_count,
                                                    kPartitionCountMax));
    }
    if (owner_count == 0 || owner_count > kOwnerCountMax) {
        return Status::invalid_argument(fmt::format(
                "placement: owner_count {} is not in 1..{}", owner_count, kOwnerCountMax));
    }
    return Status::ok();
}

Result<PartitionTable> PartitionTable::build(std::span<const Node> view, const Options& options) {
    SHOAL_TRY(options.validate());
    SHOAL_TRY_ASSIGN(std::vector<Node> nodes, sorted_view(view));
    const Layout layout = make_layout(nodes, options);
    const Shares shares = compute_shares(layout);
    const Assignment assignment = assign_owners(layout, shares);

    PartitionTable table;
    table.partition_count_ = options.partition_count;
    table.owner_count_ = options.owner_count;
    table.owners_per_partition_ = layout.owners_per_partition;
    table.zone_owners_max_ = shares.zone_owners_max;
    table.full_zones_max_ = shares.full_zones_max;
    table.overflow_slots_ = assignment.overflow_slots;
    table.slot_counts_ = assignment.slot_counts;
    table.slot_caps_ = shares.slot_caps;
    table.owners_.reserve(assignment.owners.size());
    for (const uint32_t node : assignment.owners) {
        table.owners_.push_back(nodes[node].id);
    }
    table.nodes_ = std::move(nodes);

    Buffer bytes;
    Writer writer(bytes);
    writer.u32(table.partition_count_);
    writer.u32(table.owner_count_);
    writer.u32(table.owners_per_partition_);
    for (const NodeKey& owner : table.owners_) {
        writer.u64(owner.low);
        writer.u64(owner.high);
    }
    table.fingerprint_ = hash64(bytes.view(), kFingerprintSeed);
    SHOAL_ASSERT_EXPENSIVE(keeps_its_rules(table, layout));
    return table;
}

std::span<const NodeKey> PartitionTable::owners(uint32_t partition) const {
    SHOAL_ASSERT(partition < partition_count_);
    return std::span<const NodeKey>(owners_).subspan(size_t{partition} * owners_per_partition_,
                                                     owners_per_partition_);
}

uint64_t slots_moved(const PartitionTable& before, const PartitionTable& after) {
    SHOAL_ASSERT(before.partition_count() == after.partition_count());
    uint64_t moved = 0;
    for (uint32_t partition = 0; partition < after.partition_count(); partition++) {
        const std::span<const NodeKey> owners_before = before.owners(partition);
        for (const NodeKey& owner : after.owners(partition)) {
            if (std::find(owners_before.begin(), owners_before.end(), owner) ==
                owners_before.end()) {
                moved += 1;
            }
        }
    }
    return moved;
}

}  // namespace shoal::placement

// Goal: the partition table keeps the promises of partition_table.h and the bounds issue #5
// fixes: every node computes the same table from the same nodes; at N >= 4 equal nodes the
// busiest holds at most 1.10x the mean of owner slots; a join moves at most 1.1 x 1/(N+1) of
// the slots and a leave at most 1.1 x 1/N; weights and the zone rule are honoured.
//
// Method: tables built from views of random ids (a seeded Prng; the seed is captured), and
// every bound computed from the tables themselves, in integers: nothing here is a stored
// result except the pinned fingerprint, which exists to catch a change of algorithm.
#include "shoal/placement/partition_table.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "placement/score.h"
#include "shoal/base/prng.h"

namespace shoal::placement {
namespace {

Node random_node(Prng& prng, std::string zone = "", uint32_t weight = 1) {
    NodeKey id{.high = prng.next_u64(), .low = prng.next_u64()};
    if (id == NodeKey{}) id.low = 1;
    return Node{.id = id, .zone = std::move(zone), .weight = weight};
}

std::vector<Node> equal_nodes(Prng& prng, uint32_t count) {
    std::vector<Node> nodes;
    for (uint32_t index = 0; index < count; index++) {
        nodes.push_back(random_node(prng));
    }
    return nodes;
}

PartitionTable build(const std::vector<Node>& view,
                     uint32_t owner_count,
                     uint32_t partition_count = kPartitionCountDefault) {
    Result<PartitionTable> table = PartitionTable::build(
            view, {.partition_count = partition_count, .owner_count = owner_count});
    REQUIRE(table.is_ok());
    return std::move(table).value();
}

uint64_t total_slots(const PartitionTable& table) {
    return uint64_t{table.partition_count()} * table.owners_per_partition();
}

uint32_t max_slots(const PartitionTable& table) {
    const std::span<const uint32_t> counts = table.slot_counts();
    return *std::max_element(counts.begin(), counts.end());
}

// max <= 1.10 x mean, with mean = total / N, in integers.
bool is_balanced(const PartitionTable& table) {
    return uint64_t{max_slots(table)} * table.nodes().size() * 100 <= total_slots(table) * 110;
}

size_t index_of(const PartitionTable& table, NodeKey id) {
    const std::span<const Node> nodes = table.nodes();
    for (size_t index = 0; index < nodes.size(); index++) {
        if (nodes[index].id == id) return index;
    }
    FAIL("node not in the table");
    return 0;
}

std::string zone_of(const PartitionTable& table, NodeKey id) {
    return table.nodes()[index_of(table, id)].zone;
}

TEST_CASE("partition table: options and views out of bounds are refused", "[unit][placement]") {
    Prng prng(1);
    const std::vector<Node> good = equal_nodes(prng, 4);
    REQUIRE(PartitionTable::build(good, {}).is_ok());
    REQUIRE(!PartitionTable::build(good, {.partition_count = 0}).is_ok());
    REQUIRE(!PartitionTable::build(good, {.partition_count = kPartitionCountMax + 1}).is_ok());
    REQUIRE(!PartitionTable::build(good, {.owner_count = 0}).is_ok());
    REQUIRE(!PartitionTable::build(good, {.owner_count = kOwnerCountMax + 1}).is_ok());
    REQUIRE(!PartitionTable::build({}, {}).is_ok());

    std::vector<Node> bad = good;
    bad[2].weight = 0;
    const Status zero_weight = PartitionTable::build(bad, {}).status();
    REQUIRE(zero_weight.code() == Code::kInvalidArgument);
    REQUIRE(zero_weight.message().find("weight") != std::string::npos);
    bad = good;
    bad[1].id = NodeKey{};
    REQUIRE(!PartitionTable::build(bad, {}).is_ok());
    bad = good;
    bad[3].id = bad[0].id;
    const Status twice = PartitionTable::build(bad, {}).status();
    REQUIRE(twice.message().find("twice") != std::string::npos);
    bad = good;
    bad[0].zone = std::string(kZoneBytesMax + 1, 'z');
    REQUIRE(!PartitionTable::build(bad, {}).is_ok());
    REQUIRE(!PartitionTable::build(equal_nodes(prng, kNodesMax + 1), {}).is_ok());
}

TEST_CASE("partition table: the same nodes in any order give the same table", "[unit][placement]") {
    const uint64_t seed = GENERATE(as<uint64_t>{}, 1, 2, 3);
    CAPTURE(seed);
    Prng prng(seed);
    std::vector<Node> view;
    for (uint32_t index = 0; index < 24; index++) {
        view.push_back(random_node(prng,
                                   "zone-" + std::to_string(index % 4),
                                   static_cast<uint32_t>(prng.between(1, 3))));
    }
    const PartitionTable first = build(view, 6);
    for (int round = 0; round < 4; round++) {
        for (size_t index = view.size() - 1; index > 0; index--) {
            std::swap(view[index], view[prng.below(index + 1)]);
        }
        const PartitionTable again = build(view, 6);
        REQUIRE(again.fingerprint() == first.fingerprint());
        for (uint32_t partition = 0; partition < first.partition_count(); partition++) {
            REQUIRE(std::ranges::equal(again.owners(partition), first.owners(partition)));
        }
    }
    REQUIRE(build(view, 5).fingerprint() != first.fingerprint());
    REQUIRE(build(view, 6, 512).fingerprint() != first.fingerprint());
    view.pop_back();
    REQUIRE(build(view, 6).fingerprint() != first.fingerprint());
}

// The whole algorithm (hash, seeds, scores, caps, matching, fingerprint layout) in one value:
// if this changes, nodes of the old and the new version place objects differently.
TEST_CASE("partition table: a pinned view gives a pinned table", "[unit][placement]") {
    std::vector<Node> view;
    for (uint64_t index = 1; index <= 8; index++) {
        view.push_back({.id = {.high = index, .low = index * 1000},
                        .zone = index % 2 == 0 ? "even" : "odd",
                        .weight = static_cast<uint32_t>(index % 3 + 1)});
    }
    const PartitionTable table = build(view, 6);
    REQUIRE(table.fingerprint() == 0x4814552e0f76691c);
    const std::vector<NodeKey> first{
            {6, 6000}, {3, 3000}, {8, 8000}, {7, 7000}, {2, 2000}, {5, 5000}};
    const std::vector<NodeKey> last{
            {1, 1000}, {5, 5000}, {2, 2000}, {7, 7000}, {4, 4000}, {8, 8000}};
    REQUIRE(std::ranges::equal(table.owners(0), first));
    REQUIRE(std::ranges::equal(table.owners(1023), last));
}

TEST_CASE("partition table: every partition has min(R, N) distinct owners", "[unit][placement]") {
    const uint32_t owner_count = GENERATE(as<uint32_t>{}, 1, 3, 6, 20);
    CAPTURE(owner_count);
    Prng prng(owner_count);
    for (uint32_t node_count = 1; node_count <= 24; node_count++) {
        CAPTURE(node_count);
        const PartitionTable table = build(equal_nodes(prng, node_count), owner_count);
        const uint32_t expected = std::min(owner_count, node_count);
        REQUIRE(table.owner_count() == owner_count);
        REQUIRE(table.owners_per_partition() == expected);
        REQUIRE(table.overflow_slots() == 0);
        for (uint32_t partition = 0; partition < table.partition_count(); partition++) {
            const std::span<const NodeKey> owners = table.owners(partition);
            REQUIRE(owners.size() == expected);
            REQUIRE(std::set<NodeKey>(owners.begin(), owners.end()).size() == expected);
        }
        const std::span<const uint32_t> counts = table.slot_counts();
        REQUIRE(std::accumulate(counts.begin(), counts.end(), uint64_t{0}) == total_slots(table));
    }
}

// The bound, 1.1 times the minimum, holds for every join and leave at R >= 9 and at
// R = 6 up to 40 nodes. Above that, at R = 6, about 1 in 25 changes moves a little more (the
// worst measured: 1.13x; docs/placement.md), so there the test holds each to 1.15x and their
// average to 1.1x. At R < 6 a node has too few slots for caps this tight to move little.
uint64_t movement_percent_max(uint32_t owner_count, uint32_t node_count) {
    return owner_count >= 9 || node_count <= 40 ? 110 : 115;
}

// moved <= percent/100 x slots / nodes, where slots and nodes are those of the larger table.
bool moves_at_most(uint64_t moved, const PartitionTable& larger, uint64_t percent) {
    return moved * larger.nodes().size() * 100 <= total_slots(larger) * percent;
}

// One node joins at a time, from 4 to 64 nodes; every table is checked for balance, and every
// step both ways: as a join, and backwards as a leave. A table depends only on its view, so
// the leave of the node that joined last is the leave of a node picked at random.
TEST_CASE("partition table: equal nodes are balanced, and a join or a leave moves little",
          "[unit][placement]") {
    const uint32_t owner_count = GENERATE(as<uint32_t>{}, 6, 9, 20);
    CAPTURE(owner_count);
    Prng prng(200 + owner_count);
    std::vector<Node> view = equal_nodes(prng, 4);
    PartitionTable before = build(view, owner_count);
    uint64_t moved_total = 0;
    uint64_t share_total = 0;  // The minimum, in the same units: larger tables' slots per node.
    for (uint32_t node_count = 5; node_count <= 64; node_count++) {
        CAPTURE(node_count);
        view.push_back(random_node(prng));
        PartitionTable after = build(view, owner_count);
        CAPTURE(max_slots(after), total_slots(after));
        REQUIRE(is_balanced(after));
        REQUIRE(after.overflow_slots() == 0);

        const uint64_t joined = slots_moved(before, after);
        const uint64_t left = slots_moved(after, before);
        CAPTURE(joined, left);
        // Never less than the joiner's slots, which all came from elsewhere.
        REQUIRE(joined >= after.slot_counts()[index_of(after, view.back().id)]);
        const uint64_t percent = movement_percent_max(owner_count, node_count);
        REQUIRE(moves_at_most(joined, after, percent));
        REQUIRE(moves_at_most(left, after, percent));
        moved_total += (joined + left) * node_count;
        share_total += 2 * total_slots(after);
        before = std::move(after);
    }
    REQUIRE(moved_total * 100 <= share_total * 110);
}

TEST_CASE(
        "partition table: at N >= 4 equal nodes and a small R the busiest holds at most 1.10x "
        "the mean",
        "[unit][placement]") {
    const uint32_t owner_count = GENERATE(as<uint32_t>{}, 1, 3, 4);
    CAPTURE(owner_count);
    Prng prng(100 + owner_count);
    for (uint32_t node_count = 4; node_count <= 64; node_count += 4) {
        CAPTURE(node_count);
        const PartitionTable table = build(equal_nodes(prng, node_count), owner_count);
        CAPTURE(max_slots(table), total_slots(table));
        REQUIRE(is_balanced(table));
        REQUIRE(table.overflow_slots() == 0);
    }
}

// The busiest node holds up to 1.10x the mean itself, so its leaving moves at least that; what
// the balancer adds on top stays small.
TEST_CASE("partition table: the busiest node's leave moves little beyond its own slots",
          "[unit][placement]") {
    const uint32_t owner_count = GENERATE(as<uint32_t>{}, 6, 9, 20);
    CAPTURE(owner_count);
    Prng prng(300 + owner_count);
    for (uint32_t node_count = 8; node_count <= 64; node_count += 8) {
        if (node_count <= owner_count) continue;  // Then every node owns every partition.
        CAPTURE(node_count);
        std::vector<Node> view = equal_nodes(prng, node_count);
        const PartitionTable before = build(view, owner_count);
        const std::span<const uint32_t> counts = before.slot_counts();
        const auto busiest = static_cast<size_t>(std::max_element(counts.begin(), counts.end()) -
                                                 counts.begin());
        const NodeKey gone = before.nodes()[busiest].id;
        std::erase_if(view, [&](const Node& node) { return node.id == gone; });
        const uint64_t moved = slots_moved(before, build(view, owner_count));
        CAPTURE(moved, counts[busiest], total_slots(before));
        REQUIRE(moved >= counts[busiest]);
        // Beyond its own slots: at most 6% of a fair share (measured worst: 5.1%).
        REQUIRE((moved - counts[busiest]) * node_count * 100 <= total_slots(before) * 6);
        if (owner_count >= 9) REQUIRE(moves_at_most(moved, before, 110));
    }
}

TEST_CASE("partition table: the owners that stay keep their order", "[unit][placement]") {
    Prng prng(400);
    std::vector<Node> view = equal_nodes(prng, 12);
    const PartitionTable before = build(view, 6);
    view.push_back(random_node(prng));
    view.erase(view.begin() + 3);
    const PartitionTable after = build(view, 6);
    for (uint32_t partition = 0; partition < before.partition_count(); partition++) {
        std::vector<NodeKey> stayed_before;
        std::vector<NodeKey> stayed_after;
        const std::span<const NodeKey> owners_before = before.owners(partition);
        const std::span<const NodeKey> owners_after = after.owners(partition);
        for (const NodeKey& owner : owners_before) {
            if (std::ranges::find(owners_after, owner) != owners_after.end()) {
                stayed_before.push_back(owner);
            }
        }
        for (const NodeKey& owner : owners_after) {
            if (std::ranges::find(owners_before, owner) != owners_before.end()) {
                stayed_after.push_back(owner);
            }
        }
        REQUIRE(stayed_before == stayed_after);
    }
    REQUIRE(slots_moved(before, before) == 0);
}

TEST_CASE("partition table: a node of weight 2 holds about twice the slots", "[unit][placement]") {
    const uint64_t seed = GENERATE(as<uint64_t>{}, 1, 2, 3);
    CAPTURE(seed);
    Prng prng(500 + seed);
    std::vector<Node> view = equal_nodes(prng, 21);
    view.push_back(random_node(prng, "", 2));
    view.push_back(random_node(prng, "", 3));
    const PartitionTable table = build(view, 6);
    // Weights total 1 * 21 + 2 + 3 = 26, so a unit of weight is worth total / 26 slots.
    const uint64_t unit_slots = total_slots(table) / 26;
    for (const Node& node : view) {
        const uint64_t slots = table.slot_counts()[index_of(table, node.id)];
        CAPTURE(node.weight, slots, unit_slots);
        REQUIRE(slots * 10 >= unit_slots * node.weight * 9);
        REQUIRE(slots * 10 <= unit_slots * node.weight * 11);
    }
    REQUIRE(table.overflow_slots() == 0);
}

// Counts each partition's owners per zone and returns the largest count seen for each zone.
std::map<std::string, std::pair<uint32_t, uint32_t>> zone_counts(const PartitionTable& table) {
    std::map<std::string, std::pair<uint32_t, uint32_t>> fewest_most;
    for (const Node& node : table.nodes()) {
        fewest_most[node.zone] = {UINT32_MAX, 0};
    }
    for (uint32_t partition = 0; partition < table.partition_count(); partition++) {
        std::map<std::string, uint32_t> counts;
        for (const Node& node : table.nodes()) {
            counts[node.zone] = 0;
        }
        for (const NodeKey& owner : table.owners(partition)) {
            counts[zone_of(table, owner)] += 1;
        }
        for (const auto& [zone, count] : counts) {
            fewest_most[zone].first = std::min(fewest_most[zone].first, count);
            fewest_most[zone].second = std::max(fewest_most[zone].second, count);
        }
    }
    return fewest_most;
}

std::vector<Node> zoned_nodes(Prng& prng, const std::vector<uint32_t>& zone_sizes) {
    std::vector<Node> view;
    for (size_t zone = 0; zone < zone_sizes.size(); zone++) {
        for (uint32_t index = 0; index < zone_sizes[zone]; index++) {
            view.push_back(random_node(prng, "zone-" + std::to_string(zone)));
        }
    }
    return view;
}

TEST_CASE("partition table: owners spread over zones as evenly as the zones allow",
          "[unit][placement]") {
    Prng prng(600);
    SECTION("3 zones of 4 nodes and R = 6: exactly 2 owners in each zone") {
        const PartitionTable table = build(zoned_nodes(prng, {4, 4, 4}), 6);
        REQUIRE(table.zone_owners_max() == 2);
        for (const auto& [zone, fewest_most] : zone_counts(table)) {
            CAPTURE(zone);
            REQUIRE(fewest_most == std::pair<uint32_t, uint32_t>{2, 2});
        }
        REQUIRE(is_balanced(table));
    }
    SECTION("6 or more zones: every owner in a different zone") {
        const uint32_t zones = GENERATE(as<uint32_t>{}, 6, 7, 9);
        CAPTURE(zones);
        const PartitionTable table = build(zoned_nodes(prng, std::vector<uint32_t>(zones, 3)), 6);
        REQUIRE(table.zone_owners_max() == 1);
        for (const auto& [zone, fewest_most] : zone_counts(table)) {
            REQUIRE(fewest_most.second == 1);
        }
        REQUIRE(is_balanced(table));
        REQUIRE(table.overflow_slots() == 0);
    }
    SECTION("4 zones and R = 6: at most ceil(6 / 4) = 2 in one zone") {
        const PartitionTable table = build(zoned_nodes(prng, {3, 3, 3, 3}), 6);
        REQUIRE(table.zone_owners_max() == 2);
        for (const auto& [zone, fewest_most] : zone_counts(table)) {
            REQUIRE(fewest_most.first >= 1);
            REQUIRE(fewest_most.second == 2);
        }
        REQUIRE(is_balanced(table));
    }
    SECTION("zones too small for an even spread: the big zone takes the rest") {
        // Sizes 1, 1 and 10 with R = 6: the small zones hold one owner of every partition
        // each, and the big one the other 4.
        const PartitionTable table = build(zoned_nodes(prng, {1, 1, 10}), 6);
        REQUIRE(table.zone_owners_max() == 4);
        const auto counts = zone_counts(table);
        REQUIRE(counts.at("zone-0") == std::pair<uint32_t, uint32_t>{1, 1});
        REQUIRE(counts.at("zone-1") == std::pair<uint32_t, uint32_t>{1, 1});
        REQUIRE(counts.at("zone-2") == std::pair<uint32_t, uint32_t>{4, 4});
        REQUIRE(table.overflow_slots() == 0);
    }
    SECTION("nodes without a zone share one") {
        std::vector<Node> view = zoned_nodes(prng, {5});
        for (Node& node : view) {
            node.zone.clear();
        }
        REQUIRE(build(view, 6).zone_owners_max() == 5);
    }
}

TEST_CASE("partition table: a zoned cluster still moves little on a join", "[unit][placement]") {
    Prng prng(700);
    std::vector<Node> view = zoned_nodes(prng, {6, 6, 6});
    const PartitionTable before = build(view, 6);
    view.push_back(random_node(prng, "zone-1"));
    const PartitionTable after = build(view, 6);
    REQUIRE(moves_at_most(slots_moved(before, after), after, 110));
    // Each zone holds 2 owners of every partition, so a node's fair share is 2 * 1024 / the
    // size of its zone.
    for (const Node& node : after.nodes()) {
        const uint64_t zone_size = node.zone == "zone-1" ? 7 : 6;
        const uint64_t slots = after.slot_counts()[index_of(after, node.id)];
        REQUIRE(slots * zone_size * 100 <= uint64_t{2} * 1024 * 110);
    }
}

TEST_CASE("partition table: R above N gives every node every partition", "[unit][placement]") {
    Prng prng(800);
    const PartitionTable table = build(equal_nodes(prng, 4), 6);
    REQUIRE(table.owners_per_partition() == 4);
    REQUIRE(table.owner_count() == 6);
    for (const uint32_t slots : table.slot_counts()) {
        REQUIRE(slots == table.partition_count());
    }
}

// The figures in docs/placement.md. Hidden (ctest does not run it); run it by hand in a release
// build: placement_unit_tests "[figures]". It prints, per R and N over `kTrials` random views:
// the busiest node's load over the mean for plain HRW (top R by raw pair hash), for HRW over
// ranks without caps, and for the table; then the table's slots moved by a join and by the
// leave of a random node and of the busiest node, over the minimum (slots / larger N).
constexpr int kTrials = 10;

// Loads when each partition takes the R nodes with the smallest `score`, with no caps.
template <typename Score>
double uncapped_max_over_mean(const PartitionTable& table, Score score) {
    const std::span<const Node> nodes = table.nodes();
    std::vector<uint32_t> loads(nodes.size(), 0);
    std::vector<std::pair<uint64_t, size_t>> scores(nodes.size());
    for (uint32_t partition = 0; partition < table.partition_count(); partition++) {
        for (size_t node = 0; node < nodes.size(); node++) {
            scores[node] = {score(partition, node), node};
        }
        std::sort(scores.begin(), scores.end());
        for (uint32_t owner = 0; owner < table.owners_per_partition(); owner++) {
            loads[scores[owner].second] += 1;
        }
    }
    const double mean = static_cast<double>(total_slots(table)) / static_cast<double>(nodes.size());
    return *std::max_element(loads.begin(), loads.end()) / mean;
}

struct Figures {
    double hrw_max = 0, ranked_max = 0, table_max = 0;
    double join_sum = 0, join_max = 0, leave_sum = 0, leave_max = 0, busiest_max = 0;
    int over = 0;  // Joins and leaves of a random node that moved more than 1.1x the minimum.
};

void measure(Figures& figures, uint32_t owner_count, uint32_t node_count, Prng& prng) {
    std::vector<Node> view = equal_nodes(prng, node_count);
    const PartitionTable table = build(view, owner_count);
    std::vector<PartitionRanks> ranks;
    for (const Node& node : table.nodes()) {
        ranks.push_back(rank_partitions(node.id, table.partition_count()));
    }
    const auto nodes = table.nodes();
    figures.hrw_max = std::max(figures.hrw_max, uncapped_max_over_mean(table, [&](auto p, auto n) {
                                   return score_hash(p, nodes[n].id);
                               }));
    figures.ranked_max =
            std::max(figures.ranked_max, uncapped_max_over_mean(table, [&](auto p, auto n) {
                         const uint32_t rank = ranks[n].rank_of[p];
                         return (uint64_t{rank} << 48) | (ranks[n].order_key_at[rank] >> 16);
                     }));
    const double share = static_cast<double>(total_slots(table)) / node_count;
    figures.table_max = std::max(figures.table_max, max_slots(table) / share);

    std::vector<Node> joined = view;
    joined.push_back(random_node(prng));
    const PartitionTable larger = build(joined, owner_count);
    const double join = static_cast<double>(slots_moved(table, larger)) /
                        (static_cast<double>(total_slots(larger)) / (node_count + 1));
    std::vector<Node> left = view;
    left.erase(left.begin() + static_cast<ptrdiff_t>(prng.below(node_count)));
    const double leave = static_cast<double>(slots_moved(table, build(left, owner_count))) / share;
    const std::span<const uint32_t> counts = table.slot_counts();
    const NodeKey busiest =
            table.nodes()[static_cast<size_t>(std::max_element(counts.begin(), counts.end()) -
                                              counts.begin())]
                    .id;
    std::erase_if(view, [&](const Node& node) { return node.id == busiest; });
    const double busiest_leave =
            static_cast<double>(slots_moved(table, build(view, owner_count))) / share;
    figures.join_sum += join;
    figures.join_max = std::max(figures.join_max, join);
    figures.leave_sum += leave;
    figures.leave_max = std::max(figures.leave_max, leave);
    figures.busiest_max = std::max(figures.busiest_max, busiest_leave);
    figures.over += (join > 1.1 ? 1 : 0) + (leave > 1.1 ? 1 : 0);
}

TEST_CASE("partition table: figures for docs/placement.md", "[.][figures]") {
    WARN("R N | max/mean: HRW ranked table | moved/min: join avg max, leave avg max, busiest, "
         "over 1.1 of 2 * kTrials");
    for (const uint32_t owner_count : {3U, 6U, 9U, 20U}) {
        for (const uint32_t node_count : {8U, 16U, 24U, 32U, 40U, 48U, 56U, 64U, 128U, 256U}) {
            if (node_count <= owner_count) continue;
            Prng prng(uint64_t{owner_count} * 1000 + node_count);
            Figures figures;
            for (int trial = 0; trial < kTrials; trial++) {
                measure(figures, owner_count, node_count, prng);
            }
            WARN(fmt::format(
                    "{:2} {:3} | {:.3f} {:.3f} {:.3f} | {:.3f} {:.3f}, {:.3f} {:.3f}, {:.3f}, {}",
                    owner_count,
                    node_count,
                    figures.hrw_max,
                    figures.ranked_max,
                    figures.table_max,
                    figures.join_sum / kTrials,
                    figures.join_max,
                    figures.leave_sum / kTrials,
                    figures.leave_max,
                    figures.busiest_max,
                    figures.over));
        }
    }
}

}  // namespace
}  // namespace shoal::placement

// Goal: versions made by nodes whose wall clocks disagree still respect causality. A version
// made after observing another (directly or through a chain of messages) is greater; no node's
// versions run backwards even when its wall clock jumps back; versions of different nodes
// never tie, the node id breaking equal timestamps; a clock runs ahead of the fastest wall
// clock in the cluster only by what bursts of more than 65536 versions in one millisecond
// carry; and a timestamp too far ahead to be a clock's cannot exhaust the clock.
//
// Method: three HybridClocks over one simulated true time, with wall clocks skewed by seconds,
// one of them jumping back; a seeded schedule of local puts and messages delivered after random
// delays. Each node tracks the greatest timestamp causally before its next event, and each
// message carries its sender's; every new version must exceed it.
#include <algorithm>
#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>

#include "shoal/base/prng.h"
#include "shoal/base/version.h"

namespace shoal {
namespace {

constexpr uint64_t kLogicalSteps = uint64_t{1} << 16;

struct SkewedNode {
    NodeId id{};
    HybridClock clock;
    int64_t skew_ms = 0;
    uint64_t causal_max = 0;  // The greatest timestamp causally before this node's next event.
    uint64_t last = 0;

    uint64_t wall_clock_ms(uint64_t true_ms) const {
        return static_cast<uint64_t>(static_cast<int64_t>(true_ms) + skew_ms);
    }
};

struct Message {
    uint64_t deliver_at_ms = 0;
    size_t target = 0;
    uint64_t hlc = 0;
    uint64_t causal_max = 0;
};

// One event at `node`: a new version, which must exceed everything causally before it.
uint64_t make_version(SkewedNode& node, uint64_t true_ms, std::vector<Version>& made) {
    const uint64_t hlc = node.clock.next(node.wall_clock_ms(true_ms));
    REQUIRE(hlc > node.causal_max);
    REQUIRE(hlc > node.last);
    node.causal_max = hlc;
    node.last = hlc;
    made.push_back({.hlc = hlc, .node = node.id});
    return hlc;
}

TEST_CASE("version: causality holds across nodes with skewed and jumping wall clocks",
          "[unit][version]") {
    const uint64_t seed = GENERATE(uint64_t{1}, 2, 3, 4, 5);
    CAPTURE(seed);
    Prng prng(seed);
    std::vector<SkewedNode> nodes(3);
    const int64_t skews_ms[] = {0, -5000, 3000};
    for (size_t index = 0; index < nodes.size(); index++) {
        nodes[index].id = NodeId{index + 1};
        nodes[index].skew_ms = skews_ms[index];
    }
    std::vector<Message> in_flight;
    std::vector<Version> made;
    uint64_t true_ms = 1'700'000'000'000;
    uint64_t fastest_wall_ms = 0;
    for (int step = 0; step < 20'000; step++) {
        true_ms += prng.below(3);
        if (step == 10'000) nodes[2].skew_ms = -20'000;  // Node 3's clock is set back 23 s.
        for (const SkewedNode& node : nodes) {
            fastest_wall_ms = std::max(fastest_wall_ms, node.wall_clock_ms(true_ms));
        }
        // Deliver what is due: observe, then a version that must come after the sender's.
        for (size_t index = 0; index < in_flight.size();) {
            if (in_flight[index].deliver_at_ms > true_ms) {
                index++;
                continue;
            }
            const Message message = in_flight[index];
            in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(index));
            SkewedNode& target = nodes[message.target];
            REQUIRE(target.clock.observe(message.hlc));
            target.causal_max = std::max(target.causal_max, message.causal_max);
            REQUIRE(make_version(target, true_ms, made) > message.hlc);
        }
        const size_t source = prng.below(nodes.size());
        const uint64_t hlc = make_version(nodes[source], true_ms, made);
        if (prng.chance(1, 2)) {
            const size_t target = (source + 1 + prng.below(nodes.size() - 1)) % nodes.size();
            in_flight.push_back({.deliver_at_ms = true_ms + prng.below(50),
                                 .target = target,
                                 .hlc = hlc,
                                 .causal_max = nodes[source].causal_max});
        }
        // No clock runs ahead of the fastest wall clock here: no millisecond holds 65536.
        REQUIRE(HybridClock::wall_clock_ms_of(made.back().hlc) <= fastest_wall_ms);
    }
    // Versions never tie: equal timestamps of different nodes differ by node id.
    std::sort(made.begin(), made.end());
    REQUIRE(std::adjacent_find(made.begin(), made.end()) == made.end());
}

TEST_CASE("version: equal timestamps on two nodes are ordered by node id", "[unit][version]") {
    HybridClock first;
    HybridClock second;
    const Version a{.hlc = first.next(5000), .node = NodeId{7}};
    const Version b{.hlc = second.next(5000), .node = NodeId{3}};
    REQUIRE(a.hlc == b.hlc);
    CHECK(b < a);
    CHECK(a != b);
}

TEST_CASE("version: more than 65536 versions in one millisecond carry, never repeat",
          "[unit][version]") {
    HybridClock clock;
    uint64_t previous = 0;
    for (int index = 0; index < 200'000; index++) {
        const uint64_t hlc = clock.next(7);
        REQUIRE(hlc > previous);
        previous = hlc;
    }
    // 200000 timestamps from 7 ms on: the clock is 3 ms ahead of the wall clock, no more.
    CHECK(HybridClock::wall_clock_ms_of(previous) == 7 + 200'000 / kLogicalSteps);
    CHECK(clock.next(8) == previous + 1);
    CHECK(clock.next(20) == 20 * kLogicalSteps);  // Once the wall clock passes it, it leads.
}

TEST_CASE("version: a timestamp too far ahead to be a clock's is refused", "[unit][version]") {
    HybridClock clock;
    const uint64_t first = clock.next(1000);
    CHECK_FALSE(clock.observe(UINT64_MAX));
    CHECK_FALSE(clock.observe(HybridClock::kWallClockMsCeiling * kLogicalSteps));
    CHECK(clock.last() == first);
    CHECK(clock.next(1000) == first + 1);

    const uint64_t highest = HybridClock::kWallClockMsCeiling * kLogicalSteps - 1;
    CHECK(clock.observe(highest));
    CHECK(clock.next(1000) == highest + 1);
    // A wall clock that reads absurdly far ahead is held under the ceiling, and time goes on.
    HybridClock broken;
    const uint64_t held = broken.next(UINT64_MAX);
    CHECK(held == (HybridClock::kWallClockMsCeiling - 1) * kLogicalSteps);
    CHECK(broken.next(UINT64_MAX) == held + 1);
    CHECK(broken.next(1000) == held + 2);
}

}  // namespace
}  // namespace shoal

// Goal: the hybrid logical clock never runs backwards on one node, whatever the wall clock
// does, and after observe() every local timestamp exceeds the observed one; versions order by
// timestamp and then by node id.
//
// Method: feed HybridClock a scripted wall clock that advances, stalls and jumps back, and
// check each timestamp against the one before; observe timestamps ahead of and behind it.
#include "shoal/base/version.h"

#include <cstdint>

#include <catch2/catch.hpp>

namespace shoal {
namespace {

constexpr uint64_t kLogicalSteps = uint64_t{1} << 16;  // The low 16 bits count within one ms.

TEST_CASE("version: timestamps follow the wall clock while it advances", "[unit][version]") {
    HybridClock clock;
    CHECK(clock.last() == 0);
    const uint64_t first = clock.next(1000);
    CHECK(first == 1000 * kLogicalSteps);
    CHECK(HybridClock::wall_clock_ms_of(first) == 1000);
    const uint64_t second = clock.next(1005);
    CHECK(second == 1005 * kLogicalSteps);
    CHECK(clock.last() == second);
}

TEST_CASE("version: timestamps stay monotonic when the wall clock stalls or goes back",
          "[unit][version]") {
    HybridClock clock;
    const uint64_t wall_clock_ms[] = {5000, 5000, 5000, 4000, 3000, 5000, 5001, 10, 6000, 6000};
    uint64_t previous = 0;
    for (const uint64_t now_ms : wall_clock_ms) {
        CAPTURE(now_ms);
        const uint64_t timestamp = clock.next(now_ms);
        CHECK(timestamp > previous);
        // Never behind the wall clock, and ahead of it only by the logical counter.
        CHECK(HybridClock::wall_clock_ms_of(timestamp) >= now_ms);
        previous = timestamp;
    }
    // Within one stalled millisecond the logical counter counts on.
    HybridClock stalled;
    const uint64_t base = stalled.next(7);
    CHECK(stalled.next(7) == base + 1);
    CHECK(stalled.next(6) == base + 2);
    CHECK(stalled.next(8) == 8 * kLogicalSteps);
}

TEST_CASE("version: observe makes later local timestamps exceed what was seen", "[unit][version]") {
    HybridClock clock;
    clock.next(1000);
    SECTION("a timestamp from a node whose clock runs ahead") {
        const uint64_t remote = 9000 * kLogicalSteps + 17;
        clock.observe(remote);
        CHECK(clock.last() == remote);
        CHECK(clock.next(1001) == remote + 1);
    }
    SECTION("a timestamp from the past changes nothing") {
        const uint64_t before = clock.last();
        clock.observe(10 * kLogicalSteps);
        CHECK(clock.last() == before);
        CHECK(clock.next(1000) == before + 1);
    }
}

TEST_CASE("version: versions order by timestamp, then by node id", "[unit][version]") {
    const Version early{.hlc = 10, .node = NodeId{9}};
    const Version late{.hlc = 11, .node = NodeId{1}};
    const Version late_higher_node{.hlc = 11, .node = NodeId{2}};
    CHECK(early < late);
    CHECK(late < late_higher_node);
    CHECK(late == Version{.hlc = 11, .node = NodeId{1}});
    CHECK(Version{} < early);
}

}  // namespace
}  // namespace shoal

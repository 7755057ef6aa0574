// Object versions: a hybrid logical clock (HLC) timestamp with the node id as tie-break.
//
// A later version wins. The HLC packs wall-clock milliseconds into the high 48 bits and a
// logical counter into the low 16, so versions order like wall time across nodes with loosely
// synchronized clocks, and never run backwards on one node even if its wall clock does.
#pragma once

#include <compare>
#include <cstdint>

#include "shoal/base/ids.h"

namespace shoal {

struct Version {
    uint64_t hlc = 0;
    NodeId node{};

    // By timestamp, then node id. Written out rather than defaulted: clang 14's defaulted <=>
    // compares with a literal 0 and trips -Wzero-as-null-pointer-constant under -Werror.
    constexpr bool operator==(const Version&) const = default;
    constexpr std::strong_ordering operator<=>(const Version& other) const {
        if (hlc != other.hlc) return hlc <=> other.hlc;
        return node <=> other.node;
    }
};

class HybridClock {
public:
    // Wall-clock readings at or past 2^47 ms (the year 6429) are not believed: next() holds
    // them under it, observe() refuses them. From the highest timestamp this leaves, 2^63 more
    // remain, so the clock never runs out.
    static constexpr uint64_t kWallClockMsCeiling = uint64_t{1} << 47;

    // A timestamp later than every one this clock issued or observed.
    uint64_t next(uint64_t wall_clock_ms);
    // Takes in a timestamp seen from another node, so later local ones exceed it. False, and
    // nothing taken, for one whose wall-clock part is at or past kWallClockMsCeiling.
    bool observe(uint64_t hlc);
    uint64_t last() const { return last_; }

    static uint64_t wall_clock_ms_of(uint64_t hlc) { return hlc >> kLogicalBits; }

private:
    static constexpr unsigned kLogicalBits = 16;
    uint64_t last_ = 0;
};

}  // namespace shoal

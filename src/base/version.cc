#include "shoal/base/version.h"

#include <algorithm>

#include "shoal/base/assert.h"

namespace shoal {

uint64_t HybridClock::next(uint64_t wall_clock_ms) {
    // A wall clock past the ceiling is held just under it, so the shift cannot overflow; the
    // logical part then counts on.
    const uint64_t physical = std::min(wall_clock_ms, kWallClockMsCeiling - 1) << kLogicalBits;
    // Either the wall clock moved past everything seen, or the logical part counts on. 65536
    // timestamps in one millisecond carry into the millisecond part: the clock then runs that
    // far ahead of the wall clock, and stays monotonic.
    const uint64_t candidate = std::max(physical, last_ + 1);
    SHOAL_ASSERT(candidate > last_);
    last_ = candidate;
    return last_;
}

bool HybridClock::observe(uint64_t hlc) {
    // Not a clock's reading but a broken or hostile one: taking it would leave too few
    // timestamps above it, and a timestamp of UINT64_MAX none, so next() could not go on.
    if (wall_clock_ms_of(hlc) >= kWallClockMsCeiling) return false;
    last_ = std::max(last_, hlc);
    return true;
}

}  // namespace shoal

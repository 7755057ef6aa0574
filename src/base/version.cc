#include "shoal/base/version.h"

#include <algorithm>

#include "shoal/base/assert.h"

namespace shoal {

uint64_t HybridClock::next(uint64_t wall_clock_ms) {
    const uint64_t physical = wall_clock_ms << kLogicalBits;
    // Either the wall clock moved past everything seen, or the logical part counts on.
    const uint64_t candidate = std::max(physical, last_ + 1);
    SHOAL_ASSERT(candidate > last_);
    last_ = candidate;
    return last_;
}

void HybridClock::observe(uint64_t hlc) {
    last_ = std::max(last_, hlc);
}

}  // namespace shoal

#include "shoal/membership/suspicion.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "shoal/base/assert.h"

namespace shoal::membership {

Suspicion::Suspicion(MemberId from, Instant start, const Timeouts& timeouts)
    : start_(start), timeouts_(timeouts) {
    SHOAL_ASSERT(timeouts.min > Duration{0});
    SHOAL_ASSERT(timeouts.min <= timeouts.max);
    suspecters_.push_back(from);
    deadline_ = start_ + timeout();
}

bool Suspicion::confirm(MemberId from) {
    if (confirmations() >= timeouts_.confirmations_needed) return false;  // Already at min.
    if (std::find(suspecters_.begin(), suspecters_.end(), from) != suspecters_.end()) {
        return false;
    }
    suspecters_.push_back(from);
    SHOAL_ASSERT(confirmations() <= timeouts_.confirmations_needed);
    deadline_ = start_ + timeout();
    return true;
}

void Suspicion::postpone(Duration lag) {
    SHOAL_ASSERT(lag >= Duration{0});
    start_ = start_ + lag;
    deadline_ = deadline_ + lag;
}

Duration Suspicion::timeout() const {
    return timeout_for(timeouts_, confirmations());
}

Duration Suspicion::timeout_for(const Timeouts& timeouts, uint32_t confirmations) {
    if (timeouts.confirmations_needed == 0) return timeouts.min;
    const double fraction = std::log(static_cast<double>(confirmations) + 1.0) /
                            std::log(static_cast<double>(timeouts.confirmations_needed) + 1.0);
    const double max_seconds = std::chrono::duration<double>(timeouts.max).count();
    const double min_seconds = std::chrono::duration<double>(timeouts.min).count();
    const double raw_seconds = max_seconds - fraction * (max_seconds - min_seconds);
    // Whole milliseconds, as memberlist does, so the value does not hang on the last ulp.
    const auto raw = std::chrono::milliseconds(static_cast<int64_t>(std::floor(raw_seconds * 1e3)));
    const Duration timeout = std::max<Duration>(raw, timeouts.min);
    SHOAL_ASSERT(timeout <= timeouts.max);
    return timeout;
}

}  // namespace shoal::membership

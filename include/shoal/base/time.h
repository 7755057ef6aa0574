// Time types: Duration and Instant, a point on a monotonic clock.
//
// Node logic reads time only through Runtime::now(); these types carry it. Instant counts
// nanoseconds from an arbitrary origin (process start, or zero in the simulator).
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>

namespace shoal {

using Duration = std::chrono::nanoseconds;

class Instant {
public:
    constexpr Instant() = default;
    constexpr explicit Instant(Duration since_origin) : since_origin_(since_origin) {}

    constexpr Duration since_origin() const { return since_origin_; }

    constexpr Instant operator+(Duration duration) const {
        return Instant(since_origin_ + duration);
    }
    constexpr Duration operator-(Instant other) const {
        return since_origin_ - other.since_origin_;
    }
    // Written out rather than defaulted: clang 14's defaulted <=> compares with a literal 0
    // and trips -Wzero-as-null-pointer-constant under -Werror.
    constexpr bool operator==(const Instant&) const = default;
    constexpr auto operator<=>(const Instant& other) const {
        return since_origin_ <=> other.since_origin_;
    }

private:
    Duration since_origin_{0};
};

// The heartbeat of node logic: every protocol timeout is a count of ticks.
inline constexpr Duration kTickDuration = std::chrono::milliseconds(10);

// Whole milliseconds of a duration, for logs and stats (rounded toward zero).
constexpr int64_t milliseconds_of(Duration duration) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
}

// The whole milliseconds from `earlier` to `later`; 0 if `later` is not after it.
constexpr uint64_t milliseconds_between(Instant earlier, Instant later) {
    return later <= earlier ? 0 : static_cast<uint64_t>(milliseconds_of(later - earlier));
}

}  // namespace shoal

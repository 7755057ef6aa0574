// Goal: Instant is a point on a monotonic clock that orders, adds and subtracts like the
// durations it wraps, and the tick that every protocol timeout counts in stays 10 ms.
//
// Method: compile-time and run-time checks on a few instants.
#include "shoal/base/time.h"

#include <chrono>

#include <catch2/catch.hpp>

namespace shoal {
namespace {

using std::chrono::milliseconds;

TEST_CASE("time: instants order, add and subtract like durations", "[unit][time]") {
    constexpr Instant origin;
    constexpr Instant later = origin + milliseconds(25);
    STATIC_REQUIRE(origin.since_origin() == Duration{0});
    STATIC_REQUIRE(later - origin == milliseconds(25));
    STATIC_REQUIRE(origin - later == milliseconds(-25));
    STATIC_REQUIRE(origin < later);
    STATIC_REQUIRE(later >= origin);
    STATIC_REQUIRE(later == Instant(milliseconds(25)));
    STATIC_REQUIRE(later != origin);
    CHECK(later + kTickDuration > later);
}

TEST_CASE("time: milliseconds round toward zero and never run backwards", "[unit][time]") {
    constexpr Instant start(milliseconds(100));
    STATIC_REQUIRE(milliseconds_of(std::chrono::microseconds(2999)) == 2);
    STATIC_REQUIRE(milliseconds_of(std::chrono::microseconds(-2999)) == -2);
    STATIC_REQUIRE(milliseconds_between(start, start + std::chrono::microseconds(7500)) == 7);
    STATIC_REQUIRE(milliseconds_between(start, start) == 0);
    STATIC_REQUIRE(milliseconds_between(start + milliseconds(5), start) == 0);
}

TEST_CASE("time: a tick is 10 ms", "[unit][time]") {
    STATIC_REQUIRE(kTickDuration == milliseconds(10));
}

}  // namespace
}  // namespace shoal

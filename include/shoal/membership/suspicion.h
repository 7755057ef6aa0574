// Suspicion: one suspected member's timer, which shrinks as independent suspicions confirm it.
//
// Lifeguard's dynamic suspicion timeout (Dadgar, Phillips, Currey, "Lifeguard: Local Health
// Awareness for More Accurate Failure Detection", 2018, section IV-B; memberlist's
// suspicion.go): the timer starts at `max` and, with each confirmation from a member that had
// not yet suspected, falls towards `min`, reached with `confirmations_needed` of them:
//
//   timeout(n) = max(min, max - (max - min) * log(n + 1) / log(k + 1))
//
// A member many others cannot reach is declared dead quickly; one that a single, perhaps
// unhealthy, prober accuses gets the longest time to refute.
//
// Pure: no IO. Time is the caller's.
#pragma once

#include <cstdint>
#include <vector>

#include "shoal/base/time.h"
#include "shoal/membership/member.h"

namespace shoal::membership {

class Suspicion {
public:
    struct Timeouts {
        Duration min{0};
        Duration max{0};
        uint32_t confirmations_needed = 0;  // k. 0: the timeout is `min` from the start.
    };

    // REQUIRES: 0 < min <= max.
    Suspicion(MemberId from, Instant start, const Timeouts& timeouts);

    // Counts `from` as an independent confirmation unless it already suspected. Returns
    // whether it was new (the caller then gossips it, so others count it too).
    bool confirm(MemberId from);
    // Moves the timer later by `lag`: time this node could not listen is not silence.
    void postpone(Duration lag);

    Instant start() const { return start_; }
    Instant deadline() const { return deadline_; }
    uint32_t confirmations() const { return static_cast<uint32_t>(suspecters_.size() - 1); }
    // The timeout from start() with the confirmations so far.
    Duration timeout() const;

    static Duration timeout_for(const Timeouts& timeouts, uint32_t confirmations);

private:
    Instant start_;
    Timeouts timeouts_;
    // Who suspected: the first, then each confirmation; no more than k + 1 are needed.
    std::vector<MemberId> suspecters_;
    Instant deadline_;  // start_ + timeout(), kept: it is read on every wake_at().
};

}  // namespace shoal::membership

// EventQueue: the simulator's clock and scheduler, the only source of "when" in a simulated
// run.
//
// Events run in (time, sequence) order. The sequence number breaks ties in scheduling order,
// so a whole run is a pure function of its seed: the same seed, the same run.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "shoal/base/time.h"

namespace shoal::sim {

class EventQueue {
public:
    Instant now() const { return now_; }
    bool empty() const { return events_.empty(); }
    uint64_t events_run() const { return events_run_; }

    // REQUIRES: at >= now().
    void schedule(Instant at, std::function<void()> action);
    void schedule_after(Duration delay, std::function<void()> action) {
        schedule(now_ + delay, std::move(action));
    }

    // Runs events due at or before `deadline`, then advances the clock to it. Returns the
    // number of events run.
    uint64_t run_until(Instant deadline);

    // Runs events until `done()` holds after an event, the queue empties, or `deadline`
    // passes. Returns whether done() held.
    bool run_until(Instant deadline, const std::function<bool()>& done);

    // Runs the earliest event, advancing the clock to it; false if there is none. For drivers
    // that act between events (a turn end after each one).
    bool run_next();

private:
    struct Event {
        Instant at;
        uint64_t sequence = 0;
        std::function<void()> action;
    };
    // Orders the heap so that the earliest (at, sequence) is on top.
    struct Later {
        bool operator()(const Event& left, const Event& right) const {
            if (left.at != right.at) return left.at > right.at;
            return left.sequence > right.sequence;
        }
    };

    Instant now_;
    uint64_t sequence_next_ = 0;
    uint64_t events_run_ = 0;
    std::vector<Event> events_;
};

}  // namespace shoal::sim

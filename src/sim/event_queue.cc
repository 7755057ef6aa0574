#include "shoal/sim/event_queue.h"

#include <algorithm>

#include "shoal/base/assert.h"

namespace shoal::sim {

void EventQueue::schedule(Instant at, std::function<void()> action) {
    SHOAL_ASSERT(at >= now_);  // Nothing may be scheduled in the past.
    events_.push_back(Event{at, sequence_next_, std::move(action)});
    sequence_next_ += 1;
    std::push_heap(events_.begin(), events_.end(), Later{});
}

bool EventQueue::run_next() {
    if (events_.empty()) return false;
    std::pop_heap(events_.begin(), events_.end(), Later{});
    Event event = std::move(events_.back());
    events_.pop_back();
    SHOAL_ASSERT(event.at >= now_);  // Time never runs backwards.
    now_ = event.at;
    event.action();
    events_run_ += 1;
    return true;
}

uint64_t EventQueue::run_until(Instant deadline) {
    uint64_t run = 0;
    while (!events_.empty() && events_.front().at <= deadline) {
        run_next();
        run += 1;
    }
    now_ = std::max(now_, deadline);
    return run;
}

bool EventQueue::run_until(Instant deadline, const std::function<bool()>& done) {
    if (done()) return true;
    while (!events_.empty() && events_.front().at <= deadline) {
        run_next();
        if (done()) return true;
    }
    return false;
}

}  // namespace shoal::sim

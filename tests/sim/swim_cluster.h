// SwimCluster: N membership::Swim cores on a simulated datagram network, for seeded tests.
//
// The harness is the shell the real node will be, reduced to what membership needs: it feeds
// each core its datagrams and push-pull exchanges and calls tick() when the core asks to be
// woken (wake_at(), rounded up to that node's 10 ms tick grid, as the runtime's tick timer
// would). Time jumps from event to event, so an idle second costs nothing and 10^5 protocol
// periods of 32 nodes run in seconds. One Prng, seeded from the options, decides every loss,
// delay and stall, and each core is seeded from it: the same seed, the same run.
//
// Faults: random datagram loss and delay; partitions (datagrams and push-pulls between sides
// are lost); crashes (a crashed node processes nothing again); and "sick" nodes, which stall
// for a random while, processing nothing, then run again: the overdue tick comes first with
// the measured loop lag (timers before IO, as in libuv), then the datagrams that queued up.
//
// Events are plain structs in a binary heap, not std::function: a run moves tens of millions.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shoal/base/prng.h"
#include "shoal/base/time.h"
#include "shoal/membership/swim.h"

namespace shoal::sim {

struct SwimClusterOptions {
    uint32_t nodes = 32;
    uint64_t seed = 1;
    membership::Swim::Options swim;
    uint32_t drop_per_million = 0;  // Each datagram independently.
    Duration delay_min = std::chrono::microseconds(200);
    Duration delay_jitter_max = std::chrono::microseconds(800);
    Duration push_pull_delay = std::chrono::milliseconds(2);  // Each way; TCP loses nothing.
    Duration tick = kTickDuration;
};

// How a sick node stalls: for stall_min..stall_max, then runs for run_min..run_max, and so on.
struct Sickness {
    Duration stall_min = std::chrono::milliseconds(500);
    Duration stall_max = std::chrono::seconds(2);
    Duration run_min = std::chrono::seconds(1);
    Duration run_max = std::chrono::seconds(5);
};

// What the cluster saw, counted from the events the cores emitted.
struct SwimClusterCounts {
    // A node's own suspicion of a member that had not crashed ran out: SWIM's false positive.
    uint64_t false_dead_declared = 0;
    // A node marked such a member dead, by its own suspicion or by hearing the rumor.
    uint64_t false_dead_seen = 0;
    uint64_t suspect_events = 0;
    uint64_t datagrams_sent = 0;
    uint64_t datagrams_dropped = 0;
    uint64_t push_pulls = 0;
    uint64_t stalls = 0;
};

class SwimCluster {
public:
    explicit SwimCluster(const SwimClusterOptions& options);
    ~SwimCluster();
    SwimCluster(const SwimCluster&) = delete;
    SwimCluster& operator=(const SwimCluster&) = delete;
    SwimCluster(SwimCluster&&) = delete;
    SwimCluster& operator=(SwimCluster&&) = delete;

    // Every node but node 0 joins through node 0 (node i at i ms).
    void join_all();
    void run_until(Instant deadline);
    void run_for(Duration duration) { run_until(now_ + duration); }
    // Runs until every live node's view is converged() or `deadline`; returns whether it was.
    bool run_until_converged(Instant deadline, Duration check_every = std::chrono::seconds(1));

    Instant now() const { return now_; }
    size_t size() const { return nodes_.size(); }
    membership::Swim& swim(size_t node);
    membership::MemberId id(size_t node) const;
    bool crashed(size_t node) const;

    void crash(size_t node);
    // A crashed node starts again with the same identity and a fresh core (incarnation 0, as
    // if it kept none), joining through `seed`.
    void restart(size_t node, size_t seed);
    // The node leaves gracefully; it keeps running, as a node does until leave_done().
    void leave(size_t node);
    // Nodes on different sides exchange nothing. `side` holds a side per node.
    void partition(const std::vector<uint8_t>& side);
    void heal();
    void set_drop_per_million(uint32_t drop_per_million) { drop_per_million_ = drop_per_million; }
    void make_sick(size_t node, const Sickness& sickness);

    // Every live node sees every live node alive and every crashed one dead or departed, all at
    // the same incarnations: one view.
    bool converged() const;
    // When `observer` first saw `member` dead (or left), if it has.
    std::optional<Instant> dead_seen_at(size_t observer, size_t member) const;
    const SwimClusterCounts& counts() const { return counts_; }
    // The largest health any node reached.
    uint32_t health_peak() const { return health_peak_; }

private:
    enum class EventKind : uint8_t { kWake, kDatagram, kPushPullRequest, kPushPullReply, kStall };
    struct Event {
        Instant at;
        uint64_t sequence = 0;
        EventKind kind = EventKind::kWake;
        uint32_t node = 0;
        uint32_t payload = 0;  // Index into payloads_ for deliveries.
    };
    struct Later {
        bool operator()(const Event& left, const Event& right) const {
            if (left.at != right.at) return left.at > right.at;
            return left.sequence > right.sequence;
        }
    };
    struct Payload {
        Buffer bytes;
        uint32_t source = 0;
    };
    struct Node;

    void schedule(Instant at, EventKind kind, uint32_t node, uint32_t payload);
    uint32_t store(Buffer bytes, uint32_t source);
    Buffer take(uint32_t payload);
    void run_event(const Event& event);
    void deliver(uint32_t node, EventKind kind, uint32_t payload);
    void wake(uint32_t node);
    void stall(uint32_t node);
    void after_input(uint32_t node, bool in_tick);
    void observe(uint32_t node, const membership::MemberEvent& event, bool in_tick);
    bool cut(uint32_t source, uint32_t target) const;
    uint32_t node_of(const HostPort& address) const;
    Duration random_between(Duration min, Duration max);

    SwimClusterOptions options_;
    Prng prng_;
    Instant now_;
    uint64_t sequence_next_ = 0;
    std::vector<Event> events_;
    std::vector<Payload> payloads_;
    std::vector<uint32_t> payloads_free_;
    std::vector<std::unique_ptr<Node>> nodes_;
    std::map<membership::MemberId, uint32_t> by_id_;
    std::vector<uint8_t> side_;
    bool partitioned_ = false;
    uint32_t drop_per_million_ = 0;
    std::vector<membership::Identity> identities_;
    SwimClusterCounts counts_;
    uint32_t health_peak_ = 0;
};

}  // namespace shoal::sim

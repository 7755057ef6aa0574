#include "sim/swim_cluster.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "shoal/base/assert.h"

namespace shoal::sim {

using membership::MemberEvent;
using membership::MemberEventKind;
using membership::MemberId;
using membership::MemberState;
using membership::Swim;

namespace {

constexpr Instant kNever{Duration::max()};
constexpr uint16_t kGossipPort = 7946;

}  // namespace

struct SwimCluster::Node {
    std::unique_ptr<Swim> swim;
    HostPort address;
    Duration tick_phase{0};  // This node's tick grid: tick_phase + n * tick.
    Instant wake_scheduled = kNever;
    bool crashed = false;
    Sickness sickness;
    bool stalled = false;
    Instant stall_started;
    std::vector<std::pair<EventKind, uint32_t>> backlog;  // Deliveries held by a stall.
    std::vector<std::optional<Instant>> dead_seen;        // Per member: when it went dead here.
};

SwimCluster::SwimCluster(const SwimClusterOptions& options)
    : options_(options), prng_(options.seed), drop_per_million_(options.drop_per_million) {
    SHOAL_ASSERT(options.nodes >= 1);
    SHOAL_ASSERT(options.nodes <= 65536);
    for (uint32_t node = 0; node < options.nodes; node++) {
        auto state = std::make_unique<Node>();
        state->address = HostPort{.host = fmt::format("10.0.{}.{}", node / 256, node % 256),
                                  .port = kGossipPort};
        const membership::Identity identity{
                .id = membership::random_member_id(prng_),
                .name = fmt::format("n{}", node),
                .address = state->address,
                .zone = fmt::format("z{}", node % 3),
        };
        state->tick_phase = random_between(Duration{0}, options.tick - Duration{1});
        state->swim = std::make_unique<Swim>(options.swim, identity, prng_.next_u64(), now_);
        state->dead_seen.resize(options.nodes);
        by_id_.emplace(identity.id, node);
        identities_.push_back(identity);
        nodes_.push_back(std::move(state));
    }
    side_.assign(options.nodes, 0);
    for (uint32_t node = 0; node < options.nodes; node++) {
        after_input(node, /*in_tick=*/false);
    }
}

SwimCluster::~SwimCluster() = default;

Duration SwimCluster::random_between(Duration min, Duration max) {
    SHOAL_ASSERT(min <= max);
    return min + Duration{static_cast<int64_t>(
                         prng_.below(static_cast<uint64_t>((max - min).count()) + 1))};
}

Swim& SwimCluster::swim(size_t node) {
    SHOAL_ASSERT(node < nodes_.size());
    return *nodes_[node]->swim;
}

MemberId SwimCluster::id(size_t node) const {
    SHOAL_ASSERT(node < nodes_.size());
    return nodes_[node]->swim->self().id();
}

bool SwimCluster::crashed(size_t node) const {
    SHOAL_ASSERT(node < nodes_.size());
    return nodes_[node]->crashed;
}

void SwimCluster::join_all() {
    const std::vector<HostPort> seeds{nodes_[0]->address};
    for (uint32_t node = 1; node < nodes_.size(); node++) {
        run_for(std::chrono::milliseconds(1));
        nodes_[node]->swim->join(now_, seeds);
        after_input(node, /*in_tick=*/false);
    }
}

void SwimCluster::schedule(Instant at, EventKind kind, uint32_t node, uint32_t payload) {
    SHOAL_ASSERT(at >= now_);
    events_.push_back(Event{
            .at = at, .sequence = sequence_next_, .kind = kind, .node = node, .payload = payload});
    sequence_next_ += 1;
    std::push_heap(events_.begin(), events_.end(), Later{});
}

uint32_t SwimCluster::store(Buffer bytes, uint32_t source) {
    if (payloads_free_.empty()) {
        payloads_.push_back(Payload{.bytes = std::move(bytes), .source = source});
        return static_cast<uint32_t>(payloads_.size() - 1);
    }
    const uint32_t payload = payloads_free_.back();
    payloads_free_.pop_back();
    payloads_[payload] = Payload{.bytes = std::move(bytes), .source = source};
    return payload;
}

Buffer SwimCluster::take(uint32_t payload) {
    SHOAL_ASSERT(payload < payloads_.size());
    Buffer bytes = std::move(payloads_[payload].bytes);
    payloads_free_.push_back(payload);
    return bytes;
}

void SwimCluster::run_until(Instant deadline) {
    while (!events_.empty() && events_.front().at <= deadline) {
        std::pop_heap(events_.begin(), events_.end(), Later{});
        const Event event = events_.back();
        events_.pop_back();
        SHOAL_ASSERT(event.at >= now_);
        now_ = event.at;
        run_event(event);
    }
    now_ = std::max(now_, deadline);
}

bool SwimCluster::run_until_converged(Instant deadline, Duration check_every) {
    while (!converged()) {
        if (now_ >= deadline) return false;
        run_until(std::min(now_ + check_every, deadline));
    }
    return true;
}

void SwimCluster::run_event(const Event& event) {
    Node& node = *nodes_[event.node];
    switch (event.kind) {
        case EventKind::kWake:
            if (node.crashed || event.at != node.wake_scheduled) return;  // Stale.
            node.wake_scheduled = kNever;
            if (!node.stalled) wake(event.node);  // A stalled node ticks when it wakes.
            return;
        case EventKind::kDatagram:
        case EventKind::kPushPullRequest:
        case EventKind::kPushPullReply:
            if (node.crashed) {
                (void)take(event.payload);
            } else if (node.stalled) {
                node.backlog.emplace_back(event.kind, event.payload);
            } else {
                deliver(event.node, event.kind, event.payload);
            }
            return;
        case EventKind::kStall:
            stall(event.node);
            return;
    }
    SHOAL_ASSERT(false);
}

void SwimCluster::wake(uint32_t node) {
    nodes_[node]->swim->tick(now_);
    after_input(node, /*in_tick=*/true);
}

void SwimCluster::deliver(uint32_t node, EventKind kind, uint32_t payload) {
    Swim& swim = *nodes_[node]->swim;
    const uint32_t source = payloads_[payload].source;
    Buffer bytes = take(payload);
    if (kind == EventKind::kDatagram) {
        swim.on_datagram(now_, nodes_[source]->address, bytes.view());
    } else {
        Result<std::optional<Buffer>> reply = swim.on_push_pull(now_, bytes.view());
        SHOAL_ASSERT(reply.is_ok());
        SHOAL_ASSERT(reply.value().has_value() == (kind == EventKind::kPushPullRequest));
        if (reply.value().has_value() && !cut(node, source) && !nodes_[source]->crashed) {
            schedule(now_ + options_.push_pull_delay,
                     EventKind::kPushPullReply,
                     source,
                     store(std::move(*reply.value()), node));
        }
    }
    after_input(node, /*in_tick=*/false);
}

void SwimCluster::stall(uint32_t node_index) {
    Node& node = *nodes_[node_index];
    if (node.crashed) return;
    if (!node.stalled) {
        node.stalled = true;
        node.stall_started = now_;
        counts_.stalls += 1;
        schedule(now_ + random_between(node.sickness.stall_min, node.sickness.stall_max),
                 EventKind::kStall,
                 node_index,
                 0);
        return;
    }
    // Timers before IO, as a libuv loop runs them: the late tick first, with its lag.
    node.stalled = false;
    node.wake_scheduled = kNever;
    node.swim->on_loop_lag(now_, now_ - node.stall_started);
    wake(node_index);
    std::vector<std::pair<EventKind, uint32_t>> backlog;
    std::swap(backlog, node.backlog);
    for (const auto& [kind, payload] : backlog) {
        deliver(node_index, kind, payload);
    }
    schedule(now_ + random_between(node.sickness.run_min, node.sickness.run_max),
             EventKind::kStall,
             node_index,
             0);
}

void SwimCluster::after_input(uint32_t node_index, bool in_tick) {
    Node& node = *nodes_[node_index];
    membership::Outbox& outbox = node.swim->outbox();
    for (membership::OutgoingDatagram& datagram : outbox.datagrams) {
        counts_.datagrams_sent += 1;
        const uint32_t target = node_of(datagram.target);
        if (target == UINT32_MAX || cut(node_index, target) ||
            prng_.chance(drop_per_million_, 1'000'000)) {
            counts_.datagrams_dropped += 1;
            continue;
        }
        const Duration delay =
                options_.delay_min + random_between(Duration{0}, options_.delay_jitter_max);
        schedule(now_ + delay,
                 EventKind::kDatagram,
                 target,
                 store(std::move(datagram.bytes), node_index));
    }
    for (membership::PushPullStart& start : outbox.push_pulls) {
        counts_.push_pulls += 1;
        const uint32_t target = node_of(start.target);
        if (target == UINT32_MAX || cut(node_index, target) || nodes_[target]->crashed) continue;
        schedule(now_ + options_.push_pull_delay,
                 EventKind::kPushPullRequest,
                 target,
                 store(std::move(start.state), node_index));
    }
    for (const MemberEvent& event : outbox.events) {
        observe(node_index, event, in_tick);
    }
    outbox.clear();
    health_peak_ = std::max(health_peak_, node.swim->health());

    // The runtime ticks on a grid: the first tick at or after the wanted time, and after now.
    const Instant wanted = std::max(node.swim->wake_at(), now_ + Duration{1});
    const Duration since_phase = wanted.since_origin() - node.tick_phase;
    const int64_t ticks = (since_phase + options_.tick - Duration{1}) / options_.tick;
    const Instant wake{node.tick_phase + options_.tick * ticks};
    SHOAL_ASSERT(wake >= wanted);
    if (wake < node.wake_scheduled) {
        node.wake_scheduled = wake;
        schedule(wake, EventKind::kWake, node_index, 0);
    }
}

void SwimCluster::observe(uint32_t node_index, const MemberEvent& event, bool in_tick) {
    const auto found = by_id_.find(event.member);
    SHOAL_ASSERT(found != by_id_.end());
    const uint32_t member = found->second;
    std::optional<Instant>& dead_seen = nodes_[node_index]->dead_seen[member];
    switch (event.kind) {
        case MemberEventKind::kDead:
            if (!nodes_[member]->crashed) {
                counts_.false_dead_seen += 1;
                // Only a tick declares: a dead event from a datagram is a rumor heard.
                if (in_tick) counts_.false_dead_declared += 1;
            }
            dead_seen = now_;
            return;
        case MemberEventKind::kLeft:
            dead_seen = now_;
            return;
        case MemberEventKind::kJoined:
        case MemberEventKind::kAlive:
            dead_seen.reset();
            return;
        case MemberEventKind::kSuspect:
            counts_.suspect_events += 1;
            return;
        case MemberEventKind::kUpdated:
        case MemberEventKind::kDeparted:
            return;
    }
    SHOAL_ASSERT(false);
}

bool SwimCluster::cut(uint32_t source, uint32_t target) const {
    return partitioned_ && side_[source] != side_[target];
}

// Addresses are 10.0.<node / 256>.<node % 256>, parsed back rather than looked up: this runs
// for every datagram.
uint32_t SwimCluster::node_of(const HostPort& address) const {
    if (address.port != kGossipPort || !address.host.starts_with("10.0.")) return UINT32_MAX;
    uint32_t high = 0;
    uint32_t low = 0;
    const char* begin = address.host.data() + 5;
    const char* end = address.host.data() + address.host.size();
    const auto [dot, error] = std::from_chars(begin, end, high);
    if (error != std::errc() || dot == end || *dot != '.') return UINT32_MAX;
    const auto [last, error_low] = std::from_chars(dot + 1, end, low);
    if (error_low != std::errc() || last != end || low > 255) return UINT32_MAX;
    const uint32_t node = high * 256 + low;
    return node < nodes_.size() ? node : UINT32_MAX;
}

void SwimCluster::crash(size_t node) {
    SHOAL_ASSERT(node < nodes_.size());
    nodes_[node]->crashed = true;
    nodes_[node]->backlog.clear();
}

void SwimCluster::restart(size_t node, size_t seed) {
    SHOAL_ASSERT(node < nodes_.size());
    SHOAL_ASSERT(seed < nodes_.size());
    Node& state = *nodes_[node];
    SHOAL_ASSERT(state.crashed);
    state.crashed = false;
    state.stalled = false;
    state.wake_scheduled = kNever;
    state.swim = std::make_unique<Swim>(options_.swim, identities_[node], prng_.next_u64(), now_);
    const std::vector<HostPort> seeds{nodes_[seed]->address};
    state.swim->join(now_, seeds);
    after_input(static_cast<uint32_t>(node), /*in_tick=*/false);
}

void SwimCluster::leave(size_t node) {
    SHOAL_ASSERT(node < nodes_.size());
    SHOAL_ASSERT(!nodes_[node]->crashed);
    nodes_[node]->swim->leave(now_);
    after_input(static_cast<uint32_t>(node), /*in_tick=*/false);
}

void SwimCluster::partition(const std::vector<uint8_t>& side) {
    SHOAL_ASSERT(side.size() == nodes_.size());
    side_ = side;
    partitioned_ = true;
}

void SwimCluster::heal() {
    partitioned_ = false;
}

void SwimCluster::make_sick(size_t node, const Sickness& sickness) {
    SHOAL_ASSERT(node < nodes_.size());
    nodes_[node]->sickness = sickness;
    schedule(now_ + random_between(sickness.run_min, sickness.run_max),
             EventKind::kStall,
             static_cast<uint32_t>(node),
             0);
}

bool SwimCluster::converged() const {
    for (const auto& observer : nodes_) {
        if (observer->crashed) continue;
        for (const auto& subject : nodes_) {
            const membership::Member* member = observer->swim->find(subject->swim->self().id());
            if (subject->crashed) {
                if (member != nullptr && membership::is_live(member->state)) return false;
                continue;
            }
            if (member == nullptr || member->state != MemberState::kAlive) return false;
            if (member->incarnation != subject->swim->incarnation()) return false;
        }
    }
    return true;
}

std::optional<Instant> SwimCluster::dead_seen_at(size_t observer, size_t member) const {
    SHOAL_ASSERT(observer < nodes_.size());
    SHOAL_ASSERT(member < nodes_.size());
    return nodes_[observer]->dead_seen[member];
}

}  // namespace shoal::sim

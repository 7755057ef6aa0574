// Swim: membership and failure detection by SWIM with Lifeguard, as a pure state machine.
//
// Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent Infection-style Process Group
// Membership Protocol" (DSN 2002): each protocol period a node probes one member, round-robin
// over a list shuffled every round (4.3); a silent member is probed indirectly through k others
// (3.1), then suspected (4.2); a suspect that does not refute with a higher incarnation in time
// is declared dead; updates ride on the probes' packets (4.1). Dadgar, Phillips, Currey,
// "Lifeguard: Local Health Awareness for More Accurate Failure Detection" (2018): a local health
// multiplier widens this node's own probe interval and timeout when it misses acks and nacks or
// sees its loop lag; suspicion timeouts shrink with independent confirmations (suspicion.h); a
// probe of a suspect tells it so (the buddy system). memberlist (hashicorp) supplies the rest:
// a separate gossip interval, TCP push-pull of the full state, gossip to the recently dead.
// docs/membership.md gives the decisions, the defaults and the detection-time sums.
//
// Swim performs no IO, reads no clock and draws randomness only from its own Prng, seeded by
// the caller, so a run is a function of its inputs. The shell drives it:
//   - tick(now) on every runtime tick; the simulator may instead call it only at wake_at();
//   - on_loop_lag(now, lag) first, in a tick that ran late;
//   - on_datagram(now, from, bytes) for each datagram on the gossip port;
//   - on_push_pull(now, bytes) for a push-pull state read from TCP; it returns the reply to
//     write back on the same connection, if the state was a request;
//   - join(now, seeds) and leave(now), for the operator.
// After each call the shell sends what outbox() holds and clears it: datagrams; push-pull
// exchanges (connect to the target, send the state, pass the answer to on_push_pull); member
// events. Bad bytes are never asserted on: they are dropped and counted in stats().
//
// Single-threaded. Every container is bounded: members by Options::members_max, pending
// updates by the member count, indirect-probe relays by Options::relays_max, and the outbox by
// what one call can produce (a few packets per member at most).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "shoal/base/address.h"
#include "shoal/base/bytes.h"
#include "shoal/base/prng.h"
#include "shoal/base/status.h"
#include "shoal/base/time.h"
#include "shoal/membership/broadcast_queue.h"
#include "shoal/membership/gossip.h"
#include "shoal/membership/member.h"
#include "shoal/membership/suspicion.h"

namespace shoal::membership {

struct OutgoingDatagram {
    HostPort target;
    Buffer bytes;
};

// A push-pull exchange to start: connect to `target` over TCP, send `state`, and hand what
// comes back to Swim::on_push_pull. A failed connection needs no report.
struct PushPullStart {
    HostPort target;
    Buffer state;
};

enum class MemberEventKind : uint8_t {
    kJoined,    // A member this node did not know, or knew as departed.
    kUpdated,   // Its name, address, zone or capacity weight changed.
    kSuspect,   // Missed a probe somewhere; may yet refute.
    kAlive,     // Was suspect, dead or left, and is alive again at a higher incarnation.
    kDead,      // Declared failed, here or by another member.
    kLeft,      // Left gracefully.
    kDeparted,  // Dead or left past the departure grace: its data is to be re-protected.
};

struct MemberEvent {
    MemberEventKind kind = MemberEventKind::kJoined;
    MemberId member;
    Incarnation incarnation{0};
};

struct Outbox {
    std::vector<OutgoingDatagram> datagrams;
    std::vector<PushPullStart> push_pulls;
    std::vector<MemberEvent> events;

    bool empty() const { return datagrams.empty() && push_pulls.empty() && events.empty(); }
    void clear() {
        datagrams.clear();
        push_pulls.clear();
        events.clear();
    }
};

// Counters since start. The shell exports them; the simulator asserts on them.
struct SwimStats {
    uint64_t datagrams_received = 0;
    uint64_t datagrams_sent = 0;
    uint64_t bytes_received = 0;
    uint64_t bytes_sent = 0;
    uint64_t packets_malformed = 0;    // Failed to decode (oversized ones included).
    uint64_t packets_foreign = 0;      // Another cluster's.
    uint64_t packets_from_self = 0;    // Our own id from elsewhere: a loop or an id clash.
    uint64_t packets_misdirected = 0;  // A ping for an id that is not ours (an old address).
    uint64_t probes = 0;
    uint64_t probes_failed = 0;
    uint64_t probes_indirect = 0;  // Probes that needed ping requests.
    uint64_t relays_refused = 0;   // Ping requests beyond Options::relays_max.
    uint64_t nacks_sent = 0;
    uint64_t nacks_received = 0;
    uint64_t suspicions = 0;  // Members this node began to suspect (from its own probe or a rumor).
    uint64_t dead_declared = 0;   // Suspicions that ran out here.
    uint64_t suspect_checks = 0;  // Direct pings to a suspect before its suspicion ran out.
    uint64_t refutations = 0;     // Times this node raised its incarnation to refute a rumor.
    uint64_t updates_received = 0;
    uint64_t updates_refused = 0;  // About new members beyond Options::members_max.
    uint64_t push_pulls_started = 0;
    uint64_t push_pulls_merged = 0;
    uint64_t push_pulls_rejected = 0;  // Malformed or foreign push-pull states.
    uint64_t loop_lags = 0;            // Loop lags over the threshold, reported by the shell.
    uint64_t members_forgotten = 0;
};

class Swim {
public:
    // Defaults are for a LAN: a SIGKILLed node is seen dead by every live member in about 5 s
    // at N <= 32 (docs/membership.md has the sums). Every timing is configurable.
    struct Options {
        std::string cluster_name = "shoal";  // Packets of another cluster are dropped.

        // Probing (SWIM 3.1, 4.3). Both are multiplied by the local health (see below).
        Duration probe_interval = std::chrono::seconds(1);
        Duration probe_timeout = std::chrono::milliseconds(500);  // Then ask for help.
        uint32_t indirect_checks = 3;  // SWIM's k: members asked to ping a silent target.

        // Dissemination (SWIM 4.1): every gossip_interval, while updates are pending, they go
        // to gossip_nodes random members; each is sent retransmit_mult * ceil(log10(N + 1))
        // times in all, and for gossip_to_dead after a member's death it may still be picked,
        // so that a member declared dead by mistake hears of it and refutes.
        // 100 ms: a new member reaches 32 in about three rounds, as fast as serf's join. Only
        // pending updates are gossiped, and each a bounded number of times, so a shorter
        // interval spends the same bytes sooner and nothing at rest.
        Duration gossip_interval = std::chrono::milliseconds(100);
        uint32_t gossip_nodes = 3;
        uint32_t retransmit_mult = 8;
        Duration gossip_to_dead = std::chrono::seconds(30);

        // Suspicion (SWIM 4.2, Lifeguard IV-B). The shortest timeout is suspicion_min times
        // max(1, log10(N)); the longest is suspicion_max_mult times that; it falls from the
        // longest to the shortest with suspicion_confirmations independent suspicions.
        Duration suspicion_min = std::chrono::milliseconds(1500);
        uint32_t suspicion_max_mult = 4;
        uint32_t suspicion_confirmations = 2;
        // Before its own suspicion of a member runs out, this node pings the suspect directly
        // suspect_checks times, probe_timeout apart, ending probe_timeout before the deadline.
        // Each ping tells the suspect of the suspicion, and an ack carries its incarnation, so
        // a refutation whose gossip this node missed still arrives. A dead member does not
        // answer, so detection is not delayed. Not in SWIM or Lifeguard; see membership.md.
        uint32_t suspect_checks = 2;

        // Local health (Lifeguard IV-A): a score in 0..health_max that multiplies
        // probe_interval and probe_timeout by (score + 1). It rises with each probe that fails
        // without the expected nacks, each refutation, and each loop lag of at least
        // loop_lag_threshold (by one per probe_timeout of lag, and the lag postpones every
        // running timer: time this node could not listen is not a member's silence). It falls
        // by one with each probe acknowledged. Off: the score stays 0 and lags are ignored.
        bool local_health = true;
        uint32_t health_max = 8;
        Duration loop_lag_threshold = std::chrono::milliseconds(100);

        // Push-pull: every push_pull_interval (scaled up beyond 32 members, as memberlist does)
        // the full state is exchanged with a random live member, and with a random dead one,
        // which is how a healed partition finds itself again. Joins retry every
        // join_retry_interval, doubling up to push_pull_interval, while no other member is known.
        Duration push_pull_interval = std::chrono::seconds(30);
        Duration join_retry_interval = std::chrono::seconds(1);

        // A dead or left member departs after departure_grace (its data is then re-protected)
        // and is forgotten forget_after that.
        Duration departure_grace = std::chrono::minutes(10);
        Duration forget_after = std::chrono::hours(1);

        // Bounds.
        uint32_t datagram_bytes_max = 1400;  // What this node sends; piggyback only what fits.
        uint32_t members_max = kMembersMax;  // Self included; more are refused and counted.
        uint32_t relays_max = 64;            // Ping requests being served at once.

        // kInvalidArgument naming the first field out of its range.
        Status validate() const;
    };

    // REQUIRES: options.validate() and self.validate() are OK.
    Swim(const Options& options, const Identity& self, uint64_t seed, Instant now);

    // Inputs. `now` never goes backwards from one call to the next.
    void tick(Instant now);
    void on_datagram(Instant now, const HostPort& from, ByteView bytes);
    // Merges a push-pull state. Returns the reply to send back if it was a request, nothing if
    // it was a reply, and kInvalidArgument (counted) if it is malformed or another cluster's:
    // the shell then closes the connection.
    Result<std::optional<Buffer>> on_push_pull(Instant now, ByteView bytes);
    // The loop ran `lag` late (the shell measures it). Call before tick().
    void on_loop_lag(Instant now, Duration lag);
    // Starts push-pull joins with `seeds`, retried while no other member is known.
    void join(Instant now, std::span<const HostPort> seeds);
    // Leaves gracefully: raises the incarnation, tells every live member "left" at once and
    // keeps gossiping it; probes stop. The shell may exit once leave_done().
    void leave(Instant now);

    // When tick() next has work to do; tick() earlier is harmless.
    Instant wake_at() const;
    Outbox& outbox() { return outbox_; }

    // State.
    std::span<const Member> members() const { return members_; }  // Sorted by id, self included.
    const Member* find(MemberId id) const;
    const Member& self() const;
    Incarnation incarnation() const { return self().incarnation; }
    uint32_t health() const { return health_; }
    // Alive and suspect members, self included: SWIM's N.
    uint32_t live_count() const { return live_count_; }
    bool leaving() const { return leaving_; }
    bool leave_done() const { return leaving_ && !broadcasts_.contains(self_id_); }
    // Suspicion timeouts at the current N, for docs and tests.
    Suspicion::Timeouts suspicion_timeouts() const;
    const SwimStats& stats() const { return stats_; }
    const Options& options() const { return options_; }

private:
    struct Probe {
        MemberId target;
        HostPort address;
        uint32_t sequence = 0;
        Instant ack_deadline;  // Then ping requests.
        Instant end;           // Then, unacknowledged, the target is suspected.
        bool indirect_sent = false;
        uint32_t nacks_expected = 0;
        uint32_t nacks_received = 0;
    };
    // A ping request this node serves for another: ping `target`, relay its ack, or nack.
    struct Relay {
        uint32_t sequence = 0;  // Ours, in the ping to the target.
        uint32_t requester_sequence = 0;
        HostPort requester;
        MemberId requester_id;
        Instant nack_at;
        Instant expire_at;
        bool nack_sent = false;
    };
    struct Suspected {
        MemberId member;
        Suspicion suspicion;
        uint32_t checks_sent = 0;
    };

    // Which members random_members() may pick.
    enum class Pick : uint8_t {
        kAlive,                // Helpers for indirect probes: known to answer.
        kLive,                 // Alive or suspect.
        kLiveAndRecentlyDead,  // And dead or left within gossip_to_dead: gossip targets.
    };

    // swim.cc: the top level, packets, bookkeeping, gossip rounds and departures.
    void advance(Instant now);
    void dispatch(const HostPort& from, const Packet& packet);
    void note_sender(const PacketHeader& header);
    Member* find_mutable(MemberId id);
    Member& self_mutable();
    void locate_self();
    // Takes the identity from `update`, and `state` (alive or suspect) as given.
    Member* insert_member(const MemberUpdate& update, MemberState state);
    void set_state(Member& member, MemberState state);
    void emit(MemberEventKind kind, const Member& member);
    void count_live();
    Duration scaled(Duration duration) const;
    uint32_t transmits_max() const;
    Packet packet_of(PacketKind kind) const;
    // Sends `packet` with what pending updates fit, those about `priority` first. A gossip
    // packet with no update to carry is not sent; returns whether it was.
    bool send(const HostPort& target, const Packet& packet, MemberId priority);
    bool tell_about_itself(PacketWriter& writer, MemberId member_id);
    // Valid until the next call; the pointers until members_ changes.
    std::vector<const Member*>& random_members(size_t count, MemberId exclude, Pick pick);
    void tick_gossip();
    void tick_departures();

    // swim_probe.cc: probing, indirect probes, relays and local health.
    void tick_probe();
    uint32_t next_sequence();
    void start_probe();
    std::optional<MemberId> next_probe_target();
    void add_probe_candidate(MemberId member);
    void send_indirect_probes();
    void finish_probe_failed();
    void on_ping(const HostPort& from, const Packet& packet);
    void on_ping_request(const HostPort& from, const Packet& packet);
    void on_ack(const Packet& packet);
    void on_nack(const Packet& packet);
    void tick_relays();
    void change_health(int32_t delta);

    // swim_rumors.cc: applying updates, suspicion and refutation.
    void apply(const MemberUpdate& update);
    void apply_alive(const MemberUpdate& update);
    void apply_suspect(MemberId member_id, Incarnation incarnation, MemberId from);
    void confirm_suspicion(const Member& member, MemberId from);
    void apply_dead(MemberId member_id, Incarnation incarnation, MemberId from, MemberState state);
    void refute(Incarnation accused);
    void start_suspicion(Member& member, MemberId from);
    Suspected* find_suspected(MemberId member);
    void end_suspicion(MemberId member);
    void tick_suspicions();
    std::optional<Instant> check_at(const Suspected& suspected) const;
    void send_check(Suspected& suspected);
    void declare_dead(MemberId member_id);
    void broadcast(const Member& member, MemberId from);

    // swim_push_pull.cc: push-pull state, joins and leaving.
    Buffer encode_state(bool join, bool reply) const;
    void merge_state(const PushPull& state);
    void merge_record(const MemberUpdate& record, MemberId sender);
    void learn_suspect(const MemberUpdate& record, MemberId sender);
    void start_push_pull(const HostPort& target, bool join);
    void tick_push_pull();
    void tick_join();

    const Options options_;
    const uint64_t cluster_;
    const MemberId self_id_;
    Prng prng_;
    Instant now_;
    Outbox outbox_;
    SwimStats stats_;
    std::vector<Member> members_;  // Sorted by id; self included; at most members_max.
    size_t self_index_ = 0;
    uint32_t live_count_ = 1;
    BroadcastQueue broadcasts_;

    // Probing.
    std::vector<MemberId> probe_order_;  // Shuffled each round.
    size_t probe_index_ = 0;
    std::optional<Probe> probe_;
    Instant probe_next_;
    uint32_t sequence_next_ = 1;
    std::vector<Relay> relays_;
    uint32_t health_ = 0;

    std::vector<Suspected> suspected_;  // At most one per member.

    // Gossip, push-pull, joins, departures.
    Instant gossip_next_;
    // A new update goes out at the next tick rather than the next gossip round, so that news
    // crosses a hop in a tick; rounds then carry its retransmits.
    bool gossip_soon_ = false;
    Instant push_pull_next_;
    std::vector<HostPort> seeds_;
    Instant join_next_;
    Duration join_backoff_{0};
    Instant departures_next_;
    bool leaving_ = false;

    std::vector<const Member*> scratch_members_;
    Packet packet_scratch_;
    Buffer send_scratch_;
    Buffer tell_scratch_;
};

}  // namespace shoal::membership

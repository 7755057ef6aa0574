// Goal: the Swim core, as a pure state machine, does what SWIM and Lifeguard say: it refutes
// rumors of its own failure, ignores stale incarnations, times suspicions out on the Lifeguard
// schedule and sooner with confirmations, probes directly then indirectly, relays and nacks
// for others, sends each update a bounded number of times, leaves gracefully, merges push-pull
// states, lets the dead depart and be forgotten, adjusts its local health, and drops and counts
// every malformed, foreign or excessive input.
//
// Method: one Swim, driven by hand: packets are built with the codec as another member would
// send them, time is passed explicitly, and what it sends is decoded from its outbox. No
// runtime, no sockets, no sleeps.
#include "shoal/membership/swim.h"

#include <deque>

#include <catch2/catch.hpp>

#include "shoal/base/coding.h"

namespace shoal::membership {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

Identity identity_of(uint64_t number) {
    return Identity{
            .id = MemberId{.high = number, .low = number},
            .name = "n" + std::to_string(number),
            .address = HostPort{.host = "10.0.0." + std::to_string(number), .port = 7946},
    };
}

MemberId id_of(uint64_t number) {
    return identity_of(number).id;
}

Instant at(int64_t milliseconds_since) {
    return Instant(milliseconds(milliseconds_since));
}

Instant before(Instant instant, Duration duration) {
    return Instant(instant.since_origin() - duration);
}

// Probes and push-pulls pushed out of the way, for tests about rumors.
Swim::Options quiet() {
    Swim::Options options;
    options.probe_interval = hours(100);
    options.push_pull_interval = hours(100);
    return options;
}

struct Sent {
    HostPort target;
    Buffer bytes;
    Packet packet;  // Borrows from bytes.
};

// Everything the core sent since the last call, decoded; the outbox is cleared.
std::vector<Sent> take_sent(Swim& swim) {
    std::vector<Sent> sent;
    for (OutgoingDatagram& datagram : swim.outbox().datagrams) {
        REQUIRE(datagram.bytes.size() <= swim.options().datagram_bytes_max);
        Sent& entry = sent.emplace_back(
                Sent{.target = datagram.target, .bytes = std::move(datagram.bytes)});
        entry.packet = decode_packet(entry.bytes.view()).value();
    }
    swim.outbox().datagrams.clear();
    return sent;
}

std::vector<MemberEvent> take_events(Swim& swim) {
    std::vector<MemberEvent> events = swim.outbox().events;
    swim.outbox().events.clear();
    return events;
}

MemberUpdate alive(uint64_t number, uint64_t incarnation) {
    const Identity identity = identity_of(number);
    static std::deque<Identity> kept;  // The update borrows its strings; a deque keeps them put.
    kept.push_back(identity);
    const Identity& held = kept.back();
    return MemberUpdate{.state = MemberState::kAlive,
                        .member = held.id,
                        .incarnation = Incarnation{incarnation},
                        .name = held.name,
                        .host = held.address.host,
                        .port = held.address.port};
}

MemberUpdate rumor(MemberState state, uint64_t number, uint64_t incarnation, uint64_t from) {
    return MemberUpdate{.state = state,
                        .member = id_of(number),
                        .incarnation = Incarnation{incarnation},
                        .from = id_of(from)};
}

struct PacketSpec {
    PacketKind kind = PacketKind::kGossip;
    uint64_t sender = 2;
    uint64_t sender_incarnation = 0;
    uint32_t sequence = 0;
    uint64_t target = 1;
    std::vector<MemberUpdate> updates;
    std::string cluster = "shoal";
};

Buffer packet(const PacketSpec& spec) {
    const Identity target = identity_of(spec.target);
    Buffer bytes;
    PacketWriter writer(
            Packet{.header = {.kind = spec.kind,
                              .cluster = cluster_hash(spec.cluster),
                              .sender = id_of(spec.sender),
                              .sender_incarnation = Incarnation{spec.sender_incarnation}},
                   .sequence = spec.sequence,
                   .target = target.id,
                   .target_host = target.address.host,
                   .target_port = target.address.port},
            kDatagramBytesMax,
            bytes);
    for (const MemberUpdate& update : spec.updates) {
        Buffer encoded;
        encode_update(update, encoded);
        REQUIRE(writer.add_update(encoded.view()));
    }
    writer.finish();
    return bytes;
}

void deliver(Swim& swim, Instant now, const PacketSpec& spec) {
    const Buffer bytes = packet(spec);
    swim.on_datagram(now, identity_of(spec.sender).address, bytes.view());
}

// A push-pull from member `sender` in cluster "shoal", carrying `members`.
Buffer push_pull_from(uint64_t sender,
                      std::vector<MemberUpdate> members,
                      bool reply,
                      uint64_t sender_incarnation = 0) {
    const PushPull state{.header = {.kind = PacketKind::kPushPull,
                                    .cluster = cluster_hash("shoal"),
                                    .sender = id_of(sender),
                                    .sender_incarnation = Incarnation{sender_incarnation}},
                         .reply = reply,
                         .members = std::move(members)};
    Buffer bytes;
    encode_push_pull(state, bytes);
    return bytes;
}

// Members `numbers` become known to `swim`, alive at `incarnation`, through a push-pull reply
// from the first of them.
void meet(Swim& swim, Instant now, const std::vector<uint64_t>& numbers, uint64_t incarnation = 0) {
    std::vector<MemberUpdate> members;
    for (const uint64_t number : numbers) {
        members.push_back(alive(number, incarnation));
    }
    const Buffer bytes =
            push_pull_from(numbers.front(), std::move(members), /*reply=*/true, incarnation);
    const Result<std::optional<Buffer>> answer = swim.on_push_pull(now, bytes.view());
    REQUIRE(answer.is_ok());
    REQUIRE(!answer.value().has_value());  // A reply is not answered.
    swim.outbox().clear();
}

MemberState state_of(const Swim& swim, uint64_t number) {
    const Member* member = swim.find(id_of(number));
    REQUIRE(member != nullptr);
    return member->state;
}

bool carries(const Sent& sent, MemberState state, uint64_t number, uint64_t incarnation) {
    for (const MemberUpdate& update : sent.packet.updates) {
        if (update.state == state && update.member == id_of(number) &&
            update.incarnation == Incarnation{incarnation}) {
            return true;
        }
    }
    return false;
}

// The first ping the core sends, ticking every 10 ms; gossip on the way is dropped.
Sent first_ping(Swim& swim, Instant& now) {
    for (int step = 0; step < 1000; step++) {
        now = now + milliseconds(10);
        swim.tick(now);
        for (Sent& entry : take_sent(swim)) {
            if (entry.packet.header.kind == PacketKind::kPing) return std::move(entry);
        }
    }
    FAIL("no ping");
    return {};
}

// Ticks every 10 ms, as the runtime does, collecting what is sent, until `until`.
std::vector<Sent> tick_until(Swim& swim, Instant& now, Instant until) {
    std::vector<Sent> sent;
    while (now < until) {
        now = now + milliseconds(10);
        swim.tick(now);
        for (Sent& entry : take_sent(swim)) {
            sent.push_back(std::move(entry));
        }
    }
    return sent;
}

TEST_CASE("swim: a member refutes a rumor of its own failure", "[unit][swim]") {
    Swim swim(quiet(), identity_of(1), /*seed=*/1, at(0));
    meet(swim, at(0), {2, 3, 4});
    REQUIRE(swim.incarnation() == Incarnation{0});

    SECTION("suspect at the current incarnation is refuted with the next") {
        deliver(swim, at(10), {.updates = {rumor(MemberState::kSuspect, 1, 0, 2)}});
        REQUIRE(swim.incarnation() == Incarnation{1});
        REQUIRE(swim.stats().refutations == 1);
        REQUIRE(swim.health() == 1);  // Being suspected hints that we are the slow one.
        Instant now = at(10);
        const std::vector<Sent> sent = tick_until(swim, now, at(500));
        REQUIRE(!sent.empty());
        REQUIRE(carries(sent.front(), MemberState::kAlive, 1, 1));
        REQUIRE(sent.front().packet.header.sender_incarnation == Incarnation{1});
    }
    SECTION("dead and left are refuted too, past the rumored incarnation") {
        deliver(swim, at(10), {.updates = {rumor(MemberState::kDead, 1, 5, 2)}});
        REQUIRE(swim.incarnation() == Incarnation{6});
        deliver(swim, at(20), {.updates = {rumor(MemberState::kLeft, 1, 6, 1)}});
        REQUIRE(swim.incarnation() == Incarnation{7});
        deliver(swim, at(30), {.updates = {alive(1, 9)}});  // An earlier life, outbid.
        REQUIRE(swim.incarnation() == Incarnation{10});
    }
    SECTION("a stale rumor is ignored") {
        deliver(swim, at(10), {.updates = {rumor(MemberState::kDead, 1, 3, 2)}});
        REQUIRE(swim.incarnation() == Incarnation{4});
        deliver(swim, at(20), {.updates = {rumor(MemberState::kSuspect, 1, 3, 3)}});
        deliver(swim, at(30), {.updates = {rumor(MemberState::kDead, 1, 2, 4)}});
        REQUIRE(swim.incarnation() == Incarnation{4});
        REQUIRE(swim.stats().refutations == 1);
    }
}

TEST_CASE("swim: a rumor at the largest incarnation cannot be outbid and overflows nothing",
          "[unit][swim]") {
    Swim swim(quiet(), identity_of(1), /*seed=*/1, at(0));
    meet(swim, at(0), {2});
    deliver(swim, at(10), {.updates = {rumor(MemberState::kSuspect, 1, kIncarnationMax - 1, 2)}});
    REQUIRE(swim.incarnation() == Incarnation{kIncarnationMax});
    deliver(swim, at(20), {.updates = {rumor(MemberState::kDead, 1, kIncarnationMax, 2)}});
    REQUIRE(swim.incarnation() == Incarnation{kIncarnationMax});
    swim.leave(at(30));
    REQUIRE(swim.incarnation() == Incarnation{kIncarnationMax});
    for (const Sent& entry : take_sent(swim)) {  // Still decodable: nothing went over.
        REQUIRE(entry.packet.header.sender_state == MemberState::kLeft);
    }
    // Beyond it, the packet is malformed.
    Buffer over = packet({});
    encode_fixed64(over.data() + 28, kIncarnationMax + 1);
    REQUIRE(decode_packet(over.view()).status().message().find("over limit") != std::string::npos);
}

TEST_CASE("swim: updates with stale incarnations are ignored", "[unit][swim]") {
    Swim swim(quiet(), identity_of(1), /*seed=*/1, at(0));
    meet(swim, at(0), {2, 3, 4}, /*incarnation=*/3);
    deliver(swim, at(10), {.updates = {rumor(MemberState::kSuspect, 2, 2, 3)}});
    deliver(swim, at(20), {.updates = {rumor(MemberState::kDead, 2, 2, 3)}});
    deliver(swim, at(30), {.updates = {rumor(MemberState::kLeft, 2, 2, 2)}});
    REQUIRE(state_of(swim, 2) == MemberState::kAlive);
    REQUIRE(take_events(swim).empty());

    deliver(swim, at(40), {.updates = {rumor(MemberState::kSuspect, 2, 3, 3)}});
    REQUIRE(state_of(swim, 2) == MemberState::kSuspect);
    deliver(swim, at(50), {.sender = 3, .updates = {alive(2, 3)}});  // Same incarnation.
    REQUIRE(state_of(swim, 2) == MemberState::kSuspect);
    deliver(swim, at(60), {.sender = 3, .updates = {alive(2, 4)}});
    REQUIRE(state_of(swim, 2) == MemberState::kAlive);
    const std::vector<MemberEvent> events = take_events(swim);
    REQUIRE(events.size() == 2);
    REQUIRE(events[0].kind == MemberEventKind::kSuspect);
    REQUIRE(events[1].kind == MemberEventKind::kAlive);
    REQUIRE(events[1].incarnation == Incarnation{4});
    // Dead beats alive at its incarnation, and a later alive beats dead: a restart rejoins.
    deliver(swim, at(70), {.sender = 3, .updates = {rumor(MemberState::kDead, 2, 4, 3)}});
    REQUIRE(state_of(swim, 2) == MemberState::kDead);
    deliver(swim, at(80), {.sender = 3, .updates = {alive(2, 4)}});
    REQUIRE(state_of(swim, 2) == MemberState::kDead);
    deliver(swim, at(90), {.sender = 3, .updates = {alive(2, 5)}});
    REQUIRE(state_of(swim, 2) == MemberState::kAlive);
}

TEST_CASE("swim: a suspicion runs out on Lifeguard's schedule, sooner when confirmed",
          "[unit][swim]") {
    Swim swim(quiet(), identity_of(1), /*seed=*/1, at(0));
    meet(swim, at(0), {2, 3, 4, 5, 6});
    // N = 6: min = 1.5 s * max(1, log10(6)) = 1.5 s, max = 4 * min = 6 s, k = 2.
    const Suspicion::Timeouts timeouts = swim.suspicion_timeouts();
    REQUIRE(timeouts.min == milliseconds(1500));
    REQUIRE(timeouts.max == milliseconds(6000));
    REQUIRE(timeouts.confirmations_needed == 2);
    Instant now = at(1000);
    deliver(swim, now, {.sender = 3, .updates = {rumor(MemberState::kSuspect, 2, 0, 3)}});
    REQUIRE(state_of(swim, 2) == MemberState::kSuspect);

    SECTION("unconfirmed, it lasts the longest timeout") {
        tick_until(swim, now, before(at(1000) + timeouts.max, milliseconds(10)));
        REQUIRE(state_of(swim, 2) == MemberState::kSuspect);
        tick_until(swim, now, at(1000) + timeouts.max);
        REQUIRE(state_of(swim, 2) == MemberState::kDead);
        REQUIRE(swim.stats().dead_declared == 1);
    }
    SECTION("each independent suspicion shortens it, to the shortest with k") {
        now = at(1100);
        deliver(swim, now, {.sender = 4, .updates = {rumor(MemberState::kSuspect, 2, 0, 4)}});
        const Duration one = Suspicion::timeout_for(timeouts, 1);
        REQUIRE(one < timeouts.max);
        REQUIRE(one > timeouts.min);
        // A repeat from the same suspecter is not independent.
        deliver(swim, now, {.sender = 5, .updates = {rumor(MemberState::kSuspect, 2, 0, 4)}});
        tick_until(swim, now, before(at(1000) + one, milliseconds(10)));
        REQUIRE(state_of(swim, 2) == MemberState::kSuspect);
        deliver(swim, now, {.sender = 5, .updates = {rumor(MemberState::kSuspect, 2, 0, 5)}});
        // Now at the shortest, which has passed: the next tick declares it.
        tick_until(swim, now, now + milliseconds(10));
        REQUIRE(state_of(swim, 2) == MemberState::kDead);
    }
    SECTION("a refutation ends it") {
        now = at(2000);
        deliver(swim, now, {.sender = 3, .updates = {alive(2, 1)}});
        tick_until(swim, now, at(1000) + timeouts.max + seconds(1));
        REQUIRE(state_of(swim, 2) == MemberState::kAlive);
        REQUIRE(swim.stats().dead_declared == 0);
    }
    SECTION("a packet from the suspect at a higher incarnation ends it") {
        deliver(swim, at(2000), {.kind = PacketKind::kAck, .sender = 2, .sender_incarnation = 1});
        REQUIRE(state_of(swim, 2) == MemberState::kAlive);
        REQUIRE(swim.find(id_of(2))->incarnation == Incarnation{1});
    }
    SECTION("before it runs out, the suspect is pinged directly, told, and heard") {
        const std::vector<Sent> sent =
                tick_until(swim, now, before(at(1000) + timeouts.max, milliseconds(100)));
        size_t checks = 0;
        for (const Sent& entry : sent) {
            if (entry.packet.header.kind != PacketKind::kPing) continue;
            REQUIRE(entry.packet.target == id_of(2));
            REQUIRE(carries(entry, MemberState::kSuspect, 2, 0));  // Told first.
            checks += 1;
        }
        REQUIRE(checks == swim.options().suspect_checks);
        deliver(swim, now, {.kind = PacketKind::kAck, .sender = 2, .sender_incarnation = 1});
        tick_until(swim, now, now + seconds(1));
        REQUIRE(state_of(swim, 2) == MemberState::kAlive);
    }
}

TEST_CASE("swim: each update is sent retransmit_mult * ceil(log10(N + 1)) times", "[unit][swim]") {
    for (const uint64_t members : {uint64_t{5}, uint64_t{20}}) {
        CAPTURE(members);
        Swim swim(quiet(), identity_of(1), /*seed=*/1, at(0));
        std::vector<uint64_t> numbers;
        for (uint64_t number = 2; number <= members; number++) {
            numbers.push_back(number);
        }
        meet(swim, at(0), numbers);
        Instant now = at(0);
        tick_until(swim, now, at(60'000));  // The news of the meeting runs out first.
        deliver(swim, now, {.updates = {rumor(MemberState::kSuspect, 1, 0, 2)}});
        const std::vector<Sent> sent = tick_until(swim, now, now + seconds(30));
        size_t transmits = 0;
        for (const Sent& entry : sent) {
            transmits += carries(entry, MemberState::kAlive, 1, 1) ? 1U : 0U;
        }
        const uint64_t digits = members + 1 > 10 ? 2 : 1;
        REQUIRE(transmits == swim.options().retransmit_mult * digits);
        // In rounds of gossip_nodes packets, gossip_interval apart.
        REQUIRE(sent.size() == transmits);
    }
}

TEST_CASE("swim: a probe goes direct, then indirect, then suspects", "[unit][swim]") {
    Swim::Options options;
    options.push_pull_interval = hours(100);
    Swim swim(options, identity_of(1), /*seed=*/3, at(0));
    meet(swim, at(0), {2, 3, 4});
    Instant now = at(0);
    const Sent ping = first_ping(swim, now);
    const MemberId target = ping.packet.target;
    const uint32_t sequence = ping.packet.sequence;
    const Instant started = now;
    const uint64_t target_number = target.low;

    SECTION("an ack ends it, and health falls") {
        deliver(swim, now, {.kind = PacketKind::kAck, .sender = 4, .sequence = 77});
        REQUIRE(swim.health() == 0);
        deliver(swim,
                now,
                {.kind = PacketKind::kAck, .sender = target_number, .sequence = sequence});
        tick_until(swim, now, before(started + seconds(2), milliseconds(10)));
        REQUIRE(state_of(swim, target_number) == MemberState::kAlive);
        REQUIRE(swim.stats().probes_failed == 0);
    }
    SECTION("silence brings ping requests, a second ping, then suspicion") {
        std::vector<Sent> indirect =
                tick_until(swim, now, started + options.probe_timeout + milliseconds(10));
        size_t requests = 0;
        size_t pings = 0;
        for (const Sent& entry : indirect) {
            if (entry.packet.header.kind == PacketKind::kPingRequest) {
                REQUIRE(entry.packet.target == target);
                REQUIRE(entry.packet.sequence == sequence);
                REQUIRE(entry.target.host != identity_of(target_number).address.host);
                requests += 1;
            }
            if (entry.packet.header.kind == PacketKind::kPing) pings += 1;
        }
        REQUIRE(requests == 2);  // k = 3, but only two others to ask.
        REQUIRE(pings == 1);
        // One helper nacks, the other says nothing: health rises by the missing nack.
        const uint64_t helper = target_number == 2 ? 3 : 2;
        deliver(swim, now, {.kind = PacketKind::kNack, .sender = helper, .sequence = sequence});
        tick_until(swim, now, started + options.probe_interval + milliseconds(10));
        REQUIRE(state_of(swim, target_number) == MemberState::kSuspect);
        REQUIRE(swim.stats().probes_failed == 1);
        REQUIRE(swim.stats().nacks_received == 1);
        REQUIRE(swim.health() == 1);
    }
    SECTION("an ack relayed by a helper counts") {
        tick_until(swim, now, started + options.probe_timeout + milliseconds(10));
        deliver(swim, now, {.kind = PacketKind::kAck, .sender = 2, .sequence = sequence});
        tick_until(swim, now, started + options.probe_interval + milliseconds(10));
        REQUIRE(state_of(swim, target_number) == MemberState::kAlive);
    }
}

TEST_CASE("swim: probes go round-robin, every member once per round", "[unit][swim]") {
    Swim::Options options;
    options.push_pull_interval = hours(100);
    Swim swim(options, identity_of(1), /*seed=*/5, at(0));
    meet(swim, at(0), {2, 3, 4, 5, 6});
    Instant now = at(0);
    std::vector<MemberId> probed;
    while (probed.size() < 15) {
        for (const Sent& entry : tick_until(swim, now, now + milliseconds(10))) {
            if (entry.packet.header.kind != PacketKind::kPing) continue;
            probed.push_back(entry.packet.target);
            deliver(swim,
                    now,
                    {.kind = PacketKind::kAck,
                     .sender = entry.packet.target.low,
                     .sequence = entry.packet.sequence});
        }
    }
    for (size_t round = 0; round < 3; round++) {
        std::vector<MemberId> members(probed.begin() + static_cast<ptrdiff_t>(round * 5),
                                      probed.begin() + static_cast<ptrdiff_t>(round * 5 + 5));
        std::sort(members.begin(), members.end());
        REQUIRE(std::unique(members.begin(), members.end()) == members.end());
    }
    REQUIRE(probed != std::vector<MemberId>(probed.size(), probed.front()));
}

TEST_CASE("swim: a helper relays the target's ack, or nacks in time", "[unit][swim]") {
    Swim swim(quiet(), identity_of(1), /*seed=*/1, at(0));
    meet(swim, at(0), {2, 3});
    deliver(swim,
            at(100),
            {.kind = PacketKind::kPingRequest, .sender = 2, .sequence = 55, .target = 3});
    std::vector<Sent> sent = take_sent(swim);
    REQUIRE(sent.size() == 1);
    REQUIRE(sent[0].packet.header.kind == PacketKind::kPing);
    REQUIRE(sent[0].target.host == "10.0.0.3");
    const uint32_t ours = sent[0].packet.sequence;

    SECTION("the ack goes back under the requester's sequence") {
        deliver(swim, at(105), {.kind = PacketKind::kAck, .sender = 3, .sequence = ours});
        sent = take_sent(swim);
        REQUIRE(sent.size() == 1);
        REQUIRE(sent[0].packet.header.kind == PacketKind::kAck);
        REQUIRE(sent[0].packet.sequence == 55);
        REQUIRE(sent[0].target.host == "10.0.0.2");
    }
    SECTION("silence brings a nack before the requester gives up") {
        Instant now = at(100);
        size_t nacks = 0;
        for (const Sent& entry : tick_until(swim, now, at(100) + swim.options().probe_timeout)) {
            if (entry.packet.header.kind != PacketKind::kNack) continue;
            REQUIRE(entry.packet.sequence == 55);
            REQUIRE(entry.target.host == "10.0.0.2");
            nacks += 1;
        }
        REQUIRE(nacks == 1);
        REQUIRE(swim.stats().nacks_sent == 1);
    }
    SECTION("relays are bounded") {
        for (uint32_t request = 0; request < swim.options().relays_max + 5; request++) {
            deliver(swim,
                    at(200),
                    {.kind = PacketKind::kPingRequest,
                     .sender = 2,
                     .sequence = request,
                     .target = 3});
        }
        REQUIRE(swim.stats().relays_refused == 6);  // One from before, and five over.
    }
}

TEST_CASE("swim: a member that leaves tells every live member at once", "[unit][swim]") {
    Swim swim(quiet(), identity_of(1), /*seed=*/1, at(0));
    meet(swim, at(0), {2, 3, 4});
    swim.leave(at(100));
    REQUIRE(swim.leaving());
    REQUIRE(swim.incarnation() == Incarnation{1});
    REQUIRE(swim.self().state == MemberState::kLeft);
    const std::vector<Sent> sent = take_sent(swim);
    REQUIRE(sent.size() == 3);
    for (const Sent& entry : sent) {
        REQUIRE(entry.packet.header.sender_state == MemberState::kLeft);
        REQUIRE(carries(entry, MemberState::kLeft, 1, 1));
    }
    // A rumor of its death now goes unanswered, and it probes no one.
    deliver(swim, at(200), {.updates = {rumor(MemberState::kDead, 1, 1, 2)}});
    REQUIRE(swim.incarnation() == Incarnation{1});
    Instant now = at(200);
    tick_until(swim, now, at(30'000));
    REQUIRE(swim.stats().probes == 0);
    REQUIRE(swim.leave_done());

    SECTION("the others see it left at once, without suspicion") {
        Swim other(quiet(), identity_of(2), /*seed=*/2, at(0));
        meet(other, at(0), {1, 3, 4});
        other.on_datagram(at(100), identity_of(1).address, sent[0].bytes.view());
        REQUIRE(other.find(id_of(1))->state == MemberState::kLeft);
        const std::vector<MemberEvent> events = take_events(other);
        REQUIRE(events.size() == 1);
        REQUIRE(events[0].kind == MemberEventKind::kLeft);
        REQUIRE(other.stats().suspicions == 0);
    }
}

TEST_CASE("swim: joins and push-pulls exchange and merge the whole state", "[unit][swim]") {
    Swim swim(quiet(), identity_of(1), /*seed=*/1, at(0));
    const std::vector<HostPort> seeds{identity_of(9).address};
    swim.join(at(0), seeds);
    REQUIRE(swim.outbox().push_pulls.size() == 1);
    const PushPull request = decode_push_pull(swim.outbox().push_pulls[0].state.view()).value();
    REQUIRE(swim.outbox().push_pulls[0].target.host == "10.0.0.9");
    REQUIRE(request.join);
    REQUIRE(request.members.size() == 1);
    REQUIRE(request.members[0].member == id_of(1));
    swim.outbox().clear();

    SECTION("joins retry while no one answers, and stop once someone is known") {
        Instant now = at(0);
        tick_until(swim, now, at(1000));
        REQUIRE(swim.outbox().push_pulls.size() == 1);
        swim.outbox().clear();
        tick_until(swim, now, at(2900));
        REQUIRE(swim.outbox().push_pulls.empty());  // Backing off: 1 s, then 2 s.
        tick_until(swim, now, at(3000));
        REQUIRE(swim.outbox().push_pulls.size() == 1);
        swim.outbox().clear();
        meet(swim, now, {9});
        tick_until(swim, now, at(60'000));
        REQUIRE(swim.outbox().push_pulls.empty());
    }
    SECTION("a request is answered with our state; remote dead becomes our suspect") {
        meet(swim, at(10), {2, 3});
        MemberUpdate dead = alive(2, 0);
        dead.state = MemberState::kDead;
        const Buffer bytes = push_pull_from(4, {alive(4, 0), dead}, /*reply=*/false);
        Result<std::optional<Buffer>> reply = swim.on_push_pull(at(20), bytes.view());
        REQUIRE(reply.is_ok());
        REQUIRE(reply.value().has_value());
        const PushPull answer = decode_push_pull(reply.value()->view()).value();
        REQUIRE(answer.reply);
        REQUIRE(answer.members.size() == 4);  // 1, 2, 3 and the newcomer 4.
        REQUIRE(state_of(swim, 4) == MemberState::kAlive);
        REQUIRE(state_of(swim, 2) == MemberState::kSuspect);
        REQUIRE(swim.stats().push_pulls_merged == 2);  // The meeting, and this one.
    }
    SECTION("bad and foreign states are refused and counted") {
        REQUIRE(swim.on_push_pull(at(10), as_bytes("nonsense")).status().code() ==
                Code::kInvalidArgument);
        PushPull foreign{.header = {.kind = PacketKind::kPushPull,
                                    .cluster = cluster_hash("other"),
                                    .sender = id_of(4)}};
        Buffer bytes;
        encode_push_pull(foreign, bytes);
        REQUIRE(!swim.on_push_pull(at(10), bytes.view()).is_ok());
        REQUIRE(swim.stats().push_pulls_rejected == 2);
        REQUIRE(swim.members().size() == 1);
    }
}

// Placement counts members that are down, so a node that restarted while one was down must
// learn of it from the push-pull that rejoins it.
TEST_CASE("swim: a push-pull teaches a dead member we never knew, as a suspect", "[unit][swim]") {
    Swim swim(quiet(), identity_of(1), /*seed=*/1, at(0));
    meet(swim, at(0), {2});
    take_events(swim);
    MemberUpdate dead = alive(7, 3);
    dead.state = MemberState::kDead;
    const Buffer bytes = push_pull_from(2, {alive(2, 0), dead}, /*reply=*/true);
    REQUIRE(swim.on_push_pull(at(10), bytes.view()).is_ok());

    const Member* learned = swim.find(id_of(7));
    REQUIRE(learned != nullptr);
    REQUIRE(learned->state == MemberState::kSuspect);
    REQUIRE(learned->incarnation == Incarnation{3});
    REQUIRE(learned->identity.name == identity_of(7).name);
    REQUIRE(learned->identity.address.port == identity_of(7).address.port);
    const std::vector<MemberEvent> events = take_events(swim);
    REQUIRE(events.size() == 2);
    REQUIRE(events[0].kind == MemberEventKind::kJoined);
    REQUIRE(events[1].kind == MemberEventKind::kSuspect);
    // Nobody refutes: it is dead here too once its suspicion runs out.
    Instant now = at(10);
    tick_until(swim, now, at(60'000));
    REQUIRE(state_of(swim, 7) == MemberState::kDead);
    // A member that is in fact alive refutes at a higher incarnation, as for any suspicion.
    deliver(swim, now, {.sender = 2, .updates = {alive(7, 4)}});
    REQUIRE(state_of(swim, 7) == MemberState::kAlive);
}

TEST_CASE("swim: the dead depart after the grace period and are then forgotten", "[unit][swim]") {
    Swim::Options options = quiet();
    options.departure_grace = seconds(10);
    options.forget_after = seconds(20);
    Swim swim(options, identity_of(1), /*seed=*/1, at(0));
    meet(swim, at(0), {2, 3});
    deliver(swim, at(0), {.sender = 3, .updates = {rumor(MemberState::kDead, 2, 0, 3)}});
    REQUIRE(take_events(swim).back().kind == MemberEventKind::kDead);
    Instant now = at(0);
    tick_until(swim, now, at(9000));
    REQUIRE(state_of(swim, 2) == MemberState::kDead);
    tick_until(swim, now, at(11'000));
    REQUIRE(state_of(swim, 2) == MemberState::kDeparted);
    REQUIRE(take_events(swim).back().kind == MemberEventKind::kDeparted);
    // A departed member is not in the state a push-pull sends.
    Buffer bytes = swim.outbox().push_pulls.empty() ? Buffer() : Buffer();
    tick_until(swim, now, at(32'000));
    REQUIRE(swim.find(id_of(2)) == nullptr);
    REQUIRE(swim.stats().members_forgotten == 1);
    // Should it come back, it joins again.
    deliver(swim, now, {.sender = 3, .updates = {alive(2, 0)}});
    REQUIRE(state_of(swim, 2) == MemberState::kAlive);
    REQUIRE(take_events(swim).back().kind == MemberEventKind::kJoined);
}

TEST_CASE("swim: a member held dead that still talks is told, so it can refute", "[unit][swim]") {
    Swim swim(quiet(), identity_of(1), /*seed=*/1, at(0));
    meet(swim, at(0), {2, 3});
    deliver(swim, at(0), {.sender = 3, .updates = {rumor(MemberState::kDead, 2, 3, 3)}});
    swim.outbox().clear();
    // It restarted at incarnation 0 and pings us.
    deliver(swim, at(10), {.kind = PacketKind::kPing, .sender = 2, .sequence = 9});
    REQUIRE(state_of(swim, 2) == MemberState::kDead);
    const std::vector<Sent> sent = take_sent(swim);
    REQUIRE(sent.size() == 1);
    REQUIRE(sent[0].packet.header.kind == PacketKind::kAck);
    REQUIRE(sent[0].packet.updates.front().state == MemberState::kDead);
    REQUIRE(sent[0].packet.updates.front().member == id_of(2));
    // Its refutation brings it back.
    deliver(swim, at(20), {.kind = PacketKind::kGossip, .sender = 2, .sender_incarnation = 4});
    REQUIRE(state_of(swim, 2) == MemberState::kAlive);
}

TEST_CASE("swim: local health rises with missed nacks and loop lag and widens the timeouts",
          "[unit][swim]") {
    Swim::Options options;
    options.push_pull_interval = hours(100);
    SECTION("a loop lag raises health by one per probe timeout and postpones the probe") {
        Swim swim(options, identity_of(1), /*seed=*/3, at(0));
        meet(swim, at(0), {2, 3, 4});
        Instant now = at(0);
        const Sent ping = first_ping(swim, now);
        now = now + seconds(2);  // Stalled: the ack is waiting in the socket.
        swim.on_loop_lag(now, seconds(2));
        REQUIRE(swim.health() == 4);
        REQUIRE(swim.stats().loop_lags == 1);
        swim.tick(now);
        REQUIRE(swim.stats().probes_indirect == 0);  // Not given up on.
        deliver(swim,
                now,
                {.kind = PacketKind::kAck,
                 .sender = ping.packet.target.low,
                 .sequence = ping.packet.sequence});
        REQUIRE(swim.health() == 3);
        REQUIRE(swim.stats().probes_failed == 0);
        // The next probe waits probe_interval * (health + 1).
        const Instant previous = now;
        (void)first_ping(swim, now);
        REQUIRE(now - previous >= seconds(1));
        swim.on_loop_lag(now, hours(1));
        REQUIRE(swim.health() == options.health_max);
    }
    SECTION("a short lag, or local health off, changes nothing") {
        Swim swim(options, identity_of(1), /*seed=*/3, at(0));
        swim.on_loop_lag(at(10), milliseconds(50));
        REQUIRE(swim.health() == 0);
        options.local_health = false;
        Swim off(options, identity_of(1), /*seed=*/3, at(0));
        off.on_loop_lag(at(10), seconds(5));
        deliver(off, at(20), {.updates = {rumor(MemberState::kSuspect, 1, 0, 2)}});
        REQUIRE(off.health() == 0);
        REQUIRE(off.stats().loop_lags == 0);
    }
}

TEST_CASE("swim: malformed, foreign and excessive input is dropped and counted", "[unit][swim]") {
    Swim::Options options = quiet();
    options.members_max = 4;
    options.datagram_bytes_max = kDatagramBytesMin;
    Swim swim(options, identity_of(1), /*seed=*/1, at(0));
    meet(swim, at(0), {2});

    swim.on_datagram(at(1), identity_of(2).address, as_bytes("garbage"));
    Buffer huge(kDatagramBytesMax + 1);
    std::memset(huge.data(), 0, huge.size());
    swim.on_datagram(at(2), identity_of(2).address, huge.view());
    REQUIRE(swim.stats().packets_malformed == 2);
    deliver(swim, at(3), {.updates = {alive(7, 0)}, .cluster = "another"});
    REQUIRE(swim.stats().packets_foreign == 1);
    deliver(swim, at(4), {.sender = 1, .updates = {alive(7, 0)}});
    REQUIRE(swim.stats().packets_from_self == 1);
    deliver(swim, at(5), {.kind = PacketKind::kPing, .sequence = 1, .target = 5});
    REQUIRE(swim.stats().packets_misdirected == 1);
    REQUIRE(swim.members().size() == 2);
    REQUIRE(swim.outbox().empty());

    // Beyond members_max new members are refused; what is sent still fits its datagram.
    std::vector<MemberUpdate> many;
    for (uint64_t number = 10; number < 30; number++) {
        many.push_back(alive(number, 0));
    }
    deliver(swim, at(6), {.updates = many});
    REQUIRE(swim.members().size() == 4);
    REQUIRE(swim.stats().updates_refused == 18);
    Instant now = at(6);
    const std::vector<Sent> sent = tick_until(swim, now, at(5000));  // take_sent checks sizes.
    REQUIRE(!sent.empty());
}

}  // namespace
}  // namespace shoal::membership

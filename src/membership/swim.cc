#include "shoal/membership/swim.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace shoal::membership {
namespace {

// Departures and forgetting are checked this often: their periods are minutes.
constexpr Duration kDeparturesCheckInterval = std::chrono::seconds(1);

// The first point of the grid `at + n * interval` (n >= 0) that is at or after `now`.
Instant next_on_grid(Instant at, Duration interval, Instant now) {
    SHOAL_ASSERT(interval > Duration{0});
    if (at >= now) return at;
    const int64_t steps = (now - at + interval - Duration{1}) / interval;
    return at + interval * steps;
}

Duration random_duration_below(Prng& prng, Duration bound) {
    SHOAL_ASSERT(bound > Duration{0});
    return Duration{static_cast<int64_t>(prng.below(static_cast<uint64_t>(bound.count())))};
}

}  // namespace

Status Swim::Options::validate() const {
    const auto invalid = [](std::string_view why) {
        return Status::invalid_argument(fmt::format("membership: {}", why));
    };
    const Duration zero{0};
    if (cluster_name.empty() || cluster_name.size() > 255) {
        return invalid("cluster_name must be 1..255 bytes");
    }
    if (probe_timeout <= zero) return invalid("probe_timeout must be positive");
    if (probe_interval <= probe_timeout) {
        return invalid("probe_interval must be longer than probe_timeout");
    }
    if (indirect_checks > 16) return invalid("indirect_checks must be at most 16");
    if (gossip_interval <= zero) return invalid("gossip_interval must be positive");
    if (gossip_nodes < 1 || gossip_nodes > 16) return invalid("gossip_nodes must be 1..16");
    if (retransmit_mult < 1 || retransmit_mult > 64) return invalid("retransmit_mult: 1..64");
    if (gossip_to_dead < zero) return invalid("gossip_to_dead must not be negative");
    if (suspicion_min <= zero) return invalid("suspicion_min must be positive");
    if (suspicion_max_mult < 1 || suspicion_max_mult > 100) {
        return invalid("suspicion_max_mult must be 1..100");
    }
    if (suspicion_confirmations > 16) return invalid("suspicion_confirmations: at most 16");
    if (suspect_checks > 8) return invalid("suspect_checks must be at most 8");
    if (health_max > 16) return invalid("health_max must be at most 16");
    if (loop_lag_threshold <= zero) return invalid("loop_lag_threshold must be positive");
    if (push_pull_interval <= zero) return invalid("push_pull_interval must be positive");
    if (join_retry_interval <= zero) return invalid("join_retry_interval must be positive");
    if (departure_grace < zero) return invalid("departure_grace must not be negative");
    if (forget_after < zero) return invalid("forget_after must not be negative");
    // A member forgotten while another node still holds it dead would be taught back by that
    // node's push-pulls (learn_suspect): the others must let it go first.
    if (forget_after < departure_grace) {
        return invalid("forget_after must be at least departure_grace");
    }
    if (datagram_bytes_max < kDatagramBytesMin || datagram_bytes_max > kDatagramBytesMax) {
        return invalid(fmt::format(
                "datagram_bytes_max must be {}..{}", kDatagramBytesMin, kDatagramBytesMax));
    }
    if (members_max < 1 || members_max > kMembersMax) {
        return invalid(fmt::format("members_max must be 1..{}", kMembersMax));
    }
    if (relays_max < 1 || relays_max > 1024) return invalid("relays_max must be 1..1024");
    return Status::ok();
}

Swim::Swim(const Options& options, const Identity& self, uint64_t seed, Instant now)
    : options_(options),
      cluster_(cluster_hash(options.cluster_name)),
      self_id_(self.id),
      prng_(seed),
      now_(now),
      broadcasts_(options.members_max) {
    SHOAL_ASSERT(options.validate().is_ok());
    SHOAL_ASSERT(self.validate().is_ok());
    members_.push_back(Member{.identity = self, .last_heard = now, .state_since = now});
    // Random phases, so that members started together do not probe and gossip in lockstep.
    probe_next_ = now + random_duration_below(prng_, options.probe_interval);
    gossip_next_ = now + random_duration_below(prng_, options.gossip_interval);
    push_pull_next_ = now + random_duration_below(prng_, options.push_pull_interval);
    departures_next_ = now + kDeparturesCheckInterval;
    send_scratch_.reserve(options.datagram_bytes_max);
}

void Swim::advance(Instant now) {
    SHOAL_ASSERT(now >= now_);  // Time never runs backwards.
    now_ = now;
    self_mutable().last_heard = now;
}

void Swim::tick(Instant now) {
    advance(now);
    if (!leaving_) {
        tick_probe();
        tick_suspicions();
        tick_push_pull();
        tick_join();
    }
    tick_relays();
    tick_gossip();
    tick_departures();
}

Instant Swim::wake_at() const {
    Instant wake = departures_next_;
    const auto earliest = [&wake](Instant at) {
        wake = std::min(wake, at);
    };
    if (!leaving_) {
        if (probe_.has_value() && !probe_->indirect_sent) earliest(probe_->ack_deadline);
        if (probe_.has_value()) earliest(probe_->end);
        earliest(probe_next_);
        for (const Suspected& suspected : suspected_) {
            earliest(suspected.suspicion.deadline());
            if (const std::optional<Instant> check = check_at(suspected)) earliest(*check);
        }
        earliest(push_pull_next_);
        if (!seeds_.empty()) earliest(join_next_);
    }
    for (const Relay& relay : relays_) {
        earliest(relay.nack_sent ? relay.expire_at : relay.nack_at);
    }
    if (!broadcasts_.empty()) {
        earliest(gossip_soon_ ? now_ : next_on_grid(gossip_next_, options_.gossip_interval, now_));
    }
    return wake;
}

void Swim::on_datagram(Instant now, const HostPort& from, ByteView bytes) {
    advance(now);
    stats_.datagrams_received += 1;
    stats_.bytes_received += bytes.size();
    Packet& packet = packet_scratch_;  // Its update list keeps its capacity from packet to packet.
    if (!decode_packet(bytes, packet).is_ok()) {
        stats_.packets_malformed += 1;
        return;
    }
    if (packet.header.cluster != cluster_) {
        stats_.packets_foreign += 1;
        return;
    }
    if (packet.header.sender == self_id_) {
        stats_.packets_from_self += 1;
        return;
    }
    note_sender(packet.header);
    // Rumors first: a ping that tells us we are suspected is answered by the refuted self.
    for (const MemberUpdate& update : packet.updates) {
        apply(update);
    }
    dispatch(from, packet);
}

void Swim::dispatch(const HostPort& from, const Packet& packet) {
    switch (packet.header.kind) {
        case PacketKind::kPing:
            on_ping(from, packet);
            return;
        case PacketKind::kPingRequest:
            on_ping_request(from, packet);
            return;
        case PacketKind::kAck:
            on_ack(packet);
            return;
        case PacketKind::kNack:
            on_nack(packet);
            return;
        case PacketKind::kGossip:
            return;
        case PacketKind::kPushPull:
            break;  // decode_packet refuses it.
    }
    SHOAL_ASSERT(false);
}

// The header is first-hand: only a member raises its own incarnation, so a packet from it says
// it is alive (or has left) at least at that incarnation. This refutes a rumor of its death
// wherever its packets reach, without waiting for gossip.
void Swim::note_sender(const PacketHeader& header) {
    Member* member = find_mutable(header.sender);
    if (member == nullptr) return;  // Its alive update, with its identity, will come.
    member->last_heard = now_;
    if (header.sender_state == MemberState::kLeft) {
        apply_dead(header.sender, header.sender_incarnation, header.sender, MemberState::kLeft);
        return;
    }
    // Not newer. If we hold it dead, it runs without having heard: our next packet to it says
    // so first (send()), and it refutes and rejoins.
    if (header.sender_incarnation <= member->incarnation) return;
    const Identity& identity = member->identity;
    apply_alive(MemberUpdate{
            .state = MemberState::kAlive,
            .member = header.sender,
            .incarnation = header.sender_incarnation,
            .name = identity.name,
            .host = identity.address.host,
            .port = identity.address.port,
            .zone = identity.zone,
            .capacity_weight = identity.capacity_weight,
    });
}

const Member* Swim::find(MemberId id) const {
    const auto found = std::lower_bound(
            members_.begin(), members_.end(), id, [](const Member& member, MemberId key) {
                return member.id() < key;
            });
    if (found == members_.end() || found->id() != id) return nullptr;
    return &*found;
}

Member* Swim::find_mutable(MemberId id) {
    return const_cast<Member*>(std::as_const(*this).find(id));
}

// Self is looked at for every packet, so its place is kept rather than searched for.
const Member& Swim::self() const {
    SHOAL_ASSERT(self_index_ < members_.size());
    SHOAL_ASSERT(members_[self_index_].id() == self_id_);
    return members_[self_index_];
}

Member& Swim::self_mutable() {
    return const_cast<Member&>(std::as_const(*this).self());
}

void Swim::locate_self() {
    const Member* self = find(self_id_);
    SHOAL_ASSERT(self != nullptr);
    self_index_ = static_cast<size_t>(self - members_.data());
}

Member* Swim::insert_member(const MemberUpdate& update, MemberState state) {
    SHOAL_ASSERT(find(update.member) == nullptr);
    SHOAL_ASSERT(state == MemberState::kAlive || state == MemberState::kSuspect);
    if (members_.size() >= options_.members_max) {
        stats_.updates_refused += 1;
        return nullptr;
    }
    Member member{
            .identity =
                    Identity{
                            .id = update.member,
                            .name = std::string(update.name),
                            .address =
                                    HostPort{.host = std::string(update.host), .port = update.port},
                            .zone = std::string(update.zone),
                            .capacity_weight = update.capacity_weight,
                    },
            .state = state,
            .incarnation = update.incarnation,
            .last_heard = now_,
            .state_since = now_,
    };
    const auto position = std::lower_bound(
            members_.begin(), members_.end(), update.member, [](const Member& known, MemberId key) {
                return known.id() < key;
            });
    const auto inserted = members_.insert(position, std::move(member));
    locate_self();
    count_live();
    return &*inserted;
}

void Swim::set_state(Member& member, MemberState state) {
    if (member.state == state) return;
    member.state = state;
    member.state_since = now_;
    count_live();
}

void Swim::emit(MemberEventKind kind, const Member& member) {
    SHOAL_ASSERT(member.id() != self_id_);
    outbox_.events.push_back(
            MemberEvent{.kind = kind, .member = member.id(), .incarnation = member.incarnation});
}

void Swim::count_live() {
    live_count_ = static_cast<uint32_t>(std::count_if(
            members_.begin(), members_.end(), [](const Member& m) { return is_live(m.state); }));
}

Duration Swim::scaled(Duration duration) const {
    if (!options_.local_health) return duration;
    return duration * (health_ + 1);
}

// retransmit_mult * ceil(log10(N + 1)), as memberlist's retransmitLimit.
uint32_t Swim::transmits_max() const {
    uint32_t digits = 1;
    for (uint64_t power = 10; power < uint64_t{live_count_} + 1; power *= 10) {
        digits += 1;
    }
    return options_.retransmit_mult * digits;
}

Packet Swim::packet_of(PacketKind kind) const {
    const Member& self = this->self();
    Packet packet;
    packet.header = PacketHeader{
            .kind = kind,
            .cluster = cluster_,
            .sender = self_id_,
            .sender_incarnation = self.incarnation,
            .sender_state =
                    self.state == MemberState::kLeft ? MemberState::kLeft : MemberState::kAlive,
    };
    return packet;
}

bool Swim::send(const HostPort& target, const Packet& packet, MemberId priority) {
    // Built in a buffer that keeps its capacity, then copied out at its size: one allocation
    // per datagram rather than one per field.
    PacketWriter writer(packet, options_.datagram_bytes_max, send_scratch_);
    const bool told = tell_about_itself(writer, priority);
    const size_t added = broadcasts_.fill(writer, told ? MemberId{} : priority, transmits_max());
    writer.finish();
    if (added == 0 && packet.header.kind == PacketKind::kGossip) return false;
    Buffer bytes(send_scratch_.view());
    stats_.datagrams_sent += 1;
    stats_.bytes_sent += bytes.size();
    outbox_.datagrams.push_back(OutgoingDatagram{.target = target, .bytes = std::move(bytes)});
    return true;
}

// Lifeguard's buddy system, made explicit: a packet to a member we hold suspect, dead or
// departed opens with that news whether or not the rumor is still being gossiped, so that the
// member hears it from the one who holds it and can refute. memberlist does this for probes.
bool Swim::tell_about_itself(PacketWriter& writer, MemberId member_id) {
    const Member* member = find(member_id);
    if (member == nullptr || member_id == self_id_) return false;
    if (member->state == MemberState::kAlive || member->state == MemberState::kLeft) return false;
    Buffer& update = tell_scratch_;
    update.clear();
    encode_update(
            MemberUpdate{.state = member->state == MemberState::kSuspect ? MemberState::kSuspect
                                                                         : MemberState::kDead,
                         .member = member_id,
                         .incarnation = member->incarnation,
                         .from = self_id_},
            update);
    const bool added = writer.add_update(update.view());
    SHOAL_ASSERT(added);  // The first update always fits (gossip.h's static_asserts).
    return true;
}

// Up to `count` distinct members at random: live ones, and with `dead_too` those dead or left
// within gossip_to_dead. Self and `exclude` are never picked. `alive_only` keeps suspects out
// (indirect probes go through members known to answer).
std::vector<const Member*>& Swim::random_members(size_t count, MemberId exclude, Pick pick) {
    scratch_members_.clear();
    for (const Member& member : members_) {
        if (member.id() == self_id_ || member.id() == exclude) continue;
        const bool wanted =
                member.state == MemberState::kAlive ||
                (pick != Pick::kAlive && member.state == MemberState::kSuspect) ||
                (pick == Pick::kLiveAndRecentlyDead &&
                 (member.state == MemberState::kDead || member.state == MemberState::kLeft) &&
                 now_ - member.state_since < options_.gossip_to_dead);
        if (wanted) scratch_members_.push_back(&member);
    }
    const size_t picked = std::min(count, scratch_members_.size());
    for (size_t index = 0; index < picked; index++) {
        const size_t other = index + prng_.below(scratch_members_.size() - index);
        std::swap(scratch_members_[index], scratch_members_[other]);
    }
    scratch_members_.resize(picked);
    return scratch_members_;
}

void Swim::tick_gossip() {
    if (now_ < gossip_next_ && !gossip_soon_) return;
    if (now_ >= gossip_next_) {
        gossip_next_ = next_on_grid(gossip_next_, options_.gossip_interval, now_ + Duration{1});
    }
    gossip_soon_ = false;
    if (broadcasts_.empty()) return;
    for (const Member* target :
         random_members(options_.gossip_nodes, MemberId{}, Pick::kLiveAndRecentlyDead)) {
        if (!send(target->identity.address, packet_of(PacketKind::kGossip), target->id())) break;
    }
}

void Swim::tick_departures() {
    if (now_ < departures_next_) return;
    departures_next_ = now_ + kDeparturesCheckInterval;
    for (Member& member : members_) {
        const bool gone = member.state == MemberState::kDead || member.state == MemberState::kLeft;
        if (gone && now_ - member.state_since >= options_.departure_grace) {
            set_state(member, MemberState::kDeparted);
            emit(MemberEventKind::kDeparted, member);
        }
    }
    const auto forgotten = [&](const Member& member) {
        return member.state == MemberState::kDeparted &&
               now_ - member.state_since >= options_.forget_after;
    };
    for (const Member& member : members_) {
        if (!forgotten(member)) continue;
        broadcasts_.erase(member.id());
        stats_.members_forgotten += 1;
    }
    std::erase_if(members_, forgotten);
    locate_self();
}

}  // namespace shoal::membership

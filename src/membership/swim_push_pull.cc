// Push-pull of the full state (memberlist's anti-entropy), joins, and the graceful leave.
#include <algorithm>
#include <cmath>

#include "shoal/membership/swim.h"

namespace shoal::membership {
namespace {

constexpr size_t kSeedsMax = 16;

}  // namespace

Buffer Swim::encode_state(bool join, bool reply) const {
    PushPull state{.header = packet_of(PacketKind::kGossip).header, .join = join, .reply = reply};
    state.header.kind = PacketKind::kPushPull;
    for (const Member& member : members_) {
        if (member.state != MemberState::kDeparted) state.members.push_back(update_of(member));
    }
    Buffer bytes;
    encode_push_pull(state, bytes);
    return bytes;
}

Result<std::optional<Buffer>> Swim::on_push_pull(Instant now, ByteView bytes) {
    advance(now);
    Result<PushPull> decoded = decode_push_pull(bytes);
    if (!decoded.is_ok()) {
        stats_.push_pulls_rejected += 1;
        return decoded.status();
    }
    const PushPull& state = decoded.value();
    if (state.header.cluster != cluster_) {
        stats_.push_pulls_rejected += 1;
        return Status::invalid_argument("gossip: push-pull from another cluster");
    }
    if (state.header.sender == self_id_) {
        stats_.push_pulls_rejected += 1;
        return Status::invalid_argument("gossip: push-pull from ourselves");
    }
    merge_state(state);
    stats_.push_pulls_merged += 1;
    if (state.reply) return std::optional<Buffer>();
    // Encoded after the merge, so that a refutation it provoked travels back at once: this is
    // how the two sides of a healed partition learn that each other is alive.
    return std::optional<Buffer>(encode_state(/*join=*/false, /*reply=*/true));
}

// Another member's view, merged as memberlist's mergeState does: its dead members become our
// suspects, not our dead, so a member that is alive has the usual time to refute. Unlike
// memberlist, a suspect or dead member we do not know is learned (as a suspect): placement
// counts members that are down, so a node that restarted while one was down must know it to
// place data where the rest of the cluster does.
void Swim::merge_state(const PushPull& state) {
    note_sender(state.header);
    for (const MemberUpdate& record : state.members) {
        stats_.updates_received += 1;
        merge_record(record, state.header.sender);
    }
}

void Swim::merge_record(const MemberUpdate& record, MemberId sender) {
    switch (record.state) {
        case MemberState::kAlive:
            apply_alive(record);
            return;
        case MemberState::kSuspect:
        case MemberState::kDead:
            if (record.member != self_id_ && find(record.member) == nullptr) {
                learn_suspect(record, sender);
                return;
            }
            apply_suspect(record.member, record.incarnation, sender);
            return;
        case MemberState::kLeft:
            apply_dead(record.member, record.incarnation, record.member, MemberState::kLeft);
            return;
        case MemberState::kDeparted:
            break;  // decode_push_pull refuses it.
    }
    SHOAL_ASSERT(false);
}

void Swim::learn_suspect(const MemberUpdate& record, MemberId sender) {
    Member* member = insert_member(record, MemberState::kSuspect);
    if (member == nullptr) return;  // Full; counted.
    emit(MemberEventKind::kJoined, *member);
    add_probe_candidate(member->id());
    start_suspicion(*member, sender);
    emit(MemberEventKind::kSuspect, *member);
    broadcast(*member, sender);
}

void Swim::start_push_pull(const HostPort& target, bool join) {
    stats_.push_pulls_started += 1;
    outbox_.push_pulls.push_back(
            PushPullStart{.target = target, .state = encode_state(join, /*reply=*/false)});
}

// memberlist's pushPullScale: beyond 32 members the interval grows with log2(N), so that the
// cluster's total push-pull load grows only slowly.
void Swim::tick_push_pull() {
    if (now_ < push_pull_next_) return;
    Duration interval = options_.push_pull_interval;
    if (live_count_ > 32) {
        const double ratio = std::log2(static_cast<double>(live_count_)) - std::log2(32.0);
        interval = interval * (static_cast<int64_t>(std::ceil(ratio)) + 1);
    }
    push_pull_next_ = now_ + interval;
    for (const Member* target : random_members(1, MemberId{}, Pick::kLive)) {
        start_push_pull(target->identity.address, /*join=*/false);
    }
    // And one dead member, so that the two sides of a healed partition meet again (serf's
    // reconnect does this for memberlist).
    scratch_members_.clear();
    for (const Member& member : members_) {
        if (member.state == MemberState::kDead) scratch_members_.push_back(&member);
    }
    if (scratch_members_.empty()) return;
    const Member* dead = scratch_members_[prng_.below(scratch_members_.size())];
    start_push_pull(dead->identity.address, /*join=*/false);
}

void Swim::join(Instant now, std::span<const HostPort> seeds) {
    advance(now);
    const std::span<const HostPort> kept = seeds.first(std::min(seeds.size(), kSeedsMax));
    seeds_.assign(kept.begin(), kept.end());
    join_backoff_ = options_.join_retry_interval;
    join_next_ = now_;
    tick_join();
}

// Retries while no other member is known: a seed may start after us.
void Swim::tick_join() {
    if (seeds_.empty() || now_ < join_next_) return;
    if (live_count_ > 1) {
        seeds_.clear();  // Joined.
        return;
    }
    for (const HostPort& seed : seeds_) {
        start_push_pull(seed, /*join=*/true);
    }
    join_next_ = now_ + join_backoff_;
    join_backoff_ = std::min(join_backoff_ * 2, options_.push_pull_interval);
}

void Swim::leave(Instant now) {
    advance(now);
    if (leaving_) return;
    Member& self = self_mutable();
    // Left outranks alive at an equal incarnation, so at the very top it need not rise.
    self.incarnation = Incarnation{std::min(to_u64(self.incarnation) + 1, kIncarnationMax)};
    set_state(self, MemberState::kLeft);
    leaving_ = true;
    probe_.reset();
    suspected_.clear();
    seeds_.clear();
    broadcast(self, self_id_);
    // Every live member hears it at once, in a packet of its own, so that the queue's transmit
    // limit does not ration it; the queue then repeats it for those the packet missed.
    Buffer update;
    encode_update(MemberUpdate{.state = MemberState::kLeft,
                               .member = self_id_,
                               .incarnation = self.incarnation,
                               .from = self_id_},
                  update);
    for (const Member& member : members_) {
        if (member.id() == self_id_ || !is_live(member.state)) continue;
        Buffer bytes;
        PacketWriter writer(packet_of(PacketKind::kGossip), options_.datagram_bytes_max, bytes);
        const bool added = writer.add_update(update.view());
        SHOAL_ASSERT(added);
        writer.finish();
        stats_.datagrams_sent += 1;
        stats_.bytes_sent += bytes.size();
        outbox_.datagrams.push_back(
                OutgoingDatagram{.target = member.identity.address, .bytes = std::move(bytes)});
    }
}

}  // namespace shoal::membership

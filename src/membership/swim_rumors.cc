// Rumors: applying member updates (SWIM 4.2), suspicion with Lifeguard's timeouts, refutation,
// and the lifecycle after death: departure and forgetting.
//
// Which update wins: a higher incarnation, always; at equal incarnations left beats dead beats
// suspect beats alive. Unlike the paper, dead also yields to a higher incarnation (an alive
// update from the member itself), so a restarted node rejoins; memberlist chooses the same.
#include <algorithm>
#include <cmath>

#include "shoal/membership/swim.h"

namespace shoal::membership {
namespace {

bool same_identity(const Identity& known, const MemberUpdate& update) {
    return known.name == update.name && known.address.host == update.host &&
           known.address.port == update.port && known.zone == update.zone &&
           known.capacity_weight == update.capacity_weight;
}

}  // namespace

void Swim::apply(const MemberUpdate& update) {
    stats_.updates_received += 1;
    switch (update.state) {
        case MemberState::kAlive:
            apply_alive(update);
            return;
        case MemberState::kSuspect:
            apply_suspect(update.member, update.incarnation, update.from);
            return;
        case MemberState::kDead:
        case MemberState::kLeft:
            apply_dead(update.member, update.incarnation, update.from, update.state);
            return;
        case MemberState::kDeparted:
            break;  // The decoders refuse it.
    }
    SHOAL_ASSERT(false);
}

void Swim::apply_alive(const MemberUpdate& update) {
    SHOAL_ASSERT(update.state == MemberState::kAlive);
    if (update.member == self_id_) {
        // Someone speaks for us at a higher incarnation: an earlier life of this node.
        if (update.incarnation > incarnation()) refute(update.incarnation);
        return;
    }
    Member* member = find_mutable(update.member);
    if (member == nullptr) {
        member = insert_member(update, MemberState::kAlive);
        if (member == nullptr) return;  // Full; counted.
        emit(MemberEventKind::kJoined, *member);
        add_probe_candidate(member->id());
        broadcast(*member, self_id_);
        return;
    }
    if (update.incarnation <= member->incarnation) return;  // Stale, or known already.
    const MemberState previous = member->state;
    const bool changed = !same_identity(member->identity, update);
    if (changed) {
        member->identity.name = std::string(update.name);
        member->identity.address = HostPort{.host = std::string(update.host), .port = update.port};
        member->identity.zone = std::string(update.zone);
        member->identity.capacity_weight = update.capacity_weight;
    }
    member->incarnation = update.incarnation;
    set_state(*member, MemberState::kAlive);
    end_suspicion(member->id());
    if (previous == MemberState::kDeparted) {
        emit(MemberEventKind::kJoined, *member);
    } else if (previous != MemberState::kAlive) {
        emit(MemberEventKind::kAlive, *member);
    }
    if (changed && previous != MemberState::kDeparted) emit(MemberEventKind::kUpdated, *member);
    if (!is_live(previous)) add_probe_candidate(member->id());
    broadcast(*member, self_id_);
}

void Swim::apply_suspect(MemberId member_id, Incarnation incarnation, MemberId from) {
    if (member_id == self_id_) {
        // A suspicion of an older incarnation was refuted already.
        if (incarnation >= this->incarnation()) refute(incarnation);
        return;
    }
    Member* member = find_mutable(member_id);
    if (member == nullptr || incarnation < member->incarnation) return;
    if (member->state == MemberState::kSuspect) {
        if (incarnation == member->incarnation) {
            confirm_suspicion(*member, from);
            return;
        }
        end_suspicion(member_id);  // It refuted, and is suspected again.
    } else if (member->state != MemberState::kAlive) {
        return;  // Dead, left and departed outrank suspect.
    }
    member->incarnation = incarnation;
    set_state(*member, MemberState::kSuspect);
    start_suspicion(*member, from);
    emit(MemberEventKind::kSuspect, *member);
    broadcast(*member, from);
}

// Lifeguard: an independent suspicion shortens the timer; it is passed on, so that others
// count it too.
void Swim::confirm_suspicion(const Member& member, MemberId from) {
    SHOAL_ASSERT(member.state == MemberState::kSuspect);
    Suspected* suspected = find_suspected(member.id());
    SHOAL_ASSERT(suspected != nullptr);
    if (suspected->suspicion.confirm(from)) broadcast(member, from);
}

void Swim::apply_dead(MemberId member_id,
                      Incarnation incarnation,
                      MemberId from,
                      MemberState state) {
    SHOAL_ASSERT(state == MemberState::kDead || state == MemberState::kLeft);
    if (member_id == self_id_) {
        if (leaving_) return;  // Our own leave, echoed back.
        if (incarnation >= this->incarnation()) refute(incarnation);
        return;
    }
    Member* member = find_mutable(member_id);
    if (member == nullptr || incarnation < member->incarnation) return;
    if (member->state == MemberState::kDeparted || member->state == MemberState::kLeft) return;
    if (member->state == state) return;  // Dead already: a later incarnation adds nothing.
    member->incarnation = incarnation;
    set_state(*member, state);
    end_suspicion(member_id);
    emit(state == MemberState::kDead ? MemberEventKind::kDead : MemberEventKind::kLeft, *member);
    broadcast(*member, from);
}

// Only the member itself raises its incarnation; an alive update at the new one outranks the
// rumor at every member that hears it (SWIM 4.2).
void Swim::refute(Incarnation accused) {
    if (leaving_) return;
    // Nothing outbids the largest incarnation the decoders let through; such a rumor is a
    // hostile or broken peer's, and waiting out its suspicion is all there is.
    if (to_u64(accused) >= kIncarnationMax) return;
    Member& self = self_mutable();
    const uint64_t raised = std::max(to_u64(self.incarnation), to_u64(accused)) + 1;
    SHOAL_ASSERT(raised <= kIncarnationMax);  // Callers pass accused >= ours, and it is < max.
    self.incarnation = Incarnation{raised};
    stats_.refutations += 1;
    change_health(1);  // Lifeguard IV-A: being suspected hints that we are the slow one.
    broadcast(self, self_id_);
    SHOAL_ASSERT(self.incarnation > accused);
}

// Lifeguard's timeouts at the current N: the shortest is suspicion_min * max(1, log10(N)),
// memberlist's scaling, so that the rumor of a refutation has time to cross a larger cluster.
Suspicion::Timeouts Swim::suspicion_timeouts() const {
    const double scale = std::max(1.0, std::log10(static_cast<double>(live_count_)));
    const auto min = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::nano>(
            static_cast<double>(options_.suspicion_min.count()) * scale));
    // With fewer than k + 2 members there are not k others to confirm.
    const uint32_t others = live_count_ > 2 ? live_count_ - 2 : 0;
    return Suspicion::Timeouts{
            .min = min,
            .max = min * options_.suspicion_max_mult,
            .confirmations_needed = std::min(options_.suspicion_confirmations, others),
    };
}

void Swim::start_suspicion(Member& member, MemberId from) {
    SHOAL_ASSERT(member.state == MemberState::kSuspect);
    SHOAL_ASSERT(find_suspected(member.id()) == nullptr);
    stats_.suspicions += 1;
    suspected_.push_back(Suspected{
            .member = member.id(),
            .suspicion = Suspicion(from, now_, suspicion_timeouts()),
    });
    SHOAL_ASSERT(suspected_.size() <= members_.size());
}

Swim::Suspected* Swim::find_suspected(MemberId member) {
    const auto found = std::find_if(suspected_.begin(), suspected_.end(), [&](const auto& s) {
        return s.member == member;
    });
    return found == suspected_.end() ? nullptr : &*found;
}

void Swim::end_suspicion(MemberId member) {
    std::erase_if(suspected_, [&](const Suspected& s) { return s.member == member; });
}

void Swim::tick_suspicions() {
    for (Suspected& suspected : suspected_) {
        const std::optional<Instant> check = check_at(suspected);
        if (check.has_value() && now_ >= *check) send_check(suspected);
    }
    size_t index = 0;
    while (index < suspected_.size()) {
        if (now_ < suspected_[index].suspicion.deadline()) {
            index += 1;
            continue;
        }
        declare_dead(suspected_[index].member);  // Removes it from suspected_.
    }
}

// The next direct check of a suspect, if one is due: the last ends probe_timeout before the
// deadline, the others probe_timeout apart before it, none before the suspicion began. The
// deadline moves as confirmations arrive, and the checks with it.
std::optional<Instant> Swim::check_at(const Suspected& suspected) const {
    if (suspected.checks_sent >= options_.suspect_checks) return std::nullopt;
    const uint32_t left = options_.suspect_checks - suspected.checks_sent;
    const Duration lead = options_.probe_timeout * left;
    const Instant deadline = suspected.suspicion.deadline();
    if (deadline - suspected.suspicion.start() <= lead) return suspected.suspicion.start();
    return deadline + (Duration{0} - lead);
}

void Swim::send_check(Suspected& suspected) {
    SHOAL_ASSERT(suspected.checks_sent < options_.suspect_checks);
    suspected.checks_sent += 1;
    const Member* member = find(suspected.member);
    SHOAL_ASSERT(member != nullptr);
    SHOAL_ASSERT(member->state == MemberState::kSuspect);
    // Its ack is matched to nothing: its header is the answer (note_sender).
    Packet ping = packet_of(PacketKind::kPing);
    ping.sequence = next_sequence();
    ping.target = suspected.member;
    send(member->identity.address, ping, suspected.member);
    stats_.suspect_checks += 1;
}

void Swim::declare_dead(MemberId member_id) {
    Member* member = find_mutable(member_id);
    SHOAL_ASSERT(member != nullptr);
    SHOAL_ASSERT(member->state == MemberState::kSuspect);
    stats_.dead_declared += 1;
    end_suspicion(member_id);
    set_state(*member, MemberState::kDead);
    emit(MemberEventKind::kDead, *member);
    broadcast(*member, self_id_);
}

// Departed is this node's own notion; to others the member is dead.
void Swim::broadcast(const Member& member, MemberId from) {
    MemberUpdate update;
    if (member.state == MemberState::kDeparted) {
        update = MemberUpdate{.state = MemberState::kDead,
                              .member = member.id(),
                              .incarnation = member.incarnation};
    } else {
        update = update_of(member);
    }
    update.from = from;
    broadcasts_.push(update);
    gossip_soon_ = true;
}

}  // namespace shoal::membership

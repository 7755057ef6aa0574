// Probing (SWIM 3.1 and 4.3), indirect probes and their relays, and Lifeguard's local health.
#include <algorithm>

#include "shoal/membership/swim.h"

namespace shoal::membership {

void Swim::tick_probe() {
    if (probe_.has_value() && !probe_->indirect_sent && now_ >= probe_->ack_deadline) {
        send_indirect_probes();
    }
    if (probe_.has_value() && now_ >= probe_->end) finish_probe_failed();
    if (!probe_.has_value() && now_ >= probe_next_) start_probe();
}

uint32_t Swim::next_sequence() {
    const uint32_t sequence = sequence_next_;
    sequence_next_ += 1;
    if (sequence_next_ == 0) sequence_next_ = 1;  // 0 is never used.
    return sequence;
}

void Swim::start_probe() {
    SHOAL_ASSERT(!probe_.has_value());
    // Whatever the outcome, the next probe waits one (health-scaled) period from this one.
    probe_next_ = now_ + scaled(options_.probe_interval);
    const std::optional<MemberId> target = next_probe_target();
    if (!target.has_value()) return;
    const Member* member = find(*target);
    SHOAL_ASSERT(member != nullptr);
    SHOAL_ASSERT(is_live(member->state));
    probe_ = Probe{
            .target = *target,
            .address = member->identity.address,
            .sequence = next_sequence(),
            .ack_deadline = now_ + scaled(options_.probe_timeout),
            .end = probe_next_,
    };
    stats_.probes += 1;
    Packet ping = packet_of(PacketKind::kPing);
    ping.sequence = probe_->sequence;
    ping.target = *target;
    send(probe_->address, ping, *target);  // A suspect target hears of it first (buddy system).
}

// Round-robin over a list shuffled at the start of every round (SWIM 4.3): every live member
// is probed once per round, so the time to first probe a failed member is bounded.
std::optional<MemberId> Swim::next_probe_target() {
    for (int pass = 0; pass < 2; pass++) {
        while (probe_index_ < probe_order_.size()) {
            const MemberId id = probe_order_[probe_index_];
            probe_index_ += 1;
            const Member* member = find(id);
            if (member != nullptr && id != self_id_ && is_live(member->state)) return id;
        }
        probe_order_.clear();
        for (const Member& member : members_) {
            if (member.id() != self_id_ && is_live(member.state)) {
                probe_order_.push_back(member.id());
            }
        }
        for (size_t index = probe_order_.size(); index > 1; index--) {
            std::swap(probe_order_[index - 1], probe_order_[prng_.below(index)]);
        }
        probe_index_ = 0;
        if (probe_order_.empty()) return std::nullopt;
    }
    return std::nullopt;
}

// A member that joins (or comes back) mid-round goes to a random place among those not yet
// probed this round, so it is probed within the round, as SWIM 4.3 asks.
void Swim::add_probe_candidate(MemberId member) {
    SHOAL_ASSERT(probe_index_ <= probe_order_.size());
    const auto pending = probe_order_.begin() + static_cast<ptrdiff_t>(probe_index_);
    if (std::find(pending, probe_order_.end(), member) != probe_order_.end()) return;
    // Members gone since are skipped when reached; if the list grows long they go at once,
    // with those probed already this round.
    if (probe_order_.size() >= 2 * size_t{options_.members_max}) {
        probe_order_.erase(probe_order_.begin(), pending);
        probe_index_ = 0;
        std::erase_if(probe_order_, [&](MemberId id) {
            const Member* known = find(id);
            return known == nullptr || !is_live(known->state);
        });
    }
    const size_t span = probe_order_.size() - probe_index_ + 1;
    const size_t position = probe_index_ + prng_.below(span);
    probe_order_.insert(probe_order_.begin() + static_cast<ptrdiff_t>(position), member);
    SHOAL_ASSERT(probe_order_.size() <= 2 * size_t{options_.members_max});
}

void Swim::send_indirect_probes() {
    SHOAL_ASSERT(probe_.has_value());
    SHOAL_ASSERT(!probe_->indirect_sent);
    probe_->indirect_sent = true;
    stats_.probes_indirect += 1;
    Packet request = packet_of(PacketKind::kPingRequest);
    request.sequence = probe_->sequence;
    request.target = probe_->target;
    request.target_host = probe_->address.host;
    request.target_port = probe_->address.port;
    const std::vector<const Member*>& helpers =
            random_members(options_.indirect_checks, probe_->target, Pick::kAlive);
    for (const Member* helper : helpers) {
        send(helper->identity.address, request, helper->id());
    }
    probe_->nacks_expected = static_cast<uint32_t>(helpers.size());
    // The ping or its ack may just have been lost: try once more directly, as memberlist does
    // over TCP at this point.
    Packet ping = packet_of(PacketKind::kPing);
    ping.sequence = probe_->sequence;
    ping.target = probe_->target;
    send(probe_->address, ping, probe_->target);
}

void Swim::finish_probe_failed() {
    SHOAL_ASSERT(probe_.has_value());
    const Probe probe = *probe_;
    probe_.reset();
    stats_.probes_failed += 1;
    // Lifeguard IV-A: helpers that do not even nack suggest the fault is ours, not the
    // target's; with no helper to ask, the failure itself counts.
    if (probe.nacks_expected == 0) {
        change_health(1);
    } else if (probe.nacks_received < probe.nacks_expected) {
        change_health(static_cast<int32_t>(probe.nacks_expected - probe.nacks_received));
    }
    const Member* member = find(probe.target);
    if (member == nullptr || !is_live(member->state)) return;
    apply_suspect(probe.target, member->incarnation, self_id_);
}

void Swim::on_ping(const HostPort& from, const Packet& packet) {
    if (packet.target != self_id_) {
        stats_.packets_misdirected += 1;  // For a node that used to have this address.
        return;
    }
    Packet ack = packet_of(PacketKind::kAck);
    ack.sequence = packet.sequence;
    send(from, ack, packet.header.sender);
}

void Swim::on_ping_request(const HostPort& from, const Packet& packet) {
    if (packet.target == self_id_) {
        on_ping(from, packet);  // Asked to ping ourselves: the answer is at hand.
        return;
    }
    if (relays_.size() >= options_.relays_max) {
        stats_.relays_refused += 1;
        return;
    }
    const Relay& relay = relays_.emplace_back(Relay{
            .sequence = next_sequence(),
            .requester_sequence = packet.sequence,
            .requester = from,
            .requester_id = packet.header.sender,
            // Before the requester gives up: its wait after asking is at least
            // probe_interval - probe_timeout, which validate() keeps positive.
            .nack_at = now_ + options_.probe_timeout * 4 / 5,
            .expire_at = now_ + options_.probe_interval,
    });
    Packet ping = packet_of(PacketKind::kPing);
    ping.sequence = relay.sequence;
    ping.target = packet.target;
    send(HostPort{.host = std::string(packet.target_host), .port = packet.target_port},
         ping,
         packet.target);
}

void Swim::on_ack(const Packet& packet) {
    if (probe_.has_value() && packet.sequence == probe_->sequence) {
        probe_.reset();
        change_health(-1);
        return;
    }
    const auto relay = std::find_if(relays_.begin(), relays_.end(), [&](const Relay& r) {
        return r.sequence == packet.sequence;
    });
    if (relay == relays_.end()) return;  // Late, or not ours.
    Packet ack = packet_of(PacketKind::kAck);
    ack.sequence = relay->requester_sequence;
    send(relay->requester, ack, relay->requester_id);
    relays_.erase(relay);
}

void Swim::on_nack(const Packet& packet) {
    if (!probe_.has_value() || packet.sequence != probe_->sequence) return;
    stats_.nacks_received += 1;
    probe_->nacks_received = std::min(probe_->nacks_received + 1, probe_->nacks_expected);
}

void Swim::tick_relays() {
    for (Relay& relay : relays_) {
        if (relay.nack_sent || now_ < relay.nack_at) continue;
        Packet nack = packet_of(PacketKind::kNack);
        nack.sequence = relay.requester_sequence;
        send(relay.requester, nack, relay.requester_id);
        relay.nack_sent = true;
        stats_.nacks_sent += 1;
    }
    std::erase_if(relays_, [&](const Relay& relay) { return now_ >= relay.expire_at; });
}

void Swim::change_health(int32_t delta) {
    if (!options_.local_health) return;
    const int64_t health =
            std::clamp<int64_t>(int64_t{health_} + delta, 0, int64_t{options_.health_max});
    health_ = static_cast<uint32_t>(health);
}

void Swim::on_loop_lag(Instant now, Duration lag) {
    advance(now);
    if (!options_.local_health || lag < options_.loop_lag_threshold) return;
    stats_.loop_lags += 1;
    const int64_t steps = (lag + options_.probe_timeout - Duration{1}) / options_.probe_timeout;
    change_health(static_cast<int32_t>(std::min<int64_t>(steps, options_.health_max)));
    // Nothing was heard while the loop stood still, so that time proves no member silent.
    if (probe_.has_value()) {
        probe_->ack_deadline = probe_->ack_deadline + lag;
        probe_->end = probe_->end + lag;
        probe_next_ = probe_->end;
    }
    for (Suspected& suspected : suspected_) {
        suspected.suspicion.postpone(lag);
    }
    for (Relay& relay : relays_) {
        relay.nack_at = relay.nack_at + lag;
        relay.expire_at = relay.expire_at + lag;
    }
}

}  // namespace shoal::membership

// The node's membership shell: feeds membership::Swim what the runtime delivers (ticks,
// datagrams, push-pull frames) and sends what it produces. Every decision is the core's; here
// are only the transport (datagrams, one outbound connection per push-pull), the bounds on
// what the shell itself holds, and the log lines of member events.
#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "shoal/base/limits.h"
#include "shoal/base/time.h"
#include "shoal/node/node.h"

namespace shoal::node {
namespace {

static_assert(membership::kPushPullBytesMax <= wire::kPushPullStateBytesMax,
              "every push-pull state the core makes fits the wire's frame");
static_assert(membership::kMembersMax <= wire::kMembersReplyEntriesMax);
static_assert(membership::kMemberNameBytesMax <= wire::kMemberNameBytesMax);
static_assert(membership::kHostBytesMax <= wire::kMemberHostBytesMax);
static_assert(membership::kZoneBytesMax <= wire::kMemberZoneBytesMax);
static_assert(static_cast<uint8_t>(membership::MemberState::kDeparted) ==
              static_cast<uint8_t>(wire::MemberStatus::kDeparted));
static_assert(static_cast<uint8_t>(membership::MemberState::kLeft) ==
              static_cast<uint8_t>(wire::MemberStatus::kLeft));

// A push-pull connection carries one request, so its id is fixed.
constexpr RequestId kPushPullRequest{1};

std::string_view event_name(membership::MemberEventKind kind) {
    switch (kind) {
        case membership::MemberEventKind::kJoined:
            return "member_joined";
        case membership::MemberEventKind::kUpdated:
            return "member_updated";
        case membership::MemberEventKind::kSuspect:
            return "member_suspect";
        case membership::MemberEventKind::kAlive:
            return "member_alive";
        case membership::MemberEventKind::kDead:
            return "member_dead";
        case membership::MemberEventKind::kLeft:
            return "member_left";
        case membership::MemberEventKind::kDeparted:
            return "member_departed";
    }
    return "member_event";
}

}  // namespace

// Lifeguard's loop lag: the runtime's ticks are due every kTickDuration; a tick that runs
// later than that means the loop was busy or the process was not scheduled, and the core
// widens this node's own timeouts instead of blaming the members it could not hear.
void Node::tick_membership(Instant now) {
    if (tick_last_.has_value()) {
        const Instant due = *tick_last_ + kTickDuration;
        if (now > due) swim_.on_loop_lag(now, now - due);
    }
    tick_last_ = now;
    swim_.tick(now);
    flush_membership();
    for (auto& [id, call] : push_pulls_) {
        if (!call.answered && now >= call.deadline) {
            call.answered = true;  // Counted here; on_closed() only erases it.
            stats_.push_pulls_failed += 1;
            log_.debug("push_pull_timed_out target={}", call.target.to_string());
            runtime_.network().close(id);
        }
    }
    if (leaving_ && !shutting_down_ && (swim_.leave_done() || now >= leave_deadline_)) {
        log_.info("leave_finished gossiped={}", swim_.leave_done());
        begin_shutdown();
    }
}

void Node::on_datagram(const HostPort& from, ByteView bytes) {
    swim_.on_datagram(runtime_.now(), from, bytes);
    flush_membership();
}

void Node::on_connected(runtime::ConnectionId connection) {
    if (peer_client_->owns(connection)) {
        peer_client_->on_connected(connection);
        return;
    }
    log_.trace("push_pull_connected connection={}", to_u64(connection));
}

void Node::flush_membership() {
    membership::Outbox& outbox = swim_.outbox();
    runtime::Network& network = runtime_.network();
    for (const membership::OutgoingDatagram& datagram : outbox.datagrams) {
        network.send_datagram(datagram.target, datagram.bytes.view());
    }
    for (membership::PushPullStart& start : outbox.push_pulls) {
        start_push_pull(start);
    }
    const bool members_changed = !outbox.events.empty();
    for (const membership::MemberEvent& event : outbox.events) {
        log_member_event(event);
        // A member back from an outage may have missed writes that no fallback took.
        if (event.kind == membership::MemberEventKind::kAlive) scrubber_->schedule();
    }
    outbox.clear();
    if (members_changed) rebuild_layout();
}

// The connection's id is recorded before any event can arrive for it (none runs inside
// connect()), so on_frame and on_closed tell it from an accepted one.
void Node::start_push_pull(membership::PushPullStart& start) {
    if (push_pulls_.size() >= kPushPullsInFlightMax) {
        stats_.push_pulls_refused += 1;
        return;
    }
    SHOAL_ASSERT(!start.state.empty());
    SHOAL_ASSERT(start.state.size() <= wire::kPushPullStateBytesMax);
    const runtime::ConnectionId id = runtime_.network().connect(start.target);
    const bool inserted =
            push_pulls_
                    .emplace(id,
                             PushPullCall{
                                     .target = start.target,
                                     .deadline = runtime_.now() +
                                                 kTickDuration * options_.push_pull_timeout_ticks,
                                     .answered = false})
                    .second;
    SHOAL_ASSERT(inserted);
    SHOAL_ASSERT(!connections_.contains(id));
    Buffer frame;
    wire::encode_request(
            kPushPullRequest, wire::PushPullRequest{.state = start.state.view()}, frame);
    send(id, std::move(frame));
}

// One answer ends the exchange: the state is merged, and the connection closed either way.
void Node::on_push_pull_answer(runtime::ConnectionId id, PushPullCall& call, ByteView bytes) {
    runtime_.network().close(id);
    if (call.answered) return;  // Timed out, or a second frame: ignored.
    call.answered = true;
    Result<wire::FrameHeader> header = wire::decode_frame_header(bytes, limits::kFrameBodyBytesMax);
    Status status = header.status();
    if (status.is_ok() && (header.value().kind != wire::FrameKind::kResponse ||
                           header.value().opcode != wire::Opcode::kPushPull)) {
        status = Status::invalid_argument("push-pull: the answer is not a push-pull reply");
    }
    if (status.is_ok()) {
        Result<wire::PushPullReply> reply =
                wire::decode_push_pull_reply(bytes.subspan(wire::kFrameHeaderBytes));
        status = reply.status();
        if (status.is_ok()) {
            Result<std::optional<Buffer>> merged =
                    swim_.on_push_pull(runtime_.now(), reply.value().state);
            status = merged.status();
        }
    }
    if (!status.is_ok()) {
        stats_.push_pulls_failed += 1;
        log_.warn("push_pull_rejected target={} reason=\"{}\"",
                  call.target.to_string(),
                  status.message());
    }
    flush_membership();
}

// A peer's push-pull. A state the core refuses gets an error reply; the peer then closes.
void Node::on_push_pull_request(runtime::ConnectionId id,
                                RequestId request,
                                const wire::PushPullRequest& push_pull) {
    Result<std::optional<Buffer>> answer = swim_.on_push_pull(runtime_.now(), push_pull.state);
    Status status = answer.status();
    if (status.is_ok() && !answer.value().has_value()) {
        status = Status::invalid_argument("push-pull request: the state is marked as a reply");
    }
    if (!status.is_ok()) {
        auto found = connections_.find(id);
        log_.debug("push_pull_refused peer={} reason=\"{}\"",
                   found == connections_.end() ? "" : found->second.peer_address,
                   status.message());
        reply_error(id, request, wire::Opcode::kPushPull, status);
        flush_membership();
        return;
    }
    stats_.push_pulls_answered += 1;
    Buffer reply;
    wire::encode_reply(request, wire::PushPullReply{.state = answer.value()->view()}, reply);
    send(id, std::move(reply));
    bound_send_queue(id);
    flush_membership();
}

void Node::on_members(runtime::ConnectionId id, RequestId request) {
    const Instant now = runtime_.now();
    wire::MembersReply reply;
    std::map<placement::NodeKey, uint32_t> slots;  // Owner slots per node in our layout.
    if (layout_ != nullptr) {
        const placement::PartitionTable& table = layout_->table();
        reply.layout_epoch = table.fingerprint();
        reply.partition_count = table.partition_count();
        reply.owners_per_partition = table.owners_per_partition();
        for (size_t index = 0; index < table.nodes().size(); ++index) {
            slots[table.nodes()[index].id] = table.slot_counts()[index];
        }
    }
    reply.members.reserve(swim_.members().size());
    for (const membership::Member& member : swim_.members()) {
        const bool is_self = member.id() == options_.identity.id;
        reply.members.push_back(wire::MemberEntry{
                .id_high = member.id().high,
                .id_low = member.id().low,
                .name = member.identity.name,
                .host = member.identity.address.host,
                .port = member.identity.address.port,
                .zone = member.identity.zone,
                .state = static_cast<wire::MemberStatus>(member.state),
                .incarnation = static_cast<uint64_t>(member.incarnation),
                .capacity_weight = member.identity.capacity_weight,
                .last_heard_ms = is_self ? 0 : milliseconds_between(member.last_heard, now),
                .partitions = slots[{.high = member.id().high, .low = member.id().low}],
        });
    }
    Buffer encoded;
    wire::encode_reply(request, reply, encoded);
    send(id, std::move(encoded));
    bound_send_queue(id);
}

// Replies of up to half a MiB each: a peer that pipelines requests without reading is paused
// once its queue is full, as a get stream's client is.
void Node::bound_send_queue(runtime::ConnectionId id) {
    auto found = connections_.find(id);
    if (found != connections_.end()) check_send_queue(id, found->second);
}

void Node::log_member_event(const membership::MemberEvent& event) {
    const membership::Member* member = swim_.find(event.member);
    if (member == nullptr) {
        log_.info("{} id={} incarnation={}",
                  event_name(event.kind),
                  membership::to_string(event.member),
                  static_cast<uint64_t>(event.incarnation));
        return;
    }
    log_.info("{} member={} id={} address={} zone={} incarnation={}",
              event_name(event.kind),
              member->identity.name,
              membership::to_string(event.member),
              member->identity.address.to_string(),
              member->identity.zone,
              static_cast<uint64_t>(event.incarnation));
}

void Node::begin_leave() {
    if (leaving_ || shutting_down_) return;
    leaving_ = true;
    const Instant now = runtime_.now();
    leave_deadline_ = now + kTickDuration * options_.leave_timeout_ticks;
    log_.info("leave_started members={} timeout_ticks={}",
              swim_.live_count(),
              options_.leave_timeout_ticks);
    const bool alone = swim_.live_count() <= 1;  // Self included: there is no one to tell.
    swim_.leave(now);
    flush_membership();
    if (alone) begin_shutdown();
}

}  // namespace shoal::node

#include "shoal/node/node.h"

#include <type_traits>
#include <variant>

#include <spdlog/spdlog.h>

#include "shoal/base/limits.h"
#include "shoal/object/store_key.h"

namespace shoal::node {
namespace {

// How many failed-put ids a connection remembers so their late pieces can be dropped.
constexpr size_t kPutsAbortedMax = 64;

template <typename... Handlers>
struct Overloaded : Handlers... {
    using Handlers::operator()...;
};
// Clang 14 does not deduce aggregate template arguments (P1816) by itself.
template <typename... Handlers>
Overloaded(Handlers...) -> Overloaded<Handlers...>;

// The requests of other nodes' operations (PeerService). Listed by name, so that a request
// added to wire::Request without a handler still fails to compile.
template <typename Request>
concept PeerDataRequest = std::is_same_v<Request, wire::ChunkPutRequest> ||
        std::is_same_v<Request, wire::ChunkGetRequest> ||
        std::is_same_v<Request, wire::ManifestPutRequest> ||
        std::is_same_v<Request, wire::ManifestGetRequest> ||
        std::is_same_v<Request, wire::ManifestListRequest> ||
        std::is_same_v<Request, wire::ChunkDeleteRequest>;

}  // namespace

Status Node::Options::validate() const {
    if (name.empty()) return Status::invalid_argument("node.name is empty");
    SHOAL_TRY(identity.validate());
    SHOAL_TRY(swim.validate());
    if (leave_timeout_ticks == 0) return Status::invalid_argument("node: leave timeout is 0");
    if (push_pull_timeout_ticks == 0) {
        return Status::invalid_argument("node: push-pull timeout is 0");
    }
    if (put_idle_timeout_ticks == 0) return Status::invalid_argument("node: put idle timeout is 0");
    if (put_wait_timeout_ticks == 0) return Status::invalid_argument("node: put wait timeout is 0");
    SHOAL_TRY(cluster.validate());
    SHOAL_TRY(scrub.validate());
    if (storage_mode == StorageMode::kDisk) SHOAL_TRY(disk.validate());
    return memory.validate();
}

Node::Node(const Options& options, runtime::Runtime& runtime, spdlog::logger& log)
    : options_(options),
      runtime_(runtime),
      log_(log),
      store_(options.memory),
      swim_(options.swim, options.identity, runtime.seed() ^ 0x5357494d, runtime.now()) {
    SHOAL_ASSERT(options.validate().is_ok());
    if (options.storage_mode == StorageMode::kDisk) {
        disk_ = std::make_unique<storage::DiskStore>(options.disk, runtime.disk(), log);
        local_ = std::make_unique<storage::LocalStore>(*disk_);
    } else {
        local_ = std::make_unique<storage::LocalStore>(store_);
    }
    peer_service_ = std::make_unique<PeerService>(*local_, log);
    peer_client_ = std::make_unique<PeerClient>(
            PeerClient::Options{
                    .self = {.high = options.identity.id.high, .low = options.identity.id.low},
                    .timeout_ticks = options.cluster.peer_timeout_ticks},
            runtime,
            log,
            *peer_service_,
            [this](const placement::NodeKey& node) { return address_of(node); });
    hand_back_ = std::make_unique<HandBack>(
            *peer_service_,
            *local_,
            *peer_client_,
            [this](const object::ChunkId& chunk) { return chunk_owner(chunk); },
            [this](const placement::NodeKey& node) { return is_alive(node); },
            log);
    scrubber_ = std::make_unique<repair::Scrubber>(
            options.scrub,
            *peer_client_,
            [this] { return view_is_whole() ? layout_ : nullptr; },
            [this](const placement::NodeKey& node) { return is_alive(node); },
            [this](const std::string& key) {
                return local_->version_of(object::manifest_store_key(key));
            },
            log);
    peer_service_->on_version_seen([this](Version version) { clock_.observe(version.hlc); });
    peer_service_->on_chunk_stored(
            [this](const object::ChunkId& chunk) { hand_back_->note(chunk); });
    rebuild_layout();
}

void Node::start(std::function<void(Status status)> done) {
    SHOAL_ASSERT(!serving_);
    // Membership does not wait for the store: peers learn of this node while it recovers.
    if (!options_.join.empty()) {
        swim_.join(runtime_.now(), options_.join);
        flush_membership();
    }
    if (!is_disk()) {
        serving_ = true;
        done(Status::ok());
        return;
    }
    disk_->open([this, done = std::move(done)](Status status) {
        if (status.is_ok()) {
            serving_ = true;
            clock_.observe(disk_->hlc_max());  // Versions go on growing across restarts.
        }
        done(std::move(status));
    });
}

storage::DiskStoreStats Node::disk_stats() const {
    SHOAL_ASSERT(is_disk());
    return disk_->stats();
}

void Node::on_turn_end() {
    start_waiting_puts();
    local_->on_turn_end();
    peer_service_->on_turn_end();
    peer_client_->on_turn_end();
    if (!is_disk()) return;
    disk_->on_turn_end();
    // Puts wait for the disk: a client paused for the write backlog resumes once it is out.
    if (disk_->is_backlogged()) return;
    for (auto& [id, connection] : connections_) {
        if (!connection.paused_for_disk) continue;
        connection.paused_for_disk = false;
        update_receiving(id, connection);
    }
}

void Node::on_accepted(runtime::ConnectionId connection, const std::string& peer_address) {
    SPDLOG_LOGGER_DEBUG(
            &log_, "connection_accepted connection={} peer={}", to_u64(connection), peer_address);
    Connection state;
    state.peer_address = peer_address;
    const bool inserted = connections_.emplace(connection, std::move(state)).second;
    SHOAL_ASSERT(inserted);
    if (shutting_down_) runtime_.network().close(connection);
}

void Node::on_closed(runtime::ConnectionId connection, const Status& reason) {
    if (auto call = push_pulls_.find(connection); call != push_pulls_.end()) {
        if (!call->second.answered) {
            stats_.push_pulls_failed += 1;
            log_.debug("push_pull_failed target={} reason=\"{}\"",
                       call->second.target.to_string(),
                       reason.is_ok() ? "closed before the answer" : reason.message());
        }
        push_pulls_.erase(call);
        return;
    }
    if (peer_client_->owns(connection)) {
        peer_client_->on_closed(connection, reason);
        return;
    }
    auto found = connections_.find(connection);
    if (found == connections_.end()) return;
    // The runtime closes a connection whose framing broke with kInvalidArgument.
    if (reason.code() == Code::kInvalidArgument) stats_.frames_rejected += 1;
    cancel_gets(found->second);
    if (!found->second.puts.empty()) {
        stats_.puts_abandoned += found->second.puts.size();
        log_.info("puts_abandoned connection={} peer={} count={} reason=\"{}\"",
                  to_u64(connection),
                  found->second.peer_address,
                  found->second.puts.size(),
                  reason.is_ok() ? "closed" : reason.message());
    }
    // Their operations stop sending; no manifest of theirs was written, so nothing is visible.
    cancel_puts(connection, found->second);
    connections_.erase(found);
    start_waiting_gets();
    if (shutting_down_) finish_shutdown_if_drained();
}

void Node::on_frame(runtime::ConnectionId id, ByteView bytes) {
    if (auto call = push_pulls_.find(id); call != push_pulls_.end()) {
        on_push_pull_answer(id, call->second, bytes);
        return;
    }
    if (peer_client_->owns(id)) {
        peer_client_->on_frame(id, bytes);
        return;
    }
    auto found = connections_.find(id);
    SHOAL_ASSERT(found != connections_.end());
    Result<wire::FrameHeader> header = wire::decode_frame_header(bytes, limits::kFrameBodyBytesMax);
    if (!header.is_ok()) {
        reject_frame(id, header.status());
        return;
    }
    const wire::Frame frame{.header = header.value(),
                            .body = bytes.subspan(wire::kFrameHeaderBytes)};
    on_request(id, found->second, frame);
}

void Node::on_request(runtime::ConnectionId id, Connection& connection, const wire::Frame& frame) {
    const RequestId request = frame.header.request_id;
    Result<wire::Request> decoded = wire::decode_request(frame);
    if (!decoded.is_ok()) {
        // A bad request body leaves the stream in sync, so the client hears why; a bad piece
        // may belong to a put in progress, so the connection goes.
        if (frame.header.kind != wire::FrameKind::kRequest) {
            reject_frame(id, decoded.status());
            return;
        }
        stats_.requests += 1;
        reply_error(id, request, frame.header.opcode, decoded.status());
        return;
    }
    if (const auto* piece = std::get_if<wire::PutPiece>(&decoded.value())) {
        on_put_piece(id, connection, request, *piece);
        return;
    }
    stats_.requests += 1;
    // Membership is served while the store opens and while the node leaves.
    if (const auto* push_pull = std::get_if<wire::PushPullRequest>(&decoded.value())) {
        on_push_pull_request(id, request, *push_pull);
        return;
    }
    if (std::holds_alternative<wire::MembersRequest>(decoded.value())) {
        on_members(id, request);
        return;
    }
    if (!serving_) {
        reply_error(id,
                    request,
                    frame.header.opcode,
                    Status::unavailable("the node is still opening its store"));
        return;
    }
    if (shutting_down_) {
        reply_error(
                id, request, frame.header.opcode, Status::unavailable("the node is shutting down"));
        return;
    }
    std::visit(
            Overloaded{
                    [&](const wire::PutRequest& put) { on_put(id, connection, request, put); },
                    [&](const wire::PutPiece&) { SHOAL_ASSERT(false); },
                    [&](const wire::GetRequest& get) { on_get(id, connection, request, get.key); },
                    [&](const wire::DeleteRequest& del) {
                        on_delete(id, connection, request, del.key);
                    },
                    [&](const wire::StatRequest& stat) {
                        on_stat(id, connection, request, stat.key);
                    },
                    [&](const wire::ListRequest& list) { on_list(id, connection, request, list); },
                    [&](const wire::PingRequest&) {
                        Buffer reply;
                        wire::encode_reply(request, wire::PingReply{}, reply);
                        send(id, std::move(reply));
                    },
                    [&](const wire::StatsRequest&) { on_stats(id, request); },
                    [&](const wire::PushPullRequest&) { SHOAL_ASSERT(false); },
                    [&](const wire::MembersRequest&) { SHOAL_ASSERT(false); },
                    [&](const PeerDataRequest auto&) {
                        on_peer_request(id, connection, request, decoded.value());
                    },
            },
            decoded.value());
}

// Answered from the local store; a chunk written may put the disk behind, which pauses the
// sending node like a client.
void Node::on_peer_request(runtime::ConnectionId id,
                           Connection& connection,
                           RequestId request,
                           const wire::Request& decoded) {
    connection.peer_requests += 1;
    peer_service_->serve(decoded, request, [this, id](runtime::OutFrame frame) {
        auto found = connections_.find(id);
        if (found == connections_.end()) return;
        SHOAL_ASSERT(found->second.peer_requests > 0);
        found->second.peer_requests -= 1;
        runtime_.network().send(id, std::move(frame));
        check_send_queue(id, found->second);
        if (shutting_down_) finish_shutdown_if_drained();
    });
    if (is_disk()) pause_if_backlogged(id, connection);
}

// A client whose writes outrun the disk is paused until the store's backlog is out, so the
// node's memory for it stays bounded whatever it pipelines.
void Node::pause_if_backlogged(runtime::ConnectionId id, Connection& connection) {
    if (connection.paused_for_disk || !disk_->is_backlogged()) return;
    connection.paused_for_disk = true;
    update_receiving(id, connection);
}

// Receiving is paused while the send queue is full, the disk is behind, or a put has as many
// stripes in flight as it may.
void Node::update_receiving(runtime::ConnectionId id, Connection& connection) {
    const bool pause = connection.paused_for_send_queue || connection.paused_for_disk ||
                       !puts_want_data(connection);
    if (pause == connection.receiving_paused) return;
    connection.receiving_paused = pause;
    if (pause) {
        runtime_.network().pause_receiving(id);
    } else {
        runtime_.network().resume_receiving(id);
    }
}

// One connection holds at most kConnectionRequestsMax requests; the next is answered at once.
bool Node::refuse_if_busy(runtime::ConnectionId id,
                          const Connection& connection,
                          RequestId request,
                          wire::Opcode opcode) {
    if (requests_in_flight(connection) < limits::kConnectionRequestsMax) return false;
    reply_error(id,
                request,
                opcode,
                Status::resource_exhausted("too many requests in flight on one connection"));
    return true;
}

size_t Node::requests_in_flight(const Connection& connection) {
    return connection.puts.size() + connection.gets.size() + connection.metadata_requests +
           connection.peer_requests;
}

void Node::abort_put(Connection& connection, RequestId request, bool more_pieces_expected) {
    if (!more_pieces_expected) return;
    if (connection.puts_aborted.size() == kPutsAbortedMax) connection.puts_aborted.pop_front();
    connection.puts_aborted.push_back(request);
}

// A client that sends requests faster than it reads replies is paused: TCP flow control then
// slows it, and the node never buffers more than about one send queue for it.
void Node::check_send_queue(runtime::ConnectionId id, Connection& connection) {
    connection.paused_for_send_queue =
            runtime_.network().send_queue_bytes(id) >= limits::kConnectionSendQueueBytesMax;
    update_receiving(id, connection);
}

void Node::on_stats(runtime::ConnectionId id, RequestId request) {
    wire::StatsReply reply{
            .storage_mode = is_disk() ? wire::StorageMode::kDisk : wire::StorageMode::kMemory,
            .requests = stats_.requests,
            .requests_failed = stats_.requests_failed,
            .frames_rejected = stats_.frames_rejected,
            .puts_abandoned = stats_.puts_abandoned,
            .bytes_received = stats_.bytes_received,
            .bytes_sent = stats_.bytes_sent,
            .chunks_homeless = operation_stats_.chunks_homeless,
            .scrub_passes = scrubber_->stats().passes,
            .manifests_repaired = scrubber_->repair_stats().manifests_repaired,
            .chunks_rebuilt = scrubber_->repair_stats().chunks_rebuilt,
            .stripes_unrecoverable = scrubber_->repair_stats().stripes_unrecoverable,
    };
    if (is_disk()) {
        const storage::DiskStoreStats disk = disk_stats();
        reply.records = disk.objects;
        reply.record_bytes = disk.object_bytes;
        reply.segments = disk.segments;
        reply.log_bytes = disk.log_bytes;
        reply.live_bytes = disk.live_bytes;
        reply.corrupt_ranges = disk.corrupt_ranges;
        reply.corrupt_bytes = disk.corrupt_bytes;
        reply.corrupt_reads = disk.corrupt_reads;
        reply.damaged_records = disk.damaged_objects;
        reply.torn_tails = disk.torn_tails;
        reply.writes = disk.writes;
        reply.syncs = disk.syncs;
        reply.cache_bytes = disk.cache_bytes;
        reply.cache_hits = disk.cache_hits;
        reply.cache_misses = disk.cache_misses;
        reply.writes_stopped = disk.writes_stopped;
    } else {
        const storage::StoreStats memory = store_stats();
        reply.records = memory.objects;
        reply.record_bytes = memory.object_bytes;
    }
    Buffer encoded;
    wire::encode_reply(request, reply, encoded);
    send(id, std::move(encoded));
}

void Node::reject_frame(runtime::ConnectionId id, const Status& reason) {
    stats_.frames_rejected += 1;
    auto found = connections_.find(id);
    log_.warn("frame_rejected connection={} peer={} reason=\"{}\"",
              to_u64(id),
              found == connections_.end() ? "" : found->second.peer_address,
              reason.message());
    runtime_.network().close(id);
}

void Node::reply_error(runtime::ConnectionId id,
                       RequestId request,
                       wire::Opcode opcode,
                       const Status& status) {
    SHOAL_ASSERT(!status.is_ok());
    stats_.requests_failed += 1;
    Buffer reply;
    wire::encode_error(request,
                       opcode,
                       wire::ErrorReply{.code = status.code(), .message = status.message()},
                       reply);
    send(id, std::move(reply));
}

void Node::send(runtime::ConnectionId id, Buffer frame) {
    runtime::OutFrame out;
    out.head = std::move(frame);
    runtime_.network().send(id, std::move(out));
}

void Node::begin_shutdown() {
    if (shutting_down_) return;
    shutting_down_ = true;
    if (is_disk()) disk_->quiesce();
    shutdown_ticks_ = 0;
    size_t puts = 0;
    size_t gets = 0;
    for (const auto& [id, connection] : connections_) {
        puts += connection.puts.size();
        gets += connection.gets.size();
    }
    log_.info("shutdown_started puts_in_flight={} gets_in_flight={} grace_ticks={}",
              puts,
              gets,
              options_.shutdown_grace_ticks);
    finish_shutdown_if_drained();
}

void Node::on_tick() {
    tick_membership(runtime_.now());
    peer_client_->on_tick();
    if (serving_) {
        tick_hand_back();
        scrubber_->on_tick();
        tick_puts(runtime_.now());
    }
    if (is_disk()) disk_->on_tick();
    if (!shutting_down_ || stopped_) return;
    shutdown_ticks_ += 1;
    if (shutdown_ticks_ < options_.shutdown_grace_ticks) {
        finish_shutdown_if_drained();  // The store may have gone quiet since the last event.
        return;
    }
    // Out of grace: what has not finished fails, loudly, and never becomes visible.
    size_t puts_failed = 0;
    size_t gets_failed = 0;
    for (auto& [id, connection] : connections_) {
        puts_failed += connection.puts.size();
        gets_failed += connection.gets.size();
        for (const auto& [request, put] : connection.puts) {
            reply_error(id,
                        request,
                        wire::Opcode::kPut,
                        Status::unavailable("the node shut down before the put finished"));
        }
        cancel_gets(connection);
        for (const auto& [request, get] : connection.gets) {
            reply_error(id,
                        request,
                        wire::Opcode::kGet,
                        Status::unavailable("the node shut down before the get finished"));
        }
        stats_.puts_abandoned += connection.puts.size();
        cancel_puts(id, connection);
        connection.gets.clear();
    }
    if (puts_failed + gets_failed > 0) {
        log_.warn("puts_failed_at_shutdown count={} gets_failed={}", puts_failed, gets_failed);
    }
    finish_shutdown_if_drained();
}

void Node::finish_shutdown_if_drained() {
    SHOAL_ASSERT(shutting_down_);
    if (stopped_) return;
    for (const auto& [id, connection] : connections_) {
        if (requests_in_flight(connection) > 0) return;
    }
    // Disk requests hold pointers into the store: it must be quiet before the loop ends.
    if (is_disk() && !disk_->is_idle()) return;
    stopped_ = true;
    log_.info("shutdown_drained connections={}", connections_.size());
    runtime_.stop();
}

Version Node::next_version() {
    return Version{.hlc = clock_.next(runtime_.wall_clock_ms()), .node = options_.id};
}

Version Node::version_after(Version newest) {
    clock_.observe(newest.hlc);
    return next_version();
}

}  // namespace shoal::node

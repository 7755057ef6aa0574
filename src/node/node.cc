#include "shoal/node/node.h"

#include <type_traits>
#include <variant>

#include <spdlog/spdlog.h>

#include "shoal/base/limits.h"

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

// The peer requests of the cluster data path (issue #5). Wire decodes them, but the node does
// not serve them yet: until it does, it refuses them as a peer that is down would be refused,
// so a coordinator that asks treats this node as unavailable rather than as wrong. Listed by
// name, so that a request added to wire::Request without a handler still fails to compile.
template <typename Request>
concept PeerDataRequest = std::is_same_v<Request, wire::ChunkPutRequest> ||
        std::is_same_v<Request, wire::ChunkGetRequest> ||
        std::is_same_v<Request, wire::ManifestPutRequest> ||
        std::is_same_v<Request, wire::ManifestGetRequest> ||
        std::is_same_v<Request, wire::ManifestListRequest> ||
        std::is_same_v<Request, wire::ChunkDeleteRequest>;

// A list reply from either store's page: both name their entries' key and object.
template <typename Page>
wire::ListReply make_list_reply(const Page& page) {
    wire::ListReply reply;
    reply.truncated = page.truncated;
    reply.entries.reserve(page.entries.size());
    size_t reply_bytes = 0;
    for (const auto& entry : page.entries) {
        reply_bytes += wire::list_entry_bytes(entry.key);
        if (reply_bytes > limits::kListReplyBytesMax) {
            reply.truncated = true;  // The client asks again from the last key it got.
            break;
        }
        reply.entries.push_back(wire::ListEntry{
                .key = std::string(entry.key),
                .info = {.version = entry.object->version,
                         .object_bytes = entry.object->object_bytes,
                         .digest = entry.object->digest},
        });
    }
    return reply;
}

}  // namespace

Status Node::Options::validate() const {
    if (name.empty()) return Status::invalid_argument("node.name is empty");
    SHOAL_TRY(identity.validate());
    SHOAL_TRY(swim.validate());
    if (leave_timeout_ticks == 0) return Status::invalid_argument("node: leave timeout is 0");
    if (push_pull_timeout_ticks == 0) {
        return Status::invalid_argument("node: push-pull timeout is 0");
    }
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
    }
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
    if (!is_disk()) return;
    disk_->on_turn_end();
    start_deferred_gets();
    // Puts wait for the disk: a client paused for the write backlog resumes once it is out.
    if (disk_->is_backlogged()) return;
    for (auto& [id, connection] : connections_) {
        if (!connection.paused_for_disk) continue;
        connection.paused_for_disk = false;
        update_receiving(id, connection);
    }
}

// Gets waiting for the store's read budget start in arrival order as reads finish.
void Node::start_deferred_gets() {
    while (!deferred_gets_.empty() && disk_->read_bytes_in_flight() < kDiskReadBytesInFlightMax) {
        DeferredGet get = std::move(deferred_gets_.front());
        deferred_gets_.pop_front();
        auto found = connections_.find(get.connection);
        if (found == connections_.end()) continue;
        SHOAL_ASSERT(found->second.disk_reads > 0);
        found->second.disk_reads -= 1;
        if (shutting_down_) {
            reply_error(get.connection,
                        get.request,
                        wire::Opcode::kGet,
                        Status::unavailable("the node is shutting down"));
            continue;
        }
        on_disk_get(get.connection, found->second, get.request, get.key, /*was_deferred=*/true);
    }
    if (shutting_down_) finish_shutdown_if_drained();
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
    auto found = connections_.find(connection);
    if (found == connections_.end()) return;
    // The runtime closes a connection whose framing broke with kInvalidArgument.
    if (reason.code() == Code::kInvalidArgument) stats_.frames_rejected += 1;
    abandon_disk_puts(found->second);
    if (!found->second.puts.empty()) {
        // Their builders return the budget as they are destroyed; nothing became visible.
        stats_.puts_abandoned += found->second.puts.size();
        log_.info("puts_abandoned connection={} peer={} count={} reason=\"{}\"",
                  to_u64(connection),
                  found->second.peer_address,
                  found->second.puts.size(),
                  reason.is_ok() ? "closed" : reason.message());
    }
    connections_.erase(found);
    if (shutting_down_) finish_shutdown_if_drained();
}

void Node::on_frame(runtime::ConnectionId id, ByteView bytes) {
    if (auto call = push_pulls_.find(id); call != push_pulls_.end()) {
        on_push_pull_answer(id, call->second, bytes);
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
                    [&](const wire::StatRequest& stat) { on_stat(id, request, stat.key); },
                    [&](const wire::ListRequest& list) { on_list(id, request, list); },
                    [&](const wire::PingRequest&) {
                        Buffer reply;
                        wire::encode_reply(request, wire::PingReply{}, reply);
                        send(id, std::move(reply));
                    },
                    [&](const wire::StatsRequest&) { on_stats(id, request); },
                    [&](const wire::PushPullRequest&) { SHOAL_ASSERT(false); },
                    [&](const wire::MembersRequest&) { SHOAL_ASSERT(false); },
                    [&](const PeerDataRequest auto&) {
                        reply_error(id,
                                    request,
                                    frame.header.opcode,
                                    Status::unavailable("peer data path not enabled yet"));
                    },
            },
            decoded.value());
}

void Node::on_put(runtime::ConnectionId id,
                  Connection& connection,
                  RequestId request,
                  const wire::PutRequest& put) {
    if (connection.puts.contains(request)) {
        reject_frame(id, Status::invalid_argument("put: request id already in use"));
        return;
    }
    if (refuse_if_busy(id, connection, request, wire::Opcode::kPut)) {
        abort_put(connection, request, !put.piece.last);
        return;
    }
    PendingPut pending{.assembly = coordinator::PutAssembly(put.key, put.object_bytes),
                       .builder = std::nullopt,
                       .disk_put = {}};
    Status begun = Status::ok();
    if (is_disk()) {
        Result<storage::PutId> disk_put = disk_->begin_put(
                put.key, put.object_bytes == wire::kObjectBytesUnknown ? 0 : put.object_bytes);
        begun = disk_put.status();
        if (begun.is_ok()) pending.disk_put = disk_put.value();
    } else {
        Result<storage::ObjectBuilder> builder = store_.begin_put(put.key, put.object_bytes);
        begun = builder.status();
        if (begun.is_ok()) pending.builder.emplace(std::move(builder).value());
    }
    if (!begun.is_ok()) {
        reply_error(id, request, wire::Opcode::kPut, begun);
        abort_put(connection, request, !put.piece.last);
        return;
    }
    auto [position, inserted] = connection.puts.emplace(request, std::move(pending));
    SHOAL_ASSERT(inserted);
    apply_piece(id, connection, position, put.piece);
}

void Node::on_put_piece(runtime::ConnectionId id,
                        Connection& connection,
                        RequestId request,
                        const wire::PutPiece& piece) {
    auto put = connection.puts.find(request);
    if (put != connection.puts.end()) {
        apply_piece(id, connection, put, piece);
        return;
    }
    for (auto aborted = connection.puts_aborted.begin(); aborted != connection.puts_aborted.end();
         ++aborted) {
        if (*aborted != request) continue;
        // The client was told the put failed; these are its pieces still in flight.
        if (piece.last) connection.puts_aborted.erase(aborted);
        return;
    }
    reject_frame(id, Status::invalid_argument("put: a piece for a request that is not a put"));
}

void Node::apply_piece(runtime::ConnectionId id,
                       Connection& connection,
                       std::map<RequestId, PendingPut>::iterator put,
                       const wire::PutPiece& piece) {
    const RequestId request = put->first;
    PendingPut& pending = put->second;
    Status status = pending.assembly.on_piece(piece);
    if (status.is_ok() && !is_disk()) status = pending.builder->append(piece.data);
    if (!status.is_ok()) {
        if (is_disk()) disk_->abandon(pending.disk_put);
        SPDLOG_LOGGER_DEBUG(&log_,
                            "put_failed connection={} request={} reason=\"{}\"",
                            to_u64(id),
                            to_u64(request),
                            status.message());
        reply_error(id, request, wire::Opcode::kPut, status);
        connection.puts.erase(put);
        abort_put(connection, request, !piece.last);
        if (shutting_down_) finish_shutdown_if_drained();
        return;
    }
    stats_.bytes_received += piece.data.size();
    if (is_disk()) {
        if (!pending.assembly.is_complete()) {
            disk_->append(pending.disk_put, piece.data);
            pause_if_backlogged(id, connection);
            return;
        }
        commit_disk_put(id, request, pending, piece.data);
        connection.puts.erase(put);
        return;
    }
    if (!pending.assembly.is_complete()) return;

    const Version version = next_version();
    storage::ObjectRef object = pending.builder->finish(version, pending.assembly.digest());
    const wire::ObjectInfo info{
            .version = version, .object_bytes = object->object_bytes, .digest = object->digest};
    store_.commit(pending.assembly.key(), std::move(object));
    connection.puts.erase(put);

    Buffer reply;
    wire::encode_reply(request, wire::PutReply{.info = info}, reply);
    send(id, std::move(reply));
    if (shutting_down_) finish_shutdown_if_drained();
}

// The reply goes out once the commit is durable; the connection may be gone by then, and a
// send to it is then dropped.
void Node::commit_disk_put(runtime::ConnectionId id,
                           RequestId request,
                           PendingPut& pending,
                           ByteView last_data) {
    const Version version = next_version();
    const wire::ObjectInfo info{.version = version,
                                .object_bytes = pending.assembly.received_bytes(),
                                .digest = pending.assembly.digest()};
    Buffer reply;
    wire::encode_reply(request, wire::PutReply{.info = info}, reply);
    const Status started =
            disk_->commit(pending.disk_put,
                          last_data,
                          version,
                          info.digest,
                          reply_when_durable(id, request, wire::Opcode::kPut, std::move(reply)));
    track_disk_write(id, request, wire::Opcode::kPut, started);
}

// A client whose writes outrun the disk is paused until the store's backlog is out, so the
// node's memory for it stays bounded whatever it pipelines.
void Node::pause_if_backlogged(runtime::ConnectionId id, Connection& connection) {
    if (connection.paused_for_disk || !disk_->is_backlogged()) return;
    connection.paused_for_disk = true;
    update_receiving(id, connection);
}

// Receiving is paused while either the send queue is full or the disk is behind.
void Node::update_receiving(runtime::ConnectionId id, Connection& connection) {
    const bool pause = connection.paused_for_send_queue || connection.paused_for_disk;
    if (pause == connection.receiving_paused) return;
    connection.receiving_paused = pause;
    if (pause) {
        runtime_.network().pause_receiving(id);
    } else {
        runtime_.network().resume_receiving(id);
    }
}

// The reply goes out once the write is durable, or an error if it failed. The connection may
// be gone by then; a send to it is dropped.
storage::DiskStore::Done Node::reply_when_durable(runtime::ConnectionId id,
                                                  RequestId request,
                                                  wire::Opcode opcode,
                                                  Buffer reply) {
    // std::function needs a copyable callable.
    auto shared_reply = std::make_shared<Buffer>(std::move(reply));
    return [this, id, request, opcode, shared_reply](const Status& status) {
        disk_write_done(id, request, opcode, std::move(*shared_reply), status);
    };
}

void Node::disk_write_done(runtime::ConnectionId id,
                           RequestId request,
                           wire::Opcode opcode,
                           Buffer reply,
                           const Status& status) {
    SHOAL_ASSERT(disk_requests_ > 0);
    disk_requests_ -= 1;
    if (auto found = connections_.find(id); found != connections_.end()) {
        SHOAL_ASSERT(found->second.disk_writes > 0);
        found->second.disk_writes -= 1;
    }
    if (status.is_ok()) {
        send(id, std::move(reply));
    } else {
        reply_error(id, request, opcode, status);
    }
    if (shutting_down_) finish_shutdown_if_drained();
}

// A write the store refused at once never calls back: the client hears now.
void Node::track_disk_write(runtime::ConnectionId id,
                            RequestId request,
                            wire::Opcode opcode,
                            const Status& started) {
    if (!started.is_ok()) {
        reply_error(id, request, opcode, started);
        return;
    }
    disk_requests_ += 1;
    auto found = connections_.find(id);
    SHOAL_ASSERT(found != connections_.end());
    found->second.disk_writes += 1;
    pause_if_backlogged(id, found->second);
}

void Node::abandon_disk_puts(const Connection& connection) {
    if (!is_disk()) return;
    for (const auto& [request, put] : connection.puts) {
        disk_->abandon(put.disk_put);
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
    return connection.puts.size() + connection.gets.size() + connection.disk_reads +
           connection.disk_writes;
}

void Node::abort_put(Connection& connection, RequestId request, bool more_pieces_expected) {
    if (!more_pieces_expected) return;
    if (connection.puts_aborted.size() == kPutsAbortedMax) connection.puts_aborted.pop_front();
    connection.puts_aborted.push_back(request);
}

void Node::on_get(runtime::ConnectionId id,
                  Connection& connection,
                  RequestId request,
                  std::string_view key) {
    if (is_disk()) {
        on_disk_get(id, connection, request, key);
        return;
    }
    storage::ObjectRef object = store_.find(key);
    if (object == nullptr) {
        reply_error(id, request, wire::Opcode::kGet, Status::not_found("no such object"));
        return;
    }
    if (refuse_if_busy(id, connection, request, wire::Opcode::kGet)) return;
    const wire::GetReply reply{
            .info = {.version = object->version,
                     .object_bytes = object->object_bytes,
                     .digest = object->digest},
            .data = object->pieces.empty() ? ByteView{} : object->pieces.front().view(),
    };
    runtime::OutFrame frame;
    wire::encode_get_reply_prefix(request, reply, frame.head);
    frame.payload = reply.data;
    stats_.bytes_sent += reply.data.size();
    frame.payload_owner = object;
    runtime_.network().send(id, std::move(frame));
    if (object->pieces.size() > 1) {
        connection.gets.push_back(GetStream{.id = request, .object = object, .piece_index = 1});
        pump_gets(id, connection);
    }
    check_send_queue(id, connection);
}

void Node::pump_gets(runtime::ConnectionId id, Connection& connection) {
    runtime::Network& network = runtime_.network();
    // One stream at a time, oldest first: it finishes sooner, and so frees its object sooner.
    while (!connection.gets.empty() &&
           network.send_queue_bytes(id) < limits::kConnectionSendQueueBytesMax) {
        GetStream& stream = connection.gets.front();
        if (stream.disk_object != nullptr) {
            if (!pump_disk_get(id, connection)) break;
            continue;
        }
        const Buffer& piece = stream.object->pieces[stream.piece_index];
        runtime::OutFrame frame;
        wire::encode_get_data_header(stream.id, static_cast<uint32_t>(piece.size()), frame.head);
        frame.payload = piece.view();
        frame.payload_owner = stream.object;
        stats_.bytes_sent += piece.size();
        network.send(id, std::move(frame));
        stream.piece_index += 1;
        if (stream.piece_index == stream.object->pieces.size()) connection.gets.pop_front();
    }
    if (shutting_down_) finish_shutdown_if_drained();
}

// Disk mode: the first piece is read before the reply goes out, so that an object whose bytes
// fail their checks gets a plain error reply rather than a stream cut short.
void Node::on_disk_get(runtime::ConnectionId id,
                       Connection& connection,
                       RequestId request,
                       std::string_view key,
                       bool was_deferred) {
    storage::DiskObjectRef object = disk_->find(key);
    if (object == nullptr) {
        reply_error(id, request, wire::Opcode::kGet, Status::not_found("no such object"));
        return;
    }
    // A get that waited was counted all along, and the budget has room for it now: waiting
    // again would send it to the back of the line for ever.
    if (!was_deferred && refuse_if_busy(id, connection, request, wire::Opcode::kGet)) return;
    if (std::optional<storage::PieceData> cached = disk_->cached_piece(*object, 0)) {
        send_disk_get_reply(id, connection, request, object, *cached);
        return;
    }
    if (!was_deferred &&
        (disk_->read_bytes_in_flight() >= kDiskReadBytesInFlightMax || !deferred_gets_.empty())) {
        // Counted as a read in flight, so that the connection's limit holds while it waits.
        connection.disk_reads += 1;
        deferred_gets_.push_back(
                DeferredGet{.connection = id, .request = request, .key = std::string(key)});
        return;
    }
    const Status started = disk_->read_piece(
            object, 0, [this, id, request, object](Result<storage::PieceData> piece) {
                disk_requests_ -= 1;
                auto found = connections_.find(id);
                if (found == connections_.end()) return;
                SHOAL_ASSERT(found->second.disk_reads > 0);
                found->second.disk_reads -= 1;
                if (!piece.is_ok()) {
                    reply_error(id, request, wire::Opcode::kGet, piece.status());
                } else {
                    send_disk_get_reply(id, found->second, request, object, piece.value());
                }
                if (shutting_down_) finish_shutdown_if_drained();
            });
    if (!started.is_ok()) {
        reply_error(id, request, wire::Opcode::kGet, started);
        return;
    }
    disk_requests_ += 1;
    connection.disk_reads += 1;
}

void Node::send_disk_get_reply(runtime::ConnectionId id,
                               Connection& connection,
                               RequestId request,
                               const storage::DiskObjectRef& object,
                               const storage::PieceData& piece) {
    const wire::GetReply reply{
            .info = {.version = object->version,
                     .object_bytes = object->object_bytes,
                     .digest = object->digest},
            .data = piece.data,
    };
    runtime::OutFrame frame;
    wire::encode_get_reply_prefix(request, reply, frame.head);
    frame.payload = piece.data;
    frame.payload_owner = piece.owner;
    stats_.bytes_sent += piece.data.size();
    runtime_.network().send(id, std::move(frame));
    if (object->piece_count() > 1) {
        connection.gets.push_back(GetStream{.id = request,
                                            .object = nullptr,
                                            .disk_object = object,
                                            .piece_index = 1,
                                            .is_reading = false});
        pump_gets(id, connection);
    }
    check_send_queue(id, connection);
}

// Sends the front stream's next piece from the cache, or starts reading it. False when the
// stream waits for a read.
bool Node::pump_disk_get(runtime::ConnectionId id, Connection& connection) {
    GetStream& stream = connection.gets.front();
    if (stream.is_reading) return false;
    const storage::DiskObjectRef object = stream.disk_object;
    if (std::optional<storage::PieceData> cached =
                disk_->cached_piece(*object, stream.piece_index)) {
        send_get_data(id, stream, cached->data, cached->owner);
        if (stream.piece_index == object->piece_count()) connection.gets.pop_front();
        return true;
    }
    const RequestId request = stream.id;
    const Status started = disk_->read_piece(
            object, stream.piece_index, [this, id, request](Result<storage::PieceData> piece) {
                disk_piece_read(id, request, std::move(piece));
            });
    if (!started.is_ok()) {
        reply_error(id, request, wire::Opcode::kGet, started);
        connection.gets.pop_front();
        return true;
    }
    stream.is_reading = true;
    return false;
}

void Node::disk_piece_read(runtime::ConnectionId id,
                           RequestId request,
                           Result<storage::PieceData> piece) {
    auto found = connections_.find(id);
    if (found == connections_.end()) return;
    Connection& connection = found->second;
    // The stream is gone if the node failed it at the end of a shutdown.
    if (connection.gets.empty() || connection.gets.front().id != request) return;
    GetStream& stream = connection.gets.front();
    stream.is_reading = false;
    if (!piece.is_ok()) {
        // The client has part of the object; the error ends its stream.
        reply_error(id, request, wire::Opcode::kGet, piece.status());
        connection.gets.pop_front();
    } else {
        send_get_data(id, stream, piece.value().data, piece.value().owner);
        if (stream.piece_index == stream.disk_object->piece_count()) connection.gets.pop_front();
    }
    pump_gets(id, connection);
    check_send_queue(id, connection);
}

void Node::send_get_data(runtime::ConnectionId id,
                         GetStream& stream,
                         ByteView data,
                         std::shared_ptr<const void> owner) {
    runtime::OutFrame frame;
    wire::encode_get_data_header(stream.id, static_cast<uint32_t>(data.size()), frame.head);
    frame.payload = data;
    frame.payload_owner = std::move(owner);
    stats_.bytes_sent += data.size();
    runtime_.network().send(id, std::move(frame));
    stream.piece_index += 1;
}

void Node::on_send_ready(runtime::ConnectionId id) {
    auto found = connections_.find(id);
    if (found == connections_.end()) return;
    pump_gets(id, found->second);
    check_send_queue(id, found->second);
}

// A client that sends requests faster than it reads replies is paused: TCP flow control then
// slows it, and the node never buffers more than about one send queue for it.
void Node::check_send_queue(runtime::ConnectionId id, Connection& connection) {
    connection.paused_for_send_queue =
            runtime_.network().send_queue_bytes(id) >= limits::kConnectionSendQueueBytesMax;
    update_receiving(id, connection);
}

void Node::on_delete(runtime::ConnectionId id,
                     Connection& connection,
                     RequestId request,
                     std::string_view key) {
    if (is_disk()) {
        if (refuse_if_busy(id, connection, request, wire::Opcode::kDelete)) return;
        const Version version = next_version();
        Buffer reply;
        wire::encode_reply(request, wire::DeleteReply{.version = version}, reply);
        const Status started = disk_->remove(
                key,
                version,
                reply_when_durable(id, request, wire::Opcode::kDelete, std::move(reply)));
        track_disk_write(id, request, wire::Opcode::kDelete, started);
        return;
    }
    if (!store_.remove(key)) {
        reply_error(id, request, wire::Opcode::kDelete, Status::not_found("no such object"));
        return;
    }
    Buffer reply;
    wire::encode_reply(request, wire::DeleteReply{.version = next_version()}, reply);
    send(id, std::move(reply));
}

void Node::on_stat(runtime::ConnectionId id, RequestId request, std::string_view key) {
    std::optional<wire::ObjectInfo> info;
    if (is_disk()) {
        if (storage::DiskObjectRef object = disk_->find(key)) {
            info = wire::ObjectInfo{.version = object->version,
                                    .object_bytes = object->object_bytes,
                                    .digest = object->digest};
        }
    } else if (storage::ObjectRef object = store_.find(key)) {
        info = wire::ObjectInfo{.version = object->version,
                                .object_bytes = object->object_bytes,
                                .digest = object->digest};
    }
    if (!info.has_value()) {
        reply_error(id, request, wire::Opcode::kStat, Status::not_found("no such object"));
        return;
    }
    Buffer reply;
    wire::encode_reply(request, wire::StatReply{.info = *info}, reply);
    send(id, std::move(reply));
}

void Node::on_list(runtime::ConnectionId id, RequestId request, const wire::ListRequest& list) {
    const wire::ListReply reply =
            is_disk() ? make_list_reply(disk_->list(list.prefix, list.start_after, list.limit))
                      : make_list_reply(store_.list(list.prefix, list.start_after, list.limit));
    Buffer encoded;
    wire::encode_reply(request, reply, encoded);
    send(id, std::move(encoded));
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
    };
    if (is_disk()) {
        const storage::DiskStoreStats disk = disk_stats();
        reply.objects = disk.objects;
        reply.object_bytes = disk.object_bytes;
        reply.segments = disk.segments;
        reply.log_bytes = disk.log_bytes;
        reply.live_bytes = disk.live_bytes;
        reply.corrupt_ranges = disk.corrupt_ranges;
        reply.corrupt_bytes = disk.corrupt_bytes;
        reply.corrupt_reads = disk.corrupt_reads;
        reply.damaged_objects = disk.damaged_objects;
        reply.torn_tails = disk.torn_tails;
        reply.writes = disk.writes;
        reply.syncs = disk.syncs;
        reply.cache_bytes = disk.cache_bytes;
        reply.cache_hits = disk.cache_hits;
        reply.cache_misses = disk.cache_misses;
        reply.writes_stopped = disk.writes_stopped;
    } else {
        const storage::StoreStats memory = store_stats();
        reply.objects = memory.objects;
        reply.object_bytes = memory.object_bytes;
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
        for (const GetStream& get : connection.gets) {
            reply_error(id,
                        get.id,
                        wire::Opcode::kGet,
                        Status::unavailable("the node shut down before the get finished"));
        }
        stats_.puts_abandoned += connection.puts.size();
        abandon_disk_puts(connection);
        connection.puts.clear();
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
        if (!connection.puts.empty() || !connection.gets.empty()) return;
    }
    // Disk requests hold pointers into the store: it must be quiet before the loop ends.
    if (disk_requests_ > 0 || !deferred_gets_.empty() || (is_disk() && !disk_->is_idle())) return;
    stopped_ = true;
    log_.info("shutdown_drained connections={}", connections_.size());
    runtime_.stop();
}

Version Node::next_version() {
    return Version{.hlc = clock_.next(runtime_.wall_clock_ms()), .node = options_.id};
}

}  // namespace shoal::node

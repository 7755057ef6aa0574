// The node's client requests on the cluster data path (docs/cluster.md): each put, get,
// delete, stat and list becomes a coordinator operation over PeerClient, and the layout the
// operations place by is rebuilt from the member list whenever it changes.
#include <algorithm>
#include <vector>

#include <spdlog/spdlog.h>

#include "shoal/base/time.h"
#include "shoal/coordinator/metadata_operations.h"
#include "shoal/node/node.h"

namespace shoal::node {
namespace {

placement::NodeKey node_key_of(membership::MemberId id) {
    return {.high = id.high, .low = id.low};
}

wire::ObjectInfo info_of(const object::Manifest& manifest) {
    return {.version = manifest.version,
            .object_bytes = manifest.object_bytes,
            .digest = manifest.object_digest};
}

}  // namespace

// Members that own partitions: every one not gone for good. A dead member keeps its
// partitions until it departs, so a brief outage moves nothing (DESIGN.md, "Durability").
void Node::rebuild_layout() {
    std::vector<placement::Node> view;
    for (const membership::Member& member : swim_.members()) {
        if (member.state == membership::MemberState::kLeft ||
            member.state == membership::MemberState::kDeparted) {
            continue;
        }
        view.push_back({.id = node_key_of(member.id()),
                        .zone = member.identity.zone,
                        .weight = member.identity.capacity_weight});
    }
    Result<placement::PartitionTable> table = placement::PartitionTable::build(
            view,
            {.partition_count = options_.cluster.partitions,
             .owner_count = options_.cluster.scheme.chunk_count()});
    if (!table.is_ok()) {
        log_.error("layout_refused reason=\"{}\"", table.status().message());
        return;
    }
    const uint64_t epoch = table.value().fingerprint();
    if (layout_ != nullptr && layout_->table().fingerprint() == epoch) return;
    layout_ = std::make_shared<const coordinator::Layout>(
            std::make_shared<const placement::PartitionTable>(std::move(table).value()),
            node_key_of(options_.identity.id),
            options_.cluster.scheme);
    log_.info("layout_changed epoch={:016x} nodes={}", epoch, view.size());
    on_layout_changed();
}

// Chunks this node holds whose owner has changed move to it (HandBack), and repair rebuilds
// what no node holds. The scan waits for the first one tick_hand_back starts.
void Node::on_layout_changed() {
    scrubber_->schedule();
    if (hand_back_scanned_) hand_back_->scan();
}

// The store's chunks are scanned for hand-backs once the node has merged another's whole
// view (a push-pull): a node restarted over its store learns of the others only as it
// rejoins, and gossip alone may tell it of some before others.
void Node::tick_hand_back() {
    if (!hand_back_scanned_ && view_is_whole()) {
        hand_back_scanned_ = true;
        hand_back_->scan();
    }
    hand_back_->on_tick();
}

// Repair and hand-back place by the layout only once it is the cluster's, not the partial
// one of a node that has just started.
bool Node::view_is_whole() const {
    return swim_.stats().push_pulls_merged > 0 && layout_ != nullptr &&
           layout_->table().nodes().size() > 1;
}

std::optional<HostPort> Node::address_of(const placement::NodeKey& node) const {
    const membership::Member* member =
            swim_.find(membership::MemberId{.high = node.high, .low = node.low});
    if (member == nullptr) return std::nullopt;
    return member->identity.address;
}

// Chunk i of a stripe belongs to the i-th owner of the stripe's partition; a wider code's
// chunks past the owners have no home but where they were put.
std::optional<placement::NodeKey> Node::chunk_owner(const object::ChunkId& chunk) const {
    if (layout_ == nullptr) return std::nullopt;
    const std::optional<placement::NodeKey> owner =
            layout_->chunk_owner(chunk.key_hash, chunk.stripe_index, chunk.chunk_index);
    if (owner == layout_->self()) return std::nullopt;
    return owner;
}

bool Node::is_alive(const placement::NodeKey& node) const {
    const membership::Member* member =
            swim_.find(membership::MemberId{.high = node.high, .low = node.low});
    return member != nullptr && member->state == membership::MemberState::kAlive;
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
    if (puts_active_ >= coordinator::puts_active_max(options_.cluster)) {
        wait_for_put_buffer(id, connection, request, put);
        return;
    }
    auto [position, inserted] = connection.puts.emplace(
            request, PendingPut{.assembly = coordinator::PutAssembly(put.key, put.object_bytes)});
    SHOAL_ASSERT(inserted);
    start_put(id, connection, position, put.redundancy, put.piece);
}

// The put buffer is full: the put waits, its first piece kept, and its client is not read
// until it starts (update_receiving), so what waits is one piece per connection. A client
// that has another put's pieces still to send cannot be paused without stalling that put,
// which holds part of the buffer: its new put is refused instead.
void Node::wait_for_put_buffer(runtime::ConnectionId id,
                               Connection& connection,
                               RequestId request,
                               const wire::PutRequest& put) {
    const bool interleaved = std::any_of(connection.puts.begin(),
                                         connection.puts.end(),
                                         [](const auto& other) { return !other.second.complete; });
    if (interleaved) {
        stats_.puts_refused_busy += 1;
        reply_error(id,
                    request,
                    wire::Opcode::kPut,
                    Status::resource_exhausted(fmt::format(
                            "put {}: the node's put buffer is full and this connection is still "
                            "sending another put; send one put's pieces at a time, or retry",
                            put.key)));
        abort_put(connection, request, !put.piece.last);
        return;
    }
    stats_.puts_waited += 1;
    connection.puts.emplace(
            request,
            PendingPut{.assembly = coordinator::PutAssembly(put.key, put.object_bytes),
                       .waiting = WaitingPut{.redundancy = put.redundancy,
                                             .data = Buffer(put.piece.data),
                                             .last = put.piece.last,
                                             .digest = put.piece.digest,
                                             .since = runtime_.now()}});
    puts_waiting_.emplace_back(id, request);
    update_receiving(id, connection);
}

// A put's stripes count against the node's put buffer from here until erase_put.
void Node::start_put(runtime::ConnectionId id,
                     Connection& connection,
                     PutMap::iterator put,
                     wire::PutRedundancy redundancy,
                     const wire::PutPiece& first) {
    const RequestId request = put->first;
    const std::string& key = put->second.assembly.key();
    const uint64_t declared = put->second.assembly.declared_bytes();
    // The put's own code if it asks for one (shoal put --ec / --replicas); PutOperation::start
    // refuses one the object format cannot hold.
    const object::Scheme scheme =
            redundancy.is_default()
                    ? options_.cluster.scheme
                    : object::Scheme{.k = redundancy.data_chunks, .m = redundancy.parity_chunks};
    coordinator::PutOperation::Parameters parameters{
            .key = key,
            .declared_bytes = declared == wire::kObjectBytesUnknown
                                      ? std::nullopt
                                      : std::optional<uint64_t>(declared),
            .scheme = scheme,
            .stripe_bytes = coordinator::stripe_bytes_for(scheme, options_.cluster.stripe_bytes),
            .inline_bytes_max = options_.cluster.inline_bytes_max,
            .version = next_version(),
            .created_ms = runtime_.wall_clock_ms(),
            .version_after = [this](Version newest) { return version_after(newest); },
    };
    auto started = coordinator::PutOperation::start(
            *peer_client_,
            layout_,
            std::move(parameters),
            operation_stats_,
            [this, id, request](Result<object::Manifest> written) {
                put_done(id, request, std::move(written));
            },
            [this, id] { resume_connection(id); });
    if (!started.is_ok()) {
        reply_error(id, request, wire::Opcode::kPut, started.status());
        erase_put(connection, put);
        abort_put(connection, request, !first.last);
        update_receiving(id, connection);
        if (shutting_down_) finish_shutdown_if_drained();
        return;
    }
    put->second.operation = started.value();
    put->second.idle_since = runtime_.now();
    puts_active_ += 1;
    stats_.puts_active_peak = std::max<uint64_t>(stats_.puts_active_peak, puts_active_);
    apply_piece(id, connection, put, first);
}

// Run at the turn's end, not where a put finishes, so that no put starts inside another's
// callbacks. Waiting puts whose client has gone meanwhile are passed over.
void Node::start_waiting_puts() {
    while (!puts_waiting_.empty() &&
           puts_active_ < coordinator::puts_active_max(options_.cluster)) {
        const auto [id, request] = puts_waiting_.front();
        puts_waiting_.pop_front();
        auto connection = connections_.find(id);
        if (connection == connections_.end()) continue;
        auto put = connection->second.puts.find(request);
        if (put == connection->second.puts.end() || !put->second.waiting.has_value()) continue;
        WaitingPut waiting = std::move(*put->second.waiting);
        put->second.waiting.reset();
        start_put(id,
                  connection->second,
                  put,
                  waiting.redundancy,
                  wire::PutPiece{.last = waiting.last,
                                 .digest = waiting.digest,
                                 .data = waiting.data.view()});
    }
}

// The idle clock runs while the put waits on its client: for a piece the node would read, or
// for the client to read its replies. A put held back by stripes in flight or by the disk is
// not stalled.
void Node::tick_puts(Instant now) {
    const Duration idle_max = kTickDuration * options_.put_idle_timeout_ticks;
    const Duration wait_max = kTickDuration * options_.put_wait_timeout_ticks;
    for (auto& [id, connection] : connections_) {
        std::vector<std::pair<RequestId, Status>> ended;
        for (auto& [request, put] : connection.puts) {
            if (put.waiting.has_value()) {
                if (now - put.waiting->since < wait_max) continue;
                ended.emplace_back(
                        request,
                        Status::resource_exhausted(fmt::format(
                                "put {}: waited {} ms for room in the node's put buffer ({} puts "
                                "running); retry later or through another node",
                                put.assembly.key(),
                                milliseconds_of(now - put.waiting->since),
                                puts_active_)));
                continue;
            }
            const bool ready = !put.complete && put.operation != nullptr &&
                               put.operation->wants_data() && !connection.paused_for_disk &&
                               puts_want_data(connection);
            if (!ready) {
                put.idle_since = now;
            } else if (now - put.idle_since >= idle_max) {
                ended.emplace_back(request,
                                   Status::timeout(fmt::format(
                                           "put {}: no data from the client for {} ms; the put "
                                           "is abandoned and nothing of it is stored",
                                           put.assembly.key(),
                                           milliseconds_of(now - put.idle_since))));
            }
        }
        for (const auto& [request, why] : ended) {
            end_put(id, connection, connection.puts.find(request), why);
        }
    }
}

void Node::end_put(runtime::ConnectionId id,
                   Connection& connection,
                   PutMap::iterator put,
                   const Status& why) {
    const RequestId request = put->first;
    const bool more_pieces_expected =
            put->second.waiting.has_value() ? !put->second.waiting->last : !put->second.complete;
    log_.warn("put_ended connection={} peer={} request={} reason=\"{}\"",
              to_u64(id),
              connection.peer_address,
              to_u64(request),
              why.message());
    stats_.puts_timed_out += 1;
    stats_.puts_abandoned += 1;
    if (put->second.operation != nullptr) put->second.operation->cancel();
    std::erase_if(puts_waiting_, [id, request](const auto& waiting) {
        return waiting.first == id && waiting.second == request;
    });
    reply_error(id, request, wire::Opcode::kPut, why);
    erase_put(connection, put);
    abort_put(connection, request, more_pieces_expected);
    update_receiving(id, connection);
    if (shutting_down_) finish_shutdown_if_drained();
}

void Node::erase_put(Connection& connection, PutMap::iterator put) {
    if (put->second.operation != nullptr) {
        SHOAL_ASSERT(puts_active_ > 0);
        puts_active_ -= 1;
    }
    connection.puts.erase(put);
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

// For a connection that is going away: its waiting puts leave the queue too, so that clients
// that come and go while the buffer is full cannot grow it.
void Node::cancel_puts(runtime::ConnectionId id, Connection& connection) {
    std::erase_if(puts_waiting_, [id](const auto& waiting) { return waiting.first == id; });
    while (!connection.puts.empty()) {
        const auto put = connection.puts.begin();
        if (put->second.operation != nullptr) put->second.operation->cancel();
        erase_put(connection, put);
    }
}

void Node::apply_piece(runtime::ConnectionId id,
                       Connection& connection,
                       PutMap::iterator put,
                       const wire::PutPiece& piece) {
    const RequestId request = put->first;
    PendingPut& pending = put->second;
    Status status = pending.assembly.on_piece(piece);
    if (status.is_ok()) status = pending.operation->on_data(piece.data);
    if (!status.is_ok()) {
        pending.operation->cancel();
        SPDLOG_LOGGER_DEBUG(&log_,
                            "put_failed connection={} request={} reason=\"{}\"",
                            to_u64(id),
                            to_u64(request),
                            status.message());
        reply_error(id, request, wire::Opcode::kPut, status);
        erase_put(connection, put);
        abort_put(connection, request, !piece.last);
        if (shutting_down_) finish_shutdown_if_drained();
        return;
    }
    stats_.bytes_received += piece.data.size();
    // The client is sending: none of its puts is stalled, whichever this piece is for.
    for (auto& entry : connection.puts) {
        entry.second.idle_since = runtime_.now();
    }
    // This node's own chunks go to its disk: a client that outruns it waits, as peers do.
    if (is_disk()) pause_if_backlogged(id, connection);
    if (pending.assembly.is_complete()) {
        pending.complete = true;
        pending.operation->on_end(pending.assembly.digest());
    }
    update_receiving(id, connection);
}

void Node::put_done(runtime::ConnectionId id, RequestId request, Result<object::Manifest> written) {
    auto found = connections_.find(id);
    if (found == connections_.end()) return;
    Connection& connection = found->second;
    auto put = connection.puts.find(request);
    if (put == connection.puts.end()) return;
    const bool more_pieces_expected = !put->second.complete;
    erase_put(connection, put);
    if (!written.is_ok()) {
        reply_error(id, request, wire::Opcode::kPut, written.status());
        abort_put(connection, request, more_pieces_expected);
    } else {
        Buffer reply;
        wire::encode_reply(request, wire::PutReply{.info = info_of(written.value())}, reply);
        send(id, std::move(reply));
    }
    update_receiving(id, connection);
    if (shutting_down_) finish_shutdown_if_drained();
}

// A put whose operation has stripes enough in flight, or waits for its version, stops reading
// its client until that changes.
void Node::resume_connection(runtime::ConnectionId id) {
    auto found = connections_.find(id);
    if (found != connections_.end()) update_receiving(id, found->second);
}

// A complete small put waiting for its version does not pause its client: what it holds is
// bounded, and pausing and resuming cost two epoll_ctl calls a put.
bool Node::puts_want_data(const Connection& connection) {
    return std::all_of(connection.puts.begin(), connection.puts.end(), [](const auto& put) {
        if (put.second.operation == nullptr) return false;  // Waiting for the put buffer.
        const coordinator::PutOperation& operation = *put.second.operation;
        return put.second.complete ? !operation.stripes_wait_for_version() : operation.wants_data();
    });
}

void Node::on_get(runtime::ConnectionId id,
                  Connection& connection,
                  RequestId request,
                  std::string_view key) {
    if (connection.gets.contains(request)) {
        reject_frame(id, Status::invalid_argument("get: request id already in use"));
        return;
    }
    if (refuse_if_busy(id, connection, request, wire::Opcode::kGet)) return;
    auto stream = std::make_unique<GetStream>(*this, id, request);
    stream->key = std::string(key);
    GetStream& sink = *stream;
    connection.gets.emplace(request, std::move(stream));
    if (gets_active_ < gets_active_max(options_.cluster)) {
        start_get(sink);
    } else {
        stats_.gets_waited += 1;
        gets_waiting_.emplace_back(id, request);
    }
}

// A get's stripes count against the node's get buffer from here until get_done.
void Node::start_get(GetStream& stream) {
    gets_active_ += 1;
    stream.operation = std::make_shared<coordinator::GetOperation>(
            *peer_client_, layout_, stream.key, operation_stats_, stream);
    stream.operation->start();
}

// Waiting gets whose client has gone meanwhile are passed over.
void Node::start_waiting_gets() {
    while (!gets_waiting_.empty() && gets_active_ < gets_active_max(options_.cluster)) {
        const auto [id, request] = gets_waiting_.front();
        gets_waiting_.pop_front();
        auto connection = connections_.find(id);
        if (connection == connections_.end()) continue;
        auto get = connection->second.gets.find(request);
        if (get == connection->second.gets.end() || get->second->operation != nullptr) continue;
        start_get(*get->second);
    }
}

void Node::on_delete(runtime::ConnectionId id,
                     Connection& connection,
                     RequestId request,
                     std::string_view key) {
    if (refuse_if_busy(id, connection, request, wire::Opcode::kDelete)) return;
    connection.metadata_requests += 1;
    coordinator::delete_object(
            *peer_client_,
            layout_,
            std::string(key),
            [this](Version newest) { return version_after(newest); },
            operation_stats_,
            [this, id, request](Result<Version> tombstone) {
                if (!metadata_done(id)) return;
                if (!tombstone.is_ok()) {
                    reply_error(id, request, wire::Opcode::kDelete, tombstone.status());
                    return;
                }
                Buffer reply;
                wire::encode_reply(request, wire::DeleteReply{.version = tombstone.value()}, reply);
                send(id, std::move(reply));
            });
}

void Node::on_stat(runtime::ConnectionId id,
                   Connection& connection,
                   RequestId request,
                   std::string_view key) {
    if (refuse_if_busy(id, connection, request, wire::Opcode::kStat)) return;
    connection.metadata_requests += 1;
    coordinator::stat_object(
            *peer_client_,
            layout_,
            std::string(key),
            operation_stats_,
            [this, id, request](Result<object::Manifest> manifest) {
                if (!metadata_done(id)) return;
                if (!manifest.is_ok()) {
                    reply_error(id, request, wire::Opcode::kStat, manifest.status());
                    return;
                }
                Buffer reply;
                wire::encode_reply(
                        request, wire::StatReply{.info = info_of(manifest.value())}, reply);
                send(id, std::move(reply));
            });
}

void Node::on_list(runtime::ConnectionId id,
                   Connection& connection,
                   RequestId request,
                   const wire::ListRequest& list) {
    if (refuse_if_busy(id, connection, request, wire::Opcode::kList)) return;
    connection.metadata_requests += 1;
    coordinator::list_objects(
            *peer_client_,
            layout_,
            {.prefix = std::string(list.prefix),
             .start_after = std::string(list.start_after),
             .limit = list.limit},
            operation_stats_,
            [this, id, request](Result<coordinator::ListPage> page) {
                if (!metadata_done(id)) return;
                if (!page.is_ok()) {
                    reply_error(id, request, wire::Opcode::kList, page.status());
                    return;
                }
                wire::ListReply reply;
                reply.truncated = page.value().truncated;
                size_t reply_bytes = 0;
                for (const coordinator::ManifestSummary& entry : page.value().entries) {
                    reply_bytes += wire::list_entry_bytes(entry.key);
                    if (reply_bytes > limits::kListReplyBytesMax) {
                        reply.truncated = true;  // The client asks again from the last key.
                        break;
                    }
                    reply.entries.push_back(
                            wire::ListEntry{.key = entry.key,
                                            .info = {.version = entry.version,
                                                     .object_bytes = entry.object_bytes,
                                                     .digest = entry.object_digest}});
                }
                Buffer encoded;
                wire::encode_reply(request, reply, encoded);
                send(id, std::move(encoded));
            });
}

// A delete, stat or list has its answer. False if its connection is gone meanwhile.
bool Node::metadata_done(runtime::ConnectionId id) {
    auto found = connections_.find(id);
    if (found == connections_.end()) return false;
    SHOAL_ASSERT(found->second.metadata_requests > 0);
    found->second.metadata_requests -= 1;
    if (shutting_down_) finish_shutdown_if_drained();
    return true;
}

// --- GetStream: one get's bytes on their way to the client -----------------------------------

Node::GetStream::GetStream(Node& node, runtime::ConnectionId connection, RequestId request)
    : node_(node), connection_(connection), request_(request) {}

void Node::GetStream::on_manifest(const object::Manifest& manifest) {
    info_ = info_of(manifest);
    // An empty object has no bytes to wait for.
    if (manifest.object_bytes == 0) send_reply_head(ByteView{}, nullptr);
}

// The reply goes out with the first verified bytes, so a get that fails before any has a
// plain error reply; later failures end the stream with an error frame.
void Node::GetStream::send_reply_head(ByteView bytes, const std::shared_ptr<const void>& owner) {
    const ByteView first = bytes.first(std::min<size_t>(bytes.size(), limits::kDataFrameBytesMax));
    runtime::OutFrame frame;
    wire::encode_get_reply_prefix(
            request_, wire::GetReply{.info = info_, .data = first}, frame.head);
    frame.payload = first;
    frame.payload_owner = owner;
    node_.stats_.bytes_sent += first.size();
    node_.runtime_.network().send(connection_, std::move(frame));
    replied_ = true;
    send_data(bytes.subspan(first.size()), owner);
}

void Node::GetStream::send_data(ByteView bytes, const std::shared_ptr<const void>& owner) {
    while (!bytes.empty()) {
        const ByteView piece =
                bytes.first(std::min<size_t>(bytes.size(), limits::kDataFrameBytesMax));
        runtime::OutFrame frame;
        wire::encode_get_data_header(request_, static_cast<uint32_t>(piece.size()), frame.head);
        frame.payload = piece;
        frame.payload_owner = owner;
        node_.stats_.bytes_sent += piece.size();
        node_.runtime_.network().send(connection_, std::move(frame));
        bytes = bytes.subspan(piece.size());
    }
}

void Node::GetStream::on_bytes(ByteView bytes, std::shared_ptr<const void> owner) {
    if (!replied_) {
        send_reply_head(bytes, owner);
    } else {
        send_data(bytes, owner);
    }
}

void Node::GetStream::on_end() {
    if (!replied_) send_reply_head(ByteView{}, nullptr);
    node_.get_done(connection_, request_);
}

void Node::GetStream::on_failure(Status status) {
    node_.reply_error(connection_, request_, wire::Opcode::kGet, status);
    node_.get_done(connection_, request_);
}

bool Node::GetStream::wants_bytes() const {
    return node_.runtime_.network().send_queue_bytes(connection_) <
           limits::kConnectionSendQueueBytesMax;
}

// The connection's gets end without a word to the client; waiting ones are passed over.
void Node::cancel_gets(Connection& connection) {
    for (auto& [request, stream] : connection.gets) {
        if (stream->operation == nullptr) continue;
        stream->operation->cancel();
        stream->operation = nullptr;
        SHOAL_ASSERT(gets_active_ > 0);
        gets_active_ -= 1;
    }
}

// The stream is destroyed here: the operation has finished and calls the sink no more.
void Node::get_done(runtime::ConnectionId id, RequestId request) {
    SHOAL_ASSERT(gets_active_ > 0);
    gets_active_ -= 1;
    start_waiting_gets();
    auto found = connections_.find(id);
    if (found == connections_.end()) return;
    found->second.gets.erase(request);
    check_send_queue(id, found->second);
    if (shutting_down_) finish_shutdown_if_drained();
}

void Node::on_send_ready(runtime::ConnectionId id) {
    if (peer_client_->owns(id)) {
        peer_client_->on_send_ready(id);
        return;
    }
    auto found = connections_.find(id);
    if (found == connections_.end()) return;
    // Resuming may finish a get, which erases it: walk a copy of the operations.
    std::vector<std::shared_ptr<coordinator::GetOperation>> operations;
    for (const auto& [request, stream] : found->second.gets) {
        if (stream->operation != nullptr) operations.push_back(stream->operation);
    }
    for (const auto& operation : operations) {
        operation->resume();
    }
    auto still = connections_.find(id);
    if (still != connections_.end()) check_send_queue(id, still->second);
}

}  // namespace shoal::node

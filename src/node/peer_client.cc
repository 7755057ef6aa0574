#include "shoal/node/peer_client.h"

#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "shoal/base/limits.h"
#include "shoal/object/manifest.h"
#include "shoal/wire/messages.h"

namespace shoal::node {
namespace {

std::string describe(const placement::NodeKey& node) {
    return fmt::format("{:016x}{:016x}", node.high, node.low);
}

bool same_address(const HostPort& left, const HostPort& right) {
    return left.host == right.host && left.port == right.port;
}

// A manifest as a peer (or this node) sent it: a copy that does not decode, or that is another
// key's, is a bad copy (kCorruption), which the coordinator treats as a missing answer.
Result<std::optional<object::Manifest>> manifest_from(std::string_view key, ByteView bytes) {
    Result<object::Manifest> decoded = object::decode_manifest(bytes);
    if (!decoded.is_ok()) return decoded.status();
    if (decoded.value().key != key) {
        return Status::corruption(
                fmt::format("manifest get {}: the answer is the manifest of another key", key));
    }
    return std::optional<object::Manifest>(std::move(decoded).value());
}

coordinator::ManifestPage page_from(wire::ManifestListReply reply) {
    coordinator::ManifestPage page;
    page.truncated = reply.truncated;
    page.scanned_through = std::move(reply.scanned_through);
    page.entries.reserve(reply.entries.size());
    for (wire::ManifestListEntry& entry : reply.entries) {
        page.entries.push_back(coordinator::ManifestSummary{.key = std::move(entry.key),
                                                            .version = entry.version,
                                                            .object_bytes = entry.object_bytes,
                                                            .object_digest = entry.digest,
                                                            .tombstone = entry.tombstone});
    }
    return page;
}

// A list answer must be what was asked for: the coordinator merges pages of many nodes by key,
// and an entry out of range or order would corrupt the merge.
Status check_page(const wire::ManifestListReply& reply,
                  std::string_view prefix,
                  std::string_view start_after,
                  uint32_t limit) {
    if (reply.entries.size() > limit) {
        return Status::invalid_argument(fmt::format(
                "manifest list: {} entries for a limit of {}", reply.entries.size(), limit));
    }
    std::string_view previous = start_after;
    for (const wire::ManifestListEntry& entry : reply.entries) {
        const std::string_view key = entry.key;
        if (!key.starts_with(prefix)) {
            return Status::invalid_argument("manifest list: a key outside the prefix");
        }
        if (key <= previous) {
            return Status::invalid_argument("manifest list: keys out of order");
        }
        previous = key;
    }
    const std::string_view scanned = reply.scanned_through;
    if (!scanned.empty() && (!scanned.starts_with(prefix) || scanned <= start_after)) {
        return Status::invalid_argument("manifest list: scanned through a key outside the ask");
    }
    return Status::ok();
}

Status check_list_ask(std::string_view prefix, std::string_view start_after, uint32_t limit) {
    if (prefix.size() > limits::kPrefixBytesMax || start_after.size() > limits::kKeyBytesMax ||
        limit == 0 || limit > limits::kListEntriesMax) {
        return Status::invalid_argument(
                fmt::format("manifest list: prefix of {} bytes, start of {}, limit {}",
                            prefix.size(),
                            start_after.size(),
                            limit));
    }
    return Status::ok();
}

}  // namespace

PeerClient::PeerClient(const Options& options,
                       runtime::Runtime& runtime,
                       spdlog::logger& log,
                       PeerService& service,
                       Resolver resolver)
    : options_(options),
      runtime_(runtime),
      log_(log),
      service_(service),
      resolver_(std::move(resolver)) {
    SHOAL_ASSERT(options_.timeout_ticks > 0);
    SHOAL_ASSERT(options_.calls_per_peer_max > 0);
    SHOAL_ASSERT(resolver_ != nullptr);
}

void PeerClient::put_chunk(const NodeKey& to, const coordinator::OutgoingChunk& chunk, Done done) {
    SHOAL_ASSERT(done != nullptr);
    SHOAL_ASSERT(chunk.header != nullptr);
    SHOAL_ASSERT(chunk.data.empty() || chunk.owner != nullptr);
    stats_.calls += 1;
    if (to == options_.self) {
        stats_.calls_to_self += 1;
        service_.put_chunk(chunk.header->view(), chunk.data, std::move(done));
        return;
    }
    const size_t record_bytes = chunk.header->size() + chunk.data.size();
    if (record_bytes == 0 || record_bytes > wire::kChunkRecordBytesMax) {
        fail_later(std::move(done),
                   Status::invalid_argument(
                           fmt::format("chunk put: a record of {} bytes", record_bytes)));
        return;
    }
    start_call(to,
               Call{.peer = to, .opcode = wire::Opcode::kChunkPut, .done = std::move(done)},
               [&chunk, record_bytes](RequestId id) {
                   runtime::OutFrame frame;
                   wire::encode_chunk_put_prefix(id, record_bytes, frame.head);
                   frame.head.append(chunk.header->view());
                   frame.payload = chunk.data;
                   frame.payload_owner = chunk.owner;
                   return frame;
               });
}

void PeerClient::get_chunk(const NodeKey& to, const object::ChunkId& chunk, ChunkDone done) {
    SHOAL_ASSERT(done != nullptr);
    stats_.calls += 1;
    if (to == options_.self) {
        stats_.calls_to_self += 1;
        service_.get_chunk(chunk, [done = std::move(done)](Result<storage::LocalRecord> record) {
            if (!record.is_ok()) {
                done(record.status());
                return;
            }
            done(record.value().join());
        });
        return;
    }
    start_call(to,
               Call{.peer = to, .opcode = wire::Opcode::kChunkGet, .done = std::move(done)},
               [&chunk](RequestId id) {
                   runtime::OutFrame frame;
                   wire::encode_request(
                           id, wire::ChunkGetRequest{.chunk = to_wire_chunk_id(chunk)}, frame.head);
                   return frame;
               });
}

void PeerClient::delete_chunk(const NodeKey& to, const object::ChunkId& chunk, Done done) {
    SHOAL_ASSERT(done != nullptr);
    stats_.calls += 1;
    if (to == options_.self) {
        stats_.calls_to_self += 1;
        service_.delete_chunk(chunk, std::move(done));
        return;
    }
    start_call(to,
               Call{.peer = to, .opcode = wire::Opcode::kChunkDelete, .done = std::move(done)},
               [&chunk](RequestId id) {
                   runtime::OutFrame frame;
                   wire::encode_request(id,
                                        wire::ChunkDeleteRequest{.chunk = to_wire_chunk_id(chunk)},
                                        frame.head);
                   return frame;
               });
}

void PeerClient::put_manifest(const NodeKey& to,
                              std::shared_ptr<const Buffer> manifest,
                              Done done) {
    SHOAL_ASSERT(done != nullptr);
    SHOAL_ASSERT(manifest != nullptr);
    stats_.calls += 1;
    if (to == options_.self) {
        stats_.calls_to_self += 1;
        // Stored or superseded alike: the node holds this version or a newer one.
        service_.put_own_manifest(
                manifest->view(),
                [done = std::move(done)](const Result<wire::ManifestPutReply>& reply) {
                    done(reply.status());
                });
        return;
    }
    if (manifest->empty() || manifest->size() > wire::kManifestBytesMax) {
        fail_later(std::move(done),
                   Status::invalid_argument(
                           fmt::format("manifest put: a manifest of {} bytes", manifest->size())));
        return;
    }
    start_call(to,
               Call{.peer = to, .opcode = wire::Opcode::kManifestPut, .done = std::move(done)},
               [&manifest](RequestId id) {
                   runtime::OutFrame frame;
                   wire::encode_manifest_put_prefix(id, manifest->size(), frame.head);
                   frame.payload = manifest->view();
                   frame.payload_owner = manifest;
                   return frame;
               });
}

void PeerClient::get_manifest(const NodeKey& to, const std::string& key, ManifestDone done) {
    SHOAL_ASSERT(done != nullptr);
    stats_.calls += 1;
    if (to == options_.self) {
        stats_.calls_to_self += 1;
        service_.read_manifest(
                key,
                [key, done = std::move(done)](Result<std::optional<storage::LocalRecord>> record) {
                    if (!record.is_ok()) {
                        done(record.status());
                    } else if (!record.value().has_value()) {
                        done(std::optional<object::Manifest>());
                    } else if (record.value()->pieces.size() == 1) {
                        done(manifest_from(key, record.value()->pieces.front().data));
                    } else {
                        done(manifest_from(key, record.value()->join().view()));
                    }
                });
        return;
    }
    if (Status valid = wire::validate_key(key); !valid.is_ok()) {
        fail_later(std::move(done), valid);
        return;
    }
    start_call(to,
               Call{.peer = to,
                    .opcode = wire::Opcode::kManifestGet,
                    .done = std::move(done),
                    .key = key},
               [&key](RequestId id) {
                   runtime::OutFrame frame;
                   wire::encode_request(id, wire::ManifestGetRequest{.key = key}, frame.head);
                   return frame;
               });
}

void PeerClient::list_manifests(const NodeKey& to,
                                const std::string& prefix,
                                const std::string& start_after,
                                uint32_t limit,
                                ListDone done) {
    SHOAL_ASSERT(done != nullptr);
    stats_.calls += 1;
    if (to == options_.self) {
        stats_.calls_to_self += 1;
        service_.list_manifests(prefix,
                                start_after,
                                limit,
                                [done = std::move(done)](Result<wire::ManifestListReply> reply) {
                                    if (!reply.is_ok()) {
                                        done(reply.status());
                                        return;
                                    }
                                    done(page_from(std::move(reply).value()));
                                });
        return;
    }
    if (Status valid = check_list_ask(prefix, start_after, limit); !valid.is_ok()) {
        fail_later(std::move(done), valid);
        return;
    }
    const wire::ManifestListRequest request{
            .prefix = prefix, .start_after = start_after, .limit = limit};
    start_call(to,
               Call{.peer = to,
                    .opcode = wire::Opcode::kManifestList,
                    .done = std::move(done),
                    .list = {.prefix = prefix, .start_after = start_after, .limit = limit}},
               [&request](RequestId id) {
                   runtime::OutFrame frame;
                   wire::encode_request(id, request, frame.head);
                   return frame;
               });
}

void PeerClient::start_call(const NodeKey& to,
                            Call call,
                            const std::function<runtime::OutFrame(RequestId id)>& frame) {
    SHOAL_ASSERT(!(to == options_.self));
    const std::optional<HostPort> address = resolver_(to);
    if (!address.has_value()) {
        stats_.calls_unresolved += 1;
        fail_later(std::move(call.done),
                   Status::unavailable(fmt::format("peer {}: no known address", describe(to))));
        return;
    }
    Link& link = link_for(to, *address);
    if (Status room = check_room(link); !room.is_ok()) {
        stats_.calls_refused_busy += 1;
        fail_later(std::move(call.done), room);
        return;
    }
    const uint64_t id = request_next_;
    request_next_ += 1;
    call.deadline = runtime_.now() + kTickDuration * options_.timeout_ticks;
    call.frames_heard = link.frames_heard;
    SHOAL_ASSERT(calls_.empty() || calls_.rbegin()->second.deadline <= call.deadline);
    runtime_.network().send(link.connection, frame(RequestId{id}));
    link.calls.insert(id);
    calls_.emplace(id, std::move(call));
}

// Frames may be sent on a connection at once: they leave once it is established, so a link
// has no "connecting" state for calls to wait in.
PeerClient::Link& PeerClient::link_for(const NodeKey& to, const HostPort& address) {
    auto found = links_.find(to);
    if (found != links_.end() && !same_address(found->second.address, address)) {
        // The node is at a new address (it restarted elsewhere): the old one is not it any more.
        stats_.calls_failed_closed += drop_link(
                to,
                Status::unavailable(fmt::format(
                        "peer {}: moved from {}", describe(to), found->second.address.to_string())),
                /*close=*/true);
        found = links_.end();
    }
    if (found != links_.end()) return found->second;
    const runtime::ConnectionId connection = runtime_.network().connect(address);
    stats_.connections_opened += 1;
    SPDLOG_LOGGER_DEBUG(&log_,
                        "peer_connecting peer={} address={} connection={}",
                        describe(to),
                        address.to_string(),
                        to_u64(connection));
    const bool inserted = connections_.emplace(connection, to).second;
    SHOAL_ASSERT(inserted);
    return links_.emplace(to, Link{.address = address, .connection = connection}).first->second;
}

Status PeerClient::check_room(const Link& link) const {
    if (link.calls.size() >= options_.calls_per_peer_max) {
        return Status::resource_exhausted(fmt::format(
                "peer at {}: {} calls in flight", link.address.to_string(), link.calls.size()));
    }
    const size_t queued_bytes = runtime_.network().send_queue_bytes(link.connection);
    if (queued_bytes >= options_.send_queue_bytes_max) {
        return Status::resource_exhausted(fmt::format(
                "peer at {}: {} bytes queued to send", link.address.to_string(), queued_bytes));
    }
    return Status::ok();
}

size_t PeerClient::drop_link(const NodeKey& peer, const Status& status, bool close) {
    SHOAL_ASSERT(!status.is_ok());
    auto found = links_.find(peer);
    if (found == links_.end()) return 0;
    Link link = std::move(found->second);
    links_.erase(found);
    if (close) {
        auto connection = connections_.find(link.connection);
        SHOAL_ASSERT(connection != connections_.end());
        connection->second = std::nullopt;  // Until its on_closed(), which finds no link.
        runtime_.network().close(link.connection);
    }
    for (const uint64_t id : link.calls) {
        auto call = calls_.find(id);
        SHOAL_ASSERT(call != calls_.end());
        fail_later(std::move(call->second.done), status);
        calls_.erase(call);
    }
    return link.calls.size();
}

bool PeerClient::owns(runtime::ConnectionId connection) const {
    return connections_.contains(connection);
}

void PeerClient::on_connected(runtime::ConnectionId connection) {
    auto found = connections_.find(connection);
    SHOAL_ASSERT(found != connections_.end());
    if (!found->second.has_value()) return;  // Dropped while it connected.
    links_.at(*found->second).connected = true;
    SPDLOG_LOGGER_TRACE(&log_, "peer_connected connection={}", to_u64(connection));
}

void PeerClient::on_send_ready(runtime::ConnectionId /*connection*/) {}

void PeerClient::on_closed(runtime::ConnectionId connection, const Status& reason) {
    auto found = connections_.find(connection);
    SHOAL_ASSERT(found != connections_.end());
    const std::optional<NodeKey> peer = found->second;
    connections_.erase(found);
    if (!peer.has_value()) return;  // Dropped: its calls have their answers already.
    const Link& link = links_.at(*peer);
    SHOAL_ASSERT(link.connection == connection);
    const std::string what = fmt::format("peer {} at {}: {}: {}",
                                         describe(*peer),
                                         link.address.to_string(),
                                         link.connected ? "connection lost" : "cannot connect",
                                         reason.is_ok() ? "closed" : reason.to_string());
    if (!link.calls.empty()) {
        stats_.connections_lost += 1;
        log_.info("peer_connection_lost peer={} address={} calls={} reason=\"{}\"",
                  describe(*peer),
                  link.address.to_string(),
                  link.calls.size(),
                  reason.to_string());
    }
    stats_.calls_failed_closed += drop_link(*peer, Status::unavailable(what), /*close=*/false);
}

void PeerClient::on_frame(runtime::ConnectionId connection, ByteView frame) {
    auto found = connections_.find(connection);
    SHOAL_ASSERT(found != connections_.end());
    if (!found->second.has_value()) return;  // Dropped: its calls have their answers already.
    const NodeKey peer = *found->second;
    Link& link = links_.at(peer);
    link.frames_heard += 1;
    if (frame.size() < wire::kFrameHeaderBytes) {
        reject_reply(peer, Status::invalid_argument("a frame shorter than its header"));
        return;
    }
    Result<wire::FrameHeader> header = wire::decode_frame_header(frame, limits::kFrameBodyBytesMax);
    if (!header.is_ok()) {
        reject_reply(peer, header.status());
        return;
    }
    const wire::FrameKind kind = header.value().kind;
    if (kind != wire::FrameKind::kResponse && kind != wire::FrameKind::kError) {
        reject_reply(peer,
                     Status::invalid_argument(fmt::format("a frame of kind {} on a peer link",
                                                          static_cast<int>(kind))));
        return;
    }
    auto call = calls_.find(to_u64(header.value().request_id));
    if (call == calls_.end() || !(call->second.peer == peer)) {
        // The call timed out or failed, and has had its answer.
        stats_.replies_late += 1;
        return;
    }
    Call answered = std::move(call->second);
    calls_.erase(call);
    link.calls.erase(to_u64(header.value().request_id));
    // The completion may call back into this client: nothing here is used after it.
    Status delivered = deliver(answered, header.value(), frame.subspan(wire::kFrameHeaderBytes));
    if (!delivered.is_ok()) {
        fail_later(std::move(answered.done), Status::unavailable("peer: malformed reply"));
        stats_.calls_failed_closed += 1;
        reject_reply(peer, delivered);
    }
}

void PeerClient::reject_reply(const NodeKey& peer, const Status& reason) {
    stats_.replies_malformed += 1;
    const Link& link = links_.at(peer);
    log_.warn("peer_reply_rejected peer={} address={} reason=\"{}\"",
              describe(peer),
              link.address.to_string(),
              reason.message());
    stats_.calls_failed_closed +=
            drop_link(peer,
                      Status::unavailable(fmt::format("peer {} at {}: malformed reply: {}",
                                                      describe(peer),
                                                      link.address.to_string(),
                                                      reason.message())),
                      /*close=*/true);
}

// Completes `call` from its reply, or returns why the reply is malformed without completing it.
Status PeerClient::deliver(Call& call, const wire::FrameHeader& header, ByteView body) {
    if (header.opcode != call.opcode) {
        return Status::invalid_argument(
                fmt::format("a reply of opcode {} to a request of opcode {}",
                            static_cast<int>(header.opcode),
                            static_cast<int>(call.opcode)));
    }
    if (header.kind == wire::FrameKind::kError) {
        SHOAL_TRY_ASSIGN(const wire::ErrorReply error, wire::decode_error(body));
        fail(call.done, Status::from_code(error.code, error.message));
        return Status::ok();
    }
    switch (call.opcode) {
        case wire::Opcode::kChunkPut:
            SHOAL_TRY(wire::decode_chunk_put_reply(body).status());
            std::get<Done>(call.done)(Status::ok());
            return Status::ok();
        case wire::Opcode::kChunkDelete:
            SHOAL_TRY(wire::decode_chunk_delete_reply(body).status());
            std::get<Done>(call.done)(Status::ok());
            return Status::ok();
        case wire::Opcode::kManifestPut:
            // Stored or superseded alike: the peer holds this version or a newer one.
            SHOAL_TRY(wire::decode_manifest_put_reply(body).status());
            std::get<Done>(call.done)(Status::ok());
            return Status::ok();
        case wire::Opcode::kChunkGet: {
            SHOAL_TRY_ASSIGN(const wire::ChunkGetReply reply, wire::decode_chunk_get_reply(body));
            std::get<ChunkDone>(call.done)(Buffer(reply.record));  // The frame is gone after this.
            return Status::ok();
        }
        case wire::Opcode::kManifestGet: {
            SHOAL_TRY_ASSIGN(const wire::ManifestGetReply reply,
                             wire::decode_manifest_get_reply(body));
            std::get<ManifestDone>(call.done)(reply.found
                                                      ? manifest_from(call.key, reply.manifest)
                                                      : Result<std::optional<object::Manifest>>(
                                                                std::optional<object::Manifest>()));
            return Status::ok();
        }
        case wire::Opcode::kManifestList: {
            SHOAL_TRY_ASSIGN(wire::ManifestListReply reply, wire::decode_manifest_list_reply(body));
            SHOAL_TRY(check_page(reply, call.list.prefix, call.list.start_after, call.list.limit));
            std::get<ListDone>(call.done)(page_from(std::move(reply)));
            return Status::ok();
        }
        default:
            SHOAL_ASSERT(false);  // No call of any other opcode is made.
            return Status::ok();
    }
}

void PeerClient::on_tick() {
    const Instant now = runtime_.now();
    while (!calls_.empty() && calls_.begin()->second.deadline <= now) {
        expire(calls_.begin());
    }
}

// A peer that sent nothing at all since the call went out is taken as gone (a partition, a
// hung process): its connection, where every later call would wait too, is closed.
void PeerClient::expire(std::map<uint64_t, Call>::iterator call) {
    const NodeKey peer = call->second.peer;
    Link& link = links_.at(peer);
    SHOAL_ASSERT(link.calls.contains(call->first));
    const Status timed_out = Status::timeout(fmt::format("peer {} at {}: no answer within {} ticks",
                                                         describe(peer),
                                                         link.address.to_string(),
                                                         options_.timeout_ticks));
    if (link.frames_heard == call->second.frames_heard) {
        stats_.connections_closed_unresponsive += 1;
        log_.warn("peer_unresponsive peer={} address={} calls={} timeout_ticks={}",
                  describe(peer),
                  link.address.to_string(),
                  link.calls.size(),
                  options_.timeout_ticks);
        stats_.calls_timed_out += drop_link(peer, timed_out, /*close=*/true);
        return;
    }
    stats_.calls_timed_out += 1;
    link.calls.erase(call->first);
    fail_later(std::move(call->second.done), timed_out);
    calls_.erase(call);
}

void PeerClient::on_turn_end() {
    std::vector<std::function<void()>> ready = std::move(deferred_);
    deferred_.clear();
    for (std::function<void()>& completion : ready) {
        completion();
    }
}

void PeerClient::close_all() {
    std::vector<NodeKey> peers;
    peers.reserve(links_.size());
    for (const auto& [peer, link] : links_) {
        peers.push_back(peer);
    }
    for (const NodeKey& peer : peers) {
        stats_.calls_failed_closed +=
                drop_link(peer, Status::unavailable("peer: the node is stopping"), /*close=*/true);
    }
}

void PeerClient::fail_later(Completion done, Status status) {
    SHOAL_ASSERT(!status.is_ok());
    deferred_.push_back(
            [done = std::move(done), status = std::move(status)]() mutable { fail(done, status); });
}

void PeerClient::fail(Completion& done, const Status& status) {
    SHOAL_ASSERT(!status.is_ok());
    std::visit([&status](auto& callback) { callback(status); }, done);
}

}  // namespace shoal::node

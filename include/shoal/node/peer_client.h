// PeerClient: coordinator::Peers over the runtime's network, the requester side of the cluster
// data path (docs/cluster.md).
//
// A call to the node itself goes straight to its PeerService, with no connection. A call to
// another node goes over one outbound connection per peer, opened on the first call
// (Network::connect) and reused by every later one; many calls are in flight on it at once,
// each under its own request id, and replies are matched by id whatever their order. A chunk's
// data and a manifest leave as the frame's payload, never copied.
//
// Every call completes exactly once, never inside the call (an early failure waits for
// on_turn_end()), and within a bounded time:
//  - kUnavailable if the peer has no known address, or its connection fails or closes (every
//    call in flight on it fails);
//  - kTimeout once timeout_ticks pass without an answer. If nothing at all came from the peer
//    since the call was sent, the peer is taken as unresponsive: its connection is closed and
//    every call on it fails with kTimeout, so the next call connects afresh;
//  - kResourceExhausted if calls_per_peer_max calls to the peer are in flight, or its send
//    queue holds send_queue_bytes_max;
//  - a kError reply's Status, code and message as the peer sent them.
// A reply that does not parse closes its connection and fails the calls on it (kUnavailable),
// with a warning; nothing else is disturbed.
//
// The node must route the events of the connections this client opened to it: for every
// connection id with owns(id), on_connected, on_frame, on_send_ready and on_closed go here and
// nowhere else. It also calls on_tick() every tick and on_turn_end() every loop turn.
//
// Threading: the node's loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <spdlog/logger.h>

#include "shoal/base/address.h"
#include "shoal/base/bytes.h"
#include "shoal/base/ids.h"
#include "shoal/base/status.h"
#include "shoal/base/time.h"
#include "shoal/coordinator/peers.h"
#include "shoal/node/peer_service.h"
#include "shoal/placement/partition_table.h"
#include "shoal/runtime/runtime.h"
#include "shoal/wire/frame.h"

namespace shoal::node {

struct PeerClientStats {
    uint64_t calls = 0;  // Every call, to self included.
    uint64_t calls_to_self = 0;
    uint64_t calls_unresolved = 0;     // The peer had no known address.
    uint64_t calls_refused_busy = 0;   // Over calls_per_peer_max or send_queue_bytes_max.
    uint64_t calls_failed_closed = 0;  // Their connection failed or closed.
    uint64_t calls_timed_out = 0;
    uint64_t connections_opened = 0;  // connect() calls.
    uint64_t connections_lost = 0;    // Failed to connect, or closed, with calls in flight.
    uint64_t connections_closed_unresponsive = 0;
    uint64_t replies_malformed = 0;
    uint64_t replies_late = 0;  // For a call that had timed out or failed already.
};

class PeerClient final : public coordinator::Peers {
public:
    using NodeKey = placement::NodeKey;

    struct Options {
        NodeKey self;
        // A call with no answer within this long fails with kTimeout (cluster.peer_timeout_ms).
        uint32_t timeout_ticks = 500;
        uint32_t calls_per_peer_max = 4096;
        // Bytes queued to one peer past which calls to it are refused: the coordinator bounds
        // its own bytes in flight, and this only keeps a stalled peer from growing the queue
        // without end.
        uint64_t send_queue_bytes_max = uint64_t{64} << 20;
    };

    // Where a node is reached; nullopt if it is not known (the node resolves from its member
    // list).
    using Resolver = std::function<std::optional<HostPort>(const NodeKey& node)>;

    // `runtime`, `log` and `service` must outlive the client.
    PeerClient(const Options& options,
               runtime::Runtime& runtime,
               spdlog::logger& log,
               PeerService& service,
               Resolver resolver);

    ~PeerClient() override = default;
    PeerClient(const PeerClient&) = delete;
    PeerClient& operator=(const PeerClient&) = delete;
    PeerClient(PeerClient&&) = delete;
    PeerClient& operator=(PeerClient&&) = delete;

    // coordinator::Peers.
    void put_chunk(const NodeKey& to, const coordinator::OutgoingChunk& chunk, Done done) override;
    void get_chunk(const NodeKey& to, const object::ChunkId& chunk, ChunkDone done) override;
    void delete_chunk(const NodeKey& to, const object::ChunkId& chunk, Done done) override;
    void put_manifest(const NodeKey& to,
                      std::shared_ptr<const Buffer> manifest,
                      Done done) override;
    void get_manifest(const NodeKey& to, const std::string& key, ManifestDone done) override;
    void list_manifests(const NodeKey& to,
                        const std::string& prefix,
                        const std::string& start_after,
                        uint32_t limit,
                        ListDone done) override;

    // The node's hooks. owns() is true from connect() until that connection's on_closed().
    bool owns(runtime::ConnectionId connection) const;
    void on_connected(runtime::ConnectionId connection);
    void on_frame(runtime::ConnectionId connection, ByteView frame);
    void on_send_ready(runtime::ConnectionId connection);
    void on_closed(runtime::ConnectionId connection, const Status& reason);
    void on_tick();
    void on_turn_end();

    // Closes every connection and fails every call in flight with kUnavailable, at the next
    // turn end: for a node that stops.
    void close_all();

    const PeerClientStats& stats() const { return stats_; }
    size_t calls_in_flight() const { return calls_.size(); }
    size_t connections() const { return links_.size(); }

private:
    using Completion = std::variant<Done, ChunkDone, ManifestDone, ListDone>;

    // What a list call asked for, to check the answer against.
    struct ListAsk {
        std::string prefix;
        std::string start_after;
        uint32_t limit = 0;
    };

    struct Call {
        NodeKey peer;
        wire::Opcode opcode = wire::Opcode::kPing;
        Instant deadline;
        uint64_t frames_heard = 0;  // The link's count when the call was sent.
        Completion done;
        std::string key;  // kManifestGet: the key asked for.
        ListAsk list;     // kManifestList.
    };

    // The connection to one peer, and the calls in flight on it.
    struct Link {
        HostPort address;
        runtime::ConnectionId connection{};
        bool connected = false;
        uint64_t frames_heard = 0;
        std::set<uint64_t> calls;
    };

    // Sends one call's frame to `to` and records it. `frame` builds the frame for a request id.
    void start_call(const NodeKey& to,
                    Call call,
                    const std::function<runtime::OutFrame(RequestId id)>& frame);
    Link& link_for(const NodeKey& to, const HostPort& address);
    Status check_room(const Link& link) const;
    // Fails every call of the peer's link with `status` and forgets the link; `close` closes
    // its connection too (the runtime then reports on_closed, which finds no link).
    // Returns how many calls failed.
    size_t drop_link(const NodeKey& peer, const Status& status, bool close);
    // Closes the peer's link over a reply that does not parse.
    void reject_reply(const NodeKey& peer, const Status& reason);
    void expire(std::map<uint64_t, Call>::iterator call);
    Status deliver(Call& call, const wire::FrameHeader& header, ByteView body);
    void fail_later(Completion done, Status status);
    static void fail(Completion& done, const Status& status);

    Options options_;
    runtime::Runtime& runtime_;
    spdlog::logger& log_;
    PeerService& service_;
    Resolver resolver_;

    // By request id, which is unique over all connections: ascending ids are ascending
    // deadlines (one timeout, a clock that never runs backwards), so expiry reads from the front.
    std::map<uint64_t, Call> calls_;
    uint64_t request_next_ = 1;
    std::map<NodeKey, Link> links_;
    // Every connection this client opened that has not yet had its on_closed(), with its peer;
    // nullopt once its link is dropped.
    std::map<runtime::ConnectionId, std::optional<NodeKey>> connections_;
    std::vector<std::function<void()>> deferred_;
    PeerClientStats stats_;
};

}  // namespace shoal::node

// Node: the imperative shell around the cores.
//
// Node receives what the Runtime delivers (frames, datagrams, ticks, closed connections), hands
// each decision to a core (wire decoding, membership::Swim, coordinator::PutAssembly,
// storage::MemoryStore or DiskStore) and sends what they produce. It makes no protocol
// decisions itself beyond routing; a branch here that needs a unit test belongs in a core.
// Membership is wired (node_membership.cc): SWIM's datagrams go over the runtime's UDP socket,
// its push-pulls over outbound connections in the node's framed protocol (kPushPull), and
// `shoal status` reads the member list (kMembers). The data path is the cluster's
// (node_cluster.cc, docs/cluster.md): every client put, get, delete, stat and list is a
// coordinator operation over PeerClient, placed by a layout rebuilt from the member list, and
// the peer requests of other nodes' operations are answered by PeerService from the local
// store (LocalStore, over either storage mode).
//
// Threading: everything runs on the runtime's loop thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "shoal/base/ids.h"
#include "shoal/base/version.h"
#include "shoal/coordinator/cluster_options.h"
#include "shoal/coordinator/get_operation.h"
#include "shoal/coordinator/layout.h"
#include "shoal/coordinator/put_assembly.h"
#include "shoal/coordinator/put_operation.h"
#include "shoal/membership/swim.h"
#include "shoal/node/hand_back.h"
#include "shoal/node/peer_client.h"
#include "shoal/node/peer_service.h"
#include "shoal/repair/scrubber.h"
#include "shoal/runtime/runtime.h"
#include "shoal/storage/disk_store.h"
#include "shoal/storage/local_store.h"
#include "shoal/storage/memory_store.h"
#include "shoal/wire/messages.h"

namespace shoal::node {

enum class StorageMode : uint8_t { kMemory, kDisk };

struct NodeStats {
    uint64_t requests = 0;
    uint64_t requests_failed = 0;
    uint64_t frames_rejected = 0;      // Malformed frames that closed their connection.
    uint64_t puts_abandoned = 0;       // Puts whose client went away, broke the stream or stalled.
    uint64_t bytes_received = 0;       // Object bytes accepted by puts.
    uint64_t bytes_sent = 0;           // Object bytes sent by gets.
    uint64_t gets_waited = 0;          // Gets that waited for the get buffer.
    uint64_t puts_waited = 0;          // Puts that waited for the put buffer.
    uint64_t puts_refused_busy = 0;    // Refused: the put buffer full and pieces interleaved.
    uint64_t puts_active_peak = 0;     // The most puts running at once.
    uint64_t puts_timed_out = 0;       // Ended: the client sent nothing, or it waited too long.
    uint64_t push_pulls_refused = 0;   // Not started: kPushPullsInFlightMax were in flight.
    uint64_t push_pulls_failed = 0;    // No usable answer: refused, timed out or malformed.
    uint64_t push_pulls_answered = 0;  // Requests from peers answered with our state.
};

class Node final : public runtime::Handler {
public:
    struct Options {
        std::string name = "shoal";  // For logs; the logger already carries it.
        NodeId id{1};
        StorageMode storage_mode = StorageMode::kMemory;
        storage::MemoryStore::Options memory;
        storage::DiskStore::Options disk;  // Disk mode only.
        // After a shutdown request, in-flight requests get this long to finish before they
        // fail with kUnavailable.
        uint32_t shutdown_grace_ticks = 500;

        // Membership. The identity's id is the persisted node id (app/node_identity.h); its
        // address is where peers reach this node, over TCP and UDP alike.
        membership::Identity identity{
                .id = membership::MemberId{.high = 0, .low = 1},
                .name = "shoal",
                .address = HostPort{.host = "127.0.0.1", .port = 7400},
                .zone = "default",
                .capacity_weight = 1,
        };
        membership::Swim::Options swim;
        std::vector<HostPort> join;  // Seeds to join through; empty: a cluster of one.
        // A leave (begin_leave) waits at most this long for "left" to be gossiped.
        uint32_t leave_timeout_ticks = 300;
        // A push-pull whose answer has not arrived within this long is abandoned.
        uint32_t push_pull_timeout_ticks = 500;
        // A running put whose client sends nothing for this long, while the node is ready to
        // read it, fails with kTimeout and gives its share of the put buffer back (30 s).
        uint32_t put_idle_timeout_ticks = 3000;
        // A put that has waited this long for room in the put buffer fails with
        // kResourceExhausted, so its client can retry elsewhere (60 s).
        uint32_t put_wait_timeout_ticks = 6000;
        // The cluster data path: partitions, default redundancy, stripes ([cluster]).
        coordinator::ClusterOptions cluster;
        // Repair's walk over this node's manifests (docs/repair.md).
        repair::Scrubber::Options scrub;

        Status validate() const;
    };

    // `runtime` and `log` must outlive the node.
    Node(const Options& options, runtime::Runtime& runtime, spdlog::logger& log);

    // Opens the store (disk mode: recovers it); `done` runs once the node serves requests, or
    // with the reason it cannot. Until then requests get kUnavailable.
    void start(std::function<void(Status status)> done);

    // Refuses new requests, lets in-flight ones finish within the grace period, then stops
    // the runtime. No partial object becomes visible.
    void begin_shutdown();
    bool is_shutting_down() const { return shutting_down_; }

    // Leaves the cluster gracefully: tells the members "left", waits until that has been
    // gossiped (Swim::leave_done) or leave_timeout_ticks pass, then begin_shutdown().
    void begin_leave();
    bool is_leaving() const { return leaving_; }

    // At most this many push-pulls of ours are in flight; more are refused and counted.
    static constexpr size_t kPushPullsInFlightMax = 8;

    const membership::Swim& swim() const { return swim_; }

    const NodeStats& stats() const { return stats_; }
    const coordinator::OperationStats& operation_stats() const { return operation_stats_; }
    const PeerServiceStats& peer_service_stats() const { return peer_service_->stats(); }
    const PeerClientStats& peer_client_stats() const { return peer_client_->stats(); }
    const HandBack& hand_back() const { return *hand_back_; }
    const repair::Scrubber& scrubber() const { return *scrubber_; }
    // Puts waiting for room in the put buffer.
    size_t puts_waiting() const { return puts_waiting_.size(); }
    // The layout operations place by; null until the node has started.
    const coordinator::Layout* layout() const { return layout_.get(); }
    storage::StoreStats store_stats() const { return store_.stats(); }
    // Disk mode only. REQUIRES: storage_mode is kDisk.
    storage::DiskStoreStats disk_stats() const;

    void on_tick() override;
    void on_turn_end() override;
    void on_accepted(runtime::ConnectionId connection, const std::string& peer_address) override;
    void on_connected(runtime::ConnectionId connection) override;
    void on_datagram(const HostPort& from, ByteView bytes) override;
    void on_frame(runtime::ConnectionId id, ByteView bytes) override;
    void on_send_ready(runtime::ConnectionId id) override;
    void on_closed(runtime::ConnectionId connection, const Status& reason) override;

private:
    // A put waiting for the put buffer: what its request said, and its first piece.
    struct WaitingPut {
        wire::PutRedundancy redundancy;
        Buffer data;
        bool last = false;
        uint64_t digest = 0;
        Instant since;  // When it began to wait.
    };

    struct PendingPut {
        coordinator::PutAssembly assembly;
        std::shared_ptr<coordinator::PutOperation> operation;  // Null while it waits its turn.
        std::optional<WaitingPut> waiting;
        bool complete = false;  // The client's last piece has arrived.
        // Since when the node has been ready for the client's next piece and had none.
        Instant idle_since;
    };
    using PutMap = std::map<RequestId, PendingPut>;

    // One get's bytes on their way to its client: the operation's sink.
    class GetStream final : public coordinator::GetSink {
    public:
        GetStream(Node& node, runtime::ConnectionId connection, RequestId request);
        void on_manifest(const object::Manifest& manifest) override;
        void on_bytes(ByteView bytes, std::shared_ptr<const void> owner) override;
        void on_end() override;
        void on_failure(Status status) override;
        bool wants_bytes() const override;

        std::shared_ptr<coordinator::GetOperation> operation;  // Null while it waits its turn.
        std::string key;

    private:
        void send_reply_head(ByteView bytes, const std::shared_ptr<const void>& owner);
        void send_data(ByteView bytes, const std::shared_ptr<const void>& owner);

        Node& node_;
        runtime::ConnectionId connection_;
        RequestId request_;
        wire::ObjectInfo info_;
        bool replied_ = false;
    };

    struct Connection {
        std::string peer_address;
        PutMap puts;
        // Puts failed mid-stream whose remaining pieces are dropped, oldest first; bounded.
        std::deque<RequestId> puts_aborted;
        std::map<RequestId, std::unique_ptr<GetStream>> gets;
        uint32_t metadata_requests = 0;      // Deletes, stats and lists waiting for answers.
        uint32_t peer_requests = 0;          // Peer requests being served.
        bool paused_for_send_queue = false;  // Until the client reads its replies.
        bool paused_for_disk = false;        // Until the store's write backlog is out.
        bool receiving_paused = false;       // Any of the above, or a put's stripes in flight.
    };

    static size_t requests_in_flight(const Connection& connection);
    // Replies kResourceExhausted and returns true if the connection is at its request limit.
    bool refuse_if_busy(runtime::ConnectionId id,
                        const Connection& connection,
                        RequestId request,
                        wire::Opcode opcode);

    using ConnectionMap = std::map<runtime::ConnectionId, Connection>;

    // A push-pull of ours: an outbound connection that carries one request and one answer.
    struct PushPullCall {
        HostPort target;
        Instant deadline;
        bool answered = false;
    };

    // node_membership.cc: SWIM's inputs and outputs.
    void tick_membership(Instant now);
    void flush_membership();
    void start_push_pull(membership::PushPullStart& start);
    void on_push_pull_answer(runtime::ConnectionId id, PushPullCall& call, ByteView bytes);
    void on_push_pull_request(runtime::ConnectionId id,
                              RequestId request,
                              const wire::PushPullRequest& push_pull);
    void on_members(runtime::ConnectionId id, RequestId request);
    void bound_send_queue(runtime::ConnectionId id);
    void log_member_event(const membership::MemberEvent& event);

    void on_request(runtime::ConnectionId id, Connection& connection, const wire::Frame& frame);
    void on_peer_request(runtime::ConnectionId id,
                         Connection& connection,
                         RequestId request,
                         const wire::Request& decoded);

    // node_cluster.cc: the client operations over the cluster.
    void rebuild_layout();
    std::optional<HostPort> address_of(const placement::NodeKey& node) const;
    std::optional<placement::NodeKey> chunk_owner(const object::ChunkId& chunk) const;
    void tick_hand_back();
    bool is_alive(const placement::NodeKey& node) const;
    void on_put(runtime::ConnectionId id,
                Connection& connection,
                RequestId request,
                const wire::PutRequest& put);
    void on_put_piece(runtime::ConnectionId id,
                      Connection& connection,
                      RequestId request,
                      const wire::PutPiece& piece);
    void wait_for_put_buffer(runtime::ConnectionId id,
                             Connection& connection,
                             RequestId request,
                             const wire::PutRequest& put);
    void start_put(runtime::ConnectionId id,
                   Connection& connection,
                   PutMap::iterator put,
                   wire::PutRedundancy redundancy,
                   const wire::PutPiece& first);
    void start_waiting_puts();
    void on_layout_changed();
    bool view_is_whole() const;
    // Ends the puts whose client has stalled or that have waited too long. Once per tick.
    void tick_puts(Instant now);
    void end_put(runtime::ConnectionId id,
                 Connection& connection,
                 PutMap::iterator put,
                 const Status& why);
    void erase_put(Connection& connection, PutMap::iterator put);
    void cancel_puts(runtime::ConnectionId id, Connection& connection);
    void apply_piece(runtime::ConnectionId id,
                     Connection& connection,
                     PutMap::iterator put,
                     const wire::PutPiece& piece);
    void put_done(runtime::ConnectionId id, RequestId request, Result<object::Manifest> written);
    void resume_connection(runtime::ConnectionId id);
    static bool puts_want_data(const Connection& connection);
    void on_get(runtime::ConnectionId id,
                Connection& connection,
                RequestId request,
                std::string_view key);
    void start_get(GetStream& stream);
    void start_waiting_gets();
    void cancel_gets(Connection& connection);
    void get_done(runtime::ConnectionId id, RequestId request);
    void on_delete(runtime::ConnectionId id,
                   Connection& connection,
                   RequestId request,
                   std::string_view key);
    void on_stat(runtime::ConnectionId id,
                 Connection& connection,
                 RequestId request,
                 std::string_view key);
    void on_list(runtime::ConnectionId id,
                 Connection& connection,
                 RequestId request,
                 const wire::ListRequest& list);
    bool metadata_done(runtime::ConnectionId id);
    // The node's counters and its store's figures (shoal stats).
    void on_stats(runtime::ConnectionId id, RequestId request);

    void pause_if_backlogged(runtime::ConnectionId id, Connection& connection);
    void update_receiving(runtime::ConnectionId id, Connection& connection);
    bool is_disk() const { return disk_ != nullptr; }
    void abort_put(Connection& connection, RequestId request, bool more_pieces_expected);
    void reject_frame(runtime::ConnectionId id, const Status& reason);
    void reply_error(runtime::ConnectionId id,
                     RequestId request,
                     wire::Opcode opcode,
                     const Status& status);
    void send(runtime::ConnectionId id, Buffer frame);
    void check_send_queue(runtime::ConnectionId id, Connection& connection);
    void finish_shutdown_if_drained();
    Version next_version();
    // Later than `newest` unless that is past what the clock believes (then the caller fails).
    Version version_after(Version newest);

    Options options_;
    runtime::Runtime& runtime_;
    spdlog::logger& log_;
    storage::MemoryStore store_;
    std::unique_ptr<storage::DiskStore> disk_;
    std::unique_ptr<storage::LocalStore> local_;  // Over store_ or *disk_.
    std::unique_ptr<PeerService> peer_service_;
    std::unique_ptr<PeerClient> peer_client_;
    std::unique_ptr<HandBack> hand_back_;
    std::unique_ptr<repair::Scrubber> scrubber_;
    std::shared_ptr<const coordinator::Layout> layout_;
    coordinator::OperationStats operation_stats_;
    // Gets running, at most gets_active_max(); the rest wait in arrival order.
    uint32_t gets_active_ = 0;
    std::deque<std::pair<runtime::ConnectionId, RequestId>> gets_waiting_;
    // Puts running, at most puts_active_max(); the rest wait in arrival order.
    uint32_t puts_active_ = 0;
    std::deque<std::pair<runtime::ConnectionId, RequestId>> puts_waiting_;
    bool serving_ = false;  // The store is open.
    bool hand_back_scanned_ = false;
    HybridClock clock_;
    ConnectionMap connections_;
    NodeStats stats_;
    bool shutting_down_ = false;
    bool stopped_ = false;
    uint64_t shutdown_ticks_ = 0;

    membership::Swim swim_;
    std::map<runtime::ConnectionId, PushPullCall> push_pulls_;  // At most kPushPullsInFlightMax.
    std::optional<Instant> tick_last_;  // When the last tick ran, to measure loop lag.
    bool leaving_ = false;
    Instant leave_deadline_;
};

}  // namespace shoal::node

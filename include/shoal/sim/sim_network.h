// SimNetwork: the simulated network between endpoints (simulated nodes and test clients) under
// the EventQueue's clock: TCP connections that carry whole frames, UDP datagrams, addresses,
// and partitions. Every random choice comes from one Prng seeded per run, so a run is a pure
// function of its seed.
//
// Addresses. A node's runtime attaches itself at its address (a HostPort, e.g. 10.0.0.3:7400);
// other endpoints connect and send datagrams to that address. Nothing attached at an address
// (a crashed or stopped node, or none ever) refuses connections and loses datagrams. A test
// client may also connect to an endpoint directly, with no addresses (and then no partition
// applies to it).
//
// Connections. Like TCP, a connection delivers its frames in order, or breaks; it never drops
// one frame and delivers the next. Each frame takes a latency drawn from the Prng plus its size
// over the link bandwidth. Bytes count against the sender's send queue until delivered, so
// backpressure (Network::send_queue_bytes, on_send_ready) behaves as on a real socket. A
// receiver that pauses holds arriving frames back until it resumes. Frames in flight when a
// connection closes are lost. A crash resets the crashed endpoint's connections: the far ends
// hear kUnavailable, as from the kernel's reset.
//
// Datagrams. Each takes its own latency (so datagrams may overtake each other), and is lost
// with probability datagram_loss_per_million, or duplicated with datagram_duplicate_per_million.
//
// Partitions. A cut link between two addresses (both ways, or one way) loses the datagrams
// that cross it, stalls the frames of connections that cross it (as TCP retransmits into a
// void: they arrive, in order, once the link heals; node logic must time out on its own), holds
// back a close's notice to the far end until the link heals, and makes a new connection across
// it fail with kTimeout after runtime::kConnectTimeout. Whether a connect succeeds is decided
// when it is made.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "shoal/base/address.h"
#include "shoal/base/bytes.h"
#include "shoal/base/prng.h"
#include "shoal/base/status.h"
#include "shoal/runtime/runtime.h"
#include "shoal/sim/event_queue.h"

namespace shoal::sim {

// One end of simulated connections and datagrams: a simulated node's runtime or a test client.
class SimEndpoint {
public:
    virtual ~SimEndpoint() = default;
    virtual void on_connection_opened(runtime::ConnectionId connection) = 0;
    virtual void on_connection_frame(runtime::ConnectionId connection, ByteView frame) = 0;
    virtual void on_connection_send_ready(runtime::ConnectionId connection) = 0;
    virtual void on_connection_closed(runtime::ConnectionId connection, const Status& reason) = 0;
    // A datagram sent to an address this endpoint is attached at. `bytes` is valid only during
    // the call. Endpoints that attach at no address need not override it.
    virtual void on_datagram(const HostPort& /*from*/, ByteView /*bytes*/) {}
};

struct NetworkOptions {
    Duration latency_min = std::chrono::microseconds(50);
    Duration latency_jitter_max = std::chrono::microseconds(200);
    uint64_t bandwidth_bytes_per_second = 1'000'000'000;
    uint32_t datagram_loss_per_million = 0;
    uint32_t datagram_duplicate_per_million = 0;
};

struct NetworkStats {
    uint64_t frames_sent = 0;
    uint64_t frames_delivered = 0;
    uint64_t frames_lost_in_close = 0;  // In flight when their connection closed.
    uint64_t frames_stalled = 0;        // Times a connection's frames stopped at a cut link.
    uint64_t connections_opened = 0;
    uint64_t connections_refused = 0;    // Nothing attached at the address.
    uint64_t connections_timed_out = 0;  // Across a cut link.
    uint64_t connections_reset = 0;      // By a crash of one end.
    uint64_t datagrams_sent = 0;
    uint64_t datagrams_delivered = 0;
    uint64_t datagrams_lost = 0;  // To the loss rate.
    uint64_t datagrams_duplicated = 0;
    uint64_t datagrams_cut = 0;         // Across a cut link.
    uint64_t datagrams_unattached = 0;  // Nothing attached at the address when it arrived.
};

class SimNetwork {
public:
    SimNetwork(EventQueue& events, uint64_t seed, NetworkOptions options = {});

    // Addresses.

    // Connections and datagrams to `address` reach `endpoint` from now on. REQUIRES: nothing
    // is attached at `address`; `endpoint` outlives its attachment (and its connections).
    void attach(const HostPort& address, SimEndpoint& endpoint);
    // Nothing is attached at `address` any more. Its connections are untouched.
    void detach(const HostPort& address);
    bool is_attached(const HostPort& address) const;
    // The process behind `endpoint` is gone: it is detached from every address, and each of its
    // connections is reset. It hears nothing more; each far end hears kUnavailable after the
    // latency (once the link heals, if it is cut).
    void crash(SimEndpoint& endpoint);

    // Connections.

    // Opens a connection from `client` to `server`, with no addresses. Both learn their own id
    // for it through on_connection_opened() on a later event; the client's id is also returned.
    runtime::ConnectionId connect(SimEndpoint& client, SimEndpoint& server);
    // Opens a connection from `client`, known by the address `from` (an empty host: none), to
    // whatever is attached at `to`; returns the client's id. Later, both ends hear
    // on_connection_opened(), or the client alone hears on_connection_closed(): kUnavailable
    // after a round trip if nothing is attached at `to`, kTimeout after
    // runtime::kConnectTimeout if the link is cut either way, kInvalidArgument at once if `to`
    // has no host or port 0.
    runtime::ConnectionId connect(SimEndpoint& client, const HostPort& from, const HostPort& to);
    // A connection from `client` that fails at once: the client hears on_connection_closed()
    // with `reason` on a later event. For a runtime that cannot connect (it is stopping).
    // REQUIRES: `reason` is not OK.
    runtime::ConnectionId refuse(SimEndpoint& client, const Status& reason);
    // How the far end of `connection` is known: for a connection from an address, the
    // accepting end sees that host with an ephemeral port, as a real accept does, and the
    // connecting end the address it dialled; "sim" otherwise; "" for an unknown connection.
    std::string peer_address(runtime::ConnectionId connection) const;

    // From `connection`'s owner to its far end. Dropped if the connection is closed.
    void send(runtime::ConnectionId connection, Buffer frame);
    size_t send_queue_bytes(runtime::ConnectionId connection) const;
    void pause_receiving(runtime::ConnectionId connection);
    void resume_receiving(runtime::ConnectionId connection);
    // Closes both ends; each learns it on a later event. Frames in flight are lost.
    void close(runtime::ConnectionId connection, const Status& reason);

    // Datagrams.

    // Sends `bytes` from the endpoint attached at `from` to whatever is attached at `to` when
    // it arrives. REQUIRES: bytes.size() <= runtime::kDatagramBytesMax.
    void send_datagram(const HostPort& from, const HostPort& to, Buffer bytes);
    void set_datagram_loss_per_million(uint32_t loss_per_million);

    // Partitions.

    // Cuts every link between an address in `side_a` and one in `side_b`, both ways.
    void cut(const std::vector<HostPort>& side_a, const std::vector<HostPort>& side_b);
    // Cuts the links from each of `sources` to each of `targets`; the other way still works.
    void cut_one_way(const std::vector<HostPort>& sources, const std::vector<HostPort>& targets);
    // Restores every link between `side_a` and `side_b`, both ways.
    void heal(const std::vector<HostPort>& side_a, const std::vector<HostPort>& side_b);
    void heal_all();
    bool is_cut(const HostPort& source, const HostPort& target) const;

    const NetworkStats& stats() const { return stats_; }

private:
    struct Side {
        SimEndpoint* endpoint = nullptr;
        runtime::ConnectionId peer{};  // {0} once the far end is gone, or never was.
        std::string address;           // This end's address ("" for none), for cut links,
        std::string peer_key;          // and the far end's.
        std::string peer_name;         // What peer_address() reports.
        bool is_client = false;
        bool opened = false;                 // This end has heard on_connection_opened().
        size_t queued_bytes = 0;             // Sent from this side, not yet delivered.
        Instant delivery_last;               // Keeps this side's frames in order.
        std::deque<Buffer> in_flight;        // Sent from this side, not yet delivered, in order.
        uint64_t generation = 0;             // Bumped to void the deliveries already scheduled.
        bool stalled = false;                // `in_flight` waits for the link to heal.
        std::optional<Status> close_notice;  // The far end closed; told once the link heals.
        bool paused = false;                 // This side does not want frames now.
        std::deque<Buffer> held;             // Frames that reached this side while paused.
        bool notify_send_ready = false;
    };

    // An address as the network keys it; "" for none (an empty host).
    static std::string key(const HostPort& address) {
        return address.host.empty() ? std::string() : address.to_string();
    }
    bool is_cut_key(const std::string& source, const std::string& target) const;
    runtime::ConnectionId open(Side client, Side server);
    void schedule_delivery(runtime::ConnectionId from, Side& side, size_t frame_bytes);
    void deliver_next(runtime::ConnectionId from, uint64_t generation);
    void hand_over(runtime::ConnectionId to, Buffer frame);
    // Tells `connection`'s owner, after `delay`, that it is closed, and forgets it.
    void notify_closed(runtime::ConnectionId connection, Duration delay, const Status& reason);
    // The end that closed or crashed is gone; its far end `peer` hears `reason` in time.
    void far_end_gone(runtime::ConnectionId peer, const Status& reason);
    void forget(runtime::ConnectionId connection);
    void deliver_datagram(const HostPort& from, const HostPort& to, Buffer bytes);
    void schedule_datagram(const HostPort& from, const HostPort& to, Buffer bytes);
    // After a heal: stalled frames move again and held-back close notices go out.
    void resume_healed_links();

    EventQueue& events_;
    Prng prng_;
    NetworkOptions options_;
    NetworkStats stats_;
    std::map<runtime::ConnectionId, Side> sides_;
    std::map<std::string, SimEndpoint*> attached_;
    std::set<std::pair<std::string, std::string>> cut_links_;  // (source, target) addresses.
    uint64_t connection_next_ = 1;
};

}  // namespace shoal::sim

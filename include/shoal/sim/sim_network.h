// SimNetwork: simulated TCP connections that carry whole frames between endpoints (simulated
// nodes and test clients) under the EventQueue's clock.
//
// Like TCP, a connection delivers its frames in order, or breaks; it never drops one frame and
// delivers the next. Each frame takes a latency drawn from the run's Prng plus its size over
// the link bandwidth. Bytes count against the sender's send queue until delivered, so
// backpressure (Network::send_queue_bytes, on_send_ready) behaves as on a real socket. A
// receiver that pauses holds arriving frames back until it resumes.
#pragma once

#include <cstdint>
#include <deque>
#include <map>

#include "shoal/base/bytes.h"
#include "shoal/base/prng.h"
#include "shoal/base/status.h"
#include "shoal/runtime/runtime.h"
#include "shoal/sim/event_queue.h"

namespace shoal::sim {

// One end of simulated connections: a simulated node's runtime or a test client.
class SimEndpoint {
public:
    virtual ~SimEndpoint() = default;
    virtual void on_connection_opened(runtime::ConnectionId connection) = 0;
    virtual void on_connection_frame(runtime::ConnectionId connection, ByteView frame) = 0;
    virtual void on_connection_send_ready(runtime::ConnectionId connection) = 0;
    virtual void on_connection_closed(runtime::ConnectionId connection, const Status& reason) = 0;
};

struct NetworkOptions {
    Duration latency_min = std::chrono::microseconds(50);
    Duration latency_jitter_max = std::chrono::microseconds(200);
    uint64_t bandwidth_bytes_per_second = 1'000'000'000;
};

struct NetworkStats {
    uint64_t frames_sent = 0;
    uint64_t frames_delivered = 0;
    uint64_t frames_lost_in_close = 0;  // In flight when their connection closed.
    uint64_t connections_opened = 0;
};

class SimNetwork {
public:
    SimNetwork(EventQueue& events, uint64_t seed, NetworkOptions options = {});

    // Opens a connection from `client` to `server`. Both learn their own id for it through
    // on_connection_opened() on a later event; the client's id is also returned.
    runtime::ConnectionId connect(SimEndpoint& client, SimEndpoint& server);

    // From `connection`'s owner to its far end. Dropped if the connection is closed.
    void send(runtime::ConnectionId connection, Buffer frame);
    size_t send_queue_bytes(runtime::ConnectionId connection) const;
    void pause_receiving(runtime::ConnectionId connection);
    void resume_receiving(runtime::ConnectionId connection);
    // Closes both ends; each learns it on a later event. Frames in flight are lost.
    void close(runtime::ConnectionId connection, const Status& reason);

    const NetworkStats& stats() const { return stats_; }

private:
    struct Side {
        SimEndpoint* endpoint = nullptr;
        runtime::ConnectionId peer{};
        size_t queued_bytes = 0;  // Sent from this side, not yet delivered.
        Instant delivery_last;    // Keeps this side's frames in order.
        bool paused = false;      // This side does not want frames now.
        std::deque<Buffer> held;  // Frames that reached this side while paused.
        bool notify_send_ready = false;
    };

    void deliver(runtime::ConnectionId from, Buffer frame);
    void hand_over(runtime::ConnectionId to, Buffer frame);

    EventQueue& events_;
    Prng prng_;
    NetworkOptions options_;
    NetworkStats stats_;
    std::map<runtime::ConnectionId, Side> sides_;
    uint64_t connection_next_ = 1;
};

}  // namespace shoal::sim

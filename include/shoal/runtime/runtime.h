// Runtime: everything a node needs from the outside world.
//
// Node logic sees time, randomness, the network and the disk (disk.h) only through this
// interface, so the same logic runs on libuv (src/runtime_uv) and inside the deterministic
// simulator (src/sim).
//
// Threading: one thread. Nothing here blocks. A completion or event never runs inside the call
// that caused it; it runs on a later turn of the loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/base/time.h"
#include "shoal/runtime/disk.h"

namespace shoal::runtime {

enum class ConnectionId : uint64_t {};

// A frame to send: an owned head (the header and small fields) and an optional payload that
// is borrowed, not copied, and kept alive by `payload_owner` until it has been written.
struct OutFrame {
    Buffer head;
    ByteView payload;
    std::shared_ptr<const void> payload_owner;

    size_t size() const { return head.size() + payload.size(); }
};

// Frames, not bytes: length-prefix framing happens below this interface (runtime_uv uses
// wire::FrameDecoder), so the simulator moves whole frames.
class Network {
public:
    virtual ~Network() = default;

    // Queues a whole frame. Frames on one connection leave in the order sent. Sending on a
    // closed or closing connection drops the frame: on_closed() has told, or will tell, why.
    virtual void send(ConnectionId connection, OutFrame frame) = 0;

    // Bytes queued on `connection` and not yet written; 0 for an unknown connection.
    virtual size_t send_queue_bytes(ConnectionId connection) const = 0;

    // Stops delivering frames from `connection` until resume_receiving(); the peer is then
    // slowed by TCP flow control. Used to bound what one client can make a node buffer.
    virtual void pause_receiving(ConnectionId connection) = 0;
    virtual void resume_receiving(ConnectionId connection) = 0;

    // Closes the connection at once: for a peer that broke the protocol. Frames that could not
    // be written yet are dropped. on_closed() follows on a later turn.
    virtual void close(ConnectionId connection) = 0;
};

// What the Runtime calls. Implemented by the node's shell (node::Node).
class Handler {
public:
    virtual ~Handler() = default;

    virtual void on_tick() = 0;  // Every kTickDuration of runtime time.

    // Once per loop turn, after that turn's events: where work is batched.
    virtual void on_turn_end() = 0;

    virtual void on_accepted(ConnectionId connection, const std::string& peer_address) = 0;

    // One whole frame, header included, whose header has passed wire::decode_frame_header.
    // `frame` is valid only during the call.
    virtual void on_frame(ConnectionId connection, ByteView frame) = 0;

    // The connection's send queue fell under half of limits::kConnectionSendQueueBytesMax.
    virtual void on_send_ready(ConnectionId connection) = 0;

    // The connection is gone (peer closed, reset, bad framing or close()). No more events
    // for it follow. `reason` is OK for an orderly close.
    virtual void on_closed(ConnectionId connection, const Status& reason) = 0;
};

class Runtime {
public:
    virtual ~Runtime() = default;

    virtual Instant now() const = 0;             // Monotonic; simulated in the simulator.
    virtual uint64_t wall_clock_ms() const = 0;  // For version timestamps only.
    virtual uint64_t seed() const = 0;           // Seeds the node's Prng.
    virtual Network& network() = 0;
    virtual Disk& disk() = 0;
    // Stops accepting, writes out what is queued (for a bounded time), closes every
    // connection and ends the loop.
    virtual void stop() = 0;
};

}  // namespace shoal::runtime

// Runtime: everything a node needs from the outside world.
//
// Node logic sees time, randomness, the network and the disk (disk.h) only through this
// interface, so the same logic runs on libuv (src/runtime_uv) and inside the deterministic
// simulator (src/sim). The network is TCP connections carrying whole frames, accepted or
// opened with Network::connect(), and UDP datagrams (SWIM's probes and gossip); docs/runtime.md
// records how each implementation keeps these promises.
//
// Threading: one thread. Nothing here blocks. A completion or event never runs inside the call
// that caused it; it runs on a later turn of the loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "shoal/base/address.h"
#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/base/time.h"
#include "shoal/runtime/disk.h"

namespace shoal::runtime {

enum class ConnectionId : uint64_t {};

// The largest datagram sent or received. An IP datagram beyond the path MTU is fragmented, and
// losing one fragment loses all of it, so gossip keeps its packets near 1400 bytes; this bound
// leaves room for jumbo-frame LANs and keeps the receive buffer small. A bigger datagram is
// never sent, and one that arrives bigger (the kernel cuts it short) is dropped.
inline constexpr size_t kDatagramBytesMax = size_t{16} * 1024;

// An outbound connection that is not established within this long fails with kTimeout. Node
// logic that wants a shorter bound closes the connection itself, counting ticks.
inline constexpr Duration kConnectTimeout = std::chrono::seconds(5);

// What the network did with datagrams, since the runtime started. Datagrams are best effort
// and their losses are reported to nobody, so these counters are where losses show.
struct DatagramStats {
    uint64_t sent = 0;             // Handed to the OS (or to the simulated network).
    uint64_t send_rejected = 0;    // Over kDatagramBytesMax: never sent.
    uint64_t send_failed = 0;      // Not sent: no socket, unresolvable host, full queue, OS error.
    uint64_t received = 0;         // Delivered to Handler::on_datagram.
    uint64_t receive_dropped = 0;  // Arrived empty, truncated (too big) or as a receive error.
};

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
    // be written yet are dropped. on_closed() follows on a later turn. Closing a connection
    // that connect() has not yet established cancels it: on_closed() follows with OK.
    virtual void close(ConnectionId connection) = 0;

    // Opens a TCP connection to the node at `to`: a numeric IPv4 or IPv6 address, or a host
    // name, resolved off the loop thread. Returns the connection's id at once, and frames may be
    // sent on it at once: they queue (counted by send_queue_bytes) and leave once it is
    // established. Exactly one of these follows, never inside this call:
    //  - on_connected(id); from then on the connection is like an accepted one (same framing,
    //    send queue, backpressure, on_frame and on_send_ready) and ends with on_closed();
    //  - on_closed(id, reason) with no on_connected(): the connect failed. kUnavailable: refused,
    //    unreachable, an unresolvable host, or the runtime is stopping; kTimeout: no answer
    //    within kConnectTimeout; kResourceExhausted: limits::kConnectionsMax connections are
    //    open; kInvalidArgument: `to` has no host or port 0.
    // So every id handed out, by connect() or on_accepted(), ends with exactly one on_closed().
    virtual ConnectionId connect(const HostPort& to) = 0;

    // Sends `bytes` as one UDP datagram from this node's datagram address (UvRuntime::
    // bind_datagram, SimRuntime::Options::address) to `to`, a numeric address or a host name.
    // Best effort, unordered, unacknowledged, and reported to nobody: a datagram that is lost,
    // over kDatagramBytesMax, or cannot be sent (no datagram address yet, an unresolvable host)
    // only shows in datagram_stats() and, rate limited, in the log. `bytes` need only be valid
    // during the call.
    virtual void send_datagram(const HostPort& to, ByteView bytes) = 0;

    virtual DatagramStats datagram_stats() const = 0;
};

// What the Runtime calls. Implemented by the node's shell (node::Node).
class Handler {
public:
    virtual ~Handler() = default;

    virtual void on_tick() = 0;  // Every kTickDuration of runtime time.

    // Once per loop turn, after that turn's events: where work is batched.
    virtual void on_turn_end() = 0;

    virtual void on_accepted(ConnectionId connection, const std::string& peer_address) = 0;

    // A connection opened by Network::connect() is established. A handler that never
    // connects need not override this.
    virtual void on_connected(ConnectionId /*connection*/) {}

    // One datagram of 1..kDatagramBytesMax bytes, from the address it came from (numeric host
    // and port: where a reply goes). Its bytes are untrusted and valid only during the call. A
    // handler that uses no datagrams need not override this.
    virtual void on_datagram(const HostPort& /*from*/, ByteView /*bytes*/) {}

    // One whole frame, header included, whose header has passed wire::decode_frame_header.
    // `frame` is valid only during the call.
    virtual void on_frame(ConnectionId connection, ByteView frame) = 0;

    // The connection's send queue fell under half of limits::kConnectionSendQueueBytesMax.
    virtual void on_send_ready(ConnectionId connection) = 0;

    // The connection is gone (peer closed, reset, bad framing, close(), or a connect() that
    // failed). No more events for it follow. `reason` is OK for an orderly close.
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
    // Stops accepting, fails connects in progress (kUnavailable), writes out what is queued
    // (for a bounded time), closes every connection and the datagram socket, and ends the loop.
    virtual void stop() = 0;
};

}  // namespace shoal::runtime

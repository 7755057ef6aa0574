// UvDatagram: the node's UDP socket, for SWIM's probes and gossip.
//
// Receiving uses one buffer of runtime::kDatagramBytesMax bytes, reused for every datagram:
// each is handed to `deliver` before the next is read, so receiving allocates nothing. A
// datagram the kernel had to cut short (UV_UDP_PARTIAL), an empty one and a receive error are
// dropped and counted. Sending tries the socket at once (uv_udp_try_send, one system call and
// no copy); only when the socket buffer is full is the datagram copied and queued, up to
// kSendQueueBytesMax, past which it is dropped. Every failure is counted in stats() and
// logged at most once per second, with how many lines were left out: a datagram's fate is
// reported to nobody else.
//
// Threading: the loop thread only. Private to runtime_uv.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include <spdlog/logger.h>
#include <uv.h>

#include "runtime_uv/uv_resolver.h"
#include "shoal/base/address.h"
#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/runtime/runtime.h"

namespace shoal::runtime_uv {

class UvDatagram {
public:
    // Called for each datagram received; `bytes` is valid only during the call.
    using Deliver = std::function<void(const HostPort& from, ByteView bytes)>;

    static constexpr size_t kSendQueueBytesMax = size_t{256} * 1024;

    // `loop`, `resolver` and `log` must outlive this object, and the loop must have run the
    // socket's close before it is destroyed.
    UvDatagram(uv_loop_t& loop, UvResolver& resolver, spdlog::logger& log)
        : loop_(loop), resolver_(resolver), log_(log) {}
    UvDatagram(const UvDatagram&) = delete;
    UvDatagram& operator=(const UvDatagram&) = delete;
    UvDatagram(UvDatagram&&) = delete;
    UvDatagram& operator=(UvDatagram&&) = delete;
    ~UvDatagram() = default;

    // Binds the socket and starts receiving. kUnavailable if the address does not resolve or
    // the bind fails (in use, not local), with the OS's reason. REQUIRES: called once.
    Status bind(const HostPort& address, Deliver deliver);
    bool is_bound() const { return bound_; }
    // REQUIRES: is_bound().
    uint16_t port() const;

    // Best effort; see runtime::Network::send_datagram.
    void send(const HostPort& to, ByteView bytes);

    // Stops receiving and closes the socket; queued sends fail. Harmless when not bound.
    void close();

    const runtime::DatagramStats& stats() const { return stats_; }

private:
    struct SendRequest {
        uv_udp_send_t request{};
        UvDatagram* owner = nullptr;
        Buffer bytes;
    };

    void send_to(const SocketAddress& address, const HostPort& to, ByteView bytes);
    void on_receive(ssize_t bytes_read, const sockaddr* from, unsigned flags);
    void on_send_done(SendRequest* send, int status);
    // Logs one warning per second at most, counting the ones it leaves out.
    void warn(std::string_view event, const HostPort& peer, std::string_view reason);

    uv_loop_t& loop_;
    UvResolver& resolver_;
    spdlog::logger& log_;
    uv_udp_t udp_{};
    std::unique_ptr<std::byte[]> receive_buffer_;
    Deliver deliver_;
    bool bind_attempted_ = false;
    bool bound_ = false;
    size_t queued_bytes_ = 0;
    runtime::DatagramStats stats_;
    uint64_t warned_last_ms_ = 0;
    uint64_t warnings_suppressed_ = 0;
    bool warned_ = false;
};

}  // namespace shoal::runtime_uv

// UvRuntime: the production Runtime, on one libuv loop.
//
// Owns the loop, a 10 ms tick timer, a check hook that runs once per loop turn (after the
// turn's I/O callbacks: Handler::on_turn_end, then one gathered write per connection for
// everything sent during the turn), the TCP listener, its connections and the outbound ones
// from Network::connect() (all framed with wire::FrameDecoder), the UDP socket (uv_datagram.h),
// a host name cache (uv_resolver.h: getaddrinfo on libuv's thread pool), the disk (uv_disk.h:
// system calls on the thread pool), and the signal watchers. The only module that includes
// <uv.h>. docs/runtime.md describes the choices.
//
// Threading: everything, including every Handler call, runs on the thread that calls run().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "shoal/base/address.h"
#include "shoal/base/status.h"
#include "shoal/runtime/runtime.h"

namespace shoal::runtime_uv {

class UvRuntime final : public runtime::Runtime {
public:
    // `log` must outlive the runtime.
    explicit UvRuntime(spdlog::logger& log);
    ~UvRuntime() override;
    UvRuntime(const UvRuntime&) = delete;
    UvRuntime& operator=(const UvRuntime&) = delete;
    UvRuntime(UvRuntime&&) = delete;
    UvRuntime& operator=(UvRuntime&&) = delete;

    // Binds and listens. kInvalidArgument for an unusable address, kUnavailable if the bind
    // fails (in use, not local), with the reason from the OS.
    Status listen(const HostPort& address);
    // The port actually bound (useful with port 0). REQUIRES: listen() succeeded.
    uint16_t listening_port() const;

    // Binds the UDP socket that Network::send_datagram() sends from and Handler::on_datagram()
    // hears; usually the same address as listen(). Datagrams that arrive before run() wait in
    // the socket. kUnavailable if the address does not resolve or the bind fails, with the
    // reason from the OS. REQUIRES: called once.
    Status bind_datagram(const HostPort& address);
    // The UDP port actually bound. REQUIRES: bind_datagram() succeeded.
    uint16_t datagram_port() const;

    // Calls `on_signal` on the loop thread for SIGINT and SIGTERM.
    void watch_signals(std::function<void(int signal)> on_signal);

    // Runs the loop, delivering events to `handler`, until stop() has finished.
    // REQUIRES: called once.
    void run(runtime::Handler& handler);

    Instant now() const override;
    uint64_t wall_clock_ms() const override;
    uint64_t seed() const override { return seed_; }
    runtime::Network& network() override;
    runtime::Disk& disk() override;
    void stop() override;

private:
    struct Loop;
    std::unique_ptr<Loop> loop_;
    uint64_t seed_ = 0;
};

}  // namespace shoal::runtime_uv

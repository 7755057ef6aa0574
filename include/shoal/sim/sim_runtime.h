// SimRuntime: the Runtime of one simulated node, on the shared EventQueue and SimNetwork.
//
// Time is the queue's clock; ticks are events every kTickDuration; the turn end runs once
// after each instant at which the node handled anything, as the check hook does on libuv.
// Every Handler call happens on a later event than whatever caused it.
//
// A node with an address (Options::address) is attached at it on the SimNetwork from start()
// until stop() or crash(): other nodes connect and send datagrams to it there, and its own
// datagrams and connections come from it. A crash also resets every connection the node had.
// The simulator counts what it does with datagrams (datagram_stats()) but logs nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <set>

#include "shoal/runtime/runtime.h"
#include "shoal/sim/event_queue.h"
#include "shoal/sim/sim_disk.h"
#include "shoal/sim/sim_network.h"

namespace shoal::sim {

class SimRuntime final : public runtime::Runtime, public runtime::Network, public SimEndpoint {
public:
    struct Options {
        uint64_t seed = 1;
        // Where the simulated wall clock starts, for version timestamps.
        uint64_t wall_clock_origin_ms = 1'700'000'000'000;
        // Where the node is on the SimNetwork. Without one, the node serves only test clients
        // that connect to it directly, and its datagrams are not sent (counted as failed).
        std::optional<HostPort> address;
    };

    // `network` and `disk` must outlive the runtime; a restarted node gets a new SimRuntime
    // over the same SimDisk.
    SimRuntime(EventQueue& events, SimNetwork& network, SimDisk& disk, const Options& options);

    // Delivers events to `handler` from now on, ticks included, and attaches the node at its
    // address. REQUIRES: called once; nothing else is attached at the address.
    void start(runtime::Handler& handler);
    // The node's process is gone (a crash): nothing more reaches its handler, which may be
    // destroyed; its address is free (a restart attaches a new SimRuntime there) and its
    // connections are reset. The runtime itself must live on while its queued events do.
    void crash();
    // True once stop() was called: the node asked to end. Its address is then free.
    bool is_stopped() const { return stopped_; }

    // Runtime.
    Instant now() const override { return events_.now(); }
    uint64_t wall_clock_ms() const override;
    uint64_t seed() const override { return options_.seed; }
    runtime::Network& network() override { return *this; }
    runtime::Disk& disk() override { return disk_; }
    void stop() override;

    // Network.
    void send(runtime::ConnectionId connection, runtime::OutFrame frame) override;
    size_t send_queue_bytes(runtime::ConnectionId connection) const override;
    void pause_receiving(runtime::ConnectionId connection) override;
    void resume_receiving(runtime::ConnectionId connection) override;
    void close(runtime::ConnectionId connection) override;
    runtime::ConnectionId connect(const HostPort& to) override;
    void send_datagram(const HostPort& to, ByteView bytes) override;
    runtime::DatagramStats datagram_stats() const override { return datagram_stats_; }

    // SimEndpoint.
    void on_connection_opened(runtime::ConnectionId connection) override;
    void on_connection_frame(runtime::ConnectionId connection, ByteView frame) override;
    void on_connection_send_ready(runtime::ConnectionId connection) override;
    void on_connection_closed(runtime::ConnectionId connection, const Status& reason) override;
    void on_datagram(const HostPort& from, ByteView bytes) override;

private:
    void schedule_tick();
    void turn_happened();
    void detach();

    EventQueue& events_;
    SimNetwork& network_;
    SimDisk& disk_;
    Options options_;
    runtime::Handler* handler_ = nullptr;
    bool turn_end_scheduled_ = false;
    bool stopped_ = false;
    bool attached_ = false;
    std::set<runtime::ConnectionId> connecting_;  // From connect(), not yet opened or failed.
    runtime::DatagramStats datagram_stats_;
};

}  // namespace shoal::sim

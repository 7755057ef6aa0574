// SimRuntime: the Runtime of one simulated node, on the shared EventQueue and SimNetwork.
//
// Time is the queue's clock; ticks are events every kTickDuration; the turn end runs once
// after each instant at which the node handled anything, as the check hook does on libuv.
// Every Handler call happens on a later event than whatever caused it.
#pragma once

#include <cstdint>

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
    };

    // `network` and `disk` must outlive the runtime; a restarted node gets a new SimRuntime
    // over the same SimDisk.
    SimRuntime(EventQueue& events, SimNetwork& network, SimDisk& disk, const Options& options);

    // Delivers events to `handler` from now on, ticks included. REQUIRES: called once.
    void start(runtime::Handler& handler);
    // The node's process is gone (a crash): nothing more reaches its handler, which may be
    // destroyed. The runtime itself must live on while its queued events do.
    void crash();
    // True once stop() was called: the node asked to end.
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

    // SimEndpoint.
    void on_connection_opened(runtime::ConnectionId connection) override;
    void on_connection_frame(runtime::ConnectionId connection, ByteView frame) override;
    void on_connection_send_ready(runtime::ConnectionId connection) override;
    void on_connection_closed(runtime::ConnectionId connection, const Status& reason) override;

private:
    void schedule_tick();
    void turn_happened();

    EventQueue& events_;
    SimNetwork& network_;
    SimDisk& disk_;
    Options options_;
    runtime::Handler* handler_ = nullptr;
    bool turn_end_scheduled_ = false;
    bool stopped_ = false;
};

}  // namespace shoal::sim

// Support for the SimNetwork tests: simulated nodes with addresses whose handler records every
// event, and small text frames that pass SimRuntime's framing check.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "shoal/runtime/runtime.h"
#include "shoal/sim/event_queue.h"
#include "shoal/sim/sim_disk.h"
#include "shoal/sim/sim_network.h"
#include "shoal/sim/sim_runtime.h"
#include "shoal/wire/frame.h"

namespace shoal::sim::testing {

// 10.0.0.<index>:7400.
inline HostPort node_address(int index) {
    return HostPort{.host = fmt::format("10.0.0.{}", index), .port = 7400};
}

// A data frame whose body is `text`.
inline runtime::OutFrame text_frame(std::string_view text) {
    Buffer head;
    wire::encode_frame_header({.body_bytes = static_cast<uint32_t>(text.size()),
                               .kind = wire::FrameKind::kData,
                               .request_id = RequestId{1}},
                              head);
    head.append(text);
    return runtime::OutFrame{.head = std::move(head)};
}

struct ReceivedDatagram {
    std::string from;
    std::string bytes;
    Instant at;
};

// Records what the runtime tells the node, and when.
class Recorder final : public runtime::Handler {
public:
    explicit Recorder(const EventQueue& events) : events_(events) {}

    void on_tick() override {}
    void on_turn_end() override {}
    void on_accepted(runtime::ConnectionId connection, const std::string& peer) override {
        accepted.emplace_back(connection, peer);
    }
    void on_connected(runtime::ConnectionId connection) override {
        connected.push_back(connection);
    }
    void on_frame(runtime::ConnectionId connection, ByteView frame) override {
        frames[connection].emplace_back(as_string_view(frame.subspan(wire::kFrameHeaderBytes)));
    }
    void on_send_ready(runtime::ConnectionId) override {}
    void on_closed(runtime::ConnectionId connection, const Status& reason) override {
        const bool first = closed.emplace(connection, reason).second;
        REQUIRE(first);  // Exactly one on_closed per connection.
    }
    void on_datagram(const HostPort& from, ByteView bytes) override {
        datagrams.push_back({from.to_string(), std::string(as_string_view(bytes)), events_.now()});
    }

    std::vector<std::pair<runtime::ConnectionId, std::string>> accepted;
    std::vector<runtime::ConnectionId> connected;
    std::map<runtime::ConnectionId, std::vector<std::string>> frames;
    std::map<runtime::ConnectionId, Status> closed;
    std::vector<ReceivedDatagram> datagrams;

private:
    const EventQueue& events_;
};

// A simulated node at 10.0.0.<index>:7400 whose handler is a Recorder.
struct SimNode {
    SimNode(EventQueue& events, SimNetwork& network, int index)
        : address(node_address(index)),
          disk(events, /*seed=*/static_cast<uint64_t>(index)),
          runtime(events,
                  network,
                  disk,
                  {.seed = static_cast<uint64_t>(index), .address = node_address(index)}),
          handler(events) {
        runtime.start(handler);
    }

    HostPort address;
    SimDisk disk;
    SimRuntime runtime;
    Recorder handler;
};

}  // namespace shoal::sim::testing

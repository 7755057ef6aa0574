// SimClient: a test client on a SimNetwork. It sends frames to a simulated node and keeps
// what comes back, by request id, for a workload or a test to check.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/ids.h"
#include "shoal/sim/sim_network.h"
#include "shoal/wire/frame.h"

namespace shoal::sim {

struct ReceivedFrame {
    wire::FrameHeader header;
    Buffer body;
};

class SimClient final : public SimEndpoint {
public:
    explicit SimClient(SimNetwork& network) : network_(network) {}

    // Opens a new connection to `server`, dropping any current one.
    void connect(SimEndpoint& server);
    // Closes the connection from this side, as a client that is killed does.
    void disconnect();
    bool is_open() const { return open_; }
    bool was_closed_by_peer() const { return closed_by_peer_; }

    // Queues a frame; it leaves once the connection is open.
    void send(Buffer frame);
    // Frames received for `request`, in order.
    const std::vector<ReceivedFrame>& frames(RequestId request) const;
    void forget(RequestId request) { received_.erase(request); }

    void on_connection_opened(runtime::ConnectionId connection) override;
    void on_connection_frame(runtime::ConnectionId connection, ByteView frame) override;
    void on_connection_send_ready(runtime::ConnectionId /*connection*/) override {}
    void on_connection_closed(runtime::ConnectionId connection, const Status& reason) override;

private:
    SimNetwork& network_;
    std::optional<runtime::ConnectionId> connection_;
    bool open_ = false;
    bool closed_by_peer_ = false;
    std::vector<Buffer> unsent_;
    std::map<RequestId, std::vector<ReceivedFrame>> received_;
};

}  // namespace shoal::sim

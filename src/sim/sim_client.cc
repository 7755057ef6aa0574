#include "shoal/sim/sim_client.h"

#include "shoal/base/limits.h"

namespace shoal::sim {

void SimClient::connect(SimEndpoint& server) {
    disconnect();
    closed_by_peer_ = false;
    connection_ = network_.connect(*this, server);
}

void SimClient::disconnect() {
    if (connection_.has_value()) network_.close(*connection_, Status::ok());
    connection_.reset();
    open_ = false;
    unsent_.clear();
}

void SimClient::send(Buffer frame) {
    SHOAL_ASSERT(connection_.has_value());
    if (!open_) {
        unsent_.push_back(std::move(frame));
        return;
    }
    network_.send(*connection_, std::move(frame));
}

const std::vector<ReceivedFrame>& SimClient::frames(RequestId request) const {
    static const std::vector<ReceivedFrame> none;
    auto found = received_.find(request);
    return found == received_.end() ? none : found->second;
}

void SimClient::on_connection_opened(runtime::ConnectionId connection) {
    if (connection_ != connection) return;
    open_ = true;
    for (Buffer& frame : unsent_) {
        network_.send(connection, std::move(frame));
    }
    unsent_.clear();
}

void SimClient::on_connection_frame(runtime::ConnectionId connection, ByteView frame) {
    if (connection_ != connection) return;
    // These frames come from the simulated node, which is our own code and sends through a
    // SimRuntime that checked nothing: one that does not decode is a bug, so it is asserted.
    Result<wire::FrameHeader> header =
            frame.size() >= wire::kFrameHeaderBytes
                    ? wire::decode_frame_header(frame, limits::kFrameBodyBytesMax)
                    : Result<wire::FrameHeader>(Status::invalid_argument("torn"));
    SHOAL_ASSERT(header.is_ok());
    received_[header.value().request_id].push_back(ReceivedFrame{
            .header = header.value(),
            .body = Buffer(frame.subspan(wire::kFrameHeaderBytes)),
    });
}

void SimClient::on_connection_closed(runtime::ConnectionId connection, const Status&) {
    if (connection_ != connection) return;
    connection_.reset();
    open_ = false;
    closed_by_peer_ = true;
}

}  // namespace shoal::sim

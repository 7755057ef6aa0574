#include "shoal/sim/sim_runtime.h"

#include "shoal/base/limits.h"
#include "shoal/wire/frame.h"

namespace shoal::sim {

SimRuntime::SimRuntime(EventQueue& events,
                       SimNetwork& network,
                       SimDisk& disk,
                       const Options& options)
    : events_(events), network_(network), disk_(disk), options_(options) {}

void SimRuntime::start(runtime::Handler& handler) {
    SHOAL_ASSERT(handler_ == nullptr);
    handler_ = &handler;
    if (options_.address.has_value()) {
        network_.attach(*options_.address, *this);
        attached_ = true;
    }
    schedule_tick();
}

void SimRuntime::detach() {
    if (!attached_) return;
    attached_ = false;
    network_.detach(*options_.address);
}

void SimRuntime::schedule_tick() {
    events_.schedule_after(kTickDuration, [this] {
        if (stopped_) return;
        handler_->on_tick();
        turn_happened();
        schedule_tick();
    });
}

// The turn end follows everything the node did at this instant, as libuv's check hook follows
// a turn's callbacks.
void SimRuntime::turn_happened() {
    if (turn_end_scheduled_) return;
    turn_end_scheduled_ = true;
    events_.schedule_after(Duration(0), [this] {
        turn_end_scheduled_ = false;
        if (!stopped_) handler_->on_turn_end();
    });
}

uint64_t SimRuntime::wall_clock_ms() const {
    const auto elapsed_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(events_.now().since_origin());
    return options_.wall_clock_origin_ms + static_cast<uint64_t>(elapsed_ms.count());
}

void SimRuntime::stop() {
    stopped_ = true;
    detach();
}

void SimRuntime::crash() {
    stopped_ = true;
    handler_ = nullptr;
    attached_ = false;
    network_.crash(*this);  // Detaches it too.
}

void SimRuntime::send(runtime::ConnectionId connection, runtime::OutFrame frame) {
    // The simulator copies the payload: simplicity over speed here.
    frame.head.append(frame.payload);
    network_.send(connection, std::move(frame.head));
}

size_t SimRuntime::send_queue_bytes(runtime::ConnectionId connection) const {
    return network_.send_queue_bytes(connection);
}

void SimRuntime::pause_receiving(runtime::ConnectionId connection) {
    network_.pause_receiving(connection);
}

void SimRuntime::resume_receiving(runtime::ConnectionId connection) {
    network_.resume_receiving(connection);
}

void SimRuntime::close(runtime::ConnectionId connection) {
    network_.close(connection, Status::ok());
}

runtime::ConnectionId SimRuntime::connect(const HostPort& to) {
    const runtime::ConnectionId connection =
            stopped_ ? network_.refuse(*this, Status::unavailable("connect: the node is stopping"))
                     : network_.connect(*this, options_.address.value_or(HostPort{}), to);
    connecting_.insert(connection);
    return connection;
}

void SimRuntime::send_datagram(const HostPort& to, ByteView bytes) {
    if (bytes.size() > runtime::kDatagramBytesMax) {
        datagram_stats_.send_rejected += 1;
        return;
    }
    if (!attached_) {
        datagram_stats_.send_failed += 1;  // No address, or the node stopped.
        return;
    }
    datagram_stats_.sent += 1;
    network_.send_datagram(*options_.address, to, Buffer(bytes));
}

void SimRuntime::on_connection_opened(runtime::ConnectionId connection) {
    const bool outbound = connecting_.erase(connection) > 0;
    if (stopped_) {
        network_.close(connection, Status::unavailable("the node stopped"));
        return;
    }
    if (outbound) {
        handler_->on_connected(connection);
    } else {
        handler_->on_accepted(connection, network_.peer_address(connection));
    }
    turn_happened();
}

void SimRuntime::on_connection_frame(runtime::ConnectionId connection, ByteView frame) {
    if (stopped_) return;
    // Framing is checked here, as FrameDecoder does on libuv, before the node sees a frame.
    const bool whole = frame.size() >= wire::kFrameHeaderBytes;
    Result<wire::FrameHeader> header =
            whole ? wire::decode_frame_header(frame, limits::kFrameBodyBytesMax)
                  : Result<wire::FrameHeader>(Status::invalid_argument("frame: torn header"));
    if (!header.is_ok() || header.value().body_bytes != frame.size() - wire::kFrameHeaderBytes) {
        network_.close(connection,
                       header.is_ok() ? Status::invalid_argument("frame: length mismatch")
                                      : header.status());
        return;
    }
    handler_->on_frame(connection, frame);
    turn_happened();
}

void SimRuntime::on_connection_send_ready(runtime::ConnectionId connection) {
    if (stopped_) return;
    handler_->on_send_ready(connection);
    turn_happened();
}

void SimRuntime::on_connection_closed(runtime::ConnectionId connection, const Status& reason) {
    connecting_.erase(connection);
    if (handler_ == nullptr) return;
    handler_->on_closed(connection, reason);
    turn_happened();
}

void SimRuntime::on_datagram(const HostPort& from, ByteView bytes) {
    if (stopped_) return;
    // As on libuv: an empty datagram carries nothing and is dropped.
    if (bytes.empty()) {
        datagram_stats_.receive_dropped += 1;
        return;
    }
    datagram_stats_.received += 1;
    handler_->on_datagram(from, bytes);
    turn_happened();
}

}  // namespace shoal::sim

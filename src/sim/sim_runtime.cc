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
    schedule_tick();
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
}

void SimRuntime::crash() {
    stopped_ = true;
    handler_ = nullptr;
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

void SimRuntime::on_connection_opened(runtime::ConnectionId connection) {
    if (stopped_) {
        network_.close(connection, Status::unavailable("the node stopped"));
        return;
    }
    handler_->on_accepted(connection, "sim");
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
    if (handler_ == nullptr) return;
    handler_->on_closed(connection, reason);
    turn_happened();
}

}  // namespace shoal::sim

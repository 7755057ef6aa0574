#include "shoal/sim/sim_network.h"

#include <algorithm>

#include "shoal/base/limits.h"

namespace shoal::sim {
namespace {

constexpr size_t kSendReadyBytes = limits::kConnectionSendQueueBytesMax / 2;

}  // namespace

SimNetwork::SimNetwork(EventQueue& events, uint64_t seed, NetworkOptions options)
    : events_(events), prng_(seed), options_(options) {}

runtime::ConnectionId SimNetwork::connect(SimEndpoint& client, SimEndpoint& server) {
    const runtime::ConnectionId client_id{connection_next_++};
    const runtime::ConnectionId server_id{connection_next_++};
    sides_[client_id] = Side{.endpoint = &client, .peer = server_id};
    sides_[server_id] = Side{.endpoint = &server, .peer = client_id};
    stats_.connections_opened += 1;
    events_.schedule_after(options_.latency_min, [this, client_id, server_id] {
        // Either end may have closed it already, in which case neither hears of it.
        if (!sides_.contains(client_id)) return;
        sides_.at(server_id).endpoint->on_connection_opened(server_id);
        sides_.at(client_id).endpoint->on_connection_opened(client_id);
    });
    return client_id;
}

void SimNetwork::send(runtime::ConnectionId connection, Buffer frame) {
    auto found = sides_.find(connection);
    if (found == sides_.end()) return;
    Side& side = found->second;
    stats_.frames_sent += 1;
    side.queued_bytes += frame.size();
    if (side.queued_bytes >= kSendReadyBytes) side.notify_send_ready = true;
    const Duration jitter(
            prng_.below(static_cast<uint64_t>(options_.latency_jitter_max.count()) + 1));
    const Duration transfer(frame.size() * 1'000'000'000 / options_.bandwidth_bytes_per_second);
    // In order: no frame overtakes the one sent before it on this side.
    const Instant at =
            std::max(events_.now() + options_.latency_min + jitter, side.delivery_last) + transfer;
    side.delivery_last = at;
    // std::function needs a copyable callable; the frame moves in through a shared slot.
    auto slot = std::make_shared<Buffer>(std::move(frame));
    events_.schedule(at, [this, connection, slot] { deliver(connection, std::move(*slot)); });
}

void SimNetwork::deliver(runtime::ConnectionId from, Buffer frame) {
    auto found = sides_.find(from);
    if (found == sides_.end()) {
        stats_.frames_lost_in_close += 1;
        return;
    }
    Side& sender = found->second;
    SHOAL_ASSERT(sender.queued_bytes >= frame.size());
    sender.queued_bytes -= frame.size();
    const runtime::ConnectionId to = sender.peer;
    const bool send_ready = sender.notify_send_ready && sender.queued_bytes < kSendReadyBytes;
    if (send_ready) sender.notify_send_ready = false;
    hand_over(to, std::move(frame));
    // The receiver may have closed the connection while handling the frame.
    if (send_ready && sides_.contains(from)) {
        sides_.at(from).endpoint->on_connection_send_ready(from);
    }
}

void SimNetwork::hand_over(runtime::ConnectionId to, Buffer frame) {
    Side& receiver = sides_.at(to);
    if (receiver.paused) {
        receiver.held.push_back(std::move(frame));
        return;
    }
    stats_.frames_delivered += 1;
    receiver.endpoint->on_connection_frame(to, frame.view());
}

size_t SimNetwork::send_queue_bytes(runtime::ConnectionId connection) const {
    auto found = sides_.find(connection);
    return found == sides_.end() ? 0 : found->second.queued_bytes;
}

void SimNetwork::pause_receiving(runtime::ConnectionId connection) {
    auto found = sides_.find(connection);
    if (found != sides_.end()) found->second.paused = true;
}

void SimNetwork::resume_receiving(runtime::ConnectionId connection) {
    auto found = sides_.find(connection);
    if (found == sides_.end() || !found->second.paused) return;
    found->second.paused = false;
    // Held frames go in on later events, never inside the caller's stack.
    events_.schedule_after(Duration(0), [this, connection] {
        while (sides_.contains(connection)) {
            Side& side = sides_.at(connection);
            if (side.paused || side.held.empty()) return;
            Buffer frame = std::move(side.held.front());
            side.held.pop_front();
            stats_.frames_delivered += 1;
            side.endpoint->on_connection_frame(connection, frame.view());
        }
    });
}

void SimNetwork::close(runtime::ConnectionId connection, const Status& reason) {
    auto found = sides_.find(connection);
    if (found == sides_.end()) return;
    const runtime::ConnectionId peer = found->second.peer;
    SimEndpoint* local = found->second.endpoint;
    SimEndpoint* remote = sides_.at(peer).endpoint;
    stats_.frames_lost_in_close += found->second.held.size() + sides_.at(peer).held.size();
    sides_.erase(connection);
    sides_.erase(peer);
    events_.schedule_after(Duration(0), [local, connection, reason] {
        local->on_connection_closed(connection, reason);
    });
    events_.schedule_after(options_.latency_min,
                           [remote, peer] { remote->on_connection_closed(peer, Status::ok()); });
}

}  // namespace shoal::sim

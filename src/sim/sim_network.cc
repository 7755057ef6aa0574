#include "shoal/sim/sim_network.h"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "shoal/base/limits.h"

namespace shoal::sim {
namespace {

constexpr size_t kSendReadyBytes = limits::kConnectionSendQueueBytesMax / 2;
constexpr uint32_t kPerMillion = 1'000'000;
// Where the ephemeral ports that an accepting end reports start, and how many there are.
constexpr uint64_t kEphemeralPortFirst = 32768;
constexpr uint64_t kEphemeralPorts = 28232;

}  // namespace

SimNetwork::SimNetwork(EventQueue& events, uint64_t seed, NetworkOptions options)
    : events_(events), prng_(seed), options_(options) {
    SHOAL_ASSERT(options_.datagram_loss_per_million <= kPerMillion);
    SHOAL_ASSERT(options_.datagram_duplicate_per_million <= kPerMillion);
}

void SimNetwork::attach(const HostPort& address, SimEndpoint& endpoint) {
    SHOAL_ASSERT(!address.host.empty());
    const bool inserted = attached_.emplace(key(address), &endpoint).second;
    SHOAL_ASSERT(inserted);
}

void SimNetwork::detach(const HostPort& address) {
    attached_.erase(key(address));
}

bool SimNetwork::is_attached(const HostPort& address) const {
    return attached_.contains(key(address));
}

void SimNetwork::crash(SimEndpoint& endpoint) {
    std::erase_if(attached_, [&](const auto& entry) { return entry.second == &endpoint; });
    std::vector<runtime::ConnectionId> owned;
    for (const auto& [id, side] : sides_) {
        if (side.endpoint == &endpoint) owned.push_back(id);
    }
    for (runtime::ConnectionId id : owned) {
        auto found = sides_.find(id);
        if (found == sides_.end()) continue;
        const runtime::ConnectionId peer = found->second.peer;
        forget(id);
        auto far = sides_.find(peer);
        // A connection to itself: its other end is forgotten in its own turn of this loop.
        if (far == sides_.end() || far->second.endpoint == &endpoint) continue;
        stats_.connections_reset += 1;
        far_end_gone(peer, Status::unavailable("sim: connection reset by peer"));
    }
}

runtime::ConnectionId SimNetwork::open(Side client, Side server) {
    const runtime::ConnectionId client_id{connection_next_++};
    const runtime::ConnectionId server_id{connection_next_++};
    client.peer = server_id;
    client.is_client = true;
    server.peer = client_id;
    sides_[client_id] = std::move(client);
    sides_[server_id] = std::move(server);
    stats_.connections_opened += 1;
    events_.schedule_after(options_.latency_min, [this, client_id, server_id] {
        // Either end may have closed it already, in which case the other hears why.
        if (!sides_.contains(client_id) || !sides_.contains(server_id)) return;
        sides_.at(client_id).opened = true;
        sides_.at(server_id).opened = true;
        sides_.at(server_id).endpoint->on_connection_opened(server_id);
        // The server may have closed it at once; the client still hears the open first.
        if (sides_.contains(client_id)) {
            sides_.at(client_id).endpoint->on_connection_opened(client_id);
        }
    });
    return client_id;
}

runtime::ConnectionId SimNetwork::connect(SimEndpoint& client, SimEndpoint& server) {
    return open(Side{.endpoint = &client, .peer_name = "sim"},
                Side{.endpoint = &server, .peer_name = "sim"});
}

runtime::ConnectionId SimNetwork::connect(SimEndpoint& client,
                                          const HostPort& from,
                                          const HostPort& to) {
    if (to.host.empty() || to.port == 0) {
        return refuse(client,
                      Status::invalid_argument(
                              fmt::format("sim: connect to \"{}\": no host or port", key(to))));
    }
    const std::string from_key = key(from);
    const std::string to_key = key(to);
    const bool link_cut = is_cut_key(from_key, to_key) || is_cut_key(to_key, from_key);
    auto target = attached_.find(to_key);
    if (!link_cut && target != attached_.end()) {
        const std::string accepted_name =
                from.host.empty() ? "sim"
                                  : HostPort{.host = from.host,
                                             .port = static_cast<uint16_t>(kEphemeralPortFirst +
                                                                           connection_next_ %
                                                                                   kEphemeralPorts)}
                                            .to_string();
        return open(Side{.endpoint = &client,
                         .address = from_key,
                         .peer_key = to_key,
                         .peer_name = to_key},
                    Side{.endpoint = target->second,
                         .address = to_key,
                         .peer_key = from_key,
                         .peer_name = accepted_name});
    }
    const runtime::ConnectionId id{connection_next_++};
    sides_[id] = Side{.endpoint = &client,
                      .address = from_key,
                      .peer_key = to_key,
                      .peer_name = to_key,
                      .is_client = true};
    if (link_cut) {
        // The SYN goes into the void; the client's connect timer fires.
        stats_.connections_timed_out += 1;
        const auto timeout_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(runtime::kConnectTimeout);
        notify_closed(
                id,
                runtime::kConnectTimeout,
                Status::timeout(fmt::format(
                        "sim: connect to {}: no answer within {} ms", to_key, timeout_ms.count())));
    } else {
        stats_.connections_refused += 1;
        notify_closed(
                id,
                2 * options_.latency_min,
                Status::unavailable(fmt::format("sim: connect to {}: connection refused", to_key)));
    }
    return id;
}

runtime::ConnectionId SimNetwork::refuse(SimEndpoint& client, const Status& reason) {
    SHOAL_ASSERT(!reason.is_ok());
    const runtime::ConnectionId id{connection_next_++};
    sides_[id] = Side{.endpoint = &client, .is_client = true};
    notify_closed(id, Duration(0), reason);
    return id;
}

std::string SimNetwork::peer_address(runtime::ConnectionId connection) const {
    auto found = sides_.find(connection);
    return found == sides_.end() ? "" : found->second.peer_name;
}

void SimNetwork::send(runtime::ConnectionId connection, Buffer frame) {
    auto found = sides_.find(connection);
    if (found == sides_.end()) return;
    Side& side = found->second;
    stats_.frames_sent += 1;
    side.queued_bytes += frame.size();
    if (side.queued_bytes >= kSendReadyBytes) side.notify_send_ready = true;
    const size_t frame_bytes = frame.size();
    side.in_flight.push_back(std::move(frame));
    // A stalled side's frames are scheduled again, all of them, when the link heals.
    if (!side.stalled) schedule_delivery(connection, side, frame_bytes);
}

// Each scheduled delivery takes the frame at the front of `in_flight`: deliveries run in time
// order and are scheduled in nondecreasing time, so frames leave in the order sent. A stall
// voids the scheduled ones by bumping the generation; the heal schedules them anew.
void SimNetwork::schedule_delivery(runtime::ConnectionId from, Side& side, size_t frame_bytes) {
    const Duration jitter(
            prng_.below(static_cast<uint64_t>(options_.latency_jitter_max.count()) + 1));
    const Duration transfer(frame_bytes * 1'000'000'000 / options_.bandwidth_bytes_per_second);
    const Instant at =
            std::max(events_.now() + options_.latency_min + jitter, side.delivery_last) + transfer;
    side.delivery_last = at;
    events_.schedule(
            at, [this, from, generation = side.generation] { deliver_next(from, generation); });
}

void SimNetwork::deliver_next(runtime::ConnectionId from, uint64_t generation) {
    auto found = sides_.find(from);
    if (found == sides_.end()) return;  // Closed: forget() counted its frames as lost.
    Side& sender = found->second;
    if (generation != sender.generation) return;
    SHOAL_ASSERT(!sender.in_flight.empty());
    if (!sides_.contains(sender.peer)) {
        // The far end is gone (or never was, for a refused connect): the frame is lost.
        sender.queued_bytes -= sender.in_flight.front().size();
        sender.in_flight.pop_front();
        stats_.frames_lost_in_close += 1;
        return;
    }
    if (is_cut_key(sender.address, sender.peer_key)) {
        sender.stalled = true;
        sender.generation += 1;
        stats_.frames_stalled += 1;
        return;
    }
    Buffer frame = std::move(sender.in_flight.front());
    sender.in_flight.pop_front();
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
    forget(connection);
    events_.schedule_after(Duration(0), [local, connection, reason] {
        local->on_connection_closed(connection, reason);
    });
    if (sides_.contains(peer)) far_end_gone(peer, Status::ok());
}

void SimNetwork::far_end_gone(runtime::ConnectionId peer, const Status& reason) {
    Side& remote = sides_.at(peer);
    remote.peer = runtime::ConnectionId{0};
    if (!remote.opened && !remote.is_client) {
        forget(peer);  // An accepting end that had not yet heard of it hears nothing.
        return;
    }
    const Status notice =
            remote.opened ? reason : Status::unavailable("sim: connect: connection refused");
    if (is_cut_key(remote.peer_key, remote.address)) {
        remote.close_notice = notice;  // The FIN or reset is stuck behind the cut.
        return;
    }
    notify_closed(peer, options_.latency_min, notice);
}

void SimNetwork::notify_closed(runtime::ConnectionId connection,
                               Duration delay,
                               const Status& reason) {
    events_.schedule_after(delay, [this, connection, reason] {
        auto found = sides_.find(connection);
        if (found == sides_.end()) return;  // Its owner closed it first, or crashed.
        SimEndpoint* endpoint = found->second.endpoint;
        forget(connection);
        endpoint->on_connection_closed(connection, reason);
    });
}

void SimNetwork::forget(runtime::ConnectionId connection) {
    const Side& side = sides_.at(connection);
    stats_.frames_lost_in_close += side.in_flight.size() + side.held.size();
    sides_.erase(connection);
}

void SimNetwork::send_datagram(const HostPort& from, const HostPort& to, Buffer bytes) {
    SHOAL_ASSERT(bytes.size() <= runtime::kDatagramBytesMax);
    stats_.datagrams_sent += 1;
    if (is_cut_key(key(from), key(to))) {
        stats_.datagrams_cut += 1;
        return;
    }
    const uint32_t loss = options_.datagram_loss_per_million;
    if (loss > 0 && prng_.chance(loss, kPerMillion)) {
        stats_.datagrams_lost += 1;
        return;
    }
    const uint32_t duplicate = options_.datagram_duplicate_per_million;
    if (duplicate > 0 && prng_.chance(duplicate, kPerMillion)) {
        stats_.datagrams_duplicated += 1;
        schedule_datagram(from, to, bytes.clone());  // Each copy takes its own latency.
    }
    schedule_datagram(from, to, std::move(bytes));
}

void SimNetwork::schedule_datagram(const HostPort& from, const HostPort& to, Buffer bytes) {
    const Duration jitter(
            prng_.below(static_cast<uint64_t>(options_.latency_jitter_max.count()) + 1));
    const Duration transfer(bytes.size() * 1'000'000'000 / options_.bandwidth_bytes_per_second);
    // std::function needs a copyable callable; the bytes move in through a shared slot.
    auto slot = std::make_shared<Buffer>(std::move(bytes));
    events_.schedule_after(options_.latency_min + jitter + transfer, [this, from, to, slot] {
        deliver_datagram(from, to, std::move(*slot));
    });
}

void SimNetwork::deliver_datagram(const HostPort& from, const HostPort& to, Buffer bytes) {
    // A link cut while the datagram was on its way loses it too.
    if (is_cut_key(key(from), key(to))) {
        stats_.datagrams_cut += 1;
        return;
    }
    auto target = attached_.find(key(to));
    if (target == attached_.end()) {
        stats_.datagrams_unattached += 1;
        return;
    }
    stats_.datagrams_delivered += 1;
    target->second->on_datagram(from, bytes.view());
}

void SimNetwork::set_datagram_loss_per_million(uint32_t loss_per_million) {
    SHOAL_ASSERT(loss_per_million <= kPerMillion);
    options_.datagram_loss_per_million = loss_per_million;
}

void SimNetwork::cut(const std::vector<HostPort>& side_a, const std::vector<HostPort>& side_b) {
    cut_one_way(side_a, side_b);
    cut_one_way(side_b, side_a);
}

void SimNetwork::cut_one_way(const std::vector<HostPort>& sources,
                             const std::vector<HostPort>& targets) {
    for (const HostPort& source : sources) {
        for (const HostPort& target : targets) {
            if (key(source) != key(target)) cut_links_.emplace(key(source), key(target));
        }
    }
}

void SimNetwork::heal(const std::vector<HostPort>& side_a, const std::vector<HostPort>& side_b) {
    for (const HostPort& a : side_a) {
        for (const HostPort& b : side_b) {
            cut_links_.erase({key(a), key(b)});
            cut_links_.erase({key(b), key(a)});
        }
    }
    resume_healed_links();
}

void SimNetwork::heal_all() {
    cut_links_.clear();
    resume_healed_links();
}

bool SimNetwork::is_cut(const HostPort& source, const HostPort& target) const {
    return is_cut_key(key(source), key(target));
}

bool SimNetwork::is_cut_key(const std::string& source, const std::string& target) const {
    if (source.empty() || target.empty() || cut_links_.empty()) return false;
    return cut_links_.contains({source, target});
}

void SimNetwork::resume_healed_links() {
    std::vector<runtime::ConnectionId> noticed;
    for (auto& [id, side] : sides_) {
        if (side.stalled && !is_cut_key(side.address, side.peer_key)) {
            side.stalled = false;
            side.generation += 1;
            for (const Buffer& frame : side.in_flight) {
                schedule_delivery(id, side, frame.size());
            }
        }
        if (side.close_notice.has_value() && !is_cut_key(side.peer_key, side.address)) {
            noticed.push_back(id);
        }
    }
    for (runtime::ConnectionId id : noticed) {
        Side& side = sides_.at(id);
        const Status reason = std::move(*side.close_notice);
        side.close_notice.reset();
        notify_closed(id, options_.latency_min, reason);
    }
}

}  // namespace shoal::sim

// Goal: UvRuntime's datagrams and outbound connections do on loopback what runtime.h promises.
// Datagrams go both ways between the runtime and a plain socket, carry the sender's address,
// and reach a host name; one over the limit is refused on send and dropped on receipt; empty
// and garbage ones never disturb the runtime. A connect reaches a listener and frames flow both
// ways as on an accepted connection. A connect to a closed port, to no address, one closed
// early and one that gets no answer each end in on_closed with the code the contract names, on
// a later turn and never with on_connected.
//
// Method: one UvRuntime per test on 127.0.0.1 with OS-chosen ports, driven by a handler that
// runs a script step on each tick and stops the runtime once the step says it is done, or after
// a bounded number of ticks; plain POSIX sockets play the other peers. No sleeps: every wait is
// a bounded count of ticks.
#include <algorithm>
#include <fcntl.h>
#include <functional>
#include <map>
#include <optional>
#include <poll.h>
#include <string>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include "shoal/base/limits.h"
#include "shoal/base/prng.h"
#include "shoal/runtime_uv/uv_runtime.h"
#include "shoal/wire/frame.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace shoal::integration {
namespace {

using runtime::ConnectionId;

constexpr uint64_t kTicksMax = 1000;  // 10 s: far beyond what any step needs.

HostPort loopback(uint16_t port) {
    return HostPort{.host = "127.0.0.1", .port = port};
}

runtime::OutFrame text_frame(std::string_view text) {
    Buffer head;
    wire::encode_frame_header({.body_bytes = static_cast<uint32_t>(text.size()),
                               .kind = wire::FrameKind::kData,
                               .request_id = RequestId{1}},
                              head);
    head.append(text);
    return runtime::OutFrame{.head = std::move(head)};
}

sockaddr_in loopback_socket_address(uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

uint16_t bound_port(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof(address);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    return ntohs(address.sin_port);
}

// A plain, non-blocking UDP socket on 127.0.0.1.
class UdpSocket {
public:
    UdpSocket() : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) {
        REQUIRE(fd_ >= 0);
        const sockaddr_in address = loopback_socket_address(0);
        REQUIRE(bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
    }
    ~UdpSocket() { ::close(fd_); }
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;
    UdpSocket(UdpSocket&&) = delete;
    UdpSocket& operator=(UdpSocket&&) = delete;

    uint16_t port() const { return bound_port(fd_); }

    void send_to(uint16_t port, const std::string& bytes) const {
        const sockaddr_in address = loopback_socket_address(port);
        const ssize_t sent = sendto(fd_,
                                    bytes.data(),
                                    bytes.size(),
                                    0,
                                    reinterpret_cast<const sockaddr*>(&address),
                                    sizeof(address));
        REQUIRE(sent == static_cast<ssize_t>(bytes.size()));
    }

    // The next datagram waiting, if any.
    std::optional<std::string> receive() const {
        std::string bytes(70'000, '\0');
        const ssize_t received = recv(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT);
        if (received < 0) return std::nullopt;
        bytes.resize(static_cast<size_t>(received));
        return bytes;
    }

private:
    int fd_;
};

// Records every event, and runs `step` on each tick until it returns true (then stops the
// runtime) or kTicksMax ticks have passed.
class ScriptHandler final : public runtime::Handler {
public:
    explicit ScriptHandler(runtime_uv::UvRuntime& runtime) : runtime_(runtime) {}

    void on_tick() override {
        if (done_) return;
        ticks += 1;
        if (step(ticks) || ticks >= kTicksMax) {
            done_ = true;
            runtime_.stop();
        }
    }
    void on_turn_end() override {}
    void on_accepted(ConnectionId connection, const std::string& peer) override {
        REQUIRE_FALSE(in_call);
        accepted[connection] = peer;
        events.push_back("accepted " + std::to_string(to_u64(connection)));
    }
    void on_connected(ConnectionId connection) override {
        REQUIRE_FALSE(in_call);
        connected.push_back(connection);
        events.push_back("connected " + std::to_string(to_u64(connection)));
    }
    void on_frame(ConnectionId connection, ByteView frame) override {
        frames[connection].emplace_back(as_string_view(frame.subspan(wire::kFrameHeaderBytes)));
        events.push_back("frame " + std::to_string(to_u64(connection)));
        if (after_frame) after_frame(connection);
    }
    void on_send_ready(ConnectionId) override {}
    void on_closed(ConnectionId connection, const Status& reason) override {
        REQUIRE_FALSE(in_call);
        REQUIRE(closed.emplace(connection, reason).second);  // Once per connection.
    }
    void on_datagram(const HostPort& from, ByteView bytes) override {
        datagrams.emplace_back(from.to_string(), std::string(as_string_view(bytes)));
    }

    // Runs `call` with in_call set, so that a callback made inside it fails the test.
    template <typename Call>
    auto inside(Call call) {
        in_call = true;
        auto result = call();
        in_call = false;
        return result;
    }

    std::function<bool(uint64_t tick)> step;
    std::function<void(ConnectionId)> after_frame;  // Optional.
    uint64_t ticks = 0;
    bool in_call = false;
    std::map<ConnectionId, std::string> accepted;
    std::vector<ConnectionId> connected;
    std::map<ConnectionId, std::vector<std::string>> frames;
    std::map<ConnectionId, Status> closed;
    std::vector<std::pair<std::string, std::string>> datagrams;  // (from, bytes)
    std::vector<std::string> events;

private:
    runtime_uv::UvRuntime& runtime_;
    bool done_ = false;
};

spdlog::logger null_logger() {
    return spdlog::logger("test.runtime", std::make_shared<spdlog::sinks::null_sink_st>());
}

bool received(const ScriptHandler& handler, const std::string& bytes) {
    return std::any_of(handler.datagrams.begin(),
                       handler.datagrams.end(),
                       [&](const auto& datagram) { return datagram.second == bytes; });
}

std::string from_of(const ScriptHandler& handler, const std::string& bytes) {
    for (const auto& [from, received_bytes] : handler.datagrams) {
        if (received_bytes == bytes) return from;
    }
    return "";
}

TEST_CASE("integration: UvRuntime sends and receives datagrams on loopback",
          "[integration][network][datagram]") {
    spdlog::logger log = null_logger();
    runtime_uv::UvRuntime runtime(log);
    REQUIRE(runtime.bind_datagram(loopback(0)).is_ok());
    const uint16_t port = runtime.datagram_port();
    REQUIRE(port != 0);
    runtime::Network& network = runtime.network();
    UdpSocket peer;
    std::vector<std::string> peer_received;

    std::string garbage(1000, '\0');
    Prng prng(/*seed=*/7);
    prng.fill(reinterpret_cast<std::byte*>(garbage.data()), garbage.size());
    const std::string largest(runtime::kDatagramBytesMax, 'm');

    ScriptHandler handler(runtime);
    handler.step = [&](uint64_t tick) {
        if (tick == 1) {
            network.send_datagram(loopback(port), as_bytes("to self"));
            network.send_datagram(HostPort{.host = "localhost", .port = port}, as_bytes("by name"));
            network.send_datagram(loopback(peer.port()), as_bytes("to peer"));
            const std::string too_large(runtime::kDatagramBytesMax + 1, 'x');
            network.send_datagram(loopback(peer.port()), as_bytes(too_large));
            peer.send_to(port, "from peer");
            peer.send_to(port, garbage);
            peer.send_to(port, largest);
            peer.send_to(port, std::string(runtime::kDatagramBytesMax + 100, 'o'));
            peer.send_to(port, "");
        }
        while (std::optional<std::string> datagram = peer.receive()) {
            peer_received.push_back(*datagram);
        }
        return handler.datagrams.size() == 5 && peer_received.size() == 1 &&
               network.datagram_stats().receive_dropped == 2;
    };
    runtime.run(handler);

    REQUIRE(handler.ticks < kTicksMax);
    REQUIRE(peer_received == std::vector<std::string>{"to peer"});
    const std::string self = "127.0.0.1:" + std::to_string(port);
    REQUIRE(from_of(handler, "to self") == self);
    REQUIRE(from_of(handler, "by name") == self);
    REQUIRE(from_of(handler, "from peer") == "127.0.0.1:" + std::to_string(peer.port()));
    REQUIRE(received(handler, garbage));
    REQUIRE(received(handler, largest));
    const runtime::DatagramStats stats = network.datagram_stats();
    REQUIRE(stats.sent == 3);
    REQUIRE(stats.send_rejected == 1);
    REQUIRE(stats.send_failed == 0);
    REQUIRE(stats.received == 5);
    REQUIRE(stats.receive_dropped == 2);  // The one over the limit, and the empty one.
}

TEST_CASE("integration: a datagram sent with no socket bound is counted as failed",
          "[integration][network][datagram]") {
    spdlog::logger log = null_logger();
    runtime_uv::UvRuntime runtime(log);
    ScriptHandler handler(runtime);
    handler.step = [&](uint64_t) {
        runtime.network().send_datagram(loopback(9), as_bytes("nowhere"));
        return true;
    };
    runtime.run(handler);
    REQUIRE(runtime.network().datagram_stats().send_failed == 1);
    REQUIRE(runtime.network().datagram_stats().sent == 0);
}

TEST_CASE("integration: UvRuntime connects to a listener and frames flow both ways",
          "[integration][network][connect]") {
    spdlog::logger log = null_logger();
    runtime_uv::UvRuntime runtime(log);
    REQUIRE(runtime.listen(loopback(0)).is_ok());
    const uint16_t port = runtime.listening_port();
    runtime::Network& network = runtime.network();
    std::vector<ConnectionId> outbound;
    bool replied = false;
    bool closing = false;

    ScriptHandler handler(runtime);
    handler.step = [&](uint64_t tick) {
        if (tick == 1) {
            for (const HostPort& to :
                 {loopback(port), HostPort{.host = "localhost", .port = port}}) {
                const ConnectionId id = handler.inside([&] { return network.connect(to); });
                network.send(id, text_frame("hello from " + std::to_string(to_u64(id))));
                outbound.push_back(id);
            }
            return false;
        }
        const auto has_frame = [&](ConnectionId id) {
            return !handler.frames[id].empty();
        };
        if (!replied && handler.accepted.size() == 2 &&
            std::all_of(handler.accepted.begin(), handler.accepted.end(), [&](const auto& entry) {
                return has_frame(entry.first);
            })) {
            for (const auto& [inbound, peer] : handler.accepted) {
                network.send(inbound, text_frame("re: " + handler.frames[inbound][0]));
            }
            replied = true;
        }
        if (replied && !closing && std::all_of(outbound.begin(), outbound.end(), has_frame)) {
            for (ConnectionId id : outbound) {
                network.close(id);
            }
            closing = true;
        }
        return closing && handler.closed.size() == 4;
    };
    runtime.run(handler);

    REQUIRE(handler.ticks < kTicksMax);
    REQUIRE(handler.connected == outbound);
    for (ConnectionId id : outbound) {
        const std::string name = std::to_string(to_u64(id));
        REQUIRE(handler.frames[id] == std::vector<std::string>{"re: hello from " + name});
        // on_connected comes before the connection's first frame.
        const auto connected_at =
                std::find(handler.events.begin(), handler.events.end(), "connected " + name);
        const auto frame_at =
                std::find(handler.events.begin(), handler.events.end(), "frame " + name);
        REQUIRE(connected_at < frame_at);
        REQUIRE(handler.closed.at(id).is_ok());
        REQUIRE_FALSE(handler.accepted.contains(id));
    }
    for (const auto& [inbound, peer] : handler.accepted) {
        REQUIRE(peer.starts_with("127.0.0.1:"));
        REQUIRE(handler.closed.at(inbound).is_ok());  // The far end closed: EOF.
    }
}

TEST_CASE("integration: a connect that cannot succeed fails on a later turn with its reason",
          "[integration][network][connect]") {
    spdlog::logger log = null_logger();
    runtime_uv::UvRuntime runtime(log);
    REQUIRE(runtime.listen(loopback(0)).is_ok());
    const uint16_t listening = runtime.listening_port();
    // A port that was free a moment ago and has no listener: connecting is refused.
    const int probe = socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in any = loopback_socket_address(0);
    REQUIRE(bind(probe, reinterpret_cast<const sockaddr*>(&any), sizeof(any)) == 0);
    const uint16_t closed_port = bound_port(probe);
    ::close(probe);
    runtime::Network& network = runtime.network();
    ConnectionId refused{};
    ConnectionId invalid{};
    ConnectionId cancelled{};

    ScriptHandler handler(runtime);
    handler.step = [&](uint64_t tick) {
        if (tick == 1) {
            handler.in_call = true;
            refused = network.connect(loopback(closed_port));
            network.send(refused, text_frame("never sent"));
            invalid = network.connect(HostPort{.host = "", .port = 1});
            cancelled = network.connect(loopback(listening));
            network.close(cancelled);
            handler.in_call = false;
        }
        return handler.closed.contains(refused) && handler.closed.contains(invalid) &&
               handler.closed.contains(cancelled);
    };
    runtime.run(handler);

    REQUIRE(handler.ticks < kTicksMax);
    REQUIRE(handler.connected.empty());
    REQUIRE(handler.closed.at(refused).code() == Code::kUnavailable);
    INFO(handler.closed.at(refused).message());
    REQUIRE(handler.closed.at(refused).message().find("connect to 127.0.0.1:") !=
            std::string::npos);
    REQUIRE(handler.closed.at(invalid).code() == Code::kInvalidArgument);
    REQUIRE(handler.closed.at(cancelled).is_ok());
}

TEST_CASE("integration: a connect that gets no answer fails with kTimeout after kConnectTimeout",
          "[integration][network][connect]") {
    // A listener whose accept queue is full: Linux drops further SYNs, so a connect hangs.
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in any = loopback_socket_address(0);
    REQUIRE(bind(listener, reinterpret_cast<const sockaddr*>(&any), sizeof(any)) == 0);
    REQUIRE(::listen(listener, 0) == 0);
    const uint16_t port = bound_port(listener);
    const int filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const sockaddr_in target = loopback_socket_address(port);
    connect(filler, reinterpret_cast<const sockaddr*>(&target), sizeof(target));
    pollfd established{.fd = filler, .events = POLLOUT, .revents = 0};
    REQUIRE(poll(&established, 1, /*timeout_ms=*/2000) == 1);

    spdlog::logger log = null_logger();
    runtime_uv::UvRuntime runtime(log);
    ConnectionId id{};
    Instant started;
    Instant ended;
    ScriptHandler handler(runtime);
    handler.step = [&](uint64_t tick) {
        if (tick == 1) {
            id = runtime.network().connect(loopback(port));
            started = runtime.now();
        }
        if (!handler.closed.contains(id)) return false;
        ended = runtime.now();
        return true;
    };
    runtime.run(handler);
    ::close(filler);
    ::close(listener);

    REQUIRE(handler.ticks < kTicksMax);
    REQUIRE(handler.connected.empty());
    INFO(handler.closed.at(id).message());
    REQUIRE(handler.closed.at(id).code() == Code::kTimeout);
    REQUIRE(ended - started >= runtime::kConnectTimeout - std::chrono::milliseconds(20));
}

}  // namespace
}  // namespace shoal::integration

namespace shoal::integration {
namespace {

// A frame of `payload_bytes` bytes, its payload held apart from its head as a reply's is.
runtime::OutFrame big_frame(const std::shared_ptr<const std::string>& payload) {
    Buffer head;
    wire::encode_frame_header({.body_bytes = static_cast<uint32_t>(payload->size()),
                               .kind = wire::FrameKind::kData,
                               .request_id = RequestId{2}},
                              head);
    return runtime::OutFrame{.head = std::move(head),
                             .payload = as_bytes(std::string_view(*payload)),
                             .payload_owner = payload};
}

std::string bytes_of(const runtime::OutFrame& frame) {
    return std::string(as_string_view(frame.head.view())) +
           std::string(as_string_view(frame.payload));
}

TEST_CASE(
        "integration: a resumed connection with nothing to send, then a frame larger than "
        "the socket takes at once, arrive whole and in order",
        "[integration][network][send]") {
    spdlog::logger log = null_logger();
    runtime_uv::UvRuntime runtime(log);
    REQUIRE(runtime.listen(loopback(0)).is_ok());
    runtime::Network& network = runtime.network();

    const int client = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(client >= 0);
    const sockaddr_in address = loopback_socket_address(runtime.listening_port());
    REQUIRE(connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
    const std::string two_frames = bytes_of(text_frame("one")) + bytes_of(text_frame("two"));
    REQUIRE(write(client, two_frames.data(), two_frames.size()) ==
            static_cast<ssize_t>(two_frames.size()));
    REQUIRE(fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK) == 0);

    // Two of the largest frames: more than a loopback socket takes at once, so the rest of
    // them waits for the poller.
    Prng prng(11);
    std::string payload_bytes(limits::kFrameBodyBytesMax, '\0');
    for (char& byte : payload_bytes) {
        byte = static_cast<char>(prng.below(256));
    }
    const auto payload = std::make_shared<const std::string>(std::move(payload_bytes));
    const std::string expected = bytes_of(big_frame(payload)) + bytes_of(big_frame(payload)) +
                                 bytes_of(text_frame("after"));

    ScriptHandler handler(runtime);
    std::optional<ConnectionId> inbound;
    std::optional<uint64_t> paused_at;
    bool sent = false;
    std::string received_bytes;
    // Paused after the first frame: the second one waits, buffered, for the resume.
    handler.after_frame = [&](ConnectionId connection) {
        if (paused_at.has_value()) return;
        inbound = connection;
        network.pause_receiving(connection);
        paused_at = handler.ticks;
    };
    handler.step = [&](uint64_t tick) {
        if (!paused_at.has_value()) return false;
        if (tick == *paused_at + 2) {
            REQUIRE(handler.frames[*inbound] == std::vector<std::string>{"one"});
            network.resume_receiving(*inbound);  // Frames waiting, nothing to send.
            return false;
        }
        if (!sent && handler.frames[*inbound].size() == 2) {
            network.send(*inbound, big_frame(payload));
            network.send(*inbound, big_frame(payload));
            network.send(*inbound, text_frame("after"));
            sent = true;
        }
        std::string chunk(1 << 20, '\0');
        for (ssize_t got = 0; (got = read(client, chunk.data(), chunk.size())) > 0;) {
            received_bytes.append(chunk.data(), static_cast<size_t>(got));
        }
        return received_bytes.size() >= expected.size();
    };
    runtime.run(handler);
    ::close(client);

    REQUIRE(handler.ticks < kTicksMax);
    REQUIRE(handler.frames[*inbound] == std::vector<std::string>{"one", "two"});
    REQUIRE(received_bytes.size() == expected.size());
    REQUIRE(received_bytes == expected);
}

}  // namespace
}  // namespace shoal::integration

// Goal: the simulator's scheduler and network keep the promises the node relies on.
//
// Method: drive EventQueue and SimNetwork by hand with recording endpoints: events run in
// (time, sequence) order, frames on a connection arrive in order and after their latency,
// send-queue bytes drain as frames land, a paused receiver gets its frames on resume, and a
// close reaches both ends.
#include <vector>

#include <catch2/catch.hpp>

#include "shoal/sim/event_queue.h"
#include "shoal/sim/sim_network.h"

namespace shoal::sim {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST_CASE("sim: events run in time order and ties in scheduling order", "[sim][event_queue]") {
    EventQueue events;
    std::vector<int> order;
    events.schedule(Instant(milliseconds(5)), [&] { order.push_back(3); });
    events.schedule(Instant(milliseconds(1)), [&] { order.push_back(1); });
    events.schedule(Instant(milliseconds(1)), [&] { order.push_back(2); });
    events.schedule(Instant(milliseconds(9)), [&] { order.push_back(4); });
    REQUIRE(events.run_until(Instant(milliseconds(5))) == 3);
    REQUIRE(order == std::vector<int>{1, 2, 3});
    REQUIRE(events.now() == Instant(milliseconds(5)));
    REQUIRE(events.run_until(Instant(milliseconds(20))) == 1);
    REQUIRE(events.now() == Instant(milliseconds(20)));
}

class Recorder final : public SimEndpoint {
public:
    void on_connection_opened(runtime::ConnectionId connection) override {
        opened.push_back(connection);
    }
    void on_connection_frame(runtime::ConnectionId, ByteView frame) override {
        frames.emplace_back(as_string_view(frame));
    }
    void on_connection_send_ready(runtime::ConnectionId) override { send_ready += 1; }
    void on_connection_closed(runtime::ConnectionId, const Status&) override { closed += 1; }

    std::vector<runtime::ConnectionId> opened;
    std::vector<std::string> frames;
    int send_ready = 0;
    int closed = 0;
};

TEST_CASE("sim: a connection delivers in order, with backpressure and pauses", "[sim][network]") {
    EventQueue events;
    SimNetwork network(events, /*seed=*/3);
    Recorder client;
    Recorder server;
    const runtime::ConnectionId id = network.connect(client, server);
    events.run_until(events.now() + milliseconds(1));
    REQUIRE(client.opened == std::vector<runtime::ConnectionId>{id});
    REQUIRE(server.opened.size() == 1);

    for (int index = 0; index < 50; index++)
        network.send(id, Buffer(as_bytes(std::to_string(index))));
    REQUIRE(network.send_queue_bytes(id) > 0);
    REQUIRE(server.frames.empty());  // Nothing arrives inside the call that sent it.
    events.run_until(events.now() + milliseconds(10));
    REQUIRE(server.frames.size() == 50);
    for (size_t index = 0; index < 50; index++)
        REQUIRE(server.frames[index] == std::to_string(index));
    REQUIRE(network.send_queue_bytes(id) == 0);

    SECTION("a paused receiver gets held frames after it resumes") {
        network.pause_receiving(server.opened[0]);
        network.send(id, Buffer(as_bytes(std::string_view("held"))));
        events.run_until(events.now() + milliseconds(10));
        REQUIRE(server.frames.size() == 50);
        network.resume_receiving(server.opened[0]);
        events.run_until(events.now() + milliseconds(1));
        REQUIRE(server.frames.back() == "held");
    }
    SECTION("a large backlog reports send-ready as it drains") {
        Buffer big(4 * 1024 * 1024);
        std::memset(big.data(), 0, big.size());
        network.send(id, big.clone());
        network.send(id, std::move(big));
        events.run_until(events.now() + milliseconds(100));
        REQUIRE(client.send_ready == 1);
    }
    SECTION("a close reaches both ends and loses what was in flight") {
        network.send(id, Buffer(as_bytes(std::string_view("lost"))));
        network.close(id, Status::ok());
        events.run_until(events.now() + milliseconds(10));
        REQUIRE(client.closed == 1);
        REQUIRE(server.closed == 1);
        REQUIRE(server.frames.size() == 50);
        REQUIRE(network.stats().frames_lost_in_close == 1);
    }
}

}  // namespace
}  // namespace shoal::sim

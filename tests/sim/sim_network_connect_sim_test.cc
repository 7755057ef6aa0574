// Goal: a simulated node's outbound connections keep Network::connect()'s promises: a node
// reaches another by address and frames flow both ways as on an accepted connection; a connect
// to nobody is refused, one across a cut link times out, and every connection ends with
// exactly one on_closed; cut links stall frames and close notices until they heal; a crash
// resets the crashed node's connections.
//
// Method: simulated nodes with recording handlers (their on_closed fails the test if called
// twice for one connection) on one SimNetwork, driven by running the EventQueue.
#include <catch2/catch.hpp>

#include "sim/sim_network_support.h"

namespace shoal::sim {
namespace {

using std::chrono::milliseconds;
using testing::node_address;
using testing::SimNode;
using testing::text_frame;

struct TwoNodes {
    EventQueue events;
    SimNetwork network{events, /*seed=*/21};
    SimNode a{events, network, 1};
    SimNode b{events, network, 2};

    void run_for(Duration duration) { events.run_until(events.now() + duration); }

    // Connects a to b and returns (a's id, b's id) once both ends have heard.
    std::pair<runtime::ConnectionId, runtime::ConnectionId> establish() {
        const runtime::ConnectionId outbound = a.runtime.connect(b.address);
        run_for(milliseconds(1));
        REQUIRE(a.handler.connected == std::vector<runtime::ConnectionId>{outbound});
        REQUIRE(b.handler.accepted.size() == 1);
        return {outbound, b.handler.accepted[0].first};
    }
};

TEST_CASE("sim: a node connects to another by address and frames flow both ways",
          "[sim][network][connect]") {
    TwoNodes nodes;
    const runtime::ConnectionId outbound = nodes.a.runtime.connect(nodes.b.address);
    nodes.a.runtime.send(outbound, text_frame("sent before connected"));
    REQUIRE(nodes.a.runtime.send_queue_bytes(outbound) > 0);
    REQUIRE(nodes.a.handler.connected.empty());  // Never inside connect().
    nodes.run_for(milliseconds(1));

    REQUIRE(nodes.a.handler.connected == std::vector<runtime::ConnectionId>{outbound});
    REQUIRE(nodes.a.handler.accepted.empty());
    REQUIRE(nodes.b.handler.accepted.size() == 1);
    const auto [inbound, peer] = nodes.b.handler.accepted[0];
    // The accepting end sees the connecting node's host with an ephemeral port.
    const HostPort peer_address = parse_host_port(peer).value();
    REQUIRE(peer_address.host == "10.0.0.1");
    REQUIRE(peer_address.port != 7400);
    REQUIRE(nodes.b.handler.frames[inbound] == std::vector<std::string>{"sent before connected"});

    nodes.b.runtime.send(inbound, text_frame("reply"));
    nodes.a.runtime.send(outbound, text_frame("second"));
    nodes.run_for(milliseconds(1));
    REQUIRE(nodes.a.handler.frames[outbound] == std::vector<std::string>{"reply"});
    REQUIRE(nodes.b.handler.frames[inbound].back() == "second");

    nodes.a.runtime.close(outbound);
    nodes.run_for(milliseconds(1));
    REQUIRE(nodes.a.handler.closed.at(outbound).is_ok());
    REQUIRE(nodes.b.handler.closed.at(inbound).is_ok());
}

TEST_CASE("sim: a connect that cannot succeed ends in on_closed without on_connected",
          "[sim][network][connect]") {
    TwoNodes nodes;
    SECTION("nothing attached at the address: refused") {
        const runtime::ConnectionId id = nodes.a.runtime.connect(node_address(9));
        nodes.a.runtime.send(id, text_frame("lost"));
        REQUIRE(nodes.a.handler.closed.empty());
        nodes.run_for(milliseconds(1));
        REQUIRE(nodes.a.handler.closed.at(id).code() == Code::kUnavailable);
        REQUIRE(nodes.network.stats().connections_refused == 1);
    }
    SECTION("a crashed node: refused") {
        nodes.b.runtime.crash();
        const runtime::ConnectionId id = nodes.a.runtime.connect(nodes.b.address);
        nodes.run_for(milliseconds(1));
        REQUIRE(nodes.a.handler.closed.at(id).code() == Code::kUnavailable);
    }
    SECTION("a cut link: times out after kConnectTimeout") {
        nodes.network.cut({nodes.a.address}, {nodes.b.address});
        const runtime::ConnectionId id = nodes.a.runtime.connect(nodes.b.address);
        nodes.run_for(runtime::kConnectTimeout - milliseconds(1));
        REQUIRE(nodes.a.handler.closed.empty());
        nodes.run_for(milliseconds(2));
        REQUIRE(nodes.a.handler.closed.at(id).code() == Code::kTimeout);
        REQUIRE(nodes.network.stats().connections_timed_out == 1);
    }
    SECTION("a one-way cut is enough to time out") {
        nodes.network.cut_one_way({nodes.b.address}, {nodes.a.address});
        const runtime::ConnectionId id = nodes.a.runtime.connect(nodes.b.address);
        nodes.run_for(runtime::kConnectTimeout + milliseconds(1));
        REQUIRE(nodes.a.handler.closed.at(id).code() == Code::kTimeout);
    }
    SECTION("no host or port: kInvalidArgument") {
        const runtime::ConnectionId id = nodes.a.runtime.connect(HostPort{.host = "", .port = 1});
        const runtime::ConnectionId other =
                nodes.a.runtime.connect(HostPort{.host = "10.0.0.2", .port = 0});
        nodes.run_for(milliseconds(1));
        REQUIRE(nodes.a.handler.closed.at(id).code() == Code::kInvalidArgument);
        REQUIRE(nodes.a.handler.closed.at(other).code() == Code::kInvalidArgument);
    }
    SECTION("a stopped node cannot connect") {
        nodes.a.runtime.stop();
        const runtime::ConnectionId id = nodes.a.runtime.connect(nodes.b.address);
        nodes.run_for(milliseconds(1));
        REQUIRE(nodes.a.handler.closed.at(id).code() == Code::kUnavailable);
    }
    REQUIRE(nodes.a.handler.connected.empty());
    REQUIRE(nodes.b.handler.accepted.empty());
}

TEST_CASE("sim: closing a connection before it is established cancels it",
          "[sim][network][connect]") {
    TwoNodes nodes;
    const runtime::ConnectionId id = nodes.a.runtime.connect(nodes.b.address);
    nodes.a.runtime.close(id);
    nodes.run_for(milliseconds(1));
    REQUIRE(nodes.a.handler.connected.empty());
    REQUIRE(nodes.a.handler.closed.at(id).is_ok());
    // The far end never heard of it.
    REQUIRE(nodes.b.handler.accepted.empty());
    REQUIRE(nodes.b.handler.closed.empty());
}

TEST_CASE("sim: frames across a cut link stall, then arrive in order when it heals",
          "[sim][network][connect][partition]") {
    TwoNodes nodes;
    const auto [outbound, inbound] = nodes.establish();
    nodes.a.runtime.send(outbound, text_frame("0"));  // On its way as the link is cut.
    nodes.network.cut({nodes.a.address}, {nodes.b.address});
    for (int index = 1; index < 10; index++) {
        nodes.a.runtime.send(outbound, text_frame(std::to_string(index)));
        nodes.b.runtime.send(inbound, text_frame(std::to_string(index)));
    }
    nodes.run_for(std::chrono::seconds(10));
    REQUIRE(nodes.b.handler.frames[inbound].empty());
    REQUIRE(nodes.a.handler.frames[outbound].empty());
    REQUIRE(nodes.a.runtime.send_queue_bytes(outbound) > 0);  // Still queued: backpressure.
    REQUIRE(nodes.network.stats().frames_stalled == 2);
    REQUIRE(nodes.a.handler.closed.empty());  // A stall is not a close.

    nodes.network.heal({nodes.a.address}, {nodes.b.address});
    nodes.a.runtime.send(outbound, text_frame("10"));  // Sent after the heal: still last.
    nodes.run_for(milliseconds(5));
    std::vector<std::string> expected;
    for (int index = 0; index <= 10; index++) {
        expected.push_back(std::to_string(index));
    }
    REQUIRE(nodes.b.handler.frames[inbound] == expected);
    expected.pop_back();
    expected.erase(expected.begin());
    REQUIRE(nodes.a.handler.frames[outbound] == expected);
    REQUIRE(nodes.a.runtime.send_queue_bytes(outbound) == 0);
}

TEST_CASE("sim: a close across a cut link reaches the far end when the link heals",
          "[sim][network][connect][partition]") {
    TwoNodes nodes;
    const auto [outbound, inbound] = nodes.establish();
    nodes.network.cut({nodes.a.address}, {nodes.b.address});
    nodes.a.runtime.close(outbound);
    nodes.run_for(std::chrono::seconds(10));
    REQUIRE(nodes.a.handler.closed.at(outbound).is_ok());
    REQUIRE(nodes.b.handler.closed.empty());

    SECTION("the link heals") {
        nodes.network.heal_all();
        nodes.run_for(milliseconds(1));
        REQUIRE(nodes.b.handler.closed.at(inbound).is_ok());
    }
    SECTION("the far end gives up first") {
        nodes.b.runtime.close(inbound);
        nodes.network.heal_all();
        nodes.run_for(milliseconds(1));
        REQUIRE(nodes.b.handler.closed.at(inbound).is_ok());  // Once: the recorder checks.
    }
}

TEST_CASE("sim: a crash resets the crashed node's connections", "[sim][network][connect]") {
    TwoNodes nodes;
    const auto [outbound, inbound] = nodes.establish();
    SECTION("the connecting end crashes") {
        nodes.a.runtime.crash();
        nodes.run_for(milliseconds(1));
        REQUIRE(nodes.b.handler.closed.at(inbound).code() == Code::kUnavailable);
        REQUIRE(nodes.a.handler.closed.empty());  // Its handler is gone.
    }
    SECTION("the accepting end crashes, behind a cut link") {
        nodes.network.cut({nodes.a.address}, {nodes.b.address});
        nodes.b.runtime.crash();
        nodes.run_for(std::chrono::seconds(1));
        REQUIRE(nodes.a.handler.closed.empty());
        nodes.network.heal_all();
        nodes.run_for(milliseconds(1));
        REQUIRE(nodes.a.handler.closed.at(outbound).code() == Code::kUnavailable);
    }
    REQUIRE(nodes.network.stats().connections_reset == 1);
}

TEST_CASE("sim: a node restarted at a crashed node's address accepts connections again",
          "[sim][network][connect]") {
    EventQueue events;
    SimNetwork network(events, /*seed=*/23);
    SimNode a(events, network, 1);
    auto b = std::make_unique<SimNode>(events, network, 2);
    b->runtime.crash();
    SimNode restarted(events, network, 2);
    const runtime::ConnectionId id = a.runtime.connect(node_address(2));
    events.run_until(events.now() + milliseconds(1));
    REQUIRE(a.handler.connected == std::vector<runtime::ConnectionId>{id});
    REQUIRE(restarted.handler.accepted.size() == 1);
    REQUIRE(b->handler.accepted.empty());
}

}  // namespace
}  // namespace shoal::sim

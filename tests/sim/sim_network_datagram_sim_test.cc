// Goal: simulated datagrams behave as the Runtime promises and as SWIM's tests need: they go
// from address to address after a seeded latency, are lost at the configured rate, cross no
// cut link, reach no crashed or stopped node, respect the size limit, and replay exactly for a
// seed.
//
// Method: simulated nodes with recording handlers on one SimNetwork; tests send datagrams
// through the nodes' runtimes, run the EventQueue, and compare what arrived with the network's
// and the runtimes' counters.
#include <catch2/catch.hpp>

#include "shoal/base/hash.h"
#include "sim/sim_network_support.h"

namespace shoal::sim {
namespace {

using std::chrono::milliseconds;
using testing::node_address;
using testing::SimNode;

void send_text(SimNode& node, const HostPort& to, std::string_view text) {
    node.runtime.network().send_datagram(to, as_bytes(text));
}

TEST_CASE("sim: a datagram reaches the node at its target, from the sender's address",
          "[sim][network][datagram]") {
    EventQueue events;
    SimNetwork network(events, /*seed=*/5);
    SimNode a(events, network, 1);
    SimNode b(events, network, 2);

    send_text(a, b.address, "ping");
    REQUIRE(b.handler.datagrams.empty());  // Nothing arrives inside the call that sent it.
    events.run_until(events.now() + milliseconds(1));
    REQUIRE(b.handler.datagrams.size() == 1);
    REQUIRE(b.handler.datagrams[0].from == "10.0.0.1:7400");
    REQUIRE(b.handler.datagrams[0].bytes == "ping");
    REQUIRE(b.handler.datagrams[0].at > Instant());  // It took a latency.

    // A reply goes to where the datagram came from.
    const std::string from = b.handler.datagrams[0].from;
    b.runtime.network().send_datagram(parse_host_port(from).value(), as_bytes("ack"));
    events.run_until(events.now() + milliseconds(1));
    REQUIRE(a.handler.datagrams.size() == 1);
    REQUIRE(a.handler.datagrams[0].bytes == "ack");

    send_text(a, node_address(9), "nobody");  // Nothing is attached there.
    events.run_until(events.now() + milliseconds(1));
    REQUIRE(network.stats().datagrams_unattached == 1);
    REQUIRE(a.runtime.datagram_stats().sent == 2);
    REQUIRE(b.runtime.datagram_stats().received == 1);
}

TEST_CASE("sim: datagrams are lost and duplicated at the configured rates",
          "[sim][network][datagram]") {
    const uint64_t seed = GENERATE(range<uint64_t>(1, 5));
    CAPTURE(seed);
    EventQueue events;
    SimNetwork network(
            events,
            seed,
            {.datagram_loss_per_million = 200'000, .datagram_duplicate_per_million = 10'000});
    SimNode a(events, network, 1);
    SimNode b(events, network, 2);
    constexpr uint64_t kSent = 20'000;
    for (uint64_t index = 0; index < kSent; index++) {
        send_text(a, b.address, "gossip");
        if (index % 100 == 99) events.run_until(events.now() + milliseconds(1));
    }
    events.run_until(events.now() + milliseconds(10));

    const NetworkStats& stats = network.stats();
    REQUIRE(stats.datagrams_sent == kSent);
    // 20% of 20000 is 4000, with a standard deviation of about 57: 3.5 of them either way.
    REQUIRE(stats.datagrams_lost >= 3'800);
    REQUIRE(stats.datagrams_lost <= 4'200);
    // 1% of the 16000 that survive loss: 160, with a standard deviation of about 13.
    REQUIRE(stats.datagrams_duplicated >= 110);
    REQUIRE(stats.datagrams_duplicated <= 210);
    REQUIRE(stats.datagrams_delivered == kSent - stats.datagrams_lost + stats.datagrams_duplicated);
    REQUIRE(b.handler.datagrams.size() == stats.datagrams_delivered);

    SECTION("the loss rate can change during a run") {
        network.set_datagram_loss_per_million(1'000'000);
        send_text(a, b.address, "lost");
        network.set_datagram_loss_per_million(0);
        send_text(a, b.address, "kept");
        events.run_until(events.now() + milliseconds(1));
        REQUIRE(b.handler.datagrams.back().bytes == "kept");
    }
}

TEST_CASE("sim: a cut link loses datagrams until it heals, both ways or one way",
          "[sim][network][datagram][partition]") {
    EventQueue events;
    SimNetwork network(events, /*seed=*/11);
    SimNode a(events, network, 1);
    SimNode b(events, network, 2);
    SimNode c(events, network, 3);

    SECTION("a two-way cut between sets") {
        network.cut({a.address}, {b.address, c.address});
        REQUIRE(network.is_cut(a.address, b.address));
        REQUIRE(network.is_cut(c.address, a.address));
        REQUIRE_FALSE(network.is_cut(b.address, c.address));
        send_text(a, b.address, "a-b");
        send_text(c, a.address, "c-a");
        send_text(b, c.address, "b-c");  // Inside one side: unaffected.
        events.run_until(events.now() + milliseconds(5));
        REQUIRE(a.handler.datagrams.empty());
        REQUIRE(b.handler.datagrams.empty());
        REQUIRE(c.handler.datagrams.size() == 1);
        REQUIRE(network.stats().datagrams_cut == 2);

        network.heal({a.address}, {b.address, c.address});
        send_text(a, b.address, "healed");
        events.run_until(events.now() + milliseconds(5));
        REQUIRE(b.handler.datagrams.size() == 1);
        REQUIRE(b.handler.datagrams[0].bytes == "healed");
    }
    SECTION("a one-way cut") {
        network.cut_one_way({a.address}, {b.address});
        send_text(a, b.address, "a-b");
        send_text(b, a.address, "b-a");
        events.run_until(events.now() + milliseconds(5));
        REQUIRE(b.handler.datagrams.empty());
        REQUIRE(a.handler.datagrams.size() == 1);
        network.heal_all();
        REQUIRE_FALSE(network.is_cut(a.address, b.address));
    }
    SECTION("a datagram on its way when the link is cut is lost") {
        send_text(a, b.address, "in flight");
        network.cut({a.address}, {b.address});
        events.run_until(events.now() + milliseconds(5));
        REQUIRE(b.handler.datagrams.empty());
        REQUIRE(network.stats().datagrams_cut == 1);
    }
}

TEST_CASE("sim: a crashed or stopped node's address loses datagrams, and a restart takes it back",
          "[sim][network][datagram]") {
    EventQueue events;
    SimNetwork network(events, /*seed=*/13);
    SimNode a(events, network, 1);
    auto b = std::make_unique<SimNode>(events, network, 2);

    SECTION("crash, then restart at the same address") {
        b->runtime.crash();
        REQUIRE_FALSE(network.is_attached(node_address(2)));
        send_text(a, node_address(2), "to the dead");
        events.run_until(events.now() + milliseconds(5));
        REQUIRE(b->handler.datagrams.empty());
        REQUIRE(network.stats().datagrams_unattached == 1);

        SimNode restarted(events, network, 2);
        send_text(a, node_address(2), "to the living");
        events.run_until(events.now() + milliseconds(5));
        REQUIRE(restarted.handler.datagrams.size() == 1);
        REQUIRE(b->handler.datagrams.empty());
    }
    SECTION("stop") {
        b->runtime.stop();
        send_text(a, node_address(2), "to the stopped");
        send_text(*b, a.address, "from the stopped");
        events.run_until(events.now() + milliseconds(5));
        REQUIRE(b->handler.datagrams.empty());
        REQUIRE(a.handler.datagrams.empty());
        REQUIRE(b->runtime.datagram_stats().send_failed == 1);
    }
}

TEST_CASE("sim: a datagram over the limit is rejected, and a node without an address sends none",
          "[sim][network][datagram]") {
    EventQueue events;
    SimNetwork network(events, /*seed=*/17);
    SimNode a(events, network, 1);
    SimNode b(events, network, 2);

    const std::string largest(runtime::kDatagramBytesMax, 'x');
    const std::string too_large(runtime::kDatagramBytesMax + 1, 'x');
    send_text(a, b.address, largest);
    send_text(a, b.address, too_large);
    send_text(a, b.address, "");  // Sent, but dropped on arrival, as the kernel's is on libuv.
    events.run_until(events.now() + milliseconds(5));
    REQUIRE(b.handler.datagrams.size() == 1);
    REQUIRE(b.handler.datagrams[0].bytes.size() == runtime::kDatagramBytesMax);
    REQUIRE(a.runtime.datagram_stats().send_rejected == 1);
    REQUIRE(a.runtime.datagram_stats().sent == 2);
    REQUIRE(b.runtime.datagram_stats().receive_dropped == 1);

    SimDisk disk(events, /*seed=*/1);
    SimRuntime unaddressed(events, network, disk, {.seed = 1});
    testing::Recorder handler(events);
    unaddressed.start(handler);
    unaddressed.send_datagram(b.address, as_bytes("from nowhere"));
    events.run_until(events.now() + milliseconds(5));
    REQUIRE(unaddressed.datagram_stats().send_failed == 1);
    REQUIRE(b.handler.datagrams.size() == 1);
}

// Every datagram's arrival time, endpoints and bytes, folded into one digest.
uint64_t datagram_history(uint64_t seed) {
    EventQueue events;
    SimNetwork network(events,
                       seed,
                       {.latency_jitter_max = milliseconds(3),
                        .datagram_loss_per_million = 100'000,
                        .datagram_duplicate_per_million = 50'000});
    std::vector<std::unique_ptr<SimNode>> nodes;
    for (int index = 1; index <= 4; index++) {
        nodes.push_back(std::make_unique<SimNode>(events, network, index));
    }
    Prng prng(seed);
    for (int round = 0; round < 200; round++) {
        SimNode& source = *nodes[prng.below(nodes.size())];
        const HostPort target = node_address(static_cast<int>(prng.below(nodes.size())) + 1);
        send_text(source, target, fmt::format("round {}", round));
        events.run_until(events.now() + milliseconds(prng.below(3)));
    }
    events.run_until(events.now() + milliseconds(10));
    Hasher64 digest;
    for (const auto& node : nodes) {
        for (const testing::ReceivedDatagram& datagram : node->handler.datagrams) {
            const uint64_t at_ns = static_cast<uint64_t>(datagram.at.since_origin().count());
            digest.update(as_bytes(fmt::format("{} {} {} {}|",
                                               node->address.to_string(),
                                               datagram.from,
                                               datagram.bytes,
                                               at_ns)));
        }
    }
    return digest.digest();
}

TEST_CASE("sim: the same seed replays the same datagram history", "[sim][network][datagram]") {
    const uint64_t seed = GENERATE(uint64_t{3}, uint64_t{99});
    CAPTURE(seed);
    REQUIRE(datagram_history(seed) == datagram_history(seed));
    REQUIRE(datagram_history(seed) != datagram_history(seed + 1));
}

}  // namespace
}  // namespace shoal::sim

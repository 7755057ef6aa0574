// Goal: the cluster data path end to end: six real Nodes under RS 4+2 take puts through any
// node and return every object byte-exact through any other, still do with any two nodes
// crashed, and with a third crashed fail with an error rather than wrong bytes; the node-wide
// put and get buffers hold requests back rather than fail them, and puts that stall give
// theirs back; a put's own code places that many chunks; chunks handed off while their owner
// was away go back to it.
//
// Method: testing::DataCluster (data_cluster.h) in memory mode, 64 KiB stripes so that
// objects of a few hundred KiB have several. Tests that keep several requests in flight on
// one connection send frames on the node's SimClient themselves. Seeded: CAPTURE(seed).
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "data_cluster.h"
#include "shoal/base/hash.h"
#include "shoal/base/limits.h"
#include "shoal/base/prng.h"
#include "shoal/wire/messages.h"

namespace shoal::sim {
namespace {

using testing::DataCluster;
using testing::ObjectRead;
using testing::send_put;

DataCluster::Options memory_cluster(size_t nodes,
                                    uint64_t seed,
                                    DataCluster::Configure configure = {}) {
    return DataCluster::Options{.nodes = nodes,
                                .seed = seed,
                                .storage_mode = node::StorageMode::kMemory,
                                .configure = std::move(configure)};
}

// data_cluster.cc's stripe size.
constexpr uint64_t kSimStripeBytes = 64 * 1024;

// Waits for the first frame of `request` on `client`: whether it is a reply.
bool acknowledged(DataCluster& cluster, SimClient& client, RequestId request) {
    REQUIRE(cluster.run_until(std::chrono::seconds(30),
                              [&] { return !client.frames(request).empty(); }));
    return client.frames(request).front().header.kind == wire::FrameKind::kResponse;
}

bool acknowledged(DataCluster& cluster, size_t through, RequestId request) {
    return acknowledged(cluster, cluster.client(through), request);
}

// The error `request` was answered with. REQUIRES: it was answered.
Status error_of(const SimClient& client, RequestId request) {
    REQUIRE(!client.frames(request).empty());
    const ReceivedFrame& frame = client.frames(request).front();
    REQUIRE(frame.header.kind == wire::FrameKind::kError);
    Result<wire::ErrorReply> error = wire::decode_error(frame.body.view());
    REQUIRE(error.is_ok());
    return Status::from_code(error.value().code, error.value().message);
}

// A put of `object` with only its first piece: the put then waits for the rest.
void send_first_piece(SimClient& client,
                      RequestId request,
                      const std::string& key,
                      ByteView object) {
    Buffer frame;
    wire::encode_request(
            request,
            wire::PutRequest{.key = key,
                             .object_bytes = object.size(),
                             .piece = {.data = object.first(limits::kDataFrameBytesMax)}},
            frame);
    client.send(std::move(frame));
}

// The rest of a put that send_first_piece began.
void send_last_piece(SimClient& client, RequestId request, ByteView object) {
    Buffer piece;
    wire::encode_put_piece(request,
                           wire::PutPiece{.last = true,
                                          .digest = hash64(object),
                                          .data = object.subspan(limits::kDataFrameBytesMax)},
                           piece);
    client.send(std::move(piece));
}

TEST_CASE("sim: six nodes under RS 4+2 serve every object through any node, with two down",
          "[sim][cluster]") {
    const uint64_t seed = GENERATE(uint64_t{1}, uint64_t{2});
    CAPTURE(seed);
    constexpr size_t kNodes = 6;
    DataCluster cluster(memory_cluster(kNodes, seed));
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.converged(); }));

    Prng prng(seed);
    std::vector<Buffer> objects;
    for (size_t index = 0; index < 24; ++index) {
        const size_t shape = prng.below(4);
        const size_t size = shape == 0 ? prng.below(100)
                                       : (shape == 1 ? prng.below(8192) : prng.below(300'000));
        Buffer object(size);
        prng.fill(object.data(), object.size());
        INFO("put " << index << " of " << size << " bytes");
        REQUIRE(cluster.put(index % kNodes, fmt::format("obj/{}", index), object.view()).is_ok());
        objects.push_back(std::move(object));
    }

    const auto check_all = [&](size_t through) {
        for (size_t index = 0; index < objects.size(); ++index) {
            CAPTURE(index, through);
            Result<ObjectRead> read = cluster.get(through, fmt::format("obj/{}", index));
            REQUIRE(read.is_ok());
            CHECK(equal_bytes(read.value().data.view(), objects[index].view()));
        }
    };
    check_all(1);

    cluster.crash(0);
    cluster.crash(3);
    for (size_t through : {size_t{1}, size_t{2}, size_t{4}, size_t{5}})
        check_all(through);

    // A third loss leaves some stripes with 3 of 6 chunks: those gets fail, never wrongly.
    cluster.crash(5);
    size_t failed = 0;
    for (size_t index = 0; index < objects.size(); ++index) {
        Result<ObjectRead> read = cluster.get(1, fmt::format("obj/{}", index));
        if (read.is_ok()) {
            CHECK(equal_bytes(read.value().data.view(), objects[index].view()));
        } else {
            failed += 1;
            CHECK(read.status().code() == Code::kUnavailable);
        }
    }
    CHECK(failed > 0);
}

TEST_CASE("sim: puts beyond the node's put buffer wait their turn and all complete",
          "[sim][cluster]") {
    constexpr size_t kNodes = 6;
    // The smallest buffer: two puts at a time.
    DataCluster cluster(memory_cluster(kNodes, /*seed=*/8, [](node::Node::Options& options) {
        options.cluster.put_buffer_bytes = 1;
    }));
    REQUIRE(coordinator::puts_active_max({.put_buffer_bytes = 1}) == 2);
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.converged(); }));
    SimClient& client = cluster.client(1);
    Prng prng(8);

    SECTION("pipelined on one connection, each put whole before the next") {
        std::vector<Buffer> objects;
        for (uint64_t index = 0; index < 8; ++index) {
            // Two pieces each, striped, and one inline.
            Buffer object(index == 7 ? 100 : limits::kDataFrameBytesMax + 1000 * index);
            prng.fill(object.data(), object.size());
            send_put(client, RequestId{index + 1}, fmt::format("pp/{}", index), object.view());
            objects.push_back(std::move(object));
        }
        for (uint64_t index = 0; index < objects.size(); ++index) {
            CAPTURE(index);
            REQUIRE(acknowledged(cluster, 1, RequestId{index + 1}));
        }
        CHECK(cluster.node(1).stats().puts_waited >= 1);
        CHECK(cluster.node(1).stats().puts_active_peak == 2);
        for (size_t index = 0; index < objects.size(); ++index) {
            CAPTURE(index);
            Result<ObjectRead> read = cluster.get(3, fmt::format("pp/{}", index));
            REQUIRE(read.is_ok());
            CHECK(equal_bytes(read.value().data.view(), objects[index].view()));
        }
    }
    SECTION("a put that would wait behind its own connection's unfinished puts is refused") {
        // Two puts started, each with its first piece only: both hold the buffer and need
        // more from this connection, which must not be paused.
        Buffer object(2 * limits::kDataFrameBytesMax);
        prng.fill(object.data(), object.size());
        for (uint64_t id = 1; id <= 2; ++id) {
            send_first_piece(client, RequestId{id}, fmt::format("half/{}", id), object.view());
        }
        const Buffer small(10);
        send_put(client, RequestId{3}, "third", small.view());
        REQUIRE_FALSE(acknowledged(cluster, 1, RequestId{3}));
        const Status refused = error_of(client, RequestId{3});
        CHECK(refused.code() == Code::kResourceExhausted);
        CHECK_THAT(refused.message(), Catch::Contains("put buffer is full"));
        CHECK(cluster.node(1).stats().puts_refused_busy == 1);
        for (uint64_t id = 1; id <= 2; ++id) {
            send_last_piece(client, RequestId{id}, object.view());
        }
        for (uint64_t id = 1; id <= 2; ++id) {
            CHECK(acknowledged(cluster, 1, RequestId{id}));
        }
    }
}

// Puts hold the node's put buffer only while their clients keep up: one whose client stalls
// is ended, one that waits too long for room is refused, and one whose client leaves while
// it waits leaves the queue at once.
TEST_CASE("sim: puts that stall or wait too long end with a clear error", "[sim][cluster]") {
    constexpr uint32_t kIdleTicks = 300;  // 3 s.
    constexpr uint32_t kWaitTicks = 100;  // 1 s.
    DataCluster cluster(memory_cluster(6, /*seed=*/9, [](node::Node::Options& options) {
        options.cluster.put_buffer_bytes = 1;  // Two puts at a time.
        options.put_idle_timeout_ticks = kIdleTicks;
        options.put_wait_timeout_ticks = kWaitTicks;
    }));
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.converged(); }));
    const node::Node& node = cluster.node(1);
    SimClient& stalled = cluster.client(1);
    Prng prng(9);
    Buffer object(2 * limits::kDataFrameBytesMax);
    prng.fill(object.data(), object.size());
    // Two puts that take the whole buffer, and then send nothing more.
    const Instant started = cluster.now();
    for (uint64_t id = 1; id <= 2; ++id) {
        send_first_piece(stalled, RequestId{id}, fmt::format("stalled/{}", id), object.view());
    }
    REQUIRE(cluster.run_until(std::chrono::seconds(1),
                              [&] { return node.stats().puts_active_peak == 2; }));
    std::unique_ptr<SimClient> other = cluster.new_client(1);
    const Buffer small(10);

    SECTION("a waiting put whose client goes away leaves the queue") {
        send_put(*other, RequestId{1}, "gone", small.view());
        REQUIRE(cluster.run_until(std::chrono::milliseconds(500),
                                  [&] { return node.puts_waiting() == 1; }));
        other->disconnect();
        REQUIRE(cluster.run_until(std::chrono::milliseconds(500),
                                  [&] { return node.puts_waiting() == 0; }));
        CHECK(node.stats().puts_timed_out == 0);
    }
    SECTION("a put that waits past the wait timeout is refused") {
        const Instant sent = cluster.now();
        send_put(*other, RequestId{1}, "late", small.view());
        REQUIRE_FALSE(acknowledged(cluster, *other, RequestId{1}));
        CHECK(cluster.now() - sent >= kTickDuration * kWaitTicks);
        CHECK(cluster.now() - started < kTickDuration * kIdleTicks);
        const Status refused = error_of(*other, RequestId{1});
        CHECK(refused.code() == Code::kResourceExhausted);
        CHECK_THAT(refused.message(), Catch::Contains("put late: waited"));
        CHECK_THAT(refused.message(), Catch::Contains("room in the node's put buffer"));
        CHECK(node.puts_waiting() == 0);
        CHECK(stalled.frames(RequestId{1}).empty());  // The stalled puts have not timed out yet.
    }
    SECTION("puts whose client sends nothing more are ended, and their buffer goes to others") {
        for (uint64_t id = 1; id <= 2; ++id) {
            REQUIRE_FALSE(acknowledged(cluster, stalled, RequestId{id}));
            const Status ended = error_of(stalled, RequestId{id});
            CHECK(ended.code() == Code::kTimeout);
            CHECK_THAT(ended.message(), Catch::Contains("no data from the client"));
        }
        CHECK(cluster.now() - started >= kTickDuration * kIdleTicks);
        CHECK(node.stats().puts_timed_out == 2);
        // The client's late pieces are dropped, and its connection serves on.
        for (uint64_t id = 1; id <= 2; ++id) {
            send_last_piece(stalled, RequestId{id}, object.view());
        }
        send_put(stalled, RequestId{3}, "after", small.view());
        CHECK(acknowledged(cluster, stalled, RequestId{3}));
        CHECK(stalled.frames(RequestId{1}).size() == 1);
        send_put(*other, RequestId{1}, "other", small.view());
        CHECK(acknowledged(cluster, *other, RequestId{1}));
        CHECK(node.stats().puts_waited == 0);
        CHECK(cluster.get(2, "stalled/1").status().code() == Code::kNotFound);
    }
}

TEST_CASE("sim: gets beyond the node's get buffer wait their turn and all complete",
          "[sim][cluster]") {
    constexpr size_t kNodes = 6;
    // The smallest buffer: two gets at a time.
    DataCluster cluster(memory_cluster(kNodes, /*seed=*/7, [](node::Node::Options& options) {
        options.cluster.get_buffer_bytes = 1;
    }));
    REQUIRE(coordinator::gets_active_max({.get_buffer_bytes = 1}) == 2);
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.converged(); }));

    Prng prng(7);
    std::vector<Buffer> objects;
    for (size_t index = 0; index < 4; ++index) {
        Buffer object(200'000 + index);
        prng.fill(object.data(), object.size());
        REQUIRE(cluster.put(0, fmt::format("obj/{}", index), object.view()).is_ok());
        objects.push_back(std::move(object));
    }

    // Eight gets at once on one connection, each object twice.
    std::vector<RequestId> gets;
    for (size_t index = 0; index < 8; ++index) {
        gets.push_back(cluster.send_get(2, fmt::format("obj/{}", index % 4)));
    }
    for (size_t index = 0; index < gets.size(); ++index) {
        CAPTURE(index);
        Result<ObjectRead> read = cluster.await_get(2, gets[index]);
        REQUIRE(read.is_ok());
        CHECK(equal_bytes(read.value().data.view(), objects[index % 4].view()));
    }
    CHECK(cluster.node(2).stats().gets_waited >= 4);
}

TEST_CASE("sim: a put's own code places that many chunks, and reads back under it",
          "[sim][cluster]") {
    constexpr size_t kNodes = 6;
    DataCluster cluster(memory_cluster(kNodes, /*seed=*/11));
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.converged(); }));
    const auto records = [&] {
        uint64_t total = 0;
        for (size_t index = 0; index < kNodes; ++index) {
            total += cluster.node(index).store_stats().objects;
        }
        return total;
    };
    const auto put = [&](RequestId id,
                         const std::string& key,
                         const Buffer& object,
                         wire::PutRedundancy redundancy) -> const ReceivedFrame& {
        send_put(cluster.client(to_u64(id) % kNodes), id, key, object.view(), redundancy);
        REQUIRE(cluster.run_until(std::chrono::seconds(30), [&] {
            return !cluster.client(to_u64(id) % kNodes).frames(id).empty();
        }));
        return cluster.client(to_u64(id) % kNodes).frames(id).front();
    };

    // One 50 KB stripe (the sim's stripes are 64 KiB): six manifest copies and k + m chunks.
    Prng prng(11);
    Buffer object(50'000);
    prng.fill(object.data(), object.size());
    struct Case {
        wire::PutRedundancy redundancy;
        uint64_t chunks;
    };
    const std::vector<Case> cases = {{{}, 6},
                                     {{.data_chunks = 2, .parity_chunks = 1}, 3},
                                     {{.data_chunks = 1, .parity_chunks = 1}, 2},
                                     {{.data_chunks = 3, .parity_chunks = 3}, 6}};
    for (size_t index = 0; index < cases.size(); ++index) {
        CAPTURE(index);
        const uint64_t before = records();
        const ReceivedFrame& reply = put(cluster.next_request(),
                                         fmt::format("code/{}", index),
                                         object,
                                         cases[index].redundancy);
        REQUIRE(reply.header.kind == wire::FrameKind::kResponse);
        // Every chunk write is acknowledged before the put is; the last manifest copies may
        // land a little after it.
        REQUIRE(cluster.run_until(std::chrono::seconds(5),
                                  [&] { return records() == before + 6 + cases[index].chunks; }));
        Result<ObjectRead> read = cluster.get(4, fmt::format("code/{}", index));
        REQUIRE(read.is_ok());
        CHECK(equal_bytes(read.value().data.view(), object.view()));
    }

    // A code wider than the object format allows is refused with its reason; one wider than
    // the cluster fails its quorum, saying so.
    const ReceivedFrame& too_wide = put(
            cluster.next_request(), "code/wide", object, {.data_chunks = 30, .parity_chunks = 10});
    REQUIRE(too_wide.header.kind == wire::FrameKind::kError);
    Result<wire::ErrorReply> refused = wire::decode_error(too_wide.body.view());
    REQUIRE(refused.is_ok());
    CHECK(refused.value().code == Code::kInvalidArgument);
    CHECK(std::string(refused.value().message).find("chunks per stripe") != std::string::npos);
    const ReceivedFrame& short_of_nodes = put(
            cluster.next_request(), "code/short", object, {.data_chunks = 8, .parity_chunks = 4});
    REQUIRE(short_of_nodes.header.kind == wire::FrameKind::kError);
    Result<wire::ErrorReply> missed = wire::decode_error(short_of_nodes.body.view());
    REQUIRE(missed.is_ok());
    CHECK(std::string(missed.value().message).find("10 needed") != std::string::npos);
}

// One node cut off from the rest, with objects put through the others while it is away.
struct CutOff {
    std::vector<HostPort> others;
    std::vector<HostPort> victim;
    std::vector<Buffer> objects;
};

// Cuts node `victim` off and puts `count` objects of several stripes through the others, as
// obj/0, obj/1, ...
CutOff put_while_cut_off(DataCluster& cluster, size_t victim, size_t count, uint64_t seed) {
    CutOff cut;
    for (size_t index = 0; index < cluster.size(); ++index) {
        if (index != victim) cut.others.push_back(cluster.address(index));
    }
    cut.victim = {cluster.address(victim)};
    cluster.network().cut(cut.victim, cut.others);

    Prng prng(seed);
    for (size_t index = 0; index < count; ++index) {
        Buffer object(100'000 + prng.below(100'000));
        prng.fill(object.data(), object.size());
        INFO("put " << index);
        REQUIRE(cluster.put(index % victim, fmt::format("obj/{}", index), object.view()).is_ok());
        cut.objects.push_back(std::move(object));
    }
    return cut;
}

// How many of the objects' chunks placement gives to node `victim`: each of them goes to a
// fallback while the victim is away.
uint64_t chunks_placed_on(DataCluster& cluster, size_t victim, const std::vector<Buffer>& objects) {
    uint64_t placed = 0;
    for (size_t index = 0; index < objects.size(); ++index) {
        const std::string key = fmt::format("obj/{}", index);
        const uint32_t stripes = static_cast<uint32_t>(
                (objects[index].size() + kSimStripeBytes - 1) / kSimStripeBytes);
        for (uint32_t stripe = 0; stripe < stripes; ++stripe) {
            const std::vector<coordinator::NodeKey> owners =
                    cluster.node(0).layout()->stripe_candidates(key, stripe);
            for (size_t position = 0; position < 6; ++position) {
                if (owners[position].low == victim + 1) placed += 1;
            }
        }
    }
    return placed;
}

TEST_CASE("sim: chunks handed off while their owner was cut off are handed back to it",
          "[sim][cluster]") {
    // Eight nodes, so that a stripe of six chunks has fallbacks.
    constexpr size_t kNodes = 8;
    constexpr size_t kVictim = 6;
    DataCluster cluster(memory_cluster(kNodes, /*seed=*/21));
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.converged(); }));

    const CutOff cut = put_while_cut_off(cluster, kVictim, /*count=*/12, /*seed=*/21);
    const auto total = [&](auto&& figure) {
        uint64_t sum = 0;
        for (size_t index = 0; index < kNodes; ++index) {
            sum += figure(cluster.node(index));
        }
        return sum;
    };
    const auto held = [&] {
        return total([](node::Node& node) { return node.hand_back().held(); });
    };
    const auto handed_off = [&] {
        return total([](node::Node& node) { return node.operation_stats().chunks_handed_off; });
    };
    // Every stripe with the victim among its owners hands the victim's chunk to a fallback,
    // once the put has its quorum and that chunk has timed out.
    const uint64_t held_for_victim = chunks_placed_on(cluster, kVictim, cut.objects);
    CAPTURE(held_for_victim);
    REQUIRE(held_for_victim > 0);
    REQUIRE(cluster.run_until(std::chrono::seconds(30), [&] {
        return handed_off() == held_for_victim && held() == held_for_victim;
    }));

    // Healed, the victim is seen alive again and every fallback hands its chunks back.
    cluster.network().heal(cut.victim, cut.others);
    REQUIRE(cluster.run_until(std::chrono::seconds(60), [&] { return held() == 0; }));
    CHECK(total([](node::Node& node) { return node.hand_back().stats().handed_back; }) ==
          held_for_victim);

    // The victim's chunks are where reads look for them: with two other nodes down, every
    // stripe needs them.
    cluster.crash(0);
    cluster.crash(1);
    for (size_t index = 0; index < cut.objects.size(); ++index) {
        CAPTURE(index);
        Result<ObjectRead> read = cluster.get(kVictim, fmt::format("obj/{}", index));
        REQUIRE(read.is_ok());
        CHECK(equal_bytes(read.value().data.view(), cut.objects[index].view()));
    }
}

// As above, in disk mode, but every fallback restarts before the owner is back: its tracked
// set is gone with the process, and the scan of its store after the restart finds the chunks
// it holds for the owner again.
TEST_CASE("sim: a fallback restarted over its disk still hands its chunks back", "[sim][cluster]") {
    constexpr size_t kNodes = 8;
    constexpr size_t kVictim = 6;
    DataCluster cluster(DataCluster::Options{.nodes = kNodes, .seed = 31});
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.all_alive(); }));
    const CutOff cut = put_while_cut_off(cluster, kVictim, /*count=*/8, /*seed=*/31);
    const auto held = [&](size_t index) {
        return cluster.node(index).hand_back().held();
    };
    const auto handed_off = [&] {
        uint64_t sum = 0;
        for (size_t index = 0; index < kNodes; ++index) {
            sum += cluster.node(index).operation_stats().chunks_handed_off;
        }
        return sum;
    };
    // Every stripe with the victim among its owners hands the victim's chunk to a fallback,
    // once the put has its quorum and that chunk has timed out.
    const uint64_t held_for_victim = chunks_placed_on(cluster, kVictim, cut.objects);
    CAPTURE(held_for_victim);
    REQUIRE(held_for_victim > 0);
    REQUIRE(cluster.run_until(std::chrono::seconds(30), [&] {
        uint64_t tracked = 0;
        for (size_t index = 0; index < kNodes; ++index) {
            tracked += held(index);
        }
        return handed_off() == held_for_victim && tracked == held_for_victim;
    }));

    // Every fallback loses power and comes back over its disk, tracking nothing.
    std::vector<size_t> fallbacks;
    for (size_t index = 0; index < kNodes; ++index) {
        if (held(index) > 0) fallbacks.push_back(index);
    }
    for (const size_t index : fallbacks) {
        cluster.crash(index);
        cluster.restart(index);
    }
    REQUIRE(cluster.run_until(std::chrono::seconds(30), [&] {
        for (size_t index = 0; index < kNodes; ++index) {
            if (index != kVictim && !cluster.serving(index)) return false;
        }
        return true;
    }));

    cluster.network().heal(cut.victim, cut.others);
    uint64_t handed_back = 0;
    uint64_t tracked = 0;
    const bool all_back = cluster.run_until(std::chrono::seconds(60), [&] {
        handed_back = 0;
        tracked = 0;
        for (size_t index = 0; index < kNodes; ++index) {
            handed_back += cluster.node(index).hand_back().stats().handed_back;
            tracked += held(index);
        }
        return tracked == 0 && handed_back == held_for_victim;
    });
    CAPTURE(handed_back, tracked);
    REQUIRE(all_back);
    for (const size_t index : fallbacks) {
        CHECK(cluster.node(index).hand_back().stats().scanned > 0);
    }

    // The victim's chunks are where reads look for them: with two other owners down, every
    // stripe needs them.
    size_t crashed = 0;
    for (size_t index = 0; index < kNodes && crashed < 2; ++index) {
        if (index == kVictim || index == 7) continue;
        cluster.crash(index);
        crashed += 1;
    }
    for (size_t index = 0; index < cut.objects.size(); ++index) {
        CAPTURE(index);
        Result<ObjectRead> read = cluster.get(7, fmt::format("obj/{}", index));
        REQUIRE(read.is_ok());
        CHECK(equal_bytes(read.value().data.view(), cut.objects[index].view()));
    }
}

}  // namespace
}  // namespace shoal::sim

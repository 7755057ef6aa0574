// Goal: the cluster data path end to end: six real Nodes under RS 4+2 take puts through any
// node and return every object byte-exact through any other, still do with any two nodes
// crashed, and with a third crashed fail with an error rather than wrong bytes.
//
// Method: node::Node instances on SimRuntimes at 10.0.0.<i>:7400 on one SimNetwork, memory
// mode, 64 KiB stripes so that objects of a few hundred KiB have several. Node 1 starts alone
// and the others join it; a SimClient per node sends the requests. Seeded: CAPTURE(seed).
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <spdlog/logger.h>

#include "shoal/base/hash.h"
#include "shoal/base/prng.h"
#include "shoal/node/node.h"
#include "shoal/sim/error_counting_sink.h"
#include "shoal/sim/sim_client.h"
#include "shoal/sim/sim_runtime.h"
#include "shoal/wire/messages.h"
#include "sim_network_support.h"

namespace shoal::sim {
namespace {

using testing::node_address;

struct SimNode {
    std::unique_ptr<SimDisk> disk;
    std::unique_ptr<SimRuntime> runtime;
    std::unique_ptr<spdlog::logger> log;
    std::unique_ptr<node::Node> node;
    std::unique_ptr<SimClient> client;
};

class DataCluster {
public:
    using Configure = std::function<void(node::Node::Options&)>;

    DataCluster(size_t count, uint64_t seed, Configure configure = {})
        : seed_(seed),
          configure_(std::move(configure)),
          network_(events_, seed),
          sink_(std::make_shared<ErrorCountingSink>()) {
        for (size_t index = 0; index < count; index++) {
            nodes_.push_back(make(index));
        }
    }

    size_t size() const { return nodes_.size(); }
    bool up(size_t index) const { return nodes_[index].node != nullptr; }
    SimClient& client(size_t index) { return *nodes_[index].client; }
    SimNetwork& network() { return network_; }
    node::Node& node(size_t index) { return *nodes_[index].node; }

    void crash(size_t index) {
        nodes_[index].client->disconnect();
        nodes_[index].runtime->crash();
        nodes_[index].node.reset();
    }

    template <typename Condition>
    bool run_until(Duration budget, Condition&& done) {
        const Instant deadline = events_.now() + budget;
        while (events_.now() < deadline) {
            if (done()) return true;
            events_.run_until(events_.now() + std::chrono::milliseconds(10));
        }
        return done();
    }

    // Every node lists every other alive and places by the same layout.
    bool converged() {
        std::optional<uint64_t> epoch;
        for (size_t index = 0; index < size(); index++) {
            const coordinator::Layout* layout = node(index).layout();
            if (layout == nullptr || layout->table().nodes().size() != size()) return false;
            if (epoch.has_value() && *epoch != layout->table().fingerprint()) return false;
            epoch = layout->table().fingerprint();
        }
        return true;
    }

private:
    SimNode make(size_t index) {
        SimNode member;
        const HostPort address = node_address(static_cast<int>(index + 1));
        member.disk = std::make_unique<SimDisk>(events_, seed_ + 100 + index);
        member.runtime = std::make_unique<SimRuntime>(
                events_,
                network_,
                *member.disk,
                SimRuntime::Options{.seed = seed_ + index, .address = address});
        member.log = std::make_unique<spdlog::logger>(fmt::format("n{}.node", index + 1), sink_);
        node::Node::Options options;
        options.name = fmt::format("n{}", index + 1);
        options.id = NodeId{index + 1};
        options.identity =
                membership::Identity{.id = membership::MemberId{.high = 0x5348, .low = index + 1},
                                     .name = options.name,
                                     .address = address,
                                     .zone = "default",
                                     .capacity_weight = 1};
        options.cluster.stripe_bytes = 64 * 1024;
        options.cluster.partitions = 64;
        options.cluster.peer_timeout_ticks = 100;
        if (index > 0) options.join = {node_address(1)};
        if (configure_) configure_(options);
        member.node = std::make_unique<node::Node>(options, *member.runtime, *member.log);
        member.runtime->start(*member.node);
        member.node->start([](const Status& status) { REQUIRE(status.is_ok()); });
        member.client = std::make_unique<SimClient>(network_);
        member.client->connect(*member.runtime);
        return member;
    }

    uint64_t seed_;
    Configure configure_;
    EventQueue events_;
    SimNetwork network_;
    std::shared_ptr<ErrorCountingSink> sink_;
    std::vector<SimNode> nodes_;
};

void send_put(SimClient& client,
              RequestId request,
              const std::string& key,
              ByteView bytes,
              wire::PutRedundancy redundancy = {}) {
    const size_t first = std::min<size_t>(bytes.size(), limits::kDataFrameBytesMax);
    const bool is_last = first == bytes.size();
    Buffer frame;
    wire::encode_request(request,
                         wire::PutRequest{.key = key,
                                          .object_bytes = bytes.size(),
                                          .redundancy = redundancy,
                                          .piece = {.last = is_last,
                                                    .digest = is_last ? hash64(bytes) : 0,
                                                    .data = bytes.first(first)}},
                         frame);
    client.send(std::move(frame));
    for (size_t offset = first; offset < bytes.size(); offset += limits::kDataFrameBytesMax) {
        const size_t size = std::min<size_t>(bytes.size() - offset, limits::kDataFrameBytesMax);
        const bool last = offset + size == bytes.size();
        Buffer piece;
        wire::encode_put_piece(request,
                               wire::PutPiece{.last = last,
                                              .digest = last ? hash64(bytes) : 0,
                                              .data = bytes.subspan(offset, size)},
                               piece);
        client.send(std::move(piece));
    }
}

// What a get returned: the object, or the error frame's status.
Result<Buffer> await_get(DataCluster& cluster, SimClient& client, RequestId request) {
    const auto frames_done = [&] {
        const std::vector<ReceivedFrame>& frames = client.frames(request);
        if (frames.empty()) return false;
        if (frames.back().header.kind == wire::FrameKind::kError) return true;
        if (frames[0].header.kind != wire::FrameKind::kResponse) return true;
        Result<wire::GetReply> reply = wire::decode_get_reply(frames[0].body.view());
        if (!reply.is_ok()) return true;
        size_t bytes = reply.value().data.size();
        for (size_t index = 1; index < frames.size(); ++index) {
            bytes += frames[index].body.size();
        }
        return bytes >= reply.value().info.object_bytes;
    };
    if (!cluster.run_until(std::chrono::seconds(30), frames_done)) {
        return Status::timeout("get never finished");
    }
    const std::vector<ReceivedFrame>& frames = client.frames(request);
    if (frames.back().header.kind == wire::FrameKind::kError) {
        Result<wire::ErrorReply> error = wire::decode_error(frames.back().body.view());
        REQUIRE(error.is_ok());
        return Status::from_code(error.value().code, error.value().message);
    }
    Result<wire::GetReply> reply = wire::decode_get_reply(frames[0].body.view());
    REQUIRE(reply.is_ok());
    Buffer data(reply.value().data);
    for (size_t index = 1; index < frames.size(); ++index) {
        data.append(frames[index].body.view());
    }
    REQUIRE(hash64(data.view()) == reply.value().info.digest);
    return data;
}

TEST_CASE("sim: six nodes under RS 4+2 serve every object through any node, with two down",
          "[sim][cluster]") {
    const uint64_t seed = GENERATE(uint64_t{1}, uint64_t{2});
    CAPTURE(seed);
    constexpr size_t kNodes = 6;
    DataCluster cluster(kNodes, seed);
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.converged(); }));

    Prng prng(seed);
    std::vector<Buffer> objects;
    uint64_t request = 1;
    for (size_t index = 0; index < 24; ++index) {
        const size_t shape = prng.below(4);
        const size_t size = shape == 0 ? prng.below(100)
                                       : (shape == 1 ? prng.below(8192) : prng.below(300'000));
        Buffer object(size);
        prng.fill(object.data(), object.size());
        SimClient& client = cluster.client(index % kNodes);
        const RequestId id{request++};
        send_put(client, id, fmt::format("obj/{}", index), object.view());
        REQUIRE(cluster.run_until(std::chrono::seconds(30),
                                  [&] { return !client.frames(id).empty(); }));
        INFO("put " << index << " of " << size << " bytes");
        REQUIRE(client.frames(id).front().header.kind == wire::FrameKind::kResponse);
        objects.push_back(std::move(object));
    }

    const auto check_all = [&](size_t through) {
        for (size_t index = 0; index < objects.size(); ++index) {
            CAPTURE(index, through);
            const RequestId id{request++};
            Buffer frame;
            const std::string key = fmt::format("obj/{}", index);
            wire::encode_request(id, wire::GetRequest{.key = key}, frame);
            cluster.client(through).send(std::move(frame));
            Result<Buffer> read = await_get(cluster, cluster.client(through), id);
            REQUIRE(read.is_ok());
            CHECK(equal_bytes(read.value().view(), objects[index].view()));
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
        const RequestId id{request++};
        Buffer frame;
        const std::string key = fmt::format("obj/{}", index);
        wire::encode_request(id, wire::GetRequest{.key = key}, frame);
        cluster.client(1).send(std::move(frame));
        Result<Buffer> read = await_get(cluster, cluster.client(1), id);
        if (read.is_ok()) {
            CHECK(equal_bytes(read.value().view(), objects[index].view()));
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
    DataCluster cluster(kNodes, /*seed=*/8, [](node::Node::Options& options) {
        options.cluster.put_buffer_bytes = 1;
    });
    REQUIRE(coordinator::puts_active_max({.put_buffer_bytes = 1}) == 2);
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.converged(); }));
    SimClient& client = cluster.client(1);
    Prng prng(8);
    uint64_t request = 1;

    SECTION("pipelined on one connection, each put whole before the next") {
        std::vector<Buffer> objects;
        std::vector<RequestId> puts;
        for (size_t index = 0; index < 8; ++index) {
            // Two pieces each, striped, and one inline.
            Buffer object(index == 7 ? 100 : limits::kDataFrameBytesMax + 1000 * index);
            prng.fill(object.data(), object.size());
            const RequestId id{request++};
            send_put(client, id, fmt::format("pp/{}", index), object.view());
            puts.push_back(id);
            objects.push_back(std::move(object));
        }
        for (size_t index = 0; index < puts.size(); ++index) {
            CAPTURE(index);
            REQUIRE(cluster.run_until(std::chrono::seconds(30),
                                      [&] { return !client.frames(puts[index]).empty(); }));
            REQUIRE(client.frames(puts[index]).front().header.kind == wire::FrameKind::kResponse);
        }
        CHECK(cluster.node(1).stats().puts_waited >= 1);
        CHECK(cluster.node(1).stats().puts_active_peak == 2);
        for (size_t index = 0; index < objects.size(); ++index) {
            CAPTURE(index);
            const RequestId id{request++};
            Buffer frame;
            wire::encode_request(id, wire::GetRequest{.key = fmt::format("pp/{}", index)}, frame);
            cluster.client(3).send(std::move(frame));
            Result<Buffer> read = await_get(cluster, cluster.client(3), id);
            REQUIRE(read.is_ok());
            CHECK(equal_bytes(read.value().view(), objects[index].view()));
        }
    }
    SECTION("a put that would wait behind its own connection's unfinished puts is refused") {
        // Two puts started, each with its first piece only: both hold the buffer and need
        // more from this connection, which must not be paused.
        Buffer object(2 * limits::kDataFrameBytesMax);
        prng.fill(object.data(), object.size());
        const ByteView halves[2] = {object.view().first(limits::kDataFrameBytesMax),
                                    object.view().subspan(limits::kDataFrameBytesMax)};
        for (uint64_t id = 1; id <= 2; ++id) {
            Buffer frame;
            wire::encode_request(RequestId{id},
                                 wire::PutRequest{.key = fmt::format("half/{}", id),
                                                  .object_bytes = object.size(),
                                                  .piece = {.data = halves[0]}},
                                 frame);
            client.send(std::move(frame));
        }
        const Buffer small(10);
        send_put(client, RequestId{3}, "third", small.view());
        REQUIRE(cluster.run_until(std::chrono::seconds(30),
                                  [&] { return !client.frames(RequestId{3}).empty(); }));
        REQUIRE(client.frames(RequestId{3}).front().header.kind == wire::FrameKind::kError);
        Result<wire::ErrorReply> refused =
                wire::decode_error(client.frames(RequestId{3}).front().body.view());
        REQUIRE(refused.is_ok());
        CHECK(refused.value().code == Code::kResourceExhausted);
        CHECK_THAT(std::string(refused.value().message), Catch::Contains("put buffer is full"));
        CHECK(cluster.node(1).stats().puts_refused_busy == 1);
        for (uint64_t id = 1; id <= 2; ++id) {
            Buffer piece;
            wire::encode_put_piece(
                    RequestId{id},
                    wire::PutPiece{
                            .last = true, .digest = hash64(object.view()), .data = halves[1]},
                    piece);
            client.send(std::move(piece));
        }
        for (uint64_t id = 1; id <= 2; ++id) {
            REQUIRE(cluster.run_until(std::chrono::seconds(30),
                                      [&] { return !client.frames(RequestId{id}).empty(); }));
            CHECK(client.frames(RequestId{id}).front().header.kind == wire::FrameKind::kResponse);
        }
    }
}

TEST_CASE("sim: gets beyond the node's get buffer wait their turn and all complete",
          "[sim][cluster]") {
    constexpr size_t kNodes = 6;
    // The smallest buffer: two gets at a time.
    DataCluster cluster(kNodes, /*seed=*/7, [](node::Node::Options& options) {
        options.cluster.get_buffer_bytes = 1;
    });
    REQUIRE(coordinator::gets_active_max({.get_buffer_bytes = 1}) == 2);
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.converged(); }));

    Prng prng(7);
    std::vector<Buffer> objects;
    uint64_t request = 1;
    for (size_t index = 0; index < 4; ++index) {
        Buffer object(200'000 + index);
        prng.fill(object.data(), object.size());
        const RequestId id{request++};
        send_put(cluster.client(0), id, fmt::format("obj/{}", index), object.view());
        REQUIRE(cluster.run_until(std::chrono::seconds(30),
                                  [&] { return !cluster.client(0).frames(id).empty(); }));
        REQUIRE(cluster.client(0).frames(id).front().header.kind == wire::FrameKind::kResponse);
        objects.push_back(std::move(object));
    }

    // Eight gets at once on one connection, each object twice.
    SimClient& client = cluster.client(2);
    std::vector<RequestId> gets;
    for (size_t index = 0; index < 8; ++index) {
        const RequestId id{request++};
        Buffer frame;
        wire::encode_request(id, wire::GetRequest{.key = fmt::format("obj/{}", index % 4)}, frame);
        client.send(std::move(frame));
        gets.push_back(id);
    }
    for (size_t index = 0; index < gets.size(); ++index) {
        CAPTURE(index);
        Result<Buffer> read = await_get(cluster, client, gets[index]);
        REQUIRE(read.is_ok());
        CHECK(equal_bytes(read.value().view(), objects[index % 4].view()));
    }
    CHECK(cluster.node(2).stats().gets_waited >= 4);
}

TEST_CASE("sim: a put's own code places that many chunks, and reads back under it",
          "[sim][cluster]") {
    constexpr size_t kNodes = 6;
    DataCluster cluster(kNodes, /*seed=*/11);
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
    uint64_t request = 1;
    for (size_t index = 0; index < cases.size(); ++index) {
        CAPTURE(index);
        const uint64_t before = records();
        const ReceivedFrame& reply = put(RequestId{request++},
                                         fmt::format("code/{}", index),
                                         object,
                                         cases[index].redundancy);
        REQUIRE(reply.header.kind == wire::FrameKind::kResponse);
        // Every chunk write is acknowledged before the put is; the last manifest copies may
        // land a little after it.
        REQUIRE(cluster.run_until(std::chrono::seconds(5),
                                  [&] { return records() == before + 6 + cases[index].chunks; }));
        const RequestId get{request++};
        Buffer frame;
        wire::encode_request(get, wire::GetRequest{.key = fmt::format("code/{}", index)}, frame);
        cluster.client(4).send(std::move(frame));
        Result<Buffer> read = await_get(cluster, cluster.client(4), get);
        REQUIRE(read.is_ok());
        CHECK(equal_bytes(read.value().view(), object.view()));
    }

    // A code wider than the object format allows is refused with its reason; one wider than
    // the cluster fails its quorum, saying so.
    const ReceivedFrame& too_wide = put(
            RequestId{request++}, "code/wide", object, {.data_chunks = 30, .parity_chunks = 10});
    REQUIRE(too_wide.header.kind == wire::FrameKind::kError);
    Result<wire::ErrorReply> refused = wire::decode_error(too_wide.body.view());
    REQUIRE(refused.is_ok());
    CHECK(refused.value().code == Code::kInvalidArgument);
    CHECK(std::string(refused.value().message).find("chunks per stripe") != std::string::npos);
    const ReceivedFrame& short_of_nodes =
            put(RequestId{request++}, "code/short", object, {.data_chunks = 8, .parity_chunks = 4});
    REQUIRE(short_of_nodes.header.kind == wire::FrameKind::kError);
    Result<wire::ErrorReply> missed = wire::decode_error(short_of_nodes.body.view());
    REQUIRE(missed.is_ok());
    CHECK(std::string(missed.value().message).find("10 needed") != std::string::npos);
}

TEST_CASE("sim: chunks handed off while their owner was cut off are handed back to it",
          "[sim][cluster]") {
    // Eight nodes, so that a stripe of six chunks has fallbacks.
    constexpr size_t kNodes = 8;
    constexpr size_t kVictim = 6;
    DataCluster cluster(kNodes, /*seed=*/21);
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.converged(); }));

    std::vector<HostPort> others;
    for (size_t index = 0; index < kNodes; ++index) {
        if (index != kVictim) others.push_back(node_address(static_cast<int>(index + 1)));
    }
    const std::vector<HostPort> victim = {node_address(static_cast<int>(kVictim + 1))};
    cluster.network().cut(victim, others);

    Prng prng(21);
    std::vector<Buffer> objects;
    uint64_t request = 1;
    for (size_t index = 0; index < 12; ++index) {
        Buffer object(100'000 + prng.below(100'000));
        prng.fill(object.data(), object.size());
        SimClient& client = cluster.client(index % kVictim);
        const RequestId id{request++};
        send_put(client, id, fmt::format("obj/{}", index), object.view());
        REQUIRE(cluster.run_until(std::chrono::seconds(30),
                                  [&] { return !client.frames(id).empty(); }));
        INFO("put " << index);
        REQUIRE(client.frames(id).front().header.kind == wire::FrameKind::kResponse);
        objects.push_back(std::move(object));
    }
    const auto total = [&](auto&& figure) {
        uint64_t sum = 0;
        for (size_t index = 0; index < kNodes; ++index) {
            sum += figure(cluster.node(index));
        }
        return sum;
    };
    // The victim's chunk of each stripe fails after the peer timeout, once the put has its
    // quorum, and then goes to a fallback: wait until every stripe's has.
    const auto held = [&] {
        return total([](node::Node& node) { return node.hand_back().held(); });
    };
    const auto handed_off = [&] {
        return total([](node::Node& node) { return node.operation_stats().chunks_handed_off; });
    };
    uint64_t last_seen = 0;
    REQUIRE(cluster.run_until(std::chrono::seconds(30), [&] {
        const uint64_t now = handed_off();
        const bool settled = now > 0 && now == last_seen && held() == now;
        last_seen = now;
        return settled;
    }));
    const uint64_t held_for_victim = held();
    CAPTURE(held_for_victim);

    // Healed, the victim is seen alive again and every fallback hands its chunks back.
    cluster.network().heal(victim, others);
    REQUIRE(cluster.run_until(std::chrono::seconds(60), [&] { return held() == 0; }));
    CHECK(total([](node::Node& node) { return node.hand_back().stats().handed_back; }) ==
          held_for_victim);

    // The victim's chunks are where reads look for them: with two other nodes down, every
    // stripe needs them.
    cluster.crash(0);
    cluster.crash(1);
    for (size_t index = 0; index < objects.size(); ++index) {
        CAPTURE(index);
        const RequestId id{request++};
        Buffer frame;
        wire::encode_request(id, wire::GetRequest{.key = fmt::format("obj/{}", index)}, frame);
        cluster.client(kVictim).send(std::move(frame));
        Result<Buffer> read = await_get(cluster, cluster.client(kVictim), id);
        REQUIRE(read.is_ok());
        CHECK(equal_bytes(read.value().view(), objects[index].view()));
    }
}

}  // namespace
}  // namespace shoal::sim

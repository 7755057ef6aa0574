// Goal: one connection cannot hold more than limits::kConnectionRequestsMax requests open on a
// node; the next is refused with kResourceExhausted while the open ones still complete.
//
// Method: a simulated node and client; the client opens that many puts without finishing
// them, then one more, then finishes one of the first.
#include <limits>

#include <catch2/catch.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include "shoal/base/hash.h"
#include "shoal/base/limits.h"
#include "shoal/coordinator/cluster_options.h"
#include "shoal/node/node.h"
#include "shoal/sim/sim_client.h"
#include "shoal/sim/sim_runtime.h"
#include "shoal/wire/messages.h"

namespace shoal::sim {
namespace {

TEST_CASE("sim: a connection's open requests are bounded", "[sim][limits]") {
    EventQueue events;
    SimNetwork network(events, /*seed=*/1);
    SimDisk disk(events, /*seed=*/2);
    SimRuntime runtime(events, network, disk, {.seed = 3});
    spdlog::logger log("sim.node", std::make_shared<spdlog::sinks::null_sink_st>());
    node::Node::Options options;
    options.cluster.scheme = {.k = 1, .m = 0};  // A cluster of one keeps one copy.
    // So that the put buffer admits as many puts as a connection may open.
    options.cluster.put_buffer_bytes = std::numeric_limits<uint64_t>::max();
    node::Node node(options, runtime, log);
    runtime.start(node);
    node.start([](const Status& status) { REQUIRE(status.is_ok()); });
    SimClient client(network);
    client.connect(runtime);
    REQUIRE(coordinator::puts_active_max(options.cluster) == limits::kConnectionRequestsMax);

    const std::string_view data = "piece";
    const uint64_t requests_max = limits::kConnectionRequestsMax;
    for (uint64_t id = 1; id <= requests_max + 1; id++) {
        Buffer frame;
        wire::encode_request(RequestId{id},
                             wire::PutRequest{.key = "open/" + std::to_string(id),
                                              .piece = {.data = as_bytes(data)}},
                             frame);
        client.send(std::move(frame));
    }
    events.run_until(events.now() + std::chrono::seconds(1));
    for (uint64_t id = 1; id <= requests_max; id++)
        REQUIRE(client.frames(RequestId{id}).empty());
    const std::vector<ReceivedFrame>& refused = client.frames(RequestId{requests_max + 1});
    REQUIRE(refused.size() == 1);
    REQUIRE(refused[0].header.kind == wire::FrameKind::kError);
    Result<wire::ErrorReply> error = wire::decode_error(refused[0].body.view());
    REQUIRE(error.is_ok());
    REQUIRE(error.value().code == Code::kResourceExhausted);

    // An open put still completes.
    Buffer last;
    const std::string whole = std::string(data) + std::string(data);
    wire::encode_put_piece(
            RequestId{1},
            wire::PutPiece{.last = true, .digest = hash64(as_bytes(whole)), .data = as_bytes(data)},
            last);
    client.send(std::move(last));
    events.run_until(events.now() + std::chrono::seconds(1));
    REQUIRE(client.frames(RequestId{1}).size() == 1);
    REQUIRE(client.frames(RequestId{1})[0].header.kind == wire::FrameKind::kResponse);
    REQUIRE(node.store_stats().objects == 1);
}

}  // namespace
}  // namespace shoal::sim

// Goal: the node shell wires membership end to end: simulated Nodes that join through one of
// them converge to one member list (datagrams and push-pulls over the runtime seam), a crashed
// node is seen dead by every other within the LAN bound, and a node that leaves is seen "left".
// Bad datagrams and push-pull states are refused, counted and answered, and nothing else moves.
//
// Method: five real node::Node instances on SimRuntimes at 10.0.0.<i>:7400 on one SimNetwork,
// with the core's default (LAN) timings; node 1 starts alone and the others join it. The run
// is seeded; CAPTURE(seed) prints it on failure. A SimClient sends the bad push-pulls.
#include <memory>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <spdlog/logger.h>

#include "shoal/node/node.h"
#include "shoal/sim/error_counting_sink.h"
#include "shoal/sim/sim_client.h"
#include "shoal/sim/sim_runtime.h"
#include "sim_network_support.h"

namespace shoal::sim {
namespace {

using testing::node_address;

struct SimMember {
    std::unique_ptr<SimDisk> disk;
    std::unique_ptr<SimRuntime> runtime;
    std::unique_ptr<spdlog::logger> log;
    std::unique_ptr<node::Node> node;
};

class MembershipCluster {
public:
    MembershipCluster(size_t count, uint64_t seed)
        : seed_(seed), network_(events_, seed), sink_(std::make_shared<ErrorCountingSink>()) {
        for (size_t index = 0; index < count; index++)
            members_.push_back(make(index));
    }

    node::Node& node(size_t index) { return *members_[index].node; }
    SimNetwork& network() { return network_; }
    SimRuntime& runtime(size_t index) { return *members_[index].runtime; }
    size_t size() const { return members_.size(); }
    bool up(size_t index) const { return members_[index].node != nullptr; }
    void run_for(Duration duration) { events_.run_until(events_.now() + duration); }
    uint64_t errors() const { return sink_->errors(); }

    void crash(size_t index) {
        members_[index].runtime->crash();
        members_[index].node.reset();  // Its runtime must outlive the events it has queued.
    }

    // How `viewer` sees member `subject` (nullopt: unknown).
    std::optional<membership::MemberState> state_of(size_t viewer, size_t subject) {
        const membership::Member* member = node(viewer).swim().find(id_of(subject));
        if (member == nullptr) return std::nullopt;
        return member->state;
    }

    // Every running node sees every running node alive, and `count` of them.
    bool converged(size_t count) {
        for (size_t viewer = 0; viewer < size(); viewer++) {
            if (!up(viewer)) continue;
            size_t alive = 0;
            for (const membership::Member& member : node(viewer).swim().members()) {
                alive += member.state == membership::MemberState::kAlive ? size_t{1} : size_t{0};
            }
            if (alive != count) return false;
        }
        return true;
    }

    // Runs until `done()` or `budget` of simulated time; whether it held.
    template <typename Condition>
    bool run_until(Duration budget, Condition&& done) {
        const Instant deadline = events_.now() + budget;
        while (events_.now() < deadline) {
            if (done()) return true;
            run_for(std::chrono::milliseconds(50));
        }
        return done();
    }

    static membership::MemberId id_of(size_t index) {
        return membership::MemberId{.high = 0x5348, .low = index + 1};
    }

private:
    SimMember make(size_t index) {
        SimMember member;
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
        options.identity = membership::Identity{.id = id_of(index),
                                                .name = options.name,
                                                .address = address,
                                                .zone = "default",
                                                .capacity_weight = 1};
        if (index > 0) options.join = {node_address(1)};
        member.node = std::make_unique<node::Node>(options, *member.runtime, *member.log);
        member.runtime->start(*member.node);
        member.node->start([](const Status& status) { REQUIRE(status.is_ok()); });
        return member;
    }

    uint64_t seed_;
    EventQueue events_;
    SimNetwork network_;
    std::shared_ptr<ErrorCountingSink> sink_;
    std::vector<SimMember> members_;
};

TEST_CASE("sim: nodes that join through one converge and see a crash and a leave",
          "[sim][membership]") {
    const uint64_t seed = GENERATE(uint64_t{1}, uint64_t{2}, uint64_t{3});
    CAPTURE(seed);
    constexpr size_t kNodes = 5;
    MembershipCluster cluster(kNodes, seed);

    // Liveness: a join is one push-pull, and gossip spreads it; well within a few periods.
    REQUIRE(cluster.run_until(std::chrono::seconds(10), [&] { return cluster.converged(kNodes); }));

    // A crash is seen dead by all: a probe round, a probe timeout, the longest suspicion.
    cluster.crash(4);
    const Duration bound = std::chrono::seconds(kNodes - 1) + std::chrono::milliseconds(500) +
                           4 * std::chrono::milliseconds(1500) + std::chrono::seconds(1);
    REQUIRE(cluster.run_until(bound, [&] {
        for (size_t viewer = 0; viewer < kNodes - 1; viewer++) {
            if (cluster.state_of(viewer, 4) != membership::MemberState::kDead) return false;
        }
        return true;
    }));
    REQUIRE(cluster.converged(kNodes - 1));

    // A leave is seen at once as "left", and the leaver stops its runtime once it is gossiped.
    cluster.node(3).begin_leave();
    REQUIRE(cluster.run_until(std::chrono::seconds(2), [&] {
        for (size_t viewer = 0; viewer < 3; viewer++) {
            if (cluster.state_of(viewer, 3) != membership::MemberState::kLeft) return false;
        }
        return cluster.runtime(3).is_stopped();
    }));
    REQUIRE(cluster.errors() == 0);
}

TEST_CASE("sim: bad gossip and push-pull bytes are refused and counted and the node goes on",
          "[sim][membership]") {
    MembershipCluster cluster(2, /*seed=*/7);
    REQUIRE(cluster.run_until(std::chrono::seconds(10), [&] { return cluster.converged(2); }));

    // A datagram that is not gossip.
    const std::string garbage = "not a gossip packet at all";
    cluster.network().send_datagram(node_address(9), node_address(1), Buffer(as_bytes(garbage)));
    // Push-pull requests over the framed protocol: a state that does not decode, and an
    // empty one that the wire decoder refuses.
    SimClient client(cluster.network());
    client.connect(cluster.runtime(0));
    Buffer bad;
    wire::encode_request(RequestId{1}, wire::PushPullRequest{.state = as_bytes(garbage)}, bad);
    client.send(std::move(bad));
    Buffer empty;
    wire::encode_frame_header({.body_bytes = 0,
                               .kind = wire::FrameKind::kRequest,
                               .opcode = wire::Opcode::kPushPull,
                               .request_id = RequestId{2}},
                              empty);
    client.send(std::move(empty));
    Buffer members;
    wire::encode_request(RequestId{3}, wire::MembersRequest{}, members);
    client.send(std::move(members));
    cluster.run_for(std::chrono::seconds(1));

    for (const uint64_t request : {uint64_t{1}, uint64_t{2}}) {
        const std::vector<ReceivedFrame>& replies = client.frames(RequestId{request});
        REQUIRE(replies.size() == 1);
        REQUIRE(replies[0].header.kind == wire::FrameKind::kError);
        Result<wire::ErrorReply> error = wire::decode_error(replies[0].body.view());
        REQUIRE(error.is_ok());
        REQUIRE(error.value().code == Code::kInvalidArgument);
    }
    const std::vector<ReceivedFrame>& listed = client.frames(RequestId{3});
    REQUIRE(listed.size() == 1);
    Result<wire::MembersReply> reply = wire::decode_members_reply(listed[0].body.view());
    REQUIRE(reply.is_ok());
    REQUIRE(reply.value().members.size() == 2);
    REQUIRE(cluster.node(0).swim().stats().packets_malformed >= 1);
    REQUIRE(cluster.node(0).swim().stats().push_pulls_rejected >= 1);
    REQUIRE(client.is_open());
    REQUIRE(cluster.converged(2));
    REQUIRE(cluster.errors() == 0);
}

}  // namespace
}  // namespace shoal::sim

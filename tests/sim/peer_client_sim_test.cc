// Goal: PeerClient keeps coordinator::Peers' rules across simulated nodes: calls to other nodes
// and to the node itself succeed end to end over one reused connection per peer, with error
// codes preserved; a node with no address or nothing listening fails calls with kUnavailable; a
// peer that stops answering (a cut link, a hung process) fails them with kTimeout within the
// bound, and a fresh connection works once it answers again; a crashed peer fails the calls in
// flight at once; a malformed reply closes its connection and fails its calls; calls per peer
// are bounded; and every call completes exactly once, never inside the call.
//
// Method: three simulated nodes on one SimNetwork, each a small handler that owns a LocalStore
// (memory mode), a PeerService and a PeerClient and routes the runtime's events to them, as the
// node does: frames of the connections the client opened go to the client, every other frame is
// a peer request for the service. Faults come from SimNetwork (cut, crash) and from flags on a
// node's handler (it drops requests, or answers with the wrong opcode).
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <spdlog/logger.h>

#include "shoal/node/peer_client.h"
#include "shoal/node/peer_service.h"
#include "shoal/sim/error_counting_sink.h"
#include "shoal/sim/event_queue.h"
#include "shoal/sim/sim_disk.h"
#include "shoal/sim/sim_network.h"
#include "shoal/sim/sim_runtime.h"
#include "shoal/storage/local_store.h"
#include "shoal/storage/memory_store.h"
#include "sim/peer_support.h"
#include "sim/sim_network_support.h"

namespace shoal::sim {
namespace {

using node::PeerClient;
using node::PeerService;
using placement::NodeKey;
using std::chrono::milliseconds;
using testing::chunk_of;
using testing::encoded;
using testing::inline_manifest_of;
using testing::node_address;
using testing::striped_manifest_of;
using testing::TestChunk;
using testing::version_at;

constexpr uint32_t kTimeoutTicks = 50;

NodeKey key_of(int index) {
    return NodeKey{.high = 7, .low = static_cast<uint64_t>(index)};
}

using Addresses = std::map<NodeKey, HostPort>;

// One simulated node: what node::Node will hold for the data path, and its routing.
class PeerNode final : public runtime::Handler {
public:
    PeerNode(EventQueue& events,
             SimNetwork& network,
             int index,
             const Addresses& addresses,
             const std::shared_ptr<ErrorCountingSink>& sink,
             PeerClient::Options options)
        : disk_(events, static_cast<uint64_t>(index)),
          runtime_(events,
                   network,
                   disk_,
                   {.seed = static_cast<uint64_t>(index), .address = node_address(index)}),
          log_(fmt::format("n{}.peer", index), sink),
          service_(local_, log_),
          client_(options_for(index, options), runtime_, log_, service_, resolver(addresses)) {
        runtime_.start(*this);
    }

    SimRuntime& runtime() { return runtime_; }
    PeerClient& client() { return client_; }
    PeerService& service() { return service_; }

    bool drops_requests = false;   // A hung process: requests arrive and nothing answers.
    bool garbles_replies = false;  // Answers every request with a frame of the wrong opcode.

    void on_tick() override { client_.on_tick(); }
    void on_turn_end() override {
        local_.on_turn_end();
        service_.on_turn_end();
        client_.on_turn_end();
    }
    void on_accepted(runtime::ConnectionId /*connection*/, const std::string& /*peer*/) override {}
    void on_connected(runtime::ConnectionId connection) override {
        REQUIRE(client_.owns(connection));  // This node connects only through its client.
        client_.on_connected(connection);
    }
    void on_frame(runtime::ConnectionId connection, ByteView frame) override {
        if (client_.owns(connection)) {
            client_.on_frame(connection, frame);
            return;
        }
        serve(connection, frame);
    }
    void on_send_ready(runtime::ConnectionId connection) override {
        if (client_.owns(connection)) client_.on_send_ready(connection);
    }
    void on_closed(runtime::ConnectionId connection, const Status& reason) override {
        if (client_.owns(connection)) client_.on_closed(connection, reason);
    }

private:
    static PeerClient::Options options_for(int index, PeerClient::Options options) {
        options.self = key_of(index);
        return options;
    }

    static PeerClient::Resolver resolver(const Addresses& addresses) {
        return [&addresses](const NodeKey& node) -> std::optional<HostPort> {
            auto found = addresses.find(node);
            if (found == addresses.end()) return std::nullopt;
            return found->second;
        };
    }

    void serve(runtime::ConnectionId connection, ByteView frame) {
        const wire::FrameHeader header =
                wire::decode_frame_header(frame, limits::kFrameBodyBytesMax).value();
        Result<wire::Request> request = wire::decode_request(
                {.header = header, .body = frame.subspan(wire::kFrameHeaderBytes)});
        REQUIRE(request.is_ok());
        REQUIRE(PeerService::is_peer_request(request.value()));
        if (drops_requests) return;
        if (garbles_replies) {
            Buffer reply;
            wire::encode_reply(header.request_id, wire::ChunkDeleteReply{}, reply);
            runtime_.send(connection, runtime::OutFrame{.head = std::move(reply)});
            return;
        }
        service_.serve(
                request.value(), header.request_id, [this, connection](runtime::OutFrame reply) {
                    runtime_.send(connection, std::move(reply));
                });
    }

    SimDisk disk_;
    SimRuntime runtime_;
    spdlog::logger log_;
    storage::MemoryStore memory_{storage::MemoryStore::Options{}};
    storage::LocalStore local_{memory_};
    PeerService service_;
    PeerClient client_;
};

// What one call's completions did: how often they ran, and whether one ran inside the call.
template <typename Answer>
struct Probe {
    std::optional<Answer> answer;
    uint32_t completions = 0;
    bool in_call = true;
    bool completed_in_call = false;
};

class Cluster {
public:
    explicit Cluster(int count, PeerClient::Options options = {.timeout_ticks = kTimeoutTicks})
        : network_(events_, /*seed=*/33) {
        for (int index = 1; index <= count; index++) {
            addresses_[key_of(index)] = node_address(index);
        }
        for (int index = 1; index <= count; index++) {
            nodes_.push_back(std::make_unique<PeerNode>(
                    events_, network_, index, addresses_, sink_, options));
        }
    }

    ~Cluster() {
        // Every call completed exactly once, and none inside its call.
        for (const auto& [completions, inside] : checks_) {
            CHECK(*completions == 1);
            CHECK_FALSE(*inside);
        }
        CHECK(sink_->errors() == 0);
    }

    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;
    Cluster(Cluster&&) = delete;
    Cluster& operator=(Cluster&&) = delete;

    EventQueue& events() { return events_; }
    SimNetwork& network() { return network_; }
    Addresses& addresses() { return addresses_; }
    PeerNode& node(int index) { return *nodes_.at(static_cast<size_t>(index - 1)); }
    PeerClient& client(int index) { return node(index).client(); }

    // Starts a call whose completion fills a probe; the probe is checked when the cluster ends.
    template <typename Answer, typename Start>
    std::shared_ptr<Probe<Answer>> start(Start start_call) {
        auto probe = std::make_shared<Probe<Answer>>();
        start_call([probe](Answer given) {
            probe->completions += 1;
            if (probe->in_call) probe->completed_in_call = true;
            probe->answer.emplace(std::move(given));
        });
        probe->in_call = false;
        checks_.emplace_back(std::shared_ptr<uint32_t>(probe, &probe->completions),
                             std::shared_ptr<bool>(probe, &probe->completed_in_call));
        return probe;
    }

    // Runs until every probe has its answer, or `budget` passes.
    template <typename... Probes>
    void run_until_answered(Duration budget, const Probes&... probes) {
        events_.run_until(events_.now() + budget,
                          [&] { return (probes->answer.has_value() && ...); });
    }

    // Starts a call and runs until it has its answer.
    template <typename Answer, typename Start>
    Answer call(Start start_call, Duration budget = std::chrono::seconds(1)) {
        auto probe = start<Answer>(start_call);
        REQUIRE_FALSE(probe->answer.has_value());
        run_until_answered(budget, probe);
        REQUIRE(probe->answer.has_value());
        return std::move(*probe->answer);
    }

    void run_for(Duration duration) { events_.run_until(events_.now() + duration); }

private:
    EventQueue events_;
    SimNetwork network_;
    Addresses addresses_;
    std::shared_ptr<ErrorCountingSink> sink_ = std::make_shared<ErrorCountingSink>();
    std::vector<std::unique_ptr<PeerNode>> nodes_;
    std::vector<std::pair<std::shared_ptr<uint32_t>, std::shared_ptr<bool>>> checks_;
};

coordinator::OutgoingChunk outgoing(const TestChunk& chunk) {
    return coordinator::OutgoingChunk{.id = chunk.id,
                                      .header = chunk.header,
                                      .data = chunk.data->view(),
                                      .owner = chunk.data};
}

Status put_chunk(Cluster& cluster, int from, int to, const TestChunk& chunk) {
    return cluster.call<Status>(
            [&](auto done) { cluster.client(from).put_chunk(key_of(to), outgoing(chunk), done); });
}

Result<Buffer> get_chunk(Cluster& cluster, int from, int to, const object::ChunkId& chunk) {
    return cluster.call<Result<Buffer>>(
            [&](auto done) { cluster.client(from).get_chunk(key_of(to), chunk, done); });
}

Status put_manifest(Cluster& cluster, int from, int to, const object::Manifest& manifest) {
    auto bytes = std::make_shared<const Buffer>(encoded(manifest));
    return cluster.call<Status>(
            [&](auto done) { cluster.client(from).put_manifest(key_of(to), bytes, done); });
}

Result<std::optional<object::Manifest>> get_manifest(Cluster& cluster,
                                                     int from,
                                                     int to,
                                                     const std::string& key) {
    return cluster.call<Result<std::optional<object::Manifest>>>(
            [&](auto done) { cluster.client(from).get_manifest(key_of(to), key, done); });
}

TEST_CASE("peer client: calls to other nodes and to itself succeed end to end",
          "[sim][peer][client]") {
    Cluster cluster(3);
    const object::Manifest manifest = striped_manifest_of("photos/cat.jpg", version_at(100));
    const TestChunk chunk = chunk_of(manifest, 1, 2);
    for (int to = 1; to <= 3; to++) {
        CAPTURE(to);
        REQUIRE(put_chunk(cluster, 1, to, chunk).is_ok());
        Result<Buffer> record = get_chunk(cluster, 1, to, chunk.id);
        REQUIRE(record.is_ok());
        CHECK(equal_bytes(record.value().view(), chunk.record().view()));
        CHECK(cluster.node(to).service().stats().chunks_stored == 1);

        REQUIRE(put_manifest(cluster, 1, to, manifest).is_ok());
        // An older version is superseded, which is still success: the node holds a newer one.
        REQUIRE(put_manifest(cluster, 1, to, inline_manifest_of(manifest.key, version_at(50)))
                        .is_ok());
        Result<std::optional<object::Manifest>> held = get_manifest(cluster, 1, to, manifest.key);
        REQUIRE(held.is_ok());
        REQUIRE(held.value().has_value());
        CHECK(*held.value() == manifest);
        CHECK(get_manifest(cluster, 1, to, "absent").value() == std::nullopt);

        const Result<coordinator::ManifestPage> page =
                cluster.call<Result<coordinator::ManifestPage>>([&](auto done) {
                    cluster.client(1).list_manifests(key_of(to), "photos/", "", 10, done);
                });
        REQUIRE(page.is_ok());
        REQUIRE(page.value().entries.size() == 1);
        CHECK(page.value().entries[0].key == manifest.key);
        CHECK(page.value().entries[0].object_bytes == manifest.object_bytes);
        CHECK(page.value().entries[0].object_digest == manifest.object_digest);
        CHECK_FALSE(page.value().truncated);

        // Failures keep their code across the wire.
        const TestChunk other = chunk_of(manifest, 0, 0);
        CHECK(get_chunk(cluster, 1, to, other.id).status().code() == Code::kNotFound);
        TestChunk corrupt = chunk_of(manifest, 0, 1);
        corrupt.data = std::make_shared<Buffer>(corrupt.data->clone());
        (*corrupt.data)[0] ^= std::byte{1};
        CHECK(put_chunk(cluster, 1, to, corrupt).code() == Code::kCorruption);

        // A delete removes the chunk; one the node never had is deleted all the same.
        const auto delete_chunk = [&](const object::ChunkId& id) {
            return cluster.call<Status>(
                    [&](auto done) { cluster.client(1).delete_chunk(key_of(to), id, done); });
        };
        REQUIRE(delete_chunk(chunk.id).is_ok());
        CHECK(get_chunk(cluster, 1, to, chunk.id).status().code() == Code::kNotFound);
        CHECK(delete_chunk(other.id).is_ok());
    }
    const node::PeerClientStats& stats = cluster.client(1).stats();
    CHECK(stats.calls_to_self == 12);
    CHECK(stats.connections_opened == 2);  // One per peer, reused by every call.
    CHECK(cluster.client(1).connections() == 2);
    CHECK(cluster.client(1).calls_in_flight() == 0);
}

TEST_CASE("peer client: many calls in flight on one connection are matched by request id",
          "[sim][peer][client]") {
    Cluster cluster(2);
    const object::Manifest manifest = striped_manifest_of("many", version_at(100));
    std::vector<TestChunk> chunks;
    for (uint32_t stripe = 0; stripe < 2; stripe++) {
        for (uint8_t index = 0; index < 3; index++) {
            chunks.push_back(chunk_of(manifest, stripe, index));
        }
    }
    std::vector<std::shared_ptr<Probe<Status>>> puts;
    puts.reserve(chunks.size());
    for (const TestChunk& chunk : chunks) {
        puts.push_back(cluster.start<Status>(
                [&](auto done) { cluster.client(1).put_chunk(key_of(2), outgoing(chunk), done); }));
    }
    cluster.run_for(milliseconds(500));
    for (const auto& put : puts) {
        REQUIRE(put->answer.has_value());
        CHECK(put->answer->is_ok());
    }
    // Gets of different sizes and kinds at once; the answers may come in any order.
    std::vector<std::shared_ptr<Probe<Result<Buffer>>>> gets;
    gets.reserve(chunks.size());
    for (const TestChunk& chunk : chunks) {
        gets.push_back(cluster.start<Result<Buffer>>(
                [&](auto done) { cluster.client(1).get_chunk(key_of(2), chunk.id, done); }));
    }
    auto absent = cluster.start<Result<std::optional<object::Manifest>>>(
            [&](auto done) { cluster.client(1).get_manifest(key_of(2), "none", done); });
    cluster.run_for(milliseconds(500));
    for (size_t index = 0; index < chunks.size(); index++) {
        REQUIRE(gets[index]->answer.has_value());
        REQUIRE(gets[index]->answer->is_ok());
        CHECK(equal_bytes(gets[index]->answer->value().view(), chunks[index].record().view()));
    }
    REQUIRE(absent->answer.has_value());
    CHECK(absent->answer->value() == std::nullopt);
    CHECK(cluster.client(1).stats().connections_opened == 1);
}

TEST_CASE("peer client: a node with no address or nothing listening is unavailable",
          "[sim][peer][client]") {
    Cluster cluster(2);
    SECTION("no known address") {
        const Status put = put_manifest(cluster, 1, 5, inline_manifest_of("k", version_at(3)));
        CHECK(put.code() == Code::kUnavailable);
        CHECK(cluster.client(1).stats().calls_unresolved == 1);
        CHECK(cluster.client(1).stats().connections_opened == 0);
    }
    SECTION("nothing listening at its address") {
        cluster.addresses()[key_of(9)] = node_address(9);
        auto first = cluster.start<Result<std::optional<object::Manifest>>>(
                [&](auto done) { cluster.client(1).get_manifest(key_of(9), "k", done); });
        auto second = cluster.start<Result<Buffer>>([&](auto done) {
            cluster.client(1).get_chunk(key_of(9), object::ChunkId{}, done);
        });
        cluster.run_until_answered(milliseconds(100), first, second);
        REQUIRE(first->answer.has_value());
        REQUIRE(second->answer.has_value());
        CHECK(first->answer->status().code() == Code::kUnavailable);
        CHECK(second->answer->status().code() == Code::kUnavailable);
        CHECK(cluster.client(1).stats().connections_opened == 1);
        CHECK(cluster.client(1).connections() == 0);
    }
}

TEST_CASE("peer client: a peer that stops answering fails calls with kTimeout within the bound",
          "[sim][peer][client]") {
    Cluster cluster(2);
    const object::Manifest manifest = inline_manifest_of("slow", version_at(10));
    const bool connected_first = GENERATE(true, false);
    if (connected_first) REQUIRE(put_manifest(cluster, 1, 2, manifest).is_ok());
    const bool hung = GENERATE(false, true);
    CAPTURE(connected_first, hung);
    if (hung) {
        cluster.node(2).drops_requests = true;
    } else {
        cluster.network().cut({node_address(1)}, {node_address(2)});
    }
    const Instant started = cluster.events().now();
    std::vector<std::shared_ptr<Probe<Result<std::optional<object::Manifest>>>>> calls;
    calls.reserve(5);
    for (int index = 0; index < 3; index++) {
        calls.push_back(cluster.start<Result<std::optional<object::Manifest>>>(
                [&](auto done) { cluster.client(1).get_manifest(key_of(2), "slow", done); }));
    }
    cluster.events().run_until(started + kTickDuration * (kTimeoutTicks - 1));
    for (const auto& call : calls) {
        REQUIRE_FALSE(call->answer.has_value());
    }
    cluster.events().run_until(started + kTickDuration * (kTimeoutTicks + 1));
    for (const auto& call : calls) {
        REQUIRE(call->answer.has_value());
        CHECK(call->answer->status().code() == Code::kTimeout);
    }
    CHECK(cluster.client(1).stats().calls_timed_out == 3);
    CHECK(cluster.client(1).stats().connections_closed_unresponsive == 1);
    CHECK(cluster.client(1).calls_in_flight() == 0);

    // Once the peer answers again, the next call connects afresh and succeeds.
    cluster.node(2).drops_requests = false;
    cluster.network().heal_all();
    cluster.run_for(milliseconds(100));
    Result<std::optional<object::Manifest>> held = get_manifest(cluster, 1, 2, "slow");
    REQUIRE(held.is_ok());
    CHECK(held.value().has_value() == connected_first);
}

TEST_CASE("peer client: a crashed peer fails the calls in flight at once", "[sim][peer][client]") {
    Cluster cluster(3);
    const object::Manifest manifest = striped_manifest_of("doomed", version_at(10));
    const TestChunk chunk = chunk_of(manifest, 0, 0);
    REQUIRE(put_chunk(cluster, 1, 2, chunk).is_ok());
    const Instant crashed = cluster.events().now();
    auto get = cluster.start<Result<Buffer>>(
            [&](auto done) { cluster.client(1).get_chunk(key_of(2), chunk.id, done); });
    auto put = cluster.start<Status>([&](auto done) {
        cluster.client(1).put_manifest(
                key_of(2), std::make_shared<const Buffer>(encoded(manifest)), done);
    });
    // The crash lands before the requests do: what was sent is lost with the process.
    cluster.node(2).runtime().crash();
    cluster.run_until_answered(milliseconds(100), get, put);
    REQUIRE(get->answer.has_value());
    REQUIRE(put->answer.has_value());
    CHECK(get->answer->status().code() == Code::kUnavailable);
    CHECK(put->answer->code() == Code::kUnavailable);
    CHECK(cluster.events().now() - crashed < kTickDuration * kTimeoutTicks);
    CHECK(cluster.client(1).stats().connections_lost == 1);
    // Later calls find nothing listening; the other peer is unaffected.
    CHECK(get_chunk(cluster, 1, 2, chunk.id).status().code() == Code::kUnavailable);
    CHECK(put_chunk(cluster, 1, 3, chunk).is_ok());
}

TEST_CASE("peer client: a malformed reply closes its connection and fails its calls",
          "[sim][peer][client]") {
    Cluster cluster(2);
    const object::Manifest manifest = inline_manifest_of("garbled", version_at(10));
    REQUIRE(put_manifest(cluster, 1, 2, manifest).is_ok());
    cluster.node(2).garbles_replies = true;
    auto first = cluster.start<Result<std::optional<object::Manifest>>>(
            [&](auto done) { cluster.client(1).get_manifest(key_of(2), "garbled", done); });
    auto second = cluster.start<Result<Buffer>>(
            [&](auto done) { cluster.client(1).get_chunk(key_of(2), object::ChunkId{}, done); });
    cluster.run_until_answered(milliseconds(100), first, second);
    REQUIRE(first->answer.has_value());
    REQUIRE(second->answer.has_value());
    CHECK(first->answer->status().code() == Code::kUnavailable);
    CHECK(second->answer->status().code() == Code::kUnavailable);
    CHECK(cluster.client(1).stats().replies_malformed == 1);
    cluster.run_for(milliseconds(10));
    CHECK(cluster.client(1).connections() == 0);

    cluster.node(2).garbles_replies = false;
    Result<std::optional<object::Manifest>> held = get_manifest(cluster, 1, 2, "garbled");
    REQUIRE(held.is_ok());
    CHECK(*held.value() == manifest);
}

TEST_CASE("peer client: calls in flight to one peer are bounded", "[sim][peer][client]") {
    Cluster cluster(2, {.timeout_ticks = kTimeoutTicks, .calls_per_peer_max = 4});
    std::vector<std::shared_ptr<Probe<Result<std::optional<object::Manifest>>>>> calls;
    calls.reserve(5);
    for (int index = 0; index < 5; index++) {
        calls.push_back(cluster.start<Result<std::optional<object::Manifest>>>(
                [&](auto done) { cluster.client(1).get_manifest(key_of(2), "k", done); }));
    }
    cluster.run_for(milliseconds(100));
    for (int index = 0; index < 5; index++) {
        const auto& answer = calls[static_cast<size_t>(index)]->answer;
        REQUIRE(answer.has_value());
        if (index < 4) {
            CHECK(answer->is_ok());
        } else {
            CHECK(answer->status().code() == Code::kResourceExhausted);
        }
    }
    CHECK(cluster.client(1).stats().calls_refused_busy == 1);
}

}  // namespace
}  // namespace shoal::sim

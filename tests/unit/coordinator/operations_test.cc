// The coordinator's operations over a fake cluster: puts spread stripes and reach their
// quorums, gets read byte-exact through any m lost nodes and fail clearly past that, bad
// chunks count as missing, deletes stay deleted, the newest version wins, and lists merge.
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "fake_peers.h"
#include "fake_put.h"
#include "shoal/base/hash.h"
#include "shoal/base/key_hash.h"
#include "shoal/base/prng.h"
#include "shoal/coordinator/get_operation.h"
#include "shoal/coordinator/metadata_operations.h"
#include "shoal/coordinator/put_operation.h"

namespace shoal::coordinator {
namespace {

using testing::FakeNode;
using testing::FakePeers;

constexpr uint32_t kStripeBytes = 64 * 1024;

Buffer random_bytes(uint64_t seed, size_t size) {
    Prng prng(seed);
    Buffer bytes(size);
    prng.fill(bytes.data(), bytes.size());
    return bytes;
}

class CollectingSink final : public GetSink {
public:
    void on_manifest(const object::Manifest& manifest) override { manifest_ = manifest; }
    void on_bytes(ByteView bytes, std::shared_ptr<const void> /*owner*/) override {
        bytes_.append(bytes);
    }
    void on_end() override { outcome_ = Status::ok(); }
    void on_failure(Status status) override { outcome_ = std::move(status); }
    bool wants_bytes() const override { return true; }

    const std::optional<Status>& outcome() const { return outcome_; }
    const Buffer& bytes() const { return bytes_; }
    const std::optional<object::Manifest>& manifest() const { return manifest_; }

private:
    std::optional<object::Manifest> manifest_;
    Buffer bytes_;
    std::optional<Status> outcome_;
};

struct Cluster {
    explicit Cluster(uint32_t nodes) : peers(nodes), layout(peers.layout()) {}

    Result<object::Manifest> put(const std::string& key,
                                 ByteView value,
                                 object::Scheme scheme = {.k = 4, .m = 2},
                                 uint32_t piece_bytes = 10'000) {
        clock += 1;
        return testing::put_object(peers,
                                   layout,
                                   stats,
                                   {.key = key,
                                    .declared_bytes = value.size(),
                                    .scheme = scheme,
                                    .stripe_bytes = kStripeBytes,
                                    .version = {.hlc = clock << 16, .node = NodeId{1}},
                                    .created_ms = clock,
                                    .version_after =
                                            [this](Version newest) {
                                                return version_after(newest);
                                            }},
                                   value,
                                   piece_bytes);
    }

    std::pair<Status, Buffer> get(const std::string& key) {
        CollectingSink sink;
        auto get = std::make_shared<GetOperation>(peers, layout, key, stats, sink);
        get->start();
        peers.run();
        REQUIRE(sink.outcome().has_value());
        return {*sink.outcome(), sink.bytes().clone()};
    }

    Result<Version> remove(const std::string& key) {
        clock += 1;
        std::optional<Result<Version>> outcome;
        delete_object(
                peers,
                layout,
                key,
                [this](Version newest) { return version_after(newest); },
                stats,
                [&](Result<Version> tombstone) { outcome = std::move(tombstone); });
        peers.run();
        REQUIRE(outcome.has_value());
        return std::move(*outcome);
    }

    Result<ListPage> list(const std::string& prefix, const std::string& after, uint32_t limit) {
        std::optional<Result<ListPage>> outcome;
        list_objects(peers, layout, {prefix, after, limit}, stats, [&](Result<ListPage> page) {
            outcome = std::move(page);
        });
        peers.run();
        REQUIRE(outcome.has_value());
        return std::move(*outcome);
    }

    FakePeers peers;
    std::shared_ptr<const Layout> layout;
    OperationStats stats;
    // As a node's: later than every version issued or observed.
    Version version_after(Version newest) {
        hlc.observe(newest.hlc);
        return Version{.hlc = hlc.next(clock), .node = NodeId{1}};
    }

    uint64_t clock = 0;
    HybridClock hlc;
};

TEST_CASE("put then get round-trips objects inline and striped", "[coordinator]") {
    Cluster cluster(6);
    const size_t size = GENERATE(size_t{0},
                                 size_t{1},
                                 size_t{4096},
                                 size_t{4097},
                                 size_t{kStripeBytes},
                                 size_t{3 * kStripeBytes + 12'345});
    INFO("size " << size);
    const Buffer value = random_bytes(size + 1, size);
    Result<object::Manifest> written = cluster.put("photos/cat.jpg", value.view());
    REQUIRE(written.is_ok());
    CHECK(written.value().object_bytes == size);
    const bool inline_object = size <= object::kInlineBytesMax;
    CHECK((written.value().kind == object::ManifestKind::kInline) == inline_object);
    if (!inline_object) {
        CHECK(written.value().stripe_count() == (size + kStripeBytes - 1) / kStripeBytes);
    }
    auto [status, bytes] = cluster.get("photos/cat.jpg");
    REQUIRE(status.is_ok());
    CHECK(equal_bytes(bytes.view(), value.view()));
    CHECK(cluster.stats.stripes_degraded == 0);
}

TEST_CASE("a get reads byte-exact through every pattern of two lost nodes", "[coordinator]") {
    Cluster cluster(6);
    const Buffer value = random_bytes(5, 2 * kStripeBytes + 777);
    REQUIRE(cluster.put("k", value.view()).is_ok());
    std::vector<NodeKey> keys;
    for (const auto& [key, node] : cluster.peers.nodes())
        keys.push_back(key);
    for (size_t first = 0; first < keys.size(); ++first) {
        for (size_t second = first + 1; second < keys.size(); ++second) {
            INFO("down: " << first << " and " << second);
            cluster.peers.node(keys[first]).down = true;
            cluster.peers.node(keys[second]).down = true;
            auto [status, bytes] = cluster.get("k");
            REQUIRE(status.is_ok());
            CHECK(equal_bytes(bytes.view(), value.view()));
            cluster.peers.node(keys[first]).down = false;
            cluster.peers.node(keys[second]).down = false;
        }
    }
    CHECK(cluster.stats.stripes_degraded > 0);
}

TEST_CASE("a get with three of six nodes lost fails with a clear error", "[coordinator]") {
    Cluster cluster(6);
    const Buffer value = random_bytes(6, kStripeBytes);
    REQUIRE(cluster.put("photos/cat.jpg", value.view()).is_ok());
    // Three nodes that hold chunks of stripe 0 but not both manifest copies that answer first.
    const std::vector<NodeKey> holders = cluster.layout->stripe_candidates("photos/cat.jpg", 0);
    for (size_t index = 0; index < 3; ++index)
        cluster.peers.node(holders[index]).down = true;
    auto [status, bytes] = cluster.get("photos/cat.jpg");
    REQUIRE_FALSE(status.is_ok());
    INFO(status.to_string());
    CHECK(status.code() == Code::kUnavailable);
    CHECK_THAT(status.message(), Catch::Contains("stripe 0: 3 of 6 chunks readable, 4 needed"));
}

TEST_CASE("a corrupted or missing chunk is treated as missing and counted", "[coordinator]") {
    Cluster cluster(6);
    const Buffer value = random_bytes(7, kStripeBytes);
    REQUIRE(cluster.put("k", value.view()).is_ok());
    // Flip a byte of the data of chunk 0 and drop chunk 1, wherever they are.
    uint32_t flipped = 0;
    uint32_t dropped = 0;
    for (auto& [key, node] : cluster.peers.nodes()) {
        for (auto it = node.chunks.begin(); it != node.chunks.end();) {
            Result<object::StoreKey> parsed = object::parse_store_key(it->first);
            REQUIRE(parsed.is_ok());
            const uint8_t chunk = parsed.value().chunk.chunk_index;
            if (chunk == 0) {
                Buffer& record = it->second;
                record[record.size() - 1] ^= std::byte{0x40};
                flipped += 1;
            }
            if (chunk == 1) {
                it = node.chunks.erase(it);
                dropped += 1;
                continue;
            }
            ++it;
        }
    }
    REQUIRE(flipped == 1);
    REQUIRE(dropped == 1);
    auto [status, bytes] = cluster.get("k");
    REQUIRE(status.is_ok());
    CHECK(equal_bytes(bytes.view(), value.view()));
    CHECK(cluster.stats.chunks_corrupt == 1);
    CHECK(cluster.stats.chunks_unavailable == 1);
    CHECK(cluster.stats.stripes_degraded == 1);
}

TEST_CASE("a chunk's owner is the stripe candidate of its index", "[coordinator]") {
    Cluster cluster(9);
    const uint32_t owners = cluster.layout->table().owners_per_partition();
    for (const char* key : {"k", "photos/cat.jpg", ""}) {
        for (uint32_t stripe = 0; stripe < 40; ++stripe) {
            const std::vector<NodeKey> candidates = cluster.layout->stripe_candidates(key, stripe);
            for (uint32_t chunk = 0; chunk < owners; ++chunk) {
                CHECK(cluster.layout->chunk_owner(shoal::key_hash(key), stripe, chunk) ==
                      candidates[chunk]);
            }
            CHECK_FALSE(cluster.layout->chunk_owner(shoal::key_hash(key), stripe, owners));
        }
    }
}

TEST_CASE("chunks for a down owner go to a fallback the manifest names", "[coordinator]") {
    Cluster cluster(8);
    // Stripe 0 shares the manifest's partition: losing one of its owners leaves 5 of 6
    // manifest copies, the quorum, while its chunk must go to one of the two other nodes.
    const NodeKey victim = cluster.layout->stripe_candidates("k", 0)[2];
    cluster.peers.node(victim).down = true;
    const Buffer value = random_bytes(8, kStripeBytes / 2);
    Result<object::Manifest> written = cluster.put("k", value.view());
    REQUIRE(written.is_ok());
    CHECK(cluster.stats.chunks_handed_off >= 1);
    for (uint32_t chunk = 0; chunk < 6; ++chunk) {
        CHECK(node_key_of(written.value().chunk_node(0, chunk)) != victim);
    }
    auto [status, bytes] = cluster.get("k");
    REQUIRE(status.is_ok());
    CHECK(equal_bytes(bytes.view(), value.view()));
}

TEST_CASE("a chunk handed back to its owner is read there and collected there", "[coordinator]") {
    Cluster cluster(8);
    const NodeKey victim = cluster.layout->stripe_candidates("k", 0)[2];
    cluster.peers.node(victim).down = true;
    const Buffer value = random_bytes(9, kStripeBytes / 2);
    Result<object::Manifest> written = cluster.put("k", value.view());
    REQUIRE(written.is_ok());
    // The stripe may be written before the handed-off chunk lands, so the manifest need not
    // name it: look for it.
    const std::string store_key = object::chunk_store_key({.key_hash = shoal::key_hash("k"),
                                                           .version = written.value().version,
                                                           .stripe_index = 0,
                                                           .chunk_index = 2});
    NodeKey fallback;
    for (auto& [key, node] : cluster.peers.nodes()) {
        if (node.chunks.contains(store_key)) fallback = key;
    }
    REQUIRE(fallback != NodeKey{});
    REQUIRE(fallback != victim);

    // Every manifest copy names the fallback, as when the hand-off landed first.
    for (auto& [key, node] : cluster.peers.nodes()) {
        for (auto& [manifest_key, manifest] : node.manifests) {
            if (manifest.version == written.value().version) {
                manifest.set_chunk_node(0, 2, object_node_key(fallback));
            }
        }
    }

    // What HandBack does once the owner is back: the chunk moves, the manifest stays.
    cluster.peers.node(victim).down = false;
    FakeNode& from = cluster.peers.node(fallback);
    REQUIRE(from.chunks.contains(store_key));
    cluster.peers.node(victim).chunks[store_key] = std::move(from.chunks[store_key]);
    from.chunks.erase(store_key);

    // Chunk 2 is a data chunk: not found where the manifest says, the get asks its owner and
    // reads no parity.
    const uint64_t unavailable = cluster.stats.chunks_unavailable;
    auto [status, bytes] = cluster.get("k");
    REQUIRE(status.is_ok());
    CHECK(equal_bytes(bytes.view(), value.view()));
    CHECK(cluster.stats.chunks_unavailable == unavailable);
    CHECK(cluster.peers.node(victim).chunks.contains(store_key));

    // A delete collects it where it now is.
    REQUIRE(cluster.remove("k").is_ok());
    CHECK(!cluster.peers.node(victim).chunks.contains(store_key));
    CHECK(!cluster.peers.node(fallback).chunks.contains(store_key));
}

TEST_CASE("a put that cannot reach its quorum fails and says why", "[coordinator]") {
    Cluster cluster(6);
    int down = 0;
    for (auto& [key, node] : cluster.peers.nodes()) {
        if (down < 2) node.down = true;
        down += 1;
    }
    const Buffer value = random_bytes(9, kStripeBytes);
    Result<object::Manifest> written = cluster.put("photos/cat.jpg", value.view());
    REQUIRE_FALSE(written.is_ok());
    INFO(written.status().to_string());
    CHECK_THAT(written.status().message(),
               Catch::Contains("put photos/cat.jpg: stripe 0: 4 of 6 chunks durable on distinct "
                               "nodes, 5 needed"));
    // A small put needs only the manifest, and its quorum is missed the same way.
    Result<object::Manifest> small = cluster.put("small", as_bytes("tiny"));
    REQUIRE_FALSE(small.is_ok());
    CHECK_THAT(small.status().message(),
               Catch::Contains("put small: 4 of 6 manifest owners hold it, 5 needed"));
}

// One node under RS 4+2 (the default): no put or get can meet its quorum, and the error
// says that the cluster is too small rather than that nodes failed.
TEST_CASE("a cluster smaller than its code's quorum says so", "[coordinator]") {
    for (const uint32_t nodes : {1U, 3U}) {
        CAPTURE(nodes);
        Cluster cluster(nodes);
        Result<object::Manifest> small = cluster.put("small", as_bytes("tiny"));
        REQUIRE_FALSE(small.is_ok());
        CHECK_THAT(small.status().message(),
                   Catch::Contains(fmt::format("the cluster has {} node{}, too few for its "
                                               "redundancy: see cluster.redundancy",
                                               nodes,
                                               nodes == 1 ? "" : "s")));
        // Reads need two answers: one node cannot give them.
        if (nodes == 1) {
            auto [status, bytes] = cluster.get("small");
            CHECK(status.code() == Code::kUnavailable);
            CHECK_THAT(status.message(), Catch::Contains("too few for its redundancy"));
        }
    }
    // Six nodes, two of them down: the usual error, with no word of the cluster's size.
    Cluster six(6);
    int down = 0;
    for (auto& [key, node] : six.peers.nodes()) {
        if (down++ < 2) node.down = true;
    }
    Result<object::Manifest> small = six.put("small", as_bytes("tiny"));
    REQUIRE_FALSE(small.is_ok());
    CHECK_THAT(small.status().message(), !Catch::Contains("too few"));
}

TEST_CASE("a put refused for lack of space says so with its code", "[coordinator]") {
    Cluster cluster(6);
    for (auto& [key, node] : cluster.peers.nodes())
        node.full = true;
    Result<object::Manifest> big = cluster.put("big", random_bytes(12, kStripeBytes).view());
    REQUIRE_FALSE(big.is_ok());
    CHECK(big.status().code() == Code::kResourceExhausted);
    Result<object::Manifest> small = cluster.put("small", as_bytes("tiny"));
    REQUIRE_FALSE(small.is_ok());
    CHECK(small.status().code() == Code::kResourceExhausted);
    CHECK_THAT(small.status().message(), Catch::Contains("no space"));
}

TEST_CASE("the newest version wins, and a delete stays deleted", "[coordinator]") {
    Cluster cluster(6);
    REQUIRE(cluster.put("k", as_bytes("first")).is_ok());
    const Buffer second = random_bytes(10, kStripeBytes + 5);
    REQUIRE(cluster.put("k", second.view()).is_ok());
    auto [status, bytes] = cluster.get("k");
    REQUIRE(status.is_ok());
    CHECK(equal_bytes(bytes.view(), second.view()));

    Result<Version> tombstone = cluster.remove("k");
    REQUIRE(tombstone.is_ok());
    auto [gone, nothing] = cluster.get("k");
    CHECK(gone.code() == Code::kNotFound);
    CHECK(cluster.remove("k").status().code() == Code::kNotFound);
    CHECK(cluster.remove("never").status().code() == Code::kNotFound);

    REQUIRE(cluster.put("k", as_bytes("again")).is_ok());
    auto [back, again] = cluster.get("k");
    REQUIRE(back.is_ok());
    CHECK(as_string_view(again.view()) == "again");
}

// Chunks held over all nodes, and those of one version.
size_t chunks_held(FakePeers& peers, std::optional<Version> version = std::nullopt) {
    size_t held = 0;
    for (auto& [key, node] : peers.nodes()) {
        for (const auto& [store_key, record] : node.chunks) {
            Result<object::StoreKey> parsed = object::parse_store_key(store_key);
            REQUIRE(parsed.is_ok());
            if (!version.has_value() || parsed.value().chunk.version == *version) held += 1;
        }
    }
    return held;
}

// A put of `value` at exactly `version`, as a node whose clock reads it would send.
void put_at(Cluster& cluster, const std::string& key, ByteView value, Version version) {
    Result<object::Manifest> written = testing::put_object(cluster.peers,
                                                           cluster.layout,
                                                           cluster.stats,
                                                           {.key = key,
                                                            .declared_bytes = value.size(),
                                                            .stripe_bytes = kStripeBytes,
                                                            .version = version},
                                                           value);
    REQUIRE(written.is_ok());
}

// The key's newest version is from a clock far ahead: both puts, started together through
// one node, must be raised past it, and still differ (they name their chunks by version).
TEST_CASE("two puts raised past a newer version get distinct versions", "[coordinator]") {
    Cluster cluster(6);
    const Buffer ahead = random_bytes(20, 100);
    put_at(cluster, "k", ahead.view(), {.hlc = uint64_t{1'000'000} << 16, .node = NodeId{9}});
    const Buffer first = random_bytes(21, 3 * kStripeBytes / 2);
    const Buffer second = random_bytes(22, 3 * kStripeBytes / 2);
    std::vector<std::optional<Result<object::Manifest>>> outcomes(2);
    std::vector<std::shared_ptr<PutOperation>> puts;
    for (size_t index = 0; index < 2; ++index) {
        cluster.clock += 1;
        auto started = PutOperation::start(
                cluster.peers,
                cluster.layout,
                {.key = "k",
                 .stripe_bytes = kStripeBytes,
                 .version = cluster.version_after(Version{}),
                 .version_after =
                         [&cluster](Version newest) {
                             return cluster.version_after(newest);
                         }},
                cluster.stats,
                [&outcomes, index](Result<object::Manifest> written) {
                    outcomes[index] = std::move(written);
                },
                nullptr);
        REQUIRE(started.is_ok());
        puts.push_back(started.value());
    }
    // Both have read the newest version before either writes.
    for (size_t index = 0; index < 2; ++index) {
        const Buffer& value = index == 0 ? first : second;
        REQUIRE(puts[index]->on_data(value.view()).is_ok());
        puts[index]->on_end(hash64(value.view()));
    }
    cluster.peers.run();
    REQUIRE(outcomes[0].has_value());
    REQUIRE(outcomes[1].has_value());
    REQUIRE(outcomes[0]->is_ok());
    REQUIRE(outcomes[1]->is_ok());
    const Version a = outcomes[0]->value().version;
    const Version b = outcomes[1]->value().version;
    CHECK(a.hlc > uint64_t{1'000'000} << 16);
    CHECK(b.hlc > uint64_t{1'000'000} << 16);
    CHECK(a != b);
    auto [status, bytes] = cluster.get("k");
    REQUIRE(status.is_ok());
    CHECK(equal_bytes(bytes.view(), (a < b ? second : first).view()));
}

// A peer whose clock is past what any clock believes (the year 6429) wrote the key's newest
// version: no later one can be issued, so puts and deletes of the key are refused, and what
// is there stays readable.
TEST_CASE("a put or delete over a version past the clock is refused", "[coordinator]") {
    Cluster cluster(6);
    const Buffer broken = random_bytes(30, 100);
    put_at(cluster,
           "k",
           broken.view(),
           {.hlc = HybridClock::kWallClockMsCeiling << 16, .node = NodeId{9}});

    Result<object::Manifest> small = cluster.put("k", as_bytes("tiny"));
    REQUIRE_FALSE(small.is_ok());
    CHECK(small.status().code() == Code::kUnavailable);
    CHECK_THAT(small.status().message(),
               Catch::Contains("put k: the key's newest version is past this node's clock"));
    const Buffer big = random_bytes(31, kStripeBytes + 1);
    Result<object::Manifest> striped = cluster.put("k", big.view());
    REQUIRE_FALSE(striped.is_ok());
    CHECK(striped.status().code() == Code::kUnavailable);
    Result<Version> removed = cluster.remove("k");
    REQUIRE_FALSE(removed.is_ok());
    CHECK_THAT(removed.status().message(),
               Catch::Contains("rm k: its newest version is past this node's clock"));

    auto [status, bytes] = cluster.get("k");
    REQUIRE(status.is_ok());
    CHECK(equal_bytes(bytes.view(), broken.view()));
    // The refused striped put left no chunks behind.
    CHECK(chunks_held(cluster.peers) == 0);
}

// Without the key's newest version a put cannot know that its own is later, so it fails
// rather than guess, and writes nothing a read could find.
TEST_CASE("a put whose read of the newest version fails, fails with that error", "[coordinator]") {
    Cluster cluster(6);
    REQUIRE(cluster.put("k", as_bytes("first")).is_ok());
    for (auto& [key, node] : cluster.peers.nodes())
        node.fails_manifest_reads = true;
    const Buffer value = random_bytes(32, 2 * kStripeBytes);
    Result<object::Manifest> striped = cluster.put("k", value.view());
    REQUIRE_FALSE(striped.is_ok());
    INFO(striped.status().to_string());
    CHECK_THAT(striped.status().message(), Catch::Contains("put k"));
    CHECK_THAT(striped.status().message(), Catch::Contains("manifest unreadable"));
    Result<object::Manifest> small = cluster.put("k", as_bytes("second"));
    REQUIRE_FALSE(small.is_ok());

    CHECK(chunks_held(cluster.peers) == 0);
    for (auto& [key, node] : cluster.peers.nodes()) {
        node.fails_manifest_reads = false;
        REQUIRE(node.manifests.size() == 1);
    }
    auto [status, bytes] = cluster.get("k");
    REQUIRE(status.is_ok());
    CHECK(as_string_view(bytes.view()) == "first");
}

TEST_CASE("superseded chunks are collected once the newer manifest is on every owner",
          "[coordinator]") {
    Cluster cluster(6);
    const Buffer first = random_bytes(13, 2 * kStripeBytes);
    Result<object::Manifest> old = cluster.put("k", first.view());
    REQUIRE(old.is_ok());
    CHECK(chunks_held(cluster.peers) == 12);  // Two stripes of 4+2.

    // An overwrite while one owner is down leaves the old chunks: not every owner knows.
    const NodeKey owner = cluster.layout->manifest_owners("k")[5];
    cluster.peers.node(owner).down = true;
    REQUIRE(cluster.put("k", random_bytes(14, kStripeBytes).view()).is_ok());
    cluster.peers.node(owner).down = false;
    CHECK(chunks_held(cluster.peers, old.value().version) >= 10);

    // One with every owner up collects the version it read as the newest before it.
    Result<object::Manifest> third = cluster.put("k", random_bytes(15, kStripeBytes).view());
    REQUIRE(third.is_ok());
    auto [status, bytes] = cluster.get("k");
    REQUIRE(status.is_ok());
    CHECK(equal_bytes(bytes.view(), random_bytes(15, kStripeBytes).view()));

    // A delete collects the deleted version's chunks.
    REQUIRE(cluster.remove("k").is_ok());
    CHECK(chunks_held(cluster.peers, third.value().version) == 0);
    CHECK(cluster.stats.chunks_collected >= 6);
    CHECK(cluster.stats.chunk_collections_failed == 0);
}

TEST_CASE("list merges every node's manifests, sorted, paginated, without tombstones",
          "[coordinator]") {
    Cluster cluster(6);
    for (int index = 0; index < 30; ++index) {
        REQUIRE(cluster.put(fmt::format("a/{:02}", index), as_bytes("x")).is_ok());
    }
    REQUIRE(cluster.put("b/other", as_bytes("y")).is_ok());
    for (int index = 10; index < 20; ++index) {
        REQUIRE(cluster.remove(fmt::format("a/{:02}", index)).is_ok());
    }
    std::vector<std::string> seen;
    std::string after;
    for (int page_count = 0; page_count < 20; ++page_count) {
        Result<ListPage> page = cluster.list("a/", after, 7);
        REQUIRE(page.is_ok());
        for (const ManifestSummary& entry : page.value().entries) {
            seen.push_back(entry.key);
        }
        if (!page.value().truncated) break;
        CHECK(page.value().entries.size() == 7);  // Full pages, tombstones or not.
        after = page.value().scanned_through;
    }
    std::vector<std::string> expected;
    for (int index = 0; index < 30; ++index) {
        if (index < 10 || index >= 20) expected.push_back(fmt::format("a/{:02}", index));
    }
    CHECK(seen == expected);
}

TEST_CASE("merge_pages stops at the shortest truncated page", "[coordinator]") {
    const auto summary = [](std::string key, uint64_t hlc, bool tombstone) {
        return ManifestSummary{.key = std::move(key),
                               .version = {.hlc = hlc, .node = NodeId{1}},
                               .tombstone = tombstone};
    };
    std::vector<ManifestPage> pages(2);
    pages[0].entries = {summary("a", 1, false), summary("b", 1, false)};
    pages[0].truncated = true;  // This node may hold more past "b".
    pages[1].entries = {summary("a", 2, true), summary("c", 1, false)};
    const ListPage merged = merge_pages(pages, 10);
    REQUIRE(merged.entries.size() == 1);
    CHECK(merged.entries[0].key == "b");  // "a" was deleted by a newer tombstone; "c" waits.
    CHECK(merged.truncated);
    CHECK(merged.scanned_through == "b");
}

TEST_CASE("merge_pages is bounded by where a node stopped looking, listed or not",
          "[coordinator]") {
    const auto summary = [](std::string key) {
        return ManifestSummary{.key = std::move(key), .version = {.hlc = 1, .node = NodeId{1}}};
    };
    std::vector<ManifestPage> pages(2);
    // Every manifest this node looked at, up to "c", failed its read.
    pages[0].truncated = true;
    pages[0].scanned_through = "c";
    pages[1].entries = {summary("a"), summary("b"), summary("d")};
    pages[1].scanned_through = "d";
    const ListPage merged = merge_pages(pages, 10);
    REQUIRE(merged.entries.size() == 2);  // "d" waits: node 0 may hold a newer one.
    CHECK(merged.entries[1].key == "b");
    CHECK(merged.truncated);
    CHECK(merged.scanned_through == "c");  // The next round goes on after "c", not "b".

    SECTION("a page cut by the limit goes on after its last entry") {
        const ListPage first = merge_pages(pages, 1);
        REQUIRE(first.entries.size() == 1);
        CHECK(first.truncated);
        CHECK(first.scanned_through == "a");
    }
}

TEST_CASE("a put holds at most two stripes in flight", "[coordinator]") {
    Cluster cluster(6);
    uint32_t resumed = 0;
    std::optional<Result<object::Manifest>> outcome;
    auto started = PutOperation::start(
            cluster.peers,
            cluster.layout,
            {.key = "big", .stripe_bytes = kStripeBytes, .version = {.hlc = 1 << 16}},
            cluster.stats,
            [&](Result<object::Manifest> written) { outcome = std::move(written); },
            [&] { resumed += 1; });
    REQUIRE(started.is_ok());
    std::shared_ptr<PutOperation> put = started.value();
    const Buffer value = random_bytes(11, 4 * kStripeBytes);
    size_t offset = 0;
    while (put->wants_data() && offset < value.size()) {
        REQUIRE(put->on_data(value.view().subspan(offset, 1000)).is_ok());
        offset += 1000;
    }
    CHECK(offset < 3 * kStripeBytes);  // Stopped once two stripes were sealed and unanswered.
    cluster.peers.run();
    CHECK(resumed >= 1);
    CHECK(put->wants_data());
    REQUIRE(put->on_data(value.view().subspan(offset)).is_ok());
    put->on_end(hash64(value.view()));
    cluster.peers.run();
    REQUIRE(outcome.has_value());
    REQUIRE(outcome->is_ok());
    auto [status, bytes] = cluster.get("big");
    REQUIRE(status.is_ok());
    CHECK(equal_bytes(bytes.view(), value.view()));
}

}  // namespace
}  // namespace shoal::coordinator

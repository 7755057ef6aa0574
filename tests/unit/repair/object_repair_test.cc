// ObjectRepair over a fake cluster: missing and corrupt chunks are rebuilt byte-exact on their
// owners and good ones left alone; a chunk whose node does not answer is not rebuilt; a stripe
// short of k good chunks is counted and nothing is written for it; owners with an older
// manifest, or none, get the newest, tombstones included.
#include "shoal/repair/object_repair.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "shoal/base/key_hash.h"
#include "shoal/base/prng.h"
#include "shoal/object/chunk_header.h"
#include "unit/coordinator/fake_peers.h"
#include "unit/coordinator/fake_put.h"

namespace shoal::repair {
namespace {

using coordinator::NodeKey;
using coordinator::testing::FakeNode;
using coordinator::testing::FakePeers;

constexpr uint32_t kStripeBytes = 64 * 1024;

struct Cluster {
    explicit Cluster(uint32_t nodes = 6) : peers(nodes), layout(peers.layout()) {}

    // An object of three stripes, at version `hlc`.
    object::Manifest put(const std::string& key, uint64_t hlc = 1 << 16) {
        Prng prng(hlc);
        Buffer value(3 * kStripeBytes - 100);
        prng.fill(value.data(), value.size());
        Result<object::Manifest> written =
                coordinator::testing::put_object(peers,
                                                 layout,
                                                 operation_stats,
                                                 {.key = key,
                                                  .declared_bytes = value.size(),
                                                  .stripe_bytes = kStripeBytes,
                                                  .version = version(hlc)},
                                                 value.view());
        REQUIRE(written.is_ok());
        return std::move(written).value();
    }
    static Version version(uint64_t hlc) { return {.hlc = hlc, .node = NodeId{1}}; }

    void repair(const std::string& key, std::optional<NodeKey> holder = std::nullopt) {
        bool done = false;
        ObjectRepair::start(peers, layout, {.key = key, .holder = holder}, stats, nullptr, [&] {
            done = true;
        });
        REQUIRE_FALSE(done);  // Never inside the call.
        peers.run();
        REQUIRE(done);
    }

    // Every chunk record held, by store key, and where.
    std::map<std::string, std::pair<NodeKey, Buffer>> chunks() {
        std::map<std::string, std::pair<NodeKey, Buffer>> held;
        for (auto& [node_key, node] : peers.nodes()) {
            for (const auto& [store_key, record] : node.chunks) {
                held.emplace(store_key, std::make_pair(node_key, record.clone()));
            }
        }
        return held;
    }

    FakePeers peers;
    std::shared_ptr<const coordinator::Layout> layout;
    coordinator::OperationStats operation_stats;
    RepairStats stats;
};

std::string store_key_of(const object::Manifest& manifest, uint32_t stripe, uint8_t chunk) {
    return object::chunk_store_key({.key_hash = shoal::key_hash(manifest.key),
                                    .version = manifest.version,
                                    .stripe_index = stripe,
                                    .chunk_index = chunk});
}

// A chunk record's data. A rebuilt chunk's header may differ from the put's (it carries the
// object's size on every stripe), but its data may not.
ByteView data_of(const Buffer& record) {
    Result<object::DecodedChunkHeader> decoded = object::decode_chunk_header(record.view());
    REQUIRE(decoded.is_ok());
    return record.view().subspan(decoded.value().data_offset);
}

TEST_CASE("repair rebuilds missing and corrupt chunks on their owners, byte-exact", "[repair]") {
    Cluster cluster;
    const object::Manifest manifest = cluster.put("photos/cat.jpg");
    const auto before = cluster.chunks();
    REQUIRE(before.size() == 18);

    // Drop chunk 1 of stripe 0; flip a data byte of chunk 4 of stripe 2.
    const std::string dropped = store_key_of(manifest, 0, 1);
    const std::string flipped = store_key_of(manifest, 2, 4);
    cluster.peers.node(before.at(dropped).first).chunks.erase(dropped);
    Buffer& record = cluster.peers.node(before.at(flipped).first).chunks.at(flipped);
    record[record.size() - 1] ^= std::byte{0x01};

    cluster.repair("photos/cat.jpg");
    CHECK(cluster.stats.objects_checked == 1);
    CHECK(cluster.stats.chunks_checked == 16);
    CHECK(cluster.stats.chunks_rebuilt == 2);
    CHECK(cluster.stats.chunk_rebuilds_failed == 0);
    CHECK(cluster.stats.manifests_repaired == 0);
    const auto after = cluster.chunks();
    REQUIRE(after.size() == before.size());
    for (const auto& [store_key, held] : before) {
        CAPTURE(store_key);
        REQUIRE(after.contains(store_key));
        CHECK(after.at(store_key).first == held.first);
        CHECK(equal_bytes(data_of(after.at(store_key).second), data_of(held.second)));
    }

    // A second repair finds nothing to do.
    cluster.repair("photos/cat.jpg");
    CHECK(cluster.stats.chunks_rebuilt == 2);
    CHECK(cluster.stats.chunks_checked == 16 + 18);
}

TEST_CASE("repair rewrites a chunk its store refuses to read as corrupt", "[repair]") {
    Cluster cluster;
    const object::Manifest manifest = cluster.put("k");
    const auto before = cluster.chunks();
    const std::string bad = store_key_of(manifest, 1, 2);
    cluster.peers.node(before.at(bad).first).unreadable.insert(bad);
    cluster.repair("k");
    CHECK(cluster.stats.chunks_rebuilt == 1);
    CHECK(cluster.stats.chunks_unknown == 0);
    FakeNode& holder = cluster.peers.node(before.at(bad).first);
    CHECK_FALSE(holder.unreadable.contains(bad));
    REQUIRE(holder.chunks.contains(bad));
    CHECK(equal_bytes(data_of(holder.chunks.at(bad)), data_of(before.at(bad).second)));
}

// After a layout change a key's manifest may be on no current owner: the node that listed
// it is read too, and every owner gets it.
TEST_CASE("repair reads the manifest from the node that listed it", "[repair]") {
    Cluster cluster(8);
    cluster.put("k");
    const std::vector<NodeKey> owners = cluster.layout->manifest_owners("k");
    REQUIRE(owners.size() == 6);
    std::optional<NodeKey> outsider;
    std::optional<object::Manifest> manifest;
    for (auto& [node_key, node] : cluster.peers.nodes()) {
        if (std::find(owners.begin(), owners.end(), node_key) == owners.end()) {
            outsider = node_key;
            continue;
        }
        manifest = node.manifests.at("k");
        node.manifests.erase("k");
    }
    REQUIRE(outsider.has_value());
    cluster.peers.node(*outsider).manifests["k"] = *manifest;

    cluster.repair("k");  // Asked of the owners alone: none has it.
    CHECK(cluster.stats.manifests_repaired == 0);
    cluster.repair("k", outsider);
    CHECK(cluster.stats.manifests_repaired == 6);
    for (const NodeKey& owner : owners) {
        CHECK(cluster.peers.node(owner).manifests.contains("k"));
    }
}

TEST_CASE("repair leaves chunks of a node that does not answer, and stripes short of k",
          "[repair]") {
    Cluster cluster;
    const object::Manifest manifest = cluster.put("k");
    const auto before = cluster.chunks();

    SECTION("a node that does not answer may hold its chunks: nothing is rebuilt for it") {
        const NodeKey down = before.at(store_key_of(manifest, 0, 3)).first;
        cluster.peers.node(down).down = true;
        cluster.repair("k");
        CHECK(cluster.stats.chunks_unknown == 3);
        CHECK(cluster.stats.chunks_rebuilt == 0);
        CHECK(cluster.stats.manifests_repaired == 0);
    }
    SECTION("a stripe with three of six chunks lost cannot be rebuilt, and is counted") {
        for (uint8_t chunk = 0; chunk < 3; ++chunk) {
            const std::string lost = store_key_of(manifest, 1, chunk);
            cluster.peers.node(before.at(lost).first).chunks.erase(lost);
        }
        const std::string also_lost = store_key_of(manifest, 0, 5);
        cluster.peers.node(before.at(also_lost).first).chunks.erase(also_lost);
        cluster.repair("k");
        CHECK(cluster.stats.stripes_unrecoverable == 1);
        CHECK(cluster.stats.chunks_rebuilt == 1);  // Stripe 0's, which had five.
        CHECK(cluster.chunks().size() == before.size() - 3);
    }
}

TEST_CASE("repair gives the newest manifest to owners that lack it, tombstones too", "[repair]") {
    Cluster cluster;
    cluster.put("k", 1 << 16);
    std::map<NodeKey, object::Manifest> first;
    for (auto& [node_key, node] : cluster.peers.nodes())
        first.emplace(node_key, node.manifests.at("k"));
    const object::Manifest newest = cluster.put("k", 2 << 16);

    // One owner holds the first version still, one holds none.
    auto owner = cluster.peers.nodes().begin();
    owner->second.manifests["k"] = first.at(owner->first);
    ++owner;
    owner->second.manifests.erase("k");
    cluster.repair("k");
    CHECK(cluster.stats.manifests_repaired == 2);
    for (auto& [node_key, node] : cluster.peers.nodes()) {
        REQUIRE(node.manifests.contains("k"));
        CHECK(node.manifests.at("k").version == newest.version);
    }

    // A tombstone spreads the same way, and its object's chunks are not read.
    const object::Manifest tombstone =
            object::tombstone_manifest("k", Cluster::version(3 << 16), 3);
    for (auto& [node_key, node] : cluster.peers.nodes())
        node.manifests["k"] = tombstone;
    cluster.peers.nodes().begin()->second.manifests.erase("k");
    const uint64_t checked = cluster.stats.chunks_checked;
    cluster.repair("k");
    CHECK(cluster.stats.manifests_repaired == 3);
    CHECK(cluster.peers.nodes().begin()->second.manifests.at("k").is_tombstone());
    CHECK(cluster.stats.chunks_checked == checked);
}

TEST_CASE("repair deletes the chunks of a version an owner still held, once all have the newest",
          "[repair]") {
    Cluster cluster;
    const object::Manifest first = cluster.put("k", 1 << 16);
    const auto first_chunks = cluster.chunks();
    REQUIRE(first_chunks.size() == 18);
    // An owner away during the overwrite keeps the first version, so the put leaves its chunks.
    const std::vector<NodeKey> owners = cluster.layout->manifest_owners("k");
    const auto away = std::find_if(owners.begin(), owners.end(), [&](const NodeKey& owner) {
        return owner != cluster.layout->self();
    });
    REQUIRE(away != owners.end());
    cluster.peers.node(*away).down = true;
    const object::Manifest newest = cluster.put("k", 2 << 16);
    cluster.peers.node(*away).down = false;
    REQUIRE(cluster.peers.node(*away).manifests.at("k").version == first.version);
    const auto held = [&](const std::string& store_key) {
        return std::any_of(
                cluster.peers.nodes().begin(), cluster.peers.nodes().end(), [&](const auto& node) {
                    return node.second.chunks.contains(store_key);
                });
    };
    for (const auto& [store_key, where] : first_chunks)
        REQUIRE(held(store_key));

    SECTION("every owner answers: the first version's chunks go") {
        cluster.repair("k");
        CHECK(cluster.peers.node(*away).manifests.at("k").version == newest.version);
        CHECK(cluster.stats.versions_collected == 1);
        CHECK(cluster.stats.chunks_collected >= first_chunks.size());
        CHECK(cluster.stats.chunk_collections_failed == 0);
        for (const auto& [store_key, where] : first_chunks)
            CHECK_FALSE(held(store_key));
        CHECK(cluster.chunks().size() == 18);  // The newest's, its chunks for the away owner
                                               // rebuilt there.
        for (uint32_t stripe = 0; stripe < newest.stripe_count(); ++stripe) {
            for (uint8_t chunk = 0; chunk < 6; ++chunk) {
                CHECK(held(store_key_of(newest, stripe, chunk)));
            }
        }
    }
    SECTION("the newest is not whole: the first version may hold the only good bytes") {
        // Three of stripe 1's six chunks lost: more than m, so the stripe cannot be rebuilt.
        for (uint8_t chunk = 0; chunk < 3; ++chunk) {
            const std::string lost = store_key_of(newest, 1, chunk);
            for (auto& [node_key, node] : cluster.peers.nodes())
                node.chunks.erase(lost);
        }
        cluster.repair("k");
        CHECK(cluster.stats.stripes_unrecoverable == 1);
        CHECK(cluster.stats.versions_collected == 0);
        for (const auto& [store_key, where] : first_chunks)
            CHECK(held(store_key));
    }
    SECTION("an owner does not answer: a read may still choose the first version, so it stays") {
        const auto other = std::find_if(owners.begin(), owners.end(), [&](const NodeKey& owner) {
            return owner != cluster.layout->self() && owner != *away;
        });
        REQUIRE(other != owners.end());
        cluster.peers.node(*other).down = true;
        cluster.repair("k");
        CHECK(cluster.stats.versions_collected == 0);
        for (const auto& [store_key, where] : first_chunks)
            CHECK(held(store_key));
    }
}

TEST_CASE("repair collects nothing while a node outside the owners holds a manifest", "[repair]") {
    Cluster cluster(8);
    const object::Manifest first = cluster.put("k", 1 << 16);
    const auto first_chunks = cluster.chunks();
    const std::vector<NodeKey> owners = cluster.layout->manifest_owners("k");
    auto outside = cluster.peers.nodes().begin();
    while (outside != cluster.peers.nodes().end() &&
           std::find(owners.begin(), owners.end(), outside->first) != owners.end()) {
        ++outside;
    }
    REQUIRE(outside != cluster.peers.nodes().end());
    const auto away = std::find_if(owners.begin(), owners.end(), [&](const NodeKey& owner) {
        return owner != cluster.layout->self();
    });
    REQUIRE(away != owners.end());
    cluster.peers.node(*away).down = true;
    cluster.put("k", 2 << 16);
    cluster.peers.node(*away).down = false;
    // A copy left from another layout, which a node still on that layout may read.
    outside->second.manifests["k"] = first;

    cluster.repair("k", outside->first);
    CHECK(cluster.stats.manifests_repaired == 1);  // The away owner caught up,
    CHECK(cluster.stats.versions_collected == 0);  // but the first version stays.
    for (const auto& [store_key, where] : first_chunks) {
        CHECK(std::any_of(
                cluster.peers.nodes().begin(), cluster.peers.nodes().end(), [&](const auto& node) {
                    return node.second.chunks.contains(store_key);
                }));
    }
}

TEST_CASE("repair reads each stripe only once its pace lets it", "[repair]") {
    Cluster cluster;
    const object::Manifest manifest = cluster.put("k");
    std::vector<uint64_t> asked;
    std::function<void()> waiting;
    bool done = false;
    ObjectRepair::start(
            cluster.peers,
            cluster.layout,
            {.key = "k"},
            cluster.stats,
            [&](uint64_t bytes, std::function<void()> resume) {
                asked.push_back(bytes);
                waiting = std::move(resume);
                return false;
            },
            [&] { done = true; });
    for (uint32_t stripe = 0; stripe < manifest.stripe_count(); ++stripe) {
        CAPTURE(stripe);
        cluster.peers.run();
        REQUIRE(asked.size() == stripe + 1);
        CHECK(cluster.stats.chunks_checked == 6 * stripe);  // Nothing read while it waits.
        const uint32_t plain =
                object::stripe_plain_bytes(manifest.object_bytes, manifest.stripe_bytes, stripe);
        CHECK(asked.back() == 6 * uint64_t{object::chunk_bytes_of(plain, 4)});
        REQUIRE(waiting);
        std::function<void()> resume = std::move(waiting);
        waiting = nullptr;
        resume();
    }
    cluster.peers.run();
    CHECK(done);
    CHECK(cluster.stats.chunks_checked == 18);
    uint64_t paced = 0;
    for (const uint64_t bytes : asked)
        paced += bytes;
    CHECK(cluster.stats.bytes_read >= paced);  // The records read: the paced data and headers.
}

TEST_CASE("repair of a key no owner holds does nothing", "[repair]") {
    Cluster cluster;
    const uint64_t calls = cluster.peers.calls();
    cluster.repair("never");
    CHECK(cluster.peers.calls() - calls == 6);  // One manifest read per owner.
    CHECK(cluster.stats.manifests_repaired == 0);
}

}  // namespace
}  // namespace shoal::repair

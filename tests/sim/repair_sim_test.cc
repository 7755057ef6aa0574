// Goal: repair heals the cluster by itself. A node that comes back with an empty store gets
// back every manifest it owns (tombstones too) and every chunk placement gives it, rebuilt
// from the others, so that the objects read byte-exact with two other nodes down; chunks lost
// on a node that stayed up are rebuilt too, and a pass over a cluster that lacks nothing
// writes nothing; once a dead node departs, its chunks are rebuilt on the new owners.
//
// Method: testing::DataCluster in memory mode, where a restarted node starts empty: the loss
// of a node's disk. Passes start on their own (a member came back); the test only waits for
// the counts placement predicts.
#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "data_cluster.h"
#include "shoal/base/key_hash.h"
#include "shoal/base/prng.h"
#include "shoal/wire/messages.h"

namespace shoal::sim {
namespace {

using testing::DataCluster;
using testing::ObjectRead;

constexpr size_t kNodes = 6;
constexpr uint64_t kSimStripeBytes = 64 * 1024;  // data_cluster.cc's.

DataCluster::Options repair_cluster(uint64_t seed,
                                    size_t nodes = kNodes,
                                    uint32_t pass_interval_ticks = 360'000) {
    return DataCluster::Options{.nodes = nodes,
                                .seed = seed,
                                .storage_mode = node::StorageMode::kMemory,
                                .configure = [pass_interval_ticks](node::Node::Options& options) {
                                    options.scrub.settle_ticks = 200;
                                    options.scrub.pass_interval_ticks = pass_interval_ticks;
                                    options.swim.departure_grace = std::chrono::seconds(20);
                                    options.swim.forget_after = std::chrono::seconds(20);
                                }};
}

repair::RepairStats total_repairs(DataCluster& cluster) {
    repair::RepairStats sum;
    for (size_t index = 0; index < cluster.size(); ++index) {
        if (!cluster.up(index)) continue;
        const repair::RepairStats& stats = cluster.node(index).scrubber().repair_stats();
        sum.manifests_repaired += stats.manifests_repaired;
        sum.chunks_rebuilt += stats.chunks_rebuilt;
        sum.chunk_rebuilds_failed += stats.chunk_rebuilds_failed;
        sum.stripes_unrecoverable += stats.stripes_unrecoverable;
    }
    return sum;
}

// Every node's scrub figures, for a failure to explain itself.
std::string repair_report(DataCluster& cluster) {
    std::string report;
    for (size_t index = 0; index < cluster.size(); ++index) {
        if (!cluster.up(index)) continue;
        const repair::Scrubber& scrubber = cluster.node(index).scrubber();
        const repair::RepairStats& repairs = scrubber.repair_stats();
        report += fmt::format(
                "\nn{}: passes {} in_pass {} listed {} list_failures {} checked {} manifests {} "
                "rebuilt {} unknown {} good {} failed {} unrecoverable {}",
                index + 1,
                scrubber.stats().passes,
                scrubber.in_pass(),
                scrubber.stats().keys_listed,
                scrubber.stats().list_failures,
                repairs.objects_checked,
                repairs.manifests_repaired,
                repairs.chunks_rebuilt,
                repairs.chunks_unknown,
                repairs.chunks_checked,
                repairs.chunk_rebuilds_failed,
                repairs.stripes_unrecoverable);
    }
    return report;
}

// Nodes that have finished a pass and are not in one.
size_t passes_done(DataCluster& cluster) {
    size_t done = 0;
    for (size_t index = 0; index < cluster.size(); ++index) {
        const repair::Scrubber& scrubber = cluster.node(index).scrubber();
        if (scrubber.stats().passes > 0 && !scrubber.in_pass()) done += 1;
    }
    return done;
}

// Holds once every node up now has finished `count` passes that start from now: one under
// way may have walked past what changed.
std::function<bool()> passes_from_now(DataCluster& cluster, uint64_t count) {
    std::vector<uint64_t> start(cluster.size());
    for (size_t index = 0; index < cluster.size(); ++index) {
        if (!cluster.up(index)) continue;
        const repair::Scrubber& scrubber = cluster.node(index).scrubber();
        start[index] = scrubber.stats().passes + (scrubber.in_pass() ? 1 : 0);
    }
    std::vector<bool> up(cluster.size());
    for (size_t index = 0; index < cluster.size(); ++index) {
        up[index] = cluster.up(index);
    }
    return [&cluster, start, up, count] {
        for (size_t index = 0; index < cluster.size(); ++index) {
            if (!up[index]) continue;
            if (cluster.node(index).scrubber().stats().passes < start[index] + count) return false;
        }
        return true;
    };
}

uint64_t stripes_of(const Buffer& object) {
    return (object.size() + kSimStripeBytes - 1) / kSimStripeBytes;
}

// `count` objects of two to four stripes, put as obj/0, obj/1, ... through nodes other than
// `avoid`.
std::vector<Buffer> put_objects(DataCluster& cluster, size_t count, size_t avoid, uint64_t seed) {
    Prng prng(seed);
    std::vector<Buffer> objects;
    for (size_t index = 0; index < count; ++index) {
        Buffer object(100'000 + prng.below(150'000));
        prng.fill(object.data(), object.size());
        const size_t through = (avoid + 1 + index % (cluster.size() - 1)) % cluster.size();
        INFO("put " << index);
        REQUIRE(cluster.put(through, fmt::format("obj/{}", index), object.view()).is_ok());
        objects.push_back(std::move(object));
    }
    return objects;
}

// Every object reads back byte-exact through node `through`.
void check_objects(DataCluster& cluster, size_t through, const std::vector<Buffer>& objects) {
    for (size_t index = 0; index < objects.size(); ++index) {
        CAPTURE(index);
        Result<ObjectRead> read = cluster.get(through, fmt::format("obj/{}", index));
        REQUIRE(read.is_ok());
        CHECK(equal_bytes(read.value().data.view(), objects[index].view()));
    }
}

TEST_CASE("sim: a node back with an empty store gets its manifests and chunks rebuilt",
          "[sim][repair]") {
    constexpr size_t kLost = 5;
    DataCluster cluster(repair_cluster(41));
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.all_alive(); }));
    // The passes every start schedules, over empty stores: no other pass is due for an hour.
    REQUIRE(cluster.run_until(std::chrono::seconds(20),
                              [&] { return passes_done(cluster) == kNodes; }));

    Prng prng(41);
    std::vector<Buffer> objects;
    uint64_t stripes = 0;
    for (size_t index = 0; index < 8; ++index) {
        // Striped but for the last two, which are inline.
        Buffer object(index < 6 ? 100'000 + prng.below(150'000) : 50 + index);
        prng.fill(object.data(), object.size());
        REQUIRE(cluster.put(index % kNodes, fmt::format("obj/{}", index), object.view()).is_ok());
        if (index < 6) stripes += stripes_of(object);
        objects.push_back(std::move(object));
    }
    REQUIRE(cluster.put(0, "deleted", as_bytes("soon gone")).is_ok());
    REQUIRE(cluster.remove(1, "deleted").is_ok());
    CHECK(total_repairs(cluster).chunks_rebuilt == 0);
    CHECK(total_repairs(cluster).manifests_repaired == 0);

    // Six nodes: every manifest and one chunk of every stripe are on each.
    cluster.crash(kLost);
    cluster.restart(kLost);
    const uint64_t keys = objects.size() + 1;
    const bool healed = cluster.run_until(std::chrono::seconds(60), [&] {
        const repair::RepairStats repairs = total_repairs(cluster);
        return repairs.chunks_rebuilt >= stripes && repairs.manifests_repaired >= keys;
    });
    INFO(repair_report(cluster));
    REQUIRE(healed);
    const repair::RepairStats repairs = total_repairs(cluster);
    CHECK(repairs.chunks_rebuilt == stripes);
    CHECK(repairs.manifests_repaired == keys);
    CHECK(repairs.chunk_rebuilds_failed == 0);
    CHECK(repairs.stripes_unrecoverable == 0);

    // The rebuilt chunks are where reads look: with two others down, every stripe needs them.
    cluster.crash(0);
    cluster.crash(1);
    check_objects(cluster, kLost, objects);
    CHECK(cluster.get(kLost, "deleted").status().code() == Code::kNotFound);
    CHECK(cluster.log_errors() == 0);
}

// Deletes node `victim`'s chunk of every stripe of every object, through its peer service, as
// a disk that lost those records would: the manifests stay.
void drop_chunks(DataCluster& cluster, size_t victim, const std::vector<Buffer>& objects) {
    SimClient& client = cluster.client(victim);
    std::vector<RequestId> requests;
    for (size_t index = 0; index < objects.size(); ++index) {
        const std::string key = fmt::format("obj/{}", index);
        Result<std::optional<object::Manifest>> held = cluster.manifest_held(victim, key);
        REQUIRE(held.is_ok());
        REQUIRE(held.value().has_value());
        for (uint32_t stripe = 0; stripe < held.value()->stripe_count(); ++stripe) {
            const std::vector<coordinator::NodeKey> owners =
                    cluster.node(0).layout()->stripe_candidates(key, stripe);
            for (uint8_t chunk = 0; chunk < 6; ++chunk) {
                if (owners[chunk].low != victim + 1) continue;
                const RequestId request = cluster.next_request();
                Buffer frame;
                wire::encode_request(
                        request,
                        wire::ChunkDeleteRequest{.chunk = {.key_hash = shoal::key_hash(key),
                                                           .version = held.value()->version,
                                                           .stripe_index = stripe,
                                                           .chunk_index = chunk}},
                        frame);
                client.send(std::move(frame));
                requests.push_back(request);
            }
        }
    }
    for (const RequestId request : requests) {
        REQUIRE(cluster.run_until(std::chrono::seconds(5),
                                  [&] { return !client.frames(request).empty(); }));
        REQUIRE(client.frames(request).front().header.kind == wire::FrameKind::kResponse);
    }
}

// A brief cut that nobody notices: with six nodes a stripe's six chunks have no fallback, so
// the cut node's chunk of each stripe, and its manifest copies, find no home. The next
// regular pass (every 30 s here) gives them to it, and the one after finds nothing to do.
// Then the node loses those chunks while it stays up, and the pass after rebuilds them.
TEST_CASE("sim: passes rebuild what a node missed or lost, and nothing that is there",
          "[sim][repair]") {
    constexpr size_t kVictim = 2;
    DataCluster cluster(repair_cluster(43, kNodes, /*pass_interval_ticks=*/3000));
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.all_alive(); }));
    std::vector<HostPort> others;
    for (size_t index = 0; index < kNodes; ++index) {
        if (index != kVictim) others.push_back(cluster.address(index));
    }
    const std::vector<HostPort> cut = {cluster.address(kVictim)};
    cluster.network().cut(cut, others);
    const std::vector<Buffer> objects = put_objects(cluster, 6, kVictim, 43);
    cluster.network().heal(cut, others);
    uint64_t stripes = 0;
    for (const Buffer& object : objects) {
        stripes += stripes_of(object);
    }
    // Each chunk for the cut node fails once its call times out, and no node is left to try.
    const auto homeless = [&] {
        uint64_t sum = 0;
        for (size_t index = 0; index < kNodes; ++index) {
            sum += cluster.node(index).operation_stats().chunks_homeless;
        }
        return sum;
    };
    REQUIRE(cluster.run_until(std::chrono::seconds(30), [&] { return homeless() == stripes; }));

    REQUIRE(cluster.run_until(std::chrono::seconds(120), passes_from_now(cluster, 1)));
    INFO(repair_report(cluster) << "\nstripes " << stripes);
    CHECK(total_repairs(cluster).chunks_rebuilt == stripes);
    CHECK(total_repairs(cluster).manifests_repaired == objects.size());
    REQUIRE(cluster.run_until(std::chrono::seconds(120), passes_from_now(cluster, 1)));
    CHECK(total_repairs(cluster).chunks_rebuilt == stripes);
    CHECK(total_repairs(cluster).manifests_repaired == objects.size());

    drop_chunks(cluster, kVictim, objects);
    REQUIRE(cluster.run_until(std::chrono::seconds(120), passes_from_now(cluster, 1)));
    CHECK(total_repairs(cluster).chunks_rebuilt == 2 * stripes);
    CHECK(total_repairs(cluster).manifests_repaired == objects.size());
    cluster.crash(0);
    cluster.crash(1);
    check_objects(cluster, kVictim, objects);
}

// A pass is a background load: its stripes are read at most read_bytes_per_tick on average,
// here 4 KiB a tick, so a pass that reads B bytes takes about B / 4 KiB ticks, where reading
// them unpaced takes a few.
TEST_CASE("sim: a pass reads no faster than read_bytes_per_tick", "[sim][repair]") {
    constexpr uint64_t kPerTick = 4096;
    constexpr uint64_t kStripeRead = 6 * 16 * 1024;  // Six 16 KiB chunks of a 64 KiB stripe.
    DataCluster::Options options = repair_cluster(53, kNodes, /*pass_interval_ticks=*/1000);
    options.configure = [inner = options.configure](node::Node::Options& node) {
        inner(node);
        node.scrub.read_bytes_per_tick = kPerTick;
    };
    DataCluster cluster(std::move(options));
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.all_alive(); }));
    const std::vector<Buffer> objects = put_objects(cluster, 6, 0, 53);
    REQUIRE(cluster.run_until(std::chrono::seconds(120), passes_from_now(cluster, 1)));

    REQUIRE(cluster.run_until(std::chrono::seconds(120), passes_from_now(cluster, 1)));
    uint64_t read_in_all = 0;
    double most_ticks_needed = 0;
    for (size_t index = 0; index < kNodes; ++index) {
        CAPTURE(index);
        const repair::ScrubStats& pass = cluster.node(index).scrubber().stats();
        const uint64_t read = pass.last_pass_bytes_read;
        read_in_all += read;
        // At most one tick's budget and one stripe ahead; 10% for the chunk headers.
        const double ticks_needed =
                0.9 * static_cast<double>(read > kStripeRead ? read - kStripeRead : 0) /
                        static_cast<double>(kPerTick) -
                1;
        CAPTURE(read, ticks_needed, pass.last_pass_ticks);
        CHECK(static_cast<double>(pass.last_pass_ticks) >= ticks_needed);
        most_ticks_needed = std::max(most_ticks_needed, ticks_needed);
    }
    // The bound means something: some node read enough that, unpaced (a repair a tick, each
    // stripe a round trip), its pass would have taken a few ticks.
    CHECK(most_ticks_needed >= 50);
    // Every stripe read once, by its leader: the data and parity of every object.
    uint64_t object_bytes = 0;
    for (const Buffer& object : objects) {
        object_bytes += object.size();
    }
    CHECK(read_in_all >= object_bytes / 4 * 6);
    CHECK(total_repairs(cluster).chunks_rebuilt == 0);
}

// A dead node that has not departed still owns partitions, but a pass does not ask it for
// its list: the call could only fail, after a timeout. Each pass skips it instead.
TEST_CASE("sim: a pass does not list a node that membership sees dead", "[sim][repair]") {
    constexpr size_t kDead = 5;
    DataCluster::Options options = repair_cluster(59, kNodes, /*pass_interval_ticks=*/500);
    options.configure = [inner = options.configure](node::Node::Options& node) {
        inner(node);
        node.swim.departure_grace = std::chrono::seconds(120);
        node.swim.forget_after = std::chrono::seconds(120);
    };
    DataCluster cluster(std::move(options));
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.all_alive(); }));
    put_objects(cluster, 2, kDead, 59);
    cluster.crash(kDead);
    const auto seen_dead_everywhere = [&] {
        for (size_t index = 0; index < kNodes; ++index) {
            if (index == kDead) continue;
            for (const membership::Member& member : cluster.node(index).swim().members()) {
                if (member.id().low == kDead + 1 &&
                    member.state == membership::MemberState::kAlive) {
                    return false;
                }
            }
        }
        return true;
    };
    REQUIRE(cluster.run_until(std::chrono::seconds(30), seen_dead_everywhere));
    // A pass under way may have listed the node before it died.
    REQUIRE(cluster.run_until(std::chrono::seconds(30), passes_from_now(cluster, 1)));
    std::vector<repair::ScrubStats> before(kNodes);
    for (size_t index = 0; index < kNodes; ++index) {
        if (index != kDead) before[index] = cluster.node(index).scrubber().stats();
    }

    REQUIRE(cluster.run_until(std::chrono::seconds(30), passes_from_now(cluster, 2)));
    INFO(repair_report(cluster));
    REQUIRE(cluster.node(0).layout()->table().nodes().size() == kNodes);
    for (size_t index = 0; index < kNodes; ++index) {
        if (index == kDead) continue;
        CAPTURE(index);
        const repair::ScrubStats& after = cluster.node(index).scrubber().stats();
        CHECK(after.list_failures == before[index].list_failures);
        CHECK(after.nodes_skipped >= before[index].nodes_skipped + 2);
        // Every live node listed in full: its keys, at least, each pass.
        CHECK(after.keys_listed > before[index].keys_listed);
    }
}

// A node that is gone for good departs; the layout then gives its partitions to the others.
// Chunks whose owner moved go to the new owner (hand-back's scan), and the departed node's
// chunks are rebuilt there from the rest.
TEST_CASE("sim: once a dead node departs, its chunks are rebuilt on the new owners",
          "[sim][repair]") {
    constexpr size_t kSeven = 7;
    constexpr size_t kGone = 6;
    DataCluster cluster(repair_cluster(47, kSeven));
    REQUIRE(cluster.run_until(std::chrono::seconds(20), [&] { return cluster.all_alive(); }));
    const std::vector<Buffer> objects = put_objects(cluster, 8, kGone, 47);
    cluster.crash(kGone);
    // Departed everywhere: every live node places by six nodes.
    REQUIRE(cluster.run_until(std::chrono::seconds(120), [&] {
        for (size_t index = 0; index < kSeven; ++index) {
            if (index == kGone) continue;
            if (cluster.node(index).layout()->table().nodes().size() != kSeven - 1) return false;
        }
        return true;
    }));
    // Healed once every live node has finished a pass under the new layout: each one checks
    // every stripe it leads and puts back what the new owners lack.
    const bool healed = cluster.run_until(std::chrono::seconds(300), passes_from_now(cluster, 1));
    INFO(repair_report(cluster));
    REQUIRE(healed);
    CHECK(total_repairs(cluster).chunks_rebuilt > 0);
    CHECK(total_repairs(cluster).stripes_unrecoverable == 0);
    // With two more down, every stripe needs all four of the chunks left.
    cluster.crash(0);
    cluster.crash(1);
    check_objects(cluster, 3, objects);
}

}  // namespace
}  // namespace shoal::sim

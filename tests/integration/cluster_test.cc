// Goal: issue #5's process test of the cluster data path. Six real nodes with RS 4+2 keep every
// acknowledged object readable, byte-exact, through every node still up while any two are
// SIGKILLed; with a third down a get either returns the right bytes or fails with an error
// that says how many chunks it found and how many it needed, never wrong bytes; and once the
// three are restarted over their data every object reads back again. A node that comes back
// over an empty data directory gets its share rebuilt by repair, so that every object reads
// through it with two others down.
//
// Method: six disk-mode shoald on 127.0.0.31..36 (OS-chosen ports the first time, reused on a
// restart so a member keeps its address; the node id is kept in <data>/node.id), with faster
// SWIM timings from a config file. The cluster is converged when every node's
// `shoal --json status` lists six members, all alive, polled with a deadline. 200 random objects
// of 0 B to 20 MiB, sizes drawn from a seeded PRNG and skewed small (about 135 MiB in all:
// inline objects of at most 4096 B, KiBs, up to 4 MiB, and a handful of multi-stripe ones,
// exactly 20 MiB among them), are put with the CLI through the six nodes in turn. Then, in
// three phases, each get goes through the CLI to a file and is compared with the original:
//   1. two nodes (chosen by the seed) SIGKILLed: every object through every one of the four
//      survivors (800 gets, right after the kills, with no wait for the failure detector);
//   2. a third SIGKILLed: every object through every one of the three survivors; a get
//      exits 0 with the right bytes or exits 5 with an error naming the chunks it found and
//      needed and leaves no output file; at least one striped object fails (each stripe has
//      its six chunks on six distinct nodes, so three are left, one short of k), while an
//      inline object (in its manifest, on all six) may still read;
//   3. the three restarted over their data directories at their addresses, with their ids:
//      after convergence every object through the six nodes in turn.
// The sizes, the victims, the counts and each phase's time are printed as Catch warnings.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support.h"

namespace shoal::integration {
namespace {

using std::chrono::steady_clock;

constexpr size_t kNodes = 6;
constexpr size_t kObjects = 200;
constexpr uint64_t kSeed = 5;  // Issue #5.
constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kInlineBytesMax = 4096;   // [cluster] inline_bytes, the default.
constexpr uint64_t kStripeBytes = 4 * kMiB;  // [cluster] stripe_bytes, the default.
constexpr uint64_t kObjectBytesMax = 20 * kMiB;
constexpr int kExitOk = 0;
constexpr int kExitNodeError = 5;
constexpr milliseconds kConvergeTimeout{30'000};

// Probes every 500 ms and suspicion from 1 s: kills are seen in a few seconds, and two busy
// cores erasure-coding 20 MiB objects do not make a live member look dead.
std::string cluster_config(const TempDir& directory) {
    const std::string path = directory.file("cluster.toml");
    std::ofstream file(path);
    file << "[membership]\n"
            "probe_interval_ms = 500\nprobe_timeout_ms = 250\nsuspicion_min_ms = 1000\n"
            "gossip_interval_ms = 50\npush_pull_interval_ms = 3000\njoin_retry_interval_ms = 200\n"
            "[storage]\n"
            "cache_bytes = \"32MiB\"\n";
    REQUIRE(file.good());
    return path;
}

// Six disk-mode RS 4+2 nodes, node i on 127.0.0.(31 + i), each over its own data directory.
class Cluster {
public:
    explicit Cluster(const std::string& config_path)
        : flags_{"--storage", "disk", "--redundancy", "ec:4+2", "--config", config_path} {
        for (size_t index = 0; index < kNodes; index++) {
            directories_.push_back(std::make_unique<TempDir>());
            nodes_.emplace_back();
            addresses_.push_back(fmt::format("127.0.0.{}:0", 31 + index));
        }
    }

    // Starts node `index`, joining through node `seed` if given.
    void start(size_t index, std::optional<size_t> seed) {
        REQUIRE_FALSE(running(index));
        std::vector<std::string> flags = flags_;
        if (seed.has_value()) {
            REQUIRE(running(*seed));
            flags.insert(flags.end(), {"--join", address(*seed)});
        }
        nodes_[index] = std::make_unique<NodeProcess>(
                *directories_[index],
                flags,
                NodeSpec{.name = name(index), .listen = addresses_[index]});
        // A restart reuses the port, so the member keeps its address.
        addresses_[index] = nodes_[index]->address();
    }

    // Starts every node, the first alone and the rest joining through it, and waits until
    // the cluster has converged.
    void start_all() {
        start(0, std::nullopt);
        for (size_t index = 1; index < kNodes; index++)
            start(index, 0);
        REQUIRE(converged(kConvergeTimeout));
    }

    // SIGKILLs node `index` and reaps it.
    void kill_node(size_t index) {
        REQUIRE(running(index));
        REQUIRE(kill(nodes_[index]->pid(), SIGKILL) == 0);
        REQUIRE(nodes_[index]->wait(milliseconds(5'000)) == 128 + SIGKILL);
        nodes_[index].reset();
    }

    bool running(size_t index) const { return nodes_[index] != nullptr; }
    const std::string& address(size_t index) const { return addresses_[index]; }
    static std::string name(size_t index) { return fmt::format("node{}", index + 1); }

    std::vector<size_t> running_nodes() const {
        std::vector<size_t> running_indexes;
        for (size_t index = 0; index < kNodes; index++) {
            if (running(index)) running_indexes.push_back(index);
        }
        return running_indexes;
    }

    // Every running node lists six members, all alive, within `timeout`. (A node restarted
    // under a new id would leave its old self behind as a seventh, dead member.)
    bool converged(milliseconds timeout) const {
        return poll_for(timeout, [&] {
            for (size_t index : running_nodes()) {
                const std::string status = status_json(index);
                if (occurrences(status, "{\"id\":") != kNodes) return false;
                if (occurrences(status, "\"state\":\"alive\"") != kNodes) return false;
            }
            return true;
        });
    }

    RunResult cli(size_t index, std::vector<std::string> arguments) const {
        REQUIRE(running(index));
        return nodes_[index]->cli(std::move(arguments));
    }

    // The id node `index` keeps in its data directory.
    std::string node_id(size_t index) const {
        return read_file(directories_[index]->file("data/node.id"));
    }

    // Empties node `index`'s data directory but for its id, as a replaced disk would: it
    // comes back as the same member, holding nothing.
    void wipe_store(size_t index) {
        REQUIRE_FALSE(running(index));
        const std::filesystem::path data = directories_[index]->file("data");
        size_t removed = 0;
        for (const auto& entry : std::filesystem::directory_iterator(data)) {
            if (entry.path().filename() == "node.id") continue;
            std::filesystem::remove_all(entry.path());
            removed++;
        }
        REQUIRE(removed > 0);
    }

    // `shoal --json stats` through node `index`.
    std::string stats_json(size_t index) const {
        RunResult stats = cli(index, {"--json", "stats"});
        INFO(stats.err);
        REQUIRE(stats.exit_code == kExitOk);
        return std::move(stats.out);
    }

private:
    // `shoal --json status` through node `index`; empty if it does not answer.
    std::string status_json(size_t index) const {
        RunResult status = cli(index, {"--json", "--timeout", "2", "status"});
        return status.exit_code == kExitOk ? std::move(status.out) : std::string();
    }

    static size_t occurrences(const std::string& text, std::string_view part) {
        size_t count = 0;
        for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
            count++;
        return count;
    }

    std::vector<std::string> flags_;
    std::vector<std::unique_ptr<TempDir>> directories_;
    std::vector<std::unique_ptr<NodeProcess>> nodes_;
    std::vector<std::string> addresses_;
};

struct TestObject {
    std::string key;
    std::string file;
    uint64_t bytes = 0;

    bool is_striped() const { return bytes > kInlineBytesMax; }
};

uint64_t uniform(std::mt19937_64& random, uint64_t min, uint64_t max) {
    return std::uniform_int_distribution<uint64_t>(min, max)(random);
}

// 200 sizes, most of them small: the edges (0 B, inline's last byte, one stripe and a byte
// past it, exactly 20 MiB), then draws from buckets of falling count and rising size.
std::vector<uint64_t> object_sizes(std::mt19937_64& random) {
    std::vector<uint64_t> sizes{0,
                                1,
                                kInlineBytesMax,
                                kInlineBytesMax + 1,
                                kMiB,
                                kStripeBytes,
                                kStripeBytes + 1,
                                kObjectBytesMax};
    struct Bucket {
        size_t count;
        uint64_t bytes_min;
        uint64_t bytes_max;
    };
    const std::vector<Bucket> buckets{
            {.count = 40, .bytes_min = 1, .bytes_max = 64},
            {.count = 40, .bytes_min = 65, .bytes_max = kInlineBytesMax},
            {.count = 62, .bytes_min = kInlineBytesMax + 1, .bytes_max = 256 * 1024},
            {.count = 35, .bytes_min = 256 * 1024, .bytes_max = kMiB},
            {.count = 10, .bytes_min = kMiB, .bytes_max = kStripeBytes},
            {.count = 5, .bytes_min = kStripeBytes + 2, .bytes_max = 16 * kMiB},
    };
    for (const Bucket& bucket : buckets) {
        for (size_t drawn = 0; drawn < bucket.count; drawn++)
            sizes.push_back(uniform(random, bucket.bytes_min, bucket.bytes_max));
    }
    REQUIRE(sizes.size() == kObjects);
    std::shuffle(sizes.begin(), sizes.end(), random);
    return sizes;
}

std::vector<TestObject> make_objects(const TempDir& directory, std::mt19937_64& random) {
    std::vector<TestObject> objects;
    uint64_t total_bytes = 0;
    std::string listing;
    for (uint64_t bytes : object_sizes(random)) {
        const size_t index = objects.size();
        TestObject object{.key = fmt::format("issue5/object-{:03}", index),
                          .file = directory.file(fmt::format("object-{:03}", index)),
                          .bytes = bytes};
        write_random_file(object.file, bytes, kSeed * 1000 + index);
        total_bytes += bytes;
        listing += fmt::format("{}{}", index == 0 ? "" : " ", bytes);
        objects.push_back(std::move(object));
    }
    WARN(fmt::format("seed {}: {} objects, {} bytes in all ({:.1f} MiB); sizes: {}",
                     kSeed,
                     objects.size(),
                     total_bytes,
                     static_cast<double>(total_bytes) / static_cast<double>(kMiB),
                     listing));
    return objects;
}

double seconds_since(steady_clock::time_point start) {
    return std::chrono::duration<double>(steady_clock::now() - start).count();
}

// Gets `object` through node `via` into `target` (removed first, so a failed get that left a
// file behind is seen).
RunResult get_object(const Cluster& cluster,
                     size_t via,
                     const TestObject& object,
                     const std::string& target) {
    std::filesystem::remove(target);
    return cluster.cli(via, {"get", object.key, "-o", target});
}

void require_readable(const Cluster& cluster,
                      size_t via,
                      const TestObject& object,
                      const std::string& target) {
    CAPTURE(object.key, object.bytes, Cluster::name(via));
    const RunResult get = get_object(cluster, via, object, target);
    INFO(get.err);
    REQUIRE(get.exit_code == kExitOk);
    REQUIRE(files_equal(object.file, target));
}

void put_all(const Cluster& cluster, const std::vector<TestObject>& objects) {
    const auto start = steady_clock::now();
    for (size_t index = 0; index < objects.size(); index++) {
        const TestObject& object = objects[index];
        const size_t via = index % kNodes;
        CAPTURE(object.key, object.bytes, Cluster::name(via));
        const RunResult put = cluster.cli(via, {"put", object.key, object.file});
        INFO(put.err);
        REQUIRE(put.exit_code == kExitOk);
    }
    WARN(fmt::format("put {} objects in {:.1f} s", objects.size(), seconds_since(start)));
}

// What the gets with three nodes down came to.
struct DegradedReads {
    size_t exact = 0;
    size_t failed_inline = 0;
    size_t failed_striped = 0;
    std::string first_error;
};

// A get with a third of the cluster down: the right bytes, or exit 5 with an error that says
// what it needed and no output file. Never exit 0 with other bytes.
void check_degraded_read(const Cluster& cluster,
                         size_t via,
                         const TestObject& object,
                         const std::string& target,
                         DegradedReads& reads) {
    CAPTURE(object.key, object.bytes, Cluster::name(via));
    const RunResult get = get_object(cluster, via, object, target);
    INFO(get.err);
    if (get.exit_code == kExitOk) {
        REQUIRE(files_equal(object.file, target));
        reads.exact++;
        return;
    }
    REQUIRE(get.exit_code == kExitNodeError);
    REQUIRE_FALSE(std::filesystem::exists(target));
    REQUIRE(get.err.find(object.key) != std::string::npos);
    REQUIRE(get.err.find("needed") != std::string::npos);
    if (object.is_striped()) {
        REQUIRE(get.err.find("chunks readable") != std::string::npos);
        reads.failed_striped++;
    } else {
        reads.failed_inline++;
    }
    if (reads.first_error.empty()) reads.first_error = get.err;
}

// Phase 1: two nodes down, so every stripe has four chunks left, just k.
void read_with_two_down(Cluster& cluster,
                        const std::vector<TestObject>& objects,
                        const std::string& target) {
    const auto start = steady_clock::now();
    const std::vector<size_t> survivors = cluster.running_nodes();
    REQUIRE(survivors.size() == kNodes - 2);
    for (size_t via : survivors) {
        for (const TestObject& object : objects)
            require_readable(cluster, via, object, target);
    }
    WARN(fmt::format("two down: {} objects byte-exact through each of the {} survivors in {:.1f} s",
                     objects.size(),
                     survivors.size(),
                     seconds_since(start)));
}

// Phase 2: three nodes down, one past what RS 4+2 tolerates.
void read_with_three_down(Cluster& cluster,
                          const std::vector<TestObject>& objects,
                          const std::string& target) {
    const auto start = steady_clock::now();
    const std::vector<size_t> survivors = cluster.running_nodes();
    REQUIRE(survivors.size() == kNodes - 3);
    DegradedReads reads;
    for (size_t via : survivors) {
        for (const TestObject& object : objects)
            check_degraded_read(cluster, via, object, target, reads);
    }
    WARN(
            fmt::format("three down: {} gets through the {} survivors in {:.1f} s: {} byte-exact, "
                        "{} of striped objects and {} of inline ones failed; first error: {}",
                        survivors.size() * objects.size(),
                        survivors.size(),
                        seconds_since(start),
                        reads.exact,
                        reads.failed_striped,
                        reads.failed_inline,
                        reads.first_error));
    REQUIRE(reads.failed_striped > 0);
}

// Phase 3: the killed nodes back over their data, at their addresses, with their ids.
void restart_and_read(Cluster& cluster,
                      const std::vector<size_t>& victims,
                      const std::vector<TestObject>& objects,
                      const std::string& target) {
    const auto start = steady_clock::now();
    const size_t seed = cluster.running_nodes().front();
    for (size_t victim : victims) {
        const std::string id = cluster.node_id(victim);
        const std::string address = cluster.address(victim);
        cluster.start(victim, seed);
        REQUIRE(cluster.node_id(victim) == id);
        REQUIRE(cluster.address(victim) == address);
    }
    REQUIRE(cluster.converged(kConvergeTimeout));
    const double converged_seconds = seconds_since(start);
    for (size_t index = 0; index < objects.size(); index++)
        require_readable(cluster, (index + 3) % kNodes, objects[index], target);
    WARN(fmt::format("restarted: converged in {:.1f} s, then {} objects byte-exact in {:.1f} s",
                     converged_seconds,
                     objects.size(),
                     seconds_since(start) - converged_seconds));
}

TEST_CASE(
        "integration: six RS 4+2 nodes read every object with two SIGKILLed, fail cleanly "
        "with three, and recover after restarts",
        "[integration][cluster]") {
    const auto start = steady_clock::now();
    TempDir directory;
    Cluster cluster(cluster_config(directory));
    cluster.start_all();

    std::mt19937_64 random(kSeed);
    const std::vector<TestObject> objects = make_objects(directory, random);
    put_all(cluster, objects);
    const std::string target = directory.file("got");

    // Any two, then a third: the victims come from the seed.
    std::vector<size_t> victims{0, 1, 2, 3, 4, 5};
    std::shuffle(victims.begin(), victims.end(), random);
    victims.resize(3);
    WARN(fmt::format("SIGKILL {} and {}, then {}",
                     Cluster::name(victims[0]),
                     Cluster::name(victims[1]),
                     Cluster::name(victims[2])));
    // No wait for the failure detector: the first gets find the peers gone themselves.
    cluster.kill_node(victims[0]);
    cluster.kill_node(victims[1]);
    read_with_two_down(cluster, objects, target);
    cluster.kill_node(victims[2]);
    read_with_three_down(cluster, objects, target);
    restart_and_read(cluster, victims, objects, target);
    WARN(fmt::format("whole test: {:.1f} s", seconds_since(start)));
}

// A replaced disk: a node comes back over an empty data directory with its id, so it is the
// same member and placement is unchanged. Its first repair pass pulls back what it owns
// (with six nodes, every manifest and one chunk of every stripe), whether or not anyone saw
// it go, so that every object reads through it with two other nodes SIGKILLed.
TEST_CASE("integration: a node back over an empty data directory gets its share rebuilt",
          "[integration][cluster]") {
    constexpr size_t kWiped = 4;
    TempDir directory;
    Cluster cluster(cluster_config(directory));
    cluster.start_all();

    // 30 objects: 10 inline, 20 of up to 6 MiB.
    std::mt19937_64 random(kSeed + 1);
    std::vector<TestObject> objects;
    uint64_t stripes = 0;
    for (size_t index = 0; index < 30; index++) {
        const uint64_t bytes = index < 10 ? uniform(random, 1, kInlineBytesMax)
                                          : uniform(random, kInlineBytesMax + 1, 6 * kMiB);
        TestObject object{.key = fmt::format("wiped/object-{:02}", index),
                          .file = directory.file(fmt::format("wiped-{:02}", index)),
                          .bytes = bytes};
        write_random_file(object.file, bytes, kSeed * 2000 + index);
        if (object.is_striped()) stripes += (bytes + kStripeBytes - 1) / kStripeBytes;
        objects.push_back(std::move(object));
    }
    put_all(cluster, objects);

    const auto start = steady_clock::now();
    cluster.kill_node(kWiped);
    cluster.wipe_store(kWiped);
    cluster.start(kWiped, 0);
    REQUIRE(cluster.converged(kConvergeTimeout));
    uint64_t manifests = 0;
    uint64_t rebuilt = 0;
    const bool repaired = poll_for(milliseconds(90'000), [&] {
        manifests = 0;
        rebuilt = 0;
        for (size_t index : cluster.running_nodes()) {
            const std::string stats = cluster.stats_json(index);
            manifests += json_counter(stats, "manifests_repaired");
            rebuilt += json_counter(stats, "chunks_rebuilt");
            CHECK(json_counter(stats, "stripes_unrecoverable") == 0);
        }
        const uint64_t passes = json_counter(cluster.stats_json(kWiped), "scrub_passes");
        return passes >= 1 && manifests >= objects.size() && rebuilt >= stripes;
    });
    CAPTURE(manifests, rebuilt, stripes);
    REQUIRE(repaired);
    WARN(fmt::format("{} manifests and {} chunks rebuilt ({} stripes) in {:.1f} s",
                     manifests,
                     rebuilt,
                     stripes,
                     seconds_since(start)));

    cluster.kill_node(0);
    cluster.kill_node(1);
    const std::string target = directory.file("got");
    for (const TestObject& object : objects)
        require_readable(cluster, kWiped, object, target);
}

}  // namespace
}  // namespace shoal::integration

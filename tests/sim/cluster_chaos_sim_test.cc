// Goal (issue #5): under crashes, restarts, message loss, delay and cut links, the cluster never
// returns wrong bytes, never loses an acknowledged write, never brings a deleted key back, and
// a read after a completed write sees it.
//
// Method: 6 to 9 disk-mode nodes (seeded) under RS 4+2 with 64 KiB stripes and 64 partitions
// (data_cluster.h). A workload of kOperations sequential client calls over kKeys keys (puts of
// 0 B to 300 KB, so some are inline and some have several stripes; overwrites, deletes, gets,
// stats) goes through random live nodes. A completed write is often followed at once by a get,
// or by another write of the same key, through another node. Storms of faults alternate with
// lulls: in a storm nodes are power-cut (at most two down at a time, counting crashes already
// scheduled, which land up to 30 ms later, often inside a call) and restarted over their disks,
// and links between two nodes are cut for up to 3 s; in a lull the cuts heal and down nodes come
// back. Throughout, the network delays every frame and loses and duplicates gossip datagrams,
// at rates the seed picks along with the disks' latencies and the stores' cache and checkpoints.
//
// Checker: per key, the states a read may show. An acknowledged put or delete leaves exactly
// one (its bytes and version, or absent); a put or delete that failed or whose answer never
// came adds its outcome to those already possible, since it may or may not have landed. Every
// get must be byte-exact, match its digest and show a possible state; a stat or a not-found
// likewise; a write acknowledged after another must carry a later version. Calls may fail while
// the cluster is damaged, but on a calm one (no fault during the call, at most one node down,
// no cut link lately, every live node placing by the whole cluster) every call must succeed. At
// the end every node is restarted, every link healed, membership must converge, and every key
// is read through every node. Any error-level log line fails the run.
//
// Bugs this run found, each fixed and pinned by a case at the end of this file:
//  - A write acknowledged after another within the same millisecond, through a node with a
//    lower id, got an older version and lost to it. A put now chooses its version after it
//    has read the key's newest one.
//  - A node restarted while another was down never learned of that one and placed by a
//    smaller layout, so its puts and reads went to the wrong owners, and its HandBack sent
//    chunks to nodes that did not own them. A push-pull now teaches it.
//
// Seeds: CI runs kCiSeeds. SHOAL_SIM_SEEDS=<count> runs `count` seeds from
// SHOAL_SIM_FIRST_SEED (default 1) instead and prints a line per seed; each failure names its
// seed, which replays exactly:
//
//     SHOAL_SIM_SEEDS=500 build/dev/tests/sim/cluster_chaos_sim_tests "[chaos]"
//     SHOAL_SIM_FIRST_SEED=137 SHOAL_SIM_SEEDS=1 build/dev/tests/sim/cluster_chaos_sim_tests
#include <array>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "data_cluster.h"
#include "shoal/base/hash.h"
#include "shoal/base/prng.h"

namespace shoal::sim {
namespace {

using testing::DataCluster;
using testing::ObjectRead;

constexpr size_t kKeys = 30;
constexpr size_t kOperations = 400;
constexpr size_t kPhaseOperations = 50;  // A storm, then a lull, and so on.
constexpr size_t kDownMax = 2;
constexpr size_t kCutsMax = 2;
constexpr uint64_t kObjectBytesMax = 300'000;
constexpr size_t kTraceLines = 40;
constexpr size_t kViolationsReported = 5;
// How long a healed cut may still fail calls: a connection opened across it fails only after
// runtime::kConnectTimeout, and the calls queued on it then wait out their peer timeout
// (peer_timeout_ticks is 100 in data_cluster.cc).
constexpr Duration kCutAftermath = runtime::kConnectTimeout + std::chrono::seconds(2);

constexpr std::array<uint64_t, 6> kCiSeeds{1, 2, 3, 4, 5, 6};

bool soak() {
    return std::getenv("SHOAL_SIM_SEEDS") != nullptr;
}

// kCiSeeds, or the seeds SHOAL_SIM_SEEDS and SHOAL_SIM_FIRST_SEED ask for.
std::vector<uint64_t> chosen_seeds() {
    const char* count_text = std::getenv("SHOAL_SIM_SEEDS");
    if (count_text == nullptr) return {kCiSeeds.begin(), kCiSeeds.end()};
    const uint64_t count = std::strtoull(count_text, nullptr, 10);
    const char* first = std::getenv("SHOAL_SIM_FIRST_SEED");
    const uint64_t from = first == nullptr ? 1 : std::strtoull(first, nullptr, 10);
    std::vector<uint64_t> seeds;
    for (uint64_t index = 0; index < count; index++) {
        seeds.push_back(from + index);
    }
    return seeds;
}

// What the network, the disks and the stores are like in this run.
DataCluster::Options cluster_options(uint64_t seed) {
    Prng prng(seed ^ 0xc4a05);
    DataCluster::Options options;
    options.seed = seed;
    options.nodes = 6 + prng.below(4);
    options.network.latency_min = std::chrono::microseconds(prng.between(20, 500));
    options.network.latency_jitter_max = std::chrono::microseconds(prng.between(0, 3000));
    options.network.datagram_loss_per_million = static_cast<uint32_t>(prng.below(50'001));
    options.network.datagram_duplicate_per_million = static_cast<uint32_t>(prng.below(10'001));
    options.disk_faults.sync_latency = std::chrono::microseconds(prng.between(100, 2000));
    const bool cache = prng.chance(2, 3);
    const bool checkpoints = prng.chance(1, 2);
    options.configure = [cache, checkpoints](node::Node::Options& node) {
        node.disk.cache_bytes = cache ? uint64_t{1} << 20 : 0;
        node.disk.checkpoint_interval_bytes = checkpoints ? uint64_t{256} << 10 : 0;
    };
    return options;
}

std::string key_name(size_t key) {
    return fmt::format("chaos/{:02}", key);
}

std::string version_text(std::optional<Version> version) {
    if (!version.has_value()) return "unknown";
    return fmt::format("{:x}@n{}", version->hlc, to_u64(version->node));
}

// One state a key may show: an object (its bytes and, once acknowledged, its version) or
// absence (never put, or deleted; the tombstone's version once acknowledged).
struct Possible {
    std::shared_ptr<const Buffer> bytes;  // Null: absent.
    std::optional<Version> version;
};

// Per key, every state a read may show, and the newest acknowledged version.
class Model {
public:
    Model() : keys_(kKeys, std::vector<Possible>{Possible{}}), newest_(kKeys) {}

    bool settled(size_t key) const { return keys_[key].size() == 1; }
    bool may_be_absent(size_t key) const {
        for (const Possible& state : keys_[key]) {
            if (state.bytes == nullptr) return true;
        }
        return false;
    }
    // Every write acknowledged from now on must carry a later version than this.
    std::optional<Version> newest_acknowledged(size_t key) const { return newest_[key]; }

    // REQUIRES: state.version is later than newest_acknowledged(key).
    void acknowledged(size_t key, Possible state) {
        newest_[key] = state.version;
        keys_[key] = {std::move(state)};
    }
    void maybe(size_t key, Possible state) {
        if (state.bytes == nullptr && may_be_absent(key)) return;
        keys_[key].push_back(std::move(state));
    }

    // Empty if `info` (and `data`, when given) is one of the key's states, else why not.
    std::string check(size_t key, const wire::ObjectInfo& info, const Buffer* data) const {
        if (data != nullptr &&
            (data->size() != info.object_bytes || hash64(data->view()) != info.digest)) {
            return fmt::format("{} bytes that fail the reply's digest (it says {} bytes)",
                               data->size(),
                               info.object_bytes);
        }
        for (const Possible& state : keys_[key]) {
            if (state.bytes == nullptr || state.bytes->size() != info.object_bytes) continue;
            if (hash64(state.bytes->view()) != info.digest) continue;
            if (data != nullptr && !equal_bytes(data->view(), state.bytes->view())) continue;
            if (state.version.has_value() && *state.version != info.version) continue;
            return "";
        }
        return fmt::format("{} bytes at version {}, not a possible state",
                           info.object_bytes,
                           version_text(info.version));
    }

    std::string describe(size_t key) const {
        std::string text;
        for (const Possible& state : keys_[key]) {
            if (!text.empty()) text += ", ";
            text += fmt::format("{} at {}",
                                state.bytes == nullptr
                                        ? std::string("absent")
                                        : fmt::format("{} bytes", state.bytes->size()),
                                version_text(state.version));
        }
        return text;
    }

private:
    std::vector<std::vector<Possible>> keys_;
    std::vector<std::optional<Version>> newest_;
};

struct Counts {
    uint64_t puts_acknowledged = 0;
    uint64_t puts_failed = 0;
    uint64_t deletes_acknowledged = 0;
    uint64_t reads_ok = 0;  // Not-found answers included.
    uint64_t reads_failed = 0;
    uint64_t crashes = 0;
    uint64_t restarts = 0;
    uint64_t cuts = 0;
    uint64_t calm_calls = 0;
    uint64_t violations = 0;
};

// A call under way: whether the cluster was calm and which fault it had seen as it began.
struct CallStart {
    bool calm = false;
    uint64_t fault_epoch = 0;
    std::string through;  // For the trace.
};

class Chaos {
public:
    explicit Chaos(uint64_t seed)
        : seed_(seed), cluster_(cluster_options(seed)), prng_(seed), pending_(cluster_.size()) {}

    void run() {
        REQUIRE(cluster_.run_until(std::chrono::seconds(30), [&] { return cluster_.all_alive(); }));
        for (size_t operation = 0; operation < kOperations; operation++) {
            operation_ = operation;
            const bool storm = (operation / kPhaseOperations) % 2 == 0;
            if (!storm && operation % kPhaseOperations == 0) begin_lull();
            if (storm) {
                maybe_fault();
            } else if (prng_.chance(1, 20)) {
                schedule_restart();
            }
            call();
            // Half the calls follow the last at once; the others after up to 20 ms.
            if (prng_.chance(1, 2)) {
                cluster_.run_for(std::chrono::microseconds(prng_.below(20'000)));
            }
        }
        settle();
        read_everything();
        report();
    }

private:
    enum class Pending : uint8_t { kNone, kCrash, kRestart };
    static constexpr size_t kNone = SIZE_MAX;

    // --- Faults --------------------------------------------------------------------------

    size_t down() const {
        size_t count = 0;
        for (size_t index = 0; index < cluster_.size(); index++) {
            if (!cluster_.up(index) || pending_[index] == Pending::kCrash) count += 1;
        }
        return count;
    }

    void maybe_fault() {
        const uint64_t roll = prng_.below(100);
        if (roll < 7) {
            schedule_crash();
        } else if (roll < 14) {
            schedule_restart();
        } else if (roll < 19) {
            cut_link();
        } else if (roll < 21) {
            // Long enough for the failure detector to act on what happened.
            cluster_.run_for(std::chrono::milliseconds(prng_.between(500, 4000)));
        }
    }

    // A power cut a little later: it may land in the middle of the next call.
    void schedule_crash() {
        if (down() >= kDownMax) return;
        const size_t victim = pick([&](size_t index) {
            return cluster_.up(index) && pending_[index] == Pending::kNone;
        });
        if (victim == kNone) return;
        pending_[victim] = Pending::kCrash;
        const Duration delay = std::chrono::microseconds(prng_.below(30'000));
        cluster_.events().schedule_after(delay, [this, victim] {
            pending_[victim] = Pending::kNone;
            fault_epoch_ += 1;
            counts_.crashes += 1;
            trace(fmt::format("crash n{}", victim + 1));
            cluster_.crash(victim);
        });
    }

    void schedule_restart() {
        const size_t index = pick([&](size_t candidate) {
            return !cluster_.up(candidate) && pending_[candidate] == Pending::kNone;
        });
        if (index == kNone) return;
        pending_[index] = Pending::kRestart;
        const Duration delay = std::chrono::microseconds(prng_.below(30'000));
        cluster_.events().schedule_after(delay, [this, index] { restart(index); });
    }

    void restart(size_t index) {
        pending_[index] = Pending::kNone;
        fault_epoch_ += 1;
        counts_.restarts += 1;
        trace(fmt::format("restart n{}", index + 1));
        cluster_.restart(index);
    }

    // Cuts both ways between two nodes for a while: frames across it stall, datagrams are lost.
    void cut_link() {
        if (cuts_.size() >= kCutsMax) return;
        const size_t a = prng_.below(cluster_.size());
        const size_t b = prng_.below(cluster_.size());
        const std::pair<size_t, size_t> link{std::min(a, b), std::max(a, b)};
        if (a == b || cuts_.contains(link)) return;
        fault_epoch_ += 1;
        counts_.cuts += 1;
        const uint64_t cut = counts_.cuts;
        cuts_.emplace(link, cut);
        trace(fmt::format("cut n{} n{}", link.first + 1, link.second + 1));
        cluster_.network().cut({cluster_.address(a)}, {cluster_.address(b)});
        const Duration heal_after = std::chrono::milliseconds(prng_.between(100, 3000));
        cluster_.events().schedule_after(heal_after, [this, link, cut] {
            auto found = cuts_.find(link);
            if (found != cuts_.end() && found->second == cut) heal(link);
        });
    }

    void heal(std::pair<size_t, size_t> link) {
        fault_epoch_ += 1;
        cuts_.erase(link);
        trace(fmt::format("heal n{} n{}", link.first + 1, link.second + 1));
        quiet_from_ = cluster_.now() + kCutAftermath;
        cluster_.network().heal({cluster_.address(link.first)}, {cluster_.address(link.second)});
    }

    // A lull begins: every cut heals, and its aftermath passes before the next call.
    void begin_lull() {
        while (!cuts_.empty()) {
            heal(cuts_.begin()->first);
        }
        cluster_.run_until(kCutAftermath + std::chrono::seconds(1),
                           [&] { return cluster_.now() >= quiet_from_; });
    }

    // A random node for which `fits` holds, or kNone.
    template <typename Fits>
    size_t pick(Fits&& fits) {
        std::vector<size_t> fitting;
        for (size_t index = 0; index < cluster_.size(); index++) {
            if (fits(index)) fitting.push_back(index);
        }
        return fitting.empty() ? kNone : fitting[prng_.below(fitting.size())];
    }

    bool places_by_all(size_t index) const {
        const coordinator::Layout* layout = cluster_.node(index).layout();
        return layout != nullptr && layout->table().nodes().size() == cluster_.size();
    }

    // A live node to send a call to, other than `other_than`.
    size_t pick_coordinator(size_t other_than = kNone) {
        return pick([&](size_t index) { return index != other_than && cluster_.up(index); });
    }

    // No fault in the air, at most one node down, every live node serving and placing by the
    // whole cluster, and no cut lately: every call must succeed.
    bool calm() const {
        if (!cuts_.empty() || down() > 1 || cluster_.now() < quiet_from_) return false;
        for (size_t index = 0; index < cluster_.size(); index++) {
            if (pending_[index] != Pending::kNone) return false;
            if (cluster_.up(index) && (!cluster_.serving(index) || !places_by_all(index))) {
                return false;
            }
        }
        return true;
    }

    // --- Calls ---------------------------------------------------------------------------

    CallStart begin_call(size_t through) const {
        const coordinator::Layout* layout = cluster_.node(through).layout();
        const size_t nodes = layout == nullptr ? 0 : layout->table().nodes().size();
        return CallStart{
                .calm = calm(),
                .fault_epoch = fault_epoch_,
                .through = nodes == cluster_.size()
                                   ? fmt::format("n{}", through + 1)
                                   : fmt::format("n{} (placing by {} nodes)", through + 1, nodes),
        };
    }

    // Whether the call was calm from start to end.
    bool end_call(const CallStart& start) {
        const bool calm_call = start.calm && start.fault_epoch == fault_epoch_ && calm();
        if (calm_call) counts_.calm_calls += 1;
        return calm_call;
    }

    void call() {
        const size_t key = prng_.below(kKeys);
        const size_t through = pick_coordinator();
        if (through == kNone) return;
        const uint64_t roll = prng_.below(100);
        if (roll < 45) {
            put(key, through, /*may_follow=*/true);
        } else if (roll < 75) {
            get(key, through);
        } else if (roll < 88) {
            remove(key, through, /*may_follow=*/true);
        } else {
            stat(key, through);
        }
    }

    Buffer random_object() {
        const uint64_t shape = prng_.below(10);
        uint64_t size = 0;
        if (shape == 1) size = prng_.between(1, 100);
        if (shape == 2 || shape == 3) size = prng_.between(101, 8192);
        if (shape == 4 || shape == 5) size = prng_.between(8193, uint64_t{64} * 1024);
        if (shape >= 6) size = prng_.between(uint64_t{64} * 1024 + 1, kObjectBytesMax);
        Buffer object(size);
        prng_.fill(object.data(), object.size());
        return object;
    }

    // Right after a completed write, through another node: another write of the key a quarter
    // of the time (if `may_follow`), else a get half the time.
    void after_write(size_t key, size_t writer, bool may_follow) {
        const size_t other = pick_coordinator(writer);
        if (other == kNone) return;
        if (may_follow && prng_.chance(1, 4)) {
            if (prng_.chance(3, 4)) {
                put(key, other, /*may_follow=*/false);
            } else {
                remove(key, other, /*may_follow=*/false);
            }
        } else if (prng_.chance(1, 2)) {
            get(key, other);
        }
    }

    // An acknowledged write's state, unless its version does not follow the last one's.
    void acknowledge(size_t key, std::optional<Version> floor, Possible state) {
        if (!floor.has_value() || *floor < *state.version) {
            model_.acknowledged(key, std::move(state));
            return;
        }
        violation(key,
                  fmt::format("acknowledged at version {}, not after {} acknowledged before",
                              version_text(state.version),
                              version_text(floor)));
        model_.maybe(key, std::move(state));  // Both writes may show.
    }

    void put(size_t key, size_t through, bool may_follow) {
        auto object = std::make_shared<const Buffer>(random_object());
        const std::optional<Version> floor = model_.newest_acknowledged(key);
        const CallStart start = begin_call(through);
        Result<wire::PutReply> reply = cluster_.put(through, key_name(key), object->view());
        const bool calm_call = end_call(start);
        trace(fmt::format("put {} {} bytes via {}: {}",
                          key_name(key),
                          object->size(),
                          start.through,
                          reply.is_ok() ? version_text(reply.value().info.version)
                                        : reply.status().to_string()));
        if (!reply.is_ok()) {
            counts_.puts_failed += 1;
            expect_calm_success(calm_call, "put", key, reply.status());
            model_.maybe(key, Possible{.bytes = object});
            return;
        }
        counts_.puts_acknowledged += 1;
        const wire::ObjectInfo& info = reply.value().info;
        if (info.object_bytes != object->size() || info.digest != hash64(object->view())) {
            violation(key, "the put's reply names other bytes than were put");
        }
        acknowledge(key, floor, Possible{.bytes = object, .version = info.version});
        after_write(key, through, may_follow);
    }

    void remove(size_t key, size_t through, bool may_follow) {
        const std::optional<Version> floor = model_.newest_acknowledged(key);
        const CallStart start = begin_call(through);
        Result<wire::DeleteReply> reply = cluster_.remove(through, key_name(key));
        const bool calm_call = end_call(start);
        trace(fmt::format(
                "delete {} via {}: {}",
                key_name(key),
                start.through,
                reply.is_ok() ? version_text(reply.value().version) : reply.status().to_string()));
        if (reply.is_ok()) {
            counts_.deletes_acknowledged += 1;
            // It found an object: one must have been possible.
            if (model_.settled(key) && model_.may_be_absent(key)) {
                violation(key, "a delete found an object where none can be");
            }
            acknowledge(key, floor, Possible{.version = reply.value().version});
            after_write(key, through, may_follow);
        } else if (reply.status().code() == Code::kNotFound) {
            counts_.reads_ok += 1;
            if (!model_.may_be_absent(key)) violation(key, "a delete found no object");
        } else {
            expect_calm_success(calm_call, "delete", key, reply.status());
            model_.maybe(key, Possible{});
        }
    }

    void get(size_t key, size_t through) {
        const CallStart start = begin_call(through);
        Result<ObjectRead> read = cluster_.get(through, key_name(key));
        const bool calm_call = end_call(start);
        trace(fmt::format("get {} via {}: {}",
                          key_name(key),
                          start.through,
                          read.is_ok() ? fmt::format("{} bytes at {}",
                                                     read.value().data.size(),
                                                     version_text(read.value().info.version))
                                       : read.status().to_string()));
        if (!read.is_ok()) {
            check_failed_read(key, read.status(), calm_call, "get");
            return;
        }
        counts_.reads_ok += 1;
        const std::string wrong = model_.check(key, read.value().info, &read.value().data);
        if (!wrong.empty()) violation(key, "get: " + wrong);
    }

    void stat(size_t key, size_t through) {
        const CallStart start = begin_call(through);
        Result<wire::StatReply> reply = cluster_.stat(through, key_name(key));
        const bool calm_call = end_call(start);
        trace(fmt::format("stat {} via {}: {}",
                          key_name(key),
                          start.through,
                          reply.is_ok() ? version_text(reply.value().info.version)
                                        : reply.status().to_string()));
        if (!reply.is_ok()) {
            check_failed_read(key, reply.status(), calm_call, "stat");
            return;
        }
        counts_.reads_ok += 1;
        const std::string wrong = model_.check(key, reply.value().info, nullptr);
        if (!wrong.empty()) violation(key, "stat: " + wrong);
    }

    void check_failed_read(size_t key, const Status& failure, bool calm_call, const char* what) {
        if (failure.code() == Code::kNotFound) {
            counts_.reads_ok += 1;
            if (!model_.may_be_absent(key)) {
                violation(key, fmt::format("{}: not found, but it must exist", what));
            }
            return;
        }
        counts_.reads_failed += 1;
        // The disks flip no bits in this test: nothing may fail its checks.
        if (failure.code() == Code::kCorruption) {
            violation(key, fmt::format("{}: {}", what, failure.to_string()));
        }
        expect_calm_success(calm_call, what, key, failure);
    }

    void expect_calm_success(bool calm_call, const char* what, size_t key, const Status& failure) {
        if (!calm_call) return;
        violation(key, fmt::format("{} failed on a calm cluster: {}", what, failure.to_string()));
    }

    // --- The end -------------------------------------------------------------------------

    // Every pending fault lands, every link heals, every node runs, membership converges.
    void settle() {
        cluster_.run_for(std::chrono::milliseconds(50));  // Crashes and restarts scheduled land.
        begin_lull();
        for (size_t index = 0; index < cluster_.size(); index++) {
            if (!cluster_.up(index)) restart(index);
        }
        const bool converged =
                cluster_.run_until(std::chrono::seconds(60), [&] { return cluster_.all_alive(); });
        if (!converged) violation(0, "membership did not converge after everything healed");
        REQUIRE(converged);
        REQUIRE(calm());
    }

    // Every key through every node, on a calm cluster: every call must succeed.
    void read_everything() {
        for (size_t key = 0; key < kKeys; key++) {
            for (size_t through = 0; through < cluster_.size(); through++) {
                get(key, through);
            }
            stat(key, prng_.below(cluster_.size()));
        }
    }

    void report() {
        const std::string summary = fmt::format(
                "seed {}: {} nodes, {} s simulated; puts {} acknowledged, {} failed; deletes {}; "
                "reads {} answered, {} failed; {} crashes, {} restarts, {} cuts; {} calm calls",
                seed_,
                cluster_.size(),
                milliseconds_of(cluster_.now().since_origin()) / 1000,
                counts_.puts_acknowledged,
                counts_.puts_failed,
                counts_.deletes_acknowledged,
                counts_.reads_ok,
                counts_.reads_failed,
                counts_.crashes,
                counts_.restarts,
                counts_.cuts,
                counts_.calm_calls);
        if (soak()) WARN(summary);
        INFO(summary);
        CHECK(counts_.violations == 0);
        CHECK(cluster_.log_errors() == 0);
        CHECK(cluster_.failed_starts() == 0);
        // The run did what it is for: faults landed, writes went through, calm calls were made.
        CHECK(counts_.crashes >= 2);
        CHECK(counts_.puts_acknowledged >= kOperations / 10);
        CHECK(counts_.calm_calls >= kKeys * cluster_.size());
    }

    // --- Reporting -----------------------------------------------------------------------

    void trace(const std::string& line) {
        trace_.push_back(fmt::format("[{} t={}ms] {}",
                                     operation_,
                                     milliseconds_of(cluster_.now().since_origin()),
                                     line));
        if (trace_.size() > kTraceLines) trace_.pop_front();
    }

    void violation(size_t key, const std::string& what) {
        counts_.violations += 1;
        if (counts_.violations > kViolationsReported) return;
        std::string recent;
        for (const std::string& line : trace_) {
            recent += "\n  " + line;
        }
        FAIL_CHECK(fmt::format("seed {} operation {} key {}: {}\npossible: {}\nrecent:{}\n{}",
                               seed_,
                               operation_,
                               key_name(key),
                               what,
                               model_.describe(key),
                               recent,
                               where_is(key)));
    }

    // Each live node's owners of `key` and what its store holds for it, asked after the fact
    // (which runs the cluster on: a failing run is not replayed past its first violation).
    std::string where_is(size_t key) {
        std::string text = "where the manifests are now:";
        for (size_t index = 0; index < cluster_.size(); index++) {
            if (!cluster_.up(index) || cluster_.node(index).layout() == nullptr) {
                text += fmt::format("\n  n{}: down", index + 1);
                continue;
            }
            const coordinator::Layout& layout = *cluster_.node(index).layout();
            std::string owners;
            for (const coordinator::NodeKey& owner : layout.manifest_owners(key_name(key))) {
                owners += fmt::format(" n{}", owner.low);
            }
            Result<std::optional<object::Manifest>> held =
                    cluster_.manifest_held(index, key_name(key), std::chrono::seconds(5));
            std::string holds = "nothing";
            if (!held.is_ok()) holds = held.status().to_string();
            if (held.is_ok() && held.value().has_value()) {
                holds = version_text(held.value()->version) +
                        (held.value()->is_tombstone() ? " (tombstone)" : "");
            }
            text += fmt::format("\n  n{}: placing by {} nodes, owners{}; holds {}",
                                index + 1,
                                layout.table().nodes().size(),
                                owners,
                                holds);
        }
        return text;
    }

    uint64_t seed_;
    DataCluster cluster_;
    Prng prng_;
    Model model_;
    Counts counts_;
    std::vector<Pending> pending_;
    std::map<std::pair<size_t, size_t>, uint64_t> cuts_;  // Cut links, by cut number.
    uint64_t fault_epoch_ = 0;                            // Bumped by every fault.
    Instant quiet_from_;  // Calls before this may fail for a cut already healed.
    size_t operation_ = 0;
    std::deque<std::string> trace_;
};

TEST_CASE("sim: under crashes, restarts, loss, delay and cut links no acknowledged write is lost",
          "[sim][cluster][chaos]") {
    const uint64_t seed = GENERATE(from_range(chosen_seeds()));
    CAPTURE(seed);
    Chaos chaos(seed);
    chaos.run();
}

// --- Bugs the chaos run found, each pinned by a case of its own. ---------------------------

// A fast network and disk, so that a small put takes well under a millisecond.
DataCluster::Options fast_cluster(size_t nodes) {
    DataCluster::Options options;
    options.nodes = nodes;
    options.network.latency_min = std::chrono::microseconds(20);
    options.network.latency_jitter_max = Duration(0);
    options.disk_faults.latency_min = std::chrono::microseconds(5);
    options.disk_faults.latency_jitter_max = Duration(0);
    options.disk_faults.sync_latency = std::chrono::microseconds(100);
    return options;
}

Buffer filled(size_t bytes, uint64_t seed) {
    Buffer object(bytes);
    Prng(seed).fill(object.data(), object.size());
    return object;
}

// Both puts take about 0.2 ms, so both coordinators read the same wall-clock millisecond:
// from their clocks alone n3's version would be (T, 0, n3) and n1's (T, 0, n1), which sorts
// first, and the second acknowledged put would be invisible for good.
TEST_CASE("sim: a put acknowledged after another in the same millisecond is the newer",
          "[sim][cluster]") {
    DataCluster cluster(fast_cluster(6));
    REQUIRE(cluster.run_until(std::chrono::seconds(30), [&] { return cluster.all_alive(); }));
    const Buffer first = filled(10, 1);
    const Buffer second = filled(20, 2);
    Result<wire::PutReply> older = cluster.put(/*through=*/2, "k", first.view());
    Result<wire::PutReply> newer = cluster.put(/*through=*/0, "k", second.view());
    REQUIRE(older.is_ok());
    REQUIRE(newer.is_ok());
    CAPTURE(version_text(older.value().info.version), version_text(newer.value().info.version));
    CHECK(older.value().info.version < newer.value().info.version);
    Result<ObjectRead> read = cluster.get(/*through=*/4, "k");
    REQUIRE(read.is_ok());
    CHECK(equal_bytes(read.value().data.view(), second.view()));
}

// The first of keys k/0, k/1, ... whose manifest owners leave out `excluded`. With 7 nodes and
// 6 owners, every key leaves exactly one node out.
std::string key_owned_without(const DataCluster& cluster, size_t excluded) {
    for (size_t index = 0; index < 1000; index++) {
        std::string key = fmt::format("k/{}", index);
        bool owned = false;
        for (const coordinator::NodeKey& node : cluster.node(0).layout()->manifest_owners(key)) {
            owned = owned || node.low == excluded + 1;
        }
        if (!owned) return key;
    }
    FAIL("no such key");
    return "";
}

// As above, through a coordinator that owns none of the key's manifests, so that no manifest
// write has shown it n3's clock: its put must still come out newer, because it reads the
// key's newest version before it chooses its own (PutOperation::choose_version).
TEST_CASE("sim: a put after another in the same millisecond is newer through a non-owner",
          "[sim][cluster]") {
    DataCluster cluster(fast_cluster(7));
    REQUIRE(cluster.run_until(std::chrono::seconds(30), [&] { return cluster.all_alive(); }));
    const std::string key = key_owned_without(cluster, /*excluded=*/0);
    for (const size_t size : {size_t{10}, size_t{100'000}}) {  // Inline, then striped.
        CAPTURE(size);
        const Buffer first = filled(size, 1);
        const Buffer second = filled(size + 1, 2);
        Result<wire::PutReply> older = cluster.put(/*through=*/2, key, first.view());
        Result<wire::PutReply> newer = cluster.put(/*through=*/0, key, second.view());
        REQUIRE(older.is_ok());
        REQUIRE(newer.is_ok());
        CAPTURE(version_text(older.value().info.version), version_text(newer.value().info.version));
        CHECK(older.value().info.version < newer.value().info.version);
        Result<ObjectRead> read = cluster.get(/*through=*/4, key);
        REQUIRE(read.is_ok());
        CHECK(equal_bytes(read.value().data.view(), second.view()));
    }
}

// Every live node's view has node `dead` dead.
bool dead_everywhere(const DataCluster& cluster, size_t dead) {
    for (size_t index = 0; index < cluster.size(); index++) {
        if (!cluster.up(index)) continue;
        const membership::Member* member = cluster.node(index).swim().find(
                membership::MemberId{.high = 0x5348, .low = dead + 1});
        if (member == nullptr || member->state != membership::MemberState::kDead) return false;
    }
    return true;
}

// Seven nodes; n7 is down and dead in every view, and n2 restarts. n2 must learn of n7 from
// the push-pull that rejoins it (which lists n7 as dead) and place by all seven, as the
// others do: a node placing by six put and read on the wrong owners, and its HandBack sent
// chunks to nodes that did not own them.
class RestartWhileOneIsDown {
public:
    static constexpr size_t kDead = 6;       // n7.
    static constexpr size_t kRestarted = 1;  // n2.

    RestartWhileOneIsDown() : cluster_(fast_cluster(7)) {
        REQUIRE(cluster_.run_until(std::chrono::seconds(30), [&] { return cluster_.all_alive(); }));
        cluster_.crash(kDead);
        REQUIRE(cluster_.run_until(std::chrono::seconds(60),
                                   [&] { return dead_everywhere(cluster_, kDead); }));
        cluster_.crash(kRestarted);
        cluster_.restart(kRestarted);
        REQUIRE(cluster_.run_until(std::chrono::seconds(10), [&] {
            return cluster_.serving(kRestarted) &&
                   cluster_.node(kRestarted).swim().members().size() > 1;
        }));
    }

    DataCluster& cluster() { return cluster_; }

private:
    DataCluster cluster_;
};

TEST_CASE("sim: a node restarted while another is down places by the whole cluster",
          "[sim][cluster]") {
    RestartWhileOneIsDown scenario;
    DataCluster& cluster = scenario.cluster();
    constexpr size_t kDead = RestartWhileOneIsDown::kDead;
    constexpr size_t kRestarted = RestartWhileOneIsDown::kRestarted;
    const membership::Member* learned =
            cluster.node(kRestarted)
                    .swim()
                    .find(membership::MemberId{.high = 0x5348, .low = kDead + 1});
    REQUIRE(learned != nullptr);
    CHECK(learned->identity.address.host == cluster.address(kDead).host);
    REQUIRE(cluster.node(kRestarted).layout()->table().nodes().size() == 7);
    CHECK(cluster.node(kRestarted).layout()->table().fingerprint() ==
          cluster.node(0).layout()->table().fingerprint());
    // Its suspicion of n7 runs out unrefuted.
    REQUIRE(cluster.run_until(std::chrono::seconds(30),
                              [&] { return dead_everywhere(cluster, kDead); }));

    // A key n7 owns: five of its six owners are up, a write quorum.
    std::string key;
    for (size_t index = 0; index < 1000 && key.empty(); index++) {
        const std::string candidate = fmt::format("k/{}", index);
        for (const coordinator::NodeKey& owner :
             cluster.node(0).layout()->manifest_owners(candidate)) {
            if (owner.low == kDead + 1) key = candidate;
        }
    }
    REQUIRE(!key.empty());
    const Buffer object = filled(1000, 3);
    Result<wire::PutReply> put = cluster.put(kRestarted, key, object.view());
    CAPTURE(put.is_ok() ? std::string("ok") : put.status().to_string());
    REQUIRE(put.is_ok());
    size_t holding = 0;
    for (const coordinator::NodeKey& owner : cluster.node(0).layout()->manifest_owners(key)) {
        if (owner.low == kDead + 1) continue;
        Result<std::optional<object::Manifest>> held = cluster.manifest_held(owner.low - 1, key);
        REQUIRE(held.is_ok());
        if (held.value().has_value() && held.value()->version == put.value().info.version) {
            holding += 1;
        }
    }
    CHECK(holding == 5);
    cluster.restart(kDead);
    REQUIRE(cluster.run_until(std::chrono::seconds(60), [&] { return cluster.all_alive(); }));
    for (size_t through = 0; through < cluster.size(); through++) {
        Result<ObjectRead> read = cluster.get(through, key);
        CAPTURE(through, read.is_ok() ? std::string("read") : read.status().to_string());
        REQUIRE(read.is_ok());
        CHECK(equal_bytes(read.value().data.view(), object.view()));
    }
}

// The first of keys k/0, k/1, ... whose stripe 0 has `dead` among its owners and `fallback`
// as the node its chunk goes to instead.
std::string key_handed_to(const DataCluster& cluster, size_t dead, size_t fallback) {
    const coordinator::Layout& layout = *cluster.node(0).layout();
    const size_t owners = layout.table().owners_per_partition();
    for (size_t index = 0; index < 1000; index++) {
        std::string key = fmt::format("k/{}", index);
        const std::vector<coordinator::NodeKey> ranked = layout.stripe_candidates(key, 0);
        if (ranked.size() <= owners || ranked[owners].low != fallback + 1) continue;
        for (size_t position = 0; position < owners; position++) {
            if (ranked[position].low == dead + 1) return key;
        }
    }
    FAIL("no such key");
    return "";
}

// The restarted node is the fallback for a chunk of n7's: it hands the chunk to n7 once n7 is
// back, and with two other owners down four of the six chunks are still found.
TEST_CASE("sim: a fallback restarted while the owner is down hands the chunk to that owner",
          "[sim][cluster]") {
    RestartWhileOneIsDown scenario;
    DataCluster& cluster = scenario.cluster();
    constexpr size_t kDead = RestartWhileOneIsDown::kDead;
    constexpr size_t kFallback = RestartWhileOneIsDown::kRestarted;
    REQUIRE(cluster.node(kFallback).layout()->table().fingerprint() ==
            cluster.node(0).layout()->table().fingerprint());
    const std::string key = key_handed_to(cluster, kDead, kFallback);
    CAPTURE(key);

    const Buffer object = filled(60'000, 4);  // One stripe of four 15 KB data chunks.
    REQUIRE(cluster.put(/*through=*/0, key, object.view()).is_ok());
    cluster.run_for(std::chrono::seconds(3));
    // Its owner is down: nothing is due to go anywhere yet.
    CHECK(cluster.node(kFallback).hand_back().stats().handed_back == 0);
    cluster.restart(kDead);
    REQUIRE(cluster.run_until(std::chrono::seconds(60), [&] { return cluster.all_alive(); }));
    REQUIRE(cluster.run_until(std::chrono::seconds(30), [&] {
        return cluster.node(kFallback).hand_back().stats().handed_back == 1;
    }));

    // Two owners down, neither n7 nor the reader n1: four chunks are left.
    const std::vector<coordinator::NodeKey> owners =
            cluster.node(0).layout()->stripe_candidates(key, 0);
    size_t crashed = 0;
    for (size_t position = 0; position < 6 && crashed < 2; position++) {
        const size_t index = owners[position].low - 1;
        if (index == 0 || index == kDead) continue;
        cluster.crash(index);
        crashed += 1;
    }
    Result<ObjectRead> read = cluster.get(/*through=*/0, key);
    CAPTURE(read.is_ok() ? std::string("read") : read.status().to_string());
    REQUIRE(read.is_ok());
    CHECK(equal_bytes(read.value().data.view(), object.view()));
}

}  // namespace
}  // namespace shoal::sim

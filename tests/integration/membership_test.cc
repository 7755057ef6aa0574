// Goal: real shoald processes form one cluster by joining through one node, see a SIGKILLed
// member dead within the configured bound, see it alive again at a higher incarnation after a
// restart, and see a gracefully stopped member as "left" (issue #4's process tests).
//
// Method: nodes on 127.0.0.2x with OS-chosen ports (TCP and UDP share each), memory mode.
// Each node's view is read with the real CLI (`shoal --json status`), polled with a deadline;
// detection times are measured from the SIGKILL to the first poll that shows the member dead,
// and printed. The eight-node test passes faster SWIM timings in a config file, so the whole
// scenario fits a few seconds; a four-node test keeps the shipped LAN defaults.
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support.h"
#include <sys/wait.h>

namespace shoal::integration {
namespace {

using std::chrono::steady_clock;

struct MemberView {
    std::string id;
    std::string state;
    uint64_t incarnation = 0;
};

// The value of `"key":` in `object`: a quoted string's contents or a number's digits; empty
// if absent. Enough for the CLI's own JSON, whose strings here hold no quotes or escapes.
std::string json_field(std::string_view object, std::string_view key) {
    const std::string marker = fmt::format("\"{}\":", key);
    const size_t at = object.find(marker);
    if (at == std::string_view::npos) return {};
    std::string_view value = object.substr(at + marker.size());
    if (value.starts_with('"')) {
        value.remove_prefix(1);
        return std::string(value.substr(0, value.find('"')));
    }
    return std::string(value.substr(0, value.find_first_not_of("0123456789")));
}

// name -> member, from `shoal --json status`; empty if the output does not parse. (No
// std::regex: GCC 12's reports maybe-uninitialized inside it under the dev preset.)
std::map<std::string, MemberView> parse_status(const std::string& json) {
    std::map<std::string, MemberView> members;
    constexpr std::string_view kOpen = "{\"id\":";
    for (size_t at = json.find(kOpen); at != std::string::npos; at = json.find(kOpen, at + 1)) {
        const std::string_view object = std::string_view(json).substr(at, json.find('}', at) - at);
        const std::string incarnation = json_field(object, "incarnation");
        if (incarnation.empty()) return {};
        members[json_field(object, "name")] = MemberView{.id = json_field(object, "id"),
                                                         .state = json_field(object, "state"),
                                                         .incarnation = std::stoull(incarnation)};
    }
    return members;
}

// Timings for a fast run: a probe every 200 ms, suspicion from 400 ms.
constexpr int64_t kFastProbeIntervalMs = 200;
constexpr int64_t kFastProbeTimeoutMs = 100;
constexpr int64_t kFastSuspicionMinMs = 400;
constexpr int64_t kSuspicionMaxMult = 4;  // The core's default.

std::string fast_config(const TempDir& directory) {
    const std::string path = directory.file("fast.toml");
    std::ofstream file(path);
    file << fmt::format(
            "[membership]\n"
            "probe_interval_ms = {}\nprobe_timeout_ms = {}\nsuspicion_min_ms = {}\n"
            "gossip_interval_ms = 50\npush_pull_interval_ms = 3000\njoin_retry_interval_ms = 200\n"
            "leave_timeout_ms = 2000\n",
            kFastProbeIntervalMs,
            kFastProbeTimeoutMs,
            kFastSuspicionMinMs);
    return path;
}

// The bound a SIGKILLed member must be seen dead within: a whole probe round (every other
// member probes it once), the probe's timeout, the longest suspicion (no confirmations, at
// N <= 10, so log10(N) <= 1), and a second for the news to spread and the CLI to poll.
milliseconds detection_bound(size_t members,
                             int64_t interval_ms,
                             int64_t timeout_ms,
                             int64_t suspicion_min_ms) {
    return milliseconds(static_cast<int64_t>(members - 1) * interval_ms + timeout_ms +
                        kSuspicionMaxMult * suspicion_min_ms + 1000);
}

class Cluster {
public:
    Cluster(size_t count, std::vector<std::string> flags) : flags_(std::move(flags)) {
        for (size_t index = 0; index < count; index++) {
            directories_.push_back(std::make_unique<TempDir>());
            nodes_.emplace_back();
            addresses_.push_back(fmt::format("127.0.0.{}:0", 20 + index));
        }
    }

    const TempDir& directory(size_t index) const { return *directories_[index]; }

    // Starts node `index`, joining node `seed`'s address if another node is given.
    void start(size_t index, std::optional<size_t> seed) {
        std::vector<std::string> flags = flags_;
        if (seed.has_value()) flags.insert(flags.end(), {"--join", nodes_[*seed]->address()});
        nodes_[index] = std::make_unique<NodeProcess>(
                *directories_[index],
                flags,
                NodeSpec{.name = name(index), .listen = addresses_[index]});
        // A restart reuses the port, so the member keeps its address.
        addresses_[index] = nodes_[index]->address();
    }

    NodeProcess& node(size_t index) { return *nodes_[index]; }
    bool running(size_t index) const { return nodes_[index] != nullptr; }
    void forget(size_t index) { nodes_[index].reset(); }
    static std::string name(size_t index) { return fmt::format("node{}", index + 1); }
    size_t size() const { return nodes_.size(); }

    std::map<std::string, MemberView> view(size_t index) {
        const RunResult result = nodes_[index]->cli({"--json", "--timeout", "2", "status"});
        if (result.exit_code != 0) return {};
        return parse_status(result.out);
    }

    size_t alive_count(size_t index) {
        size_t alive = 0;
        for (const auto& [name, member] : view(index))
            alive += member.state == "alive" ? size_t{1} : size_t{0};
        return alive;
    }

    // Every running node lists `count` alive members, within `timeout`.
    bool converged(size_t count, milliseconds timeout) {
        return poll_for(timeout, [&] {
            for (size_t index = 0; index < size(); index++) {
                if (running(index) && alive_count(index) != count) return false;
            }
            return true;
        });
    }

    // Polls every running node until each shows `subject` in `state` (and, if given, at an
    // incarnation above `above`); returns how long each took, or nullopt at the deadline.
    std::optional<std::vector<milliseconds>> wait_state(size_t subject,
                                                        const std::string& state,
                                                        milliseconds timeout,
                                                        std::optional<uint64_t> above = {}) {
        const auto start = steady_clock::now();
        std::map<size_t, milliseconds> seen;
        poll_for(timeout, [&] {
            for (size_t index = 0; index < size(); index++) {
                if (index == subject || !running(index) || seen.contains(index)) continue;
                const auto members = view(index);
                const auto found = members.find(name(subject));
                if (found == members.end() || found->second.state != state) continue;
                if (above.has_value() && found->second.incarnation <= *above) continue;
                seen[index] = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
            }
            size_t expected = 0;
            for (size_t index = 0; index < size(); index++) {
                expected += (index != subject && running(index)) ? size_t{1} : size_t{0};
            }
            return seen.size() == expected;
        });
        std::vector<milliseconds> times;
        for (size_t index = 0; index < size(); index++) {
            if (index == subject || !running(index)) continue;
            if (!seen.contains(index)) return std::nullopt;
            times.push_back(seen[index]);
        }
        return times;
    }

private:
    std::vector<std::string> flags_;
    std::vector<std::unique_ptr<TempDir>> directories_;
    std::vector<std::unique_ptr<NodeProcess>> nodes_;
    std::vector<std::string> addresses_;
};

milliseconds slowest(const std::vector<milliseconds>& times) {
    milliseconds slowest{0};
    for (milliseconds time : times)
        slowest = std::max(slowest, time);
    return slowest;
}

// SIGKILLs node `index` and reaps it.
void kill_node(Cluster& cluster, size_t index) {
    const pid_t pid = cluster.node(index).pid();
    REQUIRE(kill(pid, SIGKILL) == 0);
    REQUIRE(cluster.node(index).wait(milliseconds(5'000)).has_value());
    cluster.forget(index);
}

void start_all(Cluster& cluster) {
    cluster.start(0, std::nullopt);
    for (size_t index = 1; index < cluster.size(); index++)
        cluster.start(index, 0);
}

TEST_CASE("integration: eight nodes converge and see a SIGKILL and a restart and a leave",
          "[integration][membership]") {
    constexpr size_t kNodes = 8;
    TempDir config_directory;
    Cluster cluster(kNodes, {"--config", fast_config(config_directory)});
    start_all(cluster);
    REQUIRE(cluster.converged(kNodes, milliseconds(20'000)));

    // The node id is persisted: it is in the data directory and in every view.
    const std::string id_file = read_file(cluster.directory(7).file("data/node.id"));
    const auto before = cluster.view(0);
    REQUIRE(before.at("node8").id + "\n" == id_file);
    const uint64_t incarnation_before = before.at("node8").incarnation;

    kill_node(cluster, 7);
    const milliseconds bound =
            detection_bound(kNodes, kFastProbeIntervalMs, kFastProbeTimeoutMs, kFastSuspicionMinMs);
    const auto dead = cluster.wait_state(7, "dead", bound);
    REQUIRE(dead.has_value());
    WARN(
            fmt::format("fast timings, N=8: SIGKILLed node seen dead by all 7 within {} ms "
                        "(bound {} ms)",
                        slowest(*dead).count(),
                        bound.count()));

    // Restarted over the same data: the same id, alive again at a higher incarnation.
    cluster.start(7, 0);
    const auto alive = cluster.wait_state(7, "alive", milliseconds(10'000), incarnation_before);
    REQUIRE(alive.has_value());
    REQUIRE(cluster.view(0).at("node8").id + "\n" == id_file);
    REQUIRE(cluster.converged(kNodes, milliseconds(10'000)));

    // A graceful leave: SIGTERM, a clean exit, and "left" everywhere, with no suspicion.
    REQUIRE(kill(cluster.node(6).pid(), SIGTERM) == 0);
    const std::optional<int> exit_code = cluster.node(6).wait(milliseconds(10'000));
    REQUIRE(exit_code == 0);
    const std::string leaver_log = cluster.node(6).log();
    INFO(leaver_log);
    REQUIRE(leaver_log.find("leave_finished gossiped=true") != std::string::npos);
    cluster.forget(6);
    const auto left = cluster.wait_state(6, "left", milliseconds(2'000));
    REQUIRE(left.has_value());
    WARN(fmt::format("graceful leave seen as left by all 7 within {} ms", slowest(*left).count()));
    REQUIRE(cluster.node(0).log().find("member_suspect member=node7") == std::string::npos);
}

TEST_CASE("integration: with the default timings a SIGKILLed node is seen dead in time",
          "[integration][membership]") {
    constexpr size_t kNodes = 4;
    Cluster cluster(kNodes, {});
    start_all(cluster);
    REQUIRE(cluster.converged(kNodes, milliseconds(20'000)));
    kill_node(cluster, 3);
    // The core's LAN defaults: a probe a second, 500 ms probe timeout, suspicion from 1.5 s.
    const milliseconds bound = detection_bound(kNodes, 1000, 500, 1500);
    const auto dead = cluster.wait_state(3, "dead", bound);
    REQUIRE(dead.has_value());
    WARN(
            fmt::format("default timings, N=4: SIGKILLed node seen dead by all 3 within {} ms "
                        "(bound {} ms)",
                        slowest(*dead).count(),
                        bound.count()));
}

}  // namespace
}  // namespace shoal::integration

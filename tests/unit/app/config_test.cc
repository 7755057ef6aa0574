// Goal: a shoald config fails fast with a message that names the field at fault, and flags
// override the file.
//
// Method: parse TOML text in memory with parse_config(): the shipped single-node config, good
// and bad values, unknown keys, and overrides.
#include "app/config.h"

#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

namespace shoal::app {
namespace {

std::string shipped_config() {
    std::ifstream file(SHOAL_SOURCE_DIR "/configs/single.toml");
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

std::string error_of(std::string_view text, const ConfigOverrides& overrides = {}) {
    Result<Config> config = parse_config(text, "test.toml", overrides);
    REQUIRE_FALSE(config.is_ok());
    return config.status().message();
}

TEST_CASE("config: the shipped single-node config parses to the defaults", "[unit][config]") {
    Result<Config> config = parse_config(shipped_config(), "single.toml", {});
    INFO(config.status().message());
    REQUIRE(config.is_ok());
    const Config defaults;
    REQUIRE(config.value().listen.port == defaults.listen.port);
    REQUIRE(config.value().memory_bytes == defaults.memory_bytes);
    REQUIRE(config.value().storage_mode == defaults.storage_mode);
    REQUIRE(config.value().fsync == defaults.fsync);
    REQUIRE(config.value().cache_bytes == defaults.cache_bytes);
    REQUIRE(config.value().cache_record_bytes_max == defaults.cache_record_bytes_max);
    REQUIRE(config.value().node_options(NodeId{1}).disk.cache_record_bytes_max ==
            storage::DiskStore::Options{}.cache_record_bytes_max);
    REQUIRE(config.value().segment_bytes == defaults.segment_bytes);
    REQUIRE(config.value().disk_reserve_bytes == defaults.disk_reserve_bytes);
    REQUIRE(config.value().compaction_garbage_percent == defaults.compaction_garbage_percent);
    REQUIRE(config.value().node_options(NodeId{1}).disk.compaction_garbage_percent == 50);
    REQUIRE(config.value().checkpoint_interval_bytes == defaults.checkpoint_interval_bytes);
    REQUIRE(config.value().node_options(NodeId{1}).disk.checkpoint_interval_bytes == uint64_t{256}
                                                                                             << 20);
    REQUIRE(config.value().shutdown_grace_ms == 5000);
    // Every membership setting shown is the core's default.
    const membership::Swim::Options& swim = config.value().swim;
    REQUIRE(swim.probe_interval == defaults.swim.probe_interval);
    REQUIRE(swim.probe_timeout == defaults.swim.probe_timeout);
    REQUIRE(swim.gossip_interval == defaults.swim.gossip_interval);
    REQUIRE(swim.gossip_to_dead == defaults.swim.gossip_to_dead);
    REQUIRE(swim.suspicion_min == defaults.swim.suspicion_min);
    REQUIRE(swim.suspicion_max_mult == defaults.swim.suspicion_max_mult);
    REQUIRE(swim.suspect_checks == defaults.swim.suspect_checks);
    REQUIRE(swim.loop_lag_threshold == defaults.swim.loop_lag_threshold);
    REQUIRE(swim.push_pull_interval == defaults.swim.push_pull_interval);
    REQUIRE(swim.join_retry_interval == defaults.swim.join_retry_interval);
    REQUIRE(swim.departure_grace == defaults.swim.departure_grace);
    REQUIRE(swim.forget_after == defaults.swim.forget_after);
    REQUIRE(swim.datagram_bytes_max == defaults.swim.datagram_bytes_max);
    REQUIRE(swim.cluster_name == defaults.swim.cluster_name);
    REQUIRE(config.value().leave_timeout_ms == defaults.leave_timeout_ms);
    REQUIRE(config.value().zone == defaults.zone);
    REQUIRE(config.value().join.empty());
    REQUIRE(config.value().repair_settle_ms == defaults.repair_settle_ms);
    REQUIRE(config.value().repair_pass_interval_ms == defaults.repair_pass_interval_ms);
    REQUIRE(config.value().node_options(NodeId{1}).scrub.settle_ticks ==
            repair::Scrubber::Options{}.settle_ticks);
    REQUIRE(config.value().node_options(NodeId{1}).scrub.pass_interval_ticks ==
            repair::Scrubber::Options{}.pass_interval_ticks);
    REQUIRE(config.value().node_options(NodeId{1}).scrub.read_bytes_per_tick ==
            repair::Scrubber::Options{}.read_bytes_per_tick);
}

TEST_CASE("config: repair settings reach the node, and bad ones are named", "[unit][config]") {
    Result<Config> config = parse_config(
            "[repair]\nsettle_ms = 250\npass_interval_ms = 60000\n"
            "read_bytes_per_second = \"1MiB\"\n",
            "test.toml",
            {});
    INFO(config.status().message());
    REQUIRE(config.is_ok());
    const node::Node::Options options = config.value().node_options(NodeId{1});
    CHECK(options.scrub.settle_ticks == 25);
    CHECK(options.scrub.pass_interval_ticks == 6000);
    CHECK(options.scrub.read_bytes_per_tick == (1 << 20) / 100);
    CHECK(error_of("[repair]\nsettle_ms = 5\n").find("repair.settle_ms must be at least 10") !=
          std::string::npos);
    CHECK(error_of("[repair]\npass_interval_ms = 0\n").find("repair.pass_interval_ms") !=
          std::string::npos);
    CHECK(error_of("[repair]\nread_bytes_per_second = 10\n").find("at least 1KiB") !=
          std::string::npos);
    CHECK(error_of("[repair]\nevery = 1\n").find("repair.every: unknown setting") !=
          std::string::npos);
}

TEST_CASE("config: the shipped local 3-node configs parse", "[unit][config]") {
    for (int index = 1; index <= 3; index++) {
        const std::string path = std::string(SHOAL_SOURCE_DIR) + "/configs/local-3/node" +
                                 std::to_string(index) + ".toml";
        Result<Config> config = load_config(path, {});
        INFO(path << ": " << config.status().message());
        REQUIRE(config.is_ok());
        REQUIRE(config.value().name == "node" + std::to_string(index));
        REQUIRE(config.value().join.size() == (index == 1 ? 0 : 1));
    }
}

TEST_CASE("config: sizes take units and flags override the file", "[unit][config]") {
    Result<Config> config =
            parse_config("[storage]\nmemory_bytes = \"64MiB\"\n[node]\nname = \"a\"\n",
                         "test.toml",
                         {.name = "b", .listen = "127.0.0.1:0"});
    REQUIRE(config.is_ok());
    REQUIRE(config.value().memory_bytes == 64 * 1024 * 1024);
    REQUIRE(config.value().name == "b");
    REQUIRE(config.value().listen.port == 0);
    REQUIRE(parse_config("[storage]\nmemory_bytes = 1048576\n", "t", {}).value().memory_bytes ==
            1048576);
    REQUIRE(parse_config("[storage]\ncheckpoint_interval_bytes = 0\n", "t", {})
                    .value()
                    .node_options(NodeId{1})
                    .disk.checkpoint_interval_bytes == 0);
}

TEST_CASE("config: the disk reserve is a size or a share of the file system", "[unit][config]") {
    Result<Config> share = parse_config("[storage]\ndisk_reserve_bytes = \"5%\"\n", "t", {});
    REQUIRE(share.is_ok());
    REQUIRE(share.value().disk_reserve_percent == 5);
    REQUIRE(share.value().node_options(NodeId{1}).disk.reserve_percent == 5);
    Result<Config> size = parse_config("[storage]\ndisk_reserve_bytes = \"1GiB\"\n", "t", {});
    REQUIRE(size.is_ok());
    REQUIRE(size.value().node_options(NodeId{1}).disk.reserve_bytes == uint64_t{1} << 30);
}

TEST_CASE("config: the cache's record limit reaches the disk store", "[unit][config]") {
    Result<Config> config =
            parse_config("[storage]\ncache_record_bytes_max = \"64KiB\"\n", "test.toml", {});
    INFO(config.status().message());
    REQUIRE(config.is_ok());
    REQUIRE(config.value().node_options(NodeId{1}).disk.cache_record_bytes_max == 64 * 1024);
}

TEST_CASE("config: a bad config names what is wrong", "[unit][config]") {
    REQUIRE(error_of("[node]\nlisten = \"nowhere\"\n").find("node.listen") != std::string::npos);
    REQUIRE(error_of("[node]\nlistne = \"x\"\n").find("node.listne: unknown setting") !=
            std::string::npos);
    REQUIRE(error_of("[nodes]\n").find("unknown section") != std::string::npos);
    REQUIRE(error_of("[storage]\nmemory_bytes = \"12 parsecs\"\n").find("storage.memory_bytes") !=
            std::string::npos);
    REQUIRE(error_of("[storage]\nmemory_bytes = -5\n").find("negative") != std::string::npos);
    REQUIRE(error_of("[storage]\nmode = \"tape\"\n").find("storage.mode") != std::string::npos);
    REQUIRE(error_of("[storage]\nfsync = \"sometimes\"\n").find("storage.fsync") !=
            std::string::npos);
    REQUIRE(error_of("[storage]\nsegment_bytes = \"1KiB\"\n").find("storage.segment_bytes") !=
            std::string::npos);
    REQUIRE(error_of("[storage]\nsegment_bytes = 1000000\n").find("not a multiple of 4096 bytes") !=
            std::string::npos);
    REQUIRE(error_of("[log]\nlevel = \"loud\"\n").find("log.level") != std::string::npos);
    REQUIRE(error_of("[storage]\ndisk_reserve_bytes = \"80%\"\n").find("1% to 50%") !=
            std::string::npos);
    REQUIRE(error_of("[storage]\ncompaction_garbage_percent = 99\n")
                    .find("storage.compaction_garbage_percent") != std::string::npos);
    REQUIRE(error_of("[node]\nname = 7\n").find("node.name: must be a string") !=
            std::string::npos);
    REQUIRE(error_of("[node\n").find("test.toml: line 1") != std::string::npos);
    REQUIRE(error_of("", {.memory_bytes = "1"}).find("too small") != std::string::npos);
}

TEST_CASE("config: membership settings and their flags", "[unit][config]") {
    const Config defaults;
    REQUIRE(defaults.join.empty());
    REQUIRE(defaults.zone == "default");
    REQUIRE(defaults.weight == 1);
    REQUIRE(defaults.swim.probe_interval == std::chrono::seconds(1));
    REQUIRE(defaults.advertise_address(0).to_string() == "127.0.0.1:7400");

    Result<Config> config = parse_config(
            "[node]\nlisten = \"0.0.0.0:7401\"\nadvertise = \"10.1.2.3:7401\"\nzone = \"rack-a\"\n"
            "weight = 3\n[membership]\njoin = [\"10.1.2.4:7400\", \"seed.example:7400\"]\n"
            "probe_interval_ms = 200\nprobe_timeout_ms = 100\nlocal_health = false\n"
            "cluster_name = \"lab\"\nleave_timeout_ms = 1500\n",
            "test.toml",
            {});
    INFO(config.status().message());
    REQUIRE(config.is_ok());
    const node::Node::Options options = config.value().node_options(NodeId{1});
    REQUIRE(options.identity.address.to_string() == "10.1.2.3:7401");
    REQUIRE(options.identity.zone == "rack-a");
    REQUIRE(options.identity.capacity_weight == 3);
    REQUIRE(options.join.size() == 2);
    REQUIRE(options.join[1].host == "seed.example");
    REQUIRE(options.swim.probe_interval == std::chrono::milliseconds(200));
    REQUIRE(options.swim.probe_timeout == std::chrono::milliseconds(100));
    REQUIRE_FALSE(options.swim.local_health);
    REQUIRE(options.swim.cluster_name == "lab");
    REQUIRE(options.leave_timeout_ticks == 150);

    // Flags replace the file's join list and identity fields.
    Result<Config> flagged = parse_config("[membership]\njoin = [\"10.1.2.4:7400\"]\n",
                                          "test.toml",
                                          {.advertise = "127.0.0.9:7400",
                                           .zone = "z",
                                           .weight = 2,
                                           .join = {"127.0.0.11:7400", "127.0.0.12:7400"}});
    REQUIRE(flagged.is_ok());
    REQUIRE(flagged.value().join.size() == 2);
    REQUIRE(flagged.value().join[0].to_string() == "127.0.0.11:7400");
    REQUIRE(flagged.value().advertise_address(0).to_string() == "127.0.0.9:7400");
    REQUIRE(flagged.value().zone == "z");
    REQUIRE(flagged.value().weight == 2);

    // A port 0 advertises the port bound.
    Result<Config> any_port = parse_config("[node]\nlisten = \"127.0.0.5:0\"\n", "t", {});
    REQUIRE(any_port.is_ok());
    REQUIRE(any_port.value().advertise_address(7777).to_string() == "127.0.0.5:7777");
}

TEST_CASE("config: bad membership settings name what is wrong", "[unit][config]") {
    REQUIRE(error_of("[node]\nlisten = \"0.0.0.0:7400\"\n").find("node.advertise") !=
            std::string::npos);
    REQUIRE(error_of("[node]\nlisten = \"[::]:7400\"\n").find("wildcard") != std::string::npos);
    REQUIRE(error_of("[node]\nadvertise = \"0.0.0.0:7400\"\n").find("not a wildcard") !=
            std::string::npos);
    REQUIRE(error_of("[node]\nadvertise = \"nowhere\"\n").find("node.advertise") !=
            std::string::npos);
    REQUIRE(error_of("[node]\nweight = 0\n").find("node.weight") != std::string::npos);
    REQUIRE(error_of("[membership]\njoin = \"10.0.0.1:7400\"\n").find("membership.join") !=
            std::string::npos);
    REQUIRE(error_of("[membership]\njoin = [\"10.0.0.1\"]\n").find("membership.join") !=
            std::string::npos);
    REQUIRE(error_of("[membership]\nprobe_interval_ms = -1\n")
                    .find("membership.probe_interval_ms") != std::string::npos);
    REQUIRE(error_of("[membership]\nprobe_interval_ms = 100\nprobe_timeout_ms = 500\n")
                    .find("probe_interval must be longer than probe_timeout") != std::string::npos);
    REQUIRE(error_of("[membership]\nlocal_health = 1\n").find("true or false") !=
            std::string::npos);
    REQUIRE(error_of("[membership]\nprobe_intervall_ms = 1\n").find("unknown setting") !=
            std::string::npos);
    REQUIRE(error_of("", {.join = {"nowhere"}}).find("--join") != std::string::npos);
    REQUIRE(error_of("", {.advertise = "::"}).find("--advertise") != std::string::npos);
}

}  // namespace
}  // namespace shoal::app

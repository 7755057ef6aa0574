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
    REQUIRE(config.value().segment_bytes == defaults.segment_bytes);
    REQUIRE(config.value().disk_reserve_bytes == defaults.disk_reserve_bytes);
    REQUIRE(config.value().compaction_garbage_percent == defaults.compaction_garbage_percent);
    REQUIRE(config.value().node_options(NodeId{1}).disk.compaction_garbage_percent == 50);
    REQUIRE(config.value().checkpoint_interval_bytes == defaults.checkpoint_interval_bytes);
    REQUIRE(config.value().node_options(NodeId{1}).disk.checkpoint_interval_bytes == uint64_t{256}
                                                                                             << 20);
    REQUIRE(config.value().shutdown_grace_ms == 5000);
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

}  // namespace
}  // namespace shoal::app

// Config: shoald's settings from a TOML file and command-line flags, as Options.
//
// Every field has a documented default (configs/single.toml lists them all). Flags override
// the file. validate() runs before anything starts, so a bad config fails fast with a message
// that names the field.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "shoal/base/address.h"
#include "shoal/base/status.h"
#include "shoal/coordinator/cluster_options.h"
#include "shoal/node/node.h"

namespace shoal::app {

struct Config {
    std::string name = "shoal";                          // node.name: in every log line.
    HostPort listen{.host = "127.0.0.1", .port = 7400};  // node.listen
    std::string data_directory = "./shoal-data";         // node.data: the disk store's home.
    std::string storage_mode = "disk";                   // storage.mode: "disk" or "memory".
    uint64_t memory_bytes = uint64_t{1} << 30;           // storage.memory_bytes: 1 GiB.
    std::string fsync = "always";                        // storage.fsync (disk mode).
    uint64_t cache_bytes = uint64_t{256} << 20;          // storage.cache_bytes: 256 MiB.
    // storage.cache_record_bytes_max: records with more data are left to the page cache.
    uint64_t cache_record_bytes_max = uint64_t{128} << 10;
    uint64_t segment_bytes = uint64_t{64} << 20;        // storage.segment_bytes: 64 MiB.
    uint64_t disk_reserve_bytes = uint64_t{256} << 20;  // storage.disk_reserve_bytes, or
    uint32_t disk_reserve_percent = 0;                  // as a share: "5%".
    uint32_t compaction_garbage_percent = 50;  // storage.compaction_garbage_percent; 0: never.
    // storage.checkpoint_interval_bytes: log growth between index checkpoints; 0: never.
    uint64_t checkpoint_interval_bytes = uint64_t{256} << 20;
    std::string log_level = "info";     // log.level: trace..error.
    std::string log_file;               // log.file: empty for stderr.
    uint32_t shutdown_grace_ms = 5000;  // node.shutdown_grace_ms

    // Membership. node.advertise: where peers reach this node (TCP and UDP); unset, the listen
    // address, which must then not be a wildcard. Port 0 in either means the port bound.
    std::optional<HostPort> advertise;
    std::string zone = "default";      // node.zone
    uint32_t weight = 1;               // node.weight: capacity weight for placement, 1..65535.
    std::vector<HostPort> join;        // membership.join: any live members; empty forms a cluster.
    uint32_t leave_timeout_ms = 3000;  // membership.leave_timeout_ms
    membership::Swim::Options swim;    // membership.*: the core's LAN defaults.

    // The cluster data path. cluster.redundancy: "ec:K+M" or "replicas:N" (default ec:4+2, so
    // puts need at least 5 nodes; a node alone needs "replicas:1").
    std::string redundancy = "ec:4+2";
    uint32_t partitions = 1024;                 // cluster.partitions: fixed at cluster creation.
    uint64_t stripe_bytes = uint64_t{4} << 20;  // cluster.stripe_bytes
    uint32_t inline_bytes = 4096;               // cluster.inline_bytes: smaller objects inline.
    uint32_t peer_timeout_ms = 5000;            // cluster.peer_timeout_ms

    // Repair (docs/repair.md): a pass repair.settle_ms after something that may have cost
    // copies, and repair.pass_interval_ms after the last one otherwise.
    uint32_t repair_settle_ms = 5000;
    uint32_t repair_pass_interval_ms = 3'600'000;
    // repair.read_bytes_per_second: how fast a pass reads chunks, on average.
    uint64_t repair_read_bytes_per_second = uint64_t{64} << 20;

    Status validate() const;
    // The node's options, its identity's id left to the caller (app/node_identity.h) and its
    // address as advertise_address(0).
    node::Node::Options node_options(NodeId id) const;
    // The [cluster] settings as the node takes them. REQUIRES: validate() holds.
    coordinator::ClusterOptions cluster_options() const;
    // The advertise address, with `bound_port` for a port 0 (0 if not yet bound).
    HostPort advertise_address(uint16_t bound_port) const;
};

// Flags given on the command line; each one set overrides the file.
struct ConfigOverrides {
    std::optional<std::string> name;
    std::optional<std::string> listen;
    std::optional<std::string> data_directory;
    std::optional<std::string> storage_mode;
    std::optional<std::string> memory_bytes;
    std::optional<std::string> log_level;
    std::optional<std::string> log_file;
    std::optional<std::string> advertise;
    std::optional<std::string> zone;
    std::optional<uint32_t> weight;
    std::optional<std::string> redundancy;
    std::vector<std::string> join;  // Repeatable; replaces membership.join when given.
};

// Reads `path` (if not empty), then applies `overrides`. The error names the file, line and
// field at fault.
Result<Config> load_config(const std::string& path, const ConfigOverrides& overrides);

// The same for TOML text already in memory; `path` names it in messages.
Result<Config> parse_config(std::string_view text,
                            const std::string& path,
                            const ConfigOverrides& overrides);

}  // namespace shoal::app

#include "app/config.h"

// Header-only, so that it can be built without exceptions: the Debian library has them on.
#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/common.h>
#include <toml++/toml.h>

#include "shoal/base/units.h"

namespace shoal::app {
namespace {

Status field_error(const toml::node& node, std::string_view field, std::string_view why) {
    const toml::source_position position = node.source().begin;
    return Status::invalid_argument(fmt::format("line {}: {}: {}", position.line, field, why));
}

Status read_string(const toml::table& table, std::string_view field, std::string& target) {
    const toml::node* node = table.at_path(field).node();
    if (node == nullptr) return Status::ok();
    const std::optional<std::string> value = node->value<std::string>();
    if (!value.has_value()) return field_error(*node, field, "must be a string");
    target = *value;
    return Status::ok();
}

// A size may be a number of bytes or a string with a unit ("512MiB").
Status read_bytes(const toml::table& table, std::string_view field, uint64_t& target) {
    const toml::node* node = table.at_path(field).node();
    if (node == nullptr) return Status::ok();
    if (const std::optional<int64_t> number = node->value<int64_t>()) {
        if (*number < 0) return field_error(*node, field, "must not be negative");
        target = static_cast<uint64_t>(*number);
        return Status::ok();
    }
    const std::optional<std::string> text = node->value<std::string>();
    if (!text.has_value()) return field_error(*node, field, "must be a byte size");
    Result<uint64_t> parsed = parse_bytes(*text);
    if (!parsed.is_ok()) return field_error(*node, field, parsed.status().message());
    target = parsed.value();
    return Status::ok();
}

// A byte size, or a share of the file system as "<1..50>%".
Status read_reserve(const toml::table& table, Config& config) {
    constexpr std::string_view kField = "storage.disk_reserve_bytes";
    const toml::node* node = table.at_path(kField).node();
    if (node == nullptr) return Status::ok();
    const std::optional<std::string> text = node->value<std::string>();
    if (text.has_value() && text->ends_with('%')) {
        const std::string_view share{*text};
        const std::optional<uint64_t> percent =
                parse_whole_number(share.substr(0, share.size() - 1));
        if (!percent.has_value() || *percent < 1 || *percent > 50) {
            return field_error(*node, kField, "a percentage must be 1% to 50%");
        }
        config.disk_reserve_percent = static_cast<uint32_t>(*percent);
        config.disk_reserve_bytes = 0;
        return Status::ok();
    }
    config.disk_reserve_percent = 0;
    return read_bytes(table, kField, config.disk_reserve_bytes);
}

Status read_u32(const toml::table& table, std::string_view field, uint32_t& target) {
    const toml::node* node = table.at_path(field).node();
    if (node == nullptr) return Status::ok();
    const std::optional<int64_t> number = node->value<int64_t>();
    if (!number.has_value() || *number < 0 || *number > UINT32_MAX) {
        return field_error(*node, field, "must be a whole number in 0..4294967295");
    }
    target = static_cast<uint32_t>(*number);
    return Status::ok();
}

Status read_bool(const toml::table& table, std::string_view field, bool& target) {
    const toml::node* node = table.at_path(field).node();
    if (node == nullptr) return Status::ok();
    // value<bool>() would take 1 for true: only a TOML boolean is one.
    if (!node->is_boolean()) return field_error(*node, field, "must be true or false");
    target = node->as_boolean()->get();
    return Status::ok();
}

// A duration in whole milliseconds.
Status read_ms(const toml::table& table, std::string_view field, Duration& target) {
    const toml::node* node = table.at_path(field).node();
    if (node == nullptr) return Status::ok();
    const std::optional<int64_t> number = node->value<int64_t>();
    constexpr int64_t kMsMax = int64_t{1} << 40;  // About 35 years.
    if (!number.has_value() || *number < 0 || *number > kMsMax) {
        return field_error(*node, field, "must be a whole number of milliseconds");
    }
    target = std::chrono::milliseconds(*number);
    return Status::ok();
}

Result<HostPort> parse_peer_address(std::string_view text, std::string_view field) {
    Result<HostPort> address = parse_host_port(text);
    if (!address.is_ok()) {
        return Status::invalid_argument(fmt::format("{}: {}", field, address.status().message()));
    }
    return address;
}

Status read_join(const toml::table& table, Config& config) {
    constexpr std::string_view kField = "membership.join";
    const toml::node* node = table.at_path(kField).node();
    if (node == nullptr) return Status::ok();
    const toml::array* array = node->as_array();
    if (array == nullptr) return field_error(*node, kField, "must be a list of \"host:port\"");
    config.join.clear();
    for (const toml::node& element : *array) {
        const std::optional<std::string> text = element.value<std::string>();
        if (!text.has_value()) return field_error(element, kField, "must hold strings");
        Result<HostPort> address = parse_host_port(*text);
        if (!address.is_ok()) return field_error(element, kField, address.status().message());
        config.join.push_back(address.value());
    }
    return Status::ok();
}

Status read_membership_timings(const toml::table& root, membership::Swim::Options& swim) {
    SHOAL_TRY(read_ms(root, "membership.probe_interval_ms", swim.probe_interval));
    SHOAL_TRY(read_ms(root, "membership.probe_timeout_ms", swim.probe_timeout));
    SHOAL_TRY(read_u32(root, "membership.indirect_checks", swim.indirect_checks));
    SHOAL_TRY(read_ms(root, "membership.gossip_interval_ms", swim.gossip_interval));
    SHOAL_TRY(read_u32(root, "membership.gossip_nodes", swim.gossip_nodes));
    SHOAL_TRY(read_u32(root, "membership.retransmit_mult", swim.retransmit_mult));
    SHOAL_TRY(read_ms(root, "membership.gossip_to_dead_ms", swim.gossip_to_dead));
    SHOAL_TRY(read_ms(root, "membership.suspicion_min_ms", swim.suspicion_min));
    SHOAL_TRY(read_u32(root, "membership.suspicion_max_mult", swim.suspicion_max_mult));
    SHOAL_TRY(read_u32(root, "membership.suspicion_confirmations", swim.suspicion_confirmations));
    SHOAL_TRY(read_u32(root, "membership.suspect_checks", swim.suspect_checks));
    SHOAL_TRY(read_bool(root, "membership.local_health", swim.local_health));
    SHOAL_TRY(read_u32(root, "membership.health_max", swim.health_max));
    SHOAL_TRY(read_ms(root, "membership.loop_lag_threshold_ms", swim.loop_lag_threshold));
    SHOAL_TRY(read_ms(root, "membership.push_pull_interval_ms", swim.push_pull_interval));
    SHOAL_TRY(read_ms(root, "membership.join_retry_interval_ms", swim.join_retry_interval));
    SHOAL_TRY(read_ms(root, "membership.departure_grace_ms", swim.departure_grace));
    SHOAL_TRY(read_ms(root, "membership.forget_after_ms", swim.forget_after));
    return read_u32(root, "membership.datagram_bytes_max", swim.datagram_bytes_max);
}

Status read_membership(const toml::table& root, Config& config) {
    std::string advertise_text;
    SHOAL_TRY(read_string(root, "node.advertise", advertise_text));
    if (!advertise_text.empty()) {
        Result<HostPort> advertise = parse_host_port(advertise_text, PortZero::kAllowed);
        if (!advertise.is_ok()) {
            return Status::invalid_argument(
                    fmt::format("node.advertise: {}", advertise.status().message()));
        }
        config.advertise = advertise.value();
    }
    SHOAL_TRY(read_string(root, "node.zone", config.zone));
    SHOAL_TRY(read_u32(root, "node.weight", config.weight));
    SHOAL_TRY(read_join(root, config));
    SHOAL_TRY(read_string(root, "membership.cluster_name", config.swim.cluster_name));
    SHOAL_TRY(read_u32(root, "membership.leave_timeout_ms", config.leave_timeout_ms));
    return read_membership_timings(root, config.swim);
}

// A wildcard listens everywhere but names no one address that peers could use.
bool is_wildcard(const std::string& host) {
    return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

// Unknown keys are errors: a typo must not silently fall back to a default.
Status check_known_keys(const toml::table& root) {
    static const std::map<std::string, std::vector<std::string>, std::less<>> known_keys{
            {"node",
             {"name", "listen", "data", "shutdown_grace_ms", "advertise", "zone", "weight"}},
            {"membership",
             {"join",
              "cluster_name",
              "leave_timeout_ms",
              "probe_interval_ms",
              "probe_timeout_ms",
              "indirect_checks",
              "gossip_interval_ms",
              "gossip_nodes",
              "retransmit_mult",
              "gossip_to_dead_ms",
              "suspicion_min_ms",
              "suspicion_max_mult",
              "suspicion_confirmations",
              "suspect_checks",
              "local_health",
              "health_max",
              "loop_lag_threshold_ms",
              "push_pull_interval_ms",
              "join_retry_interval_ms",
              "departure_grace_ms",
              "forget_after_ms",
              "datagram_bytes_max"}},
            {"storage",
             {"mode",
              "memory_bytes",
              "fsync",
              "cache_bytes",
              "cache_record_bytes_max",
              "segment_bytes",
              "disk_reserve_bytes",
              "compaction_garbage_percent",
              "checkpoint_interval_bytes"}},
            {"log", {"level", "file"}},
            {"cluster",
             {"redundancy", "partitions", "stripe_bytes", "inline_bytes", "peer_timeout_ms"}},
            {"repair", {"settle_ms", "pass_interval_ms", "read_bytes_per_second"}},
    };
    for (const auto& [section, value] : root) {
        auto known = known_keys.find(section.str());
        if (known == known_keys.end() || !value.is_table()) {
            return field_error(value, section.str(), "unknown section");
        }
        for (const auto& [key, field] : *value.as_table()) {
            if (std::find(known->second.begin(), known->second.end(), key.str()) ==
                known->second.end()) {
                return field_error(
                        field, fmt::format("{}.{}", section.str(), key.str()), "unknown setting");
            }
        }
    }
    return Status::ok();
}

Status read_text(std::string_view text, const std::string& path, Config& config) {
    toml::parse_result parsed = toml::parse(text, path);
    if (!parsed) {
        const toml::parse_error& error = parsed.error();
        return Status::invalid_argument(fmt::format(
                "{}: line {}: {}", path, error.source().begin.line, error.description()));
    }
    const toml::table& root = parsed.table();
    std::string listen_text;
    Status status = check_known_keys(root);
    if (status.is_ok()) status = read_string(root, "node.name", config.name);
    if (status.is_ok()) status = read_string(root, "node.listen", listen_text);
    if (status.is_ok()) status = read_string(root, "node.data", config.data_directory);
    if (status.is_ok()) status = read_u32(root, "node.shutdown_grace_ms", config.shutdown_grace_ms);
    if (status.is_ok()) status = read_string(root, "storage.mode", config.storage_mode);
    if (status.is_ok()) status = read_bytes(root, "storage.memory_bytes", config.memory_bytes);
    if (status.is_ok()) status = read_string(root, "storage.fsync", config.fsync);
    if (status.is_ok()) status = read_bytes(root, "storage.cache_bytes", config.cache_bytes);
    if (status.is_ok()) {
        status = read_bytes(root, "storage.cache_record_bytes_max", config.cache_record_bytes_max);
    }
    if (status.is_ok()) status = read_bytes(root, "storage.segment_bytes", config.segment_bytes);
    if (status.is_ok()) status = read_reserve(root, config);
    if (status.is_ok()) {
        status = read_u32(
                root, "storage.compaction_garbage_percent", config.compaction_garbage_percent);
    }
    if (status.is_ok()) {
        status = read_bytes(
                root, "storage.checkpoint_interval_bytes", config.checkpoint_interval_bytes);
    }
    if (status.is_ok()) status = read_string(root, "log.level", config.log_level);
    if (status.is_ok()) status = read_string(root, "log.file", config.log_file);
    if (status.is_ok()) status = read_membership(root, config);
    if (status.is_ok()) status = read_string(root, "cluster.redundancy", config.redundancy);
    if (status.is_ok()) status = read_u32(root, "cluster.partitions", config.partitions);
    if (status.is_ok()) status = read_bytes(root, "cluster.stripe_bytes", config.stripe_bytes);
    if (status.is_ok()) status = read_u32(root, "cluster.inline_bytes", config.inline_bytes);
    if (status.is_ok()) status = read_u32(root, "cluster.peer_timeout_ms", config.peer_timeout_ms);
    if (status.is_ok()) status = read_u32(root, "repair.settle_ms", config.repair_settle_ms);
    if (status.is_ok()) {
        status = read_u32(root, "repair.pass_interval_ms", config.repair_pass_interval_ms);
    }
    if (status.is_ok()) {
        status = read_bytes(
                root, "repair.read_bytes_per_second", config.repair_read_bytes_per_second);
    }
    if (status.is_ok() && !listen_text.empty()) {
        Result<HostPort> listen = parse_host_port(listen_text, PortZero::kAllowed);
        if (!listen.is_ok()) {
            status = Status::invalid_argument(
                    fmt::format("node.listen: {}", listen.status().message()));
        } else {
            config.listen = listen.value();
        }
    }
    if (!status.is_ok()) {
        return Status::invalid_argument(fmt::format("{}: {}", path, status.message()));
    }
    return Status::ok();
}

Status apply_overrides(const ConfigOverrides& overrides, Config& config) {
    if (overrides.name) config.name = *overrides.name;
    if (overrides.data_directory) config.data_directory = *overrides.data_directory;
    if (overrides.storage_mode) config.storage_mode = *overrides.storage_mode;
    if (overrides.log_level) config.log_level = *overrides.log_level;
    if (overrides.log_file) config.log_file = *overrides.log_file;
    if (overrides.listen) {
        SHOAL_TRY_ASSIGN(config.listen, parse_host_port(*overrides.listen, PortZero::kAllowed));
    }
    if (overrides.advertise) {
        Result<HostPort> advertise = parse_host_port(*overrides.advertise, PortZero::kAllowed);
        if (!advertise.is_ok()) {
            return Status::invalid_argument(
                    fmt::format("--advertise: {}", advertise.status().message()));
        }
        config.advertise = advertise.value();
    }
    if (overrides.zone) config.zone = *overrides.zone;
    if (overrides.weight) config.weight = *overrides.weight;
    if (overrides.redundancy) config.redundancy = *overrides.redundancy;
    if (!overrides.join.empty()) {
        config.join.clear();
        for (const std::string& text : overrides.join) {
            SHOAL_TRY_ASSIGN(HostPort seed, parse_peer_address(text, "--join"));
            config.join.push_back(seed);
        }
    }
    if (overrides.memory_bytes) {
        Result<uint64_t> bytes = parse_bytes(*overrides.memory_bytes);
        if (!bytes.is_ok()) {
            return Status::invalid_argument(
                    fmt::format("--memory-bytes: {}", bytes.status().message()));
        }
        config.memory_bytes = bytes.value();
    }
    return Status::ok();
}

}  // namespace

Status Config::validate() const {
    if (name.empty()) return Status::invalid_argument("node.name must not be empty");
    Result<object::Scheme> scheme = coordinator::parse_redundancy(redundancy);
    if (!scheme.is_ok()) {
        return Status::invalid_argument(fmt::format("cluster.{}", scheme.status().message()));
    }
    if (stripe_bytes > UINT32_MAX) {
        return Status::invalid_argument("cluster.stripe_bytes: over 4 GiB");
    }
    SHOAL_TRY(cluster_options().validate());
    if (storage_mode != "memory" && storage_mode != "disk") {
        return Status::invalid_argument(
                fmt::format("storage.mode = \"{}\" is not \"disk\" or \"memory\"", storage_mode));
    }
    SHOAL_TRY(storage::parse_fsync_setting(fsync).status());
    if (spdlog::level::from_str(log_level) == spdlog::level::off && log_level != "off") {
        return Status::invalid_argument(
                fmt::format("log.level = \"{}\" is not one of trace, debug, info, warn, error, off",
                            log_level));
    }
    if (!advertise.has_value() && is_wildcard(listen.host)) {
        return Status::invalid_argument(fmt::format(
                "node.listen = \"{}\" is a wildcard address that peers cannot reach: set "
                "node.advertise (--advertise) to the address they should use",
                listen.to_string()));
    }
    if (advertise.has_value() && is_wildcard(advertise->host)) {
        return Status::invalid_argument(
                fmt::format("node.advertise = \"{}\" must name one address, not a wildcard",
                            advertise->to_string()));
    }
    if (weight < 1 || weight > 65535) {
        return Status::invalid_argument(
                fmt::format("node.weight = {} is outside 1..65535", weight));
    }
    if (leave_timeout_ms < 10) {
        return Status::invalid_argument("membership.leave_timeout_ms must be at least 10");
    }
    if (repair_settle_ms < 10) {
        return Status::invalid_argument("repair.settle_ms must be at least 10");
    }
    if (repair_pass_interval_ms < 10) {
        return Status::invalid_argument("repair.pass_interval_ms must be at least 10");
    }
    if (repair_read_bytes_per_second < 1024) {
        return Status::invalid_argument("repair.read_bytes_per_second must be at least 1KiB");
    }
    node::Node::Options options = node_options(NodeId{1});
    // A port 0 is chosen by the OS at bind time; the bound port is what will be advertised.
    if (options.identity.address.port == 0) options.identity.address.port = 1;
    return options.validate();
}

HostPort Config::advertise_address(uint16_t bound_port) const {
    HostPort address = advertise.value_or(listen);
    if (address.port == 0) address.port = bound_port;
    return address;
}

node::Node::Options Config::node_options(NodeId id) const {
    node::Node::Options options;
    options.name = name;
    options.id = id;
    options.memory.memory_bytes = memory_bytes;
    if (storage_mode == "disk") {
        options.storage_mode = node::StorageMode::kDisk;
        options.disk.directory = data_directory;
        options.disk.cache_bytes = cache_bytes;
        options.disk.cache_record_bytes_max = cache_record_bytes_max;
        options.disk.segment_bytes = segment_bytes;
        options.disk.reserve_bytes = disk_reserve_bytes;
        options.disk.reserve_percent = disk_reserve_percent;
        options.disk.compaction_garbage_percent = compaction_garbage_percent;
        options.disk.checkpoint_interval_bytes = checkpoint_interval_bytes;
        Result<storage::FsyncSetting> setting = storage::parse_fsync_setting(fsync);
        if (setting.is_ok()) options.disk.fsync = setting.value();
        options.disk.tick_ms = static_cast<uint32_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(kTickDuration).count());
    }
    options.shutdown_grace_ticks =
            static_cast<uint32_t>(std::chrono::milliseconds(shutdown_grace_ms) / kTickDuration);
    options.identity.name = name;
    options.identity.address = advertise_address(0);
    options.identity.zone = zone;
    options.identity.capacity_weight = weight;
    options.swim = swim;
    options.join = join;
    options.cluster = cluster_options();
    options.leave_timeout_ticks = std::max<uint32_t>(
            1, static_cast<uint32_t>(std::chrono::milliseconds(leave_timeout_ms) / kTickDuration));
    options.scrub.settle_ticks =
            static_cast<uint32_t>(std::chrono::milliseconds(repair_settle_ms) / kTickDuration);
    options.scrub.pass_interval_ticks = static_cast<uint32_t>(
            std::chrono::milliseconds(repair_pass_interval_ms) / kTickDuration);
    const uint64_t ticks_per_second = std::chrono::seconds(1) / kTickDuration;
    options.scrub.read_bytes_per_tick =
            std::max<uint64_t>(1, repair_read_bytes_per_second / ticks_per_second);
    return options;
}

coordinator::ClusterOptions Config::cluster_options() const {
    coordinator::ClusterOptions options;
    Result<object::Scheme> scheme = coordinator::parse_redundancy(redundancy);
    if (scheme.is_ok()) options.scheme = scheme.value();
    options.partitions = partitions;
    options.stripe_bytes = static_cast<uint32_t>(std::min<uint64_t>(stripe_bytes, UINT32_MAX));
    options.inline_bytes_max = inline_bytes;
    options.peer_timeout_ticks = std::max<uint32_t>(
            1, static_cast<uint32_t>(std::chrono::milliseconds(peer_timeout_ms) / kTickDuration));
    return options;
}

Result<Config> parse_config(std::string_view text,
                            const std::string& path,
                            const ConfigOverrides& overrides) {
    Config config;
    SHOAL_TRY(read_text(text, path, config));
    SHOAL_TRY(apply_overrides(overrides, config));
    SHOAL_TRY(config.validate());
    return config;
}

Result<Config> load_config(const std::string& path, const ConfigOverrides& overrides) {
    if (path.empty()) return parse_config("", "(defaults)", overrides);
    std::ifstream file(path, std::ios::binary);
    if (!file) return Status::io_error(fmt::format("{}: cannot be read", path));
    std::stringstream text;
    text << file.rdbuf();
    return parse_config(text.str(), path, overrides);
}

}  // namespace shoal::app

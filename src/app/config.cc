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

// Unknown keys are errors: a typo must not silently fall back to a default.
Status check_known_keys(const toml::table& root) {
    static const std::map<std::string, std::vector<std::string>, std::less<>> known_keys{
            {"node", {"name", "listen", "data", "shutdown_grace_ms"}},
            {"storage",
             {"mode",
              "memory_bytes",
              "fsync",
              "cache_bytes",
              "segment_bytes",
              "disk_reserve_bytes",
              "compaction_garbage_percent",
              "checkpoint_interval_bytes"}},
            {"log", {"level", "file"}},
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
    return node_options(NodeId{1}).validate();
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

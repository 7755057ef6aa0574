#include "output.h"

#include <fmt/format.h>

#include "shoal/base/units.h"

namespace shoal::cli {
namespace {

constexpr size_t kStatsNameColumnBytes = 17;  // The longest name, damaged_objects, and a gap.

std::string_view storage_mode_name(wire::StorageMode mode) {
    return mode == wire::StorageMode::kDisk ? "disk" : "memory";
}

bool counts_bytes(std::string_view name) {
    return name.starts_with("bytes_") || name.ends_with("_bytes");
}

std::string stats_row(std::string_view name, std::string_view value) {
    return fmt::format("{:<{}}{}\n", name, kStatsNameColumnBytes, value);
}

}  // namespace

std::string format_version(const Version& version) {
    return fmt::format("{}-{:016x}", version.hlc, to_u64(version.node));
}

std::string format_digest(uint64_t digest) {
    return fmt::format("{:016x}", digest);
}

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char character : text) {
        const auto byte = static_cast<unsigned char>(character);
        if (character == '"' || character == '\\') {
            out += '\\';
            out += character;
        } else if (byte < 0x20 || byte >= 0x7f) {
            out += fmt::format("\\u{:04x}", byte);
        } else {
            out += character;
        }
    }
    out += '"';
    return out;
}

std::string describe_object(std::string_view key, const wire::ObjectInfo& info, bool json) {
    if (json) {
        return fmt::format(R"({{"key":{},"size":{},"version":"{}","digest":"{}"}})",
                           json_string(key),
                           info.object_bytes,
                           format_version(info.version),
                           format_digest(info.digest));
    }
    return fmt::format("{}\t{}\t{}\t{}",
                       key,
                       info.object_bytes,
                       format_version(info.version),
                       format_digest(info.digest));
}

std::string describe_stats(const wire::StatsReply& stats, bool json) {
    const std::string_view mode = storage_mode_name(stats.storage_mode);
    if (json) {
        std::string out = fmt::format(R"({{"storage_mode":"{}")", mode);
        wire::for_each_stats_counter(stats, [&out](std::string_view name, uint64_t value) {
            out += fmt::format(R"(,"{}":{})", name, value);
        });
        out += fmt::format(R"(,"writes_stopped":{}}})", stats.writes_stopped);
        return out;
    }
    std::string out = stats_row("storage_mode", mode);
    wire::for_each_stats_counter(stats, [&out](std::string_view name, uint64_t value) {
        const bool sized = counts_bytes(name) && value >= 1024;
        out += stats_row(name,
                         sized ? fmt::format("{} ({})", value, format_bytes(value))
                               : fmt::format("{}", value));
    });
    out += stats_row("writes_stopped", stats.writes_stopped ? "yes" : "no");
    out.pop_back();  // print() ends the last line.
    return out;
}

}  // namespace shoal::cli

#include "output.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "shoal/base/units.h"

namespace shoal::cli {
namespace {

constexpr size_t kStatsNameColumnBytes = 17;  // The longest name, damaged_records, and a gap.

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

std::string_view member_state_name(wire::MemberStatus state) {
    switch (state) {
        case wire::MemberStatus::kAlive:
            return "alive";
        case wire::MemberStatus::kSuspect:
            return "suspect";
        case wire::MemberStatus::kDead:
            return "dead";
        case wire::MemberStatus::kLeft:
            return "left";
        case wire::MemberStatus::kDeparted:
            return "departed";
    }
    return "unknown";
}

std::string format_member_id(const wire::MemberEntry& member) {
    return fmt::format("{:016x}{:016x}", member.id_high, member.id_low);
}

namespace {

std::string member_address(const wire::MemberEntry& member) {
    // An IPv6 literal is bracketed, as users write it.
    if (member.host.find(':') != std::string::npos) {
        return fmt::format("[{}]:{}", member.host, member.port);
    }
    return fmt::format("{}:{}", member.host, member.port);
}

std::string held_text(const std::map<std::string, uint64_t>& held,
                      const wire::MemberEntry& member,
                      bool json) {
    const auto found = held.find(format_member_id(member));
    if (found == held.end()) return json ? "null" : "-";
    return json ? std::to_string(found->second) : format_bytes(found->second);
}

std::string member_json(const wire::MemberEntry& member,
                        const std::map<std::string, uint64_t>& held) {
    return fmt::format(
            R"({{"id":"{}","name":{},"address":{},"zone":{},"state":"{}","incarnation":{},)"
            R"("last_heard_ms":{},"partitions":{},"record_bytes":{}}})",
            format_member_id(member),
            json_string(member.name),
            json_string(member_address(member)),
            json_string(member.zone),
            member_state_name(member.state),
            member.incarnation,
            member.last_heard_ms,
            member.partitions,
            held_text(held, member, true));
}

std::string members_json(std::string_view node,
                         const wire::MembersReply& reply,
                         const std::map<std::string, uint64_t>& held) {
    std::string entries;
    for (const wire::MemberEntry& member : reply.members) {
        if (!entries.empty()) entries += ',';
        entries += member_json(member, held);
    }
    return fmt::format(R"({{"node":{},"layout_epoch":"{:016x}","partitions":{},"owners":{},)"
                       R"("members":[{}]}})",
                       json_string(node),
                       reply.layout_epoch,
                       reply.partition_count,
                       reply.owners_per_partition,
                       entries);
}

}  // namespace

std::string describe_members(std::string_view node,
                             wire::MembersReply& reply,
                             const std::map<std::string, uint64_t>& held,
                             bool json) {
    std::vector<wire::MemberEntry>& members = reply.members;
    std::sort(members.begin(), members.end(), [](const auto& left, const auto& right) {
        if (left.name != right.name) return left.name < right.name;
        return format_member_id(left) < format_member_id(right);
    });
    if (json) return members_json(node, reply, held);
    size_t name_bytes = 4;
    size_t address_bytes = 7;
    size_t zone_bytes = 4;
    for (const wire::MemberEntry& member : members) {
        name_bytes = std::max(name_bytes, member.name.size());
        address_bytes = std::max(address_bytes, member_address(member).size());
        zone_bytes = std::max(zone_bytes, member.zone.size());
    }
    const auto row = [&](const std::array<std::string_view, 9>& cells) {
        return fmt::format("{:<{}}  {:<8}  {:<8}  {:<{}}  {:<{}}  {:>11}  {:>10}  {:>10}  {:>10}\n",
                           cells[0],
                           name_bytes,
                           cells[1],
                           cells[2],
                           cells[3],
                           zone_bytes,
                           cells[4],
                           address_bytes,
                           cells[5],
                           cells[6],
                           cells[7],
                           cells[8]);
    };
    std::string text = fmt::format("layout epoch {:016x}: {} partitions, {} owners each\n",
                                   reply.layout_epoch,
                                   reply.partition_count,
                                   reply.owners_per_partition);
    text += row({"NAME",
                 "ID",
                 "STATE",
                 "ZONE",
                 "ADDRESS",
                 "INCARNATION",
                 "HEARD(ms)",
                 "PARTITIONS",
                 "HELD"});
    for (const wire::MemberEntry& member : members) {
        text += row({member.name,
                     format_member_id(member).substr(0, 8),
                     member_state_name(member.state),
                     member.zone,
                     member_address(member),
                     std::to_string(member.incarnation),
                     std::to_string(member.last_heard_ms),
                     std::to_string(member.partitions),
                     held_text(held, member, false)});
    }
    text += fmt::format("{} members, {} alive",
                        members.size(),
                        std::count_if(members.begin(), members.end(), [](const auto& member) {
                            return member.state == wire::MemberStatus::kAlive;
                        }));
    return text;
}

}  // namespace shoal::cli

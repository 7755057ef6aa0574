// How the CLI prints results: plain text for people, one JSON object with --json for scripts.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/base/version.h"
#include "shoal/wire/messages.h"

namespace shoal::cli {

// "<hlc>-<node>": the HLC timestamp in decimal, the node id in hex.
std::string format_version(const Version& version);
// 16 lowercase hex digits.
std::string format_digest(uint64_t digest);
// A JSON string literal, quotes included; control and non-ASCII bytes escaped as \u00XX.
std::string json_string(std::string_view text);

// One object's description: "key size version digest" or a JSON object.
std::string describe_object(std::string_view key, const wire::ObjectInfo& info, bool json);

// A node's statistics: a two-column table, one figure per line (its name, then its value,
// with a size for people beside byte counts), or one JSON object with the same names.
std::string describe_stats(const wire::StatsReply& stats, bool json);

// "alive", "suspect", "dead", "left" or "departed".
std::string_view member_state_name(wire::MemberStatus state);
// 32 lowercase hex digits, the high word first (the node's id in its logs and node.id).
std::string format_member_id(const wire::MemberEntry& member);

// A node's member list and layout, sorted by name (then id): a line with the layout epoch,
// then a table (name, short id, state, zone, address, incarnation, last heard, partitions
// owned, bytes held), or with `json` one object
//   {"node": "<asked>", "layout_epoch": "<16 hex digits>", "partitions", "owners",
//    "members": [{"id", "name", "address", "zone", "state", "incarnation",
//    "last_heard_ms", "partitions", "record_bytes"}, ...]}.
// `held` maps a member's id (format_member_id) to the record bytes it reported itself; a
// member missing from it shows "-" (null in JSON). `reply.members` is sorted in place.
std::string describe_members(std::string_view node,
                             wire::MembersReply& reply,
                             const std::map<std::string, uint64_t>& held,
                             bool json);

}  // namespace shoal::cli

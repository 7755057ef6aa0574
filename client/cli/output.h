// How the CLI prints results: plain text for people, one JSON object with --json for scripts.
#pragma once

#include <string>
#include <string_view>

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

}  // namespace shoal::cli

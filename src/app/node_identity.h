// The node's identity file: a random 128-bit member id, made once and kept in the data
// directory as <data>/node.id, so a restarted node is the same member (DESIGN.md
// "Membership": identity persists apart from the address).
//
// Blocking POSIX calls, at startup only, before the loop runs: this is the composition root.
// The file holds the id as 32 lowercase hex digits and a newline; it is written atomically
// (a temporary file, fsync, rename, fsync of the directory), so a crash leaves either no id or
// the whole one.
#pragma once

#include <cstdint>
#include <string>

#include "shoal/base/status.h"
#include "shoal/membership/member.h"

namespace shoal::app {

inline constexpr const char* kNodeIdFileName = "node.id";

struct NodeIdentity {
    membership::MemberId id;
    bool created = false;  // The file did not exist and was written now.
};

// Reads <directory>/node.id, or, if there is none, creates the directory if needed and writes
// a fresh id drawn from `seed`. kIoError if the directory or file cannot be made, read or
// synced; kCorruption if the file exists but does not hold an id (it is never replaced: a new
// id would make the node a stranger to its cluster).
Result<NodeIdentity> load_or_create_node_id(const std::string& directory, uint64_t seed);

}  // namespace shoal::app

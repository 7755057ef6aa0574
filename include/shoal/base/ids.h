// Identifiers. Each is a distinct type, so a NodeId cannot be passed where a ConnectionId is
// expected; on the wire each is a plain little-endian integer.
#pragma once

#include <cstdint>

namespace shoal {

enum class NodeId : uint64_t {};
enum class RequestId : uint64_t {};
enum class Lsn : uint64_t {};  // WAL sequence number: the first is 1; 0 means none.

template <typename Id>
constexpr uint64_t to_u64(Id id) {
    return static_cast<uint64_t>(id);
}

}  // namespace shoal

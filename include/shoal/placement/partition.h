// Partitions: which slice of the key space an object key falls in (DESIGN.md "Data model and
// placement"; docs/placement.md).
//
// The key space is cut into a fixed number of partitions, chosen at cluster creation (default
// 1024). A key's partition is its pinned hash modulo the partition count. Every node must
// compute the same answer forever, so the hash is xxh3-64 with a fixed seed, pinned by test
// vectors in tests/unit/placement/partition_test.cc; never std::hash.
//
// Pure functions: no IO, no allocation.
#pragma once

#include <cstdint>

#include "shoal/base/bytes.h"
#include "shoal/base/key_hash.h"

namespace shoal::placement {

inline constexpr uint32_t kPartitionCountDefault = 1024;
inline constexpr uint32_t kPartitionCountMax = 65536;

// key_hash % partition_count. REQUIRES: 0 < partition_count <= kPartitionCountMax.
uint32_t partition_of_hash(uint64_t hash, uint32_t partition_count);

inline uint32_t partition_of(ByteView key, uint32_t partition_count) {
    return partition_of_hash(key_hash(key), partition_count);
}

}  // namespace shoal::placement

// The key hash: an object key's partition is key_hash % partition_count, and chunks carry it
// in their headers and store keys, so a node tells a chunk's partition, and so its owner, from
// the store key alone (DESIGN.md "Chunks are self-describing"; docs/placement.md).
//
// Pinned: changing the seed moves every object and orphans every stored chunk.
#pragma once

#include <cstdint>
#include <string_view>

#include "shoal/base/bytes.h"
#include "shoal/base/hash.h"

namespace shoal {

// The seed: the ASCII bytes "shoalkey".
inline constexpr uint64_t kKeyHashSeed = 0x73686f616c6b6579;

// xxh3-64 of the key bytes with kKeyHashSeed.
inline uint64_t key_hash(ByteView key) {
    return hash64(key, kKeyHashSeed);
}

inline uint64_t key_hash(std::string_view key) {
    return key_hash(as_bytes(key));
}

}  // namespace shoal

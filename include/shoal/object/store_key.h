// Store keys: how manifests and chunks are named in a node's local store.
//
// A node's store (the storage module) maps string keys to values. Manifests and chunks share
// it, told apart by the first byte of the key, a namespace:
//
//   manifest:  0x01 | user key                                   2 .. 1025 bytes
//   chunk:     0x02 | key_hash | hlc | node | stripe | chunk      30 bytes, integers big-endian
//
// A manifest key keeps the user key whole, so the store's ordered prefix scan over
// 0x01 | prefix is a listing of user keys in order (`ls`). A chunk key is a fixed-size binary
// id: big-endian, unlike every other integer in shoal, because here byte order is sort order,
// so the chunks of one object (one key hash) lie together, versions oldest first, and within
// a version by stripe, then chunk. Chunk keys contain arbitrary bytes, NUL included.
//
// A tombstone is a manifest (kTombstone) stored under the manifest key, never a removal from
// the store, so that it keeps its version and beats a late copy of an older put. What the
// store must accept is in docs/object_format.md ("Store keys").
//
// Pure functions: no IO.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/object/limits.h"

namespace shoal::object {

// The numbers are stored: never renumber them.
enum class StoreKeyKind : uint8_t {
    kManifest = 0x01,
    kChunk = 0x02,
};

// A chunk's identity in a node's store. Versions are unique per put, so (key_hash, version)
// names one put of one key even if two keys' hashes collide; the header names the key itself.
struct ChunkId {
    uint64_t key_hash = 0;
    Version version;
    uint32_t stripe_index = 0;
    uint8_t chunk_index = 0;

    bool operator==(const ChunkId&) const = default;
};

// REQUIRES: check_key(user_key) holds.
std::string manifest_store_key(std::string_view user_key);
// The prefix under which every manifest of a user key starting with `user_prefix` lies; the
// empty prefix gives every manifest. REQUIRES: user_prefix.size() <= limits::kPrefixBytesMax.
std::string manifest_store_prefix(std::string_view user_prefix);

std::string chunk_store_key(const ChunkId& chunk);
// The prefix under which every chunk lies.
std::string chunk_store_prefix();
// The prefix under which the chunks of every version of the keys with `key_hash` lie.
std::string chunk_store_prefix(uint64_t key_hash);
// The prefix under which the chunks of one version lie.
std::string chunk_store_prefix(uint64_t key_hash, Version version);

// A store key, parsed. `user_key` (manifests) borrows from the parsed key.
struct StoreKey {
    StoreKeyKind kind = StoreKeyKind::kManifest;
    std::string_view user_key;  // kManifest only.
    ChunkId chunk;              // kChunk only.
};

// kInvalidArgument ("store key: ...") for a key in no namespace, a manifest key whose user key
// fails check_key, or a chunk key that is not exactly kChunkStoreKeyBytes long.
Result<StoreKey> parse_store_key(std::string_view store_key);

}  // namespace shoal::object

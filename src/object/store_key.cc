#include "shoal/object/store_key.h"

#include <fmt/format.h>

#include "shoal/base/limits.h"
#include "shoal/object/layout.h"

namespace shoal::object {
namespace {

// Big-endian, so that byte order is numeric order (see the top of store_key.h).
void append_big_endian(std::string& target, uint64_t value, int bytes) {
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
        target.push_back(static_cast<char>((value >> shift) & 0xFF));
    }
}

uint64_t read_big_endian(std::string_view source, size_t offset, size_t bytes) {
    SHOAL_ASSERT(offset + bytes <= source.size());
    uint64_t value = 0;
    for (size_t index = 0; index < bytes; index++) {
        value = (value << 8) | static_cast<uint8_t>(source[offset + index]);
    }
    return value;
}

std::string with_namespace(StoreKeyKind kind, size_t capacity) {
    std::string key;
    key.reserve(capacity);
    key.push_back(static_cast<char>(kind));
    return key;
}

}  // namespace

std::string manifest_store_key(std::string_view user_key) {
    SHOAL_ASSERT(check_key(user_key).is_ok());
    return manifest_store_prefix(user_key);
}

std::string manifest_store_prefix(std::string_view user_prefix) {
    SHOAL_ASSERT(user_prefix.size() <= limits::kPrefixBytesMax);
    std::string key = with_namespace(StoreKeyKind::kManifest, 1 + user_prefix.size());
    key.append(user_prefix);
    SHOAL_ASSERT(key.size() <= kStoreKeyBytesMax);
    return key;
}

std::string chunk_store_key(const ChunkId& chunk) {
    std::string key = chunk_store_prefix(chunk.key_hash, chunk.version);
    append_big_endian(key, chunk.stripe_index, 4);
    append_big_endian(key, chunk.chunk_index, 1);
    SHOAL_ASSERT(key.size() == kChunkStoreKeyBytes);
    return key;
}

std::string chunk_store_prefix() {
    return with_namespace(StoreKeyKind::kChunk, 1);
}

std::string chunk_store_prefix(uint64_t key_hash) {
    std::string key = with_namespace(StoreKeyKind::kChunk, kChunkStoreKeyBytes);
    append_big_endian(key, key_hash, 8);
    return key;
}

std::string chunk_store_prefix(uint64_t key_hash, Version version) {
    std::string key = chunk_store_prefix(key_hash);
    append_big_endian(key, version.hlc, 8);
    append_big_endian(key, to_u64(version.node), 8);
    return key;
}

Result<StoreKey> parse_store_key(std::string_view store_key) {
    if (store_key.empty()) return Status::invalid_argument("store key: empty");
    const auto kind = static_cast<uint8_t>(store_key[0]);
    if (kind == static_cast<uint8_t>(StoreKeyKind::kManifest)) {
        const std::string_view user_key = store_key.substr(1);
        if (Status status = check_key(user_key); !status.is_ok()) {
            return Status::invalid_argument(fmt::format("store key: {}", status.message()));
        }
        return StoreKey{.kind = StoreKeyKind::kManifest, .user_key = user_key};
    }
    if (kind == static_cast<uint8_t>(StoreKeyKind::kChunk)) {
        if (store_key.size() != kChunkStoreKeyBytes) {
            return Status::invalid_argument(
                    fmt::format("store key: a chunk key of {} bytes, not {}",
                                store_key.size(),
                                kChunkStoreKeyBytes));
        }
        const ChunkId chunk{
                .key_hash = read_big_endian(store_key, 1, 8),
                .version = {.hlc = read_big_endian(store_key, 9, 8),
                            .node = NodeId{read_big_endian(store_key, 17, 8)}},
                .stripe_index = static_cast<uint32_t>(read_big_endian(store_key, 25, 4)),
                .chunk_index = static_cast<uint8_t>(read_big_endian(store_key, 29, 1)),
        };
        return StoreKey{.kind = StoreKeyKind::kChunk, .chunk = chunk};
    }
    return Status::invalid_argument(fmt::format("store key: unknown namespace {:#04x}", kind));
}

}  // namespace shoal::object

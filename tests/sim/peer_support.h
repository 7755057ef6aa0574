// Support for the peer service and peer client tests: valid chunk records and manifests, built
// with the object module's own encoders, and a few byte helpers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "shoal/base/bytes.h"
#include "shoal/base/hash.h"
#include "shoal/base/version.h"
#include "shoal/object/chunk_header.h"
#include "shoal/object/layout.h"
#include "shoal/object/manifest.h"
#include "shoal/object/store_key.h"

namespace shoal::sim::testing {

inline Version version_at(uint64_t hlc, uint64_t node = 1) {
    return Version{.hlc = hlc, .node = NodeId{node}};
}

// A striped object of two stripes of 1 MiB under k = 2, m = 1: chunks of 512 KiB, big enough
// that the disk store keeps a chunk's header and data as two pieces.
inline object::Manifest striped_manifest_of(const std::string& key, Version version) {
    constexpr uint32_t kStripeBytes = 1024 * 1024;
    object::Manifest manifest =
            object::striped_manifest({.key = key,
                                      .version = version,
                                      .created_ms = 1'700'000'000'000,
                                      .object_bytes = uint64_t{2} * kStripeBytes,
                                      .object_digest = hash64(as_bytes(key)),
                                      .scheme = {.k = 2, .m = 1},
                                      .stripe_bytes = kStripeBytes});
    for (uint32_t stripe = 0; stripe < manifest.stripe_count(); stripe++) {
        manifest.stripe_digests[stripe] = 0x1111111111111111 * (stripe + 1);
    }
    return manifest;
}

// One chunk as a coordinator holds it: the encoded header and the data apart.
struct TestChunk {
    object::ChunkId id;
    std::shared_ptr<Buffer> header;
    std::shared_ptr<Buffer> data;

    // The stored record: header, then data.
    Buffer record() const {
        Buffer joined(header->view());
        joined.append(data->view());
        return joined;
    }
};

inline TestChunk chunk_of(const object::Manifest& manifest, uint32_t stripe, uint8_t chunk) {
    object::ChunkHeader header = object::chunk_header_for(manifest, stripe, chunk, 0);
    auto data = std::make_shared<Buffer>(header.chunk_bytes);
    for (size_t index = 0; index < data->size(); index++) {
        (*data)[index] = static_cast<std::byte>((index * 13 + size_t{stripe} * 7 + chunk) & 0xFF);
    }
    header.chunk_checksum = hash64(data->view());
    auto encoded = std::make_shared<Buffer>();
    object::encode_chunk_header(header, *encoded);
    return TestChunk{.id = {.key_hash = header.key_hash,
                            .version = header.version,
                            .stripe_index = stripe,
                            .chunk_index = chunk},
                     .header = std::move(encoded),
                     .data = std::move(data)};
}

inline Buffer encoded(const object::Manifest& manifest) {
    Buffer bytes;
    object::encode_manifest(manifest, bytes);
    return bytes;
}

inline object::Manifest inline_manifest_of(const std::string& key,
                                           Version version,
                                           std::string_view value = "value") {
    return object::inline_manifest(key, version, 1'700'000'000'000, as_bytes(value));
}

}  // namespace shoal::sim::testing

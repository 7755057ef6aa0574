// Chunk headers: what makes a stored chunk self-describing.
//
// The bytes a node stores for a chunk are a header and then the chunk's data. The header names
// the object (its full key, key hash and version), the chunk's place (stripe index, chunk
// index, the code and stripe size), its sizes and checksums, so that a node's contents can be
// re-indexed, and a lost manifest rebuilt, from the chunks alone (DESIGN.md "Data model and
// placement"). A read decodes the header, checks it against the manifest it holds
// (check_chunk_matches) and the data against the header (verify_chunk); a chunk that fails is
// treated as missing and counted (DESIGN.md "Durability rules").
//
// A streaming put learns the object's size when the client declares it or when the last
// piece arrives, and its digest only with the last piece, so the header carries each as known
// or not; the last stripe's chunks always carry both, since the last stripe is encoded only
// once the put has ended.
//
// Pure values and codecs: no IO. Byte layout: docs/object_format.md; tests/fuzz/object_fuzz.cc
// fuzzes the decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/object/layout.h"
#include "shoal/object/limits.h"
#include "shoal/object/manifest.h"
#include "shoal/object/store_key.h"

namespace shoal::object {

inline constexpr uint32_t kChunkMagic = 0x4b484353;  // The bytes "SCHK".
inline constexpr uint8_t kChunkFormat = 2;

struct ChunkHeader {
    std::string key;
    uint64_t key_hash = 0;  // key_hash(key).
    Version version;
    uint64_t created_ms = 0;  // The manifest's.
    Scheme scheme;
    uint32_t stripe_bytes = 0;
    uint32_t stripe_index = 0;
    uint32_t stripe_plain_bytes = 0;  // This stripe's bytes before encoding.
    uint32_t chunk_bytes = 0;         // chunk_bytes_of(stripe_plain_bytes, scheme.k).
    uint8_t chunk_index = 0;          // 0..k-1 data, k..k+m-1 parity.
    uint64_t stripe_digest = 0;       // xxh3-64 of the stripe's plain bytes.
    uint64_t chunk_checksum = 0;      // xxh3-64 of the chunk's chunk_bytes bytes.
    // Known once the put knows them (see the top of this file). With the size known, the
    // stripe count is derived and stripe_index is checked against it.
    std::optional<uint64_t> object_bytes;
    std::optional<uint64_t> object_digest;

    // 0 when object_bytes is not known. Meaningful once check_chunk_header holds.
    uint32_t stripe_count() const;

    bool operator==(const ChunkHeader&) const = default;
};

// The header of chunk `chunk_index` of stripe `stripe_index` of a striped manifest, with the
// object's size and digest known. REQUIRES: manifest.kind == kStriped, the indexes in range.
ChunkHeader chunk_header_for(const Manifest& manifest,
                             uint32_t stripe_index,
                             uint8_t chunk_index,
                             uint64_t chunk_checksum);

// kInvalidArgument ("chunk: ...") naming the first rule `header` breaks: the key and its hash,
// the version, the code, the stripe size, the chunk index, the sizes (the padding rule), and,
// with the size known, the stripe index and this stripe's length; a stripe shorter than
// stripe_bytes is the last, whose chunks must carry the size and the digest.
Status check_chunk_header(const ChunkHeader& header);

// The exact size encode_chunk_header will append: where the chunk's data starts.
size_t encoded_chunk_header_bytes(const ChunkHeader& header);

// Appends the header; the chunk's data goes right after it. REQUIRES: check_chunk_header.
void encode_chunk_header(const ChunkHeader& header, Buffer& target);

struct DecodedChunkHeader {
    ChunkHeader header;
    size_t data_offset = 0;  // Where the chunk's data starts in the bytes decoded.
};

// Decodes the header at the start of `stored` (the whole stored chunk, or at least its first
// kChunkHeaderBytesMax bytes). kCorruption ("chunk: ...") for a short read, a wrong magic,
// format or checksum, unknown flags, or any field that check_chunk_header would refuse.
Result<DecodedChunkHeader> decode_chunk_header(ByteView stored);

// The identity the header names: the chunk's store key is made from it.
ChunkId chunk_id_of(const ChunkHeader& header);

// kCorruption unless `data` is exactly header.chunk_bytes long and hashes to
// header.chunk_checksum. Bytes that fail must never be used.
Status verify_chunk(const ChunkHeader& header, ByteView data);

// kCorruption ("chunk: ... does not match its manifest") unless `header` is chunk
// `chunk_index` of stripe `stripe_index` of the object `manifest` describes: same key,
// version, creation time, code, stripe size, stripe length and digest, and the object's size
// and digest wherever the header knows them. REQUIRES: manifest.kind == kStriped, and the
// indexes within its stripes and code.
Status check_chunk_matches(const ChunkHeader& header,
                           const Manifest& manifest,
                           uint32_t stripe_index,
                           uint8_t chunk_index);

}  // namespace shoal::object

// Fuzz target: the object module's decoders: manifests, chunk headers and store keys.
//
// Goal: no input makes a decoder crash, read out of bounds, hit undefined behaviour or
// allocate for a count it has not checked; whatever decodes passes the module's own checks and
// is the one encoding of what it decoded to; a chunk header that decodes is accepted by the
// manifest rebuilt from it, as a lost manifest would be rebuilt from its chunks.
//
// Method: the first byte picks a mode, the rest is the input.
//   0: a manifest. If decode_manifest accepts it, check_manifest must, and encode_manifest must
//      give back the same bytes.
//   1: a stored chunk. If decode_chunk_header accepts it, check_chunk_header must, the header
//      must re-encode to the bytes before data_offset, verify_chunk must judge the rest without
//      crashing, and a manifest rebuilt from a header that knows the object must match it.
//   2: a store key. If parse_store_key accepts it, making the key again gives the same bytes.
//   3, 4: as 0 and 1, with the length field and checksum (3) or the header checksum (4)
//      rewritten to match the input first, so that the fuzzer reaches the checks behind them.
// Built with -fsanitize=fuzzer under the fuzz preset, and replayed over the committed corpus by
// replay_main.cc under any compiler.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shoal/base/assert.h"
#include "shoal/base/bytes.h"
#include "shoal/base/coding.h"
#include "shoal/base/hash.h"
#include "shoal/object/chunk_header.h"
#include "shoal/object/manifest.h"
#include "shoal/object/store_key.h"

// libFuzzer's entry point; declared for -Wmissing-declarations.
// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer gives the name.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using shoal::Buffer;
using shoal::ByteView;
using namespace shoal::object;  // NOLINT(google-build-using-namespace): a fuzz harness.

void check_manifest_input(ByteView input) {
    const shoal::Result<Manifest> decoded = decode_manifest(input);
    if (!decoded.is_ok()) {
        SHOAL_ASSERT(decoded.status().code() == shoal::Code::kCorruption);
        return;
    }
    SHOAL_ASSERT(check_manifest(decoded.value()).is_ok());
    Buffer encoded;
    encode_manifest(decoded.value(), encoded);
    SHOAL_ASSERT(shoal::equal_bytes(encoded.view(), input));
}

// The manifest a node would rebuild from this chunk: what the header says, this stripe's
// digest, and the node it was found on.
void check_rebuilt_manifest(const ChunkHeader& header) {
    if (!header.object_bytes.has_value() || !header.object_digest.has_value()) return;
    Manifest manifest = striped_manifest({.key = header.key,
                                          .version = header.version,
                                          .created_ms = header.created_ms,
                                          .object_bytes = *header.object_bytes,
                                          .object_digest = *header.object_digest,
                                          .scheme = header.scheme,
                                          .stripe_bytes = header.stripe_bytes});
    manifest.stripe_digests[header.stripe_index] = header.stripe_digest;
    manifest.set_chunk_node(header.stripe_index, header.chunk_index, {.high = 1, .low = 2});
    SHOAL_ASSERT(check_manifest(manifest).is_ok());
    SHOAL_ASSERT(
            check_chunk_matches(header, manifest, header.stripe_index, header.chunk_index).is_ok());
}

void check_chunk_input(ByteView input) {
    const shoal::Result<DecodedChunkHeader> decoded = decode_chunk_header(input);
    if (!decoded.is_ok()) {
        SHOAL_ASSERT(decoded.status().code() == shoal::Code::kCorruption);
        return;
    }
    const ChunkHeader& header = decoded.value().header;
    const size_t data_offset = decoded.value().data_offset;
    SHOAL_ASSERT(check_chunk_header(header).is_ok());
    SHOAL_ASSERT(data_offset == encoded_chunk_header_bytes(header));
    SHOAL_ASSERT(data_offset <= input.size());
    Buffer encoded;
    encode_chunk_header(header, encoded);
    SHOAL_ASSERT(shoal::equal_bytes(encoded.view(), input.first(data_offset)));
    const shoal::Status verified = verify_chunk(header, input.subspan(data_offset));
    if (verified.is_ok()) SHOAL_ASSERT(input.size() - data_offset == header.chunk_bytes);
    check_rebuilt_manifest(header);
}

void check_store_key_input(ByteView input) {
    const std::string_view key = shoal::as_string_view(input);
    const shoal::Result<StoreKey> parsed = parse_store_key(key);
    if (!parsed.is_ok()) return;
    const StoreKey& store_key = parsed.value();
    const std::string again = store_key.kind == StoreKeyKind::kManifest
                                      ? manifest_store_key(store_key.user_key)
                                      : chunk_store_key(store_key.chunk);
    SHOAL_ASSERT(again == key);
    SHOAL_ASSERT(again.size() <= kStoreKeyBytesMax);
}

// The input with its manifest_bytes field and trailing checksum made to match it.
Buffer resealed_manifest(ByteView input) {
    Buffer bytes(input);
    if (bytes.size() < kManifestFixedBytes + kChecksumBytes) return bytes;
    shoal::encode_fixed32(bytes.data() + 8, static_cast<uint32_t>(bytes.size()));
    const size_t body_bytes = bytes.size() - kChecksumBytes;
    shoal::encode_fixed64(bytes.data() + body_bytes, shoal::hash64(bytes.view().first(body_bytes)));
    return bytes;
}

// The input with its header checksum, wherever its key length puts it, made to match.
Buffer resealed_chunk(ByteView input) {
    Buffer bytes(input);
    if (bytes.size() < kChunkHeaderFixedBytes) return bytes;
    const size_t offset = kChunkHeaderFixedBytes + shoal::decode_fixed16(bytes.data() + 6);
    if (bytes.size() < offset + kChecksumBytes) return bytes;
    shoal::encode_fixed64(bytes.data() + offset, shoal::hash64(bytes.view().first(offset)));
    return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const ByteView input(reinterpret_cast<const std::byte*>(data + 1), size - 1);
    switch (data[0] % 5) {
        case 0:
            check_manifest_input(input);
            break;
        case 1:
            check_chunk_input(input);
            break;
        case 2:
            check_store_key_input(input);
            break;
        case 3:
            check_manifest_input(resealed_manifest(input).view());
            break;
        default:
            check_chunk_input(resealed_chunk(input).view());
            break;
    }
    return 0;
}

// Goal: a stored chunk (header and data) says what it is, exactly as docs/object_format.md
// describes; any damage to its header is refused with kCorruption and a reason, any damage to
// its data is caught by verify_chunk, and a chunk that is not the one a manifest describes is
// caught by check_chunk_matches. The format is pinned.
//
// Method: build headers from a manifest and by hand at their bounds; round-trip them; flip
// each bit of and truncate a stored chunk; patch single fields and reseal the header checksum
// so the checks behind it are reached; hash pinned encodings.
#include "shoal/object/chunk_header.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "shoal/base/coding.h"
#include "shoal/base/hash.h"
#include "shoal/base/key_hash.h"

namespace shoal::object {
namespace {

constexpr uint32_t kStripe = 64 * 1024;
constexpr Version kVersion{.hlc = (uint64_t{1'700'000'000'000} << 16) + 7, .node = NodeId{42}};

// Field offsets from docs/object_format.md.
constexpr size_t kFlagsOffset = 5;
constexpr size_t kKeyBytesOffset = 6;
constexpr size_t kReservedOffset = 11;
constexpr size_t kStripeIndexOffset = 12;
constexpr size_t kStripeCountOffset = 16;
constexpr size_t kPlainBytesOffset = 24;
constexpr size_t kChunkBytesOffset = 28;
constexpr size_t kKeyHashOffset = 56;
constexpr size_t kObjectBytesOffset = 64;
constexpr size_t kObjectDigestOffset = 72;

Manifest sample_manifest() {
    Manifest manifest = striped_manifest({.key = "photos/cat.jpg",
                                          .version = kVersion,
                                          .created_ms = 1'700'000'000'000,
                                          .object_bytes = 2 * kStripe + 100,
                                          .object_digest = 0x0123456789abcdef,
                                          .scheme = {.k = 4, .m = 2},
                                          .stripe_bytes = kStripe});
    for (uint32_t stripe = 0; stripe < manifest.stripe_count(); stripe++) {
        manifest.stripe_digests[stripe] = 0x1111111111111111 * (stripe + 1);
    }
    return manifest;
}

Buffer chunk_data(size_t size, uint8_t seed) {
    Buffer data(size);
    for (size_t index = 0; index < size; index++) {
        data[index] = static_cast<std::byte>((index * 7 + seed) & 0xFF);
    }
    return data;
}

// A stored chunk: the header, then the data.
struct StoredChunk {
    ChunkHeader header;
    Buffer bytes;
};

StoredChunk stored(ChunkHeader header, uint8_t seed = 1) {
    const Buffer data = chunk_data(header.chunk_bytes, seed);
    header.chunk_checksum = hash64(data.view());
    StoredChunk chunk{.header = std::move(header)};
    encode_chunk_header(chunk.header, chunk.bytes);
    chunk.bytes.append(data.view());
    return chunk;
}

StoredChunk sample_chunk(uint32_t stripe_index = 1, uint8_t chunk_index = 4) {
    return stored(chunk_header_for(sample_manifest(), stripe_index, chunk_index, 0));
}

// Stripe 0 of a put whose size the client did not declare.
ChunkHeader streaming_header() {
    ChunkHeader header = chunk_header_for(sample_manifest(), 0, 0, 0);
    header.object_bytes.reset();
    header.object_digest.reset();
    return header;
}

size_t checksum_offset(const Buffer& bytes) {
    return kChunkHeaderFixedBytes + decode_fixed16(bytes.data() + kKeyBytesOffset);
}

// Recomputes the header checksum, where it was before any patch, after a test patched a field.
void reseal(Buffer& bytes, size_t offset) {
    encode_fixed64(bytes.data() + offset, hash64(bytes.view().first(offset)));
}

// A copy of `base` with `width` bytes at `offset` set to `value` (little-endian), resealed.
Buffer patch(const Buffer& base, size_t offset, uint64_t value, size_t width) {
    Buffer bytes = base.clone();
    for (size_t index = 0; index < width; index++) {
        bytes[offset + index] = static_cast<std::byte>((value >> (8 * index)) & 0xFF);
    }
    reseal(bytes, checksum_offset(base));
    return bytes;
}

std::vector<ChunkHeader> headers_at_bounds() {
    std::vector<ChunkHeader> headers{
            sample_chunk(0, 0).header, sample_chunk(2, 5).header, streaming_header()};
    ChunkHeader size_known = streaming_header();
    size_known.object_bytes = 2 * kStripe + 100;
    headers.push_back(size_known);
    const std::string longest_key(limits::kKeyBytesMax, 'k');
    const Scheme schemes[] = {{.k = 1, .m = 0}, {.k = 1, .m = 2}, {.k = 16, .m = 16}};
    for (const Scheme scheme : schemes) {
        Manifest manifest =
                striped_manifest({.key = longest_key,
                                  .version = {.hlc = UINT64_MAX, .node = NodeId{UINT64_MAX}},
                                  .created_ms = UINT64_MAX,
                                  .object_bytes = uint64_t{kStripeBytesMax} * 2,
                                  .object_digest = UINT64_MAX,
                                  .scheme = scheme,
                                  .stripe_bytes = kStripeBytesMax});
        manifest.stripe_digests = {UINT64_MAX, 0};
        headers.push_back(chunk_header_for(
                manifest, 1, static_cast<uint8_t>(scheme.chunk_count() - 1), UINT64_MAX));
    }
    Manifest one_byte = striped_manifest({.key = "k",
                                          .version = {.hlc = 1},
                                          .object_bytes = 1,
                                          .scheme = {.k = 31, .m = 1},
                                          .stripe_bytes = kStripeBytesMin});
    headers.push_back(chunk_header_for(one_byte, 0, 30, 0));
    // The furthest stripe of a streaming put: it ends where the largest object would.
    ChunkHeader furthest = streaming_header();
    const uint64_t bytes_max = striped_object_bytes_max(furthest.scheme, kStripe);
    furthest.stripe_index = static_cast<uint32_t>(bytes_max / kStripe - 1);
    headers.push_back(furthest);
    return headers;
}

TEST_CASE("chunk: headers round-trip at their bounds, with the data right after",
          "[unit][object]") {
    for (const ChunkHeader& header : headers_at_bounds()) {
        CAPTURE(header.key.size(), header.stripe_index, header.chunk_index);
        REQUIRE(check_chunk_header(header).is_ok());
        Buffer bytes;
        encode_chunk_header(header, bytes);
        CHECK(bytes.size() == encoded_chunk_header_bytes(header));
        CHECK(bytes.size() <= kChunkHeaderBytesMax);
        bytes.append(std::string_view("data"));
        Result<DecodedChunkHeader> decoded = decode_chunk_header(bytes.view());
        REQUIRE(decoded.is_ok());
        CHECK(decoded.value().header == header);
        CHECK(decoded.value().data_offset == encoded_chunk_header_bytes(header));
    }
}

TEST_CASE("chunk: a stored chunk decodes and verifies; its sizes follow the padding rule",
          "[unit][object]") {
    const StoredChunk chunk = sample_chunk(2, 3);  // A data chunk of the 100-byte last stripe.
    CHECK(chunk.header.stripe_plain_bytes == 100);
    CHECK(chunk.header.chunk_bytes == 25);
    CHECK(chunk.header.stripe_count() == 3);
    Result<DecodedChunkHeader> decoded = decode_chunk_header(chunk.bytes.view());
    REQUIRE(decoded.is_ok());
    const ByteView data = chunk.bytes.view().subspan(decoded.value().data_offset);
    CHECK(data.size() == 25);
    CHECK(verify_chunk(decoded.value().header, data).is_ok());
    // A header alone, as read from the start of a stored chunk, decodes too.
    CHECK(decode_chunk_header(chunk.bytes.view().first(decoded.value().data_offset)).is_ok());
    CHECK(sample_chunk(0, 0).header.chunk_bytes == kStripe / 4);
}

// Flips one bit of a stored chunk: a header bit must make the header fail, a data bit the data.
void check_flip(Buffer& damaged, size_t index, int bit, size_t header_bytes) {
    CAPTURE(index, bit);
    damaged[index] ^= static_cast<std::byte>(1 << bit);
    const Result<DecodedChunkHeader> decoded = decode_chunk_header(damaged.view());
    if (index < header_bytes) {
        REQUIRE(decoded.status().code() == Code::kCorruption);
    } else {
        REQUIRE(decoded.is_ok());
        const Status verified =
                verify_chunk(decoded.value().header, damaged.view().subspan(header_bytes));
        REQUIRE(verified.code() == Code::kCorruption);
    }
    damaged[index] ^= static_cast<std::byte>(1 << bit);
}

// Every bit of the header and of the data's first and last 100 bytes, one at a time.
void check_every_flip_is_caught(const StoredChunk& chunk) {
    const size_t header_bytes = encoded_chunk_header_bytes(chunk.header);
    Buffer damaged = chunk.bytes.clone();
    for (size_t index = 0; index < damaged.size(); index++) {
        if (index >= header_bytes + 100 && index + 100 < damaged.size()) continue;
        for (int bit = 0; bit < 8; bit++) {
            check_flip(damaged, index, bit, header_bytes);
        }
    }
}

TEST_CASE("chunk: every flipped header bit is refused, every flipped data bit fails verify",
          "[unit][object]") {
    for (const StoredChunk& chunk : {sample_chunk(2, 3), stored(streaming_header())}) {
        check_every_flip_is_caught(chunk);
        const size_t header_bytes = encoded_chunk_header_bytes(chunk.header);
        for (size_t size = 0; size < header_bytes; size++) {
            CAPTURE(size);
            REQUIRE(decode_chunk_header(chunk.bytes.view().first(size)).status().code() ==
                    Code::kCorruption);
        }
        const Result<DecodedChunkHeader> decoded = decode_chunk_header(chunk.bytes.view());
        REQUIRE(decoded.is_ok());
        const ByteView data = chunk.bytes.view().subspan(header_bytes);
        CHECK(verify_chunk(decoded.value().header, data.first(data.size() - 1)).message() ==
              fmt::format("chunk: stripe {} chunk {}: {} bytes where the header says {}",
                          chunk.header.stripe_index,
                          chunk.header.chunk_index,
                          data.size() - 1,
                          data.size()));
    }
}

TEST_CASE("chunk: the decoder says what is wrong", "[unit][object]") {
    const Buffer bytes = sample_chunk(2, 3).bytes;
    const auto patched = [&](size_t offset, uint64_t value, size_t width) {
        return decode_chunk_header(patch(bytes, offset, value, width).view()).status().message();
    };
    CHECK(decode_chunk_header(bytes.view().first(10)).status().message() ==
          "chunk: 10 bytes is shorter than any header");
    CHECK(patched(0, 0x4b484358, 4) == "chunk: bad magic");
    CHECK(patched(4, 9, 1) == "chunk: format 9 is not readable by this build");
    CHECK(patched(kKeyBytesOffset, 0, 2) == "chunk: key of 0 bytes");
    CHECK(patched(kKeyBytesOffset, 1025, 2) == "chunk: key of 1025 bytes");
    CHECK(decode_chunk_header(bytes.view().first(110)).status().message() ==
          "chunk: 110 bytes is shorter than its 118-byte header");
    Buffer unsealed = bytes.clone();
    unsealed[kChunkBytesOffset] ^= std::byte{1};
    CHECK(decode_chunk_header(unsealed.view()).status().message() ==
          "chunk: header checksum mismatch");
    CHECK(patched(kFlagsOffset, 7, 1) == "chunk: unknown flags 0x7 or reserved byte 0x0");
    CHECK(patched(kReservedOffset, 1, 1) == "chunk: unknown flags 0x3 or reserved byte 0x1");
    CHECK(patched(kFlagsOffset, 2, 1) == "chunk: an unknown size that is not 0");
    CHECK(patched(kFlagsOffset, 1, 1) == "chunk: an unknown digest that is not 0");
    CHECK(patched(kStripeCountOffset, 4, 4) == "chunk: 4 stripes for 131172 bytes");
    CHECK(patched(kKeyHashOffset, 5, 8) == "chunk: key hash does not match the key");
    CHECK(patched(kChunkBytesOffset, 26, 4) ==
          "chunk: 26-byte chunks for a 100-byte stripe under k = 4");
    CHECK(patched(kPlainBytesOffset, 101, 4) ==
          "chunk: 25-byte chunks for a 101-byte stripe under k = 4");
    CHECK(patched(kStripeIndexOffset, 3, 4) == "chunk: stripe 3 of 3");
    CHECK(patched(kObjectBytesOffset, 2 * kStripe + 99, 8) ==
          "chunk: stripe 2 of a 131171-byte object is not 100 bytes");
    CHECK(patched(8, 0, 1) == "chunk: scheme: k is 0");
    CHECK(patched(10, 6, 1) == "chunk: chunk index 6 of a 4+2 code");
    CHECK(patched(32, 0, 8) == "chunk: version 0");
}

TEST_CASE("chunk: check_chunk_header holds a streaming put to what it can know", "[unit][object]") {
    ChunkHeader header = streaming_header();
    REQUIRE(check_chunk_header(header).is_ok());
    CHECK(header.stripe_count() == 0);
    SECTION("a short stripe is the last, whose chunks carry the size and the digest") {
        header.stripe_plain_bytes = 100;
        header.chunk_bytes = 25;
        CHECK(check_chunk_header(header).message() ==
              "chunk: the last stripe's chunk does not carry the size and digest");
    }
    SECTION("the last stripe of a declared size needs the digest too") {
        header.object_bytes = kStripe;
        CHECK(check_chunk_header(header).message() ==
              "chunk: the last stripe's chunk does not carry the size and digest");
        header.object_digest = 1;
        CHECK(check_chunk_header(header).is_ok());
    }
    SECTION("the digest comes with the size, never alone") {
        header.object_digest = 1;
        CHECK(check_chunk_header(header).message() ==
              "chunk: the digest is known but not the size");
    }
    SECTION("no stripe lies past the largest object a manifest can describe") {
        const uint64_t bytes_max = striped_object_bytes_max(header.scheme, kStripe);
        header.stripe_index = static_cast<uint32_t>(bytes_max / kStripe);
        CHECK(check_chunk_header(header).message() ==
              "chunk: stripe past the largest object a manifest takes");
    }
    SECTION("sizes") {
        header.stripe_plain_bytes = 0;
        CHECK(check_chunk_header(header).message() ==
              "chunk: stripe of 0 bytes with 65536-byte stripes");
        header = streaming_header();
        header.object_bytes = 0;
        CHECK(check_chunk_header(header).message() == "chunk: object of 0 bytes");
        header = streaming_header();
        header.stripe_bytes = kStripeBytesMax + 1;
        CHECK(check_chunk_header(header).message() ==
              "chunk: stripe size 67108865 is outside [65536, 67108864]");
    }
}

TEST_CASE("chunk: check_chunk_matches finds a chunk that is not the one asked for",
          "[unit][object]") {
    const Manifest manifest = sample_manifest();
    const ChunkHeader header = sample_chunk(1, 4).header;
    CHECK(check_chunk_matches(header, manifest, 1, 4).is_ok());
    CHECK(check_chunk_matches(streaming_header(), manifest, 0, 0).is_ok());
    CHECK(check_chunk_matches(header, manifest, 1, 3).message() ==
          "chunk: stripe 1 chunk 3: chunk index does not match its manifest");
    CHECK(check_chunk_matches(header, manifest, 0, 4).message() ==
          "chunk: stripe 0 chunk 4: stripe index does not match its manifest");
    const auto mismatch = [&](auto change) {
        ChunkHeader other = header;
        change(other);
        return check_chunk_matches(other, manifest, 1, 4).message();
    };
    const std::string suffix = " does not match its manifest";
    CHECK(mismatch([](ChunkHeader& h) { h.key = "photos/dog.jpg"; }) ==
          "chunk: stripe 1 chunk 4: key" + suffix);
    CHECK(mismatch([](ChunkHeader& h) { h.version.node = NodeId{1}; }) ==
          "chunk: stripe 1 chunk 4: version" + suffix);
    CHECK(mismatch([](ChunkHeader& h) { h.created_ms += 1; }) ==
          "chunk: stripe 1 chunk 4: creation time" + suffix);
    CHECK(mismatch([](ChunkHeader& h) { h.scheme.m = 3; }) ==
          "chunk: stripe 1 chunk 4: code" + suffix);
    CHECK(mismatch([](ChunkHeader& h) { h.stripe_bytes *= 2; }) ==
          "chunk: stripe 1 chunk 4: stripe size" + suffix);
    CHECK(mismatch([](ChunkHeader& h) { h.stripe_plain_bytes -= 1; }) ==
          "chunk: stripe 1 chunk 4: stripe length" + suffix);
    CHECK(mismatch([](ChunkHeader& h) { h.stripe_digest += 1; }) ==
          "chunk: stripe 1 chunk 4: stripe digest" + suffix);
    CHECK(mismatch([](ChunkHeader& h) { h.object_bytes = 5; }) ==
          "chunk: stripe 1 chunk 4: object size" + suffix);
    CHECK(mismatch([](ChunkHeader& h) { h.object_digest = 5; }) ==
          "chunk: stripe 1 chunk 4: object digest" + suffix);
}

TEST_CASE("chunk: the fields sit where docs/object_format.md puts them", "[unit][object]") {
    const StoredChunk chunk = sample_chunk(2, 3);
    const ChunkHeader& header = chunk.header;
    const std::byte* at = chunk.bytes.data();
    CHECK(as_string_view(chunk.bytes.view().first(4)) == "SCHK");
    CHECK(at[4] == std::byte{2});
    CHECK(at[kFlagsOffset] == std::byte{3});
    CHECK(decode_fixed16(at + kKeyBytesOffset) == header.key.size());
    CHECK(at[8] == std::byte{4});
    CHECK(at[9] == std::byte{2});
    CHECK(at[10] == std::byte{3});
    CHECK(at[kReservedOffset] == std::byte{0});
    CHECK(decode_fixed32(at + kStripeIndexOffset) == 2);
    CHECK(decode_fixed32(at + kStripeCountOffset) == 3);
    CHECK(decode_fixed32(at + 20) == kStripe);
    CHECK(decode_fixed32(at + kPlainBytesOffset) == 100);
    CHECK(decode_fixed32(at + kChunkBytesOffset) == 25);
    CHECK(decode_fixed64(at + 32) == kVersion.hlc);
    CHECK(decode_fixed64(at + 40) == 42);
    CHECK(decode_fixed64(at + 48) == header.created_ms);
    CHECK(decode_fixed64(at + kKeyHashOffset) == key_hash("photos/cat.jpg"));
    CHECK(decode_fixed64(at + kObjectBytesOffset) == 2 * kStripe + 100);
    CHECK(decode_fixed64(at + kObjectDigestOffset) == 0x0123456789abcdef);
    CHECK(decode_fixed64(at + 80) == 0x3333333333333333);
    CHECK(decode_fixed64(at + 88) == header.chunk_checksum);
    CHECK(as_string_view(chunk.bytes.view().subspan(96, 14)) == "photos/cat.jpg");
    CHECK(decode_fixed64(at + 110) == hash64(chunk.bytes.view().first(110)));
    CHECK(chunk.bytes.size() == 118 + 25);
}

TEST_CASE("chunk: the encodings are pinned", "[unit][object]") {
    // A change here is a format change: bump kChunkFormat and say so in the doc.
    CHECK(hash64(sample_chunk(2, 3).bytes.view()) == UINT64_C(0x0531539b62bbe3e5));
    CHECK(hash64(stored(streaming_header()).bytes.view()) == UINT64_C(0x45817ce547b03dbe));
}

}  // namespace
}  // namespace shoal::object

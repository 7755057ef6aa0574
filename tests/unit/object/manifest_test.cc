// Goal: every manifest the coordinator can build encodes to the bytes docs/object_format.md
// describes and decodes back to itself, at every bound; every damaged or hostile encoding is
// refused with kCorruption and a reason, never a crash, and never after allocating for a count
// it had not checked; and the format is pinned, so a change to it breaks this test.
//
// Method: round-trip manifests at their bounds; flip each bit of, truncate and extend small
// encodings; patch single fields of an encoding and reseal its checksum, so the checks behind
// the checksum are reached; decode hostile counts under an AllocationProbe; hash pinned
// encodings.
#include "shoal/object/manifest.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "allocation_probe.h"
#include "shoal/base/coding.h"
#include "shoal/base/hash.h"

namespace shoal::object {
namespace {

constexpr uint32_t kStripe = 64 * 1024;
constexpr Version kVersion{.hlc = (uint64_t{1'700'000'000'000} << 16) + 7, .node = NodeId{42}};

// Field offsets from docs/object_format.md.
constexpr size_t kKindOffset = 5;
constexpr size_t kKeyBytesOffset = 6;
constexpr size_t kManifestBytesOffset = 8;
constexpr size_t kSchemeOffset = 12;
constexpr size_t kNodeCountOffset = 14;
constexpr size_t kStripeBytesOffset = 16;
constexpr size_t kStripeCountOffset = 20;
constexpr size_t kObjectBytesOffset = 48;

Buffer encode(const Manifest& manifest) {
    Buffer bytes;
    encode_manifest(manifest, bytes);
    return bytes;
}

// Recomputes the trailing checksum after a test patched a field.
void reseal(Buffer& bytes) {
    const size_t body_bytes = bytes.size() - kChecksumBytes;
    encode_fixed64(bytes.data() + body_bytes, hash64(bytes.view().first(body_bytes)));
}

// A copy of `base` with `width` bytes at `offset` set to `value` (little-endian), resealed.
Buffer patch(const Buffer& base, size_t offset, uint64_t value, size_t width) {
    Buffer bytes = base.clone();
    for (size_t index = 0; index < width; index++) {
        bytes[offset + index] = static_cast<std::byte>((value >> (8 * index)) & 0xFF);
    }
    reseal(bytes);
    return bytes;
}

std::vector<std::byte> data_of(size_t size, uint8_t seed) {
    std::vector<std::byte> data(size);
    for (size_t index = 0; index < size; index++) {
        data[index] = static_cast<std::byte>((index * 31 + seed) & 0xFF);
    }
    return data;
}

// RS 4+2, three stripes (the last of 100 bytes), hints naming three nodes and some unknown.
Manifest sample_striped() {
    Manifest manifest = striped_manifest({.key = "photos/cat.jpg",
                                          .version = kVersion,
                                          .created_ms = 1'700'000'000'000,
                                          .object_bytes = 2 * kStripe + 100,
                                          .object_digest = 0x0123456789abcdef,
                                          .scheme = {.k = 4, .m = 2},
                                          .stripe_bytes = kStripe});
    const NodeKey nodes[] = {{.high = 9, .low = 1}, {.high = 1, .low = 2}, {.high = 1, .low = 1}};
    for (uint32_t stripe = 0; stripe < manifest.stripe_count(); stripe++) {
        manifest.stripe_digests[stripe] = 0x1111111111111111 * (stripe + 1);
        for (uint32_t chunk = 0; chunk < 6; chunk++) {
            if ((stripe + chunk) % 4 == 3) continue;  // Unknown.
            manifest.set_chunk_node(stripe, chunk, nodes[(stripe * 6 + chunk) % 3]);
        }
    }
    return manifest;
}

Manifest sample_inline() {
    const std::vector<std::byte> data = data_of(300, 5);
    return inline_manifest("notes/todo.txt", kVersion, 1'700'000'000'123, data);
}

Manifest sample_tombstone() {
    return tombstone_manifest("photos/cat.jpg", {.hlc = kVersion.hlc + 1, .node = NodeId{3}}, 77);
}

// A striped manifest whose every hint names a distinct node, with `node_count` of them.
Manifest with_distinct_nodes(Manifest manifest, size_t node_count) {
    for (size_t index = 0; index < manifest.chunk_nodes.size(); index++) {
        manifest.chunk_nodes[index] = {.high = index % node_count, .low = 1 + index % node_count};
    }
    return manifest;
}

std::vector<Manifest> manifests_at_bounds() {
    std::vector<Manifest> manifests{sample_striped(), sample_inline(), sample_tombstone()};
    const std::string longest_key(limits::kKeyBytesMax, 'k');
    manifests.push_back(inline_manifest("k", {.hlc = 1, .node = NodeId{0}}, 0, {}));
    const std::vector<std::byte> inline_max = data_of(kInlineBytesMax, 9);
    manifests.push_back(inline_manifest(
            longest_key, {.hlc = UINT64_MAX, .node = NodeId{UINT64_MAX}}, UINT64_MAX, inline_max));
    manifests.push_back(tombstone_manifest(longest_key, kVersion, 0));
    const Scheme schemes[] = {{.k = 1, .m = 0},
                              {.k = 1, .m = 2},
                              {.k = 16, .m = 16},
                              {.k = 31, .m = 1},
                              {.k = 32, .m = 0}};
    for (const Scheme scheme : schemes) {
        manifests.push_back(striped_manifest({.key = "k",
                                              .version = kVersion,
                                              .object_bytes = 1,
                                              .object_digest = UINT64_MAX,
                                              .scheme = scheme,
                                              .stripe_bytes = kStripeBytesMax}));
    }
    Manifest all_known = striped_manifest({.key = longest_key,
                                           .version = kVersion,
                                           .object_bytes = 5 * uint64_t{kStripeBytesMin},
                                           .scheme = {.k = 4, .m = 2},
                                           .stripe_bytes = kStripeBytesMin});
    manifests.push_back(with_distinct_nodes(std::move(all_known), 30));
    return manifests;
}

TEST_CASE("manifest: every kind round-trips at its bounds", "[unit][object]") {
    for (const Manifest& manifest : manifests_at_bounds()) {
        CAPTURE(manifest.key.size(), static_cast<int>(manifest.kind), manifest.object_bytes);
        REQUIRE(check_manifest(manifest).is_ok());
        const Buffer bytes = encode(manifest);
        CHECK(bytes.size() == encoded_manifest_bytes(manifest));
        Result<Manifest> decoded = decode_manifest(bytes.view());
        REQUIRE(decoded.is_ok());
        CHECK(decoded.value() == manifest);
        CHECK(equal_bytes(encode(decoded.value()).view(), bytes.view()));
        Result<ManifestHead> head = decode_manifest_head(bytes.view());
        REQUIRE(head.is_ok());
        CHECK(head.value().kind == manifest.kind);
        CHECK(head.value().key == manifest.key);
        CHECK(head.value().version == manifest.version);
        CHECK(head.value().object_bytes == manifest.object_bytes);
        CHECK(head.value().object_digest == manifest.object_digest);
    }
}

TEST_CASE("manifest: an inline manifest made with its digest known is the one computed",
          "[unit][object]") {
    const std::vector<std::byte> data = data_of(4096, 3);
    const Manifest computed = inline_manifest("k", kVersion, 5, data);
    CHECK(inline_manifest("k", kVersion, 5, data, hash64(data)) == computed);
    CHECK(computed.object_digest == hash64(data));
}

TEST_CASE("manifest: the largest manifest fits its limit and round-trips", "[unit][object]") {
    const Scheme scheme{.k = 4, .m = 2};
    Manifest manifest =
            striped_manifest({.key = std::string(limits::kKeyBytesMax, 'k'),
                              .version = kVersion,
                              .object_bytes = striped_object_bytes_max(scheme, kStripeBytesMin),
                              .scheme = scheme,
                              .stripe_bytes = kStripeBytesMin});
    manifest = with_distinct_nodes(std::move(manifest), kManifestNodesMax);
    REQUIRE(manifest.stripe_count() == 49097);
    const Buffer bytes = encode(manifest);
    CHECK(bytes.size() <= kManifestBytesMax);
    CHECK(bytes.size() > kManifestBytesMax - 32);  // Nothing much is left over.
    Result<Manifest> decoded = decode_manifest(bytes.view());
    REQUIRE(decoded.is_ok());
    CHECK(decoded.value() == manifest);
}

TEST_CASE("manifest: one node or one byte past the limits is refused", "[unit][object]") {
    const Scheme scheme{.k = 4, .m = 2};
    Manifest manifest = striped_manifest({.key = "k",
                                          .version = kVersion,
                                          .object_bytes = 700 * uint64_t{kStripe},
                                          .scheme = scheme,
                                          .stripe_bytes = kStripe});
    manifest = with_distinct_nodes(std::move(manifest), kManifestNodesMax);
    REQUIRE(check_manifest(manifest).is_ok());
    manifest.chunk_nodes[0] = {.high = 7, .low = 7};
    CHECK(check_manifest(manifest).message() == "manifest: hints name over 4096 nodes");
    const Manifest largest =
            striped_manifest({.key = "k",
                              .version = kVersion,
                              .object_bytes = striped_object_bytes_max(scheme, kStripe),
                              .scheme = scheme,
                              .stripe_bytes = kStripe});
    REQUIRE(check_manifest(largest).is_ok());
    Manifest larger = largest;
    larger.object_bytes += 1;
    CHECK(check_manifest(larger).code() == Code::kInvalidArgument);
}

TEST_CASE("manifest: every flipped bit, truncation and extension is refused", "[unit][object]") {
    for (const Manifest& manifest : {sample_striped(), sample_inline(), sample_tombstone()}) {
        const Buffer bytes = encode(manifest);
        CAPTURE(static_cast<int>(manifest.kind), bytes.size());
        for (size_t index = 0; index < bytes.size(); index++) {
            for (int bit = 0; bit < 8; bit++) {
                Buffer damaged = bytes.clone();
                damaged[index] ^= static_cast<std::byte>(1 << bit);
                const Result<Manifest> decoded = decode_manifest(damaged.view());
                CAPTURE(index, bit);
                REQUIRE(decoded.status().code() == Code::kCorruption);
                REQUIRE(decode_manifest_head(damaged.view()).status().code() == Code::kCorruption);
            }
        }
        for (size_t size = 0; size < bytes.size(); size++) {
            CAPTURE(size);
            REQUIRE(decode_manifest(bytes.view().first(size)).status().code() == Code::kCorruption);
            REQUIRE(decode_manifest_head(bytes.view().first(size)).status().code() ==
                    Code::kCorruption);
        }
        Buffer extended = bytes.clone();
        extended.append(std::string_view("x"));
        CHECK(decode_manifest(extended.view()).status().code() == Code::kCorruption);
    }
}

TEST_CASE("manifest: the decoder says what is wrong", "[unit][object]") {
    const Buffer striped = encode(sample_striped());
    const auto patched = [&](size_t offset, uint64_t value, size_t width) {
        return decode_manifest(patch(striped, offset, value, width).view()).status().message();
    };
    CHECK(decode_manifest(ByteView()).status().message() ==
          "manifest: 0 bytes is shorter than any manifest");
    CHECK(patched(0, 0x4e414d58, 4) == "manifest: bad magic");
    CHECK(patched(4, 2, 1) == "manifest: format 2 is not readable by this build");
    CHECK(patched(kKindOffset, 4, 1) == "manifest: unknown kind 4");
    CHECK(patched(kKindOffset, 1, 1) == "manifest: stripe fields in a manifest without stripes");
    CHECK(patched(kSchemeOffset, 0, 1) == "manifest: scheme: k is 0");
    CHECK(patched(kSchemeOffset + 1, 29, 1) ==
          "manifest: scheme: 4+29 is over 32 chunks per stripe");
    CHECK(patched(kStripeCountOffset, 4, 4) == "manifest: 4 stripes for 131172 bytes");
    CHECK(patched(kNodeCountOffset, 4, 2) == "manifest: 194 bytes where its counts make 210");
    Buffer wrong_length = striped.clone();
    encode_fixed32(wrong_length.data() + kManifestBytesOffset, 9);
    CHECK(decode_manifest(wrong_length.view()).status().message() ==
          "manifest: 194 bytes where it says 9");
    Buffer unsealed = striped.clone();
    unsealed[kObjectBytesOffset] ^= std::byte{1};
    CHECK(decode_manifest(unsealed.view()).status().message() == "manifest: checksum mismatch");
}

TEST_CASE("manifest: the node table is sorted, unique, non-zero, and every entry is named",
          "[unit][object]") {
    const Buffer striped = encode(sample_striped());
    const size_t table = kManifestFixedBytes + sample_striped().key.size();
    Buffer zero = striped.clone();
    std::memset(zero.data() + table, 0, kNodeKeyBytes);
    reseal(zero);
    CHECK(decode_manifest(zero.view()).status().message() ==
          "manifest: node 0 of the table is zero");
    Buffer swapped = striped.clone();
    std::memcpy(swapped.data() + table, striped.data() + table + kNodeKeyBytes, kNodeKeyBytes);
    std::memcpy(swapped.data() + table + kNodeKeyBytes, striped.data() + table, kNodeKeyBytes);
    reseal(swapped);
    CHECK(decode_manifest(swapped.view()).status().message() ==
          "manifest: node 1 of the table is out of order");
    const size_t hints = table + 3 * kNodeKeyBytes + 8;
    Buffer past = striped.clone();
    encode_fixed16(past.data() + hints, 4);
    reseal(past);
    CHECK(decode_manifest(past.view()).status().message() ==
          "manifest: stripe 0 chunk 0 names node 4 of a table of 3");
    Buffer unnamed = striped.clone();
    for (size_t stripe = 0; stripe < 3; stripe++) {
        for (size_t chunk = 0; chunk < 6; chunk++) {
            const size_t at = hints + stripe * 20 + chunk * 2;
            if (decode_fixed16(unnamed.data() + at) == 3) {
                encode_fixed16(unnamed.data() + at, 1);
            }
        }
    }
    reseal(unnamed);
    CHECK(decode_manifest(unnamed.view()).status().message() ==
          "manifest: a node in the table is named by no hint");
}

TEST_CASE("manifest: the decoder checks what the checksum cannot vouch for", "[unit][object]") {
    // A checksum is no proof against a writer that computed it over bad fields.
    Buffer data = encode(sample_inline());
    data[kManifestFixedBytes + sample_inline().key.size()] ^= std::byte{0x40};
    reseal(data);
    CHECK(decode_manifest(data.view()).status().message() ==
          "manifest: inline data does not match the object digest");
    Buffer key = encode(sample_tombstone());
    key[kManifestFixedBytes + 2] = std::byte{0};
    reseal(key);
    CHECK(decode_manifest(key.view()).status().message() == "manifest: key contains a NUL byte");
    Buffer zero = encode(sample_tombstone());
    encode_fixed64(zero.data() + 24, 0);
    reseal(zero);
    CHECK(decode_manifest(zero.view()).status().message() == "manifest: version 0");
}

TEST_CASE("manifest: hostile counts are refused before anything is allocated for them",
          "[unit][object]") {
    struct Hostile {
        const char* what;
        Buffer bytes;
    };
    std::vector<Hostile> cases;
    const auto add =
            [&](const char* what, const Buffer& base, size_t offset, uint64_t value, size_t width) {
                cases.push_back({what, patch(base, offset, value, width)});
            };
    const Buffer striped = encode(sample_striped());
    const Buffer inlined = encode(sample_inline());
    add("key bytes", inlined, kKeyBytesOffset, UINT16_MAX, 2);
    add("inline bytes", inlined, kObjectBytesOffset, limits::kObjectBytesMax, 8);
    add("node count", striped, kNodeCountOffset, UINT16_MAX, 2);
    add("node count at its limit", striped, kNodeCountOffset, kManifestNodesMax, 2);
    add("object bytes", striped, kObjectBytesOffset, UINT64_MAX, 8);
    add("stripe bytes", striped, kStripeBytesOffset, 1, 4);
    Buffer many_stripes = striped.clone();
    const uint64_t object_bytes = striped_object_bytes_max({.k = 4, .m = 2}, kStripe);
    encode_fixed64(many_stripes.data() + kObjectBytesOffset, object_bytes);
    add("stripe count", many_stripes, kStripeCountOffset, stripe_count(object_bytes, kStripe), 4);
    for (const Hostile& hostile : cases) {
        CAPTURE(hostile.what);
        testing::AllocationProbe probe;
        const Result<Manifest> decoded = decode_manifest(hostile.bytes.view());
        CHECK(decoded.status().code() == Code::kCorruption);
        CHECK(probe.largest_bytes() < 512);
    }
}

TEST_CASE("manifest: check_manifest names the rule a value breaks", "[unit][object]") {
    Manifest striped = sample_striped();
    Manifest inlined = sample_inline();
    Manifest tombstone = sample_tombstone();
    SECTION("key and version") {
        striped.key = "";
        CHECK(check_manifest(striped).message() == "manifest: key is empty");
        inlined.version.hlc = 0;
        CHECK(check_manifest(inlined).message() == "manifest: version 0");
    }
    SECTION("an inline object") {
        inlined.object_bytes += 1;
        CHECK(check_manifest(inlined).message() ==
              "manifest: inline data is not object_bytes long");
        inlined = sample_inline();
        inlined.object_digest += 1;
        CHECK(check_manifest(inlined).message() ==
              "manifest: inline data does not match the object digest");
        const std::vector<std::byte> big = data_of(kInlineBytesMax + 1, 1);
        inlined.inline_data = big;
        inlined.object_bytes = big.size();
        inlined.object_digest = hash64(big);
        CHECK(check_manifest(inlined).message() ==
              "manifest: 4097 bytes is over the inline limit of 4096");
        inlined = sample_inline();
        inlined.stripe_bytes = kStripe;
        CHECK(check_manifest(inlined).message() == "manifest: an inline object has stripe fields");
    }
    SECTION("a striped object") {
        striped.stripe_digests.pop_back();
        CHECK(check_manifest(striped).message() == "manifest: 2 stripe digests for 3 stripes");
        striped = sample_striped();
        striped.chunk_nodes.pop_back();
        CHECK(check_manifest(striped).message() ==
              "manifest: chunk_nodes is not stripe count x (k + m) long");
        striped = sample_striped();
        striped.inline_data.push_back(std::byte{1});
        CHECK(check_manifest(striped).message() == "manifest: a striped object has inline data");
        striped = sample_striped();
        striped.stripe_bytes = kStripeBytesMin - 1;
        CHECK(check_manifest(striped).message() ==
              "manifest: stripe size 65535 is outside [65536, 67108864]");
        striped = sample_striped();
        striped.scheme = {.k = 20, .m = 20};
        CHECK(check_manifest(striped).message() ==
              "manifest: scheme: 20+20 is over 32 chunks per stripe");
        striped = sample_striped();
        striped.object_bytes = 0;
        CHECK(check_manifest(striped).message() == "manifest: a striped object is empty");
        striped.object_bytes = striped_object_bytes_max(striped.scheme, kStripe) + 1;
        CHECK(check_manifest(striped).message() ==
              "manifest: 3217620993 bytes is over the 3217620992 a manifest can describe "
              "with 4+2 and 65536-byte stripes");
    }
    SECTION("a tombstone") {
        tombstone.object_bytes = 1;
        CHECK(check_manifest(tombstone).message() == "manifest: a tombstone has object fields");
    }
    SECTION("an unknown kind") {
        tombstone.kind = static_cast<ManifestKind>(9);
        CHECK(check_manifest(tombstone).message() == "manifest: unknown kind 9");
    }
}

TEST_CASE("manifest: the fields sit where docs/object_format.md puts them", "[unit][object]") {
    const Manifest manifest = sample_striped();
    const Buffer bytes = encode(manifest);
    const std::byte* at = bytes.data();
    CHECK(as_string_view(bytes.view().first(4)) == "SMAN");
    CHECK(at[4] == std::byte{1});
    CHECK(at[kKindOffset] == std::byte{2});
    CHECK(decode_fixed16(at + kKeyBytesOffset) == manifest.key.size());
    CHECK(decode_fixed32(at + kManifestBytesOffset) == bytes.size());
    CHECK(at[kSchemeOffset] == std::byte{4});
    CHECK(at[kSchemeOffset + 1] == std::byte{2});
    CHECK(decode_fixed16(at + kNodeCountOffset) == 3);
    CHECK(decode_fixed32(at + kStripeBytesOffset) == kStripe);
    CHECK(decode_fixed32(at + kStripeCountOffset) == 3);
    CHECK(decode_fixed64(at + 24) == kVersion.hlc);
    CHECK(decode_fixed64(at + 32) == 42);
    CHECK(decode_fixed64(at + 40) == manifest.created_ms);
    CHECK(decode_fixed64(at + kObjectBytesOffset) == manifest.object_bytes);
    CHECK(decode_fixed64(at + 56) == manifest.object_digest);
    CHECK(as_string_view(bytes.view().subspan(kManifestFixedBytes, manifest.key.size())) ==
          manifest.key);
    // The node table, sorted by (high, low), each low then high; then stripes of a digest
    // and six hints, 1 + the node's place in the table, 0 unknown.
    const size_t table = kManifestFixedBytes + manifest.key.size();
    CHECK(decode_fixed64(at + table) == 1);       // {1, 1}: low.
    CHECK(decode_fixed64(at + table + 8) == 1);   // high.
    CHECK(decode_fixed64(at + table + 16) == 2);  // {1, 2}.
    CHECK(decode_fixed64(at + table + 40) == 9);  // {9, 1}: high.
    const size_t stripes = table + 3 * kNodeKeyBytes;
    CHECK(decode_fixed64(at + stripes) == manifest.stripe_digests[0]);
    // Stripe 0 hints: nodes[0], nodes[1], nodes[2], unknown, nodes[1], nodes[2].
    const uint16_t hints[] = {3, 2, 1, 0, 2, 1};
    for (size_t chunk = 0; chunk < 6; chunk++) {
        CAPTURE(chunk);
        CHECK(decode_fixed16(at + stripes + 8 + 2 * chunk) == hints[chunk]);
    }
    CHECK(bytes.size() == stripes + size_t{3} * 20 + kChecksumBytes);
    CHECK(decode_fixed64(at + bytes.size() - 8) == hash64(bytes.view().first(bytes.size() - 8)));
}

TEST_CASE("manifest: the encodings are pinned", "[unit][object]") {
    // A change here is a format change: bump kManifestFormat and say so in the doc.
    CHECK(hash64(encode(sample_striped()).view()) == UINT64_C(0xd4ff206edcdb6ba5));
    CHECK(hash64(encode(sample_inline()).view()) == UINT64_C(0x1381af04d521052d));
    CHECK(hash64(encode(sample_tombstone()).view()) == UINT64_C(0x9f3ef0fe5071fabe));
}

TEST_CASE("manifest: the newer version wins, whatever the kinds", "[unit][object]") {
    const Manifest put = sample_striped();
    Manifest later_delete = sample_tombstone();
    REQUIRE(later_delete.version.hlc == put.version.hlc + 1);
    CHECK(newer(later_delete, put));
    CHECK_FALSE(newer(put, later_delete));
    CHECK_FALSE(newer(put, put));
    // At the same timestamp the node id breaks the tie.
    later_delete.version = {.hlc = put.version.hlc, .node = NodeId{43}};
    CHECK(newer(later_delete, put));
    later_delete.version.node = NodeId{41};
    CHECK(newer(put, later_delete));
}

}  // namespace
}  // namespace shoal::object

// Goal: store keys name manifests and chunks without ambiguity and parse back to what made
// them; byte order is the order docs/object_format.md promises (user keys in order for
// listing, an object's chunks together by version, stripe and chunk); and every store key
// fits what the storage module is asked to accept (kStoreKeyBytesMax).
//
// Method: round-trip keys at their bounds, sort many chunk ids both ways and compare, and
// feed the parser keys in no namespace or of the wrong length.
#include "shoal/object/store_key.h"

#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "shoal/base/prng.h"
#include "shoal/object/layout.h"

namespace shoal::object {
namespace {

bool chunk_less(const ChunkId& a, const ChunkId& b) {
    if (a.key_hash != b.key_hash) return a.key_hash < b.key_hash;
    if (a.version != b.version) return a.version < b.version;
    if (a.stripe_index != b.stripe_index) return a.stripe_index < b.stripe_index;
    return a.chunk_index < b.chunk_index;
}

TEST_CASE("store key: a manifest key is the namespace byte and the user key", "[unit][object]") {
    const std::string longest(limits::kKeyBytesMax, '\xff');
    for (const std::string& user_key : {std::string("k"), std::string("photos/cat.jpg"), longest}) {
        const std::string key = manifest_store_key(user_key);
        CHECK(key.size() == 1 + user_key.size());
        CHECK(key.size() <= kStoreKeyBytesMax);
        CHECK(key[0] == '\x01');
        Result<StoreKey> parsed = parse_store_key(key);
        REQUIRE(parsed.is_ok());
        CHECK(parsed.value().kind == StoreKeyKind::kManifest);
        CHECK(parsed.value().user_key == user_key);
    }
    CHECK(manifest_store_key(longest).size() == kStoreKeyBytesMax);
    // A prefix scan over the manifest prefix lists user keys in their own order.
    CHECK(manifest_store_prefix("") == "\x01");
    CHECK(manifest_store_key("photos/cat.jpg").starts_with(manifest_store_prefix("photos/")));
    CHECK(manifest_store_key("a") < manifest_store_key("ab"));
    CHECK(manifest_store_key("ab") < manifest_store_key("b"));
}

TEST_CASE("store key: a chunk key is 30 bytes, big-endian, and parses back", "[unit][object]") {
    const ChunkId chunk{.key_hash = 0x0102030405060708,
                        .version = {.hlc = 0x1112131415161718, .node = NodeId{0x2122232425262728}},
                        .stripe_index = 0x31323334,
                        .chunk_index = 0x41};
    const std::string key = chunk_store_key(chunk);
    CHECK(key == std::string("\x02\x01\x02\x03\x04\x05\x06\x07\x08\x11\x12\x13\x14\x15\x16\x17\x18"
                             "\x21\x22\x23\x24\x25\x26\x27\x28\x31\x32\x33\x34\x41"));
    CHECK(key.size() == kChunkStoreKeyBytes);
    Result<StoreKey> parsed = parse_store_key(key);
    REQUIRE(parsed.is_ok());
    CHECK(parsed.value().kind == StoreKeyKind::kChunk);
    CHECK(parsed.value().chunk == chunk);
    CHECK(key.starts_with(chunk_store_prefix(chunk.key_hash, chunk.version)));
    CHECK(key.starts_with(chunk_store_prefix(chunk.key_hash)));
    CHECK(chunk_store_prefix(chunk.key_hash).size() == 9);
    CHECK(chunk_store_prefix(chunk.key_hash, chunk.version).size() == 25);

    const ChunkId zero{};
    REQUIRE(parse_store_key(chunk_store_key(zero)).is_ok());
    CHECK(parse_store_key(chunk_store_key(zero)).value().chunk == zero);
    const ChunkId ones{.key_hash = UINT64_MAX,
                       .version = {.hlc = UINT64_MAX, .node = NodeId{UINT64_MAX}},
                       .stripe_index = UINT32_MAX,
                       .chunk_index = UINT8_MAX};
    CHECK(parse_store_key(chunk_store_key(ones)).value().chunk == ones);
}

TEST_CASE("store key: chunk keys sort by key hash, version, stripe, then chunk", "[unit][object]") {
    const uint64_t seed = GENERATE(uint64_t{1}, 2, 3);
    CAPTURE(seed);
    Prng prng(seed);
    std::vector<ChunkId> chunks;
    chunks.reserve(500);
    for (int index = 0; index < 500; index++) {
        // Few distinct values per field, so that ties on the earlier fields are common.
        chunks.push_back(
                {.key_hash = prng.below(3) << 60 | prng.below(2),
                 .version = {.hlc = prng.below(4) << 40 | prng.below(3),
                             .node = NodeId{prng.below(3) << 56}},
                 .stripe_index = static_cast<uint32_t>(prng.below(3) << 24 | prng.below(2)),
                 .chunk_index = static_cast<uint8_t>(prng.below(3) * 100)});
    }
    std::vector<ChunkId> by_fields = chunks;
    std::stable_sort(by_fields.begin(), by_fields.end(), chunk_less);
    std::vector<ChunkId> by_bytes = chunks;
    std::stable_sort(by_bytes.begin(), by_bytes.end(), [](const ChunkId& a, const ChunkId& b) {
        return chunk_store_key(a) < chunk_store_key(b);
    });
    CHECK(by_fields == by_bytes);
}

TEST_CASE("store key: keys in no namespace, or malformed, are refused", "[unit][object]") {
    CHECK(parse_store_key("").status().message() == "store key: empty");
    CHECK(parse_store_key("\x01").status().message() == "store key: key is empty");
    CHECK(parse_store_key(std::string("\x01"
                                      "a\0b",
                                      4))
                  .status()
                  .message() == "store key: key contains a NUL byte");
    CHECK(parse_store_key("\x01" + std::string(limits::kKeyBytesMax + 1, 'k')).status().code() ==
          Code::kInvalidArgument);
    CHECK(parse_store_key(std::string("\0k", 2)).status().message() ==
          "store key: unknown namespace 0x00");
    CHECK(parse_store_key("photos/cat.jpg").status().message() ==
          "store key: unknown namespace 0x70");
    const std::string chunk = chunk_store_key({.key_hash = 1});
    CHECK(parse_store_key(chunk.substr(0, 29)).status().message() ==
          "store key: a chunk key of 29 bytes, not 30");
    CHECK(parse_store_key(chunk + "x").status().message() ==
          "store key: a chunk key of 31 bytes, not 30");
}

}  // namespace
}  // namespace shoal::object

// Goal: hash64 is xxh3-64 and stays exactly that, since its values are stored and sent
// (object digests), whichever SIMD code computes it; the streaming Hasher64 agrees with the
// one-shot hash however the bytes are split.
//
// Method: pin test vectors: the empty input and "abc" (both match the xxHash reference), a
// seeded "abc", and 1 MiB of splitmix64 output generated here (so the vector does not depend
// on Prng); compare with xxHash's portable code at every length up to 2 KiB and beyond. Then
// feed the same bytes to Hasher64 in random splits from seeded Prngs, empty pieces included,
// and compare with hash64.
#include "shoal/base/hash.h"

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
// The reference: xxHash's portable code, compiled into this test.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "shoal/base/bytes.h"
#include "shoal/base/prng.h"

namespace shoal {
namespace {

constexpr uint64_t kEmptyHash = 0x2d06800538d394c2;
constexpr uint64_t kAbcHash = 0x78af5f94892f3950;
constexpr uint64_t kAbcSeedOneHash = 0x6b4467b443c76228;
constexpr uint64_t kMebibyteHash = 0xe8e6429f39bc093d;
constexpr size_t kMebibyte = 1024 * 1024;

// `size` bytes of splitmix64 output from state 0x5eed, eight bytes per word, little-endian.
Buffer splitmix_bytes(size_t size) {
    Buffer buffer(size);
    uint64_t state = 0x5eed;
    for (size_t offset = 0; offset < size; offset += 8) {
        state += 0x9e3779b97f4a7c15;
        uint64_t mixed = state;
        mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9;
        mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111eb;
        mixed ^= mixed >> 31;
        std::memcpy(buffer.data() + offset, &mixed, std::min<size_t>(8, size - offset));
    }
    return buffer;
}

TEST_CASE("hash: hash64 matches pinned xxh3-64 test vectors", "[unit][hash]") {
    CHECK(hash64(ByteView{}) == kEmptyHash);
    CHECK(hash64(as_bytes("")) == kEmptyHash);
    CHECK(hash64(as_bytes("abc")) == kAbcHash);
    CHECK(hash64(as_bytes("abc"), /*seed=*/1) == kAbcSeedOneHash);
    CHECK(hash64(as_bytes("abc"), /*seed=*/0) == kAbcHash);

    const Buffer mebibyte = splitmix_bytes(kMebibyte);
    CHECK(hash64(mebibyte.view()) == kMebibyteHash);
}

// Long inputs may go to libxxhash's SIMD entries, short ones never do: on both sides of the
// switch, seeded or not, one-shot or streamed, the hashes are the portable code's.
TEST_CASE("hash: hash64 and Hasher64 give the portable xxh3's hashes at every length",
          "[unit][hash]") {
    const Buffer bytes = splitmix_bytes(70'000);
    for (size_t length = 0; length <= 70'000; length += length < 2100 ? 1 : 4093) {
        CAPTURE(length);
        const ByteView input = bytes.view().first(length);
        for (const uint64_t seed : {uint64_t{0}, uint64_t{1}, uint64_t{0x5eed'0000'0000'0001}}) {
            CAPTURE(seed);
            REQUIRE(hash64(input, seed) == XXH3_64bits_withSeed(input.data(), length, seed));
        }
        Hasher64 hasher;
        hasher.update(input.first(length / 3));
        hasher.update(input.subspan(length / 3));
        REQUIRE(hasher.digest() == XXH3_64bits(input.data(), length));
    }
}

TEST_CASE("hash: one changed byte changes the hash", "[unit][hash]") {
    Buffer bytes = splitmix_bytes(4096);
    const uint64_t before = hash64(bytes.view());
    bytes[2048] ^= std::byte{0x01};
    CHECK(hash64(bytes.view()) != before);
}

TEST_CASE("hash: a Hasher64 given nothing digests to the empty hash", "[unit][hash]") {
    Hasher64 hasher;
    CHECK(hasher.digest() == kEmptyHash);
    hasher.update(ByteView{});
    CHECK(hasher.digest() == kEmptyHash);
}

TEST_CASE("hash: Hasher64 over any split equals hash64 of the whole", "[unit][hash]") {
    const Buffer mebibyte = splitmix_bytes(kMebibyte);

    SECTION("one update") {
        Hasher64 hasher;
        hasher.update(mebibyte.view());
        CHECK(hasher.digest() == kMebibyteHash);
    }
    SECTION("byte by byte over a short input") {
        Hasher64 hasher;
        hasher.update(as_bytes("a"));
        hasher.update(as_bytes("b"));
        hasher.update(as_bytes("c"));
        CHECK(hasher.digest() == kAbcHash);
    }
    SECTION("random splits") {
        const uint64_t seed = GENERATE(range<uint64_t>(1, 9));
        CAPTURE(seed);
        Prng prng(seed);
        // Small pieces straddle xxh3's 64-byte stripes and 1 KiB blocks; large ones skip them.
        const uint64_t piece_bytes_max = prng.chance(1, 2) ? 300 : 200'000;
        Hasher64 hasher;
        size_t offset = 0;
        while (offset < mebibyte.size()) {
            const size_t piece_bytes =
                    std::min<size_t>(prng.below(piece_bytes_max + 1), mebibyte.size() - offset);
            hasher.update(mebibyte.view().subspan(offset, piece_bytes));
            offset += piece_bytes;
        }
        CHECK(hasher.digest() == kMebibyteHash);
    }
    SECTION("every prefix of a short input") {
        const Buffer bytes = splitmix_bytes(300);
        for (size_t split = 0; split <= bytes.size(); split++) {
            CAPTURE(split);
            Hasher64 hasher;
            hasher.update(bytes.view().first(split));
            hasher.update(bytes.view().subspan(split));
            CHECK(hasher.digest() == hash64(bytes.view()));
        }
    }
}

TEST_CASE("hash: digest does not end the stream, and a moved hasher continues", "[unit][hash]") {
    Hasher64 hasher;
    hasher.update(as_bytes("a"));
    CHECK(hasher.digest() == hash64(as_bytes("a")));
    hasher.update(as_bytes("b"));
    Hasher64 moved(std::move(hasher));
    moved.update(as_bytes("c"));
    CHECK(moved.digest() == kAbcHash);

    Hasher64 assigned;
    assigned = std::move(moved);
    CHECK(assigned.digest() == kAbcHash);
}

TEST_CASE("hash: a hasher made from a recycled state starts from nothing", "[unit][hash]") {
    // Destroyed hashers hand their states to the next ones made on this thread.
    for (int round = 0; round < 3; ++round) {
        std::vector<Hasher64> used(70);  // More than are kept.
        for (Hasher64& hasher : used)
            hasher.update(as_bytes("left over"));
        used.clear();
        Hasher64 fresh;
        CHECK(fresh.digest() == hash64(ByteView{}));
        fresh.update(as_bytes("abc"));
        CHECK(fresh.digest() == kAbcHash);
    }
    // A hasher assigned over another gives the old state back; both stay correct.
    Hasher64 target;
    target.update(as_bytes("x"));
    Hasher64 source;
    source.update(as_bytes("abc"));
    target = std::move(source);
    CHECK(target.digest() == kAbcHash);
    const Hasher64 after;
    CHECK(after.digest() == hash64(ByteView{}));
}

}  // namespace
}  // namespace shoal

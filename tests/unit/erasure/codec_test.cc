// Goal: any k of a stripe's k + m chunks restore the rest byte-exact, for every code the cluster
// may use; a stripe with fewer than k chunks is refused, not guessed at; the generator matrix,
// which fixes the bytes of every stored parity chunk, never changes.
//
// Method: encode chunks of Prng bytes (fixed seeds), damage the lost ones, reconstruct and
// compare. Every loss pattern for every k + m <= 6 at several chunk lengths; every pattern of
// exactly m losses (the hardest; any smaller loss decodes from a subset of some such pattern's
// survivors) for every k + m <= 12 and for 16+4; random patterns for larger codes. Ranged
// encode and reconstruct are compared with whole ones. Parity of fixed inputs is pinned.
#include "shoal/erasure/codec.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "shoal/base/prng.h"

namespace shoal::erasure {
namespace {

constexpr size_t kChunkLengths[] = {0, 1, 31, 4096, 65537};

Codec make_codec(uint32_t k, uint32_t m) {
    Result<Codec> codec = Codec::make(k, m);
    REQUIRE(codec.is_ok());
    return std::move(codec).value();
}

// k chunks of random data followed by their m parity chunks.
std::vector<Buffer> encoded_stripe(const Codec& codec, size_t chunk_bytes, Prng& prng) {
    std::vector<Buffer> chunks;
    for (uint32_t index = 0; index < codec.chunk_count(); index++) {
        chunks.emplace_back(chunk_bytes);
        if (index < codec.k()) prng.fill(chunks.back().data(), chunk_bytes);
    }
    std::vector<ByteView> data;
    std::vector<MutableByteView> parity;
    for (uint32_t index = 0; index < codec.chunk_count(); index++) {
        if (index < codec.k()) data.push_back(chunks[index].view());
        if (index >= codec.k()) parity.push_back(chunks[index].mutable_view());
    }
    codec.encode(data, parity);
    return chunks;
}

std::vector<Buffer> clone_all(const std::vector<Buffer>& chunks) {
    std::vector<Buffer> copies;
    copies.reserve(chunks.size());
    for (const Buffer& chunk : chunks) {
        copies.push_back(chunk.clone());
    }
    return copies;
}

std::vector<MutableByteView> views_of(std::vector<Buffer>& chunks) {
    std::vector<MutableByteView> views;
    views.reserve(chunks.size());
    for (Buffer& chunk : chunks) {
        views.push_back(chunk.mutable_view());
    }
    return views;
}

// Overwrites the chunks in `lost` with garbage, so a restore that skips one is caught.
void damage(std::vector<Buffer>& chunks, ChunkMask lost) {
    for (uint32_t index = 0; index < chunks.size(); index++) {
        if ((lost & chunk_bit(index)) == 0 || chunks[index].empty()) continue;
        std::memset(chunks[index].data(), 0xa5, chunks[index].size());
    }
}

bool all_equal(const std::vector<Buffer>& left, const std::vector<Buffer>& right) {
    if (left.size() != right.size()) return false;
    for (size_t index = 0; index < left.size(); index++) {
        if (!equal_bytes(left[index].view(), right[index].view())) return false;
    }
    return true;
}

// Loses the chunks in `lost`, reconstructs, and checks every chunk against `original`.
void require_restored(Codec& codec, const std::vector<Buffer>& original, ChunkMask lost) {
    CAPTURE(codec.k(), codec.m(), original[0].size(), lost);
    std::vector<Buffer> chunks = clone_all(original);
    damage(chunks, lost);
    const Status status = codec.reconstruct(views_of(chunks), codec.all_chunks() & ~lost);
    INFO(status.to_string());
    REQUIRE(status.is_ok());
    REQUIRE(all_equal(chunks, original));
}

// Every mask over `chunk_count` chunks with exactly `count` bits set, in increasing order.
std::vector<ChunkMask> masks_with(uint32_t chunk_count, uint32_t count) {
    std::vector<ChunkMask> masks;
    const uint64_t end = uint64_t{1} << chunk_count;
    for (uint64_t mask = 0; mask < end; mask++) {
        if (std::popcount(mask) == static_cast<int>(count)) {
            masks.push_back(static_cast<ChunkMask>(mask));
        }
    }
    return masks;
}

// Every code (k >= 1, m >= 0) of `chunk_count_min` to `chunk_count_max` chunks.
std::vector<std::pair<uint32_t, uint32_t>> codes_of_up_to(uint32_t chunk_count_max,
                                                          uint32_t chunk_count_min = 1) {
    std::vector<std::pair<uint32_t, uint32_t>> codes;
    for (uint32_t chunk_count = chunk_count_min; chunk_count <= chunk_count_max; chunk_count++) {
        for (uint32_t k = 1; k <= chunk_count; k++) {
            codes.emplace_back(k, chunk_count - k);
        }
    }
    return codes;
}

std::string hex(ByteView bytes) {
    constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    for (const std::byte value : bytes) {
        text += kDigits[std::to_integer<uint8_t>(value) >> 4];
        text += kDigits[std::to_integer<uint8_t>(value) & 0xf];
    }
    return text;
}

TEST_CASE("erasure: a code of 1 to 32 chunks with at least one data chunk is accepted",
          "[unit][erasure]") {
    for (const auto& [k, m] : {std::pair{1U, 0U},
                               std::pair{1U, 31U},
                               std::pair{4U, 2U},
                               std::pair{16U, 4U},
                               std::pair{20U, 12U},
                               std::pair{32U, 0U}}) {
        Result<Codec> codec = Codec::make(k, m);
        REQUIRE(codec.is_ok());
        CHECK(codec.value().k() == k);
        CHECK(codec.value().m() == m);
        CHECK(codec.value().chunk_count() == k + m);
        CHECK(std::popcount(codec.value().all_chunks()) == static_cast<int>(k + m));
    }
}

TEST_CASE("erasure: a code without data chunks or with too many chunks is refused with a reason",
          "[unit][erasure]") {
    const Result<Codec> no_data = Codec::make(0, 2);
    REQUIRE(no_data.status().code() == Code::kInvalidArgument);
    CHECK(no_data.status().message() == "erasure: k must be at least 1 data chunk");

    const Result<Codec> too_many = Codec::make(30, 3);
    REQUIRE(too_many.status().code() == Code::kInvalidArgument);
    CHECK(too_many.status().message() ==
          "erasure: 30+3 makes 33 chunks per stripe, more than the 32 allowed");

    // The sum must not wrap around.
    const Result<Codec> huge = Codec::make(UINT32_MAX, UINT32_MAX);
    REQUIRE(huge.status().code() == Code::kInvalidArgument);
    CHECK(huge.status().message().find("8589934590 chunks") != std::string::npos);
}

TEST_CASE("erasure: the parity of a fixed 4+2 stripe is pinned", "[unit][erasure]") {
    // If this fails the generator matrix changed, and every stored parity chunk with it:
    // stripes written before the change would no longer reconstruct. Do not re-pin. The values
    // were also computed apart from ISA-L: parity row i, column j is 1 / (i ^ j) in GF(2^8)
    // with polynomial 0x11d.
    const Codec codec = make_codec(4, 2);
    std::vector<Buffer> chunks;
    for (uint32_t index = 0; index < 6; index++) {
        chunks.emplace_back(8);
        for (uint32_t column = 0; column < 8; column++) {
            chunks[index][column] = static_cast<std::byte>(index * 8 + column);
        }
    }
    const std::array<ByteView, 4> data{
            chunks[0].view(), chunks[1].view(), chunks[2].view(), chunks[3].view()};
    const std::array<MutableByteView, 2> parity{chunks[4].mutable_view(), chunks[5].mutable_view()};
    codec.encode(data, parity);
    CHECK(hex(chunks[4].view()) == "74543414f4d4b494");
    CHECK(hex(chunks[5].view()) == "69492909e9c9a989");
}

TEST_CASE("erasure: the parity of a fixed 16+4 stripe is pinned", "[unit][erasure]") {
    const Codec codec = make_codec(16, 4);
    std::vector<Buffer> data;
    std::vector<ByteView> data_views;
    for (uint32_t index = 0; index < 16; index++) {
        data.emplace_back(2);
        data[index][0] = static_cast<std::byte>(index + 1);
        data[index][1] = static_cast<std::byte>(0xf0 ^ index);
        data_views.push_back(data[index].view());
    }
    Buffer parity(8);
    const MutableByteView whole = parity.mutable_view();
    const std::array<MutableByteView, 4> parity_views{
            whole.subspan(0, 2), whole.subspan(2, 2), whole.subspan(4, 2), whole.subspan(6, 2)};
    codec.encode(data_views, parity_views);
    CHECK(hex(parity.view()) == "4f6f4a70c651324e");
}

TEST_CASE("erasure: with k = 1 every parity chunk is a copy of the data", "[unit][erasure]") {
    const uint32_t m = GENERATE(1U, 2U, 5U, 31U);
    CAPTURE(m);
    Codec codec = make_codec(1, m);
    Prng prng(/*seed=*/11);
    const std::vector<Buffer> chunks = encoded_stripe(codec, 4096, prng);
    for (const Buffer& chunk : chunks) {
        REQUIRE(equal_bytes(chunk.view(), chunks[0].view()));
    }
    // Any one copy restores the others.
    for (uint32_t kept = 0; kept < codec.chunk_count(); kept++) {
        require_restored(codec, chunks, codec.all_chunks() & ~chunk_bit(kept));
    }
}

TEST_CASE("erasure: with m = 0 the stripe is only split, and a lost chunk cannot come back",
          "[unit][erasure]") {
    Codec codec = make_codec(3, 0);
    Prng prng(/*seed=*/12);
    std::vector<Buffer> chunks = encoded_stripe(codec, 100, prng);
    REQUIRE(codec.reconstruct(views_of(chunks), codec.all_chunks()).is_ok());
    const Status status = codec.reconstruct(views_of(chunks), chunk_bit(0) | chunk_bit(2));
    REQUIRE(status.code() == Code::kUnavailable);
}

TEST_CASE("erasure: every loss of up to m chunks is restored for every code of up to 6 chunks",
          "[unit][erasure]") {
    Prng prng(/*seed=*/1);
    for (const auto& [k, m] : codes_of_up_to(6)) {
        Codec codec = make_codec(k, m);
        std::vector<ChunkMask> losses;
        for (uint32_t lost_count = 0; lost_count <= m; lost_count++) {
            const std::vector<ChunkMask> masks = masks_with(k + m, lost_count);
            losses.insert(losses.end(), masks.begin(), masks.end());
        }
        for (const size_t chunk_bytes : kChunkLengths) {
            const std::vector<Buffer> original = encoded_stripe(codec, chunk_bytes, prng);
            for (const ChunkMask lost : losses) {
                require_restored(codec, original, lost);
            }
        }
    }
}

TEST_CASE("erasure: a stripe missing one chunk more than m is refused and left untouched",
          "[unit][erasure]") {
    Prng prng(/*seed=*/2);
    for (const auto& [k, m] : codes_of_up_to(6)) {
        Codec codec = make_codec(k, m);
        const std::vector<Buffer> original = encoded_stripe(codec, 31, prng);
        const std::string expected = "erasure: " + std::to_string(k - 1) + " of " +
                                     std::to_string(k + m) + " chunks present, " +
                                     std::to_string(k) + " needed to reconstruct";
        for (const ChunkMask lost : masks_with(k + m, m + 1)) {
            CAPTURE(k, m, lost);
            std::vector<Buffer> chunks = clone_all(original);
            damage(chunks, lost);
            const std::vector<Buffer> damaged = clone_all(chunks);
            const Status status = codec.reconstruct(views_of(chunks), codec.all_chunks() & ~lost);
            REQUIRE(status.code() == Code::kUnavailable);
            REQUIRE(status.message() == expected);
            REQUIRE(all_equal(chunks, damaged));
        }
    }
}

TEST_CASE("erasure: every loss of exactly m chunks is restored up to 12 chunks and for 16+4",
          "[unit][erasure]") {
    Prng prng(/*seed=*/3);
    std::vector<std::pair<uint32_t, uint32_t>> codes = codes_of_up_to(12, 7);
    codes.emplace_back(16, 4);
    for (const auto& [k, m] : codes) {
        Codec codec = make_codec(k, m);
        const std::vector<Buffer> original = encoded_stripe(codec, 3, prng);
        for (const ChunkMask lost : masks_with(k + m, m)) {
            require_restored(codec, original, lost);
        }
    }
}

TEST_CASE("erasure: random losses of up to m chunks are restored for larger codes",
          "[unit][erasure]") {
    const auto [k, m] = GENERATE(std::pair{8U, 3U},
                                 std::pair{10U, 4U},
                                 std::pair{12U, 4U},
                                 std::pair{16U, 4U},
                                 std::pair{20U, 4U},
                                 std::pair{24U, 8U},
                                 std::pair{16U, 16U},
                                 std::pair{31U, 1U},
                                 std::pair{1U, 31U},
                                 std::pair{32U, 0U});
    const uint64_t seed = 100 + k * 32 + m;
    CAPTURE(k, m, seed);
    Prng prng(seed);
    Codec codec = make_codec(k, m);
    for (const size_t chunk_bytes : kChunkLengths) {
        const std::vector<Buffer> original = encoded_stripe(codec, chunk_bytes, prng);
        for (int round = 0; round < 12; round++) {
            // Half the rounds lose exactly m chunks, the most a stripe survives.
            const uint64_t lost_count = round % 2 == 0 ? m : prng.between(0, m);
            ChunkMask lost = 0;
            while (std::popcount(lost) < static_cast<int>(lost_count)) {
                lost |= chunk_bit(static_cast<uint32_t>(prng.below(k + m)));
            }
            require_restored(codec, original, lost);
        }
    }
}

TEST_CASE("erasure: encoding and reconstructing range by range gives the whole-stripe bytes",
          "[unit][erasure]") {
    const uint64_t seed = GENERATE(as<uint64_t>{}, 1, 2, 3, 4);
    CAPTURE(seed);
    Prng prng(seed);
    Codec codec = make_codec(6, 3);
    const size_t chunk_bytes = 65537;
    const std::vector<Buffer> original = encoded_stripe(codec, chunk_bytes, prng);

    // Random cut points, including empty ranges and ranges shorter than ISA-L's vectors.
    std::vector<size_t> cuts{0, chunk_bytes};
    for (int cut = 0; cut < 10; cut++) {
        cuts.push_back(prng.between(0, chunk_bytes));
    }
    cuts.push_back(cuts.back() + (cuts.back() < chunk_bytes ? 1 : 0));
    std::sort(cuts.begin(), cuts.end());
    std::vector<ChunkRange> ranges;
    for (size_t index = 0; index + 1 < cuts.size(); index++) {
        ranges.push_back({.offset = cuts[index], .bytes = cuts[index + 1] - cuts[index]});
    }

    std::vector<Buffer> sliced = clone_all(original);
    damage(sliced, ~ChunkMask{0} << codec.k());
    std::vector<ByteView> data;
    std::vector<MutableByteView> parity;
    for (uint32_t index = 0; index < codec.chunk_count(); index++) {
        if (index < codec.k()) data.push_back(sliced[index].view());
        if (index >= codec.k()) parity.push_back(sliced[index].mutable_view());
    }
    for (const ChunkRange range : ranges) {
        codec.encode_range(data, parity, range);
    }
    REQUIRE(all_equal(sliced, original));

    const ChunkMask lost = chunk_bit(0) | chunk_bit(4) | chunk_bit(7);
    damage(sliced, lost);
    for (const ChunkRange range : ranges) {
        REQUIRE(codec.reconstruct_range(views_of(sliced), codec.all_chunks() & ~lost, range)
                        .is_ok());
    }
    REQUIRE(all_equal(sliced, original));
}

TEST_CASE("erasure: chunks need no alignment", "[unit][erasure]") {
    Codec codec = make_codec(4, 2);
    Prng prng(/*seed=*/5);
    const size_t chunk_bytes = 1000;
    const std::vector<Buffer> original = encoded_stripe(codec, chunk_bytes, prng);
    // All six chunks back to back from an odd address.
    Buffer packed(1 + 6 * chunk_bytes);
    std::vector<MutableByteView> chunks;
    for (uint32_t index = 0; index < 6; index++) {
        chunks.push_back(packed.mutable_view().subspan(1 + index * chunk_bytes, chunk_bytes));
        if (index < 4) std::memcpy(chunks[index].data(), original[index].data(), chunk_bytes);
    }
    const std::array<ByteView, 4> data{chunks[0], chunks[1], chunks[2], chunks[3]};
    codec.encode(data, std::span(chunks).subspan(4));
    REQUIRE(equal_bytes(chunks[4], original[4].view()));
    REQUIRE(equal_bytes(chunks[5], original[5].view()));

    std::memset(chunks[1].data(), 0, chunk_bytes);
    std::memset(chunks[4].data(), 0, chunk_bytes);
    REQUIRE(codec.reconstruct(chunks, codec.all_chunks() & ~(chunk_bit(1) | chunk_bit(4))).is_ok());
    for (uint32_t index = 0; index < 6; index++) {
        REQUIRE(equal_bytes(chunks[index], original[index].view()));
    }
}

TEST_CASE("erasure: decode tables are cached per loss pattern, within a bound", "[unit][erasure]") {
    Codec codec = make_codec(8, 3);
    Prng prng(/*seed=*/6);
    const std::vector<Buffer> original = encoded_stripe(codec, 64, prng);
    REQUIRE(codec.decodings_cached() == 0);
    require_restored(codec, original, 0);  // Nothing lost: nothing to build.
    REQUIRE(codec.decodings_cached() == 0);
    require_restored(codec, original, chunk_bit(2));
    require_restored(codec, original, chunk_bit(2));
    REQUIRE(codec.decodings_cached() == 1);

    // More patterns than the cache holds, each twice, then the first again: still exact.
    const std::vector<ChunkMask> patterns = masks_with(codec.chunk_count(), 2);
    REQUIRE(patterns.size() > kDecodingsCachedMax);
    for (const ChunkMask lost : patterns) {
        require_restored(codec, original, lost);
        require_restored(codec, original, lost);
        REQUIRE(codec.decodings_cached() <= kDecodingsCachedMax);
    }
    REQUIRE(codec.decodings_cached() == kDecodingsCachedMax);
    require_restored(codec, original, patterns.front());
}

}  // namespace
}  // namespace shoal::erasure

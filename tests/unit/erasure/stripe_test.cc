// Goal: the padding rule that maps a stripe onto k data chunks (part of the on-disk data model)
// holds as documented, a split stripe joins back to the same bytes, and join refuses chunks
// whose padding shows they belong to a stripe of another size.
//
// Method: pin the layout of small stripes by hand; round-trip Prng stripes of many sizes
// through split and join, directly and through encode, loss and reconstruct.
#include "shoal/erasure/stripe.h"

#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>

#include "shoal/base/prng.h"
#include "shoal/erasure/codec.h"

namespace shoal::erasure {
namespace {

Buffer random_stripe(size_t stripe_bytes, Prng& prng) {
    Buffer stripe(stripe_bytes);
    prng.fill(stripe.data(), stripe_bytes);
    return stripe;
}

TEST_CASE("erasure: a stripe's chunks are ceil(S / k) bytes with the padding at the tail",
          "[unit][erasure]") {
    const StripeLayout five_by_four{.stripe_bytes = 5, .k = 4};
    CHECK(five_by_four.chunk_bytes() == 2);
    CHECK(five_by_four.payload_bytes(0) == 2);
    CHECK(five_by_four.payload_bytes(1) == 2);
    CHECK(five_by_four.payload_bytes(2) == 1);
    CHECK(five_by_four.payload_bytes(3) == 0);  // Padding only.

    CHECK(StripeLayout{.stripe_bytes = 0, .k = 4}.chunk_bytes() == 0);
    CHECK(StripeLayout{.stripe_bytes = 8, .k = 4}.chunk_bytes() == 2);
    CHECK(StripeLayout{.stripe_bytes = 9, .k = 4}.chunk_bytes() == 3);
    CHECK(StripeLayout{.stripe_bytes = 9, .k = 4}.payload_bytes(3) == 0);
    CHECK(StripeLayout{.stripe_bytes = 4 << 20, .k = 3}.chunk_bytes() == 1398102);
    CHECK(StripeLayout{.stripe_bytes = 4 << 20, .k = 3}.payload_bytes(2) == 1398100);
    CHECK(StripeLayout{.stripe_bytes = 7, .k = 1}.chunk_bytes() == 7);

    const Buffer stripe(as_bytes("abcde"));
    const StripeChunks chunks(stripe.view(), 4);
    REQUIRE(chunks.chunk_bytes() == 2);
    REQUIRE(chunks.chunks().size() == 4);
    CHECK(as_string_view(chunks.chunks()[0]) == "ab");
    CHECK(as_string_view(chunks.chunks()[1]) == "cd");
    CHECK(as_string_view(chunks.chunks()[2]) == std::string_view("e\0", 2));
    CHECK(as_string_view(chunks.chunks()[3]) == std::string_view("\0\0", 2));
    // Whole chunks are views of the stripe, not copies.
    CHECK(chunks.chunks()[0].data() == stripe.data());
    CHECK(chunks.chunks()[1].data() == stripe.data() + 2);
}

TEST_CASE("erasure: a split stripe joins back to the same bytes", "[unit][erasure]") {
    Prng prng(/*seed=*/21);
    for (const size_t stripe_bytes : {0UL, 1UL, 2UL, 3UL, 5UL, 31UL, 32UL, 33UL, 4096UL, 65537UL}) {
        for (const uint32_t k : {1U, 2U, 3U, 4U, 7U, 8U, 16U, 32U}) {
            CAPTURE(stripe_bytes, k);
            const Buffer stripe = random_stripe(stripe_bytes, prng);
            const StripeChunks split(stripe.view(), k);
            const StripeLayout layout{.stripe_bytes = stripe_bytes, .k = k};
            REQUIRE(split.chunk_bytes() == layout.chunk_bytes());
            for (const ByteView chunk : split.chunks()) {
                REQUIRE(chunk.size() == layout.chunk_bytes());
            }

            Buffer joined(as_bytes("prefix"));  // Join appends.
            REQUIRE(join_stripe(split.chunks(), stripe_bytes, joined).is_ok());
            REQUIRE(as_string_view(joined.view().first(6)) == "prefix");
            REQUIRE(equal_bytes(joined.view().subspan(6), stripe.view()));

            // The payload views are the same bytes, in place, with no empty view among them.
            Result<std::vector<ByteView>> payloads = stripe_payloads(split.chunks(), stripe_bytes);
            REQUIRE(payloads.is_ok());
            Buffer concatenated;
            for (const ByteView payload : payloads.value()) {
                REQUIRE(!payload.empty());
                concatenated.append(payload);
            }
            REQUIRE(equal_bytes(concatenated.view(), stripe.view()));
        }
    }
}

TEST_CASE("erasure: chunks moved with their split stay valid", "[unit][erasure]") {
    Prng prng(/*seed=*/22);
    const Buffer stripe = random_stripe(1001, prng);
    std::vector<StripeChunks> splits;
    splits.emplace_back(stripe.view(), 6);
    splits.emplace_back(stripe.view(), 6);  // Moves the first.
    Buffer joined;
    REQUIRE(join_stripe(splits[0].chunks(), 1001, joined).is_ok());
    REQUIRE(equal_bytes(joined.view(), stripe.view()));
}

TEST_CASE("erasure: join refuses chunks with nonzero padding and appends nothing",
          "[unit][erasure]") {
    const Buffer stripe(as_bytes("abcde"));
    const StripeChunks split(stripe.view(), 4);
    std::vector<Buffer> chunks;
    std::vector<ByteView> views;
    for (const ByteView chunk : split.chunks()) {
        chunks.emplace_back(chunk);
    }
    chunks[3][1] = std::byte{1};
    views.reserve(chunks.size());
    for (const Buffer& chunk : chunks) {
        views.push_back(chunk.view());
    }
    Buffer joined(as_bytes("x"));
    const Status status = join_stripe(views, 5, joined);
    REQUIRE(status.code() == Code::kCorruption);
    CHECK(status.message() == "erasure: data chunk 3 of a 5-byte stripe has nonzero padding");
    CHECK(joined.size() == 1);
    CHECK(stripe_payloads(views, 5).status().code() == Code::kCorruption);
    // The same chunks are a valid 8-byte stripe: the stripe size decides where padding is.
    REQUIRE(join_stripe(views, 8, joined).is_ok());
    CHECK(joined.size() == 9);
}

TEST_CASE("erasure: a stripe survives split, encode, m losses, reconstruct and join",
          "[unit][erasure]") {
    const auto [k, m] = GENERATE(std::pair{4U, 2U}, std::pair{8U, 3U}, std::pair{16U, 4U});
    const size_t stripe_bytes = GENERATE(size_t{1}, size_t{4099}, size_t{1} << 20);
    CAPTURE(k, m, stripe_bytes);
    Prng prng(/*seed=*/k * 1000 + m);
    const Buffer stripe = random_stripe(stripe_bytes, prng);
    const StripeChunks split(stripe.view(), k);
    Result<Codec> made = Codec::make(k, m);
    REQUIRE(made.is_ok());
    Codec& codec = made.value();

    std::vector<Buffer> chunks;
    for (const ByteView chunk : split.chunks()) {
        chunks.emplace_back(chunk);
    }
    std::vector<MutableByteView> parity;
    for (uint32_t index = 0; index < m; index++) {
        chunks.emplace_back(split.chunk_bytes());
        parity.push_back(chunks.back().mutable_view());
    }
    codec.encode(split.chunks(), parity);

    // Lose the first m data chunks, the worst case for the decoder.
    std::vector<MutableByteView> views;
    views.reserve(chunks.size());
    for (Buffer& chunk : chunks) {
        views.push_back(chunk.mutable_view());
    }
    for (uint32_t index = 0; index < m; index++) {
        std::fill(views[index].begin(), views[index].end(), std::byte{0xee});
    }
    REQUIRE(codec.reconstruct(views, codec.all_chunks() & ~((ChunkMask{1} << m) - 1)).is_ok());

    std::vector<ByteView> data(views.begin(), views.begin() + k);
    Buffer joined;
    REQUIRE(join_stripe(data, stripe_bytes, joined).is_ok());
    REQUIRE(equal_bytes(joined.view(), stripe.view()));
}

}  // namespace
}  // namespace shoal::erasure

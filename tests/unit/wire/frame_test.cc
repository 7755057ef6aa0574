// Goal: the frame header has the documented 16-byte layout, and FrameDecoder turns any
// splitting of a byte stream into the same frames, while a bad header fails the decoder for
// good and a hostile length never makes it allocate.
//
// Method: pin a header's bytes; feed streams of frames with random kinds, opcodes and body
// sizes whole, byte by byte and in random splits (seeded Prng, feed() and prepare()/commit()
// mixed), comparing against what was encoded; feed bad headers (version, kind, opcode,
// length) and check the failure sticks; feed a 4 GiB length and watch capacity_bytes().
#include "shoal/wire/frame.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "shoal/base/bytes.h"
#include "shoal/base/coding.h"
#include "shoal/base/prng.h"

namespace shoal::wire {
namespace {

constexpr size_t kMebibyte = size_t{1024} * 1024;

// A frame as the test keeps it: the header and an owned copy of the body.
struct OwnedFrame {
    FrameHeader header;
    std::string body;
};

bool same_frame(const OwnedFrame& left, const OwnedFrame& right) {
    return left.header.body_bytes == right.header.body_bytes &&
           left.header.version == right.header.version && left.header.kind == right.header.kind &&
           left.header.opcode == right.header.opcode &&
           left.header.request_id == right.header.request_id && left.body == right.body;
}

// Appends one frame with `body` to `target`.
void append_frame(FrameKind kind,
                  Opcode opcode,
                  RequestId request_id,
                  std::string_view body,
                  Buffer& target) {
    encode_frame_header(FrameHeader{.body_bytes = static_cast<uint32_t>(body.size()),
                                    .kind = kind,
                                    .opcode = opcode,
                                    .request_id = request_id},
                        target);
    target.append(body);
}

// A 16-byte header with raw fields, valid or not.
Buffer raw_header(uint32_t body_bytes, uint8_t version, uint8_t kind, uint16_t opcode) {
    Buffer header;
    Writer writer(header);
    writer.u32(body_bytes);
    writer.u8(version);
    writer.u8(kind);
    writer.u16(opcode);
    writer.u64(77);
    return header;
}

// A stream of `count` frames with random kinds, opcodes, ids and bodies of up to
// `body_bytes_max` bytes. `frames` receives what was encoded.
Buffer random_stream(Prng& prng,
                     size_t count,
                     size_t body_bytes_max,
                     std::vector<OwnedFrame>& frames) {
    Buffer stream;
    for (size_t index = 0; index < count; index++) {
        const auto kind = static_cast<FrameKind>(prng.between(1, 4));
        const auto opcode = static_cast<Opcode>(prng.between(1, 15));
        const RequestId request_id{prng.next_u64()};
        std::string body(prng.below(body_bytes_max + 1), '\0');
        prng.fill(reinterpret_cast<std::byte*>(body.data()), body.size());
        append_frame(kind, opcode, request_id, body, stream);
        const auto body_bytes = static_cast<uint32_t>(body.size());
        frames.push_back(OwnedFrame{
                .header = {.body_bytes = body_bytes,
                           .kind = kind,
                           .opcode = opcode,
                           .request_id = request_id},
                .body = std::move(body),
        });
    }
    return stream;
}

// Takes every complete frame out of `decoder`. REQUIRES the decoder not to fail.
void drain(FrameDecoder& decoder, std::vector<OwnedFrame>& frames) {
    while (true) {
        Result<std::optional<Frame>> next = decoder.next();
        REQUIRE(next.is_ok());
        if (!next.value().has_value()) return;
        const Frame& frame = *next.value();
        REQUIRE(frame.body.size() == frame.header.body_bytes);
        frames.push_back(OwnedFrame{.header = frame.header,
                                    .body = std::string(as_string_view(frame.body))});
    }
}

// Feeds `bytes` with prepare()/commit(), as a socket read would.
void feed_prepared(FrameDecoder& decoder, ByteView bytes) {
    const MutableByteView space = decoder.prepare(bytes.size());
    REQUIRE(space.size() >= bytes.size());
    if (!bytes.empty()) std::memcpy(space.data(), bytes.data(), bytes.size());
    decoder.commit(bytes.size());
}

void check_same_frames(const std::vector<OwnedFrame>& decoded,
                       const std::vector<OwnedFrame>& expected) {
    REQUIRE(decoded.size() == expected.size());
    for (size_t index = 0; index < expected.size(); index++) {
        CAPTURE(index);
        CHECK(same_frame(decoded[index], expected[index]));
    }
}

TEST_CASE("frame: a header encodes to the documented 16 bytes", "[unit][frame]") {
    Buffer encoded;
    encode_frame_header(FrameHeader{.body_bytes = 0x00010203,
                                    .kind = FrameKind::kData,
                                    .opcode = Opcode::kGet,
                                    .request_id = RequestId{0x1122334455667788}},
                        encoded);
    const uint8_t expected[] = {
            0x03,
            0x02,
            0x01,
            0x00,  // body_bytes u32
            0x01,  // version u8
            0x03,  // kind u8 (kData)
            0x02,
            0x00,  // opcode u16 (kGet)
            0x88,
            0x77,
            0x66,
            0x55,
            0x44,
            0x33,
            0x22,
            0x11,  // request_id u64
    };
    REQUIRE(encoded.size() == kFrameHeaderBytes);
    CHECK(equal_bytes(encoded.view(),
                      as_bytes(std::string_view(reinterpret_cast<const char*>(expected), 16))));
}

TEST_CASE("frame: the numbers of kinds, opcodes and the version are pinned", "[unit][frame]") {
    STATIC_REQUIRE(kProtocolVersion == 1);
    STATIC_REQUIRE(kFrameHeaderBytes == 16);
    STATIC_REQUIRE(static_cast<uint8_t>(FrameKind::kRequest) == 1);
    STATIC_REQUIRE(static_cast<uint8_t>(FrameKind::kResponse) == 2);
    STATIC_REQUIRE(static_cast<uint8_t>(FrameKind::kData) == 3);
    STATIC_REQUIRE(static_cast<uint8_t>(FrameKind::kError) == 4);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kPut) == 1);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kGet) == 2);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kDelete) == 3);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kStat) == 4);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kList) == 5);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kPing) == 6);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kStats) == 7);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kPushPull) == 8);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kMembers) == 9);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kChunkPut) == 10);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kChunkGet) == 11);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kManifestPut) == 12);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kManifestGet) == 13);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kManifestList) == 14);
    STATIC_REQUIRE(static_cast<uint16_t>(Opcode::kChunkDelete) == 15);
}

TEST_CASE("frame: every kind and opcode decodes back from its header", "[unit][frame]") {
    for (uint8_t kind = 1; kind <= 4; kind++) {
        for (uint16_t opcode = 1; opcode <= 15; opcode++) {
            CAPTURE(kind, opcode);
            const FrameHeader header{.body_bytes = limits::kFrameBodyBytesMax,
                                     .kind = static_cast<FrameKind>(kind),
                                     .opcode = static_cast<Opcode>(opcode),
                                     .request_id = RequestId{UINT64_MAX - kind}};
            Buffer encoded;
            encode_frame_header(header, encoded);
            const Result<FrameHeader> decoded =
                    decode_frame_header(encoded.view(), limits::kFrameBodyBytesMax);
            REQUIRE(decoded.is_ok());
            CHECK(decoded.value().body_bytes == header.body_bytes);
            CHECK(decoded.value().version == kProtocolVersion);
            CHECK(decoded.value().kind == header.kind);
            CHECK(decoded.value().opcode == header.opcode);
            CHECK(decoded.value().request_id == header.request_id);
        }
    }
}

TEST_CASE("frame: decode_frame_header names what is wrong with a bad header", "[unit][frame]") {
    struct Case {
        Buffer header;
        std::string_view message;
    };
    const Case cases[] = {
            {raw_header(0, 0, 1, 1), "frame: protocol version 0 is not supported"},
            {raw_header(0, 2, 1, 1), "frame: protocol version 2 is not supported"},
            {raw_header(0, 255, 1, 1), "frame: protocol version 255 is not supported"},
            {raw_header(0, 1, 0, 1), "frame: unknown kind 0"},
            {raw_header(0, 1, 5, 1), "frame: unknown kind 5"},
            {raw_header(0, 1, 255, 1), "frame: unknown kind 255"},
            {raw_header(0, 1, 1, 0), "frame: unknown opcode 0"},
            {raw_header(0, 1, 1, 16), "frame: unknown opcode 16"},
            {raw_header(0, 1, 1, 0x0100), "frame: unknown opcode 256"},
            {raw_header(0, 1, 1, UINT16_MAX), "frame: unknown opcode 65535"},
            {raw_header(limits::kFrameBodyBytesMax + 1, 1, 1, 1), "frame: body of 1053697 bytes"},
            {raw_header(UINT32_MAX, 1, 1, 1), "frame: body of 4294967295 bytes"},
    };
    for (const Case& bad : cases) {
        CAPTURE(bad.message);
        const Result<FrameHeader> decoded =
                decode_frame_header(bad.header.view(), limits::kFrameBodyBytesMax);
        REQUIRE_FALSE(decoded.is_ok());
        CHECK(decoded.status().code() == Code::kInvalidArgument);
        CHECK(decoded.status().message().starts_with(bad.message));
    }
}

TEST_CASE("frame: the decoder waits until a whole frame has arrived", "[unit][frame]") {
    Buffer stream;
    append_frame(FrameKind::kRequest, Opcode::kGet, RequestId{1}, "0123456789", stream);
    FrameDecoder decoder;
    for (size_t offset = 0; offset + 1 < stream.size(); offset++) {
        CAPTURE(offset);
        decoder.feed(stream.view().subspan(offset, 1));
        CHECK(decoder.buffered_bytes() == offset + 1);
        const Result<std::optional<Frame>> next = decoder.next();
        REQUIRE(next.is_ok());
        CHECK_FALSE(next.value().has_value());
    }
    decoder.feed(stream.view().last(1));
    std::vector<OwnedFrame> frames;
    drain(decoder, frames);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].body == "0123456789");
    CHECK(decoder.buffered_bytes() == 0);
}

TEST_CASE("frame: a stream fed byte by byte yields every frame in order", "[unit][frame]") {
    Prng prng(/*seed=*/1);
    std::vector<OwnedFrame> expected;
    const Buffer stream = random_stream(prng, /*count=*/40, /*body_bytes_max=*/300, expected);
    FrameDecoder decoder;
    std::vector<OwnedFrame> decoded;
    for (size_t offset = 0; offset < stream.size(); offset++) {
        decoder.feed(stream.view().subspan(offset, 1));
        drain(decoder, decoded);
    }
    check_same_frames(decoded, expected);
    CHECK(decoder.buffered_bytes() == 0);
}

TEST_CASE("frame: a stream fed in random splits yields every frame in order", "[unit][frame]") {
    const uint64_t seed = GENERATE(range<uint64_t>(1, 17));
    CAPTURE(seed);
    Prng prng(seed);
    std::vector<OwnedFrame> expected;
    const size_t body_bytes_max = prng.chance(1, 2) ? 100 : 100'000;
    const Buffer stream = random_stream(prng, /*count=*/60, body_bytes_max, expected);

    FrameDecoder decoder;
    std::vector<OwnedFrame> decoded;
    size_t offset = 0;
    while (offset < stream.size()) {
        const size_t piece_bytes_max = prng.chance(1, 4) ? 20 : 300'000;
        const size_t piece_bytes =
                std::min<size_t>(prng.below(piece_bytes_max + 1), stream.size() - offset);
        const ByteView piece = stream.view().subspan(offset, piece_bytes);
        if (prng.chance(1, 2)) {
            decoder.feed(piece);
        } else {
            feed_prepared(decoder, piece);
        }
        offset += piece_bytes;
        // Sometimes let bytes pile up before asking for frames.
        if (prng.chance(3, 4)) drain(decoder, decoded);
        // Compaction keeps memory near one frame plus one read, never the whole stream.
        REQUIRE(decoder.capacity_bytes() < 2 * kMebibyte);
    }
    drain(decoder, decoded);
    check_same_frames(decoded, expected);
    CHECK(decoder.buffered_bytes() == 0);
}

TEST_CASE("frame: many frames merged into one feed all come out", "[unit][frame]") {
    Prng prng(/*seed=*/2);
    std::vector<OwnedFrame> expected;
    const Buffer stream = random_stream(prng, /*count=*/500, /*body_bytes_max=*/64, expected);
    FrameDecoder decoder;
    decoder.feed(stream.view());
    std::vector<OwnedFrame> decoded;
    drain(decoder, decoded);
    check_same_frames(decoded, expected);
}

TEST_CASE("frame: empty bodies and empty feeds are fine", "[unit][frame]") {
    Buffer stream;
    append_frame(FrameKind::kRequest, Opcode::kPing, RequestId{0}, "", stream);
    append_frame(FrameKind::kResponse, Opcode::kPing, RequestId{0}, "", stream);
    FrameDecoder decoder;
    decoder.feed(ByteView{});
    decoder.feed(stream.view());
    decoder.feed(ByteView{});
    std::vector<OwnedFrame> decoded;
    drain(decoder, decoded);
    REQUIRE(decoded.size() == 2);
    CHECK(decoded[0].body.empty());
    CHECK(decoded[1].header.kind == FrameKind::kResponse);
}

TEST_CASE("frame: a bad header fails the decoder, and it stays failed", "[unit][frame]") {
    struct Case {
        const char* name;
        Buffer header;
    };
    Case cases[] = {
            {"bad version", raw_header(0, 2, 1, 1)},
            {"unknown kind", raw_header(0, 1, 9, 1)},
            {"unknown opcode", raw_header(0, 1, 1, 42)},
            {"length over the limit", raw_header(limits::kFrameBodyBytesMax + 1, 1, 1, 1)},
    };
    for (Case& bad : cases) {
        CAPTURE(bad.name);
        FrameDecoder decoder;
        Buffer stream;
        append_frame(FrameKind::kRequest, Opcode::kGet, RequestId{1}, "good", stream);
        stream.append(bad.header.view());
        append_frame(FrameKind::kRequest, Opcode::kGet, RequestId{2}, "after", stream);
        decoder.feed(stream.view());

        // The frame before the bad header is still delivered.
        Result<std::optional<Frame>> first = decoder.next();
        REQUIRE(first.is_ok());
        REQUIRE(first.value().has_value());
        CHECK(as_string_view(first.value()->body) == "good");

        const Result<std::optional<Frame>> failed = decoder.next();
        REQUIRE_FALSE(failed.is_ok());
        CHECK(failed.status().code() == Code::kInvalidArgument);
        CHECK(failed.status().message().starts_with("frame: "));

        // A good frame later cannot revive it: the stream is out of sync for good.
        Buffer good;
        append_frame(FrameKind::kRequest, Opcode::kPing, RequestId{3}, "", good);
        decoder.feed(good.view());
        for (int call = 0; call < 3; call++) {
            const Result<std::optional<Frame>> again = decoder.next();
            REQUIRE_FALSE(again.is_ok());
            CHECK(again.status().message() == failed.status().message());
        }
    }
}

TEST_CASE("frame: random garbage never yields a frame with a bad header", "[unit][frame]") {
    const uint64_t seed = GENERATE(range<uint64_t>(1, 33));
    CAPTURE(seed);
    Prng prng(seed);
    Buffer garbage(prng.between(0, 4096));
    prng.fill(garbage.data(), garbage.size());
    FrameDecoder decoder;
    decoder.feed(garbage.view());
    while (true) {
        const Result<std::optional<Frame>> next = decoder.next();
        if (!next.is_ok() || !next.value().has_value()) break;
        const FrameHeader& header = next.value()->header;
        CHECK(header.version == kProtocolVersion);
        CHECK(header.body_bytes <= limits::kFrameBodyBytesMax);
    }
    CHECK(decoder.capacity_bytes() < kMebibyte);
}

TEST_CASE("frame: a 4 GiB length is rejected without allocating for it", "[unit][frame]") {
    const uint32_t body_bytes =
            GENERATE(as<uint32_t>{}, UINT32_MAX, UINT32_MAX / 2, limits::kFrameBodyBytesMax + 1);
    CAPTURE(body_bytes);
    FrameDecoder decoder;
    const Buffer header = raw_header(body_bytes, 1, 1, 1);
    decoder.feed(header.view());
    CHECK(decoder.capacity_bytes() < kMebibyte);

    // The body the header promised starts arriving; the decoder must not make room for it all.
    Buffer some_body(size_t{200} * 1024);
    std::memset(some_body.data(), 0x5A, some_body.size());
    for (size_t offset = 0; offset < some_body.size(); offset += 4096) {
        decoder.feed(some_body.view().subspan(offset, 4096));
        REQUIRE(decoder.capacity_bytes() < kMebibyte);
    }
    const MutableByteView space = decoder.prepare(1);
    CHECK(space.size() < kMebibyte);
    decoder.commit(0);
    CHECK(decoder.capacity_bytes() < kMebibyte);

    const Result<std::optional<Frame>> next = decoder.next();
    REQUIRE_FALSE(next.is_ok());
    CHECK(next.status().message().find("over the limit") != std::string::npos);
    CHECK(decoder.capacity_bytes() < kMebibyte);
}

TEST_CASE("frame: a frame exactly at the body limit is accepted", "[unit][frame]") {
    std::string body(limits::kFrameBodyBytesMax, 'x');
    body.front() = 'a';
    body.back() = 'z';
    Buffer stream;
    append_frame(FrameKind::kData, Opcode::kPut, RequestId{9}, body, stream);

    FrameDecoder decoder;
    std::vector<OwnedFrame> decoded;
    for (size_t offset = 0; offset < stream.size(); offset += size_t{64} * 1024) {
        decoder.feed(stream.view().subspan(
                offset, std::min<size_t>(size_t{64} * 1024, stream.size() - offset)));
        drain(decoder, decoded);
    }
    REQUIRE(decoded.size() == 1);
    CHECK(decoded[0].header.body_bytes == limits::kFrameBodyBytesMax);
    CHECK(decoded[0].body == body);
}

TEST_CASE("frame: a decoder with a smaller limit enforces it", "[unit][frame]") {
    FrameDecoder decoder(/*body_bytes_max=*/100);
    Buffer stream;
    append_frame(FrameKind::kRequest, Opcode::kGet, RequestId{1}, std::string(100, 'a'), stream);
    append_frame(FrameKind::kRequest, Opcode::kGet, RequestId{2}, std::string(101, 'b'), stream);
    decoder.feed(stream.view());
    const Result<std::optional<Frame>> first = decoder.next();
    REQUIRE(first.is_ok());
    REQUIRE(first.value().has_value());
    CHECK(first.value()->body.size() == 100);
    const Result<std::optional<Frame>> second = decoder.next();
    REQUIRE_FALSE(second.is_ok());
    CHECK(second.status().message() == "frame: body of 101 bytes is over the limit of 100");
}

TEST_CASE("frame: prepare offers room for the rest of a large frame in one read", "[unit][frame]") {
    FrameDecoder decoder;
    const uint32_t body_bytes = 1024 * 1024;
    Buffer header;
    encode_frame_header(FrameHeader{.body_bytes = body_bytes,
                                    .kind = FrameKind::kData,
                                    .opcode = Opcode::kPut,
                                    .request_id = RequestId{1}},
                        header);
    decoder.feed(header.view());
    const MutableByteView space = decoder.prepare(1);
    CHECK(space.size() >= body_bytes);
    std::memset(space.data(), 0x11, body_bytes);
    decoder.commit(body_bytes);
    std::vector<OwnedFrame> decoded;
    drain(decoder, decoded);
    REQUIRE(decoded.size() == 1);
    CHECK(decoded[0].body == std::string(body_bytes, '\x11'));
}

TEST_CASE("frame: commit keeps only the bytes written into prepare's space", "[unit][frame]") {
    Buffer stream;
    append_frame(FrameKind::kRequest, Opcode::kStat, RequestId{4}, "abc", stream);
    FrameDecoder decoder;
    SECTION("a read that failed before prepare commits nothing") {
        decoder.commit(0);
        CHECK(decoder.buffered_bytes() == 0);
    }
    SECTION("a short read") {
        MutableByteView space = decoder.prepare(stream.size());
        REQUIRE(space.size() >= stream.size());
        std::memcpy(space.data(), stream.data(), 5);
        decoder.commit(5);
        CHECK(decoder.buffered_bytes() == 5);
        space = decoder.prepare(stream.size() - 5);
        std::memcpy(space.data(), stream.data() + 5, stream.size() - 5);
        decoder.commit(stream.size() - 5);
        CHECK(decoder.buffered_bytes() == stream.size());
        std::vector<OwnedFrame> decoded;
        drain(decoder, decoded);
        REQUIRE(decoded.size() == 1);
        CHECK(decoded[0].body == "abc");
    }
    SECTION("a read of nothing") {
        decoder.prepare(1);
        decoder.commit(0);
        CHECK(decoder.buffered_bytes() == 0);
        const Result<std::optional<Frame>> next = decoder.next();
        REQUIRE(next.is_ok());
        CHECK_FALSE(next.value().has_value());
    }
}

TEST_CASE("frame: shrink_if_idle frees a grown buffer only between frames", "[unit][frame]") {
    Buffer large;
    append_frame(FrameKind::kData, Opcode::kPut, RequestId{1}, std::string(kMebibyte, 'L'), large);
    Buffer small;
    append_frame(FrameKind::kRequest, Opcode::kStat, RequestId{2}, "key", small);

    FrameDecoder decoder;
    std::vector<OwnedFrame> decoded;
    decoder.feed(large.view());
    drain(decoder, decoded);
    REQUIRE(decoder.capacity_bytes() > kMebibyte);

    // Half a header is held: shrinking now would lose it.
    decoder.feed(small.view().first(8));
    decoder.shrink_if_idle(/*capacity_max=*/size_t{64} * 1024);
    CHECK(decoder.capacity_bytes() > kMebibyte);
    CHECK(decoder.buffered_bytes() == 8);

    decoder.feed(small.view().subspan(8));
    drain(decoder, decoded);
    REQUIRE(decoded.size() == 2);
    CHECK(decoded[1].body == "key");

    SECTION("idle and over the maximum: the buffer is freed") {
        decoder.shrink_if_idle(/*capacity_max=*/size_t{64} * 1024);
        CHECK(decoder.capacity_bytes() == 0);
    }
    SECTION("idle but within the maximum: nothing changes") {
        const size_t capacity = decoder.capacity_bytes();
        decoder.shrink_if_idle(/*capacity_max=*/capacity);
        CHECK(decoder.capacity_bytes() == capacity);
    }
    // Either way the decoder goes on decoding.
    decoder.feed(small.view());
    drain(decoder, decoded);
    REQUIRE(decoded.size() == 3);
    CHECK(decoded[2].body == "key");
}

}  // namespace
}  // namespace shoal::wire

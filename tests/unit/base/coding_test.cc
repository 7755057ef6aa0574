// Goal: fixed-width coding is little-endian and lossless, and Reader never reads past its view:
// a short read, an over-limit length or leftover bytes all surface in finish().
//
// Method: pin the byte order of each width; round-trip every Writer field through a Reader,
// including the extreme values; then cut encoded input at every length, give lengths one over
// their limit, and leave bytes over, checking the sticky failure and finish()'s message.
#include "shoal/base/coding.h"

#include <cstdint>
#include <string>

#include <catch2/catch.hpp>

#include "shoal/base/bytes.h"

namespace shoal {
namespace {

TEST_CASE("coding: fixed-width integers are little-endian", "[unit][coding]") {
    std::byte bytes[8];
    encode_fixed16(bytes, 0x0102);
    CHECK(bytes[0] == std::byte{0x02});
    CHECK(bytes[1] == std::byte{0x01});
    CHECK(decode_fixed16(bytes) == 0x0102);

    encode_fixed32(bytes, 0x01020304);
    CHECK(bytes[0] == std::byte{0x04});
    CHECK(bytes[3] == std::byte{0x01});
    CHECK(decode_fixed32(bytes) == 0x01020304);

    encode_fixed64(bytes, 0x0102030405060708);
    CHECK(bytes[0] == std::byte{0x08});
    CHECK(bytes[7] == std::byte{0x01});
    CHECK(decode_fixed64(bytes) == 0x0102030405060708);
}

TEST_CASE("coding: every Writer field reads back through a Reader", "[unit][coding]") {
    Buffer buffer;
    Writer writer(buffer);
    writer.u8(0);
    writer.u8(UINT8_MAX);
    writer.u16(0xBEEF);
    writer.u16(UINT16_MAX);
    writer.u32(0xDEADBEEF);
    writer.u32(UINT32_MAX);
    writer.u64(0x0123456789ABCDEF);
    writer.u64(UINT64_MAX);
    writer.bytes(as_bytes("raw"));
    writer.string16("key");
    writer.string16("");
    writer.bytes32(as_bytes("payload"));
    writer.bytes32(ByteView{});
    writer.bytes(as_bytes("tail"));
    CHECK(buffer.size() == 1 + 1 + 2 + 2 + 4 + 4 + 8 + 8 + 3 + (2 + 3) + 2 + (4 + 7) + 4 + 4);

    Reader reader(buffer.view());
    CHECK(reader.u8() == 0);
    CHECK(reader.u8() == UINT8_MAX);
    CHECK(reader.u16() == 0xBEEF);
    CHECK(reader.u16() == UINT16_MAX);
    CHECK(reader.u32() == 0xDEADBEEF);
    CHECK(reader.u32() == UINT32_MAX);
    CHECK(reader.u64() == 0x0123456789ABCDEF);
    CHECK(reader.u64() == UINT64_MAX);
    CHECK(as_string_view(reader.bytes(3)) == "raw");
    CHECK(reader.string16(3) == "key");
    CHECK(reader.string16(0).empty());
    CHECK(as_string_view(reader.bytes32(7)) == "payload");
    CHECK(reader.bytes32(0).empty());
    CHECK(reader.remaining() == 4);
    CHECK(as_string_view(reader.rest()) == "tail");
    CHECK(reader.remaining() == 0);
    CHECK_FALSE(reader.failed());
    CHECK(reader.finish("fields").is_ok());
}

TEST_CASE("coding: Writer appends after what the buffer already holds", "[unit][coding]") {
    Buffer buffer(as_bytes("head"));
    Writer writer(buffer);
    writer.u16(0x4241);  // "AB" in little-endian.
    CHECK(as_string_view(buffer.view()) == "headAB");
}

TEST_CASE("coding: a read past the end fails, sticks, and finish reports it", "[unit][coding]") {
    Buffer buffer;
    Writer(buffer).u64(0x1122334455667788);
    const ByteView encoded = buffer.view();

    for (size_t size = 0; size < encoded.size(); size++) {
        CAPTURE(size);
        Reader reader(encoded.first(size));
        CHECK(reader.u64() == 0);  // A short read returns zero, never partial bytes.
        CHECK(reader.failed());
        CHECK(reader.remaining() == 0);
        const Status status = reader.finish("thing");
        CHECK(status.code() == Code::kInvalidArgument);
        CHECK(status.message() == "thing: truncated");
    }
}

TEST_CASE("coding: after a failure every read returns zero or empty", "[unit][coding]") {
    const std::string input = "abc";  // Enough for u16 and u8, but not after a failed u32.
    Reader reader(as_bytes(input));
    CHECK(reader.u32() == 0);
    REQUIRE(reader.failed());
    CHECK(reader.u8() == 0);
    CHECK(reader.u16() == 0);
    CHECK(reader.u64() == 0);
    CHECK(reader.bytes(1).empty());
    CHECK(reader.string16(10).empty());
    CHECK(reader.bytes32(10).empty());
    CHECK(reader.rest().empty());
    CHECK(reader.finish("thing").message() == "thing: truncated");
}

TEST_CASE("coding: a length prefix longer than the input is a truncation", "[unit][coding]") {
    Buffer buffer;
    Writer writer(buffer);
    SECTION("string16") {
        writer.u16(10);
        writer.bytes(as_bytes("short"));
        Reader reader(buffer.view());
        CHECK(reader.string16(100).empty());
        CHECK(reader.finish("s").message() == "s: truncated");
    }
    SECTION("bytes32") {
        writer.u32(UINT32_MAX);
        writer.bytes(as_bytes("short"));
        Reader reader(buffer.view());
        CHECK(reader.bytes32(UINT32_MAX).empty());
        CHECK(reader.finish("b").message() == "b: truncated");
    }
}

TEST_CASE("coding: a length over the caller's limit is rejected before reading", "[unit][coding]") {
    Buffer buffer;
    Writer writer(buffer);
    SECTION("string16 at the limit passes, one over fails") {
        writer.string16("12345");
        CHECK(Reader(buffer.view()).string16(5) == "12345");
        Reader reader(buffer.view());
        CHECK(reader.string16(4).empty());
        CHECK(reader.failed());
        CHECK(reader.finish("key").message() == "key: string over limit");
    }
    SECTION("bytes32 at the limit passes, one over fails") {
        writer.bytes32(as_bytes("12345"));
        CHECK(as_string_view(Reader(buffer.view()).bytes32(5)) == "12345");
        Reader reader(buffer.view());
        CHECK(reader.bytes32(4).empty());
        CHECK(reader.failed());
        CHECK(reader.finish("data").message() == "data: bytes over limit");
    }
    SECTION("the first failure is the one reported") {
        writer.string16("12345");
        Reader reader(buffer.view());
        CHECK(reader.string16(1).empty());
        CHECK(reader.u64() == 0);  // Would be a truncation, but the limit failed first.
        CHECK(reader.finish("key").message() == "key: string over limit");
    }
}

TEST_CASE("coding: finish reports bytes left over", "[unit][coding]") {
    Buffer buffer;
    Writer writer(buffer);
    writer.u32(7);
    writer.u16(0);
    Reader reader(buffer.view());
    CHECK(reader.u32() == 7);
    CHECK(reader.remaining() == 2);
    const Status status = reader.finish("reply");
    CHECK(status.code() == Code::kInvalidArgument);
    CHECK(status.message() == "reply: 2 trailing bytes");
}

TEST_CASE("coding: an empty input finishes cleanly if nothing is read", "[unit][coding]") {
    Reader reader(ByteView{});
    CHECK(reader.remaining() == 0);
    CHECK(reader.rest().empty());
    CHECK(reader.bytes(0).empty());
    CHECK(reader.finish("empty").is_ok());
}

TEST_CASE("coding: bytes borrow from the source without copying", "[unit][coding]") {
    const std::string input = "0123456789";
    Reader reader(as_bytes(input));
    reader.bytes(2);
    const ByteView middle = reader.bytes(3);
    CHECK(static_cast<const void*>(middle.data()) == static_cast<const void*>(input.data() + 2));
    const ByteView rest = reader.rest();
    CHECK(static_cast<const void*>(rest.data()) == static_cast<const void*>(input.data() + 5));
    CHECK(rest.size() == 5);
}

}  // namespace
}  // namespace shoal

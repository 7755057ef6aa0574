// Goal: Buffer behaves as an owned, growable byte array whose growth never loses bytes, whose
// consume_front keeps the rest in order, and whose moves leave the source empty.
//
// Method: drive one Buffer through append, resize, reserve, consume_front, clear, clone and
// move, checking size, capacity and contents after each step. Only the size/capacity side of
// "resize does not zero" is checked: reading uninitialized bytes would itself be a bug.
#include "shoal/base/bytes.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

namespace shoal {
namespace {

TEST_CASE("bytes: a default buffer is empty and owns nothing", "[unit][bytes]") {
    const Buffer buffer;
    CHECK(buffer.empty());
    CHECK(buffer.size() == 0);
    CHECK(buffer.capacity() == 0);
    CHECK(buffer.view().empty());
}

TEST_CASE("bytes: append adds bytes at the end in order", "[unit][bytes]") {
    Buffer buffer;
    buffer.append("hello");
    buffer.append(as_bytes(", "));
    buffer.append(std::string_view("world"));
    buffer.append(ByteView{});
    CHECK(buffer.size() == 12);
    CHECK(buffer.capacity() >= buffer.size());
    CHECK(as_string_view(buffer.view()) == "hello, world");
    CHECK(buffer[0] == std::byte{'h'});
    CHECK(std::as_const(buffer)[11] == std::byte{'d'});
}

TEST_CASE("bytes: constructors size or copy", "[unit][bytes]") {
    const Buffer sized(100);
    CHECK(sized.size() == 100);
    CHECK(sized.capacity() >= 100);

    const Buffer copied(as_bytes("abc"));
    CHECK(as_string_view(copied.view()) == "abc");
}

TEST_CASE("bytes: resize grows and shrinks the size and keeps the prefix", "[unit][bytes]") {
    Buffer buffer(as_bytes("0123456789"));
    SECTION("growing keeps every old byte") {
        buffer.resize(4096);
        CHECK(buffer.size() == 4096);
        CHECK(buffer.capacity() >= 4096);
        CHECK(as_string_view(buffer.view().first(10)) == "0123456789");
    }
    SECTION("shrinking keeps the capacity and the first bytes") {
        const size_t capacity = buffer.capacity();
        buffer.resize(3);
        CHECK(buffer.size() == 3);
        CHECK(buffer.capacity() == capacity);
        CHECK(as_string_view(buffer.view()) == "012");
    }
    SECTION("resizing to the same size changes nothing") {
        const std::byte* data = buffer.data();
        buffer.resize(10);
        CHECK(buffer.data() == data);
        CHECK(as_string_view(buffer.view()) == "0123456789");
    }
}

TEST_CASE("bytes: reserve sets capacity without changing size or bytes", "[unit][bytes]") {
    Buffer buffer(as_bytes("keep"));
    buffer.reserve(1000);
    CHECK(buffer.capacity() >= 1000);
    CHECK(buffer.size() == 4);
    CHECK(as_string_view(buffer.view()) == "keep");

    const std::byte* data = buffer.data();
    const size_t capacity = buffer.capacity();
    buffer.reserve(10);  // Smaller than what is there: no reallocation.
    CHECK(buffer.data() == data);
    CHECK(buffer.capacity() == capacity);
}

TEST_CASE("bytes: appending byte by byte reallocates only a logarithmic number of times",
          "[unit][bytes]") {
    Buffer buffer;
    size_t reallocations = 0;
    size_t capacity = buffer.capacity();
    for (size_t index = 0; index < 100'000; index++) {
        const auto byte = static_cast<std::byte>(index % 251);
        buffer.append(ByteView(&byte, 1));
        if (buffer.capacity() != capacity) {
            reallocations += 1;
            capacity = buffer.capacity();
        }
    }
    CHECK(buffer.size() == 100'000);
    // Growth by at least half each time: log1.5(100'000) is about 28.
    CHECK(reallocations <= 40);
    for (size_t index = 0; index < buffer.size(); index += 997) {
        CHECK(buffer[index] == static_cast<std::byte>(index % 251));
    }
}

TEST_CASE("bytes: a small header written field by field allocates once", "[unit][bytes]") {
    Buffer buffer;
    size_t allocations = 0;
    const std::byte* data = buffer.data();
    for (int field = 0; field < 8; ++field) {
        const auto value = static_cast<std::byte>(field);
        for (int byte = 0; byte < 8; ++byte)
            buffer.append(ByteView(&value, 1));
        if (buffer.data() != data) {
            allocations += 1;
            data = buffer.data();
        }
    }
    CHECK(buffer.size() == 64);
    CHECK(allocations == 1);
}

TEST_CASE("bytes: consume_front drops a prefix and keeps the rest in order", "[unit][bytes]") {
    Buffer buffer(as_bytes("header|body"));
    const size_t capacity = buffer.capacity();
    SECTION("a prefix") {
        buffer.consume_front(7);
        CHECK(as_string_view(buffer.view()) == "body");
        CHECK(buffer.capacity() == capacity);
        buffer.append("!");
        CHECK(as_string_view(buffer.view()) == "body!");
    }
    SECTION("nothing") {
        buffer.consume_front(0);
        CHECK(as_string_view(buffer.view()) == "header|body");
    }
    SECTION("everything") {
        buffer.consume_front(buffer.size());
        CHECK(buffer.empty());
        CHECK(buffer.capacity() == capacity);
    }
}

TEST_CASE("bytes: clear empties the buffer and keeps its capacity", "[unit][bytes]") {
    Buffer buffer(as_bytes("something"));
    const size_t capacity = buffer.capacity();
    buffer.clear();
    CHECK(buffer.empty());
    CHECK(buffer.capacity() == capacity);
}

TEST_CASE("bytes: a move transfers the bytes and leaves the source empty", "[unit][bytes]") {
    Buffer source(as_bytes("payload"));
    const std::byte* data = source.data();

    SECTION("construction") {
        const Buffer target(std::move(source));
        CHECK(target.data() == data);
        CHECK(as_string_view(target.view()) == "payload");
    }
    SECTION("assignment over existing bytes") {
        Buffer target(as_bytes("old bytes that go away"));
        target = std::move(source);
        CHECK(target.data() == data);
        CHECK(as_string_view(target.view()) == "payload");
    }
    // A moved-from Buffer is empty and reusable.
    CHECK(source.size() == 0);      // NOLINT(bugprone-use-after-move)
    CHECK(source.capacity() == 0);  // NOLINT(bugprone-use-after-move)
    source.append("again");
    CHECK(as_string_view(source.view()) == "again");
}

TEST_CASE("bytes: clone is an independent copy", "[unit][bytes]") {
    Buffer original(as_bytes("abc"));
    Buffer copy = original.clone();
    CHECK(copy.data() != original.data());
    copy[0] = std::byte{'x'};
    CHECK(as_string_view(original.view()) == "abc");
    CHECK(as_string_view(copy.view()) == "xbc");
}

TEST_CASE("bytes: equal_bytes compares contents and sizes", "[unit][bytes]") {
    CHECK(equal_bytes(as_bytes("abc"), as_bytes("abc")));
    CHECK_FALSE(equal_bytes(as_bytes("abc"), as_bytes("abd")));
    CHECK_FALSE(equal_bytes(as_bytes("abc"), as_bytes("ab")));
    CHECK(equal_bytes(ByteView{}, as_bytes("")));
}

TEST_CASE("bytes: text converts to bytes and back without copying", "[unit][bytes]") {
    const std::string text("a\0b", 3);
    const ByteView bytes = as_bytes(text);
    CHECK(bytes.size() == 3);
    CHECK(static_cast<const void*>(bytes.data()) == static_cast<const void*>(text.data()));
    CHECK(as_string_view(bytes) == text);
}

}  // namespace
}  // namespace shoal

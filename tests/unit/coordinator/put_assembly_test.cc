// Goal: a put becomes an object only if its pieces form exactly what the client declared and
// hashed; any other sequence is refused with a reason.
//
// Method: feed PutAssembly sequences of pieces by hand, good and bad.
#include "shoal/coordinator/put_assembly.h"

#include <catch2/catch.hpp>

#include "shoal/base/hash.h"

namespace shoal::coordinator {
namespace {

const std::string kObject = "the quick brown fox jumps over the lazy dog";

ByteView slice(size_t offset, size_t bytes) {
    return as_bytes(kObject).subspan(offset, bytes);
}

TEST_CASE("coordinator: pieces that add up to the declared object complete the put",
          "[unit][coordinator]") {
    const uint64_t digest = hash64(as_bytes(kObject));
    const uint64_t declared = GENERATE(uint64_t{43}, wire::kObjectBytesUnknown);
    CAPTURE(declared);
    PutAssembly assembly("fox", declared);
    REQUIRE(assembly.on_piece({.data = slice(0, 10)}).is_ok());
    REQUIRE(assembly.on_piece({.data = slice(10, 0)}).is_ok());
    REQUIRE_FALSE(assembly.is_complete());
    REQUIRE(assembly.on_piece({.last = true, .digest = digest, .data = slice(10, 33)}).is_ok());
    REQUIRE(assembly.is_complete());
    REQUIRE(assembly.digest() == digest);
    REQUIRE(assembly.received_bytes() == kObject.size());

    const Status late = assembly.on_piece({.data = slice(0, 1)});
    REQUIRE(late.code() == Code::kInvalidArgument);
}

TEST_CASE("coordinator: a put that breaks its own declaration is refused", "[unit][coordinator]") {
    const uint64_t digest = hash64(as_bytes(kObject));
    SECTION("more bytes than declared") {
        PutAssembly assembly("fox", 20);
        REQUIRE(assembly.on_piece({.data = slice(0, 15)}).is_ok());
        REQUIRE(assembly.on_piece({.data = slice(15, 6)}).code() == Code::kInvalidArgument);
    }
    SECTION("fewer bytes than declared") {
        PutAssembly assembly("fox", 50);
        const Status status =
                assembly.on_piece({.last = true, .digest = digest, .data = slice(0, 43)});
        REQUIRE(status.code() == Code::kInvalidArgument);
        REQUIRE(status.message().find("declared") != std::string::npos);
        REQUIRE_FALSE(assembly.is_complete());
    }
    SECTION("a digest that does not match the bytes") {
        PutAssembly assembly("fox", wire::kObjectBytesUnknown);
        const Status status =
                assembly.on_piece({.last = true, .digest = digest ^ 1, .data = slice(0, 43)});
        REQUIRE(status.code() == Code::kCorruption);
        REQUIRE_FALSE(assembly.is_complete());
    }
}

}  // namespace
}  // namespace shoal::coordinator

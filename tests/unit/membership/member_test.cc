// Goal: member ids have one text form and one byte form, both pinned, and an identity outside
// its bounds is refused before it can reach a packet.
//
// Method: round trips and rejects by hand, with the expected bytes written out.
#include "shoal/membership/member.h"

#include <catch2/catch.hpp>

namespace shoal::membership {
namespace {

TEST_CASE("member: an id reads back from its 32 hex digits", "[unit][membership]") {
    const MemberId id{.high = 0x0123'4567'89ab'cdef, .low = 0xfedc'ba98'7654'3210};
    REQUIRE(to_string(id) == "0123456789abcdeffedcba9876543210");
    REQUIRE(parse_member_id("0123456789abcdeffedcba9876543210").value() == id);
    REQUIRE(parse_member_id("0123456789ABCDEFFEDCBA9876543210").value() == id);
    Prng prng(7);
    for (int round = 0; round < 100; round++) {
        const MemberId random = random_member_id(prng);
        REQUIRE(!random.is_zero());
        REQUIRE(parse_member_id(to_string(random)).value() == random);
    }
}

TEST_CASE("member: malformed id texts are refused", "[unit][membership]") {
    REQUIRE(!parse_member_id("").is_ok());
    REQUIRE(!parse_member_id("0123456789abcdeffedcba987654321").is_ok());    // 31 digits.
    REQUIRE(!parse_member_id("0123456789abcdeffedcba98765432100").is_ok());  // 33 digits.
    REQUIRE(!parse_member_id("0123456789abcdeffedcba987654321g").is_ok());
    REQUIRE(!parse_member_id(" 123456789abcdeffedcba9876543210").is_ok());
    const Status zero = parse_member_id("00000000000000000000000000000000").status();
    REQUIRE(zero.code() == Code::kInvalidArgument);
    REQUIRE(zero.message().find("zero") != std::string::npos);
}

TEST_CASE("member: an id is 16 little-endian bytes, the low word first", "[unit][membership]") {
    const MemberId id{.high = 0x1122'3344'5566'7788, .low = 0x0102'0304'0506'0708};
    Buffer bytes;
    Writer writer(bytes);
    encode_member_id(id, writer);
    REQUIRE(bytes.size() == kMemberIdBytes);
    REQUIRE(bytes[0] == std::byte{0x08});
    REQUIRE(bytes[7] == std::byte{0x01});
    REQUIRE(bytes[8] == std::byte{0x88});
    REQUIRE(bytes[15] == std::byte{0x11});
    Reader reader(bytes.view());
    REQUIRE(decode_member_id(reader) == id);
    REQUIRE(reader.finish("id").is_ok());
}

TEST_CASE("member: an identity out of bounds is refused", "[unit][membership]") {
    const Identity good{.id = {.high = 1, .low = 2},
                        .name = "n1",
                        .address = {.host = "10.0.0.1", .port = 7946},
                        .zone = "z"};
    REQUIRE(good.validate().is_ok());
    Identity bad = good;
    bad.id = MemberId{};
    REQUIRE(!bad.validate().is_ok());
    bad = good;
    bad.name = "";
    REQUIRE(!bad.validate().is_ok());
    bad.name = std::string(kMemberNameBytesMax + 1, 'n');
    REQUIRE(!bad.validate().is_ok());
    bad = good;
    bad.zone = std::string(kZoneBytesMax + 1, 'z');
    REQUIRE(!bad.validate().is_ok());
    bad = good;
    bad.address.port = 0;
    REQUIRE(!bad.validate().is_ok());
    bad = good;
    bad.address.host = std::string(kHostBytesMax + 1, 'h');
    REQUIRE(!bad.validate().is_ok());
    REQUIRE(state_name(MemberState::kDeparted) == "departed");
}

}  // namespace
}  // namespace shoal::membership

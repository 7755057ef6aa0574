// Goal: stripe arithmetic cuts any object into the stripes and chunks docs/object_format.md
// describes, at every edge (one byte, an exact multiple, one byte more), and the limits on
// codes, stripe sizes, keys and manifest-describable objects hold where the doc says.
//
// Method: compute by hand at the edges; compare striped_object_bytes_max with the doc's table.
#include "shoal/object/layout.h"

#include <string>

#include <catch2/catch.hpp>

namespace shoal::object {
namespace {

constexpr uint32_t kMiB = 1024 * 1024;
constexpr uint64_t kMiB64 = kMiB;
constexpr uint64_t kGiB = uint64_t{1024} * kMiB;

TEST_CASE("layout: an object is cut into full stripes and a last one with the rest",
          "[unit][object]") {
    CHECK(stripe_count(1, 4 * kMiB) == 1);
    CHECK(stripe_count(4 * kMiB64, 4 * kMiB) == 1);
    CHECK(stripe_count(uint64_t{4} * kMiB + 1, 4 * kMiB) == 2);
    CHECK(stripe_count(limits::kObjectBytesMax, kStripeBytesMin) == uint64_t{1} << 24);
    CHECK(stripe_count(UINT64_MAX, 1) == UINT64_MAX);  // No overflow.
    CHECK(stripe_plain_bytes(uint64_t{4} * kMiB + 1, 4 * kMiB, 0) == 4 * kMiB);
    CHECK(stripe_plain_bytes(uint64_t{4} * kMiB + 1, 4 * kMiB, 1) == 1);
    CHECK(stripe_plain_bytes(uint64_t{8} * kMiB, 4 * kMiB, 1) == 4 * kMiB);
    CHECK(stripe_offset(4 * kMiB, 3) == 12 * uint64_t{kMiB});
    CHECK(stripe_offset(kStripeBytesMax, UINT32_MAX) == uint64_t{UINT32_MAX} * kStripeBytesMax);
}

TEST_CASE("layout: a stripe's chunks are ceil(plain / k) bytes, the last data chunk padded",
          "[unit][object]") {
    CHECK(chunk_bytes_of(4 * kMiB, 4) == kMiB);
    CHECK(chunk_bytes_of(4 * kMiB + 1, 4) == kMiB + 1);
    CHECK(chunk_bytes_of(1, 4) == 1);
    CHECK(chunk_bytes_of(7, 1) == 7);  // Replication: each chunk is the whole stripe.
    CHECK(chunk_bytes_of(kStripeBytesMax, 31) == (kStripeBytesMax + 30) / 31);
}

TEST_CASE("layout: codes, stripe sizes and keys are checked against their bounds",
          "[unit][object]") {
    CHECK(check_scheme({.k = 1, .m = 0}).is_ok());
    CHECK(check_scheme({.k = 4, .m = 2}).is_ok());
    CHECK(check_scheme({.k = 16, .m = 16}).is_ok());
    CHECK(check_scheme({.k = 32, .m = 0}).is_ok());
    CHECK(check_scheme({.k = 0, .m = 3}).message() == "scheme: k is 0");
    CHECK(check_scheme({.k = 16, .m = 17}).message() ==
          "scheme: 16+17 is over 32 chunks per stripe");
    CHECK(check_scheme({.k = 255, .m = 255}).code() == Code::kInvalidArgument);

    CHECK(check_stripe_bytes(kStripeBytesMin).is_ok());
    CHECK(check_stripe_bytes(kStripeBytesMax).is_ok());
    CHECK(check_stripe_bytes(100'000).is_ok());  // Not only powers of two.
    CHECK(check_stripe_bytes(kStripeBytesMin - 1).code() == Code::kInvalidArgument);
    CHECK(check_stripe_bytes(kStripeBytesMax + 1).code() == Code::kInvalidArgument);
    CHECK(check_stripe_bytes(0).code() == Code::kInvalidArgument);

    CHECK(check_key("k").is_ok());
    CHECK(check_key(std::string(limits::kKeyBytesMax, 'k')).is_ok());
    CHECK(check_key("").message() == "key is empty");
    CHECK(check_key(std::string(limits::kKeyBytesMax + 1, 'k')).code() == Code::kInvalidArgument);
    CHECK(check_key(std::string("a\0b", 3)).message() == "key contains a NUL byte");
}

TEST_CASE("layout: a manifest describes objects up to the sizes in docs/object_format.md",
          "[unit][object]") {
    // Stripes a full-size manifest holds, by code: (1 MiB - 66632) / (8 + 2 (k + m)).
    CHECK(striped_object_bytes_max({.k = 4, .m = 2}, 64 * 1024) == uint64_t{49097} * 64 * 1024);
    CHECK(striped_object_bytes_max({.k = 4, .m = 2}, kMiB) == uint64_t{49097} * kMiB);
    CHECK(striped_object_bytes_max({.k = 4, .m = 2}, 4 * kMiB) == uint64_t{49097} * 4 * kMiB);
    CHECK(striped_object_bytes_max({.k = 1, .m = 2}, kMiB) == uint64_t{70138} * kMiB);
    CHECK(striped_object_bytes_max({.k = 1, .m = 0}, 64 * 1024) == uint64_t{98194} * 64 * 1024);
    CHECK(striped_object_bytes_max({.k = 8, .m = 4}, 4 * kMiB) == uint64_t{30685} * 4 * kMiB);
    CHECK(striped_object_bytes_max({.k = 16, .m = 4}, 4 * kMiB) == uint64_t{20457} * 4 * kMiB);
    CHECK(striped_object_bytes_max({.k = 16, .m = 16}, 4 * kMiB) == uint64_t{13638} * 4 * kMiB);
    CHECK(striped_object_bytes_max({.k = 1, .m = 0}, 16 * kMiB) == limits::kObjectBytesMax);
    // The doc rounds: RS 4+2 with 4 MiB stripes reaches 191 GiB.
    CHECK(striped_object_bytes_max({.k = 4, .m = 2}, 4 * kMiB) / kGiB == 191);
}

}  // namespace
}  // namespace shoal::object

// Goal: byte sizes parse the way operators write them in configs and flags, and bad input is
// refused with a message rather than misread.
//
// Method: table-driven: accepted spellings with their values, rejected spellings, overflow at
// the edge of 64 bits, and format_bytes for humans.
#include "shoal/base/units.h"

#include <cstdint>
#include <string_view>
#include <utility>

#include <catch2/catch.hpp>

namespace shoal {
namespace {

TEST_CASE("units: sizes with binary units parse", "[unit][units]") {
    const std::pair<std::string_view, uint64_t> cases[] = {
            {"0", 0},
            {"4096", 4096},
            {"4096B", 4096},
            {"64KiB", 64 * 1024},
            {"64K", 64 * 1024},
            {"64kB", 64 * 1024},
            {"1 MiB", 1024 * 1024},
            {"3MB", 3 * 1024 * 1024},
            {"2GiB", uint64_t{2} << 30},
            {"1TiB", uint64_t{1} << 40},
            {"16777215TiB", ((uint64_t{1} << 24) - 1) << 40},
    };
    for (const auto& [text, bytes] : cases) {
        CAPTURE(text);
        const Result<uint64_t> parsed = parse_bytes(text);
        REQUIRE(parsed.is_ok());
        CHECK(parsed.value() == bytes);
    }
}

TEST_CASE("units: malformed or overflowing sizes are refused", "[unit][units]") {
    const std::string_view cases[] = {
            "", "MiB", "1.5GB", "-1", "12 parsecs", "1MiBs", "16777216TiB"};
    for (const std::string_view text : cases) {
        CAPTURE(text);
        const Result<uint64_t> parsed = parse_bytes(text);
        REQUIRE_FALSE(parsed.is_ok());
        CHECK(parsed.status().code() == Code::kInvalidArgument);
        CHECK(parsed.status().message().find(std::string(text)) != std::string::npos);
    }
}

TEST_CASE("units: parse_whole_number takes digits only, all of them", "[unit][units]") {
    CHECK(parse_whole_number("0") == uint64_t{0});
    CHECK(parse_whole_number("60000") == uint64_t{60'000});
    CHECK(parse_whole_number("18446744073709551615") == UINT64_MAX);
    CHECK(parse_whole_number("00ff", 16) == uint64_t{255});
    for (const std::string_view bad :
         {"", "-1", "+1", " 1", "1 ", "12x", "1.5", "18446744073709551616"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_whole_number(bad).has_value());
    }
}

TEST_CASE("units: format_bytes prints one decimal in the largest whole unit", "[unit][units]") {
    CHECK(format_bytes(0) == "0 B");
    CHECK(format_bytes(1023) == "1023 B");
    CHECK(format_bytes(1024) == "1.0 KiB");
    CHECK(format_bytes(1536) == "1.5 KiB");
    CHECK(format_bytes(uint64_t{5} << 30) == "5.0 GiB");
    CHECK(format_bytes(uint64_t{3} << 50) == "3072.0 TiB");
}

}  // namespace
}  // namespace shoal

#include "shoal/base/units.h"

#include <array>
#include <charconv>
#include <utility>

#include <fmt/format.h>

namespace shoal {

std::optional<uint64_t> parse_whole_number(std::string_view text, int base) {
    uint64_t number = 0;
    const char* const end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, number, base);
    if (text.empty() || error != std::errc() || stop != end) return std::nullopt;
    return number;
}

Result<uint64_t> parse_bytes(std::string_view text) {
    uint64_t number = 0;
    const char* const end = text.data() + text.size();
    const auto [unit_begin, error] = std::from_chars(text.data(), end, number);
    if (error != std::errc() || unit_begin == text.data()) {
        return Status::invalid_argument(fmt::format(
                "\"{}\" is not a byte size (a number, then B, KiB, MiB, GiB or TiB)", text));
    }
    std::string_view unit(unit_begin, static_cast<size_t>(end - unit_begin));
    while (unit.starts_with(' ')) {
        unit.remove_prefix(1);
    }
    constexpr std::array<std::pair<std::string_view, unsigned>, 16> kUnits{{
            {"", 0},
            {"B", 0},
            {"K", 10},
            {"KB", 10},
            {"KiB", 10},
            {"M", 20},
            {"MB", 20},
            {"MiB", 20},
            {"G", 30},
            {"GB", 30},
            {"GiB", 30},
            {"T", 40},
            {"TB", 40},
            {"TiB", 40},
            {"k", 10},
            {"kB", 10},
    }};
    for (const auto& [name, shift] : kUnits) {
        if (unit != name) continue;
        if (shift > 0 && number > (UINT64_MAX >> shift)) {
            return Status::invalid_argument(fmt::format("\"{}\" is too large", text));
        }
        return number << shift;
    }
    return Status::invalid_argument(fmt::format(
            "\"{}\" has an unknown unit \"{}\" (use B, KiB, MiB, GiB or TiB)", text, unit));
}

std::string format_bytes(uint64_t bytes) {
    constexpr std::array<std::string_view, 5> kNames{"B", "KiB", "MiB", "GiB", "TiB"};
    size_t unit = 0;
    uint64_t scaled_tenths = bytes * 10;
    uint64_t whole = bytes;
    while (whole >= 1024 && unit + 1 < kNames.size()) {
        scaled_tenths = whole * 10 / 1024;
        whole /= 1024;
        unit += 1;
    }
    if (unit == 0) return fmt::format("{} B", bytes);
    return fmt::format("{}.{} {}", scaled_tenths / 10, scaled_tenths % 10, kNames[unit]);
}

}  // namespace shoal

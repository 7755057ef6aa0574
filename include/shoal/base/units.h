// Byte sizes as people write them: "4096", "64KiB", "1.5GB" is not accepted (no fractions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shoal/base/status.h"

namespace shoal {

// Parses a whole number with an optional unit: B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB.
// Units are binary (K = 1024) whichever spelling is used, as storage tools usually mean.
// kInvalidArgument, quoting the text, for anything else or an overflow.
Result<uint64_t> parse_bytes(std::string_view text);

// The whole of `text` as an unsigned number in `base` (digits only: no sign, no space, no
// unit); nullopt for anything else or an overflow.
std::optional<uint64_t> parse_whole_number(std::string_view text, int base = 10);

// 1536 -> "1.5 KiB": for humans, never parsed back.
std::string format_bytes(uint64_t bytes);

}  // namespace shoal

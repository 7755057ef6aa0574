// Byte sizes as people write them: "4096", "64KiB", "1.5GB" is not accepted (no fractions).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shoal/base/status.h"

namespace shoal {

// Parses a whole number with an optional unit: B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB.
// Units are binary (K = 1024) whichever spelling is used, as storage tools usually mean.
// kInvalidArgument, quoting the text, for anything else or an overflow.
Result<uint64_t> parse_bytes(std::string_view text);

// 1536 -> "1.5 KiB": for humans, never parsed back.
std::string format_bytes(uint64_t bytes);

}  // namespace shoal

// Assertions: how this project detects programmer errors.
//
// SHOAL_ASSERT is on in every build type, release included. A failed assertion means the code
// is wrong, so the only safe move is to stop; a crash with a location is far cheaper than a
// node that keeps serving wrong data. Never assert on bytes from the network or the disk:
// those are operating errors and come back as a Status (see status.h).
#pragma once

namespace shoal::detail {

[[noreturn]] void assert_fail(const char* expression, const char* file, int line);

}  // namespace shoal::detail

#define SHOAL_ASSERT(condition)                                           \
    do {                                                                  \
        if (!(condition)) [[unlikely]] {                                  \
            ::shoal::detail::assert_fail(#condition, __FILE__, __LINE__); \
        }                                                                 \
    } while (false)

// For checks too slow for production (re-walking a table, re-decoding what was just
// encoded). On in dev and simulator builds, where they pay for themselves.
#if defined(SHOAL_EXPENSIVE_CHECKS)
#define SHOAL_ASSERT_EXPENSIVE(condition) SHOAL_ASSERT(condition)
#else
#define SHOAL_ASSERT_EXPENSIVE(condition) static_cast<void>(sizeof(condition))
#endif

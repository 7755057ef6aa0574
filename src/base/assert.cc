#include "shoal/base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace shoal::detail {

// Writes straight to stderr, not through a logger: the process is about to stop and the
// logger's own state may be what broke.
void assert_fail(const char* expression, const char* file, int line) {
    std::fprintf(stderr, "assertion failed: %s (%s:%d)\n", expression, file, line);
    std::fflush(stderr);
    std::abort();
}

}  // namespace shoal::detail

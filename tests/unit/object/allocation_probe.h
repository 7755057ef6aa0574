// AllocationProbe: the largest heap allocation made while a probe is alive, in this binary.
//
// The object unit tests replace the global operator new (allocation_probe.cc) so that a test
// can show a decoder sizes nothing from a count it has not checked: decode a hostile input
// under a probe and require that nothing large was asked for. Single-threaded, like the tests.
#pragma once

#include <cstddef>

namespace shoal::object::testing {

class AllocationProbe {
public:
    AllocationProbe();
    ~AllocationProbe();
    AllocationProbe(const AllocationProbe&) = delete;
    AllocationProbe& operator=(const AllocationProbe&) = delete;
    AllocationProbe(AllocationProbe&&) = delete;
    AllocationProbe& operator=(AllocationProbe&&) = delete;

    // The largest single allocation, in bytes, since the probe was made.
    size_t largest_bytes() const;
};

}  // namespace shoal::object::testing

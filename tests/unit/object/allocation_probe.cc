#include "allocation_probe.h"

#include <cstdlib>
#include <new>

namespace {

bool probing = false;
size_t largest_allocation_bytes = 0;

void* allocate(size_t bytes) {
    if (probing && bytes > largest_allocation_bytes) largest_allocation_bytes = bytes;
    void* memory = std::malloc(bytes == 0 ? 1 : bytes);
    if (memory == nullptr) throw std::bad_alloc();
    return memory;
}

}  // namespace

// The replaceable global allocation functions ([new.delete]), plain and nothrow; delete is
// replaced alongside new, so that every pointer is freed by the allocator that made it. The
// aligned forms are left alone and stay paired with each other.
void* operator new(size_t bytes) {
    return allocate(bytes);
}
void* operator new[](size_t bytes) {
    return allocate(bytes);
}
void* operator new(size_t bytes, const std::nothrow_t&) noexcept {
    if (probing && bytes > largest_allocation_bytes) largest_allocation_bytes = bytes;
    return std::malloc(bytes == 0 ? 1 : bytes);
}
void* operator new[](size_t bytes, const std::nothrow_t& tag) noexcept {
    return operator new(bytes, tag);
}
void operator delete(void* memory, const std::nothrow_t&) noexcept {
    std::free(memory);
}
void operator delete[](void* memory, const std::nothrow_t&) noexcept {
    std::free(memory);
}
void operator delete(void* memory) noexcept {
    std::free(memory);
}
void operator delete[](void* memory) noexcept {
    std::free(memory);
}
void operator delete(void* memory, size_t) noexcept {
    std::free(memory);
}
void operator delete[](void* memory, size_t) noexcept {
    std::free(memory);
}

namespace shoal::object::testing {

AllocationProbe::AllocationProbe() {
    probing = true;
    largest_allocation_bytes = 0;
}

AllocationProbe::~AllocationProbe() {
    probing = false;
}

size_t AllocationProbe::largest_bytes() const {
    return largest_allocation_bytes;
}

}  // namespace shoal::object::testing

#include "shoal/base/bytes.h"

#include <algorithm>
#include <utility>

namespace shoal {
namespace {

constexpr size_t kCapacityFirst = 64;

}  // namespace

Buffer::Buffer(Buffer&& other) noexcept
    : bytes_(std::move(other.bytes_)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
    bytes_ = std::move(other.bytes_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    return *this;
}

void Buffer::reserve(size_t capacity_min) {
    if (capacity_min <= capacity_) return;
    // Grow geometrically so that appending byte by byte stays amortized O(1), and start at
    // kCapacityFirst so that a small header written field by field allocates once.
    const size_t capacity_new = std::max({capacity_min, capacity_ + capacity_ / 2, kCapacityFirst});
    std::unique_ptr<std::byte[]> bytes_new(new std::byte[capacity_new]);
    if (size_ > 0) std::memcpy(bytes_new.get(), bytes_.get(), size_);
    bytes_ = std::move(bytes_new);
    capacity_ = capacity_new;
}

void Buffer::resize(size_t size) {
    reserve(size);
    size_ = size;
}

void Buffer::append(ByteView bytes) {
    if (bytes.empty()) return;
    const size_t offset = size_;
    resize(size_ + bytes.size());
    std::memcpy(bytes_.get() + offset, bytes.data(), bytes.size());
}

void Buffer::consume_front(size_t count) {
    SHOAL_ASSERT(count <= size_);
    if (count == 0) return;
    const size_t rest = size_ - count;
    if (rest > 0) std::memmove(bytes_.get(), bytes_.get() + count, rest);
    size_ = rest;
}

}  // namespace shoal

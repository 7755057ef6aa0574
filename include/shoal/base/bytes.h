// Bytes: ByteView (a borrowed span) and Buffer (an owned, growable byte array).
//
// Buffer differs from std::vector<std::byte> in one way that matters on the data path: growing
// it does not zero the new bytes, so a 1 MiB socket read or chunk costs no memset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "shoal/base/assert.h"

namespace shoal {

using ByteView = std::span<const std::byte>;
using MutableByteView = std::span<std::byte>;

inline ByteView as_bytes(std::string_view text) {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

inline std::string_view as_string_view(ByteView bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

class Buffer {
public:
    Buffer() = default;
    explicit Buffer(size_t size) { resize(size); }
    explicit Buffer(ByteView bytes) { append(bytes); }

    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() = default;

    // An explicit copy, so that copies of payloads are visible in the code.
    Buffer clone() const { return Buffer(view()); }

    std::byte* data() { return bytes_.get(); }
    const std::byte* data() const { return bytes_.get(); }
    size_t size() const { return size_; }
    size_t capacity() const { return capacity_; }
    bool empty() const { return size_ == 0; }

    ByteView view() const { return {bytes_.get(), size_}; }
    MutableByteView mutable_view() { return {bytes_.get(), size_}; }

    std::byte& operator[](size_t index) {
        SHOAL_ASSERT(index < size_);
        return bytes_[index];
    }
    std::byte operator[](size_t index) const {
        SHOAL_ASSERT(index < size_);
        return bytes_[index];
    }

    void reserve(size_t capacity_min);
    // New bytes are left uninitialized.
    void resize(size_t size);
    void clear() { size_ = 0; }
    void append(ByteView bytes);
    void append(std::string_view text) { append(as_bytes(text)); }
    // Removes the first `count` bytes, moving the rest to the front.
    void consume_front(size_t count);

private:
    std::unique_ptr<std::byte[]> bytes_;
    size_t size_ = 0;
    size_t capacity_ = 0;
};

inline bool equal_bytes(ByteView left, ByteView right) {
    return left.size() == right.size() &&
           (left.empty() || std::memcmp(left.data(), right.data(), left.size()) == 0);
}

}  // namespace shoal

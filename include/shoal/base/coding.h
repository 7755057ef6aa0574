// Little-endian fixed-width coding, and a bounds-checked reader for untrusted bytes.
//
// Every integer that crosses a process boundary or reaches the disk is little-endian. Writer
// appends to a caller's Buffer. Reader never reads past its view: a short read sets a sticky
// failure, returns zeros, and finish() reports it, so a decoder checks once at the end.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"

namespace shoal {

static_assert(std::endian::native == std::endian::little, "shoal assumes a little-endian host");

inline void encode_fixed16(std::byte* target, uint16_t value) {
    std::memcpy(target, &value, 2);
}
inline void encode_fixed32(std::byte* target, uint32_t value) {
    std::memcpy(target, &value, 4);
}
inline void encode_fixed64(std::byte* target, uint64_t value) {
    std::memcpy(target, &value, 8);
}

inline uint16_t decode_fixed16(const std::byte* source) {
    uint16_t value = 0;
    std::memcpy(&value, source, 2);
    return value;
}
inline uint32_t decode_fixed32(const std::byte* source) {
    uint32_t value = 0;
    std::memcpy(&value, source, 4);
    return value;
}
inline uint64_t decode_fixed64(const std::byte* source) {
    uint64_t value = 0;
    std::memcpy(&value, source, 8);
    return value;
}

// Appends little-endian fields to a Buffer it does not own.
class Writer {
public:
    explicit Writer(Buffer& target) : target_(target) {}

    void u8(uint8_t value) { target_.append(ByteView(reinterpret_cast<std::byte*>(&value), 1)); }
    void u16(uint16_t value);
    void u32(uint32_t value);
    void u64(uint64_t value);
    void bytes(ByteView value) { target_.append(value); }
    // A u16 length, then the bytes. REQUIRES: value.size() <= UINT16_MAX.
    void string16(std::string_view value);
    // A u32 length, then the bytes.
    void bytes32(ByteView value);

private:
    Buffer& target_;
};

// Reads little-endian fields from a view it does not own. After any failed read every later
// read returns zero or empty, and finish() returns the first failure.
class Reader {
public:
    explicit Reader(ByteView source) : source_(source) {}

    uint8_t u8();
    uint16_t u16();
    uint32_t u32();
    uint64_t u64();
    // `count` raw bytes, borrowed from the source.
    ByteView bytes(size_t count);
    // A u16 length and then that many bytes, at most `bytes_max`.
    std::string_view string16(size_t bytes_max);
    // A u32 length and then that many bytes, at most `bytes_max`.
    ByteView bytes32(size_t bytes_max);
    // Everything not yet read.
    ByteView rest();

    size_t remaining() const { return failed_ ? 0 : source_.size() - offset_; }
    bool failed() const { return failed_; }
    // Fails with kInvalidArgument, naming `what`, if a read failed or bytes are left over.
    Status finish(std::string_view what) const;

private:
    bool take(size_t count);

    ByteView source_;
    size_t offset_ = 0;
    bool failed_ = false;
    const char* failure_ = "";
};

}  // namespace shoal

#include "shoal/base/coding.h"

#include <fmt/format.h>

namespace shoal {

void Writer::u16(uint16_t value) {
    std::byte encoded[2];
    encode_fixed16(encoded, value);
    target_.append(ByteView(encoded, 2));
}

void Writer::u32(uint32_t value) {
    std::byte encoded[4];
    encode_fixed32(encoded, value);
    target_.append(ByteView(encoded, 4));
}

void Writer::u64(uint64_t value) {
    std::byte encoded[8];
    encode_fixed64(encoded, value);
    target_.append(ByteView(encoded, 8));
}

void Writer::string16(std::string_view value) {
    SHOAL_ASSERT(value.size() <= UINT16_MAX);
    u16(static_cast<uint16_t>(value.size()));
    bytes(as_bytes(value));
}

void Writer::bytes32(ByteView value) {
    SHOAL_ASSERT(value.size() <= UINT32_MAX);
    u32(static_cast<uint32_t>(value.size()));
    bytes(value);
}

bool Reader::take(size_t count) {
    if (failed_) return false;
    if (source_.size() - offset_ < count) {
        failed_ = true;
        failure_ = "truncated";
        return false;
    }
    return true;
}

uint8_t Reader::u8() {
    if (!take(1)) return 0;
    const auto value = static_cast<uint8_t>(source_[offset_]);
    offset_ += 1;
    return value;
}

uint16_t Reader::u16() {
    if (!take(2)) return 0;
    const uint16_t value = decode_fixed16(source_.data() + offset_);
    offset_ += 2;
    return value;
}

uint32_t Reader::u32() {
    if (!take(4)) return 0;
    const uint32_t value = decode_fixed32(source_.data() + offset_);
    offset_ += 4;
    return value;
}

uint64_t Reader::u64() {
    if (!take(8)) return 0;
    const uint64_t value = decode_fixed64(source_.data() + offset_);
    offset_ += 8;
    return value;
}

ByteView Reader::bytes(size_t count) {
    if (!take(count)) return {};
    const ByteView value = source_.subspan(offset_, count);
    offset_ += count;
    return value;
}

std::string_view Reader::string16(size_t bytes_max) {
    const uint16_t size = u16();
    if (!failed_ && size > bytes_max) {
        failed_ = true;
        failure_ = "string over limit";
        return {};
    }
    return as_string_view(bytes(size));
}

ByteView Reader::bytes32(size_t bytes_max) {
    const uint32_t size = u32();
    if (!failed_ && size > bytes_max) {
        failed_ = true;
        failure_ = "bytes over limit";
        return {};
    }
    return bytes(size);
}

ByteView Reader::rest() {
    if (failed_) return {};
    const ByteView value = source_.subspan(offset_);
    offset_ = source_.size();
    return value;
}

Status Reader::finish(std::string_view what) const {
    if (failed_) return Status::invalid_argument(fmt::format("{}: {}", what, failure_));
    if (offset_ != source_.size()) {
        return Status::invalid_argument(
                fmt::format("{}: {} trailing bytes", what, source_.size() - offset_));
    }
    return Status::ok();
}

}  // namespace shoal

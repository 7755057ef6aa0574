#include "shoal/wire/frame.h"

#include <algorithm>

#include <fmt/format.h>

#include "shoal/base/coding.h"

namespace shoal::wire {
namespace {

bool is_known_kind(uint8_t kind) {
    return kind >= static_cast<uint8_t>(FrameKind::kRequest) &&
           kind <= static_cast<uint8_t>(FrameKind::kError);
}

bool is_known_opcode(uint16_t opcode) {
    return opcode >= static_cast<uint16_t>(Opcode::kPut) &&
           opcode <= static_cast<uint16_t>(Opcode::kChunkDelete);
}

// Reads smaller than this are not worth a syscall; larger ones save syscalls on big objects.
constexpr size_t kReadBytesMin = size_t{64} * 1024;

}  // namespace

void encode_frame_header(const FrameHeader& header, Buffer& target) {
    const size_t offset = target.size();
    target.resize(offset + kFrameHeaderBytes);
    write_frame_header(header, target.data() + offset);
}

void write_frame_header(const FrameHeader& header, std::byte* target) {
    std::byte* bytes = target;
    SHOAL_ASSERT(header.body_bytes <= limits::kFrameBodyBytesMax);
    SHOAL_ASSERT(is_known_kind(static_cast<uint8_t>(header.kind)));
    encode_fixed32(bytes, header.body_bytes);
    bytes[4] = static_cast<std::byte>(header.version);
    bytes[5] = static_cast<std::byte>(header.kind);
    encode_fixed16(bytes + 6, static_cast<uint16_t>(header.opcode));
    encode_fixed64(bytes + 8, to_u64(header.request_id));
}

Result<FrameHeader> decode_frame_header(ByteView source, uint32_t body_bytes_max) {
    SHOAL_ASSERT(source.size() >= kFrameHeaderBytes);
    const uint32_t body_bytes = decode_fixed32(source.data());
    const auto version = static_cast<uint8_t>(source[4]);
    const auto kind = static_cast<uint8_t>(source[5]);
    const uint16_t opcode = decode_fixed16(source.data() + 6);
    if (body_bytes > body_bytes_max) {
        return Status::invalid_argument(fmt::format(
                "frame: body of {} bytes is over the limit of {}", body_bytes, body_bytes_max));
    }
    if (version != kProtocolVersion) {
        return Status::invalid_argument(
                fmt::format("frame: protocol version {} is not supported (this node speaks {})",
                            version,
                            kProtocolVersion));
    }
    if (!is_known_kind(kind)) {
        return Status::invalid_argument(fmt::format("frame: unknown kind {}", kind));
    }
    if (!is_known_opcode(opcode)) {
        return Status::invalid_argument(fmt::format("frame: unknown opcode {}", opcode));
    }
    return FrameHeader{
            .body_bytes = body_bytes,
            .version = version,
            .kind = static_cast<FrameKind>(kind),
            .opcode = static_cast<Opcode>(opcode),
            .request_id = RequestId{decode_fixed64(source.data() + 8)},
    };
}

FrameDecoder::FrameDecoder(uint32_t body_bytes_max) : body_bytes_max_(body_bytes_max) {
    SHOAL_ASSERT(body_bytes_max <= limits::kFrameBodyBytesMax);
}

void FrameDecoder::compact() {
    buffer_.consume_front(consumed_bytes_);
    consumed_bytes_ = 0;
}

size_t FrameDecoder::missing_bytes() const {
    const ByteView pending = buffer_.view().subspan(consumed_bytes_);
    if (pending.size() < kFrameHeaderBytes) return kFrameHeaderBytes - pending.size();
    const uint32_t body_bytes = decode_fixed32(pending.data());
    // An over-limit length is reported by next(); it must not make the buffer grow.
    if (body_bytes > body_bytes_max_) return 0;
    const size_t frame_bytes = kFrameHeaderBytes + body_bytes;
    return frame_bytes > pending.size() ? frame_bytes - pending.size() : 0;
}

MutableByteView FrameDecoder::prepare(size_t bytes_min) {
    SHOAL_ASSERT(!prepared_);
    if (consumed_bytes_ > 0) compact();
    // Room for the rest of a partly received frame in one read, so a 1 MiB frame does not
    // arrive in 64 KiB steps.
    const size_t want = std::max({bytes_min, kReadBytesMin, missing_bytes()});
    const size_t size = buffer_.size();
    buffer_.reserve(size + want);
    prepared_offset_ = size;
    prepared_ = true;
    buffer_.resize(buffer_.capacity());
    return {buffer_.data() + size, buffer_.capacity() - size};
}

void FrameDecoder::commit(size_t bytes) {
    // A read that failed before prepare() commits nothing.
    if (!prepared_) {
        SHOAL_ASSERT(bytes == 0);
        return;
    }
    prepared_ = false;
    // prepare() made the whole capacity the size; the unwritten tail is dropped here.
    SHOAL_ASSERT(prepared_offset_ + bytes <= buffer_.size());
    buffer_.resize(prepared_offset_ + bytes);
}

void FrameDecoder::shrink_if_idle(size_t capacity_max) {
    SHOAL_ASSERT(!prepared_);
    if (buffered_bytes() > 0 || buffer_.capacity() <= capacity_max) return;
    buffer_ = Buffer();
    consumed_bytes_ = 0;
}

void FrameDecoder::feed(ByteView bytes) {
    MutableByteView space = prepare(bytes.size());
    SHOAL_ASSERT(space.size() >= bytes.size());
    if (!bytes.empty()) std::memcpy(space.data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

Result<std::optional<Frame>> FrameDecoder::next() {
    SHOAL_ASSERT(!prepared_);
    if (failure_.has_value()) return *failure_;
    const ByteView pending = buffer_.view().subspan(consumed_bytes_);
    if (pending.size() < kFrameHeaderBytes) return std::optional<Frame>{};
    Result<FrameHeader> header = decode_frame_header(pending, body_bytes_max_);
    if (!header.is_ok()) {
        failure_ = header.status();
        return *failure_;
    }
    const size_t frame_bytes = kFrameHeaderBytes + header.value().body_bytes;
    if (pending.size() < frame_bytes) return std::optional<Frame>{};
    consumed_bytes_ += frame_bytes;
    return std::optional<Frame>(Frame{
            .header = header.value(),
            .body = pending.subspan(kFrameHeaderBytes, header.value().body_bytes),
    });
}

}  // namespace shoal::wire

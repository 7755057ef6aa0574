// What the message codecs share: framing a body, checking an opaque payload, a version's
// fields. Private to wire; messages.cc (client messages) and peer_messages.cc use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>

#include "shoal/base/bytes.h"
#include "shoal/base/coding.h"
#include "shoal/base/limits.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/wire/frame.h"

namespace shoal::wire {

// Writes a frame: reserves the header, lets `write_body` append the body, then fills the
// header in with the body's length. `extra_body_bytes` are counted in the header but written
// by the caller later (a gathered write's payload).
template <typename WriteBody>
void encode_frame(FrameKind kind,
                  Opcode opcode,
                  RequestId id,
                  Buffer& target,
                  size_t extra_body_bytes,
                  WriteBody&& write_body) {
    const size_t header_offset = target.size();
    target.resize(header_offset + kFrameHeaderBytes);
    Writer writer(target);
    write_body(writer);
    const size_t body_bytes = target.size() - header_offset - kFrameHeaderBytes + extra_body_bytes;
    SHOAL_ASSERT(body_bytes <= limits::kFrameBodyBytesMax);
    write_frame_header(FrameHeader{.body_bytes = static_cast<uint32_t>(body_bytes),
                                   .kind = kind,
                                   .opcode = opcode,
                                   .request_id = id},
                       target.data() + header_offset);
}

// Bytes that wire carries without reading (another module's format) must be 1..bytes_max.
inline Status check_opaque_bytes(ByteView bytes, size_t bytes_max, std::string_view what) {
    if (bytes.empty()) return Status::invalid_argument(fmt::format("{}: empty", what));
    if (bytes.size() > bytes_max) {
        return Status::invalid_argument(
                fmt::format("{}: {} bytes is over the limit of {}", what, bytes.size(), bytes_max));
    }
    return Status::ok();
}

inline void write_version(Writer& writer, const Version& version) {
    writer.u64(version.hlc);
    writer.u64(to_u64(version.node));
}

inline Version read_version(Reader& reader) {
    Version version;
    version.hlc = reader.u64();
    version.node = NodeId{reader.u64()};
    return version;
}

}  // namespace shoal::wire

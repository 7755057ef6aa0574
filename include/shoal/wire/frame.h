// Frames: the unit of the wire protocol, and FrameDecoder, the sans-IO length-prefix parser.
//
// Every frame is a 16-byte header and a body (docs/wire_format.md):
//
//   body_bytes u32 | version u8 | kind u8 | opcode u16 | request_id u64 | body
//
// FrameDecoder turns a byte stream into frames. It does no IO: the caller reads from a socket
// into prepare()'s space and commit()s, or feed()s a copy. A header's length is checked
// against the limit before the decoder grows its buffer for the body, so a hostile length
// costs nothing. After an error the decoder stays failed; the caller closes the connection.
#pragma once

#include <cstdint>
#include <optional>

#include "shoal/base/bytes.h"
#include "shoal/base/ids.h"
#include "shoal/base/limits.h"
#include "shoal/base/status.h"

namespace shoal::wire {

inline constexpr uint8_t kProtocolVersion = 1;

// A peer (another node) sends requests and gets answers exactly as a client does.
enum class FrameKind : uint8_t {
    kRequest = 1,   // Client or peer to node: starts an operation.
    kResponse = 2,  // Node to requester: the operation's result (a get's may carry data).
    kData = 3,      // Between a client and a node: another piece of an object being streamed.
    kError = 4,     // Node to requester: the operation failed; no more frames for it follow.
};

enum class Opcode : uint16_t {
    kPut = 1,
    kGet = 2,
    kDelete = 3,
    kStat = 4,
    kList = 5,
    kPing = 6,
    kStats = 7,  // The node's counters; not about any one object (stat is).
    // Node to node: SWIM's full-state push-pull (membership::Swim::on_push_pull). The bodies
    // are the membership module's bytes, carried opaquely.
    kPushPull = 8,
    kMembers = 9,  // The node's member list (shoal status).
    // Node to node: the cluster data path (peer_messages.h). Chunk records and manifests are
    // the object module's bytes, carried opaquely.
    kChunkPut = 10,
    kChunkGet = 11,
    kManifestPut = 12,
    kManifestGet = 13,
    kManifestList = 14,
    kChunkDelete = 15,
};

struct FrameHeader {
    uint32_t body_bytes = 0;
    uint8_t version = kProtocolVersion;
    FrameKind kind = FrameKind::kRequest;
    Opcode opcode = Opcode::kPing;
    RequestId request_id{};
};

// A decoded frame. `body` is borrowed from the decoder and valid until its next call.
struct Frame {
    FrameHeader header;
    ByteView body;
};

inline constexpr size_t kFrameHeaderBytes = limits::kFrameHeaderBytes;

// Appends the 16-byte header. REQUIRES: header.body_bytes <= kFrameBodyBytesMax.
void encode_frame_header(const FrameHeader& header, Buffer& target);
// Writes the 16-byte header at `target`, which must have room for it.
void write_frame_header(const FrameHeader& header, std::byte* target);

// Decodes and validates a header (version, kind, opcode, length against `body_bytes_max`).
// REQUIRES: source.size() >= kFrameHeaderBytes.
Result<FrameHeader> decode_frame_header(ByteView source, uint32_t body_bytes_max);

class FrameDecoder {
public:
    explicit FrameDecoder(uint32_t body_bytes_max = limits::kFrameBodyBytesMax);

    // Space for at least `bytes_min` more input bytes; write into it, then commit(). Until
    // then no other method may be called.
    MutableByteView prepare(size_t bytes_min);
    void commit(size_t bytes);
    // Copies `bytes` in; the same as prepare() + memcpy + commit().
    void feed(ByteView bytes);

    // The next complete frame, nullopt when more input is needed, or kInvalidArgument for a
    // bad header (then every later call fails too). A returned frame is valid until the next
    // call to any method.
    Result<std::optional<Frame>> next();

    // Frees the buffer if it holds no partial frame and has grown past `capacity_max`, so an
    // idle connection does not keep the memory of the largest frame it ever received.
    void shrink_if_idle(size_t capacity_max);

    // Bytes held that do not yet make a whole frame.
    size_t buffered_bytes() const { return buffer_.size() - consumed_bytes_; }
    size_t capacity_bytes() const { return buffer_.capacity(); }

private:
    void compact();
    // Bytes still needed to complete the frame at the front (0 if complete or unknown).
    size_t missing_bytes() const;

    uint32_t body_bytes_max_;
    Buffer buffer_;
    size_t consumed_bytes_ = 0;   // Prefix of buffer_ already returned as frames.
    size_t prepared_offset_ = 0;  // Where the bytes of the last prepare() begin.
    bool prepared_ = false;       // A prepare() awaits its commit().
    std::optional<Status> failure_;
};

}  // namespace shoal::wire

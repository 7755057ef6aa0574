// Client messages: the bodies of the frames a client and a node exchange, with their codecs.
//
// Layouts are in docs/wire_format.md. Decoded messages borrow from the frame body (keys and
// data are views), so decoding never copies a payload; the caller copies what it keeps.
// Every decoder checks every length against its limit and rejects trailing bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/wire/frame.h"

namespace shoal::wire {

inline constexpr uint64_t kObjectBytesUnknown = UINT64_MAX;

// One piece of an object being put. The last piece carries the client's xxh3-64 digest of
// the whole object, which the node checks before the object becomes visible.
struct PutPiece {
    bool last = false;
    uint64_t digest = 0;  // Meaningful only when last.
    ByteView data;
};

// Starts a put (FrameKind::kRequest). More PutPieces follow as kData frames until one is last.
struct PutRequest {
    std::string_view key;
    uint64_t object_bytes = kObjectBytesUnknown;  // Declared size, if the client knows it.
    PutPiece piece;
};

struct GetRequest {
    std::string_view key;
};

struct DeleteRequest {
    std::string_view key;
};

struct StatRequest {
    std::string_view key;
};

struct ListRequest {
    std::string_view prefix;
    std::string_view start_after;  // Exclusive; empty starts at the first key.
    uint32_t limit = limits::kListEntriesDefault;
};

struct PingRequest {};

using Request = std::variant<PutRequest,
                             PutPiece,
                             GetRequest,
                             DeleteRequest,
                             StatRequest,
                             ListRequest,
                             PingRequest>;

struct ObjectInfo {
    Version version;
    uint64_t object_bytes = 0;
    uint64_t digest = 0;  // xxh3-64 of the whole object.
};

struct PutReply {
    ObjectInfo info;
};

// The first frame of a get's answer; raw kData frames carry the rest of the bytes.
struct GetReply {
    ObjectInfo info;
    ByteView data;  // The first bytes of the object; may be all of it.
};

struct DeleteReply {
    Version version;  // The tombstone's version.
};

struct StatReply {
    ObjectInfo info;
};

struct ListEntry {
    std::string key;
    ObjectInfo info;
};

struct ListReply {
    std::vector<ListEntry> entries;
    bool truncated = false;  // More keys match after the last entry.
};

struct PingReply {};

struct ErrorReply {
    Code code = Code::kUnavailable;
    std::string_view message;
};

// Encoders append one whole frame (header and body) to `target`.
void encode_request(RequestId id, const PutRequest& request, Buffer& target);
void encode_request(RequestId id, const GetRequest& request, Buffer& target);
void encode_request(RequestId id, const DeleteRequest& request, Buffer& target);
void encode_request(RequestId id, const StatRequest& request, Buffer& target);
void encode_request(RequestId id, const ListRequest& request, Buffer& target);
void encode_request(RequestId id, const PingRequest& request, Buffer& target);
// A put's later piece (kData, kPut).
void encode_put_piece(RequestId id, const PutPiece& piece, Buffer& target);

// Header and fixed fields of a put piece without its data, for a gathered write of
// [target, piece.data]. body_bytes in the header counts the data.
void encode_put_piece_prefix(RequestId id, const PutPiece& piece, Buffer& target);

void encode_reply(RequestId id, const PutReply& reply, Buffer& target);
void encode_reply(RequestId id, const GetReply& reply, Buffer& target);
void encode_reply(RequestId id, const DeleteReply& reply, Buffer& target);
void encode_reply(RequestId id, const StatReply& reply, Buffer& target);
void encode_reply(RequestId id, const ListReply& reply, Buffer& target);
void encode_reply(RequestId id, const PingReply& reply, Buffer& target);
void encode_error(RequestId id, Opcode opcode, const ErrorReply& reply, Buffer& target);

// Header and fixed fields of a GetReply without its data, for a gathered write.
void encode_get_reply_prefix(RequestId id, const GetReply& reply, Buffer& target);
// Header of a get's later piece (kData, kGet), whose body is `data_bytes` raw bytes.
void encode_get_data_header(RequestId id, uint32_t data_bytes, Buffer& target);

// Bytes one ListEntry adds to a ListReply body, to fill a reply up to kListReplyBytesMax.
size_t list_entry_bytes(std::string_view key);

// Node side: a frame from a client. kRequest frames decode to their request type; a
// kData/kPut frame decodes to a PutPiece. Anything else is kInvalidArgument.
Result<Request> decode_request(const Frame& frame);

// Client side: the body of a reply frame of the matching opcode.
Result<PutReply> decode_put_reply(ByteView body);
Result<GetReply> decode_get_reply(ByteView body);
Result<DeleteReply> decode_delete_reply(ByteView body);
Result<StatReply> decode_stat_reply(ByteView body);
Result<ListReply> decode_list_reply(ByteView body);
Result<PingReply> decode_ping_reply(ByteView body);
Result<ErrorReply> decode_error(ByteView body);

// The key rule: 1..kKeyBytesMax bytes, no NUL byte. Says what is wrong in plain words.
Status validate_key(std::string_view key);

}  // namespace shoal::wire

#include "shoal/wire/peer_messages.h"

#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "shoal/base/coding.h"
#include "shoal/wire/messages.h"
#include "wire/codec.h"
#include "wire/peer_requests.h"

namespace shoal::wire {
namespace {

// A list entry's version, object_bytes u64, digest u64 and tombstone u8, after its key.
constexpr size_t kManifestListEntryFixedBytes = 16 + 8 + 8 + 1;

void write_chunk_id(Writer& writer, const ChunkId& chunk) {
    writer.u64(chunk.key_hash);
    write_version(writer, chunk.version);
    writer.u32(chunk.stripe_index);
    writer.u8(chunk.chunk_index);
}

ChunkId read_chunk_id(Reader& reader) {
    ChunkId chunk;
    chunk.key_hash = reader.u64();
    chunk.version = read_version(reader);
    chunk.stripe_index = reader.u32();
    chunk.chunk_index = reader.u8();
    return chunk;
}

// A u8 that must be 0 or 1. The reader is checked by the caller: a failed read gives 0.
Result<bool> read_flag(Reader& reader, std::string_view what, std::string_view name) {
    const uint8_t flag = reader.u8();
    if (flag > 1) {
        return Status::invalid_argument(fmt::format("{}: bad {} flag {}", what, name, flag));
    }
    return flag == 1;
}

void write_list_entry(Writer& writer, const ManifestListEntry& entry) {
    writer.string16(entry.key);
    write_version(writer, entry.version);
    writer.u64(entry.object_bytes);
    writer.u64(entry.digest);
    writer.u8(entry.tombstone ? 1 : 0);
}

Result<ManifestListEntry> read_list_entry(Reader& reader) {
    constexpr std::string_view kWhat = "manifest list reply";
    ManifestListEntry entry;
    entry.key = std::string(reader.string16(limits::kKeyBytesMax));
    entry.version = read_version(reader);
    entry.object_bytes = reader.u64();
    entry.digest = reader.u64();
    SHOAL_TRY_ASSIGN(entry.tombstone, read_flag(reader, kWhat, "tombstone"));
    // A short entry reads as zeros: report it as truncated, not as a bad key.
    if (reader.failed()) return reader.finish(kWhat);
    if (Status key = validate_key(entry.key); !key.is_ok()) {
        return Status::invalid_argument(fmt::format("{}: {}", kWhat, key.message()));
    }
    return entry;
}

}  // namespace

// ---- Node side: requests.

Result<Request> decode_chunk_put_request(ByteView body) {
    SHOAL_TRY(check_opaque_bytes(body, kChunkRecordBytesMax, "chunk put request"));
    return Request(ChunkPutRequest{.record = body});
}

Result<Request> decode_chunk_get_request(ByteView body) {
    Reader reader(body);
    const ChunkGetRequest request{.chunk = read_chunk_id(reader)};
    SHOAL_TRY(reader.finish("chunk get request"));
    return Request(request);
}

Result<Request> decode_manifest_put_request(ByteView body) {
    SHOAL_TRY(check_opaque_bytes(body, kManifestBytesMax, "manifest put request"));
    return Request(ManifestPutRequest{.manifest = body});
}

Result<Request> decode_manifest_get_request(ByteView body) {
    Reader reader(body);
    const ManifestGetRequest request{.key = reader.string16(limits::kKeyBytesMax)};
    SHOAL_TRY(reader.finish("manifest get request"));
    SHOAL_TRY(validate_key(request.key));
    return Request(request);
}

Result<Request> decode_manifest_list_request(ByteView body) {
    Reader reader(body);
    ManifestListRequest request;
    request.prefix = reader.string16(limits::kPrefixBytesMax);
    request.start_after = reader.string16(limits::kKeyBytesMax);
    request.limit = reader.u32();
    SHOAL_TRY(reader.finish("manifest list request"));
    if (request.limit == 0 || request.limit > limits::kListEntriesMax) {
        return Status::invalid_argument(
                fmt::format("manifest list request: limit {} is outside 1..{}",
                            request.limit,
                            limits::kListEntriesMax));
    }
    return Request(request);
}

Result<Request> decode_chunk_delete_request(ByteView body) {
    Reader reader(body);
    const ChunkDeleteRequest request{.chunk = read_chunk_id(reader)};
    SHOAL_TRY(reader.finish("chunk delete request"));
    return Request(request);
}

// ---- Encoders.

void encode_request(RequestId id, const ChunkPutRequest& request, Buffer& target) {
    encode_chunk_put_prefix(id, request.record.size(), target);
    target.append(request.record);
}

void encode_chunk_put_prefix(RequestId id, size_t record_bytes, Buffer& target) {
    SHOAL_ASSERT(record_bytes >= 1 && record_bytes <= kChunkRecordBytesMax);
    encode_frame(FrameKind::kRequest, Opcode::kChunkPut, id, target, record_bytes, [](Writer&) {});
}

void encode_request(RequestId id, const ChunkGetRequest& request, Buffer& target) {
    encode_frame(FrameKind::kRequest, Opcode::kChunkGet, id, target, 0, [&](Writer& writer) {
        write_chunk_id(writer, request.chunk);
    });
}

void encode_request(RequestId id, const ManifestPutRequest& request, Buffer& target) {
    encode_manifest_put_prefix(id, request.manifest.size(), target);
    target.append(request.manifest);
}

void encode_manifest_put_prefix(RequestId id, size_t manifest_bytes, Buffer& target) {
    SHOAL_ASSERT(manifest_bytes >= 1 && manifest_bytes <= kManifestBytesMax);
    encode_frame(
            FrameKind::kRequest, Opcode::kManifestPut, id, target, manifest_bytes, [](Writer&) {});
}

void encode_request(RequestId id, const ManifestGetRequest& request, Buffer& target) {
    SHOAL_ASSERT(validate_key(request.key).is_ok());
    encode_frame(FrameKind::kRequest, Opcode::kManifestGet, id, target, 0, [&](Writer& writer) {
        writer.string16(request.key);
    });
}

void encode_request(RequestId id, const ManifestListRequest& request, Buffer& target) {
    SHOAL_ASSERT(request.prefix.size() <= limits::kPrefixBytesMax);
    SHOAL_ASSERT(request.start_after.size() <= limits::kKeyBytesMax);
    SHOAL_ASSERT(request.limit >= 1 && request.limit <= limits::kListEntriesMax);
    encode_frame(FrameKind::kRequest, Opcode::kManifestList, id, target, 0, [&](Writer& writer) {
        writer.string16(request.prefix);
        writer.string16(request.start_after);
        writer.u32(request.limit);
    });
}

void encode_request(RequestId id, const ChunkDeleteRequest& request, Buffer& target) {
    encode_frame(FrameKind::kRequest, Opcode::kChunkDelete, id, target, 0, [&](Writer& writer) {
        write_chunk_id(writer, request.chunk);
    });
}

void encode_reply(RequestId id, const ChunkPutReply& /*reply*/, Buffer& target) {
    encode_frame(FrameKind::kResponse, Opcode::kChunkPut, id, target, 0, [](Writer&) {});
}

void encode_reply(RequestId id, const ChunkGetReply& reply, Buffer& target) {
    encode_chunk_get_reply_prefix(id, reply.record.size(), target);
    target.append(reply.record);
}

void encode_chunk_get_reply_prefix(RequestId id, size_t record_bytes, Buffer& target) {
    SHOAL_ASSERT(record_bytes >= 1 && record_bytes <= kChunkRecordBytesMax);
    encode_frame(FrameKind::kResponse, Opcode::kChunkGet, id, target, record_bytes, [](Writer&) {});
}

void encode_reply(RequestId id, const ManifestPutReply& reply, Buffer& target) {
    SHOAL_ASSERT(reply.outcome == ManifestPutOutcome::kStored ||
                 reply.outcome == ManifestPutOutcome::kSuperseded);
    encode_frame(FrameKind::kResponse, Opcode::kManifestPut, id, target, 0, [&](Writer& writer) {
        writer.u8(static_cast<uint8_t>(reply.outcome));
        write_version(writer, reply.current);
    });
}

void encode_reply(RequestId id, const ManifestGetReply& reply, Buffer& target) {
    if (!reply.found) {
        SHOAL_ASSERT(reply.manifest.empty());
        encode_frame(FrameKind::kResponse, Opcode::kManifestGet, id, target, 0, [](Writer& w) {
            w.u8(0);
        });
        return;
    }
    encode_manifest_get_reply_prefix(id, reply.manifest.size(), target);
    target.append(reply.manifest);
}

void encode_manifest_get_reply_prefix(RequestId id, size_t manifest_bytes, Buffer& target) {
    SHOAL_ASSERT(manifest_bytes >= 1 && manifest_bytes <= kManifestBytesMax);
    encode_frame(FrameKind::kResponse,
                 Opcode::kManifestGet,
                 id,
                 target,
                 manifest_bytes,
                 [](Writer& writer) { writer.u8(1); });
}

size_t manifest_list_entry_bytes(std::string_view key) {
    return 2 + key.size() + kManifestListEntryFixedBytes;
}

void encode_reply(RequestId id, const ManifestListReply& reply, Buffer& target) {
    SHOAL_ASSERT(reply.entries.size() <= limits::kListEntriesMax);
    for (size_t index = 0; index < reply.entries.size(); index++) {
        SHOAL_ASSERT(validate_key(reply.entries[index].key).is_ok());
        SHOAL_ASSERT(index == 0 || reply.entries[index - 1].key < reply.entries[index].key);
    }
    SHOAL_ASSERT(reply.scanned_through.size() <= limits::kKeyBytesMax);
    SHOAL_ASSERT(reply.entries.empty() || reply.entries.back().key <= reply.scanned_through);
    SHOAL_ASSERT(!reply.truncated || !reply.scanned_through.empty());
    encode_frame(FrameKind::kResponse, Opcode::kManifestList, id, target, 0, [&](Writer& writer) {
        writer.u32(static_cast<uint32_t>(reply.entries.size()));
        writer.u8(reply.truncated ? 1 : 0);
        writer.string16(reply.scanned_through);
        for (const ManifestListEntry& entry : reply.entries) {
            write_list_entry(writer, entry);
        }
    });
}

void encode_reply(RequestId id, const ChunkDeleteReply& /*reply*/, Buffer& target) {
    encode_frame(FrameKind::kResponse, Opcode::kChunkDelete, id, target, 0, [](Writer&) {});
}

// ---- Requester side: replies.

Result<ChunkPutReply> decode_chunk_put_reply(ByteView body) {
    Reader reader(body);
    SHOAL_TRY(reader.finish("chunk put reply"));
    return ChunkPutReply{};
}

Result<ChunkGetReply> decode_chunk_get_reply(ByteView body) {
    SHOAL_TRY(check_opaque_bytes(body, kChunkRecordBytesMax, "chunk get reply"));
    return ChunkGetReply{.record = body};
}

Result<ManifestPutReply> decode_manifest_put_reply(ByteView body) {
    Reader reader(body);
    const uint8_t outcome = reader.u8();
    const Version current = read_version(reader);
    SHOAL_TRY(reader.finish("manifest put reply"));
    if (outcome > static_cast<uint8_t>(ManifestPutOutcome::kSuperseded)) {
        return Status::invalid_argument(
                fmt::format("manifest put reply: unknown outcome {}", outcome));
    }
    return ManifestPutReply{.outcome = static_cast<ManifestPutOutcome>(outcome),
                            .current = current};
}

Result<ManifestGetReply> decode_manifest_get_reply(ByteView body) {
    constexpr std::string_view kWhat = "manifest get reply";
    Reader reader(body);
    SHOAL_TRY_ASSIGN(const bool found, read_flag(reader, kWhat, "found"));
    if (reader.failed() || !found) {
        // Nothing follows a miss: a manifest after found = 0 is trailing bytes.
        SHOAL_TRY(reader.finish(kWhat));
        return ManifestGetReply{};
    }
    const ByteView manifest = reader.rest();
    SHOAL_TRY(check_opaque_bytes(manifest, kManifestBytesMax, "manifest get reply: manifest"));
    return ManifestGetReply{.found = true, .manifest = manifest};
}

Result<ManifestListReply> decode_manifest_list_reply(ByteView body) {
    constexpr std::string_view kWhat = "manifest list reply";
    Reader reader(body);
    const uint32_t count = reader.u32();
    SHOAL_TRY_ASSIGN(const bool truncated, read_flag(reader, kWhat, "truncated"));
    std::string scanned_through(reader.string16(limits::kKeyBytesMax));
    if (reader.failed()) return reader.finish(kWhat);
    if (!scanned_through.empty()) {
        if (Status key = validate_key(scanned_through); !key.is_ok()) {
            return Status::invalid_argument(
                    fmt::format("{}: scanned_through: {}", kWhat, key.message()));
        }
    } else if (truncated) {
        return Status::invalid_argument(
                fmt::format("{}: truncated, but no key scanned to go on after", kWhat));
    }
    if (count > limits::kListEntriesMax) {
        return Status::invalid_argument(fmt::format(
                "{}: {} entries is over the limit of {}", kWhat, count, limits::kListEntriesMax));
    }
    // Every entry takes at least a one-byte key and the fixed fields, so a count the body
    // cannot hold is refused before anything is reserved for it.
    if (count > reader.remaining() / manifest_list_entry_bytes("k")) {
        return Status::invalid_argument(fmt::format(
                "{}: {} entries do not fit in {} bytes", kWhat, count, reader.remaining()));
    }
    ManifestListReply reply{.truncated = truncated, .scanned_through = std::move(scanned_through)};
    reply.entries.reserve(count);
    for (uint32_t index = 0; index < count; index++) {
        SHOAL_TRY_ASSIGN(ManifestListEntry entry, read_list_entry(reader));
        // The coordinator merges the replies of many nodes in one pass: each must be sorted.
        if (!reply.entries.empty() && entry.key <= reply.entries.back().key) {
            return Status::invalid_argument(
                    fmt::format("{}: entry {} is not after the one before it", kWhat, index));
        }
        reply.entries.push_back(std::move(entry));
    }
    SHOAL_TRY(reader.finish(kWhat));
    if (!reply.entries.empty() && reply.scanned_through < reply.entries.back().key) {
        return Status::invalid_argument(
                fmt::format("{}: scanned_through is before the last entry", kWhat));
    }
    return reply;
}

Result<ChunkDeleteReply> decode_chunk_delete_reply(ByteView body) {
    Reader reader(body);
    SHOAL_TRY(reader.finish("chunk delete reply"));
    return ChunkDeleteReply{};
}

}  // namespace shoal::wire

// Peer messages: the bodies of the frames one node sends another on the cluster data path,
// with their codecs.
//
// Whichever node a client talks to coordinates its operation: it stores and fetches the chunks
// and manifests of the object on the nodes that own them with these requests, over the same
// framed connections and request ids as clients use (kRequest, then kResponse or kError). Wire
// carries a chunk record (a self-describing chunk header, then the chunk's data) and a manifest
// as opaque bytes, the way it carries a push-pull state: their layouts belong to the object
// module, which wire sits beside and must not depend on. What wire does read (chunk ids, keys,
// list entries) it checks like any client message. Layouts are in docs/wire_format.md ("Peer
// messages"); decoded messages borrow from the frame body. Node-side decoding is
// decode_request (messages.h), whose Request variant holds these requests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/limits.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/wire/frame.h"

namespace shoal::wire {

// A chunk's data travels whole in one frame: a chunk put, or a chunk get's reply. 1 MiB is a
// 4 MiB stripe's chunk under k = 4, the cluster default; a coordinator must choose stripe
// sizes so that stripe_bytes / k stays within it.
inline constexpr uint32_t kChunkBytesMax = limits::kDataFrameBytesMax;
// A chunk record: its header and its data. The header (a fixed part, the object's key and a
// checksum) gets the allowance that every data frame has for the metadata that rides along.
inline constexpr uint32_t kChunkRecordBytesMax = kChunkBytesMax + limits::kFrameMetadataBytesMax;
// An encoded manifest, which must fit one frame: a manifest put is nothing but one, and a
// manifest get's reply is a flag and one.
inline constexpr uint32_t kManifestBytesMax = limits::kDataFrameBytesMax;

static_assert(kChunkRecordBytesMax - kChunkBytesMax >= 4096 + limits::kKeyBytesMax,
              "a chunk header holds a whole key and 4 KiB of fields besides");
static_assert(kChunkRecordBytesMax <= limits::kFrameBodyBytesMax, "a chunk record fits a frame");
static_assert(1 + kManifestBytesMax <= limits::kFrameBodyBytesMax,
              "a found flag and the largest manifest fit one frame");

// A chunk's identity: one chunk of one stripe of one put of one key. (key_hash, version)
// names the put even if two keys' hashes collide, because versions are unique per put; the
// chunk's header names the key itself. Wire does not check the indexes against a code: a
// chunk the node does not hold is simply not found.
struct ChunkId {
    uint64_t key_hash = 0;
    Version version;
    uint32_t stripe_index = 0;
    uint8_t chunk_index = 0;

    bool operator==(const ChunkId&) const = default;
};

// key_hash u64, version (hlc u64, node u64), stripe_index u32, chunk_index u8.
inline constexpr size_t kChunkIdBytes = 8 + 16 + 4 + 1;

// Stores one chunk record (1..kChunkRecordBytesMax bytes) on the receiver.
struct ChunkPutRequest {
    ByteView record;
};

// Sent only once the chunk is durable on the receiver (DESIGN.md "Durability rules"), so the
// coordinator may count it toward the write quorum. Empty: a chunk is immutable and named by
// its header, so a repeated put of it stores nothing new and has nothing else to say, and
// every failure is a kError.
struct ChunkPutReply {};

// Asks for one chunk record. A chunk the node does not hold is a kError with kNotFound.
struct ChunkGetRequest {
    ChunkId chunk;
};

// The chunk record as the node stored it (1..kChunkRecordBytesMax bytes); the requester
// verifies its checksums.
struct ChunkGetReply {
    ByteView record;
};

// Stores one encoded manifest (1..kManifestBytesMax bytes), a tombstone included, on one of
// the owners of its key's partition.
struct ManifestPutRequest {
    ByteView manifest;
};

// The numbers travel in a ManifestPutReply; never renumber them.
enum class ManifestPutOutcome : uint8_t {
    kStored = 0,
    // The receiver already holds a version of the key at least as new; it kept that one. Not
    // an error: the put lost a race, or is a retry of one that already landed.
    kSuperseded = 1,
};

struct ManifestPutReply {
    ManifestPutOutcome outcome = ManifestPutOutcome::kStored;
    Version current;  // The version the receiver holds now: the put's own if kStored.
};

// Asks for the manifest the node holds for `key` (the key rule applies).
struct ManifestGetRequest {
    std::string_view key;
};

// A key the node holds no manifest for is found = false, not an error: a coordinator counts
// every answer toward its read quorum, the absent ones included.
struct ManifestGetReply {
    bool found = false;
    ByteView manifest;  // 1..kManifestBytesMax bytes when found; empty otherwise.
};

// Asks for the manifests a node holds under a prefix, in key order, like ListRequest.
struct ManifestListRequest {
    std::string_view prefix;       // At most kPrefixBytesMax bytes; empty lists every key.
    std::string_view start_after;  // Exclusive; empty starts at the first key.
    uint32_t limit = limits::kListEntriesDefault;  // 1..kListEntriesMax.
};

// One manifest a node holds. Tombstones are listed, not hidden: the coordinator merges the
// answers of every node, and a tombstone must be able to beat an older put held elsewhere.
struct ManifestListEntry {
    std::string key;
    Version version;
    uint64_t object_bytes = 0;
    uint64_t digest = 0;  // xxh3-64 of the whole object.
    bool tombstone = false;
};

// Entries in strictly ascending byte order of key, at most kListEntriesMax of them, filled up
// to kManifestListEntriesBytesMax bytes (manifest_list_entry_bytes), so the reply always fits
// one frame.
struct ManifestListReply {
    std::vector<ManifestListEntry> entries;
    bool truncated = false;  // More keys match after scanned_through.
    // The last key the node looked at, listed or not: a manifest that failed its read is left
    // out of entries, so a page of only such keys still tells the requester where to go on.
    // Empty only when the node looked at no key; never before the last entry's key.
    std::string scanned_through;
};

// Room in a list reply for entries, after its fixed fields and a scanned_through of the
// longest key.
inline constexpr size_t kManifestListEntriesBytesMax =
        limits::kListReplyBytesMax - 2 - limits::kKeyBytesMax;

// Removes one chunk (garbage collection of superseded versions). A chunk the node does not
// hold is gone already: the reply is the same, so a collector may retry freely.
struct ChunkDeleteRequest {
    ChunkId chunk;
};

struct ChunkDeleteReply {};

// Encoders append one whole frame (header and body) to `target`.
// REQUIRES: request.record is 1..kChunkRecordBytesMax bytes.
void encode_request(RequestId id, const ChunkPutRequest& request, Buffer& target);
void encode_request(RequestId id, const ChunkGetRequest& request, Buffer& target);
// REQUIRES: request.manifest is 1..kManifestBytesMax bytes.
void encode_request(RequestId id, const ManifestPutRequest& request, Buffer& target);
// REQUIRES: validate_key(request.key) holds.
void encode_request(RequestId id, const ManifestGetRequest& request, Buffer& target);
// REQUIRES: prefix and start_after within their bounds, limit in 1..kListEntriesMax.
void encode_request(RequestId id, const ManifestListRequest& request, Buffer& target);
void encode_request(RequestId id, const ChunkDeleteRequest& request, Buffer& target);

void encode_reply(RequestId id, const ChunkPutReply& reply, Buffer& target);
// REQUIRES: reply.record is 1..kChunkRecordBytesMax bytes.
void encode_reply(RequestId id, const ChunkGetReply& reply, Buffer& target);
void encode_reply(RequestId id, const ManifestPutReply& reply, Buffer& target);
// REQUIRES: reply.manifest is 1..kManifestBytesMax bytes if found, empty if not.
void encode_reply(RequestId id, const ManifestGetReply& reply, Buffer& target);
// REQUIRES: at most kListEntriesMax entries, each key valid, keys strictly ascending.
void encode_reply(RequestId id, const ManifestListReply& reply, Buffer& target);
void encode_reply(RequestId id, const ChunkDeleteReply& reply, Buffer& target);

// Gathered writes. Each writes a frame's header and fixed fields with body_bytes counting
// `*_bytes` more, which the caller sends next without copying them into the frame: appended
// in place by the module that encodes them (a chunk header, a manifest), or as
// runtime::OutFrame::payload (a chunk's data, a stored record).
// REQUIRES: record_bytes in 1..kChunkRecordBytesMax.
void encode_chunk_put_prefix(RequestId id, size_t record_bytes, Buffer& target);
void encode_chunk_get_reply_prefix(RequestId id, size_t record_bytes, Buffer& target);
// REQUIRES: manifest_bytes in 1..kManifestBytesMax. The get reply's prefix says found.
void encode_manifest_put_prefix(RequestId id, size_t manifest_bytes, Buffer& target);
void encode_manifest_get_reply_prefix(RequestId id, size_t manifest_bytes, Buffer& target);

// Bytes one ManifestListEntry adds to a ManifestListReply body, to fill a reply up to
// kListReplyBytesMax.
size_t manifest_list_entry_bytes(std::string_view key);

// Requester side: the body of a kResponse frame of the matching opcode. A kError frame's body
// goes to decode_error (messages.h).
Result<ChunkPutReply> decode_chunk_put_reply(ByteView body);
Result<ChunkGetReply> decode_chunk_get_reply(ByteView body);
Result<ManifestPutReply> decode_manifest_put_reply(ByteView body);
Result<ManifestGetReply> decode_manifest_get_reply(ByteView body);
Result<ManifestListReply> decode_manifest_list_reply(ByteView body);
Result<ChunkDeleteReply> decode_chunk_delete_reply(ByteView body);

}  // namespace shoal::wire

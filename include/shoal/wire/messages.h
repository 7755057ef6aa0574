// Client messages: the bodies of the frames a client and a node exchange, with their codecs.
//
// Layouts are in docs/wire_format.md. Decoded messages borrow from the frame body (keys and
// data are views), so decoding never copies a payload; the caller copies what it keeps.
// Every decoder checks every length against its limit and rejects trailing bytes. The
// node-to-node messages of the data path are in peer_messages.h, which this includes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/wire/frame.h"
#include "shoal/wire/peer_messages.h"

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
// The code a put asks for: k data and m parity chunks per stripe (replication of N copies is
// k = 1, m = N - 1). k = 0 (and then m = 0) leaves the choice to the cluster's default.
struct PutRedundancy {
    uint8_t data_chunks = 0;
    uint8_t parity_chunks = 0;

    bool is_default() const { return data_chunks == 0; }
};

struct PutRequest {
    std::string_view key;
    uint64_t object_bytes = kObjectBytesUnknown;  // Declared size, if the client knows it.
    PutRedundancy redundancy;
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

// Asks for the node's counters (StatsReply). No body.
struct StatsRequest {};

// A push-pull state and its answer: the membership module's bytes (docs/gossip_format.md),
// 1..kPushPullStateBytesMax of them, which wire carries without reading.
inline constexpr size_t kPushPullStateBytesMax = size_t{512} * 1024;

struct PushPullRequest {
    ByteView state;
};

// Asks for the node's member list (MembersReply). No body.
struct MembersRequest {};

using Request = std::variant<PutRequest,
                             PutPiece,
                             GetRequest,
                             DeleteRequest,
                             StatRequest,
                             ListRequest,
                             PingRequest,
                             StatsRequest,
                             PushPullRequest,
                             MembersRequest,
                             ChunkPutRequest,
                             ChunkGetRequest,
                             ManifestPutRequest,
                             ManifestGetRequest,
                             ManifestListRequest,
                             ChunkDeleteRequest>;

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

// How the node keeps objects. The numbers travel in a StatsReply; never renumber them.
enum class StorageMode : uint8_t {
    kMemory = 0,
    kDisk = 1,
};

// A node's counters since it started, and what its store holds now. Every figure of the disk
// store is 0 in memory mode. Fixed layout: kStatsReplyBytes, in the order declared here.
struct StatsReply {
    StorageMode storage_mode = StorageMode::kMemory;
    // The node (node::NodeStats).
    uint64_t requests = 0;
    uint64_t requests_failed = 0;
    uint64_t frames_rejected = 0;  // Malformed frames that closed their connection.
    uint64_t puts_abandoned = 0;   // Puts whose client went away or broke the stream.
    uint64_t bytes_received = 0;   // Object bytes accepted by puts.
    uint64_t bytes_sent = 0;       // Object bytes sent by gets.
    // The store, either mode: the manifests and chunks this node holds for the cluster.
    uint64_t records = 0;
    uint64_t record_bytes = 0;  // Sum of their sizes.
    // The disk store (storage::DiskStoreStats).
    uint64_t segments = 0;
    uint64_t log_bytes = 0;        // Bytes in all segments.
    uint64_t live_bytes = 0;       // Of which records that are still needed.
    uint64_t corrupt_ranges = 0;   // Damaged ranges found by recovery.
    uint64_t corrupt_bytes = 0;    // Their size.
    uint64_t corrupt_reads = 0;    // Reads whose bytes failed their checks.
    uint64_t damaged_records = 0;  // Records with a piece lost to corruption.
    uint64_t torn_tails = 0;       // Torn tails truncated by recovery.
    uint64_t writes = 0;
    uint64_t syncs = 0;
    uint64_t cache_bytes = 0;
    uint64_t cache_hits = 0;
    uint64_t cache_misses = 0;
    // Repair (repair::ScrubStats, repair::RepairStats), either mode.
    uint64_t chunks_homeless = 0;  // Chunks of this node's puts that no node took.
    uint64_t scrub_passes = 0;
    uint64_t manifests_repaired = 0;
    uint64_t chunks_rebuilt = 0;
    uint64_t stripes_unrecoverable = 0;
    bool writes_stopped = false;  // A write or sync failed: the node refuses writes.
};

// storage_mode u8, 26 u64 counters, writes_stopped u8.
inline constexpr size_t kStatsReplyBytes = 1 + 26 * 8 + 1;

// Calls visit(name, counter) for every u64 counter of a StatsReply, in wire order, with the
// field's name as docs/wire_format.md spells it. The codec and the CLI walk this one list, so
// the layout, the table and the JSON cannot disagree. `Reply` is StatsReply, const or not.
template <typename Reply, typename Visit>
constexpr void for_each_stats_counter(Reply& reply, Visit&& visit) {
    static_assert(std::is_same_v<std::remove_const_t<Reply>, StatsReply>);
    visit(std::string_view("requests"), reply.requests);
    visit(std::string_view("requests_failed"), reply.requests_failed);
    visit(std::string_view("frames_rejected"), reply.frames_rejected);
    visit(std::string_view("puts_abandoned"), reply.puts_abandoned);
    visit(std::string_view("bytes_received"), reply.bytes_received);
    visit(std::string_view("bytes_sent"), reply.bytes_sent);
    visit(std::string_view("records"), reply.records);
    visit(std::string_view("record_bytes"), reply.record_bytes);
    visit(std::string_view("segments"), reply.segments);
    visit(std::string_view("log_bytes"), reply.log_bytes);
    visit(std::string_view("live_bytes"), reply.live_bytes);
    visit(std::string_view("corrupt_ranges"), reply.corrupt_ranges);
    visit(std::string_view("corrupt_bytes"), reply.corrupt_bytes);
    visit(std::string_view("corrupt_reads"), reply.corrupt_reads);
    visit(std::string_view("damaged_records"), reply.damaged_records);
    visit(std::string_view("torn_tails"), reply.torn_tails);
    visit(std::string_view("writes"), reply.writes);
    visit(std::string_view("syncs"), reply.syncs);
    visit(std::string_view("cache_bytes"), reply.cache_bytes);
    visit(std::string_view("cache_hits"), reply.cache_hits);
    visit(std::string_view("cache_misses"), reply.cache_misses);
    visit(std::string_view("chunks_homeless"), reply.chunks_homeless);
    visit(std::string_view("scrub_passes"), reply.scrub_passes);
    visit(std::string_view("manifests_repaired"), reply.manifests_repaired);
    visit(std::string_view("chunks_rebuilt"), reply.chunks_rebuilt);
    visit(std::string_view("stripes_unrecoverable"), reply.stripes_unrecoverable);
}

struct PushPullReply {
    ByteView state;
};

// A member's state as a MembersReply carries it. The numbers are membership::MemberState's;
// never renumber them.
enum class MemberStatus : uint8_t {
    kAlive = 0,
    kSuspect = 1,
    kDead = 2,
    kLeft = 3,
    kDeparted = 4,
};

// Bounds of one member entry's strings (the membership module's, restated: wire is below it).
inline constexpr size_t kMemberNameBytesMax = 64;
inline constexpr size_t kMemberHostBytesMax = 253;
inline constexpr size_t kMemberZoneBytesMax = 64;
inline constexpr size_t kMembersReplyEntriesMax = 1024;

// One member as the answering node sees it.
struct MemberEntry {
    uint64_t id_high = 0;  // The 128-bit member id, high word first in text.
    uint64_t id_low = 0;
    std::string name;
    std::string host;  // The advertise address.
    uint16_t port = 0;
    std::string zone;
    MemberStatus state = MemberStatus::kAlive;
    uint64_t incarnation = 0;
    uint32_t capacity_weight = 0;
    uint64_t last_heard_ms = 0;  // How long ago the node last heard from it itself.
    uint32_t partitions = 0;     // Owner slots it holds in the answering node's layout.
};

struct MembersReply {
    // The answering node's layout: its fingerprint (0 before it has one), the partitions and
    // the owners each has.
    uint64_t layout_epoch = 0;
    uint32_t partition_count = 0;
    uint32_t owners_per_partition = 0;
    std::vector<MemberEntry> members;  // At most kMembersReplyEntriesMax.
};

// The largest encoded member entry.
inline constexpr size_t kMemberEntryBytesMax = 8 + 8 + (2 + kMemberNameBytesMax) +
                                               (2 + kMemberHostBytesMax) + 2 +
                                               (2 + kMemberZoneBytesMax) + 1 + 8 + 4 + 8 + 4;
// The layout's epoch, partition count and owners, then the member count.
inline constexpr size_t kMembersReplyHeadBytes = 8 + 4 + 4 + 4;
static_assert(kMembersReplyHeadBytes + kMembersReplyEntriesMax * kMemberEntryBytesMax <=
                      limits::kFrameBodyBytesMax,
              "the longest member list fits one frame");
static_assert(kPushPullStateBytesMax <= limits::kFrameBodyBytesMax);

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
void encode_request(RequestId id, const StatsRequest& request, Buffer& target);
// REQUIRES: request.state is 1..kPushPullStateBytesMax bytes.
void encode_request(RequestId id, const PushPullRequest& request, Buffer& target);
void encode_request(RequestId id, const MembersRequest& request, Buffer& target);
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
void encode_reply(RequestId id, const StatsReply& reply, Buffer& target);
// REQUIRES: reply.state is 1..kPushPullStateBytesMax bytes.
void encode_reply(RequestId id, const PushPullReply& reply, Buffer& target);
// REQUIRES: every field within its bound.
void encode_reply(RequestId id, const MembersReply& reply, Buffer& target);
void encode_error(RequestId id, Opcode opcode, const ErrorReply& reply, Buffer& target);

// Header and fixed fields of a GetReply without its data, for a gathered write.
void encode_get_reply_prefix(RequestId id, const GetReply& reply, Buffer& target);
// Header of a get's later piece (kData, kGet), whose body is `data_bytes` raw bytes.
void encode_get_data_header(RequestId id, uint32_t data_bytes, Buffer& target);

// Bytes one ListEntry adds to a ListReply body, to fill a reply up to kListReplyBytesMax.
size_t list_entry_bytes(std::string_view key);

// Node side: a frame from a client or a peer. kRequest frames decode to their request type,
// the peer requests of peer_messages.h included; a kData/kPut frame decodes to a PutPiece.
// Anything else is kInvalidArgument.
Result<Request> decode_request(const Frame& frame);

// Client side: the body of a reply frame of the matching opcode.
Result<PutReply> decode_put_reply(ByteView body);
Result<GetReply> decode_get_reply(ByteView body);
Result<DeleteReply> decode_delete_reply(ByteView body);
Result<StatReply> decode_stat_reply(ByteView body);
Result<ListReply> decode_list_reply(ByteView body);
Result<PingReply> decode_ping_reply(ByteView body);
Result<StatsReply> decode_stats_reply(ByteView body);
Result<PushPullReply> decode_push_pull_reply(ByteView body);
Result<MembersReply> decode_members_reply(ByteView body);
Result<ErrorReply> decode_error(ByteView body);

// The key rule: 1..kKeyBytesMax bytes, no NUL byte. Says what is wrong in plain words.
Status validate_key(std::string_view key);

}  // namespace shoal::wire

// PeerService: the replica side of the cluster data path (docs/cluster.md, "Roles").
//
// A node answers the node-to-node opcodes (kChunkPut, kChunkGet, kManifestPut, kManifestGet,
// kManifestList, kChunkDelete) from its local store, in either storage mode, through this one
// class: a typed asynchronous API, which the node's own coordinator calls directly (a call to
// itself never goes over TCP), and serve(), which answers a decoded peer request with its reply
// frame. What it keeps and how:
//
//  - A chunk is stored only once its header decodes and its data matches the header's checksum
//    (object/chunk_header.h): a corrupt chunk is refused with kCorruption, never stored. It is
//    kept under its chunk store key as two pieces, header then data, so that a get sends the
//    data without copying it. A chunk is immutable, so a put of one already held is OK.
//  - A manifest is stored only if it is newer than the one held, counting the writes of the key
//    still in flight, so two overlapping puts cannot land in the wrong order. An older or equal
//    one is answered kSuperseded with the version held: the put lost a race, or is a retry.
//  - Listing reads and decodes the manifests of a key range to report their sizes, digests and
//    tombstones, up to what one reply frame holds.
//
// Every completion runs exactly once and never inside the call that started it: the store's
// completions are deferred already, and early failures wait for on_turn_end(). A call's bytes
// (records, manifests, keys) need only be valid during the call: they are checked and copied
// into the store before it returns.
//
// Threading: the node's loop thread only, like the store under it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/logger.h>

#include "shoal/base/bytes.h"
#include "shoal/base/ids.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/object/chunk_header.h"
#include "shoal/object/manifest.h"
#include "shoal/object/store_key.h"
#include "shoal/runtime/runtime.h"
#include "shoal/storage/local_store.h"
#include "shoal/wire/messages.h"

namespace shoal::node {

struct PeerServiceStats {
    uint64_t chunks_stored = 0;
    uint64_t chunk_bytes_stored = 0;  // Chunk data, headers not counted.
    uint64_t chunks_already_held = 0;
    uint64_t chunks_refused_corrupt = 0;  // A header that does not decode, or a bad checksum.
    uint64_t chunk_gets = 0;
    uint64_t chunk_gets_not_found = 0;
    uint64_t chunks_deleted = 0;
    uint64_t manifests_stored = 0;
    uint64_t manifests_superseded = 0;
    uint64_t manifests_refused_corrupt = 0;
    uint64_t manifest_gets = 0;
    uint64_t manifest_gets_not_found = 0;
    uint64_t lists = 0;
    uint64_t list_entries = 0;
    uint64_t list_manifests_skipped = 0;  // Listed, but gone, unreadable or corrupt when read.
    uint64_t writes_failed = 0;           // The store refused or failed a write.
};

// The same identity in wire's terms and in the object module's (wire sits beside object and
// does not depend on it).
object::ChunkId to_object_chunk_id(const wire::ChunkId& chunk);
wire::ChunkId to_wire_chunk_id(const object::ChunkId& chunk);

class PeerService {
public:
    using Done = std::function<void(Status status)>;
    using ChunkDone = std::function<void(Result<storage::LocalRecord> record)>;
    using ManifestPutDone = std::function<void(Result<wire::ManifestPutReply> reply)>;
    // nullopt: no manifest of the key is held.
    using ManifestDone = std::function<void(Result<std::optional<Buffer>> manifest)>;
    using ManifestRecordDone =
            std::function<void(Result<std::optional<storage::LocalRecord>> record)>;
    using ListDone = std::function<void(Result<wire::ManifestListReply> reply)>;
    // Sends one reply frame to the requester.
    using Reply = std::function<void(runtime::OutFrame frame)>;

    // A list reads at most this many bytes of manifests at once, so that a long list of large
    // manifests does not hold a reply's worth of them in memory while it waits for the disk.
    static constexpr uint64_t kListReadBytesInFlightMax = uint64_t{8} << 20;

    // `store` and `log` must outlive the service.
    PeerService(storage::LocalStore& store, spdlog::logger& log);

    ~PeerService() = default;
    PeerService(const PeerService&) = delete;
    PeerService& operator=(const PeerService&) = delete;
    PeerService(PeerService&&) = delete;
    PeerService& operator=(PeerService&&) = delete;

    // Stores a chunk record (a chunk header, then the chunk's data); OK once it is durable.
    // kCorruption for a header that does not decode or data that fails its checksum (nothing
    // is stored), kInvalidArgument for a record over wire::kChunkRecordBytesMax or data over
    // wire::kChunkBytesMax, or the store's refusal (kResourceExhausted, kIoError).
    void put_chunk(ByteView record, Done done);
    // Called with the version of every manifest a peer sends, so the node's clock issues
    // later versions than any it has stored (a put that follows another through this node
    // then orders after it).
    void on_version_seen(std::function<void(Version version)> observer) {
        version_seen_ = std::move(observer);
    }
    // Called with the id of every chunk newly stored (HandBack's note).
    void on_chunk_stored(std::function<void(const object::ChunkId& chunk)> observer) {
        chunk_stored_ = std::move(observer);
    }
    // The same with the header and the data apart, as a coordinator holds them. `header` must
    // be exactly the encoded header (kInvalidArgument otherwise).
    void put_chunk(ByteView header, ByteView data, Done done);

    // The chunk's stored record (header and data, as two pieces or one). kNotFound if the chunk
    // is not held, kCorruption if its stored bytes failed the store's checks.
    void get_chunk(const object::ChunkId& chunk, ChunkDone done);

    // Removes a chunk; OK once the removal is durable, and OK at once if it was not held.
    void delete_chunk(const object::ChunkId& chunk, Done done);

    // Stores an encoded manifest (a tombstone included) if it is newer than every version of
    // its key held or being written: kStored once durable. kSuperseded, with the version held,
    // for one not newer; if what supersedes it is still being written, the answer waits for
    // that write, and is that write's failure if it fails. kCorruption for bytes that do not
    // decode as a manifest, kInvalidArgument for over wire::kManifestBytesMax, or the store's
    // refusal.
    void put_manifest(ByteView manifest_bytes, ManifestPutDone done);
    // The same for a manifest this node's coordinator encoded: only its envelope and head are
    // decoded again (object::decode_manifest_head), not its stripes or inline data.
    // REQUIRES: the bytes are encode_manifest's.
    void put_own_manifest(ByteView manifest_bytes, ManifestPutDone done);

    // The manifest bytes held for `key` (unchecked beyond the store's own checks), or nullopt.
    // kInvalidArgument for a key that breaks the key rule.
    void get_manifest(std::string_view key, ManifestDone done);
    // The same, as the store's record: a caller on this node can decode it where it lies
    // rather than copy it out first.
    void read_manifest(std::string_view key, ManifestRecordDone done);

    // The manifests held for keys starting with `prefix` and after `start_after`, in key order,
    // at most `limit` and at most one reply frame's worth (kListReplyBytesMax); truncated when
    // more remain. Tombstones are listed. A manifest that cannot be read or decoded is left
    // out and counted. kInvalidArgument for bounds broken (prefix, start_after, limit in
    // 1..kListEntriesMax).
    void list_manifests(std::string_view prefix,
                        std::string_view start_after,
                        uint32_t limit,
                        ListDone done);

    // Whether `request` is one of the peer requests serve() answers.
    static bool is_peer_request(const wire::Request& request);

    // Answers a decoded peer request with exactly one frame through `reply` (a reply of the
    // request's opcode, or a kError frame with the failure's code), never inside this call.
    // The request's views need only be valid during the call. REQUIRES: is_peer_request().
    void serve(const wire::Request& request, RequestId id, Reply reply);

    // Reply frames for stored records, with their pieces sent without copying where they can
    // be: the last piece is the payload, kept alive by its owner.
    static runtime::OutFrame chunk_get_reply(RequestId id, const storage::LocalRecord& record);
    static runtime::OutFrame manifest_get_reply(RequestId id, std::optional<Buffer> manifest);
    static runtime::OutFrame error_reply(RequestId id, wire::Opcode opcode, const Status& status);

    // Runs the completions deferred this turn. The node calls it once per loop turn, besides
    // the store's own on_turn_end().
    void on_turn_end();

    const PeerServiceStats& stats() const { return stats_; }
    // Manifest writes in flight, over all keys.
    size_t manifest_writes_in_flight() const;

private:
    // A manifest write in flight, and the puts it superseded that wait for it to be durable.
    struct ManifestWrite {
        Version version;
        std::vector<ManifestPutDone> superseded;
    };
    struct List;

    void refuse_chunk(const Status& reason, Done done);
    void store_chunk(const object::ChunkHeader& header, ByteView head, ByteView data, Done done);
    void accept_manifest(Result<object::ManifestHead> head, ByteView bytes, ManifestPutDone done);
    void store_manifest(const std::string& store_key,
                        const object::ManifestHead& manifest,
                        ByteView bytes,
                        ManifestPutDone done);
    void manifest_written(const std::string& store_key, Version version, const Status& status);
    void read_listed(const std::shared_ptr<List>& list);
    void listed_read(const std::shared_ptr<List>& list,
                     size_t index,
                     Result<storage::LocalRecord> record);
    void finish_list(List& list);
    void serve_chunk(const wire::Request& request, RequestId id, Reply& reply);
    void serve_manifest(const wire::Request& request, RequestId id, Reply& reply);
    // Runs `start` with the store's completion for `done`; a write the store refuses at once
    // completes with the refusal at the next turn end instead.
    template <typename Start>
    void write(Start&& start, Done done);
    void defer(std::function<void()> completion);

    template <typename Callback>
    void defer_status(Callback done, Status status) {
        SHOAL_ASSERT(done != nullptr);
        defer([done = std::move(done), status = std::move(status)]() { done(status); });
    }

    std::function<void(const object::ChunkId& chunk)> chunk_stored_;
    std::function<void(Version version)> version_seen_;
    storage::LocalStore& store_;
    spdlog::logger& log_;
    // By manifest store key: the writes in flight, in ascending version order (a write starts
    // only if newer than every one in flight), so back() is the newest.
    std::map<std::string, std::vector<ManifestWrite>> manifest_writes_;
    std::vector<std::function<void()>> deferred_;
    PeerServiceStats stats_;
};

}  // namespace shoal::node

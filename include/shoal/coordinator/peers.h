// Peers: what a coordinator operation asks of the other nodes, and how it hears back.
//
// Operations (put_operation.h, get_operation.h, ...) are written against this interface and
// know nothing of connections: the node implements it over its peer links, and a call to the
// node itself goes straight to its own peer service. Unit tests implement it with in-memory
// nodes. The node ids are placement's: the owners a partition table names.
//
// Rules every implementation keeps (libuv's): a completion never runs inside the call that
// made it; each call completes exactly once; every call completes within a bounded time (a
// peer that does not answer fails the call with kTimeout, an unreachable one with
// kUnavailable), so an operation needs no clock of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/object/manifest.h"
#include "shoal/object/store_key.h"
#include "shoal/placement/partition_table.h"

namespace shoal::coordinator {

using placement::NodeKey;

// A version of the coordinating node's later than `newest`: its clock, having observed it.
// Writes that must beat the key's newest version take theirs from here, so that two of them
// raised past the same version still differ.
using VersionAfter = std::function<Version(Version newest)>;

// A chunk record on its way out: the encoded chunk header, then the data, which is a view of
// the stripe being written and kept alive by `owner`, so a chunk is never copied to be sent.
struct OutgoingChunk {
    object::ChunkId id;
    std::shared_ptr<const Buffer> header;
    ByteView data;
    std::shared_ptr<const void> owner;
};

// One manifest as a node lists it: enough to merge the lists of many nodes.
struct ManifestSummary {
    std::string key;
    Version version;
    uint64_t object_bytes = 0;
    uint64_t object_digest = 0;
    bool tombstone = false;
};

struct ManifestPage {
    std::vector<ManifestSummary> entries;  // In key order.
    bool truncated = false;                // The node holds more after scanned_through.
    // The last key the node looked at (wire::ManifestListReply); empty: the last entry's.
    std::string scanned_through;
};

class Peers {
public:
    using Done = std::function<void(Status status)>;
    // The stored chunk record (header and data) as the node sent it, unchecked.
    using ChunkDone = std::function<void(Result<Buffer> record)>;
    // nullopt: the node holds no manifest for the key.
    using ManifestDone = std::function<void(Result<std::optional<object::Manifest>> manifest)>;
    using ListDone = std::function<void(Result<ManifestPage> page)>;

    virtual ~Peers() = default;

    // OK once the chunk is durable on `to`.
    virtual void put_chunk(const NodeKey& to, const OutgoingChunk& chunk, Done done) = 0;
    virtual void get_chunk(const NodeKey& to, const object::ChunkId& chunk, ChunkDone done) = 0;
    // OK once `to` holds no copy of the chunk (one it never had included).
    virtual void delete_chunk(const NodeKey& to, const object::ChunkId& chunk, Done done) = 0;
    // OK once `to` durably holds this manifest or a newer one of the key. `manifest` is
    // encode_manifest's output: a node checks only the head of the manifests it puts to itself.
    virtual void put_manifest(const NodeKey& to,
                              std::shared_ptr<const Buffer> manifest,
                              Done done) = 0;
    virtual void get_manifest(const NodeKey& to, const std::string& key, ManifestDone done) = 0;
    // The node's manifests (tombstones too) of keys starting with `prefix`, after
    // `start_after`, at most `limit`.
    virtual void list_manifests(const NodeKey& to,
                                const std::string& prefix,
                                const std::string& start_after,
                                uint32_t limit,
                                ListDone done) = 0;
};

}  // namespace shoal::coordinator

// The disk store's private state types, shared by its write path (disk_store.cc) and its
// recovery (disk_recovery.cc).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "shoal/storage/disk_store.h"

namespace shoal::storage {

struct DiskStore::Segment {
    runtime::FileId file{};
    bool is_open = false;
    uint64_t bytes = 0;         // Its end: records appended, written or not, or zero fill.
    uint64_t live_bytes = 0;    // Records the index still needs.
    uint64_t filled_bytes = 0;  // Where the file ends: written records and zero fill.
    // Objects that left the index but that gets may still stream from here.
    std::vector<std::weak_ptr<const DiskObject>> released;
};

// Records bound for one segment, written with one write.
struct DiskStore::Batch {
    uint64_t segment = 0;
    uint64_t offset = 0;
    bool creates_segment = false;  // Opens the file, and its header leads `bytes`.
    bool sync = false;             // Synced whatever the policy: the segment is sealed.
    // A record that gets would read from the file (a warm piece, a record the cache does not
    // keep): the batch must go through the page cache, which then holds it.
    bool read_from_file = false;
    // `bytes` may start with bytes already written, the rest of the block `offset` is in
    // (DiskStore::TailBlock), so that the batch is whole blocks.
    Buffer bytes;
    std::vector<runtime::ByteRange> uncached;  // Cold pieces, from the batch's start.
};

// The last partial block of the log as written: a batch that starts in it begins with these
// bytes again.
struct DiskStore::TailBlock {
    uint64_t segment = 0;
    uint64_t offset = 0;  // A multiple of runtime::kDiskBlockBytes.
    Buffer bytes;         // Less than a block.
};

struct DiskStore::OpenPut {
    std::string key;
    Temperature temperature = Temperature::kWarm;
    std::vector<RecordLocation> pieces;
    uint64_t object_bytes = 0;
};

struct DiskStore::IndexEntry {
    DiskObjectRef object;  // nullptr: the key's latest version is a tombstone.
    Version version;
    RecordLocation tombstone;
};

struct DiskStore::PendingRead {
    DiskObjectRef object;
    size_t index = 0;
    RecordLocation location;
    std::shared_ptr<Buffer> record;
    runtime::DiskRead request;
    ReadDone done;
};

// What one flush completes: `apply` publishes to the index, then `done` tells the caller.
struct DiskStore::Completion {
    std::function<void()> apply;
    Done done;
};

// The largest segment file recovery will read whole.
inline constexpr uint64_t kSegmentFileBytesMax = uint64_t{1} << 30;

}  // namespace shoal::storage

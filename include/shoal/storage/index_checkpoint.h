// The index checkpoint: the disk store's index written to a file, so that recovery reads it
// instead of every segment (docs/wal_format.md, "Index checkpoint").
//
// A checkpoint says: "every segment before `replay_from` is as listed, and these are the
// latest records of every key in them". Recovery loads it, checks that the listed segments are
// still there with the sizes listed (a segment compaction removed since may be gone), and then
// scans only the segments from `replay_from` on, exactly as a full recovery would. Entries
// whose record lies at or after `replay_from` are skipped on load: the scan finds them again,
// or finds that they never became durable.
//
// The file is written in slices while the store runs, so an entry may show a key as it was at
// any moment of the writing; every change made during it lies at or after `replay_from`, and
// the scan applies it again.
//
// Pure: no IO. The writer appends to buffers the caller writes out; the decoder checks the
// whole file's checksum and every length before it trusts a byte.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/hash.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/storage/disk_store.h"

namespace shoal::storage {

inline constexpr std::string_view kCheckpointFileName = "index.checkpoint";
inline constexpr std::string_view kCheckpointTemporaryFileName = "index.checkpoint.tmp";
inline constexpr uint64_t kCheckpointMagic = 0x7864696c616f6873;  // "shoalidx", little-endian.
inline constexpr uint32_t kCheckpointFormatVersion = 1;
inline constexpr size_t kCheckpointHeaderBytes = 40;
inline constexpr size_t kCheckpointTrailerBytes = 16;
// Recovery reads a checkpoint whole; a larger one is ignored and the segments are scanned.
inline constexpr uint64_t kCheckpointFileBytesMax = uint64_t{2} << 30;

struct CheckpointSegment {
    uint64_t sequence = 0;
    uint64_t bytes = 0;
};

struct CheckpointHeader {
    uint64_t lsn_last = 0;
    uint64_t put_last = 0;
    uint64_t replay_from = 0;                 // The first segment recovery must still scan.
    std::vector<CheckpointSegment> segments;  // Those before replay_from, in sequence order.
};

// One key's latest record. A damaged object keeps its damage and no pieces: it stays damaged.
struct CheckpointEntry {
    std::string_view key;
    bool is_tombstone = false;
    Version version;
    RecordLocation location;  // The commit, or the tombstone.
    PutId put{};
    uint64_t object_bytes = 0;
    uint64_t digest = 0;
    uint32_t piece_count = 0;  // As the commit says; 0 for inline data.
    std::string_view damage;
    std::vector<RecordLocation> pieces;  // piece_count of them, in order; none if damaged.
};

// Encodes a checkpoint a slice at a time: take() hands over what was added since the last
// take, and finish() the rest with the trailer. The checksum runs over all of it.
class CheckpointWriter {
public:
    explicit CheckpointWriter(const CheckpointHeader& header);

    void add(const CheckpointEntry& entry);
    size_t pending_bytes() const { return pending_.size(); }
    Buffer take();
    Buffer finish();

private:
    Buffer pending_;
    Hasher64 hasher_;
    uint64_t entries_ = 0;
};

// Decodes `file`: kCorruption, saying why, unless it is a whole checkpoint with a matching
// checksum and valid fields. Calls `on_entry` for each entry in order; the entry's views
// point into `file`. An error from `on_entry` stops the decoding and is returned.
Status decode_checkpoint(ByteView file,
                         CheckpointHeader& header,
                         const std::function<Status(const CheckpointEntry& entry)>& on_entry);

}  // namespace shoal::storage

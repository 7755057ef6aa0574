// The recovery scanner: reads a whole segment's bytes and says what is in it.
//
// It returns the valid records in order, where the log's valid part ends, and what lies
// beyond: nothing (the end of the file or zero fill from preallocation), a torn write (the
// last group write stopped partway, so its record is cut off by zero fill or the end of the
// file: truncate it away), or corruption (bytes that are neither). Damage followed by valid
// records is corruption before the tail: it is reported with its offset and skipped, never
// silently dropped (docs/wal_format.md, "Recovery").
//
// One case cannot be told apart: a flipped bit in the length of the very last record, which
// makes it reach into the zero fill, looks exactly like a torn write.
//
// Pure: no IO; the result borrows from the bytes it was given.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/storage/wal_record.h"

namespace shoal::storage {

enum class TailKind : uint8_t {
    kClean,    // The valid records run to the end of the file or to zero fill.
    kTorn,     // A write cut short at the end: safe to truncate at end_offset.
    kCorrupt,  // Damaged bytes at the end that are not a torn write: keep them, report them.
};

struct CorruptRange {
    uint64_t offset = 0;
    uint64_t bytes = 0;
    std::string reason;
};

struct SegmentScan {
    SegmentHeader header;
    std::vector<Record> records;  // Valid, in file order, lsn strictly increasing.
    uint64_t end_offset = 0;      // Just past the last byte of the valid log.
    TailKind tail = TailKind::kClean;
    std::vector<CorruptRange> corrupt;  // Before the tail, and the tail itself if kCorrupt.
};

// kCorruption only if the segment header itself is unreadable (the caller reports the whole
// file); everything else is described in the result.
Result<SegmentScan> scan_segment(ByteView segment, size_t sector_bytes = 512);

}  // namespace shoal::storage

// WAL records and segment headers: the byte format of the disk store's log (docs/wal_format.md).
//
// A segment file is a 32-byte header and then records, each 8-byte aligned:
//
//   checksum u64 | body_bytes u32 | kind u8 | flags u8 | reserved u16 | lsn u64 | body | pad
//
// The checksum is xxh3-64 of every byte after itself up to the end of the body. Padding is
// zero bytes up to the next multiple of 8. Pure functions: no IO; encoders append to the
// caller's Buffer; decoders check every length before use and never trust unchecked bytes.
#pragma once

#include <cstdint>

#include "shoal/base/bytes.h"
#include "shoal/base/ids.h"
#include "shoal/base/limits.h"
#include "shoal/base/status.h"

namespace shoal::storage {

enum class RecordKind : uint8_t {
    kObjectPiece = 1,   // Bytes of an object being written.
    kObjectCommit = 2,  // Makes an object visible: its key, version, size, digest, pieces.
    kTombstone = 3,     // Removes a key.
};

inline constexpr uint64_t kSegmentMagic = 0x6c61776c616f6873;  // "shoalwal", little-endian.
inline constexpr uint32_t kSegmentFormatVersion = 1;
inline constexpr size_t kSegmentHeaderBytes = 32;
inline constexpr size_t kRecordHeaderBytes = 24;
inline constexpr size_t kRecordAlignmentBytes = 8;
// A piece of up to one data frame plus the metadata of a commit.
inline constexpr uint32_t kRecordBodyBytesMax = limits::kDataFrameBytesMax + 4096;

static_assert(kSegmentHeaderBytes % kRecordAlignmentBytes == 0);
static_assert(kRecordHeaderBytes % kRecordAlignmentBytes == 0);

struct SegmentHeader {
    uint64_t sequence = 0;  // Segments are replayed in sequence order.
};

// Appends the 32-byte header: magic u64 | format u32 | header_bytes u32 | sequence u64 |
// checksum u64 (xxh3-64 of the first 24 bytes).
void encode_segment_header(const SegmentHeader& header, Buffer& target);
// kCorruption if the bytes are not a segment header this build can read.
Result<SegmentHeader> decode_segment_header(ByteView source);

// The bytes a record with a body of `body_bytes` occupies, padding included.
size_t record_bytes(size_t body_bytes);

// Appends one record with its padding. REQUIRES: lsn != 0, body.size() <= kRecordBodyBytesMax.
void encode_record(Lsn lsn, RecordKind kind, ByteView body, Buffer& target);
// The same, for a body given as a head and a tail (a piece's fields and its data), so that the
// data is copied once, straight into the target.
void encode_record(
        Lsn lsn, RecordKind kind, ByteView body_head, ByteView body_tail, Buffer& target);

struct Record {
    Lsn lsn{};
    RecordKind kind = RecordKind::kObjectPiece;
    ByteView body;     // Borrowed from the source.
    size_t bytes = 0;  // What the record occupies, padding included.
};

// Decodes the record at the start of `source`. kCorruption, saying why, if it is not a whole,
// valid record: too short, a length over the limit, an unknown kind or flags, a checksum
// mismatch, or non-zero padding.
Result<Record> decode_record(ByteView source);

}  // namespace shoal::storage

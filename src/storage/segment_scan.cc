#include "shoal/storage/segment_scan.h"

#include <algorithm>

#include "shoal/base/coding.h"

namespace shoal::storage {
namespace {

bool all_zero(ByteView bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

// The next offset at or after `from`, 8-byte aligned, where a valid record with an lsn after
// `lsn_last` starts; 0 if there is none. A cheap look at the header comes before the hash.
uint64_t find_next_record(ByteView segment, uint64_t from, Lsn lsn_last) {
    uint64_t offset =
            (from + kRecordAlignmentBytes - 1) / kRecordAlignmentBytes * kRecordAlignmentBytes;
    for (; offset + kRecordHeaderBytes <= segment.size(); offset += kRecordAlignmentBytes) {
        const std::byte* header = segment.data() + offset;
        if (decode_fixed32(header + 8) > kRecordBodyBytesMax) continue;
        const auto kind = static_cast<uint8_t>(header[12]);
        if (kind < 1 || kind > 3) continue;
        Result<Record> record = decode_record(segment.subspan(offset));
        if (record.is_ok() && record.value().lsn > lsn_last) return offset;
    }
    return 0;
}

// Where zero fill begins for good: the first sector boundary at or after `from` past which
// every byte is zero, or the end of the segment.
uint64_t zero_fill_start(ByteView segment, uint64_t from, size_t sector_bytes) {
    uint64_t start = segment.size();
    if (segment.empty()) return std::max(start, from);
    uint64_t boundary = (segment.size() - 1) / sector_bytes * sector_bytes;  // The last sector.
    while (boundary >= from) {
        const size_t bytes = std::min<uint64_t>(sector_bytes, segment.size() - boundary);
        if (!all_zero(segment.subspan(boundary, bytes))) break;
        start = boundary;
        if (boundary < sector_bytes) break;
        boundary -= sector_bytes;
    }
    return std::max(start, from);
}

// How far the damaged record at `offset` claims to reach; past the end if its length is
// unreadable.
uint64_t claimed_end(ByteView segment, uint64_t offset) {
    if (segment.size() - offset < kRecordHeaderBytes) return UINT64_MAX;
    const uint32_t body_bytes = decode_fixed32(segment.data() + offset + 8);
    if (body_bytes > kRecordBodyBytesMax) return UINT64_MAX;
    return offset + record_bytes(body_bytes);
}

}  // namespace

Result<SegmentScan> scan_segment(ByteView segment, size_t sector_bytes) {
    SHOAL_ASSERT(sector_bytes > 0);
    SHOAL_TRY_ASSIGN(const SegmentHeader header, decode_segment_header(segment));
    SegmentScan scan{.header = header};
    uint64_t offset = kSegmentHeaderBytes;
    Lsn lsn_last{0};
    while (offset < segment.size()) {
        const ByteView rest = segment.subspan(offset);
        if (all_zero(rest.subspan(0, std::min(rest.size(), kRecordHeaderBytes))) &&
            find_next_record(segment, offset, lsn_last) == 0 && all_zero(rest)) {
            break;  // Zero fill: the clean end.
        }
        Result<Record> record = decode_record(rest);
        if (record.is_ok() && record.value().lsn > lsn_last) {
            lsn_last = record.value().lsn;
            offset += record.value().bytes;
            scan.records.push_back(record.value());
            continue;
        }
        const std::string reason =
                record.is_ok() ? "wal: lsn does not increase" : record.status().message();
        const uint64_t next = find_next_record(segment, offset + 1, lsn_last);
        if (next != 0) {
            scan.corrupt.push_back({.offset = offset, .bytes = next - offset, .reason = reason});
            offset = next;
            continue;
        }
        // Nothing valid follows. A torn write is a record cut off by zero fill or the end.
        scan.end_offset = offset;
        const bool torn =
                claimed_end(segment, offset) > zero_fill_start(segment, offset, sector_bytes);
        scan.tail = torn ? TailKind::kTorn : TailKind::kCorrupt;
        if (!torn) {
            scan.corrupt.push_back(
                    {.offset = offset, .bytes = segment.size() - offset, .reason = reason});
        }
        return scan;
    }
    scan.end_offset = offset;
    return scan;
}

}  // namespace shoal::storage

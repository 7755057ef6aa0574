#include "shoal/storage/wal_record.h"

#include <algorithm>

#include <fmt/format.h>

#include "shoal/base/coding.h"
#include "shoal/base/hash.h"

namespace shoal::storage {
namespace {

constexpr size_t kChecksumBytes = 8;

bool is_known_kind(uint8_t kind) {
    return kind >= static_cast<uint8_t>(RecordKind::kObjectPiece) &&
           kind <= static_cast<uint8_t>(RecordKind::kTombstone);
}

}  // namespace

void encode_segment_header(const SegmentHeader& header, Buffer& target) {
    const size_t offset = target.size();
    target.resize(offset + kSegmentHeaderBytes);
    std::byte* bytes = target.data() + offset;
    encode_fixed64(bytes, kSegmentMagic);
    encode_fixed32(bytes + 8, kSegmentFormatVersion);
    encode_fixed32(bytes + 12, static_cast<uint32_t>(kSegmentHeaderBytes));
    encode_fixed64(bytes + 16, header.sequence);
    encode_fixed64(bytes + 24, hash64(ByteView(bytes, 24)));
}

Result<SegmentHeader> decode_segment_header(ByteView source) {
    if (source.size() < kSegmentHeaderBytes) {
        return Status::corruption("wal: segment shorter than its header");
    }
    if (decode_fixed64(source.data() + 24) != hash64(source.subspan(0, 24))) {
        return Status::corruption("wal: segment header checksum mismatch");
    }
    if (decode_fixed64(source.data()) != kSegmentMagic) {
        return Status::corruption("wal: not a segment (bad magic)");
    }
    const uint32_t format = decode_fixed32(source.data() + 8);
    if (format != kSegmentFormatVersion ||
        decode_fixed32(source.data() + 12) != kSegmentHeaderBytes) {
        return Status::corruption(
                fmt::format("wal: segment format {} is not readable by this build", format));
    }
    return SegmentHeader{.sequence = decode_fixed64(source.data() + 16)};
}

size_t record_bytes(size_t body_bytes) {
    const size_t unpadded = kRecordHeaderBytes + body_bytes;
    return (unpadded + kRecordAlignmentBytes - 1) / kRecordAlignmentBytes * kRecordAlignmentBytes;
}

void encode_record(Lsn lsn, RecordKind kind, ByteView body, Buffer& target) {
    encode_record(lsn, kind, body, ByteView{}, target);
}

void encode_record(
        Lsn lsn, RecordKind kind, ByteView body_head, ByteView body_tail, Buffer& target) {
    const size_t body_bytes = body_head.size() + body_tail.size();
    SHOAL_ASSERT(lsn != Lsn{0});
    SHOAL_ASSERT(body_bytes <= kRecordBodyBytesMax);
    const size_t offset = target.size();
    const size_t bytes = record_bytes(body_bytes);
    target.resize(offset + bytes);
    std::byte* record = target.data() + offset;
    encode_fixed32(record + 8, static_cast<uint32_t>(body_bytes));
    record[12] = static_cast<std::byte>(kind);
    record[13] = std::byte{0};
    encode_fixed16(record + 14, 0);
    encode_fixed64(record + 16, static_cast<uint64_t>(lsn));
    std::byte* body = record + kRecordHeaderBytes;
    if (!body_head.empty()) std::memcpy(body, body_head.data(), body_head.size());
    if (!body_tail.empty()) {
        std::memcpy(body + body_head.size(), body_tail.data(), body_tail.size());
    }
    const size_t end = kRecordHeaderBytes + body_bytes;
    std::memset(record + end, 0, bytes - end);
    encode_fixed64(record, hash64(ByteView(record + kChecksumBytes, end - kChecksumBytes)));
    // Paired assertion: what goes to disk decodes to what we were given.
    SHOAL_ASSERT_EXPENSIVE(decode_record(ByteView(record, bytes)).is_ok());
}

Result<Record> decode_record(ByteView source) {
    if (source.size() < kRecordHeaderBytes) return Status::corruption("wal: torn record header");
    const uint32_t body_bytes = decode_fixed32(source.data() + 8);
    if (body_bytes > kRecordBodyBytesMax) {
        return Status::corruption(
                fmt::format("wal: record body of {} bytes over the limit", body_bytes));
    }
    const size_t bytes = record_bytes(body_bytes);
    if (source.size() < bytes) return Status::corruption("wal: torn record body");
    const size_t end = kRecordHeaderBytes + body_bytes;
    const uint64_t checksum_stored = decode_fixed64(source.data());
    const uint64_t checksum_actual = hash64(source.subspan(kChecksumBytes, end - kChecksumBytes));
    if (checksum_stored != checksum_actual) return Status::corruption("wal: checksum mismatch");
    const auto kind = static_cast<uint8_t>(source[12]);
    if (!is_known_kind(kind) || source[13] != std::byte{0} ||
        decode_fixed16(source.data() + 14) != 0) {
        return Status::corruption(fmt::format("wal: unknown record kind {} or flags", kind));
    }
    const uint64_t lsn = decode_fixed64(source.data() + 16);
    if (lsn == 0) return Status::corruption("wal: record with lsn 0");
    const ByteView padding = source.subspan(end, bytes - end);
    if (std::any_of(
                padding.begin(), padding.end(), [](std::byte b) { return b != std::byte{0}; })) {
        return Status::corruption("wal: non-zero record padding");
    }
    return Record{.lsn = Lsn{lsn},
                  .kind = static_cast<RecordKind>(kind),
                  .body = source.subspan(kRecordHeaderBytes, body_bytes),
                  .bytes = bytes};
}

}  // namespace shoal::storage

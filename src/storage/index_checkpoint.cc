#include "shoal/storage/index_checkpoint.h"

#include <fmt/format.h>

#include "shoal/base/coding.h"
#include "shoal/base/limits.h"
#include "shoal/storage/wal_record.h"
#include "storage/disk_store_state.h"

namespace shoal::storage {
namespace {

enum EntryKind : uint8_t { kObjectEntry = 1, kTombstoneEntry = 2 };

constexpr size_t kLocationBytes = 24;
constexpr size_t kSegmentEntryBytes = 16;
constexpr size_t kDamageBytesMax = 1024;

void write_location(Writer& writer, const RecordLocation& location) {
    writer.u64(location.segment);
    writer.u64(location.offset);
    writer.u32(location.record_bytes);
    writer.u32(location.data_bytes);
}

RecordLocation read_location(Reader& reader) {
    RecordLocation location;
    location.segment = reader.u64();
    location.offset = reader.u64();
    location.record_bytes = reader.u32();
    location.data_bytes = reader.u32();
    return location;
}

Status check_location(const RecordLocation& location) {
    const bool valid = location.segment != 0 && location.offset >= kSegmentHeaderBytes &&
                       location.record_bytes >= kRecordHeaderBytes &&
                       location.record_bytes <= record_bytes(kRecordBodyBytesMax) &&
                       location.data_bytes <= location.record_bytes &&
                       location.offset + location.record_bytes <= kSegmentFileBytesMax;
    if (valid) return Status::ok();
    return Status::corruption(fmt::format("checkpoint: bad record location {}:{}+{}",
                                          location.segment,
                                          location.offset,
                                          location.record_bytes));
}

Status read_object_fields(Reader& reader, CheckpointEntry& entry) {
    entry.put = PutId{reader.u64()};
    entry.object_bytes = reader.u64();
    entry.digest = reader.u64();
    entry.piece_count = reader.u32();
    entry.damage = reader.string16(kDamageBytesMax);
    entry.pieces.clear();
    if (reader.failed()) return Status::corruption("checkpoint: an entry is cut short");
    if (entry.put == PutId{0} || entry.object_bytes > limits::kObjectBytesMax) {
        return Status::corruption("checkpoint: bad object fields");
    }
    if (!entry.damage.empty()) return Status::ok();
    if (entry.piece_count > reader.remaining() / kLocationBytes) {
        return Status::corruption(
                fmt::format("checkpoint: {} pieces do not fit in the file", entry.piece_count));
    }
    entry.pieces.reserve(entry.piece_count);
    for (uint32_t index = 0; index < entry.piece_count; ++index) {
        entry.pieces.push_back(read_location(reader));
        SHOAL_TRY(check_location(entry.pieces.back()));
    }
    return Status::ok();
}

Status read_entry(Reader& reader, CheckpointEntry& entry) {
    const uint8_t kind = reader.u8();
    entry.key = reader.string16(limits::kStoreKeyBytesMax);
    entry.version.hlc = reader.u64();
    entry.version.node = NodeId{reader.u64()};
    entry.location = read_location(reader);
    if (reader.failed()) return Status::corruption("checkpoint: an entry is cut short");
    if (kind != kObjectEntry && kind != kTombstoneEntry) {
        return Status::corruption(fmt::format("checkpoint: unknown entry kind {}", kind));
    }
    if (entry.key.size() < limits::kKeyBytesMin) return Status::corruption("checkpoint: no key");
    SHOAL_TRY(check_location(entry.location));
    entry.is_tombstone = kind == kTombstoneEntry;
    if (entry.is_tombstone) {
        entry.put = PutId{0};
        entry.object_bytes = 0;
        entry.digest = 0;
        entry.piece_count = 0;
        entry.damage = {};
        entry.pieces.clear();
        return Status::ok();
    }
    return read_object_fields(reader, entry);
}

Status read_header(Reader& reader, CheckpointHeader& header) {
    const uint64_t magic = reader.u64();
    const uint32_t format = reader.u32();
    const uint32_t segment_count = reader.u32();
    header.lsn_last = reader.u64();
    header.put_last = reader.u64();
    header.replay_from = reader.u64();
    if (magic != kCheckpointMagic) return Status::corruption("checkpoint: bad magic");
    if (format != kCheckpointFormatVersion) {
        return Status::corruption(fmt::format("checkpoint: unknown format {}", format));
    }
    if (segment_count > reader.remaining() / kSegmentEntryBytes) {
        return Status::corruption("checkpoint: the segment list does not fit in the file");
    }
    header.segments.clear();
    header.segments.reserve(segment_count);
    for (uint32_t index = 0; index < segment_count; ++index) {
        const CheckpointSegment segment{.sequence = reader.u64(), .bytes = reader.u64()};
        const bool ordered =
                header.segments.empty() || header.segments.back().sequence < segment.sequence;
        if (!ordered || segment.sequence >= header.replay_from ||
            segment.bytes > kSegmentFileBytesMax) {
            return Status::corruption("checkpoint: bad segment list");
        }
        header.segments.push_back(segment);
    }
    return Status::ok();
}

}  // namespace

CheckpointWriter::CheckpointWriter(const CheckpointHeader& header) {
    SHOAL_ASSERT(header.segments.size() <= UINT32_MAX);
    Writer writer(pending_);
    writer.u64(kCheckpointMagic);
    writer.u32(kCheckpointFormatVersion);
    writer.u32(static_cast<uint32_t>(header.segments.size()));
    writer.u64(header.lsn_last);
    writer.u64(header.put_last);
    writer.u64(header.replay_from);
    for (const CheckpointSegment& segment : header.segments) {
        SHOAL_ASSERT(segment.sequence < header.replay_from);
        writer.u64(segment.sequence);
        writer.u64(segment.bytes);
    }
}

void CheckpointWriter::add(const CheckpointEntry& entry) {
    Writer writer(pending_);
    writer.u8(entry.is_tombstone ? kTombstoneEntry : kObjectEntry);
    writer.string16(entry.key);
    writer.u64(entry.version.hlc);
    writer.u64(to_u64(entry.version.node));
    write_location(writer, entry.location);
    entries_ += 1;
    if (entry.is_tombstone) return;
    SHOAL_ASSERT(entry.damage.size() <= kDamageBytesMax);
    SHOAL_ASSERT(entry.damage.empty() ? entry.pieces.size() == entry.piece_count
                                      : entry.pieces.empty());
    writer.u64(to_u64(entry.put));
    writer.u64(entry.object_bytes);
    writer.u64(entry.digest);
    writer.u32(entry.piece_count);
    writer.string16(entry.damage);
    if (!entry.damage.empty()) return;
    for (const RecordLocation& piece : entry.pieces) {
        write_location(writer, piece);
    }
}

Buffer CheckpointWriter::take() {
    Buffer taken = std::move(pending_);
    pending_ = Buffer();
    hasher_.update(taken.view());
    return taken;
}

Buffer CheckpointWriter::finish() {
    Writer(pending_).u64(entries_);
    Buffer taken = take();
    Writer(taken).u64(hasher_.digest());
    return taken;
}

Status decode_checkpoint(ByteView file,
                         CheckpointHeader& header,
                         const std::function<Status(const CheckpointEntry& entry)>& on_entry) {
    if (file.size() < kCheckpointHeaderBytes + kCheckpointTrailerBytes) {
        return Status::corruption(fmt::format("checkpoint: {} bytes is too short", file.size()));
    }
    const size_t body_bytes = file.size() - kCheckpointTrailerBytes;
    const uint64_t entry_count = decode_fixed64(file.data() + body_bytes);
    const uint64_t checksum = decode_fixed64(file.data() + body_bytes + 8);
    if (hash64(file.first(body_bytes + 8)) != checksum) {
        return Status::corruption("checkpoint: checksum mismatch");
    }
    Reader reader(file.first(body_bytes));
    SHOAL_TRY(read_header(reader, header));
    CheckpointEntry entry;
    for (uint64_t index = 0; index < entry_count; ++index) {
        SHOAL_TRY(read_entry(reader, entry));
        SHOAL_TRY(on_entry(entry));
    }
    if (reader.remaining() != 0) {
        return Status::corruption("checkpoint: bytes left over after the last entry");
    }
    return Status::ok();
}

}  // namespace shoal::storage

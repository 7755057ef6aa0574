// Fuzz target: the WAL recovery scanner and record decoder (src/storage/segment_scan.cc), and
// the index checkpoint decoder (src/storage/index_checkpoint.cc).
//
// Half the inputs are taken as raw segment bytes behind a valid segment header; the other half
// as a recipe that builds a valid segment from the input's bytes and then damages it (a bit
// flip, a zeroed range, a cut), so the fuzzer reaches deep into both the valid and the
// damaged paths. Whatever the bytes, the scanner must not crash, leak or read out of bounds,
// and what it returns must hold: records decode again, lsns increase, ranges are in bounds.
// A quarter of the inputs go to the checkpoint decoder: raw, and as a recipe for a valid
// checkpoint with one byte changed and the checksum sealed again, so the field checks are hit.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "shoal/base/assert.h"
#include "shoal/base/coding.h"
#include "shoal/base/hash.h"
#include "shoal/storage/index_checkpoint.h"
#include "shoal/storage/record_body.h"
#include "shoal/storage/segment_scan.h"

// libFuzzer's entry point; declared for -Wmissing-declarations.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using shoal::Buffer;
using shoal::ByteView;

// Takes bytes from the front of the input, as a recipe reads them.
class Recipe {
public:
    Recipe(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    uint8_t next() { return offset_ < size_ ? data_[offset_++] : 0; }
    size_t left() const { return size_ - offset_; }

private:
    const uint8_t* data_;
    size_t size_;
    size_t offset_ = 0;
};

Buffer build_and_damage(Recipe& recipe) {
    Buffer segment;
    shoal::storage::encode_segment_header({.sequence = 1}, segment);
    const size_t count = recipe.next() % 16;
    for (size_t index = 0; index < count && recipe.left() > 0; index++) {
        Buffer body(recipe.next() * size_t{4});
        for (size_t at = 0; at < body.size(); at++)
            body[at] = std::byte{recipe.next()};
        shoal::storage::encode_record(shoal::Lsn{index + 1},
                                      static_cast<shoal::storage::RecordKind>(1 + index % 3),
                                      body.view(),
                                      segment);
    }
    const size_t fill = recipe.next() * size_t{64};
    const size_t end = segment.size();
    segment.resize(end + fill);
    std::memset(segment.data() + end, 0, fill);
    if (segment.size() <= shoal::storage::kSegmentHeaderBytes) return segment;
    const size_t span = segment.size() - shoal::storage::kSegmentHeaderBytes;
    const size_t at = shoal::storage::kSegmentHeaderBytes + (recipe.next() * 257U) % span;
    switch (recipe.next() % 4) {
        case 0:
            segment[at] ^= std::byte{static_cast<uint8_t>(1U << (recipe.next() % 8))};
            break;
        case 1:
            std::memset(segment.data() + at, 0, std::min<size_t>(recipe.next(), span - (at - 32)));
            break;
        case 2:
            segment.resize(at);
            break;
        default:
            break;
    }
    return segment;
}

// A body that passed its checksum still goes through a bounds-checked decoder; a piece's data
// or an inline object, when it decodes, is the body's tail.
void check_body(const shoal::storage::Record& record) {
    using shoal::storage::RecordKind;
    const ByteView body = record.body;
    if (record.kind == RecordKind::kObjectPiece) {
        auto piece = shoal::storage::decode_piece_body(body);
        if (piece.is_ok())
            SHOAL_ASSERT(piece.value().data.data() + piece.value().data.size() ==
                         body.data() + body.size());
    } else if (record.kind == RecordKind::kObjectCommit) {
        auto commit = shoal::storage::decode_commit_body(body);
        if (commit.is_ok()) SHOAL_ASSERT(commit.value().inline_data.size() <= body.size());
    } else {
        (void)shoal::storage::decode_tombstone_body(body);
    }
}

void check(ByteView segment) {
    shoal::Result<shoal::storage::SegmentScan> scan = shoal::storage::scan_segment(segment);
    if (!scan.is_ok()) return;
    uint64_t lsn_last = 0;
    for (const shoal::storage::Record& record : scan.value().records) {
        SHOAL_ASSERT(static_cast<uint64_t>(record.lsn) > lsn_last);
        lsn_last = static_cast<uint64_t>(record.lsn);
        const auto* begin = record.body.data() - shoal::storage::kRecordHeaderBytes;
        SHOAL_ASSERT(begin >= segment.data());
        SHOAL_ASSERT(shoal::storage::decode_record(ByteView(begin, record.bytes)).is_ok());
        check_body(record);
    }
    SHOAL_ASSERT(scan.value().end_offset <= segment.size());
    for (const shoal::storage::CorruptRange& range : scan.value().corrupt) {
        SHOAL_ASSERT(range.offset + range.bytes <= segment.size());
    }
}

// Whatever decodes holds: every location inside the segment limits, pieces as counted.
void check_checkpoint(ByteView file) {
    shoal::storage::CheckpointHeader header;
    (void)shoal::storage::decode_checkpoint(
            file, header, [&](const shoal::storage::CheckpointEntry& entry) {
                SHOAL_ASSERT(!entry.key.empty());
                SHOAL_ASSERT(entry.location.segment != 0);
                if (entry.damage.empty()) SHOAL_ASSERT(entry.pieces.size() == entry.piece_count);
                return shoal::Status::ok();
            });
}

Buffer build_checkpoint(Recipe& recipe) {
    using shoal::storage::RecordLocation;
    shoal::storage::CheckpointWriter writer({.replay_from = 9, .segments = {{1, 4096}, {4, 100}}});
    const size_t count = recipe.next() % 8;
    std::string key;
    for (size_t index = 0; index < count; index++) {
        key.assign(1 + recipe.next() % 16, static_cast<char>('a' + index));
        shoal::storage::CheckpointEntry entry{
                .key = key,
                .is_tombstone = recipe.next() % 3 == 0,
                .version = {.hlc = recipe.next(), .node = shoal::NodeId{recipe.next()}},
                .location = {.segment = 1, .offset = 32, .record_bytes = 64, .data_bytes = 8},
                .put = shoal::storage::PutId{1 + index}};
        entry.piece_count = recipe.next() % 4;
        entry.pieces.assign(entry.piece_count, RecordLocation{4, 32, 64, 8});
        writer.add(entry);
    }
    Buffer file = writer.finish();
    const size_t at = (recipe.next() * 131U) % file.size();
    file[at] ^= std::byte{recipe.next()};
    const size_t sealed = file.size() - 8;
    shoal::encode_fixed64(file.data() + sealed, shoal::hash64(file.view().first(sealed)));
    return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    if (data[0] % 4 == 3) {
        check_checkpoint(ByteView(reinterpret_cast<const std::byte*>(data + 1), size - 1));
        Recipe recipe(data + 1, size - 1);
        const Buffer file = build_checkpoint(recipe);
        check_checkpoint(file.view());
        return 0;
    }
    if (data[0] % 2 == 0) {
        Buffer segment;
        shoal::storage::encode_segment_header({.sequence = 1}, segment);
        segment.append(ByteView(reinterpret_cast<const std::byte*>(data + 1), size - 1));
        check(segment.view());
        check(ByteView(reinterpret_cast<const std::byte*>(data), size));  // Header bytes too.
        return 0;
    }
    Recipe recipe(data + 1, size - 1);
    const Buffer segment = build_and_damage(recipe);
    check(segment.view());
    return 0;
}

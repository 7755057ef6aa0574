// Fuzz target: the WAL recovery scanner and record decoder (src/storage/segment_scan.cc).
//
// Half the inputs are taken as raw segment bytes behind a valid segment header; the other half
// as a recipe that builds a valid segment from the input's bytes and then damages it (a bit
// flip, a zeroed range, a cut), so the fuzzer reaches deep into both the valid and the
// damaged paths. Whatever the bytes, the scanner must not crash, leak or read out of bounds,
// and what it returns must hold: records decode again, lsns increase, ranges are in bounds.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "shoal/base/assert.h"
#include "shoal/base/coding.h"
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
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

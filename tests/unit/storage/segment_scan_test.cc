// Goal: recovery tells a torn tail from corruption before it, returns every intact record and
// nothing else, and never mistakes a torn write for damage or damage for data.
//
// Method: build segments by hand (records, zero fill as preallocation leaves it), then damage
// them the ways a crash and a bad disk do: a group write cut at a sector boundary, a file cut
// short, flipped bits, a zeroed range. A seeded property test tears random group writes.
#include "shoal/storage/segment_scan.h"

#include <catch2/catch.hpp>

#include "shoal/base/prng.h"

namespace shoal::storage {
namespace {

constexpr size_t kSector = 512;

struct Built {
    Buffer bytes;
    std::vector<uint64_t> offsets;  // Where each record starts.
    std::vector<uint64_t> ends;     // Just past each record.
};

// A segment with `count` records of random sizes (lsn 1..count), zero-filled to `size_min`.
Built build_segment(size_t count, uint64_t seed, size_t size_min = 0) {
    Prng prng(seed);
    Built built;
    encode_segment_header({.sequence = 1}, built.bytes);
    for (size_t index = 0; index < count; index++) {
        Buffer body(prng.below(700) + 1);
        prng.fill(body.data(), body.size());
        built.offsets.push_back(built.bytes.size());
        encode_record(Lsn{index + 1}, RecordKind::kObjectPiece, body.view(), built.bytes);
        built.ends.push_back(built.bytes.size());
    }
    const size_t end = built.bytes.size();
    if (size_min > end) {
        built.bytes.resize(size_min);
        std::memset(built.bytes.data() + end, 0, size_min - end);
    }
    return built;
}

TEST_CASE("wal scan: a clean segment gives every record", "[unit][wal]") {
    const size_t fill = GENERATE(size_t{0}, size_t{64 * 1024});
    CAPTURE(fill);
    Built built = build_segment(20, /*seed=*/1, fill);
    Result<SegmentScan> scan = scan_segment(built.bytes.view());
    REQUIRE(scan.is_ok());
    REQUIRE(scan.value().records.size() == 20);
    REQUIRE(scan.value().tail == TailKind::kClean);
    REQUIRE(scan.value().corrupt.empty());
    REQUIRE(scan.value().records.back().lsn == Lsn{20});
    const uint64_t end = built.offsets.back() + scan.value().records.back().bytes;
    REQUIRE(scan.value().end_offset == end);
}

TEST_CASE("wal scan: a write cut short at the end is a torn tail", "[unit][wal]") {
    Built built = build_segment(10, /*seed=*/2, 64 * 1024);
    const uint64_t torn_at = built.offsets[7];  // Records 8..10 were one group write.

    SECTION("cut at a sector boundary inside the group, zero fill after") {
        const uint64_t cut = (built.offsets[8] / kSector + 1) * kSector;
        std::memset(built.bytes.data() + cut, 0, built.bytes.size() - cut);
    }
    SECTION("cut by the end of the file") {
        built.bytes.resize(built.offsets[8] + 10);
    }
    Result<SegmentScan> scan = scan_segment(built.bytes.view());
    REQUIRE(scan.is_ok());
    REQUIRE(scan.value().tail == TailKind::kTorn);
    REQUIRE(scan.value().corrupt.empty());
    REQUIRE(scan.value().end_offset >= torn_at);
    // Records wholly written before the cut are kept; none after it.
    REQUIRE(scan.value().records.size() >= 7);
    REQUIRE(scan.value().records.size() <= 9);
    REQUIRE(scan.value().end_offset ==
            built.offsets[scan.value().records.size() - 1] + scan.value().records.back().bytes);
}

TEST_CASE("wal scan: damage before the tail is reported and skipped", "[unit][wal]") {
    Built built = build_segment(10, /*seed=*/3, 64 * 1024);

    SECTION("a flipped bit in the middle") {
        built.bytes[built.offsets[3] + 30] ^= std::byte{0x10};
    }
    SECTION("a zeroed range in the middle, as a lost write leaves") {
        std::memset(built.bytes.data() + built.offsets[3], 0, built.offsets[4] - built.offsets[3]);
    }
    Result<SegmentScan> scan = scan_segment(built.bytes.view());
    REQUIRE(scan.is_ok());
    REQUIRE(scan.value().records.size() == 9);
    REQUIRE(scan.value().tail == TailKind::kClean);
    REQUIRE(scan.value().corrupt.size() == 1);
    REQUIRE(scan.value().corrupt[0].offset == built.offsets[3]);
    REQUIRE(scan.value().corrupt[0].bytes == built.offsets[4] - built.offsets[3]);
    for (const Record& record : scan.value().records)
        REQUIRE(record.lsn != Lsn{4});
}

TEST_CASE("wal scan: a damaged last record that is not a torn write is corruption", "[unit][wal]") {
    Built built = build_segment(5, /*seed=*/4, 64 * 1024);
    built.bytes[built.offsets[4] + kRecordHeaderBytes + 1] ^= std::byte{0x01};
    Result<SegmentScan> scan = scan_segment(built.bytes.view());
    REQUIRE(scan.is_ok());
    REQUIRE(scan.value().records.size() == 4);
    REQUIRE(scan.value().tail == TailKind::kCorrupt);
    REQUIRE(scan.value().corrupt.size() == 1);
    REQUIRE(scan.value().corrupt[0].offset == built.offsets[4]);
    REQUIRE(scan.value().end_offset == built.offsets[4]);
}

TEST_CASE("wal scan: an lsn that does not increase is not taken as data", "[unit][wal]") {
    Built built = build_segment(3, /*seed=*/5);
    Buffer body(10);
    std::memset(body.data(), 1, body.size());
    encode_record(Lsn{2}, RecordKind::kObjectPiece, body.view(), built.bytes);  // A replay.
    Result<SegmentScan> scan = scan_segment(built.bytes.view());
    REQUIRE(scan.is_ok());
    REQUIRE(scan.value().records.size() == 3);
    REQUIRE(scan.value().tail != TailKind::kClean);
}

TEST_CASE("wal scan: a bad segment header fails the whole segment", "[unit][wal]") {
    Built built = build_segment(3, /*seed=*/6);
    built.bytes[0] ^= std::byte{1};
    REQUIRE(scan_segment(built.bytes.view()).status().code() == Code::kCorruption);
}

// Property: a crash during a group write (any prefix of its sectors reaches the disk) never
// reads as corruption, and keeps exactly the records that were wholly written.
TEST_CASE("wal scan: every torn group write is a torn or clean tail", "[unit][wal]") {
    for (uint64_t seed = 1; seed <= 300; seed++) {
        CAPTURE(seed);
        Prng prng(seed);
        Built built = build_segment(1 + prng.below(20), seed, 256 * 1024);
        // The group write began after the first half of the records; it stopped at a sector
        // boundary somewhere after its start, and zero fill shows past that.
        const uint64_t group_start = built.offsets[built.offsets.size() / 2];
        const uint64_t cut = (group_start / kSector + 1 + prng.below(8)) * kSector;
        CAPTURE(cut);
        std::memset(built.bytes.data() + cut, 0, built.bytes.size() - cut);
        const auto whole = static_cast<size_t>(std::count_if(
                built.ends.begin(), built.ends.end(), [&](uint64_t end) { return end <= cut; }));

        Result<SegmentScan> scan = scan_segment(built.bytes.view());
        REQUIRE(scan.is_ok());
        REQUIRE(scan.value().corrupt.empty());
        REQUIRE(scan.value().records.size() == whole);
        // A cut that falls between two records leaves no trace: that is a clean end.
        bool straddled = false;
        for (size_t index = 0; index < built.ends.size(); index++) {
            straddled = straddled || (built.offsets[index] < cut && cut < built.ends[index]);
        }
        REQUIRE(scan.value().tail == (straddled ? TailKind::kTorn : TailKind::kClean));
        for (size_t index = 0; index < whole; index++) {
            REQUIRE(scan.value().records[index].lsn == Lsn{index + 1});
        }
    }
}

}  // namespace
}  // namespace shoal::storage

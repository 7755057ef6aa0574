// Goal: WAL records and segment headers round-trip, and every kind of damage to their bytes
// is reported as corruption, never returned as data.
//
// Method: encode by hand, then decode intact, truncated, bit-flipped and hand-broken bytes.
#include "shoal/storage/wal_record.h"

#include <catch2/catch.hpp>

#include "shoal/base/coding.h"
#include "shoal/base/prng.h"

namespace shoal::storage {
namespace {

TEST_CASE("wal: records round-trip with 8-byte alignment", "[unit][wal]") {
    const size_t body_bytes = GENERATE(size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{1000});
    CAPTURE(body_bytes);
    Buffer body(body_bytes);
    Prng(body_bytes).fill(body.data(), body.size());
    Buffer encoded;
    encode_record(Lsn{42}, RecordKind::kObjectCommit, body.view(), encoded);
    REQUIRE(encoded.size() == record_bytes(body_bytes));
    REQUIRE(encoded.size() % kRecordAlignmentBytes == 0);
    Result<Record> record = decode_record(encoded.view());
    REQUIRE(record.is_ok());
    REQUIRE(record.value().lsn == Lsn{42});
    REQUIRE(record.value().kind == RecordKind::kObjectCommit);
    REQUIRE(equal_bytes(record.value().body, body.view()));
    REQUIRE(record.value().bytes == encoded.size());
}

TEST_CASE("wal: a damaged record is corruption, whatever byte is hit", "[unit][wal]") {
    Buffer body(100);
    Prng(1).fill(body.data(), body.size());
    Buffer encoded;
    encode_record(Lsn{7}, RecordKind::kObjectPiece, body.view(), encoded);
    // Every bit of the record, flipped in turn.
    for (size_t offset = 0; offset < encoded.size(); offset++) {
        for (uint8_t bit = 0; bit < 8; bit++) {
            Buffer damaged = encoded.clone();
            damaged[offset] ^= static_cast<std::byte>(1U << bit);
            CAPTURE(offset, bit);
            REQUIRE(decode_record(damaged.view()).status().code() == Code::kCorruption);
        }
    }
    // Every truncation.
    for (size_t size = 0; size < encoded.size(); size++) {
        CAPTURE(size);
        REQUIRE_FALSE(decode_record(encoded.view().subspan(0, size)).is_ok());
    }
}

TEST_CASE("wal: a length over the limit is refused before it is used", "[unit][wal]") {
    Buffer encoded;
    encode_record(Lsn{1}, RecordKind::kTombstone, {}, encoded);
    encode_fixed32(encoded.data() + 8, 0xffffffff);
    const Status status = decode_record(encoded.view()).status();
    REQUIRE(status.code() == Code::kCorruption);
    REQUIRE(status.message().find("over the limit") != std::string::npos);
}

TEST_CASE("wal: segment headers round-trip and reject foreign bytes", "[unit][wal]") {
    Buffer header;
    encode_segment_header({.sequence = 99}, header);
    REQUIRE(header.size() == kSegmentHeaderBytes);
    Result<SegmentHeader> decoded = decode_segment_header(header.view());
    REQUIRE(decoded.is_ok());
    REQUIRE(decoded.value().sequence == 99);

    header[3] ^= std::byte{1};
    REQUIRE(decode_segment_header(header.view()).status().code() == Code::kCorruption);
    REQUIRE(decode_segment_header(header.view().subspan(0, 31)).status().code() ==
            Code::kCorruption);
}

}  // namespace
}  // namespace shoal::storage

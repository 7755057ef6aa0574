// Goal: an index checkpoint round-trips whether written in one piece or in slices, and any
// damage to it (a flipped bit, a cut, a length that does not fit) is refused as corruption
// before a byte of it is trusted.
//
// Method: encode entries of every kind, decode them back; damage the bytes and re-seal the
// checksum where the test needs a bad field to get past it.
#include "shoal/storage/index_checkpoint.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "shoal/base/coding.h"
#include "shoal/base/hash.h"

namespace shoal::storage {
namespace {

RecordLocation location(uint64_t segment, uint64_t offset) {
    return RecordLocation{
            .segment = segment, .offset = offset, .record_bytes = 96, .data_bytes = 40};
}

struct OwnedEntry {
    std::string key;
    CheckpointEntry entry;
};

std::vector<OwnedEntry> sample_entries() {
    std::vector<OwnedEntry> owned(4);
    owned[0].key = "a/inline";
    owned[0].entry = {.version = {.hlc = 10, .node = NodeId{2}},
                      .location = location(1, 32),
                      .put = PutId{5},
                      .object_bytes = 40,
                      .digest = 0xabc};
    owned[1].key = "b/pieces";
    owned[1].entry = {.version = {.hlc = 11, .node = NodeId{2}},
                      .location = location(3, 4096),
                      .put = PutId{6},
                      .object_bytes = 80,
                      .digest = 0xdef,
                      .piece_count = 2,
                      .pieces = {location(2, 32), location(2, 128)}};
    owned[2].key = "c/deleted";
    owned[2].entry = {.is_tombstone = true,
                      .version = {.hlc = 12, .node = NodeId{3}},
                      .location = location(3, 8192)};
    owned[3].key = "d/damaged";
    owned[3].entry = {.version = {.hlc = 13, .node = NodeId{2}},
                      .location = location(3, 512),
                      .put = PutId{7},
                      .object_bytes = 80,
                      .piece_count = 1,
                      .damage = "storage: piece 1 of 2 was lost to corruption"};
    for (OwnedEntry& each : owned) {
        each.entry.key = each.key;
    }
    return owned;
}

CheckpointHeader sample_header() {
    return CheckpointHeader{
            .lsn_last = 77,
            .put_last = 9,
            .replay_from = 4,
            .segments = {{.sequence = 1, .bytes = 1000}, {.sequence = 3, .bytes = 9000}}};
}

Buffer encode(const std::vector<OwnedEntry>& entries, size_t take_every) {
    CheckpointWriter writer(sample_header());
    Buffer file;
    for (size_t index = 0; index < entries.size(); ++index) {
        writer.add(entries[index].entry);
        if (take_every != 0 && index % take_every == 0) file.append(writer.take().view());
    }
    file.append(writer.finish().view());
    return file;
}

std::vector<CheckpointEntry> decode_all(ByteView file, CheckpointHeader& header, Status& status) {
    std::vector<CheckpointEntry> decoded;
    status = decode_checkpoint(file, header, [&](const CheckpointEntry& entry) {
        decoded.push_back(entry);
        return Status::ok();
    });
    return decoded;
}

bool same_location(const RecordLocation& left, const RecordLocation& right) {
    return left.segment == right.segment && left.offset == right.offset &&
           left.record_bytes == right.record_bytes && left.data_bytes == right.data_bytes;
}

// Seals `file` again after a test changed a field, so that only the field's check can refuse it.
void reseal(Buffer& file) {
    const size_t checksum_offset = file.size() - 8;
    encode_fixed64(file.data() + checksum_offset, hash64(file.view().first(checksum_offset)));
}

TEST_CASE("index checkpoint: entries of every kind round-trip, in one piece or in slices",
          "[unit][index_checkpoint]") {
    const size_t take_every = GENERATE(size_t{0}, size_t{1}, size_t{3});
    const std::vector<OwnedEntry> entries = sample_entries();
    const Buffer file = encode(entries, take_every);
    REQUIRE(equal_bytes(file.view(), encode(entries, 0).view()));

    CheckpointHeader header;
    Status status;
    const std::vector<CheckpointEntry> decoded = decode_all(file.view(), header, status);
    REQUIRE(status.is_ok());
    REQUIRE(header.lsn_last == 77);
    REQUIRE(header.put_last == 9);
    REQUIRE(header.replay_from == 4);
    REQUIRE(header.segments.size() == 2);
    REQUIRE(header.segments[1].sequence == 3);
    REQUIRE(header.segments[1].bytes == 9000);
    REQUIRE(decoded.size() == entries.size());
    for (size_t index = 0; index < entries.size(); ++index) {
        const CheckpointEntry& want = entries[index].entry;
        const CheckpointEntry& got = decoded[index];
        CAPTURE(want.key);
        REQUIRE(got.key == want.key);
        REQUIRE(got.is_tombstone == want.is_tombstone);
        REQUIRE(got.version == want.version);
        REQUIRE(same_location(got.location, want.location));
        REQUIRE(got.put == want.put);
        REQUIRE(got.object_bytes == want.object_bytes);
        REQUIRE(got.digest == want.digest);
        REQUIRE(got.damage == want.damage);
        REQUIRE(got.pieces.size() == want.pieces.size());
        for (size_t piece = 0; piece < want.pieces.size(); ++piece) {
            REQUIRE(same_location(got.pieces[piece], want.pieces[piece]));
        }
    }
}

TEST_CASE("index checkpoint: a flipped bit or a cut anywhere is refused",
          "[unit][index_checkpoint]") {
    const Buffer file = encode(sample_entries(), 0);
    for (size_t offset = 0; offset < file.size(); ++offset) {
        CAPTURE(offset);
        Buffer damaged(file.view());
        damaged[offset] ^= std::byte{0x10};
        CheckpointHeader header;
        Status status;
        decode_all(damaged.view(), header, status);
        REQUIRE(status.code() == Code::kCorruption);
    }
    for (size_t size = 0; size < file.size(); size += 7) {
        CAPTURE(size);
        CheckpointHeader header;
        Status status;
        decode_all(file.view().first(size), header, status);
        REQUIRE(status.code() == Code::kCorruption);
    }
}

TEST_CASE("index checkpoint: counts and lengths are checked before they are used",
          "[unit][index_checkpoint]") {
    std::vector<OwnedEntry> entries = sample_entries();
    entries.resize(2);  // The inline object, then the one with two pieces.
    Buffer file = encode(entries, 0);
    const size_t first_entry = kCheckpointHeaderBytes + 2 * 16;

    SECTION("a segment count that does not fit") {
        encode_fixed32(file.data() + 12, UINT32_MAX);
    }
    SECTION("an entry count past the entries") {
        encode_fixed64(file.data() + file.size() - 16, 3);
    }
    SECTION("an entry count short of the entries") {
        encode_fixed64(file.data() + file.size() - 16, 1);
    }
    SECTION("a piece count that does not fit") {
        // The second entry's piece_count: after its kind, key, version, location and fields.
        const size_t inline_entry = 1 + 2 + entries[0].key.size() + 16 + 24 + 8 * 3 + 4 + 2;
        const size_t piece_count =
                first_entry + inline_entry + 1 + 2 + entries[1].key.size() + 16 + 24 + 8 * 3;
        REQUIRE(decode_fixed32(file.data() + piece_count) == 2);
        encode_fixed32(file.data() + piece_count, UINT32_MAX);
    }
    SECTION("a key longer than any key") {
        encode_fixed16(file.data() + first_entry + 1, 2000);
    }
    SECTION("a record location outside any segment") {
        const size_t offset = first_entry + 1 + 2 + entries[0].key.size() + 16 + 8;
        encode_fixed64(file.data() + offset, uint64_t{1} << 40);
    }
    reseal(file);
    CheckpointHeader header;
    Status status;
    decode_all(file.view(), header, status);
    INFO(status.message());
    REQUIRE(status.code() == Code::kCorruption);
}

}  // namespace
}  // namespace shoal::storage

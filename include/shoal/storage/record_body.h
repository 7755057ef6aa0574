// Record bodies: what the disk store keeps inside each WAL record (docs/wal_format.md).
//
// In every kind that carries object bytes, they are the last field of the body, so a reader
// finds them as the body's tail without decoding it again.
//
// A put streams its object as piece records, each tagged with the put's id and the piece's
// index, and ends with a commit record naming the key, the version, the size, the digest and
// how many pieces make the object. A small object is carried whole inside its commit record
// (inline), so it costs one record. A delete is a tombstone record. Pieces are found by put id,
// not by position, so that compaction can move them without rewriting the commit.
//
// Pure: no IO. Encoders append to the caller's Buffer; decoders check every length and borrow
// from the bytes they were given.
#pragma once

#include <cstdint>
#include <string_view>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"

namespace shoal::storage {

enum class PutId : uint64_t {};  // Unique within one store; never 0.

struct PieceBody {
    PutId put{};
    uint32_t index = 0;  // From 0, in object order.
    ByteView data;       // At most kDataFrameBytesMax.
};

struct CommitBody {
    PutId put{};
    Version version;
    uint64_t object_bytes = 0;
    uint64_t digest = 0;       // xxh3-64 of the whole object.
    uint32_t piece_count = 0;  // 0 when the object is inline (or empty).
    std::string_view key;
    ByteView inline_data;  // The whole object when piece_count is 0.
};

struct TombstoneBody {
    Version version;
    std::string_view key;
};

void encode_piece_body(const PieceBody& piece, Buffer& target);
void encode_commit_body(const CommitBody& commit, Buffer& target);
// Everything of the body but the data (piece.data, commit.inline_data), which comes last, so a
// record can take the data straight from where it is (wal_record.h's two-part encode_record).
void encode_piece_head(const PieceBody& piece, Buffer& target);
void encode_commit_head(const CommitBody& commit, Buffer& target);
void encode_tombstone_body(const TombstoneBody& tombstone, Buffer& target);

// kCorruption, saying why, for a body that is not well formed: a short or over-long field, a
// key outside 1..kStoreKeyBytesMax, put id 0, inline data that disagrees with the size, bytes left
// over. A record that passed its checksum and still fails here was written by a broken build.
Result<PieceBody> decode_piece_body(ByteView body);
Result<CommitBody> decode_commit_body(ByteView body);
Result<TombstoneBody> decode_tombstone_body(ByteView body);

}  // namespace shoal::storage

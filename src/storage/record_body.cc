#include "shoal/storage/record_body.h"

#include <fmt/format.h>

#include "shoal/base/coding.h"
#include "shoal/base/limits.h"

namespace shoal::storage {
namespace {

Status corrupt(std::string_view what, const Status& status) {
    return Status::corruption(fmt::format("wal: bad {} body: {}", what, status.message()));
}

Status check_key(std::string_view what, std::string_view key) {
    if (key.size() < limits::kKeyBytesMin || key.size() > limits::kStoreKeyBytesMax) {
        return Status::corruption(fmt::format("wal: {} key of {} bytes", what, key.size()));
    }
    return Status::ok();
}

}  // namespace

void encode_piece_head(const PieceBody& piece, Buffer& target) {
    SHOAL_ASSERT(piece.put != PutId{0});
    SHOAL_ASSERT(piece.data.size() <= limits::kDataFrameBytesMax);
    Writer writer(target);
    writer.u64(to_u64(piece.put));
    writer.u32(piece.index);
}

void encode_piece_body(const PieceBody& piece, Buffer& target) {
    encode_piece_head(piece, target);
    target.append(piece.data);
}

void encode_commit_body(const CommitBody& commit, Buffer& target) {
    encode_commit_head(commit, target);
    target.append(commit.inline_data);
}

void encode_commit_head(const CommitBody& commit, Buffer& target) {
    SHOAL_ASSERT(commit.put != PutId{0});
    SHOAL_ASSERT(check_key("commit", commit.key).is_ok());
    SHOAL_ASSERT(commit.inline_data.size() <= limits::kDataFrameBytesMax);
    if (commit.piece_count == 0) SHOAL_ASSERT(commit.inline_data.size() == commit.object_bytes);
    if (commit.piece_count != 0) SHOAL_ASSERT(commit.inline_data.empty());
    // Five u64, the piece count, the key and its length, the inline length.
    constexpr size_t kFixedBytes = (size_t{5} * 8) + 4 + 2 + 4;
    target.reserve(target.size() + kFixedBytes + commit.key.size());
    Writer writer(target);
    writer.u64(to_u64(commit.put));
    writer.u64(commit.version.hlc);
    writer.u64(to_u64(commit.version.node));
    writer.u64(commit.object_bytes);
    writer.u64(commit.digest);
    writer.u32(commit.piece_count);
    writer.string16(commit.key);
    writer.u32(static_cast<uint32_t>(commit.inline_data.size()));
}

void encode_tombstone_body(const TombstoneBody& tombstone, Buffer& target) {
    SHOAL_ASSERT(check_key("tombstone", tombstone.key).is_ok());
    Writer writer(target);
    writer.u64(tombstone.version.hlc);
    writer.u64(to_u64(tombstone.version.node));
    writer.string16(tombstone.key);
}

Result<PieceBody> decode_piece_body(ByteView body) {
    Reader reader(body);
    PieceBody piece;
    piece.put = PutId{reader.u64()};
    piece.index = reader.u32();
    piece.data = reader.rest();
    if (Status status = reader.finish("piece"); !status.is_ok()) return corrupt("piece", status);
    if (piece.put == PutId{0}) return Status::corruption("wal: piece of put 0");
    if (piece.data.size() > limits::kDataFrameBytesMax) {
        return Status::corruption(
                fmt::format("wal: piece of {} bytes over the limit", piece.data.size()));
    }
    return piece;
}

Result<CommitBody> decode_commit_body(ByteView body) {
    Reader reader(body);
    CommitBody commit;
    commit.put = PutId{reader.u64()};
    commit.version.hlc = reader.u64();
    commit.version.node = NodeId{reader.u64()};
    commit.object_bytes = reader.u64();
    commit.digest = reader.u64();
    commit.piece_count = reader.u32();
    commit.key = reader.string16(limits::kStoreKeyBytesMax);
    commit.inline_data = reader.bytes32(limits::kDataFrameBytesMax);
    if (Status status = reader.finish("commit"); !status.is_ok()) return corrupt("commit", status);
    SHOAL_TRY(check_key("commit", commit.key));
    if (commit.put == PutId{0}) return Status::corruption("wal: commit of put 0");
    if (commit.object_bytes > limits::kObjectBytesMax) {
        return Status::corruption(
                fmt::format("wal: commit of {} bytes over the limit", commit.object_bytes));
    }
    const bool is_inline = commit.piece_count == 0;
    if (is_inline && commit.inline_data.size() != commit.object_bytes) {
        return Status::corruption("wal: inline data disagrees with the object size");
    }
    if (!is_inline && !commit.inline_data.empty()) {
        return Status::corruption("wal: a commit with pieces carries inline data");
    }
    return commit;
}

Result<TombstoneBody> decode_tombstone_body(ByteView body) {
    Reader reader(body);
    TombstoneBody tombstone;
    tombstone.version.hlc = reader.u64();
    tombstone.version.node = NodeId{reader.u64()};
    tombstone.key = reader.string16(limits::kStoreKeyBytesMax);
    if (Status status = reader.finish("tombstone"); !status.is_ok()) {
        return corrupt("tombstone", status);
    }
    SHOAL_TRY(check_key("tombstone", tombstone.key));
    return tombstone;
}

}  // namespace shoal::storage

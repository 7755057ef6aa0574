// Goal: the bodies of piece, commit and tombstone records round-trip, a piece's or inline
// object's bytes are the body's tail, and every malformed body is reported as corruption.
//
// Method: encode by hand, decode intact and truncated bodies and bodies with broken fields.
#include "shoal/storage/record_body.h"

#include <catch2/catch.hpp>

#include "shoal/base/coding.h"
#include "shoal/base/limits.h"

namespace shoal::storage {
namespace {

TEST_CASE("record body: a piece round-trips with its data as the tail", "[unit][record_body]") {
    const std::string data = "some object bytes";
    Buffer body;
    encode_piece_body(PieceBody{.put = PutId{7}, .index = 3, .data = as_bytes(data)}, body);
    REQUIRE(as_string_view(body.view().last(data.size())) == data);
    Result<PieceBody> piece = decode_piece_body(body.view());
    REQUIRE(piece.is_ok());
    REQUIRE(piece.value().put == PutId{7});
    REQUIRE(piece.value().index == 3);
    REQUIRE(as_string_view(piece.value().data) == data);

    Buffer head;
    encode_piece_head(PieceBody{.put = PutId{7}, .index = 3, .data = as_bytes(data)}, head);
    head.append(data);
    REQUIRE(equal_bytes(head.view(), body.view()));
}

TEST_CASE("record body: commits round-trip, inline or with pieces", "[unit][record_body]") {
    const bool is_inline = GENERATE(true, false);
    const std::string data = is_inline ? "tiny" : "";
    const CommitBody commit{.put = PutId{9},
                            .version = {.hlc = 1234, .node = NodeId{5}},
                            .object_bytes = is_inline ? data.size() : uint64_t{5} << 20,
                            .digest = 0xfeed,
                            .piece_count = is_inline ? 0u : 5u,
                            .key = "photos/cat.jpg",
                            .inline_data = as_bytes(data)};
    Buffer body;
    encode_commit_body(commit, body);
    Result<CommitBody> decoded = decode_commit_body(body.view());
    REQUIRE(decoded.is_ok());
    REQUIRE(decoded.value().put == commit.put);
    REQUIRE(decoded.value().version == commit.version);
    REQUIRE(decoded.value().object_bytes == commit.object_bytes);
    REQUIRE(decoded.value().digest == commit.digest);
    REQUIRE(decoded.value().piece_count == commit.piece_count);
    REQUIRE(decoded.value().key == commit.key);
    REQUIRE(as_string_view(decoded.value().inline_data) == data);
    REQUIRE(as_string_view(body.view().last(data.size())) == data);
}

TEST_CASE("record body: a tombstone round-trips", "[unit][record_body]") {
    Buffer body;
    encode_tombstone_body(TombstoneBody{.version = {.hlc = 77, .node = NodeId{2}}, .key = "k"},
                          body);
    Result<TombstoneBody> decoded = decode_tombstone_body(body.view());
    REQUIRE(decoded.is_ok());
    REQUIRE(decoded.value().version.hlc == 77);
    REQUIRE(decoded.value().key == "k");
}

TEST_CASE("record body: malformed bodies are corruption", "[unit][record_body]") {
    Buffer commit;
    encode_commit_body(CommitBody{.put = PutId{1},
                                  .version = {},
                                  .object_bytes = 2,
                                  .digest = 0,
                                  .piece_count = 0,
                                  .key = "key",
                                  .inline_data = as_bytes("ab")},
                       commit);
    SECTION("every truncation") {
        for (size_t cut = 0; cut < commit.size(); ++cut) {
            CAPTURE(cut);
            REQUIRE(decode_commit_body(commit.view().first(cut)).status().code() ==
                    Code::kCorruption);
        }
    }
    SECTION("bytes left over") {
        commit.append("x");
        REQUIRE(decode_commit_body(commit.view()).status().code() == Code::kCorruption);
    }
    SECTION("inline data that disagrees with the size") {
        encode_fixed64(commit.data() + 24, 3);  // object_bytes.
        REQUIRE(decode_commit_body(commit.view()).status().code() == Code::kCorruption);
    }
    SECTION("inline data beside pieces") {
        encode_fixed32(commit.data() + 40, 1);  // piece_count.
        REQUIRE(decode_commit_body(commit.view()).status().code() == Code::kCorruption);
    }
    SECTION("put 0") {
        encode_fixed64(commit.data(), 0);
        REQUIRE(decode_commit_body(commit.view()).status().code() == Code::kCorruption);
    }
    SECTION("an empty key") {
        Buffer tombstone;
        Writer writer(tombstone);
        writer.u64(1);
        writer.u64(1);
        writer.string16("");
        REQUIRE(decode_tombstone_body(tombstone.view()).status().code() == Code::kCorruption);
    }
    SECTION("a piece too short for its header, or over a frame") {
        REQUIRE(decode_piece_body(commit.view().first(11)).status().code() == Code::kCorruption);
        Buffer piece;
        Buffer big(limits::kDataFrameBytesMax + 1);
        encode_piece_head(PieceBody{.put = PutId{1}, .index = 0, .data = {}}, piece);
        piece.append(big.view());
        REQUIRE(decode_piece_body(piece.view()).status().code() == Code::kCorruption);
    }
}

}  // namespace
}  // namespace shoal::storage

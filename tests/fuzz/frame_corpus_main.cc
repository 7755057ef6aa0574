// Writes the seed corpus for frame_fuzz: valid frames of every message kind, client and peer, a
// few streams of several frames, and malformed frames near the edges the decoders check.
//
// Usage: frame_corpus_generate <directory>   (the committed corpus is tests/fuzz/corpus/frame)
// Not a test: run it when the wire format changes and commit what it writes. Each file is one
// byte stream from a peer, named after what it holds.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "shoal/base/bytes.h"
#include "shoal/base/coding.h"
#include "shoal/base/hash.h"
#include "shoal/wire/frame.h"
#include "shoal/wire/messages.h"
#include "shoal/wire/peer_messages.h"

namespace shoal::wire {
namespace {

namespace fs = std::filesystem;

ObjectInfo sample_info(uint64_t object_bytes) {
    return ObjectInfo{.version = {.hlc = 0x0000'0190'0000'0001, .node = NodeId{0x5A5A}},
                      .object_bytes = object_bytes,
                      .digest = 0x1234'5678'9ABC'DEF0};
}

void write_file(const fs::path& path, const Buffer& bytes) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    if (!file) {
        fmt::print(stderr, "frame_corpus_generate: cannot write {}\n", path.string());
        std::exit(1);
    }
}

// A frame with a raw header, so any field may be out of range.
Buffer raw_frame(uint32_t body_bytes,
                 uint8_t version,
                 uint8_t kind,
                 uint16_t opcode,
                 std::string_view body) {
    Buffer frame;
    Writer writer(frame);
    writer.u32(body_bytes);
    writer.u8(version);
    writer.u8(kind);
    writer.u16(opcode);
    writer.u64(1);
    writer.bytes(as_bytes(body));
    return frame;
}

// A request frame around a hand-made body.
Buffer request_with_body(Opcode opcode, const Buffer& body) {
    return raw_frame(static_cast<uint32_t>(body.size()),
                     kProtocolVersion,
                     static_cast<uint8_t>(FrameKind::kRequest),
                     static_cast<uint16_t>(opcode),
                     as_string_view(body.view()));
}

void write_valid(const fs::path& directory) {
    const std::string_view object = "the quick brown fox jumps over the lazy dog";
    const uint64_t digest = hash64(as_bytes(object));
    const auto emit = [&](std::string_view name, auto&& encode) {
        Buffer stream;
        encode(stream);
        write_file(directory / name, stream);
    };

    emit("ping_request", [](Buffer& out) { encode_request(RequestId{1}, PingRequest{}, out); });
    emit("get_request", [](Buffer& out) {
        encode_request(RequestId{2}, GetRequest{.key = "photos/cat.jpg"}, out);
    });
    emit("delete_request", [](Buffer& out) {
        encode_request(RequestId{3}, DeleteRequest{.key = "photos/cat.jpg"}, out);
    });
    emit("stat_request", [](Buffer& out) {
        encode_request(RequestId{4}, StatRequest{.key = "photos/cat.jpg"}, out);
    });
    emit("list_request", [](Buffer& out) {
        encode_request(RequestId{5},
                       ListRequest{.prefix = "photos/", .start_after = "photos/a", .limit = 100},
                       out);
    });
    emit("put_request_whole", [&](Buffer& out) {
        encode_request(
                RequestId{6},
                PutRequest{.key = "fox.txt",
                           .object_bytes = object.size(),
                           .piece = {.last = true, .digest = digest, .data = as_bytes(object)}},
                out);
    });
    emit("put_stream", [&](Buffer& out) {
        const ByteView bytes = as_bytes(object);
        encode_request(RequestId{7},
                       PutRequest{.key = "fox.txt", .piece = {.data = bytes.first(10)}},
                       out);
        encode_put_piece(RequestId{7}, PutPiece{.data = bytes.subspan(10, 20)}, out);
        encode_put_piece(RequestId{7},
                         PutPiece{.last = true, .digest = digest, .data = bytes.subspan(30)},
                         out);
    });
    emit("put_piece_last_empty", [&](Buffer& out) {
        encode_put_piece(RequestId{8}, PutPiece{.last = true, .digest = digest}, out);
    });
    emit("put_reply",
         [](Buffer& out) { encode_reply(RequestId{6}, PutReply{.info = sample_info(43)}, out); });
    emit("get_reply_whole", [&](Buffer& out) {
        encode_reply(RequestId{2},
                     GetReply{.info = sample_info(object.size()), .data = as_bytes(object)},
                     out);
    });
    emit("get_reply_stream", [&](Buffer& out) {
        const ByteView bytes = as_bytes(object);
        encode_reply(RequestId{2},
                     GetReply{.info = sample_info(object.size()), .data = bytes.first(16)},
                     out);
        encode_get_data_header(RequestId{2}, static_cast<uint32_t>(bytes.size() - 16), out);
        out.append(bytes.subspan(16));
    });
    emit("delete_reply", [](Buffer& out) {
        encode_reply(RequestId{3}, DeleteReply{.version = sample_info(0).version}, out);
    });
    emit("stat_reply",
         [](Buffer& out) { encode_reply(RequestId{4}, StatReply{.info = sample_info(43)}, out); });
    emit("list_reply", [](Buffer& out) {
        ListReply reply{.truncated = true};
        reply.entries.push_back(ListEntry{.key = "photos/b", .info = sample_info(1)});
        reply.entries.push_back(ListEntry{.key = "photos/c", .info = sample_info(2)});
        reply.entries.push_back(ListEntry{.key = "photos/d", .info = sample_info(3)});
        encode_reply(RequestId{5}, reply, out);
    });
    emit("list_reply_empty", [](Buffer& out) { encode_reply(RequestId{5}, ListReply{}, out); });
    emit("ping_reply", [](Buffer& out) { encode_reply(RequestId{1}, PingReply{}, out); });
    emit("stats_request", [](Buffer& out) { encode_request(RequestId{5}, StatsRequest{}, out); });
    emit("stats_reply", [](Buffer& out) {
        encode_reply(RequestId{6},
                     StatsReply{.storage_mode = StorageMode::kDisk,
                                .requests = 12,
                                .records = 3,
                                .corrupt_ranges = 1,
                                .writes_stopped = true},
                     out);
    });
    emit("push_pull_request", [](Buffer& out) {
        const std::string state = "a gossip push-pull state";
        encode_request(RequestId{7}, PushPullRequest{.state = as_bytes(state)}, out);
    });
    emit("push_pull_reply", [](Buffer& out) {
        const std::string state = "the answering state";
        encode_reply(RequestId{7}, PushPullReply{.state = as_bytes(state)}, out);
    });
    emit("members_request",
         [](Buffer& out) { encode_request(RequestId{8}, MembersRequest{}, out); });
    emit("members_reply", [](Buffer& out) {
        MembersReply reply{
                .layout_epoch = 0x5eed, .partition_count = 64, .owners_per_partition = 2};
        reply.members.push_back(MemberEntry{.id_high = 1,
                                            .id_low = 2,
                                            .name = "n1",
                                            .host = "127.0.0.11",
                                            .port = 7400,
                                            .zone = "default",
                                            .state = MemberStatus::kAlive,
                                            .incarnation = 3,
                                            .capacity_weight = 1,
                                            .last_heard_ms = 120,
                                            .partitions = 64});
        reply.members.push_back(MemberEntry{.id_high = 4,
                                            .id_low = 5,
                                            .name = "n2",
                                            .host = "127.0.0.12",
                                            .port = 7400,
                                            .zone = "",
                                            .state = MemberStatus::kDead,
                                            .incarnation = 0,
                                            .capacity_weight = 2,
                                            .last_heard_ms = 9000,
                                            .partitions = 64});
        encode_reply(RequestId{8}, reply, out);
    });
    emit("error_reply", [](Buffer& out) {
        encode_error(RequestId{2},
                     Opcode::kGet,
                     ErrorReply{.code = Code::kNotFound,
                                .message = "get photos/cat.jpg: no such object"},
                     out);
    });
    emit("pipelined_requests", [](Buffer& out) {
        encode_request(RequestId{10}, PingRequest{}, out);
        encode_request(RequestId{11}, StatRequest{.key = "a"}, out);
        encode_request(RequestId{12}, GetRequest{.key = "b"}, out);
        encode_request(RequestId{13}, ListRequest{.limit = 1}, out);
        encode_request(RequestId{14}, DeleteRequest{.key = "c"}, out);
    });
}

constexpr ChunkId kChunk{.key_hash = 0x0123'4567'89AB'CDEF,
                         .version = {.hlc = 0x0000'0190'0000'0001, .node = NodeId{0x5A5A}},
                         .stripe_index = 3,
                         .chunk_index = 5};

// Frames of another kind than kRequest around a hand-made body.
Buffer frame_with_body(FrameKind kind, Opcode opcode, const Buffer& body) {
    return raw_frame(static_cast<uint32_t>(body.size()),
                     kProtocolVersion,
                     static_cast<uint8_t>(kind),
                     static_cast<uint16_t>(opcode),
                     as_string_view(body.view()));
}

// The peer messages of the cluster data path (peer_messages.h), valid ones first.
void write_peer(const fs::path& directory) {
    const std::string_view record = "SCHK a chunk header, then the chunk's data";
    const std::string_view manifest = "SMAN a manifest's bytes";
    const auto emit = [&](std::string_view name, auto&& encode) {
        Buffer stream;
        encode(stream);
        write_file(directory / name, stream);
    };
    emit("chunk_put_request", [&](Buffer& out) {
        encode_request(RequestId{20}, ChunkPutRequest{.record = as_bytes(record)}, out);
    });
    emit("chunk_put_reply", [](Buffer& out) { encode_reply(RequestId{20}, ChunkPutReply{}, out); });
    emit("chunk_get_request",
         [](Buffer& out) { encode_request(RequestId{21}, ChunkGetRequest{.chunk = kChunk}, out); });
    emit("chunk_get_reply", [&](Buffer& out) {
        encode_reply(RequestId{21}, ChunkGetReply{.record = as_bytes(record)}, out);
    });
    emit("chunk_get_not_found", [](Buffer& out) {
        encode_error(RequestId{21},
                     Opcode::kChunkGet,
                     ErrorReply{.code = Code::kNotFound, .message = "no such chunk"},
                     out);
    });
    emit("manifest_put_request", [&](Buffer& out) {
        encode_request(RequestId{22}, ManifestPutRequest{.manifest = as_bytes(manifest)}, out);
    });
    emit("manifest_put_reply", [](Buffer& out) {
        encode_reply(RequestId{22},
                     ManifestPutReply{.outcome = ManifestPutOutcome::kSuperseded,
                                      .current = kChunk.version},
                     out);
    });
    emit("manifest_get_request", [](Buffer& out) {
        encode_request(RequestId{23}, ManifestGetRequest{.key = "photos/cat.jpg"}, out);
    });
    emit("manifest_get_reply_found", [&](Buffer& out) {
        encode_reply(RequestId{23},
                     ManifestGetReply{.found = true, .manifest = as_bytes(manifest)},
                     out);
    });
    emit("manifest_get_reply_missing",
         [](Buffer& out) { encode_reply(RequestId{23}, ManifestGetReply{}, out); });
    emit("manifest_list_request", [](Buffer& out) {
        encode_request(
                RequestId{24},
                ManifestListRequest{.prefix = "photos/", .start_after = "photos/a", .limit = 100},
                out);
    });
    emit("manifest_list_reply", [](Buffer& out) {
        ManifestListReply reply{.truncated = true, .scanned_through = "photos/d"};
        reply.entries.push_back(ManifestListEntry{
                .key = "photos/b", .version = kChunk.version, .object_bytes = 43, .digest = 7});
        reply.entries.push_back(
                ManifestListEntry{.key = "photos/c", .version = kChunk.version, .tombstone = true});
        encode_reply(RequestId{24}, reply, out);
    });
    emit("chunk_delete_request", [](Buffer& out) {
        encode_request(RequestId{25}, ChunkDeleteRequest{.chunk = kChunk}, out);
    });
    emit("chunk_delete_reply",
         [](Buffer& out) { encode_reply(RequestId{25}, ChunkDeleteReply{}, out); });
    emit("peer_pipelined_requests", [&](Buffer& out) {
        encode_request(RequestId{30}, ManifestGetRequest{.key = "a"}, out);
        encode_request(RequestId{31}, ChunkGetRequest{.chunk = kChunk}, out);
        encode_chunk_put_prefix(RequestId{32}, record.size(), out);
        out.append(record);
        encode_request(RequestId{33}, ManifestListRequest{.limit = 1}, out);
    });
}

void write_peer_malformed(const fs::path& directory) {
    write_file(directory / "chunk_put_request_empty",
               request_with_body(Opcode::kChunkPut, Buffer{}));

    Buffer chunk_id;
    Writer writer(chunk_id);
    writer.u64(1);
    writer.u64(2);
    writer.u64(3);
    writer.u32(4);
    writer.u8(5);
    Buffer trailing(chunk_id.view());
    trailing.append("!");
    write_file(directory / "chunk_get_request_trailing_byte",
               request_with_body(Opcode::kChunkGet, trailing));
    write_file(directory / "chunk_delete_request_truncated",
               request_with_body(Opcode::kChunkDelete, Buffer(chunk_id.view().first(20))));

    Buffer outcome;
    Writer(outcome).u8(2);
    Writer(outcome).u64(0);
    Writer(outcome).u64(0);
    write_file(directory / "manifest_put_reply_unknown_outcome",
               frame_with_body(FrameKind::kResponse, Opcode::kManifestPut, outcome));

    Buffer missing_with_bytes;
    Writer(missing_with_bytes).u8(0);
    missing_with_bytes.append("stray");
    write_file(directory / "manifest_get_reply_missing_trailing",
               frame_with_body(FrameKind::kResponse, Opcode::kManifestGet, missing_with_bytes));

    Buffer unsorted;
    Writer list(unsorted);
    list.u32(2);
    list.u8(0);
    list.string16("b");  // scanned_through
    for (const std::string_view key : {"b", "a"}) {
        list.string16(key);
        for (int field = 0; field < 4; field++) {
            list.u64(0);
        }
        list.u8(0);
    }
    write_file(directory / "manifest_list_reply_unsorted",
               frame_with_body(FrameKind::kResponse, Opcode::kManifestList, unsorted));
}

void write_malformed(const fs::path& directory) {
    write_file(directory / "bad_version", raw_frame(0, 2, 1, 6, ""));
    write_file(directory / "unknown_kind", raw_frame(0, 1, 5, 6, ""));
    write_file(directory / "unknown_opcode", raw_frame(0, 1, 1, 16, ""));
    write_file(directory / "length_4gib", raw_frame(UINT32_MAX, 1, 3, 1, "some body bytes"));
    write_file(directory / "length_over_limit",
               raw_frame(limits::kFrameBodyBytesMax + 1, 1, 3, 1, "x"));
    write_file(directory / "truncated_body",
               raw_frame(100, 1, 1, 2, std::string_view("\x05\x00short", 7)));

    Buffer trailing;
    Writer(trailing).string16("key");
    Writer(trailing).u8(0);
    write_file(directory / "get_request_trailing_byte", request_with_body(Opcode::kGet, trailing));

    Buffer nul_key;
    Writer(nul_key).string16(std::string_view("a\0b", 3));
    write_file(directory / "stat_request_nul_key", request_with_body(Opcode::kStat, nul_key));

    Buffer limit_zero;
    Writer writer(limit_zero);
    writer.string16("");
    writer.string16("");
    writer.u32(0);
    write_file(directory / "list_request_limit_zero", request_with_body(Opcode::kList, limit_zero));

    Buffer unknown_code;
    Writer(unknown_code).u8(8);
    Writer(unknown_code).string16("?");
    write_file(directory / "error_unknown_code",
               raw_frame(static_cast<uint32_t>(unknown_code.size()),
                         1,
                         static_cast<uint8_t>(FrameKind::kError),
                         2,
                         as_string_view(unknown_code.view())));

    Buffer flags;
    Writer(flags).u8(0x02);
    Writer(flags).u64(0);
    write_file(directory / "put_piece_unknown_flags",
               raw_frame(static_cast<uint32_t>(flags.size()),
                         1,
                         static_cast<uint8_t>(FrameKind::kData),
                         static_cast<uint16_t>(Opcode::kPut),
                         as_string_view(flags.view())));

    Buffer list_count;
    Writer(list_count).u32(limits::kListEntriesMax + 1);
    Writer(list_count).u8(0);
    write_file(directory / "list_reply_count_over_limit",
               raw_frame(static_cast<uint32_t>(list_count.size()),
                         1,
                         static_cast<uint8_t>(FrameKind::kResponse),
                         static_cast<uint16_t>(Opcode::kList),
                         as_string_view(list_count.view())));
}

}  // namespace
}  // namespace shoal::wire

int main(int argc, char** argv) {
    if (argc != 2) {
        fmt::print(stderr, "usage: frame_corpus_generate <directory>\n");
        return 2;
    }
    const std::filesystem::path directory(argv[1]);
    std::filesystem::create_directories(directory);
    shoal::wire::write_valid(directory);
    shoal::wire::write_malformed(directory);
    shoal::wire::write_peer(directory);
    shoal::wire::write_peer_malformed(directory);
    return 0;
}

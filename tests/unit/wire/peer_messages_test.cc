// Goal: every peer message of the cluster data path survives encode → FrameDecoder → decode
// with every field intact, at the bounds of its limits; the gathered-write prefixes produce the
// same bytes as the one-buffer encoders; and every decoder refuses what the protocol forbids
// (missing or trailing bytes, oversized or empty payloads, bad keys, unknown outcomes and
// flags, unsorted list entries) with kInvalidArgument rather than a guess.
//
// Method: encode each message, pass the bytes through a FrameDecoder and decode the frame,
// comparing all fields; pin the bytes of one example of each message against
// docs/wire_format.md; then cut every body at every length short of whole, extend it by a
// byte, and build bad bodies by hand with Writer, checking the status and its message.
#include "shoal/wire/peer_messages.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include "shoal/base/bytes.h"
#include "shoal/base/coding.h"
#include "shoal/base/prng.h"
#include "shoal/wire/frame.h"
#include "shoal/wire/messages.h"

namespace shoal::wire {
namespace {

// The one frame in `encoded`, decoded by a real FrameDecoder, which lives as long as this
// object: the frame's body borrows from it.
class OneFrame {
public:
    explicit OneFrame(const Buffer& encoded) {
        decoder_.feed(encoded.view());
        Result<std::optional<Frame>> next = decoder_.next();
        REQUIRE(next.is_ok());
        REQUIRE(next.value().has_value());
        frame_ = *next.value();
        REQUIRE(decoder_.buffered_bytes() == 0);  // Exactly one frame, nothing after it.
    }

    const Frame& frame() const { return frame_; }
    const FrameHeader& header() const { return frame_.header; }
    ByteView body() const { return frame_.body; }

private:
    FrameDecoder decoder_;
    Frame frame_;
};

void check_header(const OneFrame& one, FrameKind kind, Opcode opcode, RequestId request_id) {
    CHECK(one.header().version == kProtocolVersion);
    CHECK(one.header().kind == kind);
    CHECK(one.header().opcode == opcode);
    CHECK(one.header().request_id == request_id);
}

template <typename T>
T decode_valid_request(const OneFrame& one) {
    Result<Request> decoded = decode_request(one.frame());
    INFO(decoded.status().to_string());
    REQUIRE(decoded.is_ok());
    REQUIRE(std::holds_alternative<T>(decoded.value()));
    return std::get<T>(decoded.value());
}

template <typename T>
T decode_valid(const Result<T>& decoded) {
    INFO(decoded.status().to_string());
    REQUIRE(decoded.is_ok());
    return decoded.value();
}

Frame frame_around(ByteView body, Opcode opcode, FrameKind kind = FrameKind::kRequest) {
    return Frame{.header = {.body_bytes = static_cast<uint32_t>(body.size()),
                            .kind = kind,
                            .opcode = opcode,
                            .request_id = RequestId{1}},
                 .body = body};
}

Status request_status(ByteView body, Opcode opcode) {
    return decode_request(frame_around(body, opcode)).status();
}

Buffer bytes_of(std::initializer_list<uint8_t> values) {
    Buffer buffer;
    for (const uint8_t value : values) {
        Writer(buffer).u8(value);
    }
    return buffer;
}

ByteView body_of(const Buffer& encoded) {
    return encoded.view().subspan(kFrameHeaderBytes);
}

Buffer random_bytes(Prng& prng, size_t size) {
    Buffer bytes(size);
    prng.fill(bytes.data(), bytes.size());
    return bytes;
}

std::string random_key(Prng& prng, size_t size) {
    std::string key(size, '\0');
    for (char& character : key) {
        character = static_cast<char>(prng.between(1, 255));  // No NUL.
    }
    return key;
}

// `index` in decimal with leading zeros to `width` digits, so such keys sort as numbers do.
std::string padded(uint32_t index, size_t width) {
    std::string digits = std::to_string(index);
    return std::string(width - std::min(width, digits.size()), '0') + digits;
}

void check_rejected(const Status& status, std::string_view message_part) {
    INFO(status.to_string());
    CHECK(status.code() == Code::kInvalidArgument);
    CHECK(status.message().find(message_part) != std::string::npos);
}

// Every proper prefix of `body` must fail to decode with `decode`.
template <typename Decode>
void check_every_prefix_rejected(ByteView body, Decode&& decode) {
    for (size_t size = 0; size < body.size(); size++) {
        CAPTURE(size);
        CHECK(decode(body.first(size)).code() == Code::kInvalidArgument);
    }
}

// `body` with one more byte after it.
Buffer longer(ByteView body) {
    Buffer extended(body);
    extended.append("!");
    return extended;
}

constexpr ChunkId kSampleChunk{.key_hash = 0x0102'0304'0506'0708,
                               .version = {.hlc = 0x11, .node = NodeId{0x22}},
                               .stripe_index = 7,
                               .chunk_index = 5};

constexpr ChunkId kExtremeChunk{.key_hash = UINT64_MAX,
                                .version = {.hlc = UINT64_MAX, .node = NodeId{UINT64_MAX}},
                                .stripe_index = UINT32_MAX,
                                .chunk_index = UINT8_MAX};

ManifestListReply sample_list(Prng& prng, size_t entries, bool truncated) {
    ManifestListReply reply{.truncated = truncated};
    std::vector<std::string> keys;
    for (size_t index = 0; index < entries; index++) {
        keys.push_back(random_key(prng, prng.between(1, limits::kKeyBytesMax)));
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (size_t index = 0; index < keys.size(); index++) {
        reply.entries.push_back(ManifestListEntry{
                .key = keys[index],
                .version = {.hlc = prng.next_u64(), .node = NodeId{prng.next_u64()}},
                .object_bytes = prng.next_u64(),
                .digest = prng.next_u64(),
                .tombstone = prng.chance(1, 3),
        });
    }
    // Sometimes past the last entry, as when the keys after it failed their reads.
    if (!keys.empty()) reply.scanned_through = keys.back();
    if (reply.scanned_through.size() < limits::kKeyBytesMax && prng.chance(1, 2)) {
        reply.scanned_through += "~";
    }
    if (keys.empty() && !truncated) reply.scanned_through.clear();
    return reply;
}

void check_same_list(const ManifestListReply& decoded, const ManifestListReply& expected) {
    CHECK(decoded.truncated == expected.truncated);
    CHECK(decoded.scanned_through == expected.scanned_through);
    REQUIRE(decoded.entries.size() == expected.entries.size());
    for (size_t index = 0; index < expected.entries.size(); index++) {
        CAPTURE(index);
        const ManifestListEntry& got = decoded.entries[index];
        const ManifestListEntry& want = expected.entries[index];
        CHECK(got.key == want.key);
        CHECK(got.version == want.version);
        CHECK(got.object_bytes == want.object_bytes);
        CHECK(got.digest == want.digest);
        CHECK(got.tombstone == want.tombstone);
    }
}

// ---- Limits.

TEST_CASE("peer messages: the limits are the documented ones", "[unit][peer_messages]") {
    STATIC_REQUIRE(kChunkBytesMax == 1024 * 1024);
    STATIC_REQUIRE(kChunkRecordBytesMax == 1024 * 1024 + 4096 + 1024);
    STATIC_REQUIRE(kChunkRecordBytesMax == limits::kFrameBodyBytesMax);
    STATIC_REQUIRE(kManifestBytesMax == 1024 * 1024);
    STATIC_REQUIRE(kChunkIdBytes == 29);
    CHECK(manifest_list_entry_bytes("") == 35);
    CHECK(manifest_list_entry_bytes("abc") == 38);
}

// ---- Round trips of requests.

TEST_CASE("peer messages: a chunk put request round-trips its record at the bounds",
          "[unit][peer_messages]") {
    Prng prng(/*seed=*/1);
    const size_t record_bytes = GENERATE(as<size_t>{}, 1, 70'000, kChunkRecordBytesMax);
    CAPTURE(record_bytes);
    const Buffer record = random_bytes(prng, record_bytes);
    Buffer encoded;
    encode_request(RequestId{21}, ChunkPutRequest{.record = record.view()}, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kRequest, Opcode::kChunkPut, RequestId{21});
    CHECK(one.body().size() == record_bytes);
    CHECK(equal_bytes(decode_valid_request<ChunkPutRequest>(one).record, record.view()));
}

TEST_CASE("peer messages: chunk get and delete requests round-trip the chunk id",
          "[unit][peer_messages]") {
    const ChunkId chunk = GENERATE(ChunkId{}, kSampleChunk, kExtremeChunk);
    CAPTURE(chunk.key_hash, chunk.stripe_index);
    SECTION("get") {
        Buffer encoded;
        encode_request(RequestId{22}, ChunkGetRequest{.chunk = chunk}, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kRequest, Opcode::kChunkGet, RequestId{22});
        CHECK(one.body().size() == kChunkIdBytes);
        CHECK(decode_valid_request<ChunkGetRequest>(one).chunk == chunk);
    }
    SECTION("delete") {
        Buffer encoded;
        encode_request(RequestId{23}, ChunkDeleteRequest{.chunk = chunk}, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kRequest, Opcode::kChunkDelete, RequestId{23});
        CHECK(one.body().size() == kChunkIdBytes);
        CHECK(decode_valid_request<ChunkDeleteRequest>(one).chunk == chunk);
    }
}

TEST_CASE("peer messages: a manifest put request round-trips its manifest at the bounds",
          "[unit][peer_messages]") {
    Prng prng(/*seed=*/2);
    const size_t manifest_bytes = GENERATE(as<size_t>{}, 1, 300, kManifestBytesMax);
    CAPTURE(manifest_bytes);
    const Buffer manifest = random_bytes(prng, manifest_bytes);
    Buffer encoded;
    encode_request(RequestId{24}, ManifestPutRequest{.manifest = manifest.view()}, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kRequest, Opcode::kManifestPut, RequestId{24});
    CHECK(equal_bytes(decode_valid_request<ManifestPutRequest>(one).manifest, manifest.view()));
}

TEST_CASE("peer messages: a manifest get request round-trips its key", "[unit][peer_messages]") {
    Prng prng(/*seed=*/3);
    const size_t key_bytes = GENERATE(as<size_t>{}, 1, 17, limits::kKeyBytesMax);
    CAPTURE(key_bytes);
    const std::string key = random_key(prng, key_bytes);
    Buffer encoded;
    encode_request(RequestId{25}, ManifestGetRequest{.key = key}, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kRequest, Opcode::kManifestGet, RequestId{25});
    CHECK(decode_valid_request<ManifestGetRequest>(one).key == key);
}

TEST_CASE("peer messages: a manifest list request round-trips", "[unit][peer_messages]") {
    Prng prng(/*seed=*/4);
    const std::string prefix = random_key(prng, limits::kPrefixBytesMax);
    const std::string start_after = random_key(prng, limits::kKeyBytesMax);
    const ManifestListRequest cases[] = {
            {.prefix = "photos/", .start_after = "photos/cat.jpg", .limit = 1},
            {.prefix = "", .start_after = "", .limit = limits::kListEntriesDefault},
            {.prefix = prefix, .start_after = start_after, .limit = limits::kListEntriesMax},
    };
    for (const ManifestListRequest& request : cases) {
        CAPTURE(request.limit);
        Buffer encoded;
        encode_request(RequestId{26}, request, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kRequest, Opcode::kManifestList, RequestId{26});
        const auto decoded = decode_valid_request<ManifestListRequest>(one);
        CHECK(decoded.prefix == request.prefix);
        CHECK(decoded.start_after == request.start_after);
        CHECK(decoded.limit == request.limit);
    }
}

// ---- Round trips of replies.

TEST_CASE("peer messages: chunk put and delete replies are empty", "[unit][peer_messages]") {
    Buffer put;
    encode_reply(RequestId{31}, ChunkPutReply{}, put);
    const OneFrame put_frame(put);
    check_header(put_frame, FrameKind::kResponse, Opcode::kChunkPut, RequestId{31});
    CHECK(put_frame.body().empty());
    CHECK(decode_chunk_put_reply(put_frame.body()).is_ok());

    Buffer del;
    encode_reply(RequestId{32}, ChunkDeleteReply{}, del);
    const OneFrame delete_frame(del);
    check_header(delete_frame, FrameKind::kResponse, Opcode::kChunkDelete, RequestId{32});
    CHECK(delete_frame.body().empty());
    CHECK(decode_chunk_delete_reply(delete_frame.body()).is_ok());
}

TEST_CASE("peer messages: a chunk get reply round-trips its record at the bounds",
          "[unit][peer_messages]") {
    Prng prng(/*seed=*/5);
    const size_t record_bytes = GENERATE(as<size_t>{}, 1, 4096, kChunkRecordBytesMax);
    CAPTURE(record_bytes);
    const Buffer record = random_bytes(prng, record_bytes);
    Buffer encoded;
    encode_reply(RequestId{33}, ChunkGetReply{.record = record.view()}, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kResponse, Opcode::kChunkGet, RequestId{33});
    CHECK(equal_bytes(decode_valid(decode_chunk_get_reply(one.body())).record, record.view()));
}

TEST_CASE("peer messages: a manifest put reply round-trips either outcome",
          "[unit][peer_messages]") {
    const ManifestPutOutcome outcome =
            GENERATE(ManifestPutOutcome::kStored, ManifestPutOutcome::kSuperseded);
    const Version current = GENERATE(Version{},
                                     Version{.hlc = 0x0190'0000'0001, .node = NodeId{7}},
                                     Version{.hlc = UINT64_MAX, .node = NodeId{UINT64_MAX}});
    CAPTURE(static_cast<int>(outcome), current.hlc);
    Buffer encoded;
    encode_reply(RequestId{34}, ManifestPutReply{.outcome = outcome, .current = current}, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kResponse, Opcode::kManifestPut, RequestId{34});
    CHECK(one.body().size() == 17);
    const ManifestPutReply decoded = decode_valid(decode_manifest_put_reply(one.body()));
    CHECK(decoded.outcome == outcome);
    CHECK(decoded.current == current);
}

TEST_CASE("peer messages: a manifest get reply round-trips a hit at the bounds and a miss",
          "[unit][peer_messages]") {
    Prng prng(/*seed=*/6);
    SECTION("found") {
        const size_t manifest_bytes = GENERATE(as<size_t>{}, 1, 300, kManifestBytesMax);
        CAPTURE(manifest_bytes);
        const Buffer manifest = random_bytes(prng, manifest_bytes);
        Buffer encoded;
        encode_reply(RequestId{35},
                     ManifestGetReply{.found = true, .manifest = manifest.view()},
                     encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kResponse, Opcode::kManifestGet, RequestId{35});
        CHECK(one.body().size() == 1 + manifest_bytes);
        const ManifestGetReply decoded = decode_valid(decode_manifest_get_reply(one.body()));
        CHECK(decoded.found);
        CHECK(equal_bytes(decoded.manifest, manifest.view()));
    }
    SECTION("not found") {
        Buffer encoded;
        encode_reply(RequestId{36}, ManifestGetReply{}, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kResponse, Opcode::kManifestGet, RequestId{36});
        CHECK(one.body().size() == 1);
        const ManifestGetReply decoded = decode_valid(decode_manifest_get_reply(one.body()));
        CHECK_FALSE(decoded.found);
        CHECK(decoded.manifest.empty());
    }
}

TEST_CASE("peer messages: a manifest list reply round-trips entries, tombstones and truncated",
          "[unit][peer_messages]") {
    Prng prng(/*seed=*/7);
    const size_t entries = GENERATE(as<size_t>{}, 0, 1, 3, 200);
    const bool truncated = GENERATE(false, true);
    CAPTURE(entries, truncated);
    const ManifestListReply reply = sample_list(prng, entries, truncated);
    size_t body_bytes = 5 + 2 + reply.scanned_through.size();
    for (const ManifestListEntry& entry : reply.entries) {
        body_bytes += manifest_list_entry_bytes(entry.key);
    }
    Buffer encoded;
    encode_reply(RequestId{37}, reply, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kResponse, Opcode::kManifestList, RequestId{37});
    CHECK(one.body().size() == body_bytes);  // manifest_list_entry_bytes() adds up exactly.
    check_same_list(decode_valid(decode_manifest_list_reply(one.body())), reply);
}

TEST_CASE("peer messages: a manifest list reply filled to its byte budget fits one frame",
          "[unit][peer_messages]") {
    // A node fills a reply as PeerService does: entries while they fit
    // kManifestListEntriesBytesMax. The largest keys make the fullest reply.
    ManifestListReply reply;
    size_t entry_bytes = 0;
    for (uint32_t index = 0; reply.entries.size() < limits::kListEntriesMax; index++) {
        std::string key = padded(index, 8);
        key.resize(limits::kKeyBytesMax, 'k');
        if (entry_bytes + manifest_list_entry_bytes(key) > kManifestListEntriesBytesMax) break;
        entry_bytes += manifest_list_entry_bytes(key);
        reply.entries.push_back(ManifestListEntry{.key = std::move(key), .tombstone = true});
    }
    reply.truncated = true;
    reply.scanned_through = std::string(limits::kKeyBytesMax, '~');  // The longest there is.
    Buffer encoded;
    encode_reply(RequestId{38}, reply, encoded);
    const OneFrame one(encoded);
    CHECK(one.body().size() <= limits::kFrameBodyBytesMax);
    check_same_list(decode_valid(decode_manifest_list_reply(one.body())), reply);

    // The most entries, with the shortest keys, fit with room to spare.
    ManifestListReply many;
    for (uint32_t index = 0; index < limits::kListEntriesMax; index++) {
        many.entries.push_back(ManifestListEntry{.key = padded(index, 5)});
    }
    many.scanned_through = many.entries.back().key;
    Buffer most;
    encode_reply(RequestId{39}, many, most);
    check_same_list(decode_valid(decode_manifest_list_reply(OneFrame(most).body())), many);
}

TEST_CASE("peer messages: a missing chunk is a not-found error reply", "[unit][peer_messages]") {
    Buffer encoded;
    encode_error(RequestId{40},
                 Opcode::kChunkGet,
                 ErrorReply{.code = Code::kNotFound, .message = "no such chunk"},
                 encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kError, Opcode::kChunkGet, RequestId{40});
    const ErrorReply decoded = decode_valid(decode_error(one.body()));
    CHECK(decoded.code == Code::kNotFound);
    CHECK(decoded.message == "no such chunk");
}

// ---- Gathered writes.

TEST_CASE(
        "peer messages: a chunk put prefix, a header in place and the data as payload equal "
        "the one-buffer encoding",
        "[unit][peer_messages]") {
    Prng prng(/*seed=*/8);
    const size_t data_bytes = GENERATE(as<size_t>{}, 0, 1, 4096, kChunkBytesMax);
    CAPTURE(data_bytes);
    // The record as the object module would make it: a header appended in place, then the
    // chunk's data from the erasure coder's buffer.
    const Buffer chunk_header = random_bytes(prng, 1128);
    const Buffer data = random_bytes(prng, data_bytes);
    Buffer record(chunk_header.view());
    record.append(data.view());

    Buffer whole;
    encode_request(RequestId{41}, ChunkPutRequest{.record = record.view()}, whole);
    Buffer gathered(as_bytes("earlier frames"));
    encode_chunk_put_prefix(RequestId{41}, chunk_header.size() + data.size(), gathered);
    CHECK(gathered.size() == 14 + kFrameHeaderBytes);
    gathered.append(chunk_header.view());
    gathered.consume_front(14);
    gathered.append(data.view());  // OutFrame::payload, in a real send.
    CHECK(equal_bytes(gathered.view(), whole.view()));
}

TEST_CASE("peer messages: the other prefixes plus their payload equal the one-buffer encoding",
          "[unit][peer_messages]") {
    Prng prng(/*seed=*/9);
    const size_t payload_bytes = GENERATE(as<size_t>{}, 1, 4096, kManifestBytesMax);
    CAPTURE(payload_bytes);
    const Buffer payload = random_bytes(prng, payload_bytes);
    Buffer whole;
    Buffer gathered;
    size_t fixed_bytes = 0;
    SECTION("chunk get reply") {
        encode_reply(RequestId{42}, ChunkGetReply{.record = payload.view()}, whole);
        encode_chunk_get_reply_prefix(RequestId{42}, payload.size(), gathered);
    }
    SECTION("manifest put request") {
        encode_request(RequestId{43}, ManifestPutRequest{.manifest = payload.view()}, whole);
        encode_manifest_put_prefix(RequestId{43}, payload.size(), gathered);
    }
    SECTION("manifest get reply") {
        encode_reply(
                RequestId{44}, ManifestGetReply{.found = true, .manifest = payload.view()}, whole);
        encode_manifest_get_reply_prefix(RequestId{44}, payload.size(), gathered);
        fixed_bytes = 1;  // The found flag.
    }
    CHECK(gathered.size() == kFrameHeaderBytes + fixed_bytes);
    gathered.append(payload.view());
    CHECK(equal_bytes(gathered.view(), whole.view()));
}

// ---- Pinned bodies (docs/wire_format.md, "Peer messages").

TEST_CASE("peer messages: requests have the documented layouts", "[unit][peer_messages]") {
    SECTION("chunk put: the record is the whole body") {
        Buffer encoded;
        encode_request(RequestId{1}, ChunkPutRequest{.record = as_bytes("rec")}, encoded);
        const Buffer expected = bytes_of({3,
                                          0,
                                          0,
                                          0,
                                          1,
                                          1,
                                          10,
                                          0,
                                          1,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,  //
                                          'r',
                                          'e',
                                          'c'});
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
    SECTION("chunk get and delete: key_hash u64, hlc u64, node u64, stripe u32, chunk u8") {
        const Buffer chunk_id = bytes_of({8,    7, 6, 5, 4, 3, 2, 1,  // key_hash
                                          0x11, 0, 0, 0, 0, 0, 0, 0,  // version.hlc
                                          0x22, 0, 0, 0, 0, 0, 0, 0,  // version.node
                                          7,    0, 0, 0,              // stripe_index
                                          5});                        // chunk_index
        Buffer get;
        encode_request(RequestId{2}, ChunkGetRequest{.chunk = kSampleChunk}, get);
        Buffer expected_get = bytes_of({29, 0, 0, 0, 1, 1, 11, 0, 2, 0, 0, 0, 0, 0, 0, 0});
        expected_get.append(chunk_id.view());
        CHECK(equal_bytes(get.view(), expected_get.view()));

        Buffer del;
        encode_request(RequestId{6}, ChunkDeleteRequest{.chunk = kSampleChunk}, del);
        Buffer expected_delete = bytes_of({29, 0, 0, 0, 1, 1, 15, 0, 6, 0, 0, 0, 0, 0, 0, 0});
        expected_delete.append(chunk_id.view());
        CHECK(equal_bytes(del.view(), expected_delete.view()));
    }
    SECTION("manifest put: the manifest is the whole body") {
        Buffer encoded;
        encode_request(RequestId{3}, ManifestPutRequest{.manifest = as_bytes("mf")}, encoded);
        const Buffer expected = bytes_of({2,
                                          0,
                                          0,
                                          0,
                                          1,
                                          1,
                                          12,
                                          0,
                                          3,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,  //
                                          'm',
                                          'f'});
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
    SECTION("manifest get: key string16") {
        Buffer encoded;
        encode_request(RequestId{4}, ManifestGetRequest{.key = "ab"}, encoded);
        const Buffer expected = bytes_of({4, 0, 0,   0,  1, 1, 13, 0, 4, 0, 0, 0, 0, 0, 0, 0,  //
                                          2, 0, 'a', 'b'});
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
    SECTION("manifest list: prefix string16, start_after string16, limit u32") {
        Buffer encoded;
        encode_request(RequestId{5},
                       ManifestListRequest{.prefix = "p", .start_after = "pa", .limit = 258},
                       encoded);
        const Buffer expected = bytes_of({11, 0, 0,   0,   1, 1, 14, 0, 5, 0, 0, 0, 0, 0, 0, 0,  //
                                          1,  0, 'p',                                            //
                                          2,  0, 'p', 'a',                                       //
                                          2,  1, 0,   0});
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
}

TEST_CASE("peer messages: replies have the documented layouts", "[unit][peer_messages]") {
    SECTION("chunk put and delete: empty") {
        Buffer put;
        encode_reply(RequestId{1}, ChunkPutReply{}, put);
        const Buffer expected_put = bytes_of({0, 0, 0, 0, 1, 2, 10, 0, 1, 0, 0, 0, 0, 0, 0, 0});
        CHECK(equal_bytes(put.view(), expected_put.view()));
        Buffer del;
        encode_reply(RequestId{6}, ChunkDeleteReply{}, del);
        const Buffer expected_del = bytes_of({0, 0, 0, 0, 1, 2, 15, 0, 6, 0, 0, 0, 0, 0, 0, 0});
        CHECK(equal_bytes(del.view(), expected_del.view()));
    }
    SECTION("chunk get: the record is the whole body") {
        Buffer encoded;
        encode_reply(RequestId{2}, ChunkGetReply{.record = as_bytes("rec")}, encoded);
        const Buffer expected = bytes_of({3,
                                          0,
                                          0,
                                          0,
                                          1,
                                          2,
                                          11,
                                          0,
                                          2,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,  //
                                          'r',
                                          'e',
                                          'c'});
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
    SECTION("manifest put: outcome u8, then the current version's hlc u64 and node u64") {
        Buffer encoded;
        encode_reply(RequestId{3},
                     ManifestPutReply{.outcome = ManifestPutOutcome::kSuperseded,
                                      .current = {.hlc = 0x0102, .node = NodeId{9}}},
                     encoded);
        const Buffer expected = bytes_of({17, 0, 0, 0, 1, 2, 12, 0, 3, 0, 0, 0, 0, 0, 0, 0,  //
                                          1,                                                 //
                                          2,  1, 0, 0, 0, 0, 0,  0,                          //
                                          9,  0, 0, 0, 0, 0, 0,  0});
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
    SECTION("manifest get: found u8, then the manifest if found") {
        Buffer hit;
        encode_reply(
                RequestId{4}, ManifestGetReply{.found = true, .manifest = as_bytes("mf")}, hit);
        const Buffer expected_hit = bytes_of({3,
                                              0,
                                              0,
                                              0,
                                              1,
                                              2,
                                              13,
                                              0,
                                              4,
                                              0,
                                              0,
                                              0,
                                              0,
                                              0,
                                              0,
                                              0,  //
                                              1,
                                              'm',
                                              'f'});
        CHECK(equal_bytes(hit.view(), expected_hit.view()));
        Buffer miss;
        encode_reply(RequestId{4}, ManifestGetReply{}, miss);
        const Buffer expected_miss = bytes_of({1,
                                               0,
                                               0,
                                               0,
                                               1,
                                               2,
                                               13,
                                               0,
                                               4,
                                               0,
                                               0,
                                               0,
                                               0,
                                               0,
                                               0,
                                               0,  //
                                               0});
        CHECK(equal_bytes(miss.view(), expected_miss.view()));
    }
    SECTION("manifest list: count u32, truncated u8, scanned_through, then key, version, sizes, "
            "tombstone") {
        ManifestListReply reply{.truncated = true, .scanned_through = "zz"};
        reply.entries.push_back(ManifestListEntry{.key = "z",
                                                  .version = {.hlc = 1, .node = NodeId{2}},
                                                  .object_bytes = 3,
                                                  .digest = 4,
                                                  .tombstone = true});
        Buffer encoded;
        encode_reply(RequestId{5}, reply, encoded);
        const Buffer expected = bytes_of({45, 0, 0,   0,   1, 2, 14, 0, 5, 0, 0, 0, 0, 0, 0, 0,  //
                                          1,  0, 0,   0,                                         //
                                          1,                                                     //
                                          2,  0, 'z', 'z',                                       //
                                          1,  0, 'z',                                            //
                                          1,  0, 0,   0,   0, 0, 0,  0,                          //
                                          2,  0, 0,   0,   0, 0, 0,  0,                          //
                                          3,  0, 0,   0,   0, 0, 0,  0,                          //
                                          4,  0, 0,   0,   0, 0, 0,  0,                          //
                                          1});
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
}

// ---- Rejections.

TEST_CASE("peer messages: truncated bodies are rejected", "[unit][peer_messages]") {
    Buffer get, del, manifest_get, list, manifest_put_reply, list_reply;
    encode_request(RequestId{1}, ChunkGetRequest{.chunk = kSampleChunk}, get);
    encode_request(RequestId{1}, ChunkDeleteRequest{.chunk = kSampleChunk}, del);
    encode_request(RequestId{1}, ManifestGetRequest{.key = "key"}, manifest_get);
    encode_request(
            RequestId{1}, ManifestListRequest{.prefix = "p", .start_after = "q", .limit = 9}, list);
    encode_reply(RequestId{1},
                 ManifestPutReply{.outcome = ManifestPutOutcome::kSuperseded,
                                  .current = kSampleChunk.version},
                 manifest_put_reply);
    ManifestListReply entries{.truncated = true, .scanned_through = "c"};
    entries.entries.push_back(ManifestListEntry{.key = "a", .tombstone = true});
    entries.entries.push_back(ManifestListEntry{.key = "b", .object_bytes = 5});
    encode_reply(RequestId{1}, entries, list_reply);

    check_every_prefix_rejected(
            body_of(get), [](ByteView body) { return request_status(body, Opcode::kChunkGet); });
    check_every_prefix_rejected(
            body_of(del), [](ByteView body) { return request_status(body, Opcode::kChunkDelete); });
    check_every_prefix_rejected(body_of(manifest_get), [](ByteView body) {
        return request_status(body, Opcode::kManifestGet);
    });
    check_every_prefix_rejected(body_of(list), [](ByteView body) {
        return request_status(body, Opcode::kManifestList);
    });
    check_every_prefix_rejected(body_of(manifest_put_reply), [](ByteView body) {
        return decode_manifest_put_reply(body).status();
    });
    check_every_prefix_rejected(body_of(list_reply), [](ByteView body) {
        return decode_manifest_list_reply(body).status();
    });
    // Bodies that are one payload: only the empty body is short. A manifest get reply is
    // short without its flag, or with found = 1 and no manifest.
    check_rejected(request_status(ByteView{}, Opcode::kChunkPut), "chunk put request: empty");
    check_rejected(request_status(ByteView{}, Opcode::kManifestPut), "manifest put request: empty");
    check_rejected(decode_chunk_get_reply(ByteView{}).status(), "chunk get reply: empty");
    check_rejected(decode_manifest_get_reply(ByteView{}).status(), "manifest get reply: truncated");
    check_rejected(decode_manifest_get_reply(bytes_of({1}).view()).status(),
                   "manifest get reply: manifest: empty");
    check_rejected(decode_manifest_put_reply(ByteView{}).status(), "manifest put reply: truncated");
    check_rejected(decode_manifest_list_reply(bytes_of({0, 0, 0, 0}).view()).status(),
                   "manifest list reply: truncated");
}

TEST_CASE("peer messages: trailing bytes are rejected", "[unit][peer_messages]") {
    Buffer get, del, manifest_get, list, manifest_put_reply, list_reply;
    encode_request(RequestId{1}, ChunkGetRequest{.chunk = kSampleChunk}, get);
    encode_request(RequestId{1}, ChunkDeleteRequest{.chunk = kSampleChunk}, del);
    encode_request(RequestId{1}, ManifestGetRequest{.key = "key"}, manifest_get);
    encode_request(RequestId{1}, ManifestListRequest{.prefix = "p"}, list);
    encode_reply(RequestId{1}, ManifestPutReply{}, manifest_put_reply);
    ManifestListReply entries{.scanned_through = "a"};
    entries.entries.push_back(ManifestListEntry{.key = "a"});
    encode_reply(RequestId{1}, entries, list_reply);

    check_rejected(request_status(longer(body_of(get)).view(), Opcode::kChunkGet),
                   "chunk get request: 1 trailing bytes");
    check_rejected(request_status(longer(body_of(del)).view(), Opcode::kChunkDelete),
                   "chunk delete request: 1 trailing bytes");
    check_rejected(request_status(longer(body_of(manifest_get)).view(), Opcode::kManifestGet),
                   "manifest get request: 1 trailing bytes");
    check_rejected(request_status(longer(body_of(list)).view(), Opcode::kManifestList),
                   "manifest list request: 1 trailing bytes");
    check_rejected(decode_chunk_put_reply(as_bytes("x")).status(),
                   "chunk put reply: 1 trailing bytes");
    check_rejected(decode_chunk_delete_reply(as_bytes("x")).status(),
                   "chunk delete reply: 1 trailing bytes");
    check_rejected(decode_manifest_put_reply(longer(body_of(manifest_put_reply)).view()).status(),
                   "manifest put reply: 1 trailing bytes");
    check_rejected(decode_manifest_list_reply(longer(body_of(list_reply)).view()).status(),
                   "manifest list reply: 1 trailing bytes");
    // After found = 0 nothing may follow: a manifest there is trailing bytes, not a hit.
    check_rejected(decode_manifest_get_reply(bytes_of({0, 'm', 'f'}).view()).status(),
                   "manifest get reply: 2 trailing bytes");
}

TEST_CASE("peer messages: payloads over their limit are rejected, ones at it accepted",
          "[unit][peer_messages]") {
    Buffer bytes(kChunkRecordBytesMax + 1);
    std::memset(bytes.data(), 0, bytes.size());
    const ByteView record_max = bytes.view().first(kChunkRecordBytesMax);
    const ByteView record_over = bytes.view();
    CHECK(request_status(record_max, Opcode::kChunkPut).is_ok());
    check_rejected(request_status(record_over, Opcode::kChunkPut),
                   "chunk put request: 1053697 bytes is over the limit of 1053696");
    CHECK(decode_chunk_get_reply(record_max).is_ok());
    check_rejected(decode_chunk_get_reply(record_over).status(),
                   "chunk get reply: 1053697 bytes is over the limit of 1053696");

    const ByteView manifest_max = bytes.view().first(kManifestBytesMax);
    const ByteView manifest_over = bytes.view().first(kManifestBytesMax + 1);
    CHECK(request_status(manifest_max, Opcode::kManifestPut).is_ok());
    check_rejected(request_status(manifest_over, Opcode::kManifestPut),
                   "manifest put request: 1048577 bytes is over the limit of 1048576");
    Buffer hit = bytes_of({1});
    hit.append(manifest_max);
    CHECK(decode_manifest_get_reply(hit.view()).is_ok());
    hit.append("!");
    check_rejected(decode_manifest_get_reply(hit.view()).status(),
                   "manifest get reply: manifest: 1048577 bytes is over the limit of 1048576");
}

TEST_CASE("peer messages: manifest get keys that break the key rule are rejected",
          "[unit][peer_messages]") {
    const std::string too_long(limits::kKeyBytesMax + 1, 'k');
    const std::string with_nul("a\0b", 3);
    struct Case {
        std::string_view key;
        std::string_view message;
    };
    const Case cases[] = {
            {"", "key is empty"},
            {too_long, "manifest get request: string over limit"},
            {with_nul, "key contains a NUL byte"},
    };
    for (const Case& bad : cases) {
        CAPTURE(bad.message);
        Buffer body;
        Writer(body).string16(bad.key);
        check_rejected(request_status(body.view(), Opcode::kManifestGet), bad.message);
    }
}

TEST_CASE("peer messages: manifest list requests outside their bounds are rejected",
          "[unit][peer_messages]") {
    const auto list_body = [](std::string_view prefix, std::string_view start, uint32_t limit) {
        Buffer body;
        Writer writer(body);
        writer.string16(prefix);
        writer.string16(start);
        writer.u32(limit);
        return body;
    };
    const std::string too_long(limits::kKeyBytesMax + 1, 'p');
    check_rejected(request_status(list_body(too_long, "", 1).view(), Opcode::kManifestList),
                   "manifest list request: string over limit");
    check_rejected(request_status(list_body("p", too_long, 1).view(), Opcode::kManifestList),
                   "manifest list request: string over limit");
    const uint32_t limit = GENERATE(as<uint32_t>{}, 0, limits::kListEntriesMax + 1, UINT32_MAX);
    CAPTURE(limit);
    check_rejected(
            request_status(list_body("", "", limit).view(), Opcode::kManifestList),
            "manifest list request: limit " + std::to_string(limit) + " is outside 1..10000");
}

TEST_CASE("peer messages: a manifest put reply with an unknown outcome is rejected",
          "[unit][peer_messages]") {
    const uint8_t outcome = GENERATE(as<uint8_t>{}, 2, 0x80, 0xFF);
    CAPTURE(outcome);
    Buffer encoded;
    encode_reply(RequestId{1}, ManifestPutReply{}, encoded);
    Buffer body(body_of(encoded));
    body.data()[0] = static_cast<std::byte>(outcome);
    check_rejected(decode_manifest_put_reply(body.view()).status(),
                   "manifest put reply: unknown outcome " + std::to_string(outcome));
}

TEST_CASE("peer messages: a manifest get reply with a bad found flag is rejected",
          "[unit][peer_messages]") {
    const uint8_t found = GENERATE(as<uint8_t>{}, 2, 0x80, 0xFF);
    CAPTURE(found);
    const Buffer body = bytes_of({found, 'm', 'f'});
    check_rejected(decode_manifest_get_reply(body.view()).status(),
                   "manifest get reply: bad found flag " + std::to_string(found));
}

// A manifest list reply body with the given count and truncated byte, then `entries`, each
// written raw so that any rule can be broken.
struct RawEntry {
    std::string key;
    uint8_t tombstone = 0;
};

// scanned_through is the last entry's key unless given.
Buffer list_reply_body(uint32_t count,
                       uint8_t truncated,
                       const std::vector<RawEntry>& entries,
                       std::optional<std::string> scanned = std::nullopt) {
    Buffer body;
    Writer writer(body);
    writer.u32(count);
    writer.u8(truncated);
    if (!scanned.has_value()) scanned = entries.empty() ? "" : entries.back().key;
    writer.string16(*scanned);
    for (const RawEntry& entry : entries) {
        writer.string16(entry.key);
        for (int field = 0; field < 4; field++) {
            writer.u64(0);
        }
        writer.u8(entry.tombstone);
    }
    return body;
}

TEST_CASE("peer messages: manifest list replies that break a rule are rejected",
          "[unit][peer_messages]") {
    const auto status = [](const Buffer& body) {
        return decode_manifest_list_reply(body.view()).status();
    };
    CHECK(status(list_reply_body(2, 1, {{"a"}, {"b", 1}})).is_ok());
    SECTION("a count over kListEntriesMax, before anything is read or reserved") {
        check_rejected(status(list_reply_body(limits::kListEntriesMax + 1, 0, {})),
                       "manifest list reply: 10001 entries is over the limit of 10000");
    }
    SECTION("a count of more entries than the body can hold, before anything is reserved") {
        check_rejected(status(list_reply_body(limits::kListEntriesMax, 0, {{"only"}})),
                       "manifest list reply: 10000 entries do not fit in 39 bytes");
    }
    SECTION("a count that fits the body size but not its contents") {
        // One entry with a 40-byte key is room, by size, for two one-byte-key entries.
        check_rejected(status(list_reply_body(2, 0, {{std::string(40, 'k')}})),
                       "manifest list reply: truncated");
    }
    SECTION("a truncated flag other than 0 or 1") {
        check_rejected(status(list_reply_body(0, 2, {})),
                       "manifest list reply: bad truncated flag 2");
    }
    SECTION("a tombstone flag other than 0 or 1") {
        check_rejected(status(list_reply_body(2, 0, {{"a"}, {"b", 2}})),
                       "manifest list reply: bad tombstone flag 2");
    }
    SECTION("an entry key over the key limit") {
        check_rejected(
                status(list_reply_body(1, 0, {{std::string(limits::kKeyBytesMax + 1, 'k')}}, "z")),
                "manifest list reply: string over limit");
    }
    SECTION("an entry key that breaks the key rule") {
        check_rejected(status(list_reply_body(2, 0, {{""}, {"bbbb"}})),
                       "manifest list reply: key is empty");
        check_rejected(status(list_reply_body(1, 0, {{std::string("a\0b", 3)}}, "b")),
                       "manifest list reply: key contains a NUL byte");
    }
    SECTION("a scanned_through over the key limit, or that breaks the key rule") {
        check_rejected(
                status(list_reply_body(0, 1, {}, std::string(limits::kKeyBytesMax + 1, 'k'))),
                "manifest list reply: string over limit");
        check_rejected(status(list_reply_body(0, 1, {}, std::string("a\0b", 3))),
                       "manifest list reply: scanned_through: key contains a NUL byte");
    }
    SECTION("a truncated reply that names no key to go on after") {
        check_rejected(status(list_reply_body(0, 1, {}, "")),
                       "manifest list reply: truncated, but no key scanned to go on after");
        check_rejected(status(list_reply_body(1, 1, {{"a"}}, "")),
                       "manifest list reply: truncated, but no key scanned to go on after");
        // Untruncated and empty: the node looked at nothing, which is fine.
        CHECK(status(list_reply_body(0, 0, {}, "")).is_ok());
        // Truncated with no entries: every key the node looked at failed its read.
        CHECK(status(list_reply_body(0, 1, {}, "m")).is_ok());
    }
    SECTION("a scanned_through before the last entry") {
        check_rejected(status(list_reply_body(2, 0, {{"a"}, {"c"}}, "b")),
                       "manifest list reply: scanned_through is before the last entry");
        check_rejected(status(list_reply_body(1, 0, {{"a"}}, "")),
                       "manifest list reply: scanned_through is before the last entry");
        CHECK(status(list_reply_body(2, 0, {{"a"}, {"c"}}, "d")).is_ok());
    }
    SECTION("keys out of order, or the same key twice") {
        check_rejected(status(list_reply_body(2, 0, {{"b"}, {"a"}})),
                       "manifest list reply: entry 1 is not after the one before it");
        check_rejected(status(list_reply_body(3, 0, {{"a"}, {"b"}, {"b"}})),
                       "manifest list reply: entry 2 is not after the one before it");
        // Byte order: 0xFF sorts after every ASCII byte.
        CHECK(status(list_reply_body(2, 0, {{"a"}, {"\xff"}})).is_ok());
        check_rejected(status(list_reply_body(2, 0, {{"\xff"}, {"a"}})),
                       "manifest list reply: entry 1 is not after the one before it");
    }
}

TEST_CASE("peer messages: peer frames other than requests are not requests",
          "[unit][peer_messages]") {
    const Buffer body = bytes_of({1});
    for (const FrameKind kind : {FrameKind::kResponse, FrameKind::kError, FrameKind::kData}) {
        for (uint16_t opcode = 10; opcode <= 15; opcode++) {
            CAPTURE(static_cast<int>(kind), opcode);
            check_rejected(
                    decode_request(frame_around(body.view(), static_cast<Opcode>(opcode), kind))
                            .status(),
                    "request: a client may not send kind");
        }
    }
}

}  // namespace
}  // namespace shoal::wire

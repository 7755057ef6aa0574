// Goal: every client message survives encode → FrameDecoder → decode with every field intact,
// the gathered-write encoders produce the same bytes as the one-buffer ones, and every
// decoder refuses what the protocol forbids (trailing or missing bytes, bad keys, limits,
// unknown codes and flags) with kInvalidArgument rather than a guess.
//
// Method: encode each message, pass the bytes through a FrameDecoder and decode the frame,
// comparing all fields; pin the bytes of a few bodies against docs/wire_format.md; then build
// bad bodies by hand with Writer (or by cutting and extending good ones) and check the status;
// feed seeded random bytes of every length around the stats reply's fixed size.
#include "shoal/wire/messages.h"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include "shoal/base/bytes.h"
#include "shoal/base/coding.h"
#include "shoal/base/hash.h"
#include "shoal/base/prng.h"
#include "shoal/wire/frame.h"

namespace shoal::wire {
namespace {

constexpr size_t kObjectInfoBytes = 32;

// The one frame in `encoded`, decoded by a real FrameDecoder. The frame's body borrows from
// the decoder, which lives as long as this object.
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

std::string random_text(Prng& prng, size_t size) {
    std::string text(size, '\0');
    for (char& character : text) {
        character = static_cast<char>(prng.between(1, 255));  // No NUL.
    }
    return text;
}

ObjectInfo sample_info(uint64_t salt) {
    return ObjectInfo{
            .version = {.hlc = 0x0001'0203'0405'0607 + salt, .node = NodeId{0xA0A0 + salt}},
            .object_bytes = 5'000'000 + salt,
            .digest = 0xFEED'FACE'CAFE'BEEF ^ salt,
    };
}

void check_same_info(const ObjectInfo& decoded, const ObjectInfo& expected) {
    CHECK(decoded.version.hlc == expected.version.hlc);
    CHECK(decoded.version.node == expected.version.node);
    CHECK(decoded.object_bytes == expected.object_bytes);
    CHECK(decoded.digest == expected.digest);
}

// Every field set by name, each to a different value with high and low bytes in use, so a
// field the codec skipped or moved shows up. The disk figures stay 0 in memory mode, as a
// node sends them.
StatsReply sample_stats(StorageMode mode, bool writes_stopped) {
    const auto value = [](uint64_t field) {
        return (field << 56) | (0xA000 + field);
    };
    StatsReply stats{.storage_mode = mode,
                     .requests = value(1),
                     .requests_failed = value(2),
                     .frames_rejected = value(3),
                     .puts_abandoned = value(4),
                     .bytes_received = value(5),
                     .bytes_sent = value(6),
                     .records = value(7),
                     .record_bytes = value(8)};
    if (mode == StorageMode::kMemory) return stats;
    stats.segments = value(9);
    stats.log_bytes = value(10);
    stats.live_bytes = value(11);
    stats.corrupt_ranges = value(12);
    stats.corrupt_bytes = value(13);
    stats.corrupt_reads = value(14);
    stats.damaged_records = value(15);
    stats.torn_tails = value(16);
    stats.writes = value(17);
    stats.syncs = value(18);
    stats.cache_bytes = value(19);
    stats.cache_hits = value(20);
    stats.cache_misses = value(21);
    stats.writes_stopped = writes_stopped;
    return stats;
}

void check_same_stats(const StatsReply& decoded, const StatsReply& expected) {
    CHECK(decoded.storage_mode == expected.storage_mode);
    CHECK(decoded.requests == expected.requests);
    CHECK(decoded.requests_failed == expected.requests_failed);
    CHECK(decoded.frames_rejected == expected.frames_rejected);
    CHECK(decoded.puts_abandoned == expected.puts_abandoned);
    CHECK(decoded.bytes_received == expected.bytes_received);
    CHECK(decoded.bytes_sent == expected.bytes_sent);
    CHECK(decoded.records == expected.records);
    CHECK(decoded.record_bytes == expected.record_bytes);
    CHECK(decoded.segments == expected.segments);
    CHECK(decoded.log_bytes == expected.log_bytes);
    CHECK(decoded.live_bytes == expected.live_bytes);
    CHECK(decoded.corrupt_ranges == expected.corrupt_ranges);
    CHECK(decoded.corrupt_bytes == expected.corrupt_bytes);
    CHECK(decoded.corrupt_reads == expected.corrupt_reads);
    CHECK(decoded.damaged_records == expected.damaged_records);
    CHECK(decoded.torn_tails == expected.torn_tails);
    CHECK(decoded.writes == expected.writes);
    CHECK(decoded.syncs == expected.syncs);
    CHECK(decoded.cache_bytes == expected.cache_bytes);
    CHECK(decoded.cache_hits == expected.cache_hits);
    CHECK(decoded.cache_misses == expected.cache_misses);
    CHECK(decoded.writes_stopped == expected.writes_stopped);
}

void check_header(const OneFrame& one, FrameKind kind, Opcode opcode, RequestId request_id) {
    CHECK(one.header().version == kProtocolVersion);
    CHECK(one.header().kind == kind);
    CHECK(one.header().opcode == opcode);
    CHECK(one.header().request_id == request_id);
}

// Decodes a request frame that must be valid and hold a T.
template <typename T>
T decode_valid_request(const OneFrame& one) {
    Result<Request> decoded = decode_request(one.frame());
    INFO(decoded.status().to_string());
    REQUIRE(decoded.is_ok());
    REQUIRE(std::holds_alternative<T>(decoded.value()));
    return std::get<T>(decoded.value());
}

// A frame header of `kind`/`opcode` around a hand-made body, for decode_request.
Frame frame_around(ByteView body, Opcode opcode, FrameKind kind = FrameKind::kRequest) {
    return Frame{.header = {.body_bytes = static_cast<uint32_t>(body.size()),
                            .kind = kind,
                            .opcode = opcode,
                            .request_id = RequestId{1}},
                 .body = body};
}

Buffer bytes_of(std::initializer_list<uint8_t> values) {
    Buffer buffer;
    for (const uint8_t value : values) {
        Writer(buffer).u8(value);
    }
    return buffer;
}

void check_rejected(const Status& status, std::string_view message_part) {
    INFO(status.to_string());
    CHECK(status.code() == Code::kInvalidArgument);
    CHECK(status.message().find(message_part) != std::string::npos);
}

// ---- Round trips of requests.

TEST_CASE("messages: a put request round-trips with its first piece", "[unit][messages]") {
    Prng prng(/*seed=*/1);
    const std::string key = random_text(prng, limits::kKeyBytesMax);
    Buffer data(prng.between(0, 70'000));
    prng.fill(data.data(), data.size());

    const bool last = GENERATE(false, true);
    const uint64_t object_bytes =
            GENERATE(as<uint64_t>{}, 0, 12345, limits::kObjectBytesMax, kObjectBytesUnknown);
    const PutRedundancy redundancy = GENERATE(PutRedundancy{},
                                              PutRedundancy{.data_chunks = 4, .parity_chunks = 2},
                                              PutRedundancy{.data_chunks = 1, .parity_chunks = 2});
    CAPTURE(last, object_bytes, redundancy.data_chunks, redundancy.parity_chunks);
    const PutRequest request{
            .key = key,
            .object_bytes = object_bytes,
            .redundancy = redundancy,
            .piece = {.last = last, .digest = last ? hash64(data.view()) : 0, .data = data.view()},
    };
    Buffer encoded;
    encode_request(RequestId{42}, request, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kRequest, Opcode::kPut, RequestId{42});

    const auto decoded = decode_valid_request<PutRequest>(one);
    CHECK(decoded.key == key);
    CHECK(decoded.object_bytes == object_bytes);
    CHECK(decoded.redundancy.data_chunks == redundancy.data_chunks);
    CHECK(decoded.redundancy.parity_chunks == redundancy.parity_chunks);
    CHECK(decoded.piece.last == last);
    CHECK(decoded.piece.digest == request.piece.digest);
    CHECK(equal_bytes(decoded.piece.data, data.view()));
}

TEST_CASE("messages: a put piece round-trips as a data frame", "[unit][messages]") {
    Prng prng(/*seed=*/2);
    Buffer data(prng.between(1, 70'000));
    prng.fill(data.data(), data.size());
    const bool last = GENERATE(false, true);
    const PutPiece piece{.last = last,
                         .digest = last ? uint64_t{0x0123'4567'89AB'CDEF} : 0,
                         .data = data.view()};

    Buffer encoded;
    encode_put_piece(RequestId{UINT64_MAX}, piece, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kData, Opcode::kPut, RequestId{UINT64_MAX});

    const auto decoded = decode_valid_request<PutPiece>(one);
    CHECK(decoded.last == last);
    CHECK(decoded.digest == piece.digest);
    CHECK(equal_bytes(decoded.data, data.view()));
}

TEST_CASE("messages: an empty last piece round-trips", "[unit][messages]") {
    Buffer encoded;
    encode_put_piece(RequestId{3}, PutPiece{.last = true, .digest = 99}, encoded);
    const OneFrame one(encoded);
    CHECK(one.header().body_bytes == 9);
    const auto decoded = decode_valid_request<PutPiece>(one);
    CHECK(decoded.last);
    CHECK(decoded.digest == 99);
    CHECK(decoded.data.empty());
}

TEST_CASE("messages: get, delete and stat requests round-trip their key", "[unit][messages]") {
    Prng prng(/*seed=*/3);
    const size_t key_bytes = GENERATE(as<size_t>{}, 1, 17, limits::kKeyBytesMax);
    CAPTURE(key_bytes);
    const std::string key = random_text(prng, key_bytes);

    Buffer encoded;
    SECTION("get") {
        encode_request(RequestId{7}, GetRequest{.key = key}, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kRequest, Opcode::kGet, RequestId{7});
        CHECK(decode_valid_request<GetRequest>(one).key == key);
    }
    SECTION("delete") {
        encode_request(RequestId{8}, DeleteRequest{.key = key}, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kRequest, Opcode::kDelete, RequestId{8});
        CHECK(decode_valid_request<DeleteRequest>(one).key == key);
    }
    SECTION("stat") {
        encode_request(RequestId{9}, StatRequest{.key = key}, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kRequest, Opcode::kStat, RequestId{9});
        CHECK(decode_valid_request<StatRequest>(one).key == key);
    }
}

TEST_CASE("messages: a list request round-trips", "[unit][messages]") {
    Prng prng(/*seed=*/4);
    const std::string prefix = random_text(prng, limits::kPrefixBytesMax);
    const std::string start_after = random_text(prng, limits::kKeyBytesMax);
    const ListRequest cases[] = {
            {.prefix = "photos/", .start_after = "photos/cat.jpg", .limit = 1},
            {.prefix = "", .start_after = "", .limit = limits::kListEntriesDefault},
            {.prefix = prefix, .start_after = start_after, .limit = limits::kListEntriesMax},
    };
    for (const ListRequest& request : cases) {
        CAPTURE(request.limit);
        Buffer encoded;
        encode_request(RequestId{10}, request, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kRequest, Opcode::kList, RequestId{10});
        const auto decoded = decode_valid_request<ListRequest>(one);
        CHECK(decoded.prefix == request.prefix);
        CHECK(decoded.start_after == request.start_after);
        CHECK(decoded.limit == request.limit);
    }
}

TEST_CASE("messages: a ping request round-trips with an empty body", "[unit][messages]") {
    Buffer encoded;
    encode_request(RequestId{0}, PingRequest{}, encoded);
    CHECK(encoded.size() == kFrameHeaderBytes);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kRequest, Opcode::kPing, RequestId{0});
    decode_valid_request<PingRequest>(one);
}

TEST_CASE("messages: a stats request round-trips with an empty body", "[unit][messages]") {
    Buffer encoded;
    encode_request(RequestId{16}, StatsRequest{}, encoded);
    CHECK(encoded.size() == kFrameHeaderBytes);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kRequest, Opcode::kStats, RequestId{16});
    decode_valid_request<StatsRequest>(one);
}

// ---- Round trips of replies.

TEST_CASE("messages: put, stat and delete replies round-trip", "[unit][messages]") {
    const ObjectInfo info = sample_info(1);
    SECTION("put") {
        Buffer encoded;
        encode_reply(RequestId{11}, PutReply{.info = info}, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kResponse, Opcode::kPut, RequestId{11});
        CHECK(one.body().size() == kObjectInfoBytes);
        const Result<PutReply> decoded = decode_put_reply(one.body());
        REQUIRE(decoded.is_ok());
        check_same_info(decoded.value().info, info);
    }
    SECTION("stat") {
        Buffer encoded;
        encode_reply(RequestId{12}, StatReply{.info = info}, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kResponse, Opcode::kStat, RequestId{12});
        const Result<StatReply> decoded = decode_stat_reply(one.body());
        REQUIRE(decoded.is_ok());
        check_same_info(decoded.value().info, info);
    }
    SECTION("delete") {
        Buffer encoded;
        encode_reply(RequestId{13}, DeleteReply{.version = info.version}, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kResponse, Opcode::kDelete, RequestId{13});
        CHECK(one.body().size() == 16);
        const Result<DeleteReply> decoded = decode_delete_reply(one.body());
        REQUIRE(decoded.is_ok());
        CHECK(decoded.value().version == info.version);
    }
}

TEST_CASE("messages: a stats reply round-trips every counter in either mode", "[unit][messages]") {
    const StorageMode mode = GENERATE(StorageMode::kMemory, StorageMode::kDisk);
    const bool writes_stopped = GENERATE(false, true);
    CAPTURE(static_cast<int>(mode), writes_stopped);
    const StatsReply stats = sample_stats(mode, writes_stopped);

    Buffer encoded;
    encode_reply(RequestId{17}, stats, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kResponse, Opcode::kStats, RequestId{17});
    CHECK(one.body().size() == kStatsReplyBytes);
    const Result<StatsReply> decoded = decode_stats_reply(one.body());
    INFO(decoded.status().to_string());
    REQUIRE(decoded.is_ok());
    check_same_stats(decoded.value(), stats);
}

TEST_CASE("messages: a stats reply round-trips the extremes of its counters", "[unit][messages]") {
    const uint64_t counter = GENERATE(uint64_t{0}, uint64_t{1}, UINT64_MAX);
    CAPTURE(counter);
    StatsReply stats{.storage_mode = StorageMode::kDisk};
    for_each_stats_counter(stats,
                           [counter](std::string_view, uint64_t& field) { field = counter; });
    Buffer encoded;
    encode_reply(RequestId{18}, stats, encoded);
    const Result<StatsReply> decoded = decode_stats_reply(OneFrame(encoded).body());
    REQUIRE(decoded.is_ok());
    check_same_stats(decoded.value(), stats);
}

TEST_CASE("messages: a get reply round-trips with its first data bytes", "[unit][messages]") {
    Prng prng(/*seed=*/5);
    const size_t data_bytes = GENERATE(as<size_t>{}, 0, 1, 70'000, limits::kDataFrameBytesMax);
    CAPTURE(data_bytes);
    Buffer data(data_bytes);
    prng.fill(data.data(), data.size());
    ObjectInfo info = sample_info(2);
    info.object_bytes = data_bytes + prng.below(2) * 1000;  // All of it, or only a first part.

    Buffer encoded;
    encode_reply(RequestId{14}, GetReply{.info = info, .data = data.view()}, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kResponse, Opcode::kGet, RequestId{14});
    const Result<GetReply> decoded = decode_get_reply(one.body());
    REQUIRE(decoded.is_ok());
    check_same_info(decoded.value().info, info);
    CHECK(equal_bytes(decoded.value().data, data.view()));
}

TEST_CASE("messages: a get data frame carries raw bytes", "[unit][messages]") {
    const std::string data = "the middle of an object";
    Buffer encoded;
    encode_get_data_header(RequestId{15}, static_cast<uint32_t>(data.size()), encoded);
    CHECK(encoded.size() == kFrameHeaderBytes);
    encoded.append(data);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kData, Opcode::kGet, RequestId{15});
    CHECK(as_string_view(one.body()) == data);
}

TEST_CASE("messages: a list reply round-trips its entries and truncated flag", "[unit][messages]") {
    Prng prng(/*seed=*/6);
    const size_t entries = GENERATE(as<size_t>{}, 0, 1, 3, 200);
    const bool truncated = GENERATE(false, true);
    CAPTURE(entries, truncated);
    ListReply reply{.truncated = truncated};
    size_t body_bytes = 5;
    for (size_t index = 0; index < entries; index++) {
        reply.entries.push_back(ListEntry{
                .key = random_text(prng, prng.between(1, limits::kKeyBytesMax)),
                .info = sample_info(index),
        });
        body_bytes += list_entry_bytes(reply.entries.back().key);
    }
    Buffer encoded;
    encode_reply(RequestId{16}, reply, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kResponse, Opcode::kList, RequestId{16});
    CHECK(one.body().size() == body_bytes);  // list_entry_bytes() adds up exactly.

    const Result<ListReply> decoded = decode_list_reply(one.body());
    REQUIRE(decoded.is_ok());
    CHECK(decoded.value().truncated == truncated);
    REQUIRE(decoded.value().entries.size() == entries);
    for (size_t index = 0; index < entries; index++) {
        CAPTURE(index);
        CHECK(decoded.value().entries[index].key == reply.entries[index].key);
        check_same_info(decoded.value().entries[index].info, reply.entries[index].info);
    }
}

TEST_CASE("messages: a ping reply round-trips with an empty body", "[unit][messages]") {
    Buffer encoded;
    encode_reply(RequestId{17}, PingReply{}, encoded);
    const OneFrame one(encoded);
    check_header(one, FrameKind::kResponse, Opcode::kPing, RequestId{17});
    CHECK(one.body().empty());
    CHECK(decode_ping_reply(one.body()).is_ok());
}

TEST_CASE("messages: an error reply round-trips every code", "[unit][messages]") {
    for (uint8_t code = 1; code <= kCodeMax; code++) {
        CAPTURE(code);
        const auto opcode = static_cast<Opcode>(1 + code % 6);
        const ErrorReply reply{.code = static_cast<Code>(code), .message = "put: no space left"};
        Buffer encoded;
        encode_error(RequestId{100 + uint64_t{code}}, opcode, reply, encoded);
        const OneFrame one(encoded);
        check_header(one, FrameKind::kError, opcode, RequestId{100 + uint64_t{code}});
        const Result<ErrorReply> decoded = decode_error(one.body());
        REQUIRE(decoded.is_ok());
        CHECK(decoded.value().code == reply.code);
        CHECK(decoded.value().message == reply.message);
    }
}

TEST_CASE("messages: an error message is cut to the limit when encoded", "[unit][messages]") {
    const std::string message(limits::kErrorMessageBytesMax + 500, 'm');
    Buffer encoded;
    encode_error(RequestId{1},
                 Opcode::kGet,
                 ErrorReply{.code = Code::kNotFound, .message = message},
                 encoded);
    const OneFrame one(encoded);
    const Result<ErrorReply> decoded = decode_error(one.body());
    REQUIRE(decoded.is_ok());
    CHECK(decoded.value().message.size() == limits::kErrorMessageBytesMax);
    CHECK(message.starts_with(decoded.value().message));
}

// ---- Gathered writes.

TEST_CASE("messages: a put piece prefix plus its data equals the one-buffer encoding",
          "[unit][messages]") {
    Prng prng(/*seed=*/7);
    const size_t data_bytes = GENERATE(as<size_t>{}, 0, 1, 4096, limits::kDataFrameBytesMax);
    const bool last = GENERATE(false, true);
    CAPTURE(data_bytes, last);
    Buffer data(data_bytes);
    prng.fill(data.data(), data.size());
    const PutPiece piece{.last = last, .digest = last ? uint64_t{77} : 0, .data = data.view()};

    Buffer whole;
    encode_put_piece(RequestId{5}, piece, whole);
    Buffer gathered(as_bytes("earlier frames"));
    encode_put_piece_prefix(RequestId{5}, piece, gathered);
    CHECK(gathered.size() == 14 + kFrameHeaderBytes + 9);
    gathered.consume_front(14);
    gathered.append(data.view());
    CHECK(equal_bytes(gathered.view(), whole.view()));
}

TEST_CASE("messages: a get reply prefix plus its data equals the one-buffer encoding",
          "[unit][messages]") {
    Prng prng(/*seed=*/8);
    const size_t data_bytes = GENERATE(as<size_t>{}, 0, 1, 4096, limits::kDataFrameBytesMax);
    CAPTURE(data_bytes);
    Buffer data(data_bytes);
    prng.fill(data.data(), data.size());
    ObjectInfo info = sample_info(3);
    info.object_bytes = data_bytes;
    const GetReply reply{.info = info, .data = data.view()};

    Buffer whole;
    encode_reply(RequestId{6}, reply, whole);
    Buffer gathered;
    encode_get_reply_prefix(RequestId{6}, reply, gathered);
    CHECK(gathered.size() == kFrameHeaderBytes + kObjectInfoBytes);
    gathered.append(data.view());
    CHECK(equal_bytes(gathered.view(), whole.view()));
}

TEST_CASE("messages: encoders append after what the buffer already holds", "[unit][messages]") {
    Buffer stream;
    encode_request(RequestId{1}, GetRequest{.key = "a"}, stream);
    encode_request(RequestId{2}, PingRequest{}, stream);
    encode_reply(RequestId{3}, StatReply{.info = sample_info(4)}, stream);
    FrameDecoder decoder;
    decoder.feed(stream.view());
    std::vector<uint64_t> ids;
    while (true) {
        Result<std::optional<Frame>> next = decoder.next();
        REQUIRE(next.is_ok());
        if (!next.value().has_value()) break;
        ids.push_back(to_u64(next.value()->header.request_id));
    }
    CHECK(ids == std::vector<uint64_t>{1, 2, 3});
}

// ---- Pinned bodies (docs/wire_format.md).

TEST_CASE("messages: bodies have the documented layouts", "[unit][messages]") {
    SECTION("get request: key string16") {
        Buffer encoded;
        encode_request(RequestId{5}, GetRequest{.key = "ab"}, encoded);
        const Buffer expected = bytes_of({4, 0, 0,   0,  1, 1, 2, 0, 5, 0, 0, 0, 0, 0, 0, 0,  //
                                          2, 0, 'a', 'b'});
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
    SECTION("put request: key, object_bytes, redundancy, flags, digest, data") {
        Buffer encoded;
        encode_request(RequestId{1},
                       PutRequest{.key = "k",
                                  .object_bytes = 2,
                                  .redundancy = {.data_chunks = 4, .parity_chunks = 2},
                                  .piece = {.last = true,
                                            .digest = 0x0807060504030201,
                                            .data = as_bytes("xy")}},
                       encoded);
        const Buffer expected = bytes_of({24,  0,  0,   0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0,  //
                                          1,   0,  'k',                                         //
                                          2,   0,  0,   0, 0, 0, 0, 0,                          //
                                          4,   2,                                               //
                                          1,                                                    //
                                          1,   2,  3,   4, 5, 6, 7, 8,                          //
                                          'x', 'y'});
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
    SECTION("list request: prefix, start_after, limit") {
        Buffer encoded;
        encode_request(
                RequestId{2}, ListRequest{.prefix = "p", .start_after = "", .limit = 258}, encoded);
        const Buffer expected = bytes_of({9, 0, 0,   0, 1, 1, 5, 0, 2, 0, 0, 0, 0, 0, 0, 0,  //
                                          1, 0, 'p', 0, 0, 2, 1, 0, 0});
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
    SECTION("error: code u8, message string16") {
        Buffer encoded;
        encode_error(RequestId{3},
                     Opcode::kStat,
                     ErrorReply{.code = Code::kNotFound, .message = "no"},
                     encoded);
        const Buffer expected = bytes_of({5, 0, 0, 0,   1,  4, 4, 0, 3, 0, 0, 0, 0, 0, 0, 0,  //
                                          1, 2, 0, 'n', 'o'});
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
    SECTION("list reply: count u32, truncated u8, then key string16 and object info") {
        ListReply reply{.truncated = true};
        reply.entries.push_back(ListEntry{.key = "z", .info = {}});
        Buffer encoded;
        encode_reply(RequestId{4}, reply, encoded);
        Buffer expected = bytes_of({40, 0, 0, 0, 1, 2, 5, 0,  4, 0, 0, 0, 0, 0, 0, 0,  //
                                    1,  0, 0, 0, 1, 1, 0, 'z'});
        expected.resize(expected.size() + kObjectInfoBytes);
        std::memset(expected.data() + expected.size() - kObjectInfoBytes, 0, kObjectInfoBytes);
        CHECK(equal_bytes(encoded.view(), expected.view()));
    }
    SECTION("stats reply: storage_mode u8, 21 counters u64 in documented order, flag u8") {
        const StatsReply stats{
                .storage_mode = StorageMode::kDisk,
                .requests = 1,
                .requests_failed = 2,
                .frames_rejected = 3,
                .puts_abandoned = 4,
                .bytes_received = 5,
                .bytes_sent = 6,
                .records = 7,
                .record_bytes = 8,
                .segments = 9,
                .log_bytes = 10,
                .live_bytes = 11,
                .corrupt_ranges = 12,
                .corrupt_bytes = 13,
                .corrupt_reads = 14,
                .damaged_records = 15,
                .torn_tails = 16,
                .writes = 17,
                .syncs = 18,
                .cache_bytes = 19,
                .cache_hits = 20,
                .cache_misses = 21,
                .chunks_homeless = 22,
                .scrub_passes = 23,
                .manifests_repaired = 24,
                .chunks_rebuilt = 25,
                .stripes_unrecoverable = 26,
                .writes_stopped = true,
        };
        Buffer encoded;
        encode_reply(RequestId{6}, stats, encoded);
        Buffer expected = bytes_of({210,
                                    0,
                                    0,
                                    0,
                                    1,
                                    2,
                                    7,
                                    0,
                                    6,
                                    0,
                                    0,
                                    0,
                                    0,
                                    0,
                                    0,
                                    0,  //
                                    1});
        Writer writer(expected);
        for (uint64_t field = 1; field <= 26; field++) {
            writer.u64(field);  // The fields set above, each to its place in the layout.
        }
        writer.u8(1);
        CHECK(equal_bytes(encoded.view(), expected.view()));
        CHECK(kStatsReplyBytes == 210);
    }
}

// ---- Rejections.

TEST_CASE("messages: trailing bytes after a fixed layout are rejected", "[unit][messages]") {
    Buffer stream;
    encode_request(RequestId{1}, GetRequest{.key = "key"}, stream);
    encode_request(RequestId{1}, DeleteRequest{.key = "key"}, stream);
    encode_request(RequestId{1}, StatRequest{.key = "key"}, stream);
    encode_request(RequestId{1}, ListRequest{.prefix = "p"}, stream);
    encode_request(RequestId{1}, PingRequest{}, stream);
    FrameDecoder decoder;
    decoder.feed(stream.view());
    for (int index = 0; index < 5; index++) {
        CAPTURE(index);
        Result<std::optional<Frame>> next = decoder.next();
        REQUIRE(next.is_ok());
        REQUIRE(next.value().has_value());
        Buffer longer(next.value()->body);
        longer.append("!");
        const Status status =
                decode_request(frame_around(longer.view(), next.value()->header.opcode)).status();
        check_rejected(status, index == 4 ? "ping request: has a body" : "1 trailing bytes");
    }

    Buffer reply;
    Writer writer(reply);
    writer.bytes(Buffer(kObjectInfoBytes + 1).view());
    check_rejected(decode_put_reply(reply.view()).status(), "put reply: 1 trailing bytes");
    check_rejected(decode_stat_reply(reply.view()).status(), "stat reply: 1 trailing bytes");
    check_rejected(decode_delete_reply(reply.view().first(17)).status(),
                   "delete reply: 1 trailing bytes");
    check_rejected(decode_ping_reply(as_bytes("x")).status(), "ping reply: 1 trailing bytes");
    const Buffer list = bytes_of({0, 0, 0, 0, 0, 9});
    check_rejected(decode_list_reply(list.view()).status(), "list reply: 1 trailing bytes");
    const Buffer error = bytes_of({2, 1, 0, 'x', 'y'});
    check_rejected(decode_error(error.view()).status(), "error reply: 1 trailing bytes");
}

// Every proper prefix of `body` must fail to decode with `decode`.
template <typename Decode>
void check_every_prefix_rejected(ByteView body, size_t prefix_bytes_max, Decode&& decode) {
    for (size_t size = 0; size < std::min(body.size(), prefix_bytes_max + 1); size++) {
        CAPTURE(size);
        const Status status = decode(body.first(size));
        CHECK(status.code() == Code::kInvalidArgument);
    }
}

TEST_CASE("messages: truncated bodies are rejected", "[unit][messages]") {
    const auto request_status = [](Opcode opcode, FrameKind kind = FrameKind::kRequest) {
        return [opcode, kind](ByteView body) {
            return decode_request(frame_around(body, opcode, kind)).status();
        };
    };
    const auto body_of = [](const Buffer& encoded) {
        return encoded.view().subspan(kFrameHeaderBytes);
    };
    Buffer get, list, put, piece, put_reply, get_reply, delete_reply, list_reply, error;
    encode_request(RequestId{1}, GetRequest{.key = "key"}, get);
    encode_request(RequestId{1}, ListRequest{.prefix = "p", .start_after = "q"}, list);
    encode_request(RequestId{1},
                   PutRequest{.key = "key", .piece = {.last = true, .data = as_bytes("data")}},
                   put);
    encode_put_piece(RequestId{1}, PutPiece{.last = true, .data = as_bytes("data")}, piece);
    encode_reply(RequestId{1}, PutReply{.info = sample_info(1)}, put_reply);
    encode_reply(RequestId{1}, GetReply{.info = sample_info(1), .data = as_bytes("d")}, get_reply);
    encode_reply(RequestId{1}, DeleteReply{.version = sample_info(1).version}, delete_reply);
    ListReply entries;
    entries.entries.push_back(ListEntry{.key = "a", .info = sample_info(1)});
    entries.entries.push_back(ListEntry{.key = "b", .info = sample_info(2)});
    encode_reply(RequestId{1}, entries, list_reply);
    encode_error(RequestId{1},
                 Opcode::kGet,
                 ErrorReply{.code = Code::kTimeout, .message = "slow"},
                 error);

    const size_t all = SIZE_MAX;
    check_every_prefix_rejected(body_of(get), all, request_status(Opcode::kGet));
    check_every_prefix_rejected(body_of(get), all, request_status(Opcode::kDelete));
    check_every_prefix_rejected(body_of(get), all, request_status(Opcode::kStat));
    check_every_prefix_rejected(body_of(list), all, request_status(Opcode::kList));
    // A piece's data is the rest of the body, so only its fixed fields can be cut short.
    check_every_prefix_rejected(
            body_of(put), 2 + 3 + 8 + 2 + 1 + 8 - 1, request_status(Opcode::kPut));
    check_every_prefix_rejected(
            body_of(piece), 1 + 8 - 1, request_status(Opcode::kPut, FrameKind::kData));
    check_every_prefix_rejected(
            body_of(put_reply), all, [](ByteView body) { return decode_put_reply(body).status(); });
    check_every_prefix_rejected(body_of(put_reply), all, [](ByteView body) {
        return decode_stat_reply(body).status();
    });
    check_every_prefix_rejected(body_of(get_reply), kObjectInfoBytes - 1, [](ByteView body) {
        return decode_get_reply(body).status();
    });
    check_every_prefix_rejected(body_of(delete_reply), all, [](ByteView body) {
        return decode_delete_reply(body).status();
    });
    check_every_prefix_rejected(body_of(list_reply), all, [](ByteView body) {
        return decode_list_reply(body).status();
    });
    check_every_prefix_rejected(
            body_of(error), all, [](ByteView body) { return decode_error(body).status(); });
}

// A key request body: string16 of `key`, written raw so limits can be broken.
Buffer key_body(std::string_view key) {
    Buffer body;
    Writer writer(body);
    writer.string16(key);
    return body;
}

Buffer put_body(std::string_view key, uint64_t object_bytes, uint8_t flags, ByteView data) {
    Buffer body;
    Writer writer(body);
    writer.string16(key);
    writer.u64(object_bytes);
    writer.u8(0);  // The cluster's default code.
    writer.u8(0);
    writer.u8(flags);
    writer.u64(0);
    writer.bytes(data);
    return body;
}

TEST_CASE("messages: keys that break the key rule are rejected", "[unit][messages]") {
    const std::string too_long(limits::kKeyBytesMax + 1, 'k');
    const std::string with_nul("a\0b", 3);
    struct Case {
        std::string_view key;
        std::string_view message;
    };
    const Case cases[] = {
            {"", "key is empty"},
            {too_long, "string over limit"},
            {with_nul, "key contains a NUL byte"},
    };
    for (const Case& bad : cases) {
        CAPTURE(bad.message);
        const Buffer key = key_body(bad.key);
        check_rejected(decode_request(frame_around(key.view(), Opcode::kGet)).status(),
                       bad.message);
        check_rejected(decode_request(frame_around(key.view(), Opcode::kDelete)).status(),
                       bad.message);
        check_rejected(decode_request(frame_around(key.view(), Opcode::kStat)).status(),
                       bad.message);
        const Buffer put = put_body(bad.key, 1, 1, as_bytes("x"));
        check_rejected(decode_request(frame_around(put.view(), Opcode::kPut)).status(),
                       bad.message);
    }
}

TEST_CASE("messages: list prefixes and start keys over the limit are rejected",
          "[unit][messages]") {
    const std::string too_long(limits::kKeyBytesMax + 1, 'p');
    for (const bool long_prefix : {true, false}) {
        CAPTURE(long_prefix);
        Buffer body;
        Writer writer(body);
        writer.string16(long_prefix ? too_long : "p");
        writer.string16(long_prefix ? "" : too_long);
        writer.u32(10);
        check_rejected(decode_request(frame_around(body.view(), Opcode::kList)).status(),
                       "list request: string over limit");
    }
}

TEST_CASE("messages: a list limit outside 1..kListEntriesMax is rejected", "[unit][messages]") {
    const uint32_t limit = GENERATE(as<uint32_t>{}, 0, limits::kListEntriesMax + 1, UINT32_MAX);
    CAPTURE(limit);
    Buffer body;
    Writer writer(body);
    writer.string16("");
    writer.string16("");
    writer.u32(limit);
    check_rejected(decode_request(frame_around(body.view(), Opcode::kList)).status(),
                   "list request: limit " + std::to_string(limit) + " is outside 1..10000");
}

TEST_CASE("messages: unknown put flags are rejected", "[unit][messages]") {
    const uint8_t flags = GENERATE(as<uint8_t>{}, 0x02, 0x03, 0x80, 0xFF);
    CAPTURE(flags);
    SECTION("in a put request") {
        const Buffer body = put_body("key", 1, flags, as_bytes("x"));
        check_rejected(decode_request(frame_around(body.view(), Opcode::kPut)).status(),
                       "put piece: unknown flags");
    }
    SECTION("in a later piece") {
        Buffer body;
        Writer writer(body);
        writer.u8(flags);
        writer.u64(0);
        check_rejected(
                decode_request(frame_around(body.view(), Opcode::kPut, FrameKind::kData)).status(),
                "put piece: unknown flags");
    }
}

TEST_CASE("messages: a piece over the data limit is rejected, one at it accepted",
          "[unit][messages]") {
    Buffer data(limits::kDataFrameBytesMax + 1);
    std::memset(data.data(), 0, data.size());
    for (const bool over : {false, true}) {
        CAPTURE(over);
        const ByteView piece_data = data.view().first(limits::kDataFrameBytesMax + (over ? 1 : 0));
        Buffer piece;
        Writer writer(piece);
        writer.u8(0);
        writer.u64(0);
        writer.bytes(piece_data);
        const Result<Request> as_piece =
                decode_request(frame_around(piece.view(), Opcode::kPut, FrameKind::kData));
        const Buffer put = put_body("key", kObjectBytesUnknown, 0, piece_data);
        const Result<Request> as_put = decode_request(frame_around(put.view(), Opcode::kPut));
        if (over) {
            check_rejected(as_piece.status(), "put piece: data over the frame limit");
            check_rejected(as_put.status(), "put piece: data over the frame limit");
        } else {
            CHECK(as_piece.is_ok());
            CHECK(as_put.is_ok());
        }
    }
}

TEST_CASE("messages: a declared object size over the limit is rejected", "[unit][messages]") {
    const Buffer at_limit = put_body("key", limits::kObjectBytesMax, 0, ByteView{});
    CHECK(decode_request(frame_around(at_limit.view(), Opcode::kPut)).is_ok());
    const Buffer unknown = put_body("key", kObjectBytesUnknown, 0, ByteView{});
    CHECK(decode_request(frame_around(unknown.view(), Opcode::kPut)).is_ok());
    const Buffer over = put_body("key", limits::kObjectBytesMax + 1, 0, ByteView{});
    check_rejected(decode_request(frame_around(over.view(), Opcode::kPut)).status(),
                   "put request: object of 1099511627777 bytes is over the limit");
}

TEST_CASE("messages: frames a client may not send are rejected as requests", "[unit][messages]") {
    const Buffer empty;
    for (const FrameKind kind : {FrameKind::kResponse, FrameKind::kError, FrameKind::kData}) {
        for (uint16_t opcode = 1; opcode <= 7; opcode++) {
            const auto op = static_cast<Opcode>(opcode);
            if (kind == FrameKind::kData && op == Opcode::kPut) continue;
            CAPTURE(static_cast<int>(kind), opcode);
            check_rejected(decode_request(frame_around(empty.view(), op, kind)).status(),
                           "request: a client may not send kind");
        }
    }
}

TEST_CASE("messages: an error reply with an unknown code is rejected", "[unit][messages]") {
    const uint8_t code = GENERATE(as<uint8_t>{}, 0, kCodeMax + 1, 0xFF);
    CAPTURE(code);
    Buffer body;
    Writer writer(body);
    writer.u8(code);
    writer.string16("message");
    check_rejected(decode_error(body.view()).status(),
                   "error reply: unknown code " + std::to_string(code));
}

TEST_CASE("messages: an error message over the limit is rejected", "[unit][messages]") {
    Buffer body;
    Writer writer(body);
    writer.u8(static_cast<uint8_t>(Code::kUnavailable));
    writer.string16(std::string(limits::kErrorMessageBytesMax + 1, 'm'));
    check_rejected(decode_error(body.view()).status(), "error reply: string over limit");
}

TEST_CASE("messages: a list reply over its limits is rejected", "[unit][messages]") {
    SECTION("a count over kListEntriesMax, before anything is read or reserved") {
        Buffer body;
        Writer writer(body);
        writer.u32(limits::kListEntriesMax + 1);
        writer.u8(0);
        check_rejected(decode_list_reply(body.view()).status(),
                       "list reply: 10001 entries is over the limit");
    }
    SECTION("a count of more entries than the body can hold, before anything is reserved") {
        Buffer body;
        Writer writer(body);
        writer.u32(limits::kListEntriesMax);
        writer.u8(0);
        writer.string16("only");
        for (size_t index = 0; index < kObjectInfoBytes; index++) {
            writer.u8(0);
        }
        check_rejected(decode_list_reply(body.view()).status(),
                       "list reply: 10000 entries do not fit in 38 bytes");
    }
    SECTION("a count that fits the body size but not its contents") {
        Buffer body;
        Writer writer(body);
        writer.u32(2);
        writer.u8(0);
        writer.string16(std::string(60, 'k'));  // 2 + 60 + 6 bytes: room for two short entries.
        for (size_t index = 0; index < 6; index++) {
            writer.u8(0);
        }
        check_rejected(decode_list_reply(body.view()).status(), "list reply: truncated");
    }
    SECTION("a truncated flag other than 0 or 1") {
        const Buffer body = bytes_of({0, 0, 0, 0, 2});
        check_rejected(decode_list_reply(body.view()).status(), "list reply: bad truncated flag");
    }
    SECTION("an entry key over the key limit") {
        Buffer body;
        Writer writer(body);
        writer.u32(1);
        writer.u8(0);
        writer.string16(std::string(limits::kKeyBytesMax + 1, 'k'));
        for (size_t index = 0; index < kObjectInfoBytes; index++) {
            writer.u8(0);
        }
        check_rejected(decode_list_reply(body.view()).status(), "list reply: string over limit");
    }
}

TEST_CASE("messages: a get reply with more data than the object is rejected", "[unit][messages]") {
    Buffer body;
    Writer writer(body);
    writer.u64(1);  // version.hlc
    writer.u64(2);  // version.node
    writer.u64(3);  // object_bytes
    writer.u64(4);  // digest
    writer.bytes(as_bytes("four"));
    check_rejected(decode_get_reply(body.view()).status(),
                   "get reply: more data than the object's size");
}

TEST_CASE("messages: a stats request with a body is rejected", "[unit][messages]") {
    const Buffer body = bytes_of({0});
    check_rejected(decode_request(frame_around(body.view(), Opcode::kStats)).status(),
                   "stats request: has a body");
}

TEST_CASE("messages: a stats reply cut short or with trailing bytes is rejected",
          "[unit][messages]") {
    Buffer encoded;
    encode_reply(RequestId{1}, sample_stats(StorageMode::kDisk, true), encoded);
    const ByteView body = encoded.view().subspan(kFrameHeaderBytes);
    REQUIRE(body.size() == kStatsReplyBytes);
    check_every_prefix_rejected(
            body, SIZE_MAX, [](ByteView prefix) { return decode_stats_reply(prefix).status(); });
    check_rejected(decode_stats_reply(body.first(kStatsReplyBytes - 1)).status(),
                   "stats reply: truncated");
    check_rejected(decode_stats_reply(ByteView{}).status(), "stats reply: truncated");
    Buffer longer(body);
    longer.append("!");
    check_rejected(decode_stats_reply(longer.view()).status(), "stats reply: 1 trailing bytes");
}

TEST_CASE("messages: a stats reply with an unknown mode or flag is rejected", "[unit][messages]") {
    Buffer encoded;
    encode_reply(RequestId{1}, sample_stats(StorageMode::kDisk, false), encoded);
    Buffer body(encoded.view().subspan(kFrameHeaderBytes));
    SECTION("storage mode") {
        const uint8_t mode = GENERATE(as<uint8_t>{}, 2, 0x80, 0xFF);
        CAPTURE(mode);
        body.data()[0] = static_cast<std::byte>(mode);
        check_rejected(decode_stats_reply(body.view()).status(),
                       "stats reply: unknown storage mode " + std::to_string(mode));
    }
    SECTION("writes_stopped") {
        const uint8_t flag = GENERATE(as<uint8_t>{}, 2, 0x80, 0xFF);
        CAPTURE(flag);
        body.data()[kStatsReplyBytes - 1] = static_cast<std::byte>(flag);
        check_rejected(decode_stats_reply(body.view()).status(),
                       "stats reply: bad writes_stopped flag " + std::to_string(flag));
    }
}

TEST_CASE("messages: random bytes decode as a stats reply only in its exact shape",
          "[unit][messages]") {
    const uint64_t seed = GENERATE(as<uint64_t>{}, 1, 2, 3, 4);
    CAPTURE(seed);
    Prng prng(seed);
    for (size_t size = 0; size <= 2 * kStatsReplyBytes; size++) {
        CAPTURE(size);
        Buffer body(size);
        prng.fill(body.data(), body.size());
        if (size == kStatsReplyBytes && prng.chance(1, 2)) {
            body.data()[0] = static_cast<std::byte>(prng.below(2));  // Often a valid shape.
            body.data()[size - 1] = static_cast<std::byte>(prng.below(2));
        }
        const Result<StatsReply> decoded = decode_stats_reply(body.view());
        const bool valid_shape = size == kStatsReplyBytes &&
                                 static_cast<uint8_t>(body.view()[0]) <= 1 &&
                                 static_cast<uint8_t>(body.view()[size - 1]) <= 1;
        REQUIRE(decoded.is_ok() == valid_shape);
        if (!decoded.is_ok()) {
            CHECK(decoded.status().code() == Code::kInvalidArgument);
            continue;
        }
        // Canonical: what decodes re-encodes to the same bytes.
        Buffer encoded;
        encode_reply(RequestId{1}, decoded.value(), encoded);
        CHECK(equal_bytes(encoded.view().subspan(kFrameHeaderBytes), body.view()));
    }
}

TEST_CASE("messages: a put request with parity chunks but no data chunks is refused",
          "[unit][messages]") {
    Buffer encoded;
    encode_request(RequestId{3},
                   PutRequest{.key = "k",
                              .redundancy = {.data_chunks = 0, .parity_chunks = 2},
                              .piece = {.last = true, .data = as_bytes("x")}},
                   encoded);
    const OneFrame one(encoded);
    const Result<Request> decoded = decode_request(one.frame());
    CHECK(decoded.status().code() == Code::kInvalidArgument);
    CHECK(decoded.status().message() == "put request: 2 parity chunks with no data chunks");
}

// ---- The members reply.

TEST_CASE("messages: a members reply carries the layout and each member's partitions",
          "[unit][messages]") {
    MembersReply reply{.layout_epoch = 0x0123'4567'89ab'cdefULL,
                       .partition_count = 1024,
                       .owners_per_partition = 6};
    reply.members.push_back(MemberEntry{.id_high = 1,
                                        .id_low = 2,
                                        .name = "n1",
                                        .host = "127.0.0.11",
                                        .port = 7400,
                                        .zone = "a",
                                        .state = MemberStatus::kSuspect,
                                        .incarnation = 3,
                                        .capacity_weight = 4,
                                        .last_heard_ms = 5,
                                        .partitions = 1020});
    reply.members.push_back(MemberEntry{.name = "gone", .state = MemberStatus::kLeft});
    Buffer encoded;
    encode_reply(RequestId{9}, reply, encoded);
    OneFrame frame(encoded);
    // The head as docs/wire_format.md pins it: epoch, partitions, owners, count.
    Buffer head = bytes_of({0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, 0x00, 0x04,
                            0,    0,    6,    0,    0,    0,    2,    0,    0,    0});
    REQUIRE(frame.body().size() >= head.size());
    CHECK(equal_bytes(frame.body().first(head.size()), head.view()));

    Result<MembersReply> decoded = decode_members_reply(frame.body());
    REQUIRE(decoded.is_ok());
    CHECK(decoded.value().layout_epoch == reply.layout_epoch);
    CHECK(decoded.value().partition_count == 1024);
    CHECK(decoded.value().owners_per_partition == 6);
    REQUIRE(decoded.value().members.size() == 2);
    const MemberEntry& first = decoded.value().members[0];
    CHECK(first.id_high == 1);
    CHECK(first.id_low == 2);
    CHECK(first.name == "n1");
    CHECK(first.host == "127.0.0.11");
    CHECK(first.port == 7400);
    CHECK(first.zone == "a");
    CHECK(first.state == MemberStatus::kSuspect);
    CHECK(first.incarnation == 3);
    CHECK(first.capacity_weight == 4);
    CHECK(first.last_heard_ms == 5);
    CHECK(first.partitions == 1020);
    CHECK(decoded.value().members[1].name == "gone");
    CHECK(decoded.value().members[1].partitions == 0);

    // One byte short anywhere in the last entry, or one too many, is refused.
    const Buffer body(frame.body());
    CHECK(decode_members_reply(body.view().first(body.size() - 1)).status().code() ==
          Code::kInvalidArgument);
    Buffer longer(body.view());
    longer.append(bytes_of({0}).view());
    CHECK(decode_members_reply(longer.view()).status().code() == Code::kInvalidArgument);
    // A count the body cannot hold is refused.
    Buffer huge(body.view());
    huge.mutable_view()[16] = std::byte{0xff};
    CHECK(decode_members_reply(huge.view()).status().code() == Code::kInvalidArgument);
}

// ---- The key rule.

TEST_CASE("messages: validate_key accepts 1 to 1024 bytes without NUL", "[unit][messages]") {
    CHECK(validate_key("k").is_ok());
    CHECK(validate_key("photos/2024/cat.jpg").is_ok());
    CHECK(validate_key("\xff\x01 spaces and \xc3\xa9").is_ok());
    CHECK(validate_key(std::string(limits::kKeyBytesMax, 'k')).is_ok());
}

TEST_CASE("messages: validate_key says what is wrong in plain words", "[unit][messages]") {
    CHECK(validate_key("").message() == "key is empty");
    CHECK(validate_key(std::string(limits::kKeyBytesMax + 1, 'k')).message() ==
          "key is 1025 bytes, over the limit of 1024");
    CHECK(validate_key(std::string(70'000, 'k')).message() ==
          "key is 70000 bytes, over the limit of 1024");
    CHECK(validate_key(std::string("\0", 1)).message() == "key contains a NUL byte");
    CHECK(validate_key(std::string("end\0", 4)).message() == "key contains a NUL byte");
    CHECK(validate_key("").code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace shoal::wire

#include "shoal/wire/messages.h"

#include <fmt/format.h>

#include "shoal/base/coding.h"
#include "wire/codec.h"
#include "wire/peer_requests.h"

namespace shoal::wire {
namespace {

constexpr uint8_t kPieceFlagLast = 0x01;
constexpr size_t kObjectInfoBytes = 32;

void write_info(Writer& writer, const ObjectInfo& info) {
    writer.u64(info.version.hlc);
    writer.u64(to_u64(info.version.node));
    writer.u64(info.object_bytes);
    writer.u64(info.digest);
}

ObjectInfo read_info(Reader& reader) {
    ObjectInfo info;
    info.version.hlc = reader.u64();
    info.version.node = NodeId{reader.u64()};
    info.object_bytes = reader.u64();
    info.digest = reader.u64();
    return info;
}

void write_piece_prefix(Writer& writer, const PutPiece& piece) {
    writer.u8(piece.last ? kPieceFlagLast : 0);
    writer.u64(piece.digest);
}

Result<PutPiece> read_piece(Reader& reader) {
    const uint8_t flags = reader.u8();
    PutPiece piece;
    piece.digest = reader.u64();
    piece.data = reader.rest();
    SHOAL_TRY(reader.finish("put piece"));
    if ((flags & ~kPieceFlagLast) != 0) {
        return Status::invalid_argument(fmt::format("put piece: unknown flags {:#x}", flags));
    }
    piece.last = (flags & kPieceFlagLast) != 0;
    if (piece.data.size() > limits::kDataFrameBytesMax) {
        return Status::invalid_argument("put piece: data over the frame limit");
    }
    return piece;
}

// How many counters for_each_stats_counter walks, so kStatsReplyBytes is checked against it.
constexpr size_t stats_counter_count() {
    StatsReply reply;
    size_t count = 0;
    for_each_stats_counter(reply, [&count](std::string_view, uint64_t&) { count += 1; });
    return count;
}

static_assert(kStatsReplyBytes == 1 + stats_counter_count() * 8 + 1,
              "storage_mode, the counters and writes_stopped make the whole stats reply");

Status check_push_pull_state(ByteView state, std::string_view what) {
    return check_opaque_bytes(state, kPushPullStateBytesMax, what);
}

void write_member(Writer& writer, const MemberEntry& member) {
    SHOAL_ASSERT(member.name.size() <= kMemberNameBytesMax);
    SHOAL_ASSERT(member.host.size() <= kMemberHostBytesMax);
    SHOAL_ASSERT(member.zone.size() <= kMemberZoneBytesMax);
    SHOAL_ASSERT(member.state <= MemberStatus::kDeparted);
    writer.u64(member.id_high);
    writer.u64(member.id_low);
    writer.string16(member.name);
    writer.string16(member.host);
    writer.u16(member.port);
    writer.string16(member.zone);
    writer.u8(static_cast<uint8_t>(member.state));
    writer.u64(member.incarnation);
    writer.u32(member.capacity_weight);
    writer.u64(member.last_heard_ms);
    writer.u32(member.partitions);
}

// The state is checked by the caller, once the reader has vouched for the length.
MemberEntry read_member(Reader& reader, uint8_t& state) {
    MemberEntry member;
    member.id_high = reader.u64();
    member.id_low = reader.u64();
    member.name = std::string(reader.string16(kMemberNameBytesMax));
    member.host = std::string(reader.string16(kMemberHostBytesMax));
    member.port = reader.u16();
    member.zone = std::string(reader.string16(kMemberZoneBytesMax));
    state = reader.u8();
    member.incarnation = reader.u64();
    member.capacity_weight = reader.u32();
    member.last_heard_ms = reader.u64();
    member.partitions = reader.u32();
    return member;
}

Result<Request> decode_put_request(ByteView body) {
    Reader reader(body);
    PutRequest request;
    request.key = reader.string16(limits::kKeyBytesMax);
    request.object_bytes = reader.u64();
    request.redundancy.data_chunks = reader.u8();
    request.redundancy.parity_chunks = reader.u8();
    if (reader.failed()) return reader.finish("put request");
    SHOAL_TRY_ASSIGN(request.piece, read_piece(reader));
    SHOAL_TRY(validate_key(request.key));
    if (request.redundancy.is_default() && request.redundancy.parity_chunks != 0) {
        return Status::invalid_argument(
                fmt::format("put request: {} parity chunks with no data chunks",
                            request.redundancy.parity_chunks));
    }
    if (request.object_bytes != kObjectBytesUnknown &&
        request.object_bytes > limits::kObjectBytesMax) {
        return Status::invalid_argument(
                fmt::format("put request: object of {} bytes is over the limit of {}",
                            request.object_bytes,
                            limits::kObjectBytesMax));
    }
    return Request(request);
}

template <typename KeyRequest>
Result<Request> decode_key_request(ByteView body, std::string_view what) {
    Reader reader(body);
    KeyRequest request;
    request.key = reader.string16(limits::kKeyBytesMax);
    SHOAL_TRY(reader.finish(what));
    SHOAL_TRY(validate_key(request.key));
    return Request(request);
}

Result<Request> decode_list_request(ByteView body) {
    Reader reader(body);
    ListRequest request;
    request.prefix = reader.string16(limits::kPrefixBytesMax);
    request.start_after = reader.string16(limits::kKeyBytesMax);
    request.limit = reader.u32();
    SHOAL_TRY(reader.finish("list request"));
    if (request.limit == 0 || request.limit > limits::kListEntriesMax) {
        return Status::invalid_argument(fmt::format(
                "list request: limit {} is outside 1..{}", request.limit, limits::kListEntriesMax));
    }
    return Request(request);
}

Result<Request> decode_request_frame(const Frame& frame) {
    switch (frame.header.opcode) {
        case Opcode::kPut:
            return decode_put_request(frame.body);
        case Opcode::kGet:
            return decode_key_request<GetRequest>(frame.body, "get request");
        case Opcode::kDelete:
            return decode_key_request<DeleteRequest>(frame.body, "delete request");
        case Opcode::kStat:
            return decode_key_request<StatRequest>(frame.body, "stat request");
        case Opcode::kList:
            return decode_list_request(frame.body);
        case Opcode::kPing:
            if (!frame.body.empty()) return Status::invalid_argument("ping request: has a body");
            return Request(PingRequest{});
        case Opcode::kStats:
            if (!frame.body.empty()) return Status::invalid_argument("stats request: has a body");
            return Request(StatsRequest{});
        case Opcode::kPushPull:
            SHOAL_TRY(check_push_pull_state(frame.body, "push-pull request"));
            return Request(PushPullRequest{.state = frame.body});
        case Opcode::kMembers:
            if (!frame.body.empty()) {
                return Status::invalid_argument("members request: has a body");
            }
            return Request(MembersRequest{});
        case Opcode::kChunkPut:
            return decode_chunk_put_request(frame.body);
        case Opcode::kChunkGet:
            return decode_chunk_get_request(frame.body);
        case Opcode::kManifestPut:
            return decode_manifest_put_request(frame.body);
        case Opcode::kManifestGet:
            return decode_manifest_get_request(frame.body);
        case Opcode::kManifestList:
            return decode_manifest_list_request(frame.body);
        case Opcode::kChunkDelete:
            return decode_chunk_delete_request(frame.body);
    }
    return Status::invalid_argument("request: unknown opcode");
}

}  // namespace

Status validate_key(std::string_view key) {
    if (key.size() < limits::kKeyBytesMin) return Status::invalid_argument("key is empty");
    if (key.size() > limits::kKeyBytesMax) {
        return Status::invalid_argument(fmt::format(
                "key is {} bytes, over the limit of {}", key.size(), limits::kKeyBytesMax));
    }
    if (key.find('\0') != std::string_view::npos) {
        return Status::invalid_argument("key contains a NUL byte");
    }
    return Status::ok();
}

void encode_request(RequestId id, const PutRequest& request, Buffer& target) {
    encode_frame(FrameKind::kRequest, Opcode::kPut, id, target, 0, [&](Writer& writer) {
        writer.string16(request.key);
        writer.u64(request.object_bytes);
        writer.u8(request.redundancy.data_chunks);
        writer.u8(request.redundancy.parity_chunks);
        write_piece_prefix(writer, request.piece);
        writer.bytes(request.piece.data);
    });
}

void encode_request(RequestId id, const GetRequest& request, Buffer& target) {
    encode_frame(FrameKind::kRequest, Opcode::kGet, id, target, 0, [&](Writer& writer) {
        writer.string16(request.key);
    });
}

void encode_request(RequestId id, const DeleteRequest& request, Buffer& target) {
    encode_frame(FrameKind::kRequest, Opcode::kDelete, id, target, 0, [&](Writer& writer) {
        writer.string16(request.key);
    });
}

void encode_request(RequestId id, const StatRequest& request, Buffer& target) {
    encode_frame(FrameKind::kRequest, Opcode::kStat, id, target, 0, [&](Writer& writer) {
        writer.string16(request.key);
    });
}

void encode_request(RequestId id, const ListRequest& request, Buffer& target) {
    encode_frame(FrameKind::kRequest, Opcode::kList, id, target, 0, [&](Writer& writer) {
        writer.string16(request.prefix);
        writer.string16(request.start_after);
        writer.u32(request.limit);
    });
}

void encode_request(RequestId id, const PingRequest& /*request*/, Buffer& target) {
    encode_frame(FrameKind::kRequest, Opcode::kPing, id, target, 0, [](Writer&) {});
}

void encode_request(RequestId id, const StatsRequest& /*request*/, Buffer& target) {
    encode_frame(FrameKind::kRequest, Opcode::kStats, id, target, 0, [](Writer&) {});
}

void encode_request(RequestId id, const PushPullRequest& request, Buffer& target) {
    SHOAL_ASSERT(!request.state.empty());
    SHOAL_ASSERT(request.state.size() <= kPushPullStateBytesMax);
    encode_frame(FrameKind::kRequest, Opcode::kPushPull, id, target, 0, [&](Writer& writer) {
        writer.bytes(request.state);
    });
}

void encode_request(RequestId id, const MembersRequest& /*request*/, Buffer& target) {
    encode_frame(FrameKind::kRequest, Opcode::kMembers, id, target, 0, [](Writer&) {});
}

void encode_put_piece(RequestId id, const PutPiece& piece, Buffer& target) {
    encode_frame(FrameKind::kData, Opcode::kPut, id, target, 0, [&](Writer& writer) {
        write_piece_prefix(writer, piece);
        writer.bytes(piece.data);
    });
}

void encode_put_piece_prefix(RequestId id, const PutPiece& piece, Buffer& target) {
    encode_frame(FrameKind::kData, Opcode::kPut, id, target, piece.data.size(), [&](Writer& w) {
        write_piece_prefix(w, piece);
    });
}

void encode_reply(RequestId id, const PutReply& reply, Buffer& target) {
    encode_frame(FrameKind::kResponse, Opcode::kPut, id, target, 0, [&](Writer& writer) {
        write_info(writer, reply.info);
    });
}

void encode_reply(RequestId id, const GetReply& reply, Buffer& target) {
    encode_get_reply_prefix(id, reply, target);
    target.append(reply.data);
}

void encode_get_reply_prefix(RequestId id, const GetReply& reply, Buffer& target) {
    encode_frame(FrameKind::kResponse, Opcode::kGet, id, target, reply.data.size(), [&](Writer& w) {
        write_info(w, reply.info);
    });
}

void encode_get_data_header(RequestId id, uint32_t data_bytes, Buffer& target) {
    SHOAL_ASSERT(data_bytes <= limits::kDataFrameBytesMax);
    encode_frame_header(FrameHeader{.body_bytes = data_bytes,
                                    .kind = FrameKind::kData,
                                    .opcode = Opcode::kGet,
                                    .request_id = id},
                        target);
}

void encode_reply(RequestId id, const DeleteReply& reply, Buffer& target) {
    encode_frame(FrameKind::kResponse, Opcode::kDelete, id, target, 0, [&](Writer& writer) {
        writer.u64(reply.version.hlc);
        writer.u64(to_u64(reply.version.node));
    });
}

void encode_reply(RequestId id, const StatReply& reply, Buffer& target) {
    encode_frame(FrameKind::kResponse, Opcode::kStat, id, target, 0, [&](Writer& writer) {
        write_info(writer, reply.info);
    });
}

size_t list_entry_bytes(std::string_view key) {
    return 2 + key.size() + kObjectInfoBytes;
}

void encode_reply(RequestId id, const ListReply& reply, Buffer& target) {
    SHOAL_ASSERT(reply.entries.size() <= limits::kListEntriesMax);
    encode_frame(FrameKind::kResponse, Opcode::kList, id, target, 0, [&](Writer& writer) {
        writer.u32(static_cast<uint32_t>(reply.entries.size()));
        writer.u8(reply.truncated ? 1 : 0);
        for (const ListEntry& entry : reply.entries) {
            writer.string16(entry.key);
            write_info(writer, entry.info);
        }
    });
}

void encode_reply(RequestId id, const PingReply& /*reply*/, Buffer& target) {
    encode_frame(FrameKind::kResponse, Opcode::kPing, id, target, 0, [](Writer&) {});
}

void encode_reply(RequestId id, const StatsReply& reply, Buffer& target) {
    SHOAL_ASSERT(reply.storage_mode == StorageMode::kMemory ||
                 reply.storage_mode == StorageMode::kDisk);
    const size_t offset = target.size();
    encode_frame(FrameKind::kResponse, Opcode::kStats, id, target, 0, [&](Writer& writer) {
        writer.u8(static_cast<uint8_t>(reply.storage_mode));
        for_each_stats_counter(
                reply, [&writer](std::string_view, uint64_t counter) { writer.u64(counter); });
        writer.u8(reply.writes_stopped ? 1 : 0);
    });
    SHOAL_ASSERT(target.size() - offset == kFrameHeaderBytes + kStatsReplyBytes);
}

void encode_reply(RequestId id, const PushPullReply& reply, Buffer& target) {
    SHOAL_ASSERT(!reply.state.empty());
    SHOAL_ASSERT(reply.state.size() <= kPushPullStateBytesMax);
    encode_frame(FrameKind::kResponse, Opcode::kPushPull, id, target, 0, [&](Writer& writer) {
        writer.bytes(reply.state);
    });
}

void encode_reply(RequestId id, const MembersReply& reply, Buffer& target) {
    SHOAL_ASSERT(reply.members.size() <= kMembersReplyEntriesMax);
    encode_frame(FrameKind::kResponse, Opcode::kMembers, id, target, 0, [&](Writer& writer) {
        writer.u64(reply.layout_epoch);
        writer.u32(reply.partition_count);
        writer.u32(reply.owners_per_partition);
        writer.u32(static_cast<uint32_t>(reply.members.size()));
        for (const MemberEntry& member : reply.members) {
            write_member(writer, member);
        }
    });
}

void encode_error(RequestId id, Opcode opcode, const ErrorReply& reply, Buffer& target) {
    SHOAL_ASSERT(reply.code != Code::kOk);
    const std::string_view message = reply.message.substr(
            0, std::min<size_t>(reply.message.size(), limits::kErrorMessageBytesMax));
    encode_frame(FrameKind::kError, opcode, id, target, 0, [&](Writer& writer) {
        writer.u8(static_cast<uint8_t>(reply.code));
        writer.string16(message);
    });
}

Result<Request> decode_request(const Frame& frame) {
    if (frame.header.kind == FrameKind::kRequest) return decode_request_frame(frame);
    if (frame.header.kind == FrameKind::kData && frame.header.opcode == Opcode::kPut) {
        Reader reader(frame.body);
        SHOAL_TRY_ASSIGN(PutPiece piece, read_piece(reader));
        return Request(piece);
    }
    return Status::invalid_argument(fmt::format("request: a client may not send kind {} opcode {}",
                                                static_cast<int>(frame.header.kind),
                                                static_cast<int>(frame.header.opcode)));
}

Result<PutReply> decode_put_reply(ByteView body) {
    Reader reader(body);
    PutReply reply{.info = read_info(reader)};
    SHOAL_TRY(reader.finish("put reply"));
    return reply;
}

Result<GetReply> decode_get_reply(ByteView body) {
    Reader reader(body);
    GetReply reply;
    reply.info = read_info(reader);
    reply.data = reader.rest();
    SHOAL_TRY(reader.finish("get reply"));
    if (reply.data.size() > reply.info.object_bytes) {
        return Status::invalid_argument("get reply: more data than the object's size");
    }
    return reply;
}

Result<DeleteReply> decode_delete_reply(ByteView body) {
    Reader reader(body);
    DeleteReply reply;
    reply.version.hlc = reader.u64();
    reply.version.node = NodeId{reader.u64()};
    SHOAL_TRY(reader.finish("delete reply"));
    return reply;
}

Result<StatReply> decode_stat_reply(ByteView body) {
    Reader reader(body);
    StatReply reply{.info = read_info(reader)};
    SHOAL_TRY(reader.finish("stat reply"));
    return reply;
}

Result<ListReply> decode_list_reply(ByteView body) {
    Reader reader(body);
    const uint32_t count = reader.u32();
    const uint8_t truncated = reader.u8();
    if (reader.failed()) return reader.finish("list reply");
    if (count > limits::kListEntriesMax) {
        return Status::invalid_argument(
                fmt::format("list reply: {} entries is over the limit", count));
    }
    if (truncated > 1) return Status::invalid_argument("list reply: bad truncated flag");
    // Every entry takes at least a key length and an object info, so a count the body cannot
    // hold is refused before anything is reserved for it.
    if (count > reader.remaining() / list_entry_bytes("")) {
        return Status::invalid_argument(fmt::format(
                "list reply: {} entries do not fit in {} bytes", count, reader.remaining()));
    }
    ListReply reply;
    reply.truncated = truncated == 1;
    reply.entries.reserve(count);
    for (uint32_t index = 0; index < count && !reader.failed(); index++) {
        ListEntry entry;
        entry.key = std::string(reader.string16(limits::kKeyBytesMax));
        entry.info = read_info(reader);
        reply.entries.push_back(std::move(entry));
    }
    SHOAL_TRY(reader.finish("list reply"));
    return reply;
}

Result<PingReply> decode_ping_reply(ByteView body) {
    Reader reader(body);
    SHOAL_TRY(reader.finish("ping reply"));
    return PingReply{};
}

Result<StatsReply> decode_stats_reply(ByteView body) {
    Reader reader(body);
    StatsReply reply;
    const uint8_t storage_mode = reader.u8();
    for_each_stats_counter(
            reply, [&reader](std::string_view, uint64_t& counter) { counter = reader.u64(); });
    const uint8_t writes_stopped = reader.u8();
    SHOAL_TRY(reader.finish("stats reply"));
    // The reader has checked the length: every byte of the fixed layout, and no more.
    SHOAL_ASSERT(body.size() == kStatsReplyBytes);
    if (storage_mode > static_cast<uint8_t>(StorageMode::kDisk)) {
        return Status::invalid_argument(
                fmt::format("stats reply: unknown storage mode {}", storage_mode));
    }
    if (writes_stopped > 1) {
        return Status::invalid_argument(
                fmt::format("stats reply: bad writes_stopped flag {}", writes_stopped));
    }
    reply.storage_mode = static_cast<StorageMode>(storage_mode);
    reply.writes_stopped = writes_stopped == 1;
    return reply;
}

Result<PushPullReply> decode_push_pull_reply(ByteView body) {
    SHOAL_TRY(check_push_pull_state(body, "push-pull reply"));
    return PushPullReply{.state = body};
}

Result<MembersReply> decode_members_reply(ByteView body) {
    // The smallest entry: every string empty.
    constexpr size_t kMemberEntryBytesMin = 8 + 8 + 2 + 2 + 2 + 2 + 1 + 8 + 4 + 8 + 4;
    Reader reader(body);
    MembersReply reply;
    reply.layout_epoch = reader.u64();
    reply.partition_count = reader.u32();
    reply.owners_per_partition = reader.u32();
    const uint32_t count = reader.u32();
    if (reader.failed()) return reader.finish("members reply");
    if (count > kMembersReplyEntriesMax) {
        return Status::invalid_argument(
                fmt::format("members reply: {} members is over the limit", count));
    }
    if (count > reader.remaining() / kMemberEntryBytesMin) {
        return Status::invalid_argument(fmt::format(
                "members reply: {} members do not fit in {} bytes", count, reader.remaining()));
    }
    reply.members.reserve(count);
    for (uint32_t index = 0; index < count && !reader.failed(); index++) {
        uint8_t state = 0;
        MemberEntry member = read_member(reader, state);
        if (reader.failed()) break;
        if (state > static_cast<uint8_t>(MemberStatus::kDeparted)) {
            return Status::invalid_argument(
                    fmt::format("members reply: unknown member state {}", state));
        }
        member.state = static_cast<MemberStatus>(state);
        reply.members.push_back(std::move(member));
    }
    SHOAL_TRY(reader.finish("members reply"));
    return reply;
}

Result<ErrorReply> decode_error(ByteView body) {
    Reader reader(body);
    ErrorReply reply;
    const uint8_t code = reader.u8();
    reply.message = reader.string16(limits::kErrorMessageBytesMax);
    SHOAL_TRY(reader.finish("error reply"));
    if (code == 0 || code > kCodeMax) {
        return Status::invalid_argument(fmt::format("error reply: unknown code {}", code));
    }
    reply.code = static_cast<Code>(code);
    return reply;
}

}  // namespace shoal::wire

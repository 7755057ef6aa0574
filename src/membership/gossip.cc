#include "shoal/membership/gossip.h"

#include <fmt/format.h>

#include "shoal/base/coding.h"
#include "shoal/base/hash.h"

namespace shoal::membership {
namespace {

constexpr uint8_t kPushPullJoin = 1;
constexpr uint8_t kPushPullReply = 2;
constexpr uint8_t kPushPullFlagsKnown = kPushPullJoin | kPushPullReply;

Status invalid(std::string_view why) {
    return Status::invalid_argument(fmt::format("gossip: {}", why));
}

void write_string8(Writer& writer, std::string_view text, size_t bytes_max) {
    SHOAL_ASSERT(text.size() <= bytes_max);
    SHOAL_ASSERT(bytes_max <= UINT8_MAX);
    writer.u8(static_cast<uint8_t>(text.size()));
    writer.bytes(as_bytes(text));
}

// A u8 length and that many bytes; false if the length is over `bytes_max` or under
// `bytes_min`. A short read is left for Reader::finish to report.
bool read_string8(Reader& reader, size_t bytes_min, size_t bytes_max, std::string_view& text) {
    const uint8_t size = reader.u8();
    if (reader.failed()) return true;
    if (size < bytes_min || size > bytes_max) return false;
    text = as_string_view(reader.bytes(size));
    return true;
}

void write_header(Writer& writer, const PacketHeader& header) {
    SHOAL_ASSERT(!header.sender.is_zero());
    writer.u16(kGossipMagic);
    writer.u8(kGossipVersion);
    writer.u8(static_cast<uint8_t>(header.kind));
    writer.u64(header.cluster);
    encode_member_id(header.sender, writer);
    SHOAL_ASSERT(to_u64(header.sender_incarnation) <= kIncarnationMax);
    writer.u64(to_u64(header.sender_incarnation));
    SHOAL_ASSERT(header.sender_state == MemberState::kAlive ||
                 header.sender_state == MemberState::kLeft);
    writer.u8(static_cast<uint8_t>(header.sender_state));
}

bool known_kind(uint8_t kind) {
    return kind >= static_cast<uint8_t>(PacketKind::kPing) &&
           kind <= static_cast<uint8_t>(PacketKind::kPushPull);
}

Status read_header(Reader& reader, PacketHeader& header) {
    const uint16_t magic = reader.u16();
    const uint8_t version = reader.u8();
    const uint8_t kind = reader.u8();
    header.cluster = reader.u64();
    header.sender = decode_member_id(reader);
    header.sender_incarnation = Incarnation{reader.u64()};
    const uint8_t sender_state = reader.u8();
    if (reader.failed()) return invalid("truncated header");
    if (magic != kGossipMagic) return invalid("bad magic");
    if (version != kGossipVersion) return invalid(fmt::format("unknown version {}", version));
    if (!known_kind(kind)) return invalid(fmt::format("unknown kind {}", kind));
    if (header.sender.is_zero()) return invalid("zero sender");
    if (to_u64(header.sender_incarnation) > kIncarnationMax) {
        return invalid("sender incarnation over limit");
    }
    if (sender_state != static_cast<uint8_t>(MemberState::kAlive) &&
        sender_state != static_cast<uint8_t>(MemberState::kLeft)) {
        return invalid(fmt::format("bad sender state {}", sender_state));
    }
    header.sender_state = static_cast<MemberState>(sender_state);
    header.kind = static_cast<PacketKind>(kind);
    return Status::ok();
}

void write_identity(Writer& writer, const MemberUpdate& update) {
    write_string8(writer, update.name, kMemberNameBytesMax);
    write_string8(writer, update.host, kHostBytesMax);
    writer.u16(update.port);
    write_string8(writer, update.zone, kZoneBytesMax);
    writer.u32(update.capacity_weight);
}

Status read_identity(Reader& reader, MemberUpdate& update) {
    if (!read_string8(reader, 1, kMemberNameBytesMax, update.name)) return invalid("bad name");
    if (!read_string8(reader, 1, kHostBytesMax, update.host)) return invalid("bad host");
    update.port = reader.u16();
    if (!read_string8(reader, 0, kZoneBytesMax, update.zone)) return invalid("bad zone");
    update.capacity_weight = reader.u32();
    if (!reader.failed() && update.port == 0) return invalid("port 0");
    return Status::ok();
}

// The fields every update and record open with.
Status read_update_start(Reader& reader, MemberUpdate& update) {
    const uint8_t state = reader.u8();
    update.member = decode_member_id(reader);
    update.incarnation = Incarnation{reader.u64()};
    if (reader.failed()) return invalid("truncated update");
    if (state > kMemberStateSentMax) return invalid(fmt::format("unknown state {}", state));
    if (update.member.is_zero()) return invalid("zero member");
    if (to_u64(update.incarnation) > kIncarnationMax) return invalid("incarnation over limit");
    update.state = static_cast<MemberState>(state);
    return Status::ok();
}

Status read_update(Reader& reader, MemberUpdate& update) {
    SHOAL_TRY(read_update_start(reader, update));
    if (update.state == MemberState::kAlive) return read_identity(reader, update);
    update.from = decode_member_id(reader);
    if (!reader.failed() && update.from.is_zero()) return invalid("zero from");
    return Status::ok();
}

Status read_body(Reader& reader, Packet& packet) {
    switch (packet.header.kind) {
        case PacketKind::kPing:
            packet.sequence = reader.u32();
            packet.target = decode_member_id(reader);
            if (!reader.failed() && packet.target.is_zero()) return invalid("zero target");
            return Status::ok();
        case PacketKind::kAck:
        case PacketKind::kNack:
            packet.sequence = reader.u32();
            return Status::ok();
        case PacketKind::kPingRequest:
            packet.sequence = reader.u32();
            packet.target = decode_member_id(reader);
            if (!read_string8(reader, 1, kHostBytesMax, packet.target_host)) {
                return invalid("bad target host");
            }
            packet.target_port = reader.u16();
            if (reader.failed()) return Status::ok();
            if (packet.target.is_zero()) return invalid("zero target");
            if (packet.target_port == 0) return invalid("target port 0");
            return Status::ok();
        case PacketKind::kGossip:
            return Status::ok();
        case PacketKind::kPushPull:
            return invalid("push-pull state in a datagram");
    }
    SHOAL_ASSERT(false);
    return Status::ok();
}

void write_body(Writer& writer, const Packet& packet) {
    switch (packet.header.kind) {
        case PacketKind::kPing:
            SHOAL_ASSERT(!packet.target.is_zero());
            writer.u32(packet.sequence);
            encode_member_id(packet.target, writer);
            return;
        case PacketKind::kAck:
        case PacketKind::kNack:
            writer.u32(packet.sequence);
            return;
        case PacketKind::kPingRequest:
            SHOAL_ASSERT(!packet.target.is_zero());
            SHOAL_ASSERT(packet.target_port != 0);
            SHOAL_ASSERT(!packet.target_host.empty());
            writer.u32(packet.sequence);
            encode_member_id(packet.target, writer);
            write_string8(writer, packet.target_host, kHostBytesMax);
            writer.u16(packet.target_port);
            return;
        case PacketKind::kGossip:
            return;
        case PacketKind::kPushPull:
            break;
    }
    SHOAL_ASSERT(false);
}

// Decodes the header and body into `packet`, then each update in turn, handing it to `each`.
template <typename Each>
Status walk_packet(ByteView bytes, Packet& packet, const Each& each) {
    if (bytes.size() > kDatagramBytesMax) return invalid("datagram over limit");
    Reader reader(bytes);
    SHOAL_TRY(read_header(reader, packet.header));
    SHOAL_TRY(read_body(reader, packet));
    const uint8_t count = reader.u8();
    for (uint8_t index = 0; index < count && !reader.failed(); index++) {
        MemberUpdate update;
        SHOAL_TRY(read_update(reader, update));
        each(update);
    }
    return reader.finish("gossip: packet");
}

}  // namespace

uint64_t cluster_hash(std::string_view cluster_name) {
    return hash64(as_bytes(cluster_name));
}

MemberUpdate update_of(const Member& member) {
    SHOAL_ASSERT(member.state != MemberState::kDeparted);
    return MemberUpdate{
            .state = member.state,
            .member = member.id(),
            .incarnation = member.incarnation,
            .name = member.identity.name,
            .host = member.identity.address.host,
            .port = member.identity.address.port,
            .zone = member.identity.zone,
            .capacity_weight = member.identity.capacity_weight,
    };
}

void encode_update(const MemberUpdate& update, Buffer& target) {
    SHOAL_ASSERT(static_cast<uint8_t>(update.state) <= kMemberStateSentMax);
    SHOAL_ASSERT(!update.member.is_zero());
    SHOAL_ASSERT(to_u64(update.incarnation) <= kIncarnationMax);
    Writer writer(target);
    writer.u8(static_cast<uint8_t>(update.state));
    encode_member_id(update.member, writer);
    writer.u64(to_u64(update.incarnation));
    if (update.state == MemberState::kAlive) {
        write_identity(writer, update);
    } else {
        SHOAL_ASSERT(!update.from.is_zero());
        encode_member_id(update.from, writer);
    }
}

PacketWriter::PacketWriter(const Packet& packet, size_t bytes_max, Buffer& target)
    : target_(target), bytes_max_(bytes_max) {
    SHOAL_ASSERT(packet.header.kind != PacketKind::kPushPull);
    SHOAL_ASSERT(packet.updates.empty());
    SHOAL_ASSERT(bytes_max >= kDatagramBytesMin && bytes_max <= kDatagramBytesMax);
    target_.clear();
    Writer writer(target_);
    write_header(writer, packet.header);
    write_body(writer, packet);
    count_offset_ = target_.size();
    writer.u8(0);
    SHOAL_ASSERT(target_.size() <= bytes_max_);
}

bool PacketWriter::add_update(ByteView encoded_update) {
    SHOAL_ASSERT(!finished_);
    SHOAL_ASSERT(!encoded_update.empty());
    if (update_count_ == kUpdatesPerPacketMax) return false;
    if (target_.size() + encoded_update.size() > bytes_max_) return false;
    target_.append(encoded_update);
    update_count_ += 1;
    return true;
}

void PacketWriter::finish() {
    SHOAL_ASSERT(!finished_);
    SHOAL_ASSERT(update_count_ <= kUpdatesPerPacketMax);
    target_[count_offset_] = static_cast<std::byte>(update_count_);
    finished_ = true;
    // Paired with decode_packet: what leaves here decodes, with every update.
    SHOAL_ASSERT_EXPENSIVE(count_packet_updates(target_.view()).value() == update_count_);
}

Result<Packet> decode_packet(ByteView bytes) {
    Packet packet;
    SHOAL_TRY(decode_packet(bytes, packet));
    return packet;
}

Status decode_packet(ByteView bytes, Packet& packet) {
    packet.sequence = 0;
    packet.target = MemberId{};
    packet.target_host = {};
    packet.target_port = 0;
    packet.updates.clear();
    return walk_packet(
            bytes, packet, [&](const MemberUpdate& update) { packet.updates.push_back(update); });
}

Result<size_t> count_packet_updates(ByteView bytes) {
    Packet packet;
    size_t count = 0;
    SHOAL_TRY(walk_packet(bytes, packet, [&](const MemberUpdate&) { count += 1; }));
    return count;
}

void encode_push_pull(const PushPull& state, Buffer& target) {
    SHOAL_ASSERT(state.header.kind == PacketKind::kPushPull);
    SHOAL_ASSERT(state.members.size() <= kMembersMax);
    target.clear();
    Writer writer(target);
    write_header(writer, state.header);
    writer.u8(static_cast<uint8_t>((state.join ? kPushPullJoin : 0) |
                                   (state.reply ? kPushPullReply : 0)));
    writer.u16(static_cast<uint16_t>(state.members.size()));
    for (const MemberUpdate& member : state.members) {
        SHOAL_ASSERT(static_cast<uint8_t>(member.state) <= kMemberStateSentMax);
        writer.u8(static_cast<uint8_t>(member.state));
        encode_member_id(member.member, writer);
        writer.u64(to_u64(member.incarnation));
        write_identity(writer, member);
    }
    SHOAL_ASSERT(target.size() <= kPushPullBytesMax);
}

Result<PushPull> decode_push_pull(ByteView bytes) {
    if (bytes.size() > kPushPullBytesMax) return invalid("push-pull over limit");
    Reader reader(bytes);
    PushPull state;
    SHOAL_TRY(read_header(reader, state.header));
    if (state.header.kind != PacketKind::kPushPull) return invalid("not a push-pull");
    const uint8_t flags = reader.u8();
    const uint16_t count = reader.u16();
    if (reader.failed()) return invalid("truncated push-pull");
    if ((flags & ~kPushPullFlagsKnown) != 0) return invalid("unknown push-pull flags");
    if (count > kMembersMax) return invalid("push-pull member count over limit");
    state.join = (flags & kPushPullJoin) != 0;
    state.reply = (flags & kPushPullReply) != 0;
    state.members.resize(count);
    for (MemberUpdate& member : state.members) {
        SHOAL_TRY(read_update_start(reader, member));
        SHOAL_TRY(read_identity(reader, member));
    }
    SHOAL_TRY(reader.finish("gossip: push-pull"));
    return state;
}

}  // namespace shoal::membership

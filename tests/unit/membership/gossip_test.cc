// Goal: every gossip packet and push-pull state survives a round trip field for field, the
// layout matches docs/gossip_format.md, and every malformed input is refused, never trusted.
//
// Method: encode by hand, decode, compare; then damage valid bytes at each place a decoder
// checks (and cut them at every length) and require kInvalidArgument.
#include "shoal/membership/gossip.h"

#include <catch2/catch.hpp>

#include "shoal/base/coding.h"

namespace shoal::membership {
namespace {

constexpr MemberId kSender{.high = 2, .low = 20};
constexpr MemberId kTarget{.high = 3, .low = 30};

PacketHeader header_of(PacketKind kind) {
    return PacketHeader{.kind = kind,
                        .cluster = cluster_hash("shoal"),
                        .sender = kSender,
                        .sender_incarnation = Incarnation{9}};
}

MemberUpdate alive_update() {
    return MemberUpdate{.state = MemberState::kAlive,
                        .member = kTarget,
                        .incarnation = Incarnation{4},
                        .name = "node-3",
                        .host = "10.0.0.3",
                        .port = 7946,
                        .zone = "rack-a",
                        .capacity_weight = 250};
}

MemberUpdate rumor(MemberState state) {
    return MemberUpdate{
            .state = state, .member = kTarget, .incarnation = Incarnation{5}, .from = kSender};
}

Buffer encode(const Packet& packet, const std::vector<MemberUpdate>& updates) {
    Buffer bytes;
    PacketWriter writer(packet, kDatagramBytesMax, bytes);
    for (const MemberUpdate& update : updates) {
        Buffer encoded;
        encode_update(update, encoded);
        REQUIRE(writer.add_update(encoded.view()));
    }
    writer.finish();
    return bytes;
}

void require_same(const MemberUpdate& left, const MemberUpdate& right) {
    REQUIRE(left.state == right.state);
    REQUIRE(left.member == right.member);
    REQUIRE(left.incarnation == right.incarnation);
    if (left.state == MemberState::kAlive) {
        REQUIRE(left.name == right.name);
        REQUIRE(left.host == right.host);
        REQUIRE(left.port == right.port);
        REQUIRE(left.zone == right.zone);
        REQUIRE(left.capacity_weight == right.capacity_weight);
    } else {
        REQUIRE(left.from == right.from);
    }
}

TEST_CASE("gossip: every packet kind round-trips with its updates", "[unit][gossip]") {
    const std::vector<MemberUpdate> updates{alive_update(),
                                            rumor(MemberState::kSuspect),
                                            rumor(MemberState::kDead),
                                            rumor(MemberState::kLeft)};
    for (const PacketKind kind : {PacketKind::kPing,
                                  PacketKind::kAck,
                                  PacketKind::kPingRequest,
                                  PacketKind::kNack,
                                  PacketKind::kGossip}) {
        CAPTURE(static_cast<int>(kind));
        Packet packet{.header = header_of(kind),
                      .sequence = 0xA1B2C3D4,
                      .target = kTarget,
                      .target_host = "10.0.0.3",
                      .target_port = 7946};
        packet.header.sender_state = MemberState::kLeft;
        const Buffer bytes = encode(packet, updates);
        const Packet decoded = decode_packet(bytes.view()).value();
        REQUIRE(decoded.header.kind == kind);
        REQUIRE(decoded.header.cluster == cluster_hash("shoal"));
        REQUIRE(decoded.header.sender == kSender);
        REQUIRE(decoded.header.sender_incarnation == Incarnation{9});
        REQUIRE(decoded.header.sender_state == MemberState::kLeft);
        if (kind != PacketKind::kGossip) REQUIRE(decoded.sequence == 0xA1B2C3D4);
        if (kind == PacketKind::kPing || kind == PacketKind::kPingRequest) {
            REQUIRE(decoded.target == kTarget);
        }
        if (kind == PacketKind::kPingRequest) {
            REQUIRE(decoded.target_host == "10.0.0.3");
            REQUIRE(decoded.target_port == 7946);
        }
        REQUIRE(decoded.updates.size() == updates.size());
        for (size_t index = 0; index < updates.size(); index++) {
            require_same(decoded.updates[index], updates[index]);
        }
        REQUIRE(count_packet_updates(bytes.view()).value() == updates.size());
    }
}

TEST_CASE("gossip: the header and updates have the documented layout", "[unit][gossip]") {
    const Packet ping{.header = header_of(PacketKind::kPing), .sequence = 1, .target = kTarget};
    const Buffer bytes = encode(ping, {});
    // Header 37, sequence 4, target 16, update count 1.
    REQUIRE(bytes.size() == kPacketHeaderBytes + 4 + 16 + 1);
    REQUIRE(decode_fixed16(bytes.data()) == kGossipMagic);
    REQUIRE(bytes[0] == std::byte{'G'});
    REQUIRE(bytes[1] == std::byte{'S'});
    REQUIRE(bytes[2] == std::byte{kGossipVersion});
    REQUIRE(bytes[3] == std::byte{1});
    REQUIRE(decode_fixed64(bytes.data() + 4) == cluster_hash("shoal"));
    REQUIRE(decode_fixed64(bytes.data() + 12) == kSender.low);
    REQUIRE(decode_fixed64(bytes.data() + 20) == kSender.high);
    REQUIRE(decode_fixed64(bytes.data() + 28) == 9);
    REQUIRE(bytes[36] == std::byte{0});  // Alive.

    Buffer update;
    encode_update(rumor(MemberState::kSuspect), update);
    REQUIRE(update.size() == 1 + 16 + 8 + 16);
    Buffer largest;
    const std::string name(kMemberNameBytesMax, 'n');
    const std::string host(kHostBytesMax, 'h');
    const std::string zone(kZoneBytesMax, 'z');
    MemberUpdate big = alive_update();
    big.name = name;
    big.host = host;
    big.zone = zone;
    encode_update(big, largest);
    REQUIRE(largest.size() == kUpdateBytesMax);
}

TEST_CASE("gossip: a packet takes updates only while they fit", "[unit][gossip]") {
    Buffer update;
    encode_update(alive_update(), update);
    Buffer bytes;
    PacketWriter writer(Packet{.header = header_of(PacketKind::kGossip)}, kDatagramBytesMin, bytes);
    size_t added = 0;
    while (writer.add_update(update.view())) {
        added += 1;
    }
    writer.finish();
    REQUIRE(bytes.size() <= kDatagramBytesMin);
    REQUIRE(bytes.size() + update.size() > kDatagramBytesMin);
    REQUIRE(decode_packet(bytes.view()).value().updates.size() == added);

    Buffer small;
    encode_update(rumor(MemberState::kDead), small);
    Buffer many;
    PacketWriter counted(Packet{.header = header_of(PacketKind::kGossip)}, kDatagramBytesMax, many);
    while (counted.add_update(small.view())) {
    }
    counted.finish();
    // The byte limit comes first: 198 of the smallest updates fill 8 KiB, under the count cap.
    REQUIRE(counted.update_count() == (kDatagramBytesMax - kPacketHeaderBytes - 1) / small.size());
    REQUIRE(counted.update_count() < kUpdatesPerPacketMax);
}

TEST_CASE("gossip: a push-pull state round-trips with every member", "[unit][gossip]") {
    PushPull state{.header = header_of(PacketKind::kPushPull), .join = true};
    for (const MemberState member_state :
         {MemberState::kAlive, MemberState::kSuspect, MemberState::kDead, MemberState::kLeft}) {
        MemberUpdate record = alive_update();
        record.state = member_state;
        record.member.low += static_cast<uint64_t>(member_state);
        state.members.push_back(record);
    }
    Buffer bytes;
    encode_push_pull(state, bytes);
    const PushPull decoded = decode_push_pull(bytes.view()).value();
    REQUIRE(decoded.join);
    REQUIRE(!decoded.reply);
    REQUIRE(decoded.header.sender == kSender);
    REQUIRE(decoded.members.size() == state.members.size());
    for (size_t index = 0; index < state.members.size(); index++) {
        const MemberUpdate& record = decoded.members[index];
        REQUIRE(record.state == state.members[index].state);
        REQUIRE(record.member == state.members[index].member);
        REQUIRE(record.name == "node-3");  // Every record carries the identity.
        REQUIRE(record.capacity_weight == 250);
    }
    // A push-pull is not a datagram, nor the other way round.
    REQUIRE(!decode_packet(bytes.view()).is_ok());
    const Buffer ping =
            encode(Packet{.header = header_of(PacketKind::kPing), .target = kTarget}, {});
    REQUIRE(!decode_push_pull(ping.view()).is_ok());
}

// Every way a datagram can be wrong at a place the decoder checks.
TEST_CASE("gossip: malformed datagrams are refused", "[unit][gossip]") {
    const Buffer valid = encode(Packet{.header = header_of(PacketKind::kPingRequest),
                                       .sequence = 5,
                                       .target = kTarget,
                                       .target_host = "10.0.0.3",
                                       .target_port = 7946},
                                {alive_update(), rumor(MemberState::kDead)});
    REQUIRE(decode_packet(valid.view()).is_ok());
    SECTION("cut at every length") {
        for (size_t size = 0; size < valid.size(); size++) {
            CAPTURE(size);
            REQUIRE(decode_packet(valid.view().first(size)).status().code() ==
                    Code::kInvalidArgument);
            REQUIRE(!count_packet_updates(valid.view().first(size)).is_ok());
        }
    }
    const auto damaged = [&](size_t offset, uint8_t value) {
        Buffer bytes = valid.clone();
        bytes[offset] = std::byte{value};
        return decode_packet(bytes.view());
    };
    const size_t body = kPacketHeaderBytes;
    const size_t count = body + 4 + 16 + 1 + 8 + 2;
    const size_t first_update = count + 1;
    SECTION("each checked field") {
        REQUIRE(!damaged(0, 0).is_ok());                   // Magic.
        REQUIRE(!damaged(2, 2).is_ok());                   // Version.
        REQUIRE(!damaged(3, 0).is_ok());                   // Kind 0.
        REQUIRE(!damaged(3, 6).is_ok());                   // A push-pull.
        REQUIRE(!damaged(3, 7).is_ok());                   // Kind 7.
        REQUIRE(!damaged(36, 2).is_ok());                  // Sender state dead.
        REQUIRE(!damaged(body + 4 + 16, 0).is_ok());       // Target host empty.
        REQUIRE(!damaged(body + 4 + 16, 254).is_ok());     // Target host over limit.
        REQUIRE(!damaged(count, 3).is_ok());               // More updates than present.
        REQUIRE(!damaged(count, 1).is_ok());               // Fewer: trailing bytes.
        REQUIRE(!damaged(first_update, 4).is_ok());        // State departed.
        REQUIRE(!damaged(first_update + 25, 0).is_ok());   // Name empty.
        REQUIRE(!damaged(first_update + 25, 65).is_ok());  // Name over limit.
    }
    SECTION("zero ids, zero ports, extra bytes, oversize") {
        Buffer zero_sender = valid.clone();
        std::memset(zero_sender.data() + 12, 0, 16);
        REQUIRE(!decode_packet(zero_sender.view()).is_ok());
        Buffer zero_target = valid.clone();
        std::memset(zero_target.data() + body + 4, 0, 16);
        REQUIRE(!decode_packet(zero_target.view()).is_ok());
        Buffer zero_port = valid.clone();
        encode_fixed16(zero_port.data() + count - 2, 0);
        REQUIRE(!decode_packet(zero_port.view()).is_ok());
        Buffer trailing = valid.clone();
        trailing.append(std::string_view("\0", 1));
        REQUIRE(!decode_packet(trailing.view()).is_ok());
        Buffer huge(kDatagramBytesMax + 1);
        std::memcpy(huge.data(), valid.data(), valid.size());
        REQUIRE(decode_packet(huge.view()).status().message().find("over limit") !=
                std::string::npos);
    }
}

TEST_CASE("gossip: malformed push-pull states are refused", "[unit][gossip]") {
    PushPull state{.header = header_of(PacketKind::kPushPull), .reply = true};
    state.members.push_back(alive_update());
    Buffer valid;
    encode_push_pull(state, valid);
    REQUIRE(decode_push_pull(valid.view()).is_ok());
    for (size_t size = 0; size < valid.size(); size++) {
        REQUIRE(!decode_push_pull(valid.view().first(size)).is_ok());
    }
    Buffer flags = valid.clone();
    flags[kPacketHeaderBytes] = std::byte{4};
    REQUIRE(!decode_push_pull(flags.view()).is_ok());
    Buffer count = valid.clone();
    encode_fixed16(count.data() + kPacketHeaderBytes + 1, kMembersMax + 1);
    REQUIRE(decode_push_pull(count.view()).status().message().find("over limit") !=
            std::string::npos);
    Buffer state_byte = valid.clone();
    state_byte[kPushPullHeaderBytes] = std::byte{4};
    REQUIRE(!decode_push_pull(state_byte.view()).is_ok());
    Buffer huge(kPushPullBytesMax + 1);
    std::memcpy(huge.data(), valid.data(), valid.size());
    REQUIRE(!decode_push_pull(huge.view()).is_ok());
}

}  // namespace
}  // namespace shoal::membership

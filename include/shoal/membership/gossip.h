// Gossip packets: the datagrams SWIM members exchange and the push-pull state, with codecs.
//
// Every packet opens with one header naming the cluster (the xxh3 of its name, so packets of
// another cluster on the same port are told apart and dropped), the sender, and the sender's
// incarnation and state; then a body by kind; then the piggybacked member updates. The push-pull
// state, sent whole over TCP by the shell, has the same header and lists every known member.
//
// Pure functions: no IO. Decoders take untrusted bytes: every length and count is checked
// against its bound before use, unknown kinds and states are rejected, trailing bytes are an
// error, and decoded strings borrow from the bytes. Layouts are in docs/gossip_format.md;
// tests/fuzz/gossip_fuzz.cc fuzzes both decoders.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/membership/member.h"

namespace shoal::membership {

inline constexpr uint16_t kGossipMagic = 0x5347;  // The bytes "GS".
inline constexpr uint8_t kGossipVersion = 1;
inline constexpr size_t kPacketHeaderBytes = 2 + 1 + 1 + 8 + kMemberIdBytes + 8 + 1;

// The numbers travel in every packet: never renumber them.
enum class PacketKind : uint8_t {
    kPing = 1,         // Are you alive? Answered with an ack.
    kAck = 2,          // Answers a ping (directly, or relayed by a ping request's helper).
    kPingRequest = 3,  // Please ping `target` for me (SWIM's indirect probe).
    kNack = 4,         // The target of your ping request did not answer me (Lifeguard).
    kGossip = 5,       // Updates only.
    kPushPull = 6,     // The whole state, over TCP only.
};

// Bounds. A receiver accepts any datagram up to kDatagramBytesMax, whatever its own sending
// size (Swim::Options::datagram_bytes_max), so two nodes configured apart still talk.
inline constexpr size_t kDatagramBytesMin = 576;   // The least IPv4 datagram every host takes.
inline constexpr size_t kDatagramBytesMax = 8192;  // Jumbo frames at most.
inline constexpr size_t kUpdatesPerPacketMax = 255;
inline constexpr size_t kMembersMax = 1024;
// The largest update: an alive one with every field at its bound.
inline constexpr size_t kUpdateBytesMax = 1 + kMemberIdBytes + 8 + (1 + kMemberNameBytesMax) +
                                          (1 + kHostBytesMax) + 2 + (1 + kZoneBytesMax) + 4;
inline constexpr size_t kPushPullHeaderBytes = kPacketHeaderBytes + 1 + 2;
inline constexpr size_t kPushPullBytesMax = size_t{512} * 1024;

static_assert(kPacketHeaderBytes == 37);
static_assert(kPacketHeaderBytes + 64 + kUpdateBytesMax <= kDatagramBytesMin,
              "any one update fits the smallest datagram beside a probe");
static_assert(kPushPullHeaderBytes + kMembersMax * kUpdateBytesMax <= kPushPullBytesMax,
              "the state of the most members, each at its largest, fits one push-pull");

// The cluster field of every packet: xxh3-64 of the cluster's name.
uint64_t cluster_hash(std::string_view cluster_name);

struct PacketHeader {
    PacketKind kind = PacketKind::kGossip;
    uint64_t cluster = 0;
    MemberId sender;  // Never zero.
    // First-hand news: the sender is alive at this incarnation, or has left at it.
    Incarnation sender_incarnation{0};
    MemberState sender_state = MemberState::kAlive;  // kAlive or kLeft.
};

// One rumor about one member, borrowed from a packet or from a Member. Alive updates (and
// every push-pull record) carry the member's identity; suspect, dead and left updates in a
// datagram carry `from`, who said so, which counts independent suspicions (Lifeguard).
struct MemberUpdate {
    MemberState state = MemberState::kAlive;  // Never kDeparted.
    MemberId member;
    Incarnation incarnation{0};
    MemberId from;
    std::string_view name;
    std::string_view host;
    uint16_t port = 0;
    std::string_view zone;
    uint32_t capacity_weight = 0;
};

// The update that states `member` as this node knows it (identity included).
MemberUpdate update_of(const Member& member);

// A datagram. Which body fields mean something depends on the kind: ping has sequence and
// target; ack and nack a sequence; ping request all three and the target's address; gossip
// none.
struct Packet {
    PacketHeader header;
    uint32_t sequence = 0;
    MemberId target;
    std::string_view target_host;
    uint16_t target_port = 0;
    std::vector<MemberUpdate> updates;
};

// Appends one datagram update's bytes to `target`: exactly what PacketWriter::add_update takes.
// REQUIRES: the update's fields are within their bounds.
void encode_update(const MemberUpdate& update, Buffer& target);

// Builds one datagram in `target` (cleared first): the header and body, then updates while
// they fit in `bytes_max`, then finish().
class PacketWriter {
public:
    // REQUIRES: packet.header.kind is not kPushPull; packet.updates is empty (add them one by
    // one); bytes_max is in [kDatagramBytesMin, kDatagramBytesMax].
    PacketWriter(const Packet& packet, size_t bytes_max, Buffer& target);

    // Appends one encoded update (from encode_update) if it fits; false, changing nothing, if
    // it does not or the packet already holds kUpdatesPerPacketMax.
    bool add_update(ByteView encoded_update);
    size_t update_count() const { return update_count_; }
    // Writes the update count. REQUIRES: called once, last.
    void finish();

private:
    Buffer& target_;
    size_t bytes_max_;
    size_t count_offset_ = 0;
    size_t update_count_ = 0;
    bool finished_ = false;
};

// kInvalidArgument ("gossip: ...") for anything but one well-formed datagram of at most
// kDatagramBytesMax bytes. The cluster is not checked here: that is the receiver's to count.
Result<Packet> decode_packet(ByteView bytes);
// The same into `packet`, whose update list is reused; on failure `packet` is unspecified.
Status decode_packet(ByteView bytes, Packet& packet);
// The number of updates in a datagram that decode_packet would accept, without keeping them.
Result<size_t> count_packet_updates(ByteView bytes);

// The push-pull state: every member the sender knows (itself included), departed ones left out.
struct PushPull {
    PacketHeader header;  // kind kPushPull.
    bool join = false;    // The sender is joining: the receiver should gossip about it.
    bool reply = false;   // An answer to a push-pull; not to be answered.
    std::vector<MemberUpdate> members;
};

// Writes the whole state to `target` (cleared first). REQUIRES: at most kMembersMax members,
// none departed; the result is then within kPushPullBytesMax.
void encode_push_pull(const PushPull& state, Buffer& target);

// kInvalidArgument ("gossip: ...") for anything but one well-formed push-pull state.
Result<PushPull> decode_push_pull(ByteView bytes);

}  // namespace shoal::membership

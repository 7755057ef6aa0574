// Members: what SWIM knows about one node of the cluster, and the node's 128-bit identity.
//
// A MemberId is drawn at random once, when a node's data directory is created, and persisted
// there by the node, so it survives restarts and address changes. The zero id means "none" and
// is never a member's. An Incarnation is SWIM's per-member counter: only the member itself
// raises its own, to refute a rumor of its failure (DESIGN.md "Membership").
//
// Pure values and codecs: no IO. Byte layouts are in docs/gossip_format.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shoal/base/address.h"
#include "shoal/base/coding.h"
#include "shoal/base/ids.h"
#include "shoal/base/prng.h"
#include "shoal/base/status.h"
#include "shoal/base/time.h"

namespace shoal::membership {

struct MemberId {
    uint64_t high = 0;
    uint64_t low = 0;

    bool is_zero() const { return high == 0 && low == 0; }
    bool operator==(const MemberId&) const = default;
    // Written out rather than defaulted <=>, which trips clang 14 (see base/time.h).
    bool operator<(const MemberId& other) const {
        return high != other.high ? high < other.high : low < other.low;
    }
};

inline constexpr size_t kMemberIdBytes = 16;
inline constexpr size_t kMemberIdTextBytes = 32;

// A fresh random id, never zero.
MemberId random_member_id(Prng& prng);
// 32 lowercase hex digits, the high word first: "00000000000000010000000000000002".
std::string to_string(MemberId id);
// The inverse of to_string (upper-case digits accepted). kInvalidArgument, quoting the text,
// for any other length or character, and for the zero id.
Result<MemberId> parse_member_id(std::string_view text);

// 16 bytes: `low` then `high`, each a little-endian u64.
void encode_member_id(MemberId id, Writer& writer);
MemberId decode_member_id(Reader& reader);

enum class Incarnation : uint64_t {};

// Decoders refuse larger incarnations, so raising one never overflows. A node would need a
// refutation every millisecond for 146 million years to get here; only a hostile or broken
// peer sends one.
inline constexpr uint64_t kIncarnationMax = uint64_t{1} << 62;

// The numbers of the first four travel in gossip packets: never renumber them. kDeparted is
// never sent: each node decides for itself when a dead or left member has been gone long enough.
enum class MemberState : uint8_t {
    kAlive = 0,
    kSuspect = 1,   // Missed a probe; declared dead unless it refutes in time.
    kDead = 2,      // Failed: its suspicion ran out without a refutation.
    kLeft = 3,      // Left gracefully; seen at once, with no suspicion.
    kDeparted = 4,  // Dead or left for longer than the departure grace period.
};

inline constexpr uint8_t kMemberStateSentMax = 3;  // kLeft.

// "alive", "suspect", "dead", "left", "departed".
std::string_view state_name(MemberState state);

// Whether the member takes part: alive or suspect (a suspect may yet refute).
inline bool is_live(MemberState state) {
    return state == MemberState::kAlive || state == MemberState::kSuspect;
}

// Bounds of a member's descriptive fields; each travels behind a u8 length.
inline constexpr size_t kMemberNameBytesMax = 64;
inline constexpr size_t kZoneBytesMax = 64;
inline constexpr size_t kHostBytesMax = 253;  // The longest DNS name.

// What the node says about itself: sent in its alive updates, fixed for a run.
struct Identity {
    MemberId id;
    std::string name;  // 1..kMemberNameBytesMax bytes, for people; ids identify.
    HostPort address;  // Where others send its gossip (the advertise address).
    std::string zone;  // 0..kZoneBytesMax bytes; empty when zones are not used.
    uint32_t capacity_weight = 1;

    // kInvalidArgument naming the field that is out of bounds.
    Status validate() const;
};

struct Member {
    Identity identity;
    MemberState state = MemberState::kAlive;
    Incarnation incarnation{0};
    Instant last_heard;   // When a packet from the member itself last arrived (now, for self).
    Instant state_since;  // When this node last saw its state change.

    MemberId id() const { return identity.id; }
};

}  // namespace shoal::membership

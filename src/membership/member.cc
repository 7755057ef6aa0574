#include "shoal/membership/member.h"

#include <fmt/format.h>

namespace shoal::membership {
namespace {

// The value of one hex digit, or -1.
int hex_value(char digit) {
    if (digit >= '0' && digit <= '9') return digit - '0';
    if (digit >= 'a' && digit <= 'f') return digit - 'a' + 10;
    if (digit >= 'A' && digit <= 'F') return digit - 'A' + 10;
    return -1;
}

}  // namespace

MemberId random_member_id(Prng& prng) {
    MemberId id;
    while (id.is_zero()) {
        id.high = prng.next_u64();
        id.low = prng.next_u64();
    }
    return id;
}

std::string to_string(MemberId id) {
    return fmt::format("{:016x}{:016x}", id.high, id.low);
}

Result<MemberId> parse_member_id(std::string_view text) {
    const auto invalid = [&](std::string_view why) {
        return Status::invalid_argument(fmt::format("member id \"{}\": {}", text, why));
    };
    if (text.size() != kMemberIdTextBytes) return invalid("not 32 hex digits");
    MemberId id;
    for (size_t index = 0; index < text.size(); index++) {
        const int value = hex_value(text[index]);
        if (value < 0) return invalid("not a hex digit");
        uint64_t& word = index < 16 ? id.high : id.low;
        word = (word << 4) | static_cast<uint64_t>(value);
    }
    if (id.is_zero()) return invalid("the zero id is no member's");
    SHOAL_ASSERT(to_string(id).size() == kMemberIdTextBytes);
    return id;
}

void encode_member_id(MemberId id, Writer& writer) {
    writer.u64(id.low);
    writer.u64(id.high);
}

MemberId decode_member_id(Reader& reader) {
    MemberId id;
    id.low = reader.u64();
    id.high = reader.u64();
    return id;
}

std::string_view state_name(MemberState state) {
    switch (state) {
        case MemberState::kAlive:
            return "alive";
        case MemberState::kSuspect:
            return "suspect";
        case MemberState::kDead:
            return "dead";
        case MemberState::kLeft:
            return "left";
        case MemberState::kDeparted:
            return "departed";
    }
    SHOAL_ASSERT(false);
    return "";
}

Status Identity::validate() const {
    const auto invalid = [](std::string_view why) {
        return Status::invalid_argument(fmt::format("membership: {}", why));
    };
    if (id.is_zero()) return invalid("the member id is zero");
    if (name.empty() || name.size() > kMemberNameBytesMax) {
        return invalid(fmt::format("the name must be 1..{} bytes", kMemberNameBytesMax));
    }
    if (zone.size() > kZoneBytesMax) {
        return invalid(fmt::format("the zone must be at most {} bytes", kZoneBytesMax));
    }
    if (address.host.empty() || address.host.size() > kHostBytesMax) {
        return invalid(fmt::format("the advertise host must be 1..{} bytes", kHostBytesMax));
    }
    if (address.port == 0) return invalid("the advertise port must not be 0");
    return Status::ok();
}

}  // namespace shoal::membership

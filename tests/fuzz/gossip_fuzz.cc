// Fuzz target: the gossip packet and push-pull decoders, and the Swim core fed what they accept.
//
// Goal: no input makes a decoder crash, leak, read out of bounds, hit undefined behaviour or
// allocate for a count it has not checked; whatever decodes is the canonical encoding of what
// it decoded to; and no datagram or push-pull, however hostile, breaks the core's invariants.
//
// Method: the first byte picks a mode, the rest is the input.
//   0: a datagram. If decode_packet accepts it, re-encoding the decoded packet with
//      PacketWriter and encode_update must give back the same bytes, and count_packet_updates
//      must agree.
//   1: a push-pull state; likewise re-encoded with encode_push_pull.
//   2: the core. A Swim that knows three members takes the input as a datagram and then as a
//      push-pull, with the cluster field overwritten by its own so that the fuzzer reaches past
//      the cluster check, and ticks through a few protocol periods. Every datagram it sends
//      must decode and fit its size limit, and its member list must stay sorted and whole.
// Built with -fsanitize=fuzzer under the fuzz preset, and replayed over the committed corpus by
// replay_main.cc under any compiler.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "shoal/base/assert.h"
#include "shoal/base/bytes.h"
#include "shoal/base/coding.h"
#include "shoal/membership/gossip.h"
#include "shoal/membership/swim.h"

// libFuzzer's entry point; declared for -Wmissing-declarations.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using shoal::Buffer;
using shoal::ByteView;
using shoal::Instant;
using namespace shoal::membership;  // NOLINT(google-build-using-namespace): a fuzz harness.

void check_packet(ByteView input) {
    shoal::Result<Packet> decoded = decode_packet(input);
    const shoal::Result<size_t> counted = count_packet_updates(input);
    SHOAL_ASSERT(decoded.is_ok() == counted.is_ok());
    if (!decoded.is_ok()) return;
    const Packet& packet = decoded.value();
    SHOAL_ASSERT(counted.value() == packet.updates.size());
    Packet body = packet;
    body.updates.clear();
    Buffer encoded;
    PacketWriter writer(body, kDatagramBytesMax, encoded);
    for (const MemberUpdate& update : packet.updates) {
        Buffer update_bytes;
        encode_update(update, update_bytes);
        const bool added = writer.add_update(update_bytes.view());
        SHOAL_ASSERT(added);
    }
    writer.finish();
    SHOAL_ASSERT(shoal::equal_bytes(encoded.view(), input));
}

void check_push_pull(ByteView input) {
    shoal::Result<PushPull> decoded = decode_push_pull(input);
    if (!decoded.is_ok()) return;
    Buffer encoded;
    encode_push_pull(decoded.value(), encoded);
    SHOAL_ASSERT(shoal::equal_bytes(encoded.view(), input));
}

Identity identity_of(uint64_t number) {
    return Identity{
            .id = MemberId{.high = number, .low = number},
            .name = "n" + std::to_string(number),
            .address = shoal::HostPort{.host = "10.0.0." + std::to_string(number), .port = 7946},
    };
}

void check_swim(const Swim& swim) {
    const auto members = swim.members();
    for (size_t index = 1; index < members.size(); index++) {
        SHOAL_ASSERT(members[index - 1].id() < members[index].id());
    }
    SHOAL_ASSERT(swim.find(swim.self().id()) != nullptr);
    SHOAL_ASSERT(members.size() <= swim.options().members_max);
}

void drain(Swim& swim) {
    for (const OutgoingDatagram& datagram : swim.outbox().datagrams) {
        SHOAL_ASSERT(datagram.bytes.size() <= swim.options().datagram_bytes_max);
        SHOAL_ASSERT(decode_packet(datagram.bytes.view()).is_ok());
    }
    swim.outbox().clear();
}

void feed_swim(ByteView input) {
    const Swim::Options options{.members_max = 8};
    Instant now;
    Swim swim(options, identity_of(1), /*seed=*/1, now);
    // Three known members, learned the ordinary way.
    PushPull state{.header = {.kind = PacketKind::kPushPull,
                              .cluster = cluster_hash(options.cluster_name),
                              .sender = identity_of(2).id}};
    Member members[3];
    for (uint64_t number = 2; number <= 4; number++) {
        members[number - 2] = Member{.identity = identity_of(number)};
        state.members.push_back(update_of(members[number - 2]));
    }
    Buffer bytes;
    encode_push_pull(state, bytes);
    SHOAL_ASSERT(swim.on_push_pull(now, bytes.view()).is_ok());
    drain(swim);

    Buffer patched(input);
    if (patched.size() >= 12) {
        shoal::encode_fixed64(patched.data() + 4, cluster_hash(options.cluster_name));
    }
    swim.on_datagram(now, identity_of(3).address, patched.view());
    drain(swim);
    (void)swim.on_push_pull(now, patched.view());
    drain(swim);
    for (int step = 0; step < 40; step++) {
        now = now + std::chrono::milliseconds(100);
        swim.tick(now);
        drain(swim);
        check_swim(swim);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const ByteView input(reinterpret_cast<const std::byte*>(data + 1), size - 1);
    switch (data[0] % 3) {
        case 0:
            check_packet(input);
            break;
        case 1:
            check_push_pull(input);
            break;
        default:
            feed_swim(input);
            break;
    }
    return 0;
}

// Goal: the broadcast queue keeps one update per member, sends the least sent first, puts a
// suspect's own rumor first in a packet to it, and stops each update after its transmit limit;
// Lifeguard's suspicion timer starts at its longest and falls to its shortest with k
// independent confirmations, following the documented formula.
//
// Method: fill packets by hand and decode what went in; evaluate timers at known points.
#include <catch2/catch.hpp>

#include "shoal/membership/broadcast_queue.h"
#include "shoal/membership/suspicion.h"

namespace shoal::membership {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

MemberId id_of(uint64_t number) {
    return MemberId{.high = number, .low = number};
}

MemberUpdate suspect_of(uint64_t number, uint64_t incarnation = 1) {
    return MemberUpdate{.state = MemberState::kSuspect,
                        .member = id_of(number),
                        .incarnation = Incarnation{incarnation},
                        .from = id_of(99)};
}

// The members whose updates one packet carried, in order.
std::vector<MemberId> fill_one(BroadcastQueue& queue, MemberId priority, uint32_t transmits_max) {
    Buffer bytes;
    PacketWriter writer(Packet{.header = {.kind = PacketKind::kGossip, .sender = id_of(99)}},
                        kDatagramBytesMax,
                        bytes);
    queue.fill(writer, priority, transmits_max);
    writer.finish();
    Packet packet;
    REQUIRE(decode_packet(bytes.view(), packet).is_ok());
    std::vector<MemberId> members;
    for (const MemberUpdate& update : packet.updates) {
        members.push_back(update.member);
    }
    return members;
}

TEST_CASE("broadcast queue: a newer update about a member replaces the older",
          "[unit][broadcast_queue]") {
    BroadcastQueue queue(4);
    queue.push(suspect_of(1, 1));
    queue.push(suspect_of(1, 2));
    REQUIRE(queue.size() == 1);
    Buffer bytes;
    PacketWriter writer(Packet{.header = {.sender = id_of(99)}}, kDatagramBytesMax, bytes);
    REQUIRE(queue.fill(writer, MemberId{}, 8) == 1);
    writer.finish();
    Packet packet;
    REQUIRE(decode_packet(bytes.view(), packet).is_ok());
    REQUIRE(packet.updates[0].incarnation == Incarnation{2});
    REQUIRE(queue.transmits(id_of(1)) == 1);
    queue.push(suspect_of(1, 3));  // New news starts its count again.
    REQUIRE(queue.transmits(id_of(1)) == 0);
    queue.erase(id_of(1));
    REQUIRE(queue.empty());
}

TEST_CASE("broadcast queue: each update goes out exactly its transmit limit",
          "[unit][broadcast_queue]") {
    BroadcastQueue queue(4);
    queue.push(suspect_of(1));
    queue.push(suspect_of(2));
    for (int packet = 0; packet < 5; packet++) {
        REQUIRE(fill_one(queue, MemberId{}, 5).size() == 2);
    }
    REQUIRE(queue.empty());
    REQUIRE(fill_one(queue, MemberId{}, 5).empty());
}

TEST_CASE("broadcast queue: the least sent go first, newest first among equals",
          "[unit][broadcast_queue]") {
    BroadcastQueue queue(8);
    queue.push(suspect_of(1));
    (void)fill_one(queue, MemberId{}, 10);  // 1 sent once.
    queue.push(suspect_of(2));
    queue.push(suspect_of(3));
    REQUIRE(fill_one(queue, MemberId{}, 10) == std::vector<MemberId>{id_of(3), id_of(2), id_of(1)});
}

TEST_CASE("broadcast queue: a packet to a suspect carries its own rumor first",
          "[unit][broadcast_queue]") {
    BroadcastQueue queue(8);
    queue.push(suspect_of(1));
    (void)fill_one(queue, MemberId{}, 10);
    queue.push(suspect_of(2));
    REQUIRE(fill_one(queue, id_of(1), 10).front() == id_of(1));
    // An alive update gets no priority: telling a member it is alive tells it nothing.
    queue.push(MemberUpdate{
            .state = MemberState::kAlive, .member = id_of(5), .name = "n", .host = "h", .port = 1});
    (void)fill_one(queue, MemberId{}, 10);
    queue.push(suspect_of(6));
    REQUIRE(fill_one(queue, id_of(5), 10).front() == id_of(6));
}

TEST_CASE("suspicion: the timeout falls from max to min with k confirmations",
          "[unit][suspicion]") {
    const Suspicion::Timeouts timeouts{
            .min = seconds(2), .max = seconds(8), .confirmations_needed = 2};
    const Instant start(seconds(100));
    Suspicion suspicion(id_of(1), start, timeouts);
    REQUIRE(suspicion.deadline() == start + seconds(8));
    REQUIRE(!suspicion.confirm(id_of(1)));  // The first suspecter does not confirm itself.
    REQUIRE(suspicion.confirm(id_of(2)));
    // 8 - 6 * log(2) / log(3) = 4.2144 s, in whole milliseconds.
    REQUIRE(suspicion.timeout() == milliseconds(4214));
    REQUIRE(!suspicion.confirm(id_of(2)));  // Not independent.
    REQUIRE(suspicion.confirm(id_of(3)));
    REQUIRE(suspicion.deadline() == start + seconds(2));
    REQUIRE(!suspicion.confirm(id_of(4)));  // Already at min.
    REQUIRE(suspicion.confirmations() == 2);
    suspicion.postpone(seconds(1));
    REQUIRE(suspicion.start() == start + seconds(1));
    REQUIRE(suspicion.deadline() == start + seconds(3));
}

TEST_CASE("suspicion: with no confirmations needed the timeout is min", "[unit][suspicion]") {
    const Suspicion::Timeouts timeouts{.min = seconds(2), .max = seconds(8)};
    REQUIRE(Suspicion::timeout_for(timeouts, 0) == seconds(2));
    const Suspicion::Timeouts three{
            .min = seconds(1), .max = seconds(7), .confirmations_needed = 3};
    Duration previous = Suspicion::timeout_for(three, 0);
    REQUIRE(previous == seconds(7));
    for (uint32_t confirmations = 1; confirmations <= 3; confirmations++) {
        const Duration timeout = Suspicion::timeout_for(three, confirmations);
        REQUIRE(timeout < previous);
        previous = timeout;
    }
    REQUIRE(previous == seconds(1));
}

}  // namespace
}  // namespace shoal::membership

// BroadcastQueue: the member updates this node still has to gossip, each with its transmit count.
//
// SWIM disseminates updates by piggybacking them on the packets it sends anyway (SWIM section
// 4.1, "infection-style"); each update is sent a bounded number of times, retransmit_mult *
// ceil(log10(N + 1)), which reaches every member with high probability. At most one update per
// member is pending: a newer one replaces the older, so the queue is bounded by the member
// count however fast rumors arrive. Updates least sent go first, newest first among equals
// (memberlist's TransmitLimitedQueue), so fresh news is never starved by old.
//
// Pure: no IO. Updates are encoded once, when queued, and copied into each packet.
#pragma once

#include <cstdint>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/membership/gossip.h"

namespace shoal::membership {

class BroadcastQueue {
public:
    explicit BroadcastQueue(size_t entries_max) : entries_max_(entries_max) {}

    // Queues `update` with no transmits yet, replacing any pending update about its member.
    // REQUIRES: fewer than entries_max members have updates pending, or this one has.
    void push(const MemberUpdate& update);

    // Adds pending updates to `writer` while they fit: first any non-alive update about
    // `priority` (Lifeguard's buddy system: a suspect learns of it from its prober), then the
    // least sent. Every update added counts one transmit; one sent `transmits_max` times is
    // dropped. Returns the number added. REQUIRES: transmits_max > 0.
    size_t fill(PacketWriter& writer, MemberId priority, uint32_t transmits_max);

    // Drops any pending update about `member` (it is being forgotten).
    void erase(MemberId member);

    // Whether an update about `member` is pending, and its state if so.
    bool contains(MemberId member) const { return find(member) != nullptr; }
    bool empty() const { return entries_.empty(); }
    size_t size() const { return entries_.size(); }
    // Times the pending update about `member` was sent; 0 if none is pending.
    uint32_t transmits(MemberId member) const;
    MemberState state(MemberId member) const;

private:
    struct Entry {
        MemberId member;
        MemberState state = MemberState::kAlive;
        uint32_t transmits = 0;
        uint64_t order = 0;  // Larger is newer.
        Buffer bytes;        // encode_update's output.
    };

    const Entry* find(MemberId member) const;

    size_t entries_max_;
    uint64_t order_next_ = 1;
    std::vector<Entry> entries_;
    std::vector<size_t> scratch_;  // Indices in send order; kept to spare an allocation.
};

}  // namespace shoal::membership

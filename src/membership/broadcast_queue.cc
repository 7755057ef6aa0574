#include "shoal/membership/broadcast_queue.h"

#include <algorithm>

namespace shoal::membership {

const BroadcastQueue::Entry* BroadcastQueue::find(MemberId member) const {
    for (const Entry& entry : entries_) {
        if (entry.member == member) return &entry;
    }
    return nullptr;
}

uint32_t BroadcastQueue::transmits(MemberId member) const {
    const Entry* entry = find(member);
    return entry == nullptr ? 0 : entry->transmits;
}

MemberState BroadcastQueue::state(MemberId member) const {
    const Entry* entry = find(member);
    SHOAL_ASSERT(entry != nullptr);
    return entry->state;
}

void BroadcastQueue::erase(MemberId member) {
    std::erase_if(entries_, [&](const Entry& entry) { return entry.member == member; });
}

void BroadcastQueue::push(const MemberUpdate& update) {
    Entry* target = nullptr;
    for (Entry& entry : entries_) {
        if (entry.member == update.member) target = &entry;
    }
    if (target == nullptr) {
        SHOAL_ASSERT(entries_.size() < entries_max_);
        target = &entries_.emplace_back();
        target->member = update.member;
    }
    target->state = update.state;
    target->transmits = 0;
    target->order = order_next_;
    order_next_ += 1;
    target->bytes.clear();
    target->bytes.reserve(kUpdateBytesMax);
    encode_update(update, target->bytes);
    SHOAL_ASSERT(target->bytes.size() <= kUpdateBytesMax);
}

size_t BroadcastQueue::fill(PacketWriter& writer, MemberId priority, uint32_t transmits_max) {
    SHOAL_ASSERT(transmits_max > 0);
    scratch_.clear();
    for (size_t index = 0; index < entries_.size(); index++) {
        scratch_.push_back(index);
    }
    std::sort(scratch_.begin(), scratch_.end(), [&](size_t left, size_t right) {
        const Entry& a = entries_[left];
        const Entry& b = entries_[right];
        const bool a_first = a.member == priority && a.state != MemberState::kAlive;
        const bool b_first = b.member == priority && b.state != MemberState::kAlive;
        if (a_first != b_first) return a_first;
        if (a.transmits != b.transmits) return a.transmits < b.transmits;
        return a.order > b.order;
    });
    size_t added = 0;
    for (const size_t index : scratch_) {
        Entry& entry = entries_[index];
        if (!writer.add_update(entry.bytes.view())) continue;  // A smaller one may still fit.
        entry.transmits += 1;
        added += 1;
    }
    std::erase_if(entries_, [&](const Entry& entry) { return entry.transmits >= transmits_max; });
    SHOAL_ASSERT(added <= writer.update_count());
    return added;
}

}  // namespace shoal::membership

// The matching of partitions to nodes: deferred acceptance (Gale and Shapley 1962) with the
// partitions proposing, over preferences that both sides derive from one key per pair.
//
// Why not rendezvous hashing (HRW) alone: it moves the minimum on a membership change, but a
// node's load is a sum of per-partition draws, and with 1024 partitions, R = 6 and 64 nodes the
// busiest holds about 1.25x the mean (1.15x over ranks; placement/score.h). Capping each node at
// 1.1x its share, with a full node keeping the partitions it ranks best, leaves HRW's choice
// alone wherever no cap binds, so a join or a leave moves little beyond the joiner's or the
// leaver's slots: only the few capped nodes trade a partition or two. Both sides order pairs by
// the same key and a partition's allowed sets form a matroid (the zone rule), so the result is
// the unique stable matching, whatever order the partitions are processed in.
#include <algorithm>
#include <deque>
#include <optional>

#include "placement/layout.h"
#include "placement/score.h"

namespace shoal::placement {
namespace {

enum class Standing : uint8_t { kOpen, kHeld, kRefused };

// One node in a partition's list of choices, best first.
struct Choice {
    uint64_t key = 0;        // Smaller is better: rank term plus share term (placement/score.h).
    uint64_t order_key = 0;  // The pair's order key, which breaks ties between equal keys.
    uint32_t node = 0;
    uint32_t rank = 0;  // The node's rank for this partition.
    Standing standing = Standing::kOpen;
};

bool ranks_before(const Choice& left, const Choice& right) {
    if (left.key != right.key) return left.key < right.key;
    if (left.order_key != right.order_key) return left.order_key < right.order_key;
    return left.node < right.node;
}

// The order owners are listed in: by rank, which does not depend on the rest of the view.
bool lists_before(const Choice& left, const Choice& right) {
    if (left.rank != right.rank) return left.rank < right.rank;
    if (left.order_key != right.order_key) return left.order_key < right.order_key;
    return left.node < right.node;
}

// An owner slot as its node sees it. In a node's max-heap the top is the worst slot it holds:
// the partition it ranks last (a node's ranks are all different).
struct Slot {
    uint32_t rank = 0;
    uint32_t partition = 0;
    uint32_t position = 0;  // In the partition's choices.
};

bool slot_less(const Slot& left, const Slot& right) {
    return left.rank < right.rank;
}

class Matcher {
public:
    Matcher(const Layout& layout, const Shares& shares)
        : layout_(layout),
          shares_(shares),
          node_count_(static_cast<uint32_t>(layout.ids.size())),
          choices_(layout.partition_count),
          held_(layout.partition_count, 0),
          slots_(layout.ids.size()),
          zone_held_(layout.zone_count, 0),
          rank_terms_(rank_terms(layout.partition_count)) {
        score_pairs();
    }

    Assignment run();

private:
    size_t pair(uint32_t partition, uint32_t node) const {
        return size_t{partition} * node_count_ + node;
    }
    void score_pairs();
    void rank(uint32_t partition, uint32_t choices_count);
    void fill(uint32_t partition);
    std::optional<uint32_t> next_choice(uint32_t partition, bool caps_apply);
    void propose(uint32_t partition, uint32_t position);
    void hold(uint32_t partition, uint32_t position);
    void overfill(uint32_t partition);
    Assignment collect() const;

    const Layout& layout_;
    const Shares& shares_;
    const uint32_t node_count_;
    std::vector<std::vector<Choice>> choices_;  // Per partition: a prefix of its ranking.
    std::vector<uint32_t> held_;                // Per partition: owners it holds.
    std::vector<std::vector<Slot>> slots_;      // Per node: a max-heap of the slots it holds.
    std::vector<uint32_t> zone_held_;           // Scratch for next_choice, all zeros between.
    std::vector<Choice> ranking_;               // Scratch for rank.
    const std::vector<uint64_t> rank_terms_;    // Per rank.
    std::vector<uint32_t> rank_of_;             // Per pair: the node's rank for the partition.
    std::vector<uint64_t> order_key_of_;        // Per pair: the order key behind that rank.
    std::vector<uint64_t> share_terms_;         // Per node.
    std::deque<uint32_t> pending_;
    uint32_t overflow_slots_ = 0;
};

// Most partitions settle within their first few choices, so only a prefix of the ranking is
// kept; a partition that runs past it is ranked again in full.
uint32_t prefix_choices(uint32_t owners_per_partition, uint32_t node_count) {
    return std::min(node_count, 2 * owners_per_partition + 4);
}

Assignment Matcher::run() {
    const uint32_t prefix = prefix_choices(layout_.owners_per_partition, node_count_);
    for (uint32_t partition = 0; partition < layout_.partition_count; partition++) {
        rank(partition, prefix);
        pending_.push_back(partition);
    }
    while (!pending_.empty()) {
        const uint32_t partition = pending_.front();
        pending_.pop_front();
        fill(partition);
    }
    // Every refusal came from a node whose worst slot only gets better from then on, so a
    // partition still short now stays short under the caps.
    for (uint32_t partition = 0; partition < layout_.partition_count; partition++) {
        if (held_[partition] < layout_.owners_per_partition) overfill(partition);
    }
    return collect();
}

// Every node ranks the partitions; the ranks are stored partition-major, so that ranking one
// partition's nodes reads one contiguous row.
void Matcher::score_pairs() {
    const size_t pairs = size_t{layout_.partition_count} * node_count_;
    rank_of_.resize(pairs);
    order_key_of_.resize(pairs);
    for (uint32_t node = 0; node < node_count_; node++) {
        const PartitionRanks ranks = rank_partitions(layout_.ids[node], layout_.partition_count);
        for (uint32_t partition = 0; partition < layout_.partition_count; partition++) {
            const uint32_t rank = ranks.rank_of[partition];
            rank_of_[pair(partition, node)] = rank;
            order_key_of_[pair(partition, node)] = ranks.order_key_at[rank];
        }
        const Fraction share = shares_.slot_shares[node];
        share_terms_.push_back(
                share_term(share.numerator, share.denominator, layout_.partition_count));
    }
}

// Keeps the best `choices_count` of all nodes for `partition`, carrying over the standing of
// those already ranked: a longer prefix of the same order.
void Matcher::rank(uint32_t partition, uint32_t choices_count) {
    SHOAL_ASSERT(choices_count <= node_count_);
    std::vector<Choice>& choices = choices_[partition];
    SHOAL_ASSERT(choices.size() < choices_count);
    ranking_.resize(node_count_);
    for (uint32_t node = 0; node < node_count_; node++) {
        const uint32_t rank = rank_of_[pair(partition, node)];
        ranking_[node] = Choice{.key = rank_terms_[rank] + share_terms_[node],
                                .order_key = order_key_of_[pair(partition, node)],
                                .node = node,
                                .rank = rank};
    }
    const auto end = ranking_.begin() + choices_count;
    std::partial_sort(ranking_.begin(), end, ranking_.end(), ranks_before);
    for (size_t position = 0; position < choices.size(); position++) {
        SHOAL_ASSERT(ranking_[position].node == choices[position].node);
        ranking_[position].standing = choices[position].standing;
    }
    choices.assign(ranking_.begin(), end);
}

void Matcher::fill(uint32_t partition) {
    while (held_[partition] < layout_.owners_per_partition) {
        const std::optional<uint32_t> position = next_choice(partition, /*caps_apply=*/true);
        if (position.has_value()) {
            propose(partition, *position);
        } else if (choices_[partition].size() < node_count_) {
            rank(partition, node_count_);
        } else {
            return;  // Out of choices under the caps: overfill() finishes it.
        }
    }
}

// The best choice the partition may still ask: not held, not refused (unless caps no longer
// apply), and in a zone the zone rule lets grow: below c - 1 owners, or at c - 1 while fewer
// than k zones hold c.
std::optional<uint32_t> Matcher::next_choice(uint32_t partition, bool caps_apply) {
    const std::vector<Choice>& choices = choices_[partition];
    uint32_t full_zones = 0;
    for (const Choice& choice : choices) {
        if (choice.standing != Standing::kHeld) continue;
        uint32_t& held = zone_held_[layout_.zone_of[choice.node]];
        held += 1;
        if (held == shares_.zone_owners_max) full_zones += 1;
    }
    std::optional<uint32_t> found;
    for (uint32_t position = 0; position < choices.size(); position++) {
        const Choice& choice = choices[position];
        if (choice.standing == Standing::kHeld) continue;
        if (caps_apply && choice.standing == Standing::kRefused) continue;
        const uint32_t held = zone_held_[layout_.zone_of[choice.node]];
        if (held >= shares_.zone_owners_max) continue;
        if (held + 1 == shares_.zone_owners_max && full_zones >= shares_.full_zones_max) continue;
        found = position;
        break;
    }
    for (const Choice& choice : choices) {
        if (choice.standing == Standing::kHeld) zone_held_[layout_.zone_of[choice.node]] = 0;
    }
    return found;
}

void Matcher::propose(uint32_t partition, uint32_t position) {
    Choice& choice = choices_[partition][position];
    SHOAL_ASSERT(choice.standing == Standing::kOpen);
    std::vector<Slot>& slots = slots_[choice.node];
    const Slot offer{.rank = choice.rank, .partition = partition, .position = position};
    if (slots.size() < shares_.slot_caps[choice.node]) {
        hold(partition, position);
        return;
    }
    if (slots.empty() || !slot_less(offer, slots.front())) {
        choice.standing = Standing::kRefused;
        return;
    }
    // Full, and this partition scores better than its worst: trade the worst for it.
    std::pop_heap(slots.begin(), slots.end(), slot_less);
    const Slot evicted = slots.back();
    slots.pop_back();
    Choice& lost = choices_[evicted.partition][evicted.position];
    SHOAL_ASSERT(lost.standing == Standing::kHeld);
    lost.standing = Standing::kRefused;
    held_[evicted.partition] -= 1;
    pending_.push_back(evicted.partition);
    hold(partition, position);
}

void Matcher::hold(uint32_t partition, uint32_t position) {
    Choice& choice = choices_[partition][position];
    choice.standing = Standing::kHeld;
    held_[partition] += 1;
    SHOAL_ASSERT(held_[partition] <= layout_.owners_per_partition);
    std::vector<Slot>& slots = slots_[choice.node];
    slots.push_back(Slot{.rank = choice.rank, .partition = partition, .position = position});
    std::push_heap(slots.begin(), slots.end(), slot_less);
}

// The zone rule alone can always be met (c and k were chosen so), and the sets it allows form a
// matroid, so taking the best allowed node each time fills the partition, over the caps.
void Matcher::overfill(uint32_t partition) {
    SHOAL_ASSERT(choices_[partition].size() == node_count_);
    while (held_[partition] < layout_.owners_per_partition) {
        const std::optional<uint32_t> position = next_choice(partition, /*caps_apply=*/false);
        SHOAL_ASSERT(position.has_value());
        hold(partition, *position);
        overflow_slots_ += 1;
    }
}

Assignment Matcher::collect() const {
    Assignment assignment;
    assignment.owners.reserve(size_t{layout_.partition_count} * layout_.owners_per_partition);
    std::vector<Choice> owners;
    for (uint32_t partition = 0; partition < layout_.partition_count; partition++) {
        SHOAL_ASSERT(held_[partition] == layout_.owners_per_partition);
        owners.clear();
        for (const Choice& choice : choices_[partition]) {
            if (choice.standing == Standing::kHeld) owners.push_back(choice);
        }
        std::sort(owners.begin(), owners.end(), lists_before);
        for (const Choice& owner : owners) {
            assignment.owners.push_back(owner.node);
        }
    }
    SHOAL_ASSERT(assignment.owners.size() ==
                 size_t{layout_.partition_count} * layout_.owners_per_partition);
    for (const std::vector<Slot>& slots : slots_) {
        assignment.slot_counts.push_back(static_cast<uint32_t>(slots.size()));
    }
    assignment.overflow_slots = overflow_slots_;
    return assignment;
}

}  // namespace

Assignment assign_owners(const Layout& layout, const Shares& shares) {
    SHOAL_ASSERT(layout.owners_per_partition >= 1);
    SHOAL_ASSERT(layout.owners_per_partition <= layout.ids.size());
    SHOAL_ASSERT(shares.slot_caps.size() == layout.ids.size());
    Matcher matcher(layout, shares);
    return matcher.run();
}

}  // namespace shoal::placement

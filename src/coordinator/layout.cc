#include "shoal/coordinator/layout.h"

#include <algorithm>

#include "shoal/base/assert.h"
#include "shoal/base/hash.h"
#include "shoal/placement/partition.h"

namespace shoal::coordinator {

uint32_t write_quorum(object::Scheme scheme) {
    return uint32_t{scheme.k} + (uint32_t{scheme.m} + 1) / 2;
}

Layout::Layout(std::shared_ptr<const placement::PartitionTable> table,
               NodeKey self,
               object::Scheme manifest_scheme)
    : table_(std::move(table)), self_(self) {
    SHOAL_ASSERT(table_ != nullptr);
    SHOAL_ASSERT(object::check_scheme(manifest_scheme).is_ok());
    manifest_replicas_ = std::min(manifest_scheme.chunk_count(), table_->owners_per_partition());
    // Strict even in a cluster smaller than the code: a write that cannot reach the quorum
    // fails and says so, rather than quietly keeping fewer copies.
    manifest_write_quorum_ = write_quorum(manifest_scheme);
    manifest_read_quorum_ = manifest_scheme.chunk_count() - manifest_write_quorum_ + 1;
}

uint32_t Layout::partition_of(std::string_view key) const {
    return placement::partition_of(as_bytes(key), table_->partition_count());
}

std::vector<NodeKey> Layout::manifest_owners(std::string_view key) const {
    const std::span<const NodeKey> owners = table_->owners(partition_of(key));
    return {owners.begin(), owners.begin() + manifest_replicas_};
}

uint32_t Layout::stripe_partition(uint64_t key_hash, uint32_t stripe_index) const {
    const uint32_t partitions = table_->partition_count();
    return static_cast<uint32_t>(
            (uint64_t{placement::partition_of_hash(key_hash, partitions)} + stripe_index) %
            partitions);
}

std::optional<NodeKey> Layout::chunk_owner(uint64_t key_hash,
                                           uint32_t stripe_index,
                                           uint32_t chunk_index) const {
    const std::span<const NodeKey> owners =
            table_->owners(stripe_partition(key_hash, stripe_index));
    if (chunk_index >= owners.size()) return std::nullopt;
    return owners[chunk_index];
}

std::vector<NodeKey> Layout::stripe_candidates(std::string_view key, uint32_t stripe_index) const {
    const uint32_t partition = stripe_partition(shoal::key_hash(key), stripe_index);
    const std::span<const NodeKey> owners = table_->owners(partition);
    std::vector<NodeKey> candidates(owners.begin(), owners.end());
    struct Fallback {
        uint64_t rank;
        NodeKey node;
    };
    std::vector<Fallback> fallbacks;
    for (const placement::Node& node : table_->nodes()) {
        if (std::find(owners.begin(), owners.end(), node.id) != owners.end()) continue;
        const uint64_t words[3] = {partition, node.id.high, node.id.low};
        fallbacks.push_back({.rank = hash64(std::as_bytes(std::span(words))), .node = node.id});
    }
    std::sort(fallbacks.begin(), fallbacks.end(), [](const Fallback& a, const Fallback& b) {
        return a.rank != b.rank ? a.rank < b.rank : a.node < b.node;
    });
    for (const Fallback& fallback : fallbacks) {
        candidates.push_back(fallback.node);
    }
    return candidates;
}

}  // namespace shoal::coordinator

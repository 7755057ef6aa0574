// Scores: how much a partition wants a node, as integers every node computes bit for bit.
//
// Ranks, not raw hashes. Each node ranks all partitions by the pinned hash of (partition, node
// id): its rank for a partition is a function of the partition count and its own id only. A
// partition prefers the nodes that rank it best, as in rendezvous hashing (HRW), so a change of
// membership never reorders the nodes that stay. Ranking, rather than comparing raw hashes,
// gives every node exactly one partition at each rank, so no node is more popular than another
// by the luck of its hashes; that halves the spread of loads that plain HRW has.
//
// Weights: a node with a share of t slots out of partition_count (its inclusion probability
// lambda = t / partition_count) is picked with the key log2(U / (1 - U)) - log2(lambda /
// (1 - lambda)), U its rank read as a fraction, smallest first: Pareto order sampling (Rosen
// 1997), whose inclusion probabilities are very nearly lambda even when R > 1, where weighted
// HRW's -ln(U) / weight under-serves heavy nodes (sampling without replacement).
//
// Integers only (STYLE.md: no floating point in placement). tests/unit/placement pins them.
#pragma once

#include <cstdint>
#include <vector>

#include "shoal/placement/partition_table.h"

namespace shoal::placement {

// The seed of the pair hash: the ASCII bytes "shoalhrw".
inline constexpr uint64_t kScoreHashSeed = 0x73686f616c687277;

// xxh3-64 with kScoreHashSeed of 20 bytes: partition u32, id.low u64, id.high u64, all
// little-endian.
uint64_t score_hash(uint32_t partition, NodeKey id);

// log2(value) with 32 fractional bits, from a table of log2(1 + i/1024) and linear
// interpolation: within 2^-20 of the true value. REQUIRES: value > 0.
uint64_t log2_q32(uint64_t value);

// How one node ranks the partitions: by the pair hash with its low 16 bits replaced by the
// partition number (the "order key"), smallest first, so ranks are a permutation of
// 0..partition_count-1 and equal hashes cannot tie.
struct PartitionRanks {
    std::vector<uint32_t> rank_of;       // Per partition.
    std::vector<uint64_t> order_key_at;  // Per rank: the order key that earned it.
};

PartitionRanks rank_partitions(NodeKey id, uint32_t partition_count);

// The keys' two terms, in Q32 and offset so that they add up to a positive u64 below 2^63.
// rank_term: log2(U / (1 - U)) with U = (2 rank + 1) / (2 partition_count).
// share_term: -log2(lambda / (1 - lambda)) with lambda = share_numerator / (share_denominator
// * partition_count); lambda 1 sorts first always, lambda 0 last.
std::vector<uint64_t> rank_terms(uint32_t partition_count);
uint64_t share_term(uint64_t share_numerator, uint64_t share_denominator, uint32_t partition_count);

}  // namespace shoal::placement

#include "placement/score.h"

#include <algorithm>
#include <array>
#include <bit>

#include "shoal/base/coding.h"
#include "shoal/base/hash.h"

namespace shoal::placement {
namespace {

constexpr uint32_t kLogTableBits = 10;
constexpr uint32_t kLogTableSize = 1U << kLogTableBits;
constexpr uint64_t kOneQ32 = uint64_t{1} << 32;

// log2(1 + index / kLogTableSize) in Q32, by repeated squaring of the mantissa in Q31: squaring
// doubles the logarithm, so each step yields one bit of it. Truncation errors stay below 2^-28,
// far under the interpolation error.
constexpr std::array<uint64_t, kLogTableSize + 1> make_log_table() {
    std::array<uint64_t, kLogTableSize + 1> table{};
    for (uint32_t index = 0; index < kLogTableSize; index++) {
        uint64_t mantissa = (uint64_t{1} << 31) + (uint64_t{index} << (31 - kLogTableBits));
        uint64_t fraction = 0;
        for (int bit = 31; bit >= 0; bit--) {
            mantissa = (mantissa * mantissa) >> 31;  // Below 2^33: the mantissa is below 2^32.
            if (mantissa >= (uint64_t{1} << 32)) {
                mantissa >>= 1;
                fraction |= uint64_t{1} << bit;
            }
        }
        table[index] = fraction;
    }
    table[kLogTableSize] = kOneQ32;  // log2(2), which the squaring cannot hold in Q31.
    return table;
}

constexpr std::array<uint64_t, kLogTableSize + 1> kLog2Table = make_log_table();

static_assert(kLog2Table[0] == 0);
// log2(1.5) = 0x95c01a39.8 in Q32.
static_assert(kLog2Table[kLogTableSize / 2] >= 0x95c0'1a30);
static_assert(kLog2Table[kLogTableSize / 2] <= 0x95c0'1a3a);

// The offsets keep every key positive and order the special shares around the ordinary ones:
// |rank term| < 2^37 (log2 of at most 2^17) and |share term| < 2^39 (log2 of at most 2^58).
constexpr uint64_t kRankTermOffset = uint64_t{1} << 40;
constexpr uint64_t kShareTermOffset = uint64_t{1} << 41;
constexpr uint64_t kShareTermNever = uint64_t{1} << 43;

}  // namespace

uint64_t score_hash(uint32_t partition, NodeKey id) {
    std::array<std::byte, 20> bytes{};
    encode_fixed32(bytes.data(), partition);
    encode_fixed64(bytes.data() + 4, id.low);
    encode_fixed64(bytes.data() + 12, id.high);
    return hash64(ByteView(bytes), kScoreHashSeed);
}

uint64_t log2_q32(uint64_t value) {
    SHOAL_ASSERT(value > 0);
    const auto exponent = static_cast<uint64_t>(63 - std::countl_zero(value));
    const uint64_t fraction = (value << (63 - exponent)) << 1;  // The bits after the leading 1.
    const uint64_t index = fraction >> (64 - kLogTableBits);
    const uint64_t within = (fraction >> (32 - kLogTableBits)) & (kOneQ32 - 1);
    const uint64_t low = kLog2Table[index];
    const uint64_t high = kLog2Table[index + 1];
    SHOAL_ASSERT(low <= high);
    return (exponent << 32) + low + (((high - low) * within) >> 32);
}

namespace {

// Sorts keys that are uniform over u64 in expected linear time: a bucket per top-bits value,
// about one key per bucket, then one insertion sort pass over the nearly sorted result. Several
// times cheaper than std::sort here, and this runs once per node on every rebuild.
std::vector<uint64_t> sort_uniform(const std::vector<uint64_t>& keys) {
    const auto bucket_bits = static_cast<uint32_t>(std::bit_width(keys.size()));
    const auto bucket_of = [&](uint64_t key) -> size_t {
        return bucket_bits == 0 ? 0 : static_cast<size_t>(key >> (64 - bucket_bits));
    };
    std::vector<uint32_t> next((size_t{1} << bucket_bits) + 1, 0);
    for (const uint64_t key : keys) {
        next[bucket_of(key) + 1] += 1;
    }
    for (size_t bucket = 1; bucket < next.size(); bucket++) {
        next[bucket] += next[bucket - 1];
    }
    std::vector<uint64_t> sorted(keys.size());
    for (const uint64_t key : keys) {
        sorted[next[bucket_of(key)]] = key;
        next[bucket_of(key)] += 1;
    }
    for (size_t index = 1; index < sorted.size(); index++) {
        const uint64_t key = sorted[index];
        size_t target = index;
        for (; target > 0 && sorted[target - 1] > key; target--) {
            sorted[target] = sorted[target - 1];
        }
        sorted[target] = key;
    }
    return sorted;
}

}  // namespace

PartitionRanks rank_partitions(NodeKey id, uint32_t partition_count) {
    static_assert(kPartitionCountMax <= (uint64_t{1} << 16), "a partition fits the low 16 bits");
    constexpr uint64_t kPartitionMask = 0xffff;
    std::vector<uint64_t> order_keys(partition_count);
    for (uint32_t partition = 0; partition < partition_count; partition++) {
        order_keys[partition] = (score_hash(partition, id) & ~kPartitionMask) | partition;
    }
    PartitionRanks ranks;
    ranks.order_key_at = sort_uniform(order_keys);
    SHOAL_ASSERT_EXPENSIVE(std::is_sorted(ranks.order_key_at.begin(), ranks.order_key_at.end()));
    ranks.rank_of.resize(partition_count);
    for (uint32_t rank = 0; rank < partition_count; rank++) {
        ranks.rank_of[ranks.order_key_at[rank] & kPartitionMask] = rank;
    }
    return ranks;
}

std::vector<uint64_t> rank_terms(uint32_t partition_count) {
    SHOAL_ASSERT(partition_count > 0);
    SHOAL_ASSERT(partition_count <= kPartitionCountMax);
    std::vector<uint64_t> terms(partition_count);
    const uint64_t twice = uint64_t{2} * partition_count;
    for (uint64_t rank = 0; rank < partition_count; rank++) {
        // U / (1 - U) = (2 rank + 1) / (2 partition_count - 2 rank - 1).
        terms[rank] = kRankTermOffset + log2_q32(2 * rank + 1) - log2_q32(twice - 2 * rank - 1);
    }
    return terms;
}

uint64_t share_term(uint64_t share_numerator,
                    uint64_t share_denominator,
                    uint32_t partition_count) {
    SHOAL_ASSERT(share_denominator > 0);
    const uint64_t whole = share_denominator * partition_count;
    SHOAL_ASSERT(share_numerator <= whole);
    if (share_numerator == whole) return 0;  // In every partition: before everyone else.
    if (share_numerator == 0) return kShareTermNever;
    // -log2(lambda / (1 - lambda)) = log2(whole - numerator) - log2(numerator).
    return kShareTermOffset + log2_q32(whole - share_numerator) - log2_q32(share_numerator);
}

}  // namespace shoal::placement

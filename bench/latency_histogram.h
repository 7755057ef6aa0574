// LatencyHistogram: a fixed-size log-linear histogram of latencies, after HdrHistogram.
//
// Each power of two is cut into kSubBuckets equal buckets, so any recorded value is known to
// within 1/kSubBuckets (under 1.6%) whatever its magnitude, in constant memory and with an
// O(1) record() that never allocates. Values are nanoseconds; a percentile is reported as
// the highest value its bucket can hold, so it never flatters the node.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace shoal::bench {

class LatencyHistogram {
public:
    static constexpr uint32_t kSubBucketBits = 7;
    static constexpr uint64_t kSubBuckets = uint64_t{1} << (kSubBucketBits - 1);  // Per octave.
    // Values below 2 * kSubBuckets are exact; every octave above adds kSubBuckets buckets.
    static constexpr uint32_t kShiftMax = 64 - kSubBucketBits;
    static constexpr size_t kBucketCount = (kShiftMax + 2) * kSubBuckets;

    void record(uint64_t value_ns) {
        counts_[index_of(value_ns)] += 1;
        count_ += 1;
        sum_ns_ += value_ns;
        min_ns_ = std::min(min_ns_, value_ns);
        max_ns_ = std::max(max_ns_, value_ns);
    }

    void merge(const LatencyHistogram& other) {
        for (size_t index = 0; index < kBucketCount; index++) {
            counts_[index] += other.counts_[index];
        }
        count_ += other.count_;
        sum_ns_ += other.sum_ns_;
        min_ns_ = std::min(min_ns_, other.min_ns_);
        max_ns_ = std::max(max_ns_, other.max_ns_);
    }

    uint64_t count() const { return count_; }
    uint64_t min_ns() const { return count_ == 0 ? 0 : min_ns_; }
    uint64_t max_ns() const { return max_ns_; }
    uint64_t mean_ns() const { return count_ == 0 ? 0 : sum_ns_ / count_; }

    // The smallest bucket bound at or below which `per_million` millionths of the values lie
    // (500'000 is the median, 999'000 the p999), capped at the exact maximum. 0 when empty.
    uint64_t percentile_ns(uint64_t per_million) const {
        if (count_ == 0) return 0;
        // The rank of the value sought, 1-based, rounded up: p50 of 3 values is the 2nd.
        const uint64_t rank = std::max<uint64_t>(1, (count_ * per_million + 999'999) / 1'000'000);
        uint64_t seen = 0;
        for (size_t index = 0; index < kBucketCount; index++) {
            seen += counts_[index];
            if (seen >= rank) return std::min(highest_of(index), max_ns_);
        }
        return max_ns_;
    }

    // Bucket arithmetic, public for tests of the histogram itself.
    static size_t index_of(uint64_t value) {
        if (value < 2 * kSubBuckets) return static_cast<size_t>(value);
        const auto shift = static_cast<uint32_t>(std::bit_width(value)) - kSubBucketBits;
        const uint64_t mantissa = value >> shift;  // In [kSubBuckets, 2 * kSubBuckets).
        return static_cast<size_t>(shift * kSubBuckets + mantissa);
    }
    static uint64_t highest_of(size_t index) {
        if (index < 2 * kSubBuckets) return index;
        const uint64_t shift = index / kSubBuckets - 1;
        const uint64_t mantissa = index % kSubBuckets + kSubBuckets;
        return ((mantissa + 1) << shift) - 1;
    }

private:
    std::array<uint64_t, kBucketCount> counts_{};
    uint64_t count_ = 0;
    uint64_t sum_ns_ = 0;
    uint64_t min_ns_ = UINT64_MAX;
    uint64_t max_ns_ = 0;
};

}  // namespace shoal::bench

// Goal: the hashes placement depends on never change by accident: a key's partition and a
// (partition, node) pair's score are stored and compared across nodes and versions.
//
// Method: test vectors computed once and written out here, so a change of hash, seed, byte
// layout or fixed-point arithmetic breaks the test; plus the known values and the shape of the
// fixed-point log and of the key terms.
#include "shoal/placement/partition.h"

#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "placement/score.h"

namespace shoal::placement {
namespace {

TEST_CASE("partition: a key's hash and partition are pinned", "[unit][placement]") {
    REQUIRE(key_hash(as_bytes("")) == 0x95a955f11975629e);
    REQUIRE(key_hash(as_bytes("a")) == 0x04ed54a8777be129);
    REQUIRE(key_hash(as_bytes("photos/cat.jpg")) == 0x795c21024cc6bf99);
    REQUIRE(partition_of(as_bytes(""), kPartitionCountDefault) == 670);
    REQUIRE(partition_of(as_bytes("a"), kPartitionCountDefault) == 297);
    REQUIRE(partition_of(as_bytes("photos/cat.jpg"), kPartitionCountDefault) == 921);
    REQUIRE(partition_of(as_bytes("photos/cat.jpg"), 1000) == 401);
    REQUIRE(partition_of(as_bytes("photos/cat.jpg"), 1) == 0);
    REQUIRE(partition_of_hash(0x795c21024cc6bf99, kPartitionCountDefault) == 921);
}

TEST_CASE("partition: keys spread evenly over the partitions", "[unit][placement]") {
    std::vector<uint32_t> keys_per_partition(kPartitionCountDefault, 0);
    for (uint32_t index = 0; index < 100 * kPartitionCountDefault; index++) {
        const std::string key = "object/" + std::to_string(index);
        keys_per_partition[partition_of(as_bytes(key), kPartitionCountDefault)] += 1;
    }
    // 100 per partition on average; a binomial's 6 standard deviations are 60.
    for (const uint32_t keys : keys_per_partition) {
        REQUIRE(keys > 40);
        REQUIRE(keys < 160);
    }
}

TEST_CASE("partition: a pair's score hash is pinned", "[unit][placement]") {
    REQUIRE(score_hash(0, NodeKey{.high = 0, .low = 1}) == 0xce79dd9de55bd854);
    REQUIRE(score_hash(1, NodeKey{.high = 0, .low = 1}) == 0x42a8daff05285263);
    REQUIRE(score_hash(1023, NodeKey{.high = 0x0123456789abcdef, .low = 0xfedcba9876543210}) ==
            0xc2e650efbb65a0f9);
}

TEST_CASE("partition: the fixed-point log matches known values", "[unit][placement]") {
    constexpr uint64_t kOne = uint64_t{1} << 32;
    REQUIRE(log2_q32(1) == 0);
    REQUIRE(log2_q32(2) == kOne);
    REQUIRE(log2_q32(1024) == 10 * kOne);
    REQUIRE(log2_q32(uint64_t{1} << 63) == 63 * kOne);
    REQUIRE(log2_q32(~uint64_t{0}) <= 64 * kOne);
    REQUIRE(log2_q32(~uint64_t{0}) + 16 >= 64 * kOne);
    // log2(3) = 1.584962501 = 0x1'95c01a39 in Q32, to within the table's error.
    REQUIRE(log2_q32(3) + 16 >= 0x1'95c0'1a39);
    REQUIRE(log2_q32(3) <= 0x1'95c0'1a39 + 16);
    // Pinned outright, so a change of table or interpolation shows.
    REQUIRE(log2_q32(0x9e3779b97f4a7c15) == 0x3f'4e46'27fa);
    uint64_t previous = 0;
    for (uint64_t value = 1; value < 5000; value += 7) {
        REQUIRE(log2_q32(value) >= previous);
        previous = log2_q32(value);
    }
}

TEST_CASE("partition: a node ranks every partition once, by its pinned pair hashes",
          "[unit][placement]") {
    const NodeKey id{.high = 0x0123456789abcdef, .low = 0xfedcba9876543210};
    const PartitionRanks ranks = rank_partitions(id, kPartitionCountDefault);
    std::vector<bool> seen(kPartitionCountDefault, false);
    for (uint32_t partition = 0; partition < kPartitionCountDefault; partition++) {
        const uint32_t rank = ranks.rank_of[partition];
        REQUIRE(rank < kPartitionCountDefault);
        REQUIRE(!seen[rank]);
        seen[rank] = true;
        REQUIRE((ranks.order_key_at[rank] & 0xffff) == partition);
        REQUIRE((ranks.order_key_at[rank] >> 16) == (score_hash(partition, id) >> 16));
    }
    REQUIRE(std::is_sorted(ranks.order_key_at.begin(), ranks.order_key_at.end()));
    REQUIRE(ranks.rank_of[0] == 1017);
    REQUIRE(ranks.rank_of[1] == 424);
    REQUIRE(ranks.rank_of[1023] == 809);
    REQUIRE(rank_partitions(id, 1).rank_of == std::vector<uint32_t>{0});
}

TEST_CASE("partition: the key terms are symmetric and ordered", "[unit][placement]") {
    const std::vector<uint64_t> terms = rank_terms(kPartitionCountDefault);
    // log2(U / (1 - U)) is odd around U = 1/2, and rank 0 is the best.
    for (uint32_t rank = 0; rank < kPartitionCountDefault; rank++) {
        REQUIRE(terms[rank] + terms[kPartitionCountDefault - 1 - rank] == uint64_t{1} << 41);
        if (rank > 0) REQUIRE(terms[rank] > terms[rank - 1]);
    }
    // A larger share sorts earlier; a half share adds nothing but the offset.
    REQUIRE(share_term(512, 1, 1024) == uint64_t{1} << 41);
    REQUIRE(share_term(300, 1, 1024) < share_term(299, 1, 1024));
    REQUIRE(share_term(uint64_t{7} * 1024, 7, 1024) == 0);  // In every partition.
    REQUIRE(share_term(0, 7, 1024) > share_term(1, 7, 1024));
    REQUIRE(share_term(1, 7, 1024) + terms.back() < share_term(0, 7, 1024) + terms.front());
    REQUIRE(share_term(uint64_t{7} * 1024 - 1, 7, 1024) + terms.front() >
            share_term(uint64_t{7} * 1024, 7, 1024) + terms.back());
}

}  // namespace
}  // namespace shoal::placement

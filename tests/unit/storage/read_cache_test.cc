// Goal: the read cache stays within its byte budget, evicts the oldest piece not used since it
// was last passed over (second chance), refuses pieces too big to share the budget, and
// forgets a piece or a segment on request.
//
// Method: insert and look up pieces of known sizes by hand.
#include "shoal/storage/read_cache.h"

#include <catch2/catch.hpp>

namespace shoal::storage {
namespace {

std::shared_ptr<const Buffer> piece(size_t bytes) {
    return std::make_shared<Buffer>(bytes);
}

TEST_CASE("read cache: the oldest piece not used lately goes first", "[unit][read_cache]") {
    ReadCache cache(1000);
    cache.insert({1, 0}, piece(200));
    cache.insert({1, 200}, piece(200));
    cache.insert({1, 400}, piece(200));
    cache.insert({1, 600}, piece(200));
    REQUIRE(cache.find({1, 0}) != nullptr);  // Now the most recent.
    cache.insert({1, 800}, piece(250));      // Over budget: {1, 200} is the oldest.
    REQUIRE(cache.used_bytes() <= 1000);
    REQUIRE(cache.find({1, 200}) == nullptr);
    REQUIRE(cache.find({1, 0}) != nullptr);
    REQUIRE(cache.find({1, 800}) != nullptr);
}

TEST_CASE("read cache: a piece over a quarter of the budget is not kept", "[unit][read_cache]") {
    ReadCache cache(1000);
    cache.insert({1, 0}, piece(251));
    REQUIRE(cache.find({1, 0}) == nullptr);
    REQUIRE(cache.used_bytes() == 0);
}

TEST_CASE("read cache: replacing a piece and erasing a segment keep the count right",
          "[unit][read_cache]") {
    ReadCache cache(1000);
    cache.insert({1, 0}, piece(100));
    cache.insert({1, 0}, piece(150));
    REQUIRE(cache.used_bytes() == 150);
    cache.insert({2, 0}, piece(100));
    cache.insert({2, 100}, piece(100));
    cache.erase_segment(2);
    REQUIRE(cache.used_bytes() == 150);
    REQUIRE(cache.size() == 1);
    REQUIRE(cache.find({2, 0}) == nullptr);
}

TEST_CASE("read cache: erasing one piece frees its bytes, and erasing it again is harmless",
          "[unit][read_cache]") {
    ReadCache cache(1000);
    cache.insert({1, 0}, piece(100));
    cache.insert({1, 100}, piece(200));
    cache.erase({1, 100});
    REQUIRE(cache.used_bytes() == 100);
    REQUIRE(cache.find({1, 100}) == nullptr);
    cache.erase({1, 100});
    cache.erase({7, 0});
    REQUIRE(cache.used_bytes() == 100);
    REQUIRE(cache.size() == 1);
    // The clock lost its entry too: filling the budget evicts only what is there.
    for (uint64_t offset = 1000; offset < 2000; offset += 100) {
        cache.insert({2, offset}, piece(100));
    }
    REQUIRE(cache.used_bytes() <= 1000);
}

TEST_CASE("read cache: a hot piece survives a stream of cold ones", "[unit][read_cache]") {
    ReadCache cache(1000);
    cache.insert({1, 0}, piece(100));
    for (uint64_t offset = 100; offset < 10'000; offset += 100) {
        REQUIRE(cache.find({1, 0}) != nullptr);
        cache.insert({1, offset}, piece(100));
        REQUIRE(cache.used_bytes() <= 1000);
    }
    REQUIRE(cache.find({1, 0}) != nullptr);
    REQUIRE(cache.find({1, 100}) == nullptr);  // Cold and old: long gone.
    REQUIRE(cache.size() == 10);
}

}  // namespace
}  // namespace shoal::storage

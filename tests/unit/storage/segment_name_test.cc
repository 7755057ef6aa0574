// Goal: segment file names round-trip, and only the exact name the store writes is taken for a
// segment, so that recovery never opens a file under a name it did not make.
//
// Method: format and parse by hand, with near misses.
#include <catch2/catch.hpp>

#include "shoal/storage/disk_store.h"

namespace shoal::storage {
namespace {

TEST_CASE("segment names: the store's names round-trip, and nothing else parses",
          "[unit][segment_name]") {
    REQUIRE(segment_file_name(1) == "segment-0000000000000001.wal");
    for (const uint64_t sequence : {uint64_t{1}, uint64_t{0xabc}, UINT64_MAX}) {
        CAPTURE(sequence);
        REQUIRE(parse_segment_file_name(segment_file_name(sequence)) == sequence);
    }
    for (const std::string_view other : {"segment-0000000000000ABC.wal",
                                         "segment-000000000000001.wal",
                                         "segment-00000000000000001.wal",
                                         "segment-000000000000000g.wal",
                                         "segment-0000000000000001.tmp",
                                         "index.checkpoint",
                                         ""}) {
        CAPTURE(other);
        REQUIRE(parse_segment_file_name(other) == 0);
    }
}

}  // namespace
}  // namespace shoal::storage

// Cluster settings: the redundancy text both ways, and the checks that make a bad [cluster]
// section fail at start with a message that names the field.
#include "shoal/coordinator/cluster_options.h"

#include <catch2/catch.hpp>

namespace shoal::coordinator {
namespace {

TEST_CASE("redundancy parses codes and copy counts, and names them back", "[coordinator]") {
    CHECK(parse_redundancy("ec:4+2").value() == object::Scheme{.k = 4, .m = 2});
    CHECK(parse_redundancy("16+4").value() == object::Scheme{.k = 16, .m = 4});
    CHECK(parse_redundancy("replicas:3").value() == object::Scheme{.k = 1, .m = 2});
    CHECK(parse_redundancy("replicas:1").value() == object::Scheme{.k = 1, .m = 0});
    CHECK(redundancy_name({.k = 4, .m = 2}) == "ec:4+2");
    CHECK(redundancy_name({.k = 1, .m = 2}) == "replicas:3");
    for (const char* bad : {"",
                            "ec:",
                            "ec:0+2",
                            "4+",
                            "+2",
                            "ec:4-2",
                            "replicas:0",
                            "replicas:x",
                            "ec:30+3",
                            "ec:4+2x",
                            "raid5"}) {
        INFO(bad);
        const Result<object::Scheme> parsed = parse_redundancy(bad);
        REQUIRE_FALSE(parsed.is_ok());
        CHECK_THAT(parsed.status().message(), Catch::Contains("redundancy"));
    }
}

TEST_CASE("stripes shrink so that a chunk fits one message", "[coordinator]") {
    CHECK(stripe_bytes_for({.k = 4, .m = 2}, 4 << 20) == 4u << 20);
    CHECK(stripe_bytes_for({.k = 1, .m = 2}, 4 << 20) == 1u << 20);
    CHECK(stripe_bytes_for({.k = 2, .m = 1}, 4 << 20) == 2u << 20);
    CHECK(stripe_bytes_for({.k = 16, .m = 4}, 4 << 20) == 4u << 20);
}

TEST_CASE("cluster options name the field at fault", "[coordinator]") {
    CHECK(ClusterOptions{}.validate().is_ok());
    ClusterOptions options;
    options.partitions = 0;
    CHECK_THAT(options.validate().message(), Catch::Contains("cluster.partitions"));
    options = {};
    options.stripe_bytes = 100;
    CHECK_THAT(options.validate().message(), Catch::Contains("cluster.stripe_bytes"));
    options = {};
    options.inline_bytes_max = 1 << 20;
    CHECK_THAT(options.validate().message(), Catch::Contains("cluster.inline_bytes"));
}

}  // namespace
}  // namespace shoal::coordinator

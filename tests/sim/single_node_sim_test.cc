// Goal: a single memory-mode node never loses an acknowledged put, never shows a partial or
// refused one, and returns its whole memory budget, whatever a client does.
//
// Method: the seeded single-node workload (src/sim/single_node_workload.cc) runs a node on
// SimRuntime with a 16 MiB budget and a client that streams puts in random pieces, abandons
// some mid-stream, overfills the budget, pipelines large gets and lists, all checked against
// a model. A fixed seed list runs in CI; `shoal-sim --seed=N` replays a failure.
#include <catch2/catch.hpp>

#include "shoal/sim/single_node_workload.h"

namespace shoal::sim {
namespace {

TEST_CASE("sim: a single node keeps every acknowledged put and nothing else", "[sim]") {
    const uint64_t seed = GENERATE(range<uint64_t>(1, 17));
    CAPTURE(seed);
    const WorkloadReport report = run_single_node_workload({.seed = seed});
    INFO(report.status.message());
    REQUIRE(report.status.is_ok());
    // The workload must have done what it claims, or the property above proves nothing.
    REQUIRE(report.puts_acknowledged > 20);
    REQUIRE(report.gets_checked > 20);
    REQUIRE(report.lists_checked > 10);
    REQUIRE(report.puts_abandoned > 0);
    REQUIRE(report.puts_refused_no_space > 0);
}

TEST_CASE("sim: the same seed gives the same run", "[sim]") {
    const uint64_t seed = GENERATE(uint64_t{7}, uint64_t{1234});
    CAPTURE(seed);
    const WorkloadReport first = run_single_node_workload({.seed = seed, .operations = 150});
    const WorkloadReport second = run_single_node_workload({.seed = seed, .operations = 150});
    REQUIRE(first.status.is_ok());
    REQUIRE(first.trace_digest == second.trace_digest);
    REQUIRE(first.events_run == second.events_run);
    const WorkloadReport other = run_single_node_workload({.seed = seed + 1, .operations = 150});
    REQUIRE(other.trace_digest != first.trace_digest);
}

}  // namespace
}  // namespace shoal::sim

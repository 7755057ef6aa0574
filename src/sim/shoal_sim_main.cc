// shoal-sim: runs simulated workloads by seed. `shoal-sim --seed=N` replays one run exactly;
// `shoal-sim --runs=R --first-seed=S` tries seeds S..S+R-1 and prints every one that fails.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "shoal/sim/single_node_workload.h"

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): as in shoald.
    CLI::App cli("shoal-sim: seeded whole-node simulation", "shoal-sim");
    uint64_t seed = 0;
    uint64_t first_seed = 1;
    uint64_t runs = 1;
    shoal::sim::WorkloadOptions options;
    cli.add_option("--seed", seed, "replay exactly this seed");
    cli.add_option("--first-seed", first_seed, "first seed of a batch");
    cli.add_option("--runs", runs, "how many seeds to run");
    cli.add_option("--operations", options.operations, "operations per run");
    CLI11_PARSE(cli, argc, argv);
    if (seed != 0) {
        first_seed = seed;
        runs = 1;
    }
    uint64_t failures = 0;
    for (uint64_t index = 0; index < runs; index++) {
        options.seed = first_seed + index;
        const shoal::sim::WorkloadReport report = shoal::sim::run_single_node_workload(options);
        std::fputs(fmt::format("seed={} {} puts={} no_space={} abandoned={} gets={} lists={} "
                               "events={} trace={:016x}{}\n",
                               options.seed,
                               report.status.is_ok() ? "ok" : "FAILED",
                               report.puts_acknowledged,
                               report.puts_refused_no_space,
                               report.puts_abandoned,
                               report.gets_checked,
                               report.lists_checked,
                               report.events_run,
                               report.trace_digest,
                               report.status.is_ok() ? "" : " " + report.status.message())
                           .c_str(),
                   stdout);
        if (!report.status.is_ok()) failures += 1;
    }
    return failures == 0 ? 0 : 1;
}

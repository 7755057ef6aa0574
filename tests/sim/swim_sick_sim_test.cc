// Goal: Lifeguard's local health keeps a sick member from causing false positives (issue #4):
// a member that stalls 0.5-2 s at random, processing nothing, then runs on with a lagging loop.
//
// Method: 32 cores with the default options converge without loss; then some members fall sick
// (SwimCluster's Sickness: stalls of 0.5-2 s, 1-5 s apart; after each, the late tick first,
// with the lag, then the datagrams that queued).
//
// - One sick member: the others suspect it during its stalls, and it must always refute in
//   time: no member is ever declared dead. (Without local health this holds too: a probe takes
//   about a millisecond, so a stall almost never catches one in flight, and a lone accuser's
//   suspicion starts at the longest timeout. docs/membership.md has the figures.)
// - Four sick members, the same seeded run made with local health on and off: without it, a
//   sick member's suspicion of another sick member runs out during its own stall, before it
//   reads the refutation waiting in its queue, and it declares the other dead. With it, the
//   stall postpones its timers, and false dead declarations must be at least 10x fewer; the run
//   without must make at least 10, or the comparison proves nothing.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "sim/swim_cluster.h"

namespace shoal::sim {
namespace {

using std::chrono::seconds;

constexpr uint32_t kNodes = 32;

struct SickRun {
    uint64_t false_dead_declared = 0;
    uint64_t false_dead_seen = 0;
    uint64_t sick_probes_failed = 0;  // Suspicions the sick members raised themselves.
    uint64_t sick_suspected = 0;      // Times the sick members refuted a suspicion.
    uint64_t stalls = 0;
};

SickRun run_sick(uint64_t seed, uint32_t sick_members, Duration duration, bool local_health) {
    SwimClusterOptions options{.nodes = kNodes, .seed = seed};
    options.swim.local_health = local_health;
    SwimCluster cluster(options);
    cluster.join_all();
    REQUIRE(cluster.run_until_converged(cluster.now() + seconds(30)));
    for (uint32_t sick = 0; sick < sick_members; sick++) {
        cluster.make_sick(1 + sick * (kNodes / sick_members), Sickness{});
    }
    cluster.run_for(duration);
    SickRun run{
            .false_dead_declared = cluster.counts().false_dead_declared,
            .false_dead_seen = cluster.counts().false_dead_seen,
            .stalls = cluster.counts().stalls,
    };
    for (uint32_t sick = 0; sick < sick_members; sick++) {
        const membership::SwimStats& stats =
                cluster.swim(1 + sick * (kNodes / sick_members)).stats();
        run.sick_probes_failed += stats.probes_failed;
        run.sick_suspected += stats.refutations;
    }
    fmt::print(
            "swim sick: seed={} sick={} local_health={} stalls={} false_dead_declared={} "
            "false_dead_seen={} sick_probes_failed={} sick_refutations={}\n",
            seed,
            sick_members,
            local_health,
            run.stalls,
            run.false_dead_declared,
            run.false_dead_seen,
            run.sick_probes_failed,
            run.sick_suspected);
    return run;
}

TEST_CASE(
        "swim: a member that stalls at random is suspected, refutes, and is never declared "
        "dead",
        "[sim][swim]") {
    const uint64_t seed = 1;
    CAPTURE(seed);
    const SickRun run = run_sick(seed, 1, seconds(5000), /*local_health=*/true);
    REQUIRE(run.stalls > 1000);
    REQUIRE(run.sick_suspected > 100);  // The stalls were long enough to be noticed.
    REQUIRE(run.false_dead_seen == 0);
}

TEST_CASE(
        "swim: with four sick members local health keeps false dead declarations tenfold "
        "fewer",
        "[sim][swim]") {
    const uint64_t seed = 2;
    CAPTURE(seed);
    const SickRun with = run_sick(seed, 4, seconds(20'000), /*local_health=*/true);
    const SickRun without = run_sick(seed, 4, seconds(20'000), /*local_health=*/false);
    REQUIRE(without.false_dead_declared >= 10);
    REQUIRE(with.false_dead_declared * 10 <= without.false_dead_declared);
}

}  // namespace
}  // namespace shoal::sim

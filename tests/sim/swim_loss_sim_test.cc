// Goal: under heavy random loss SWIM with Lifeguard does not mistake live members for dead
// (issue #4): 32 members, 20% of datagrams lost, 10^5 protocol periods, at most one false
// dead declaration.
//
// Method: a SwimCluster of 32 cores with the default (LAN) options joins through one member and
// converges without loss; then every datagram is dropped with probability 0.2 and no member
// crashes, so every dead declaration is false. The harness counts those made by a member's own
// suspicion timer running out. The loss must really have happened and provoked suspicions,
// which refutations then cleared, or the test proves nothing. At the end the loss stops and
// the cluster must be back to one view within a push-pull interval.
//
// The 10^5 periods are run as four clusters of 25,000 periods each (seeds 1 to 4, one ctest
// case each), because one run of 10^5 takes about 150 s under ASan and UBSan and each test
// should stay near a minute; the cases run in parallel under `ctest -j`. After convergence the
// process is stationary, so four quarter runs sample the same false-positive rate as one long
// one. Each quarter must show none at all, which is stricter than "at most one in the whole":
// with the defaults none was seen in 6 * 10^5 periods (docs/membership.md has the figures).
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "sim/swim_cluster.h"

namespace shoal::sim {
namespace {

using std::chrono::seconds;

constexpr uint32_t kNodes = 32;
constexpr uint32_t kDropPerMillion = 200'000;
constexpr int64_t kProtocolPeriods = 25'000;  // Per seed; four seeds make 10^5.

void run_lossy_quarter(uint64_t seed) {
    CAPTURE(seed);
    SwimCluster cluster({.nodes = kNodes, .seed = seed});
    const Duration period = cluster.swim(0).options().probe_interval;
    cluster.join_all();
    REQUIRE(cluster.run_until_converged(cluster.now() + seconds(30)));

    cluster.set_drop_per_million(kDropPerMillion);
    cluster.run_for(period * kProtocolPeriods);
    const SwimClusterCounts counts = cluster.counts();
    uint64_t suspicions_raised = 0;
    uint64_t refutations = 0;
    for (size_t node = 0; node < cluster.size(); node++) {
        suspicions_raised += cluster.swim(node).stats().probes_failed;
        refutations += cluster.swim(node).stats().refutations;
    }
    fmt::print(
            "swim loss seed={}: periods={} false_dead_declared={} false_dead_seen={} "
            "probes_failed={} refutations={} datagrams={} dropped={}\n",
            seed,
            kProtocolPeriods,
            counts.false_dead_declared,
            counts.false_dead_seen,
            suspicions_raised,
            refutations,
            counts.datagrams_sent,
            counts.datagrams_dropped);
    REQUIRE(counts.datagrams_dropped * 6 > counts.datagrams_sent);  // About a fifth were lost.
    REQUIRE(refutations > 10'000);  // Members suspected each other often, and refuted.
    REQUIRE(counts.false_dead_declared == 0);

    cluster.set_drop_per_million(0);
    REQUIRE(cluster.run_until_converged(cluster.now() + seconds(30)));
}

TEST_CASE("swim: under 20% loss 32 members make no false dead declaration (periods 1-25k)",
          "[sim][swim]") {
    run_lossy_quarter(1);
}

TEST_CASE("swim: under 20% loss 32 members make no false dead declaration (periods 25-50k)",
          "[sim][swim]") {
    run_lossy_quarter(2);
}

TEST_CASE("swim: under 20% loss 32 members make no false dead declaration (periods 50-75k)",
          "[sim][swim]") {
    run_lossy_quarter(3);
}

TEST_CASE("swim: under 20% loss 32 members make no false dead declaration (periods 75-100k)",
          "[sim][swim]") {
    run_lossy_quarter(4);
}

}  // namespace
}  // namespace shoal::sim

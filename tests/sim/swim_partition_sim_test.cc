// Goal: a partition into halves, and its healing, end in one view (issue #4).
//
// Method: 32 cores with the default options converge; then the network is cut between members
// 0-15 and 16-31 for a minute, long enough for each half to declare the whole other half dead
// and to stop gossiping to it (gossip_to_dead is 30 s). Each half must then see itself alive
// and the other half dead. After the heal, only the push-pull with a random dead member finds
// the other side again; the refutations it provokes must spread until every member sees all
// 32 alive at their current incarnations, within kHealBudget. No member may be declared dead
// inside its own half meanwhile.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "sim/swim_cluster.h"

namespace shoal::sim {
namespace {

using membership::MemberState;
using std::chrono::seconds;

constexpr uint32_t kNodes = 32;
// Both halves push-pull with a dead member every push_pull_interval (30 s) from a random
// phase, so one exchange crosses within 30 s; then the refutations spread in a few seconds.
constexpr Duration kHealBudget = seconds(45);

TEST_CASE("swim: a partition into halves and its healing end in one view", "[sim][swim]") {
    for (uint64_t seed = 1; seed <= 4; seed++) {
        CAPTURE(seed);
        SwimCluster cluster({.nodes = kNodes, .seed = seed});
        cluster.join_all();
        REQUIRE(cluster.run_until_converged(cluster.now() + seconds(30)));

        std::vector<uint8_t> side(kNodes);
        for (size_t node = 0; node < kNodes; node++) {
            side[node] = node < kNodes / 2 ? 0 : 1;
        }
        cluster.partition(side);
        cluster.run_for(seconds(60));
        for (size_t observer = 0; observer < kNodes; observer++) {
            for (size_t subject = 0; subject < kNodes; subject++) {
                const membership::Member* member = cluster.swim(observer).find(cluster.id(subject));
                REQUIRE(member != nullptr);
                const MemberState expected =
                        side[observer] == side[subject] ? MemberState::kAlive : MemberState::kDead;
                REQUIRE(member->state == expected);
            }
        }
        const uint64_t dead_marks = cluster.counts().false_dead_seen;
        REQUIRE(dead_marks == kNodes * kNodes / 2);  // Each member, each of the other half.

        const Instant healed_at = cluster.now();
        cluster.heal();
        REQUIRE(cluster.run_until_converged(healed_at + kHealBudget,
                                            std::chrono::milliseconds(100)));
        fmt::print("swim partition: seed={} one view {:.1f}s after the heal\n",
                   seed,
                   std::chrono::duration<double>(cluster.now() - healed_at).count());
        cluster.run_for(seconds(60));
        REQUIRE(cluster.converged());
        REQUIRE(cluster.counts().false_dead_seen == dead_marks);  // None after the heal.
    }
}

}  // namespace
}  // namespace shoal::sim

// Scrubber over FakePeers: how a pass walks the nodes' manifest lists.
#include "shoal/repair/scrubber.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>

#include "unit/coordinator/fake_peers.h"
#include "unit/coordinator/fake_put.h"

namespace shoal::repair {
namespace {

using coordinator::NodeKey;
using coordinator::testing::FakeNode;
using coordinator::testing::FakePeers;

TEST_CASE("scrubber: a page of only unreadable manifests does not end a node's walk", "[repair]") {
    FakePeers peers(6);
    const std::shared_ptr<const coordinator::Layout> layout = peers.layout();
    coordinator::OperationStats operation_stats;
    for (int index = 0; index < 24; ++index) {
        const std::string key = fmt::format("k/{:02}", index);
        const Result<object::Manifest> written = coordinator::testing::put_object(
                peers,
                layout,
                operation_stats,
                {.key = key, .version = {.hlc = uint64_t{1} << 16, .node = NodeId{1}}},
                as_bytes(key));
        REQUIRE(written.is_ok());
    }
    constexpr uint32_t kPageKeys = 4;
    FakeNode& self = peers.node(layout->self());
    REQUIRE(self.manifests.size() > 2 * kPageKeys);
    // This node's whole first page fails its reads.
    for (const auto& [key, manifest] : self.manifests) {
        if (self.unlistable.size() == kPageKeys) break;
        self.unlistable.insert(key);
    }
    uint64_t listable = 0;
    for (const auto& [node_key, node] : peers.nodes()) {
        listable += node.manifests.size() - node.unlistable.size();
    }

    spdlog::logger log("scrubber_test", std::make_shared<spdlog::sinks::null_sink_mt>());
    Scrubber scrubber(
            {.settle_ticks = 1, .page_keys = kPageKeys},
            peers,
            [&] { return layout; },
            [](const NodeKey&) { return true; },
            [&](const std::string& key) -> std::optional<Version> {
                auto found = self.manifests.find(key);
                if (found == self.manifests.end()) return std::nullopt;
                return found->second.version;
            },
            log);
    scrubber.schedule();
    for (uint32_t tick = 0; tick < 100'000 && scrubber.stats().passes == 0; ++tick) {
        scrubber.on_tick();
        peers.run();
    }
    REQUIRE(scrubber.stats().passes == 1);
    // Every node's list was walked to its end, this node's past its unreadable first page.
    CHECK(scrubber.stats().keys_listed == listable);
    CHECK(scrubber.stats().list_failures == 0);
}

}  // namespace
}  // namespace shoal::repair

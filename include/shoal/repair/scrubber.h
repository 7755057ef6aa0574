// Scrubber: one node's share of repair (docs/repair.md). A pass walks the manifest lists of
// every node of the layout that membership sees alive, this node's own first, a page at a
// time, and runs an ObjectRepair for:
//   - each key in its own list that it leads: the first of the key's manifest owners that
//     membership sees alive. This is the scrub: every object is checked by one node.
//   - each key in another node's list that this node owns but holds no manifest of, or an
//     older one. This is how a node that lost its store, or missed writes while it was away,
//     gets back what it owns without anyone else noticing that it was gone.
// While views differ two nodes may repair the same key, which repeats writes that are
// idempotent.
//
// A pass starts settle_ticks after something that may have cost copies (schedule(): this
// node started, the layout changed, a member came back) and pass_interval_ticks after the
// last pass otherwise. A schedule() during a pass runs another pass once it ends. One repair
// runs at a time, so a pass reads at most one stripe at a time, and stripes are read at most
// read_bytes_per_tick on average: a pass is a background load, never a storm.
//
// Single-threaded: every call and completion runs on the node's loop.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "shoal/base/version.h"
#include "shoal/coordinator/layout.h"
#include "shoal/coordinator/peers.h"
#include "shoal/repair/object_repair.h"

namespace shoal::repair {

struct ScrubStats {
    uint64_t passes = 0;
    uint64_t last_pass_ticks = 0;       // How long the last pass took,
    uint64_t last_pass_bytes_read = 0;  // and the chunk records it read.
    uint64_t keys_listed = 0;           // Over every node's list, led or not.
    uint64_t list_failures = 0;
    uint64_t nodes_skipped = 0;  // Not listed: membership did not see them alive.
};

class Scrubber {
public:
    struct Options {
        uint32_t settle_ticks = 500;             // 5 s.
        uint32_t pass_interval_ticks = 360'000;  // 1 h.
        uint32_t page_keys = 256;
        uint64_t read_bytes_per_tick = (uint64_t{64} << 20) / 100;  // 64 MiB/s.

        Status validate() const;
    };

    // The layout to place by; null while this node's view of the cluster is not whole.
    using CurrentLayout = std::function<std::shared_ptr<const coordinator::Layout>()>;
    using IsAlive = std::function<bool(const coordinator::NodeKey& node)>;
    // The version of the key's manifest this node holds, if any.
    using LocalVersion = std::function<std::optional<Version>(const std::string& key)>;

    // `peers`, `log` must outlive the scrubber. The first pass is due one interval from now.
    Scrubber(const Options& options,
             coordinator::Peers& peers,
             CurrentLayout layout,
             IsAlive is_alive,
             LocalVersion local_version,
             spdlog::logger& log);

    // Copies may have been lost or moved: a pass settle_ticks from now.
    void schedule();
    void on_tick();

    bool in_pass() const { return in_pass_; }
    const ScrubStats& stats() const { return stats_; }
    const RepairStats& repair_stats() const { return repair_stats_; }

private:
    void start_pass(const coordinator::Layout& layout);
    void list_page();
    void on_page(Result<coordinator::ManifestPage> page);
    // Starts the repair of the next listed key that needs one; false if none is left.
    bool start_next_repair(const std::shared_ptr<const coordinator::Layout>& layout);
    bool needs_repair(const coordinator::Layout& layout,
                      const coordinator::ManifestSummary& entry) const;
    bool pace(uint64_t bytes, std::function<void()> resume);
    void take_budget(uint64_t bytes);
    void end_pass();

    Options options_;
    coordinator::Peers& peers_;
    CurrentLayout layout_;
    IsAlive is_alive_;
    LocalVersion local_version_;
    spdlog::logger& log_;
    uint64_t tick_ = 0;
    uint64_t due_tick_;
    bool in_pass_ = false;
    bool again_ = false;  // schedule() was called during this pass.
    // The nodes whose lists this pass walks, this node first, and the one being walked.
    std::vector<coordinator::NodeKey> sources_;
    size_t source_ = 0;
    std::string cursor_;  // The last key the current source looked at.
    bool listing_ = false;
    bool source_done_ = false;  // Its last page is in keys_.
    bool repairing_ = false;
    std::deque<coordinator::ManifestSummary> keys_;  // Listed, not yet looked at.
    uint64_t pass_started_tick_ = 0;
    uint64_t pass_started_bytes_read_ = 0;
    // Bytes stripes may still read this tick; below zero after a stripe larger than what was
    // left, which later ticks pay back.
    int64_t read_budget_ = 0;
    std::function<void()> paused_;  // A stripe waiting for budget,
    uint64_t paused_bytes_ = 0;     // and what it will read.
    ScrubStats stats_;
    RepairStats repair_stats_;
};

}  // namespace shoal::repair

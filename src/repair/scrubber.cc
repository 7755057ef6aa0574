#include "shoal/repair/scrubber.h"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

namespace shoal::repair {

Status Scrubber::Options::validate() const {
    if (settle_ticks == 0) return Status::invalid_argument("scrub: settle_ticks is 0");
    if (pass_interval_ticks == 0) {
        return Status::invalid_argument("scrub: pass_interval_ticks is 0");
    }
    if (page_keys == 0) return Status::invalid_argument("scrub: page_keys is 0");
    if (read_bytes_per_tick == 0) {
        return Status::invalid_argument("scrub: read_bytes_per_tick is 0");
    }
    return Status::ok();
}

Scrubber::Scrubber(const Options& options,
                   coordinator::Peers& peers,
                   CurrentLayout layout,
                   IsAlive is_alive,
                   LocalVersion local_version,
                   spdlog::logger& log)
    : options_(options),
      peers_(peers),
      layout_(std::move(layout)),
      is_alive_(std::move(is_alive)),
      local_version_(std::move(local_version)),
      log_(log),
      due_tick_(options.pass_interval_ticks) {}

void Scrubber::schedule() {
    if (in_pass_) {
        again_ = true;
        return;
    }
    due_tick_ = std::min(due_tick_, tick_ + options_.settle_ticks);
}

void Scrubber::on_tick() {
    tick_ += 1;
    const auto per_tick = static_cast<int64_t>(options_.read_bytes_per_tick);
    read_budget_ = std::min(read_budget_ + per_tick, per_tick);
    if (paused_ && read_budget_ > 0) {
        take_budget(paused_bytes_);
        std::function<void()> resume = std::move(paused_);
        paused_ = nullptr;
        resume();
    }
    const std::shared_ptr<const coordinator::Layout> layout = layout_();
    if (layout == nullptr) return;
    if (!in_pass_) {
        if (tick_ < due_tick_) return;
        start_pass(*layout);
    }
    if (listing_ || repairing_) return;
    if (start_next_repair(layout)) return;
    if (!source_done_) {
        list_page();
        return;
    }
    source_ += 1;
    cursor_.clear();
    source_done_ = false;
    if (source_ == sources_.size()) end_pass();
}

void Scrubber::start_pass(const coordinator::Layout& layout) {
    in_pass_ = true;
    again_ = false;
    pass_started_tick_ = tick_;
    pass_started_bytes_read_ = repair_stats_.bytes_read;
    sources_ = {layout.self()};
    uint64_t skipped = 0;
    // A node that membership does not see alive is not listed: the call could only wait out
    // its timeout. The pass the node's return schedules lists it.
    for (const placement::Node& node : layout.table().nodes()) {
        if (node.id == layout.self()) continue;
        if (is_alive_(node.id)) {
            sources_.push_back(node.id);
        } else {
            skipped += 1;
        }
    }
    stats_.nodes_skipped += skipped;
    source_ = 0;
    cursor_.clear();
    source_done_ = false;
    keys_.clear();
    log_.info("scrub_pass_started pass={} nodes={} not_alive={}",
              stats_.passes + 1,
              sources_.size(),
              skipped);
}

void Scrubber::list_page() {
    listing_ = true;
    peers_.list_manifests(
            sources_[source_],
            "",
            cursor_,
            options_.page_keys,
            [this](Result<coordinator::ManifestPage> page) { on_page(std::move(page)); });
}

// A node that cannot be listed (down, say) is passed over; the next pass asks it again.
void Scrubber::on_page(Result<coordinator::ManifestPage> page) {
    listing_ = false;
    if (!page.is_ok()) {
        stats_.list_failures += 1;
        SPDLOG_LOGGER_DEBUG(&log_, "scrub_list_failed reason=\"{}\"", page.status().message());
        source_done_ = true;
        return;
    }
    stats_.keys_listed += page.value().entries.size();
    // Past the keys the node looked at, not just those it listed: a page of only unreadable
    // manifests must not end the walk.
    const std::string& scanned = page.value().scanned_through;
    const std::string previous = cursor_;
    if (!scanned.empty()) {
        cursor_ = scanned;
    } else if (!page.value().entries.empty()) {
        cursor_ = page.value().entries.back().key;
    }
    source_done_ = !page.value().truncated || cursor_ == previous;
    for (coordinator::ManifestSummary& entry : page.value().entries) {
        keys_.push_back(std::move(entry));
    }
}

// Keys that need nothing cost no call, so they are passed over in one go.
bool Scrubber::start_next_repair(const std::shared_ptr<const coordinator::Layout>& layout) {
    while (!keys_.empty()) {
        coordinator::ManifestSummary entry = std::move(keys_.front());
        keys_.pop_front();
        if (!needs_repair(*layout, entry)) continue;
        repairing_ = true;
        // A key listed by another node is read there too: it may be no owner's yet.
        std::optional<coordinator::NodeKey> holder;
        if (source_ > 0) holder = sources_[source_];
        ObjectRepair::start(
                peers_,
                layout,
                ObjectRepair::Target{.key = std::move(entry.key), .holder = holder},
                repair_stats_,
                [this](uint64_t bytes, std::function<void()> resume) {
                    return pace(bytes, std::move(resume));
                },
                [this] { repairing_ = false; });
        return true;
    }
    return false;
}

bool Scrubber::needs_repair(const coordinator::Layout& layout,
                            const coordinator::ManifestSummary& entry) const {
    const std::vector<coordinator::NodeKey> owners = layout.manifest_owners(entry.key);
    if (std::find(owners.begin(), owners.end(), layout.self()) == owners.end()) return false;
    if (source_ > 0) {
        const std::optional<Version> held = local_version_(entry.key);
        return !held.has_value() || *held < entry.version;
    }
    for (const coordinator::NodeKey& owner : owners) {
        if (owner == layout.self()) return true;
        if (is_alive_(owner)) return false;
    }
    return false;
}

bool Scrubber::pace(uint64_t bytes, std::function<void()> resume) {
    if (read_budget_ > 0) {
        take_budget(bytes);
        return true;
    }
    paused_bytes_ = bytes;
    paused_ = std::move(resume);
    return false;
}

void Scrubber::take_budget(uint64_t bytes) {
    read_budget_ -= static_cast<int64_t>(std::min<uint64_t>(bytes, INT64_MAX / 2));
}

void Scrubber::end_pass() {
    in_pass_ = false;
    stats_.passes += 1;
    stats_.last_pass_ticks = tick_ - pass_started_tick_;
    stats_.last_pass_bytes_read = repair_stats_.bytes_read - pass_started_bytes_read_;
    due_tick_ = tick_ + (again_ ? options_.settle_ticks : options_.pass_interval_ticks);
    log_.info(
            "scrub_pass_done pass={} keys_listed={} objects_checked={} manifests_repaired={} "
            "chunks_rebuilt={} chunks_unknown={} stripes_unrecoverable={} rebuilds_failed={} "
            "versions_collected={} chunks_collected={}",
            stats_.passes,
            stats_.keys_listed,
            repair_stats_.objects_checked,
            repair_stats_.manifests_repaired,
            repair_stats_.chunks_rebuilt,
            repair_stats_.chunks_unknown,
            repair_stats_.stripes_unrecoverable,
            repair_stats_.chunk_rebuilds_failed,
            repair_stats_.versions_collected,
            repair_stats_.chunks_collected);
}

}  // namespace shoal::repair

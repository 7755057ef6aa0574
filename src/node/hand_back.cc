#include "shoal/node/hand_back.h"

#include <memory>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace shoal::node {

HandBack::HandBack(PeerService& service,
                   const storage::LocalStore& store,
                   coordinator::Peers& peers,
                   OwnerOf owner_of,
                   IsAlive is_alive,
                   spdlog::logger& log)
    : service_(service),
      store_(store),
      peers_(peers),
      owner_of_(std::move(owner_of)),
      is_alive_(std::move(is_alive)),
      log_(log) {}

void HandBack::note(const object::ChunkId& chunk) {
    if (!owner_of_(chunk).has_value()) return;
    stats_.noted += 1;
    std::string store_key = object::chunk_store_key(chunk);
    if (held_.contains(store_key)) return;
    if (held_.size() >= kHeldMax) {
        stats_.not_tracked += 1;
        return;
    }
    held_.emplace(std::move(store_key), Held{.id = chunk, .due_tick = tick_});
}

// A scan under way starts over: what it has walked was noted under the layout before.
void HandBack::scan() {
    scan_after_ = object::chunk_store_prefix();
}

// One page of chunk keys; the page's views die with it, so the cursor is copied out.
void HandBack::scan_page() {
    const storage::LocalListPage page =
            store_.list(object::chunk_store_prefix(), *scan_after_, kScanPageKeys);
    for (const storage::LocalListEntry& entry : page.entries) {
        stats_.scanned += 1;
        Result<object::StoreKey> parsed = object::parse_store_key(entry.key);
        if (parsed.is_ok() && parsed.value().kind == object::StoreKeyKind::kChunk) {
            note(parsed.value().chunk);
        }
    }
    if (!page.truncated || page.entries.empty()) {
        log_.info("hand_back_scan_done scanned={} held={}", stats_.scanned, held_.size());
        scan_after_.reset();
        return;
    }
    scan_after_ = std::string(page.entries.back().key);
}

// Walks the tracked chunks in key order; placement is asked again each time, since the
// layout may have moved the chunk's home since it was noted.
void HandBack::on_tick() {
    tick_ += 1;
    if (scan_after_.has_value()) scan_page();
    if (held_.empty() || in_flight_ >= kInFlightMax) return;
    std::vector<std::string> settled;  // Owned here now, or owned by no one.
    for (auto entry = held_.begin(); entry != held_.end() && in_flight_ < kInFlightMax; ++entry) {
        Held& held = entry->second;
        if (held.in_flight || held.due_tick > tick_) continue;
        const std::optional<coordinator::NodeKey> owner = owner_of_(held.id);
        if (!owner.has_value()) {
            settled.push_back(entry->first);
            continue;
        }
        if (!is_alive_(*owner)) continue;
        start(entry, *owner);
    }
    for (const std::string& store_key : settled) {
        held_.erase(store_key);
    }
}

// Read here, send to the owner, delete here: the chunk is on one node or both, never none.
void HandBack::start(HeldMap::iterator entry, const coordinator::NodeKey& owner) {
    entry->second.in_flight = true;
    in_flight_ += 1;
    const std::string store_key = entry->first;
    const object::ChunkId id = entry->second.id;
    service_.get_chunk(id, [this, store_key, id, owner](Result<storage::LocalRecord> record) {
        if (!record.is_ok()) {
            // Collected meanwhile, or unreadable: nothing here to hand back.
            finish(store_key, false);
            return;
        }
        auto joined = std::make_shared<const Buffer>(record.value().join());
        Result<object::DecodedChunkHeader> decoded = object::decode_chunk_header(joined->view());
        if (!decoded.is_ok()) {
            finish(store_key, false);
            return;
        }
        const size_t data_offset = decoded.value().data_offset;
        const coordinator::OutgoingChunk chunk{
                .id = id,
                .header = std::make_shared<const Buffer>(joined->view().first(data_offset)),
                .data = joined->view().subspan(data_offset),
                .owner = joined,
        };
        peers_.put_chunk(
                owner, chunk, [this, store_key](const Status& status) { sent(store_key, status); });
    });
}

void HandBack::sent(const std::string& store_key, const Status& status) {
    auto entry = held_.find(store_key);
    SHOAL_ASSERT(entry != held_.end());
    if (!status.is_ok()) {
        stats_.attempts_failed += 1;
        SPDLOG_LOGGER_DEBUG(&log_, "hand_back_failed reason=\"{}\"", status.message());
        entry->second.in_flight = false;
        entry->second.due_tick = tick_ + kRetryTicks;
        in_flight_ -= 1;
        return;
    }
    service_.delete_chunk(entry->second.id, [this, store_key](const Status& removed) {
        finish(store_key, removed.is_ok());
    });
}

void HandBack::finish(const std::string& store_key, bool handed_back) {
    SHOAL_ASSERT(in_flight_ > 0);
    in_flight_ -= 1;
    if (handed_back) stats_.handed_back += 1;
    held_.erase(store_key);
}

}  // namespace shoal::node

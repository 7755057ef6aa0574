#include "shoal/storage/read_cache.h"

#include "shoal/base/assert.h"

namespace shoal::storage {

std::shared_ptr<const Buffer> ReadCache::find(Key key) {
    auto found = entries_.find(key);
    if (found == entries_.end()) return nullptr;
    recency_.splice(recency_.begin(), recency_, found->second.recency);
    return found->second.piece;
}

void ReadCache::insert(Key key, std::shared_ptr<const Buffer> piece) {
    SHOAL_ASSERT(piece != nullptr);
    if (auto found = entries_.find(key); found != entries_.end()) erase(found);
    if (piece->size() > bytes_max_ / 4) return;
    recency_.push_front(key);
    used_bytes_ += piece->size();
    entries_.emplace(key, Entry{.piece = std::move(piece), .recency = recency_.begin()});
    while (used_bytes_ > bytes_max_) {
        SHOAL_ASSERT(!recency_.empty());
        erase(entries_.find(recency_.back()));
    }
}

void ReadCache::erase_segment(uint64_t segment) {
    auto entry = entries_.lower_bound(Key{segment, 0});
    while (entry != entries_.end() && entry->first.first == segment) {
        auto next = std::next(entry);
        erase(entry);
        entry = next;
    }
}

void ReadCache::erase(std::map<Key, Entry>::iterator entry) {
    SHOAL_ASSERT(entry != entries_.end());
    SHOAL_ASSERT(used_bytes_ >= entry->second.piece->size());
    used_bytes_ -= entry->second.piece->size();
    recency_.erase(entry->second.recency);
    entries_.erase(entry);
}

}  // namespace shoal::storage

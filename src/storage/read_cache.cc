#include "shoal/storage/read_cache.h"

#include "shoal/base/assert.h"

namespace shoal::storage {

std::shared_ptr<const Buffer> ReadCache::find(Key key) {
    auto found = entries_.find(key);
    if (found == entries_.end()) return nullptr;
    found->second.used = true;
    return found->second.piece;
}

void ReadCache::insert(Key key, std::shared_ptr<const Buffer> piece) {
    SHOAL_ASSERT(piece != nullptr);
    if (auto found = entries_.find(key); found != entries_.end()) erase(found);
    if (piece->size() > bytes_max_ / 4) return;
    clock_.push_front(key);
    used_bytes_ += piece->size();
    entries_.emplace(key, Entry{.piece = std::move(piece), .position = clock_.begin()});
    while (used_bytes_ > bytes_max_) {
        evict_one();
    }
}

// A piece found since it was last looked at gets another round at the front. Ends: each pass
// clears a mark, so within two rounds an unmarked piece comes up.
void ReadCache::evict_one() {
    for (size_t step = 0; step <= 2 * entries_.size(); ++step) {
        SHOAL_ASSERT(!clock_.empty());
        auto oldest = entries_.find(clock_.back());
        SHOAL_ASSERT(oldest != entries_.end());
        if (!oldest->second.used) return erase(oldest);
        oldest->second.used = false;
        clock_.splice(clock_.begin(), clock_, oldest->second.position);
    }
    SHOAL_ASSERT(false && "the clock found nothing to evict");
}

void ReadCache::erase(Key key) {
    if (auto found = entries_.find(key); found != entries_.end()) erase(found);
}

void ReadCache::erase_segment(uint64_t segment) {
    for (auto entry = entries_.begin(); entry != entries_.end();) {
        auto next = std::next(entry);
        if (entry->first.first == segment) erase(entry);
        entry = next;
    }
}

void ReadCache::erase(Entries::iterator entry) {
    SHOAL_ASSERT(entry != entries_.end());
    SHOAL_ASSERT(used_bytes_ >= entry->second.piece->size());
    used_bytes_ -= entry->second.piece->size();
    clock_.erase(entry->second.position);
    entries_.erase(entry);
}

}  // namespace shoal::storage

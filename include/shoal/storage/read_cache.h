// ReadCache: the disk store's RAM cache of hot pieces, under a byte budget (storage.cache_bytes).
//
// Keyed by where a record lies (segment, offset), which never changes while the record lives,
// so an overwritten object's pieces simply stop being asked for and age out. Least recently
// used first out. Pieces are shared: one evicted while a get streams it lives on in that get.
//
// Pure: no IO, single-threaded.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <utility>

#include "shoal/base/bytes.h"

namespace shoal::storage {

class ReadCache {
public:
    explicit ReadCache(uint64_t bytes_max) : bytes_max_(bytes_max) {}

    using Key = std::pair<uint64_t, uint64_t>;  // Segment, offset.

    // The piece, now the most recently used; nullptr if absent.
    std::shared_ptr<const Buffer> find(Key key);
    // Adds or replaces the piece and evicts the least recently used over the budget. A piece
    // larger than a quarter of the budget is not kept, so one big object cannot flush the rest.
    void insert(Key key, std::shared_ptr<const Buffer> piece);
    // Drops every piece of `segment`.
    void erase_segment(uint64_t segment);

    uint64_t used_bytes() const { return used_bytes_; }
    size_t size() const { return entries_.size(); }

private:
    struct Entry {
        std::shared_ptr<const Buffer> piece;
        std::list<Key>::iterator recency;
    };

    void erase(std::map<Key, Entry>::iterator entry);

    uint64_t bytes_max_;
    uint64_t used_bytes_ = 0;
    std::map<Key, Entry> entries_;
    std::list<Key> recency_;  // Most recently used first.
};

}  // namespace shoal::storage

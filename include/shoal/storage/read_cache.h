// ReadCache: the disk store's RAM cache of hot pieces, under a byte budget (storage.cache_bytes).
//
// Keyed by where a record lies (segment, offset), which never changes while the record lives;
// the store drops a record's piece once the record is dead (overwritten, deleted, moved), so
// the budget holds live records (but for a read that finishes after its record died, whose
// piece ages out). Eviction is second chance (CLOCK), close to least
// recently used first out: a hit only marks the piece, and eviction gives a marked piece one
// more round, so the hit path is a hash lookup. Pieces are shared: one evicted while a get
// streams it lives on in that get.
//
// Pure: no IO, single-threaded.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <utility>

#include "shoal/base/bytes.h"

namespace shoal::storage {

class ReadCache {
public:
    explicit ReadCache(uint64_t bytes_max) : bytes_max_(bytes_max) {}

    using Key = std::pair<uint64_t, uint64_t>;  // Segment, offset.

    // The piece, marked as used; nullptr if absent.
    std::shared_ptr<const Buffer> find(Key key);
    // Adds or replaces the piece and evicts the least recently used over the budget. A piece
    // larger than a quarter of the budget is not kept, so one big object cannot flush the rest.
    void insert(Key key, std::shared_ptr<const Buffer> piece);
    // Whether the piece is there; unlike find(), does not mark it used.
    bool contains(Key key) const { return entries_.contains(key); }
    // Drops the piece, if it is there: its record is dead.
    void erase(Key key);
    // Drops every piece of `segment`. Walks the whole cache: for compaction, not hot paths.
    void erase_segment(uint64_t segment);

    uint64_t used_bytes() const { return used_bytes_; }
    size_t size() const { return entries_.size(); }

private:
    struct Entry {
        std::shared_ptr<const Buffer> piece;
        std::list<Key>::iterator position;
        bool used = false;  // Found since it was last passed over for eviction.
    };
    struct KeyHash {
        size_t operator()(const Key& key) const {
            return static_cast<size_t>((key.first * 0x9e3779b97f4a7c15ULL) ^ key.second);
        }
    };
    using Entries = std::unordered_map<Key, Entry, KeyHash>;

    void erase(Entries::iterator entry);
    void evict_one();

    uint64_t bytes_max_;
    uint64_t used_bytes_ = 0;
    Entries entries_;
    std::list<Key> clock_;  // Newest first; eviction looks at the back.
};

}  // namespace shoal::storage

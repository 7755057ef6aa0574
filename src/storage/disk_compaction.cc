// DiskStore compaction: reclaims the space of deleted and overwritten records.
//
// One sealed segment at a time, the one with the most garbage once it passes
// compaction_garbage_percent: every record in it that the index still needs is read, checked
// and appended again at the log's end (pieces keep their put id and index, commits and
// tombstones their version, so recovery picks the copy or the original alike). Once the copies
// are durable the index moves to them, and the old segment is removed when no get still
// streams from it. Crash-safe at every step: until the removal the original is intact, and a
// copy is never needed before it is durable.
//
// Tombstones are always copied, never dropped. A copy of an object made while a delete of it
// was on its way lands after the tombstone in the log: only the tombstone's higher version
// keeps it dead, in whichever segment either ends up. Dropping tombstones safely needs to know
// that no older version of the key is left anywhere; that comes with the cluster's tombstone
// collection (#5).
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "storage/disk_store_state.h"

namespace shoal::storage {

class DiskStore::Compaction {
public:
    Compaction(DiskStore& store, uint64_t segment) : store_(store), segment_(segment) {}

    void start() {
        plan();
        next();
    }

    bool is_finished() const { return finished_; }
    bool has_request_in_flight() const { return in_flight_; }
    uint64_t segment() const { return segment_; }
    // The segment of the first copy made that the index does not point to yet (they are
    // appended in order, so it is the lowest), or UINT64_MAX.
    uint64_t unindexed_copies_segment() const {
        if (next_ == 0 || waiting_for_readers_ || finished_) return UINT64_MAX;
        return copies_[0].segment;
    }

private:
    // A record to copy: an object's piece (index) or commit (no index), or a tombstone.
    struct Item {
        std::string key;
        DiskObjectRef object;  // nullptr for a tombstone.
        std::optional<size_t> piece;
        RecordLocation source;
    };

    void plan() {
        for (const auto& [key, entry] : store_.index_) {
            if (entry.object == nullptr) {
                if (entry.tombstone.segment == segment_) {
                    items_.push_back(Item{key, nullptr, std::nullopt, entry.tombstone});
                }
                continue;
            }
            const DiskObject& object = *entry.object;
            for (size_t index = 0; index < object.pieces.size(); ++index) {
                if (object.pieces[index].segment != segment_) continue;
                items_.push_back(Item{key, entry.object, index, object.pieces[index]});
            }
            if (object.commit.segment == segment_) {
                items_.push_back(Item{key, entry.object, std::nullopt, object.commit});
            }
        }
        copies_.resize(items_.size());
        cached_copies_.resize(items_.size());
    }

    // Reads the next record to copy; one at a time keeps memory at one record.
    void next() {
        if (!store_.writes_stopped_.is_ok()) return abandon("writes stopped");
        if (next_ == items_.size()) return commit();
        const Item& item = items_[next_];
        auto segment = store_.segments_.find(segment_);
        SHOAL_ASSERT(segment != store_.segments_.end());
        record_ = Buffer(item.source.record_bytes);
        in_flight_ = true;
        read_ = runtime::DiskRead{.file = segment->second.file,
                                  .offset = item.source.offset,
                                  .target = record_.mutable_view(),
                                  .done = [this](runtime::DiskRead& read, const Status& status) {
                                      copy(read, status);
                                  }};
        store_.disk_.read(read_);
    }

    void copy(const runtime::DiskRead& read, const Status& status) {
        in_flight_ = false;
        const Item& item = items_[next_];
        Status checked = status;
        if (checked.is_ok() && read.read_bytes != item.source.record_bytes) {
            checked = Status::corruption("wal: record cut short");
        }
        Result<Record> record =
                checked.is_ok() ? decode_record(record_.view()) : Result<Record>(checked);
        if (record.is_ok() && item.object != nullptr) {
            checked = store_.check_piece(*item.object, item.piece.value_or(0), record_.view());
            // A commit with pieces is not what check_piece looks at; its own checksum holds.
            if (!item.piece.has_value() && !item.object->is_inline()) checked = Status::ok();
        }
        if (!record.is_ok()) checked = record.status();
        if (record.is_ok() && item.object == nullptr &&
            record.value().kind != RecordKind::kTombstone) {
            checked = Status::corruption("wal: not a tombstone");
        }
        if (!checked.is_ok()) {
            // The original stays where it is; a get of it will report the damage.
            return abandon(
                    fmt::format("record at offset {}: {}", item.source.offset, checked.message()));
        }
        const Record& original = record.value();
        copies_[next_] = store_.append_record(store_.next_lsn(),
                                              original.kind,
                                              original.body,
                                              ByteView{},
                                              item.source.data_bytes);
        // A record the cache holds is cached at its new place too: moving it costs no get a
        // read from disk.
        if (store_.cache_.contains({item.source.segment, item.source.offset})) {
            cached_copies_[next_] = store_.appended_copy(copies_[next_]);
        } else if (item.source.data_bytes > 0) {
            store_.filling_.back().read_from_file = true;  // Its next get reads the file.
        }
        store_.counters_.compaction_bytes_copied += original.bytes;
        records_copied_ += 1;
        next_ += 1;
        next();
    }

    // The copies become the index's once they are durable, whatever the fsync policy.
    void commit() {
        if (items_.empty()) return move_index();  // Nothing to copy: all of it is garbage.
        if (!store_.filling_.empty()) {
            store_.filling_.back().sync = true;
        } else {
            store_.sync_due_ = true;
        }
        store_.filling_done_.push_back(Completion{
                .apply = [this] { move_index(); },
                .done =
                        [this](const Status& status) {
                            if (!status.is_ok()) abandon(status.message());
                        },
        });
    }

    void move_index() {
        // Original object to its key and its moved copy.
        std::map<const DiskObject*, std::pair<std::string, std::shared_ptr<DiskObject>>> moved;
        for (size_t index = 0; index < items_.size(); ++index) {
            const Item& item = items_[index];
            auto entry = store_.index_.find(item.key);
            if (entry == store_.index_.end()) continue;
            if (item.object == nullptr) {
                if (entry->second.object != nullptr ||
                    entry->second.tombstone.offset != item.source.offset ||
                    entry->second.tombstone.segment != segment_) {
                    continue;  // Replaced meanwhile: the copy is garbage.
                }
                store_.retire(entry->second.tombstone);
                entry->second.tombstone = copies_[index];
                store_.segments_.at(copies_[index].segment).live_bytes +=
                        copies_[index].record_bytes;
                continue;
            }
            if (entry->second.object != item.object) continue;  // Replaced: the copy is garbage.
            auto& [key, copy] = moved[item.object.get()];
            if (copy == nullptr) {
                key = item.key;
                copy = std::make_shared<DiskObject>(*item.object);
            }
            RecordLocation& target =
                    item.piece.has_value() ? copy->pieces[*item.piece] : copy->commit;
            store_.retire(target);
            target = copies_[index];
            store_.segments_.at(target.segment).live_bytes += target.record_bytes;
            if (cached_copies_[index] != nullptr) {
                store_.cache_.insert({target.segment, target.offset},
                                     std::move(cached_copies_[index]));
            }
        }
        for (auto& [original, moved_object] : moved) {
            auto entry = store_.index_.find(moved_object.first);
            SHOAL_ASSERT(entry != store_.index_.end());
            SHOAL_ASSERT(entry->second.object.get() == original);
            store_.release(entry->second.object);
            entry->second.object = std::move(moved_object.second);
        }
        items_.clear();  // Their references would pin the old objects.
        cached_copies_.clear();
        waiting_for_readers_ = true;
    }

public:
    // Every tick: removes the segment once no get holds an object that still points into it.
    void on_tick() {
        if (!waiting_for_readers_ || removing_) return;
        if (store_.is_segment_referenced(segment_)) return;
        remove();
    }

private:
    void remove() {
        auto segment = store_.segments_.find(segment_);
        SHOAL_ASSERT(segment != store_.segments_.end());
        if (segment->second.live_bytes != 0) {
            return abandon(
                    fmt::format("{} bytes in it are still live", segment->second.live_bytes));
        }
        removing_ = true;
        in_flight_ = true;
        store_.disk_.close(segment->second.file);
        store_.segments_.erase(segment);
        store_.cache_.erase_segment(segment_);
        path_request_ = runtime::DiskPathRequest{
                .kind = runtime::DiskPathRequest::Kind::kRemove,
                .path = store_.segment_path(segment_),
                .done = [this](runtime::DiskPathRequest&, const Status& status) {
                    in_flight_ = false;
                    if (!status.is_ok()) return abandon(status.message());
                    sync_directory();
                }};
        store_.disk_.path_request(path_request_);
    }

    void sync_directory() {
        in_flight_ = true;
        path_request_ = runtime::DiskPathRequest{
                .kind = runtime::DiskPathRequest::Kind::kSyncDirectory,
                .path = store_.options_.directory,
                .done = [this](runtime::DiskPathRequest&, const Status& status) {
                    in_flight_ = false;
                    if (!status.is_ok()) return abandon(status.message());
                    store_.counters_.compactions += 1;
                    store_.log_.info("segment_compacted segment={} records_copied={}",
                                     segment_,
                                     records_copied_);
                    finished_ = true;
                }};
        store_.disk_.path_request(path_request_);
    }

    void abandon(std::string_view reason) {
        store_.log_.warn("compaction_abandoned segment={} reason=\"{}\"", segment_, reason);
        store_.compaction_failed_segments_.insert(segment_);
        finished_ = true;
    }

    DiskStore& store_;
    uint64_t segment_;
    std::vector<Item> items_;
    std::vector<RecordLocation> copies_;
    std::vector<std::shared_ptr<const Buffer>> cached_copies_;  // Of records the cache held.
    size_t next_ = 0;
    Buffer record_;
    runtime::DiskRead read_;
    runtime::DiskPathRequest path_request_;
    bool waiting_for_readers_ = false;
    bool removing_ = false;
    bool finished_ = false;
    bool in_flight_ = false;
    uint64_t records_copied_ = 0;
};

// The sealed segment with the most garbage, if one passes the threshold, holds no piece of a
// put still streaming in (its commit will look for them there) and has no batch waiting to be
// written or synced (the flush will look for its file).
std::optional<uint64_t> DiskStore::compaction_candidate() const {
    std::set<uint64_t> pinned;
    for (const auto& [put, open] : puts_) {
        for (const RecordLocation& piece : open.pieces) {
            pinned.insert(piece.segment);
        }
    }
    for (const std::vector<Batch>* batches : {&filling_, &flushing_}) {
        for (const Batch& batch : *batches) {
            pinned.insert(batch.segment);
        }
    }
    std::optional<uint64_t> best;
    uint64_t best_garbage_permille = 0;
    for (const auto& [sequence, segment] : segments_) {
        if (sequence >= append_segment_ || pinned.contains(sequence) ||
            committing_segments_.contains(sequence) ||
            compaction_failed_segments_.contains(sequence) || segment.bytes == 0) {
            continue;
        }
        const uint64_t garbage = segment.bytes - std::min(segment.bytes, segment.live_bytes);
        const uint64_t permille = garbage * 1000 / segment.bytes;
        if (permille >= uint64_t{options_.compaction_garbage_percent} * 10 &&
            permille > best_garbage_permille) {
            best = sequence;
            best_garbage_permille = permille;
        }
    }
    return best;
}

void DiskStore::drive_compaction() {
    if (compaction_ != nullptr) {
        compaction_->on_tick();
        if (!compaction_->is_finished()) return;
        compaction_.reset();
        // Under a heavy overwrite load one segment a check is too slow: look again at once.
        ticks_since_compaction_check_ = options_.compaction_check_ticks;
    }
    if (!writes_stopped_.is_ok() || quiescing_ || options_.compaction_garbage_percent == 0) return;
    ticks_since_compaction_check_ += 1;
    if (ticks_since_compaction_check_ < options_.compaction_check_ticks) return;
    ticks_since_compaction_check_ = 0;
    const std::optional<uint64_t> segment = compaction_candidate();
    if (!segment.has_value()) return;
    compaction_.reset(new Compaction(*this, *segment));  // NOLINT(cppcoreguidelines-owning-memory)
    compaction_->start();
}

uint64_t DiskStore::compaction_unindexed_segment() const {
    return compaction_ == nullptr ? UINT64_MAX : compaction_->unindexed_copies_segment();
}

bool DiskStore::is_compaction_busy() const {
    return compaction_ != nullptr && compaction_->has_request_in_flight();
}

void DiskStore::delete_compaction(Compaction* compaction) {
    delete compaction;  // NOLINT(cppcoreguidelines-owning-memory)
}

}  // namespace shoal::storage

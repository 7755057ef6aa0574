// DiskStore checkpoints: the index written out now and then, so that a restart reads it and
// scans only the segments written since (index_checkpoint.h, docs/wal_format.md).
//
// Written while the store runs, a slice of entries per disk write, so the loop never stalls on
// a large index: to index.checkpoint.tmp, synced, renamed over index.checkpoint, and the
// directory synced. A crash at any step leaves the previous checkpoint, or none, in place; both
// are valid. A failed checkpoint is only a slower next restart: it is logged and dropped, and
// the store goes on, since every byte it describes is in the segments too.
#include <algorithm>

#include <fmt/format.h>

#include "shoal/storage/index_checkpoint.h"
#include "storage/disk_store_state.h"

namespace shoal::storage {
namespace {

constexpr size_t kSliceEntriesMax = 4096;
constexpr size_t kSliceBytesMax = size_t{1} << 20;

}  // namespace

class DiskStore::Checkpointer {
public:
    explicit Checkpointer(DiskStore& store)
        : store_(store), header_(store.checkpoint_header()), writer_(header_) {}
    ~Checkpointer() {
        if (is_open_) store_.disk_.close(file_);
    }
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;
    Checkpointer(Checkpointer&&) = delete;
    Checkpointer& operator=(Checkpointer&&) = delete;

    void start() {
        store_.appended_since_checkpoint_ = 0;
        open_ = runtime::DiskOpen{.path = path(kCheckpointTemporaryFileName),
                                  .mode = runtime::OpenMode::kCreate,
                                  .done = [this](runtime::DiskOpen& open, const Status& status) {
                                      in_flight_ = false;
                                      if (!status.is_ok()) return abandon("create", status);
                                      file_ = open.file;
                                      is_open_ = true;
                                      truncate();
                                  }};
        in_flight_ = true;
        store_.disk_.open(open_);
    }

    bool is_finished() const { return finished_; }
    bool has_request_in_flight() const { return in_flight_; }

private:
    // A leftover of an earlier attempt may be longer than this one.
    void truncate() {
        truncate_ =
                runtime::DiskTruncate{.file = file_,
                                      .size = 0,
                                      .done = [this](runtime::DiskTruncate&, const Status& status) {
                                          in_flight_ = false;
                                          if (!status.is_ok()) return abandon("truncate", status);
                                          write_slice();
                                      }};
        in_flight_ = true;
        store_.disk_.truncate(truncate_);
    }

    // Resumes after the last key written: the index may have changed since.
    void write_slice() {
        if (!store_.writes_stopped_.is_ok() || store_.quiescing_) {
            return abandon("stopped", Status::unavailable("the store is stopping or failed"));
        }
        auto entry = started_ ? store_.index_.upper_bound(last_key_) : store_.index_.begin();
        started_ = true;
        size_t added = 0;
        for (; entry != store_.index_.end() && added < kSliceEntriesMax &&
               writer_.pending_bytes() < kSliceBytesMax;
             ++entry, ++added) {
            add(entry->first, entry->second);
        }
        if (added > 0) last_key_ = std::prev(entry)->first;
        const bool is_last = entry == store_.index_.end();
        slice_ = is_last ? writer_.finish() : writer_.take();
        write_ = runtime::DiskWrite{
                .file = file_,
                .offset = offset_,
                .data = slice_.view(),
                .done = [this, is_last](runtime::DiskWrite&, const Status& status) {
                    in_flight_ = false;
                    if (!status.is_ok()) return abandon("write", status);
                    offset_ += slice_.size();
                    store_.appended_since_free_space_ += slice_.size();
                    slice_ = Buffer();
                    if (is_last) return sync();
                    write_slice();
                }};
        in_flight_ = true;
        store_.disk_.write(write_);
    }

    void add(std::string_view key, const IndexEntry& indexed) {
        entry_.key = key;
        entry_.version = indexed.version;
        entry_.is_tombstone = indexed.object == nullptr;
        if (entry_.is_tombstone) {
            entry_.location = indexed.tombstone;
            entry_.pieces.clear();
            entry_.damage = {};
            return writer_.add(entry_);
        }
        const DiskObject& object = *indexed.object;
        entry_.location = object.commit;
        entry_.put = object.put;
        entry_.object_bytes = object.object_bytes;
        entry_.digest = object.digest;
        entry_.damage = object.damage;
        entry_.piece_count = static_cast<uint32_t>(object.pieces.size());
        // Assigned, not rebuilt: the entry's vector keeps its capacity from slice to slice.
        entry_.pieces.clear();
        if (object.damage.empty()) entry_.pieces = object.pieces;
        writer_.add(entry_);
    }

    void sync() {
        sync_ = runtime::DiskSync{.file = file_,
                                  .done = [this](runtime::DiskSync&, const Status& status) {
                                      in_flight_ = false;
                                      if (!status.is_ok()) return abandon("sync", status);
                                      store_.disk_.close(file_);
                                      is_open_ = false;
                                      rename();
                                  }};
        in_flight_ = true;
        store_.disk_.sync(sync_);
    }

    void rename() {
        path_request_ = runtime::DiskPathRequest{
                .kind = runtime::DiskPathRequest::Kind::kRename,
                .path = path(kCheckpointTemporaryFileName),
                .target_path = path(kCheckpointFileName),
                .done = [this](runtime::DiskPathRequest&, const Status& status) {
                    in_flight_ = false;
                    if (!status.is_ok()) return abandon("rename", status);
                    sync_directory();
                }};
        in_flight_ = true;
        store_.disk_.path_request(path_request_);
    }

    void sync_directory() {
        path_request_ = runtime::DiskPathRequest{
                .kind = runtime::DiskPathRequest::Kind::kSyncDirectory,
                .path = store_.options_.directory,
                .done = [this](runtime::DiskPathRequest&, const Status& status) {
                    in_flight_ = false;
                    if (!status.is_ok()) return abandon("directory sync", status);
                    store_.counters_.checkpoints += 1;
                    store_.checkpoint_bytes_last_ = offset_;
                    store_.log_.info("index_checkpointed bytes={} replay_from={}",
                                     offset_,
                                     header_.replay_from);
                    finished_ = true;
                }};
        in_flight_ = true;
        store_.disk_.path_request(path_request_);
    }

    void abandon(std::string_view step, const Status& status) {
        if (is_open_) store_.disk_.close(file_);
        is_open_ = false;
        store_.log_.warn("checkpoint_abandoned step={} reason=\"{}\"", step, status.message());
        finished_ = true;
    }

    std::string path(std::string_view name) const {
        return fmt::format("{}/{}", store_.options_.directory, name);
    }

    DiskStore& store_;
    CheckpointHeader header_;
    CheckpointWriter writer_;
    CheckpointEntry entry_;
    std::string last_key_;
    bool started_ = false;
    runtime::FileId file_{};
    bool is_open_ = false;
    uint64_t offset_ = 0;
    Buffer slice_;
    runtime::DiskOpen open_;
    runtime::DiskTruncate truncate_;
    runtime::DiskWrite write_;
    runtime::DiskSync sync_;
    runtime::DiskPathRequest path_request_;
    bool in_flight_ = false;
    bool finished_ = false;
};

// Everything before the first segment that still holds a record the index does not reflect
// (a write not yet flushed or synced, a piece of a put not yet committed, a compaction's copy
// the index has not moved to yet) is covered.
CheckpointHeader DiskStore::checkpoint_header() const {
    uint64_t replay_from = std::min(append_segment_, compaction_unindexed_segment());
    for (const std::vector<Batch>* batches : {&filling_, &flushing_}) {
        for (const Batch& batch : *batches) {
            replay_from = std::min(replay_from, batch.segment);
        }
    }
    if (!committing_segments_.empty()) {
        replay_from = std::min(replay_from, *committing_segments_.begin());
    }
    for (const auto& [put, open] : puts_) {
        for (const RecordLocation& piece : open.pieces) {
            replay_from = std::min(replay_from, piece.segment);
        }
    }
    CheckpointHeader header{
            .lsn_last = lsn_last_, .put_last = put_last_, .replay_from = replay_from};
    for (const auto& [sequence, segment] : segments_) {
        if (sequence >= replay_from) break;
        header.segments.push_back(CheckpointSegment{.sequence = sequence, .bytes = segment.bytes});
    }
    return header;
}

// A checkpoint is due once the log has grown by the interval since the last one, and by four
// times the last one's size, so that on a store of tiny objects checkpoints stay a fraction
// of what is written.
void DiskStore::drive_checkpoint() {
    if (checkpointer_ != nullptr) {
        if (!checkpointer_->is_finished()) return;
        checkpointer_.reset();
    }
    if (!writes_stopped_.is_ok() || quiescing_ || options_.checkpoint_interval_bytes == 0) return;
    const uint64_t due_bytes =
            std::max(options_.checkpoint_interval_bytes, uint64_t{4} * checkpoint_bytes_last_);
    if (appended_since_checkpoint_ < due_bytes) return;
    checkpointer_.reset(new Checkpointer(*this));  // NOLINT(cppcoreguidelines-owning-memory)
    checkpointer_->start();
}

bool DiskStore::is_checkpoint_busy() const {
    return checkpointer_ != nullptr && checkpointer_->has_request_in_flight();
}

void DiskStore::delete_checkpointer(Checkpointer* checkpointer) {
    delete checkpointer;  // NOLINT(cppcoreguidelines-owning-memory)
}

}  // namespace shoal::storage

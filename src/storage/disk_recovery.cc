// DiskStore::open: recovery of a store directory, one asynchronous step after another.
//
// The index checkpoint, if there is one, is loaded first; the segments it covers are only
// opened and measured, and the rest are read whole and scanned in sequence order, as every
// segment is without a checkpoint (docs/wal_format.md, "Recovery"). A checkpoint that fails
// its checks, or does not match the segments, is set aside and every segment is scanned.
// The latest version of each key wins; an object's pieces are found by its put id, so a piece
// that was rewritten later (by compaction) is found where it was written last. What no live
// object needs is garbage for compaction. Damage is logged, counted and left on disk.
#include <algorithm>

#include <fmt/format.h>

#include "shoal/storage/index_checkpoint.h"
#include "shoal/storage/segment_scan.h"
#include "storage/disk_store_state.h"

namespace shoal::storage {

class DiskStore::Recovery {
public:
    Recovery(DiskStore& store, Done done)
        : store_(store), done_(std::move(done)), counters_at_start_(store.counters_) {}

    void start() {
        path_request_ = runtime::DiskPathRequest{
                .kind = runtime::DiskPathRequest::Kind::kMakeDirectory,
                .path = store_.options_.directory,
                .done = [this](runtime::DiskPathRequest&, const Status& status) {
                    if (!status.is_ok()) return fail(status);
                    sync_parent();
                }};
        store_.disk_.path_request(path_request_);
    }

    // A directory made at first start is durable only once its parent is synced.
    void sync_parent() {
        const std::string& directory = store_.options_.directory;
        const size_t slash = directory.find_last_of('/');
        std::string parent = ".";
        if (slash == 0) parent = "/";
        if (slash != std::string::npos && slash > 0) parent = directory.substr(0, slash);
        path_request_ = runtime::DiskPathRequest{
                .kind = runtime::DiskPathRequest::Kind::kSyncDirectory,
                .path = std::move(parent),
                .done = [this](runtime::DiskPathRequest&, const Status& status) {
                    if (!status.is_ok()) return fail(status);
                    list();
                }};
        store_.disk_.path_request(path_request_);
    }

private:
    // The latest record seen for a key.
    struct Latest {
        bool is_tombstone = false;
        Version version;
        RecordLocation location;
        PutId put{};
        uint64_t object_bytes = 0;
        uint64_t digest = 0;
        uint32_t piece_count = 0;
        std::string damage;  // From a checkpoint: the object was already found damaged.
    };

    void list() {
        path_request_ = runtime::DiskPathRequest{
                .kind = runtime::DiskPathRequest::Kind::kList,
                .path = store_.options_.directory,
                .done = [this](runtime::DiskPathRequest& request, const Status& status) {
                    if (!status.is_ok()) return fail(status);
                    bool has_checkpoint = false;
                    for (const std::string& name : request.names) {
                        const uint64_t sequence = parse_segment_file_name(name);
                        if (sequence != 0) sequences_.push_back(sequence);
                        if (name == kCheckpointFileName) has_checkpoint = true;
                    }
                    if (has_checkpoint && store_.options_.checkpoint_interval_bytes != 0) {
                        return open_checkpoint();
                    }
                    open_next();
                }};
        store_.disk_.path_request(path_request_);
    }

    void open_checkpoint() {
        open_ = runtime::DiskOpen{
                .path = fmt::format("{}/{}", store_.options_.directory, kCheckpointFileName),
                .mode = runtime::OpenMode::kRead,
                .done = [this](runtime::DiskOpen& open, const Status& status) {
                    if (!status.is_ok()) return set_checkpoint_aside(status.message());
                    checkpoint_file_ = open.file;
                    checkpoint_is_open_ = true;
                    measure_checkpoint();
                }};
        store_.disk_.open(open_);
    }

    void measure_checkpoint() {
        size_ = runtime::DiskFileSize{
                .file = checkpoint_file_,
                .done = [this](runtime::DiskFileSize& request, const Status& status) {
                    if (!status.is_ok()) return set_checkpoint_aside(status.message());
                    if (request.size > kCheckpointFileBytesMax) {
                        return set_checkpoint_aside(
                                fmt::format("{} bytes, over the {} recovery reads",
                                            request.size,
                                            kCheckpointFileBytesMax));
                    }
                    read_checkpoint(request.size);
                }};
        store_.disk_.file_size(size_);
    }

    void read_checkpoint(uint64_t file_bytes) {
        contents_ = Buffer(file_bytes);
        read_ = runtime::DiskRead{.file = checkpoint_file_,
                                  .offset = 0,
                                  .target = contents_.mutable_view(),
                                  .done = [this](runtime::DiskRead& request, const Status& status) {
                                      if (!status.is_ok()) {
                                          return set_checkpoint_aside(status.message());
                                      }
                                      contents_.resize(request.read_bytes);
                                      load_checkpoint();
                                  }};
        store_.disk_.read(read_);
    }

    void load_checkpoint() {
        const Status decoded = decode_checkpoint(
                contents_.view(), checkpoint_, [this](const CheckpointEntry& entry) {
                    load_entry(entry);
                    return Status::ok();
                });
        contents_ = Buffer();
        if (!decoded.is_ok()) return set_checkpoint_aside(decoded.message());
        store_.disk_.close(checkpoint_file_);
        checkpoint_is_open_ = false;
        for (const CheckpointSegment& segment : checkpoint_.segments) {
            covered_.emplace(segment.sequence, segment.bytes);
        }
        store_.lsn_last_ = std::max(store_.lsn_last_, checkpoint_.lsn_last);
        store_.put_last_ = std::max(store_.put_last_, checkpoint_.put_last);
        use_checkpoint_ = true;
        open_next();
    }

    // An entry whose record the scan will read again is left to the scan: it may not have
    // become durable. Its pieces are kept either way: a commit the scan finds may have its
    // pieces in a segment before replay_from.
    void load_entry(const CheckpointEntry& entry) {
        store_.put_last_ = std::max(store_.put_last_, to_u64(entry.put));
        for (uint32_t index = 0; index < entry.pieces.size(); ++index) {
            pieces_[entry.put][index] = entry.pieces[index];
        }
        if (entry.location.segment >= checkpoint_.replay_from) return;
        Latest latest{.is_tombstone = entry.is_tombstone,
                      .version = entry.version,
                      .location = entry.location,
                      .put = entry.put,
                      .object_bytes = entry.object_bytes,
                      .digest = entry.digest,
                      .piece_count = entry.piece_count,
                      .damage = std::string(entry.damage)};
        // Entries come in key order, so the hint makes loading a large index cheap.
        auto loaded = latest_.emplace_hint(latest_.end(), std::string(entry.key), latest);
        if (loaded->second.version < latest.version) loaded->second = std::move(latest);
    }

    void set_checkpoint_aside(std::string_view reason) {
        if (checkpoint_is_open_) store_.disk_.close(checkpoint_file_);
        checkpoint_is_open_ = false;
        contents_ = Buffer();
        latest_.clear();
        pieces_.clear();
        report_set_aside(reason);
        open_next();
    }

    void report_set_aside(std::string_view reason) {
        store_.counters_.checkpoints_set_aside += 1;
        store_.log_.warn("checkpoint_not_used directory={} reason=\"{}\"",
                         store_.options_.directory,
                         reason);
    }

    // A segment the checkpoint covers is taken as it lists it, without reading it.
    void take_covered(uint64_t file_bytes) {
        auto listed = covered_.find(current_);
        if (listed == covered_.end() || listed->second != file_bytes) {
            store_.disk_.close(file_);
            return fall_back(
                    fmt::format("segment {} of {} bytes is not as it lists", current_, file_bytes));
        }
        store_.segments_.emplace(current_,
                                 Segment{.file = file_,
                                         .is_open = true,
                                         .bytes = file_bytes,
                                         .live_bytes = 0,
                                         .filled_bytes = file_bytes});
        open_next();
    }

    // Every record the index will point to must lie inside a segment that is there.
    Status check_consistency() const {
        auto check = [this](const RecordLocation& location) {
            auto segment = store_.segments_.find(location.segment);
            return segment != store_.segments_.end() &&
                   location.offset + location.record_bytes <= segment->second.bytes;
        };
        for (const auto& [key, latest] : latest_) {
            if (!check(latest.location)) {
                return Status::corruption(
                        fmt::format("a record at segment {} offset {} is not there",
                                    latest.location.segment,
                                    latest.location.offset));
            }
            if (latest.is_tombstone || latest.piece_count == 0 || !latest.damage.empty()) continue;
            const auto pieces = pieces_.find(latest.put);
            for (uint32_t index = 0; index < latest.piece_count; ++index) {
                if (pieces == pieces_.end() || !pieces->second.contains(index) ||
                    !check(pieces->second.at(index))) {
                    return Status::corruption(fmt::format(
                            "piece {} of put {} is not there", index, to_u64(latest.put)));
                }
            }
        }
        return Status::ok();
    }

    // Starts over without the checkpoint. Nothing was published yet; what was found so far is
    // forgotten and found again.
    void fall_back(std::string_view reason) {
        for (auto& [sequence, segment] : store_.segments_) {
            if (segment.is_open) store_.disk_.close(segment.file);
        }
        store_.segments_.clear();
        const uint64_t torn_tails = store_.counters_.torn_tails;
        store_.counters_ = counters_at_start_;
        store_.counters_.torn_tails = torn_tails;
        report_set_aside(reason);
        store_.lsn_last_ = 0;
        store_.put_last_ = 0;
        store_.appended_since_checkpoint_ = 0;
        latest_.clear();
        pieces_.clear();
        use_checkpoint_ = false;
        reusable_ = false;
        next_ = 0;
        open_next();
    }

    void open_next() {
        if (next_ >= sequences_.size()) return finish();
        current_ = sequences_[next_];
        next_ += 1;
        open_ = runtime::DiskOpen{.path = store_.segment_path(current_),
                                  .mode = runtime::OpenMode::kReadWrite,
                                  .done = [this](runtime::DiskOpen& open, const Status& status) {
                                      if (!status.is_ok()) return fail(status);
                                      file_ = open.file;
                                      measure();
                                  }};
        store_.disk_.open(open_);
    }

    void measure() {
        size_ = runtime::DiskFileSize{
                .file = file_,
                .done = [this](runtime::DiskFileSize& request, const Status& status) {
                    if (!status.is_ok()) return fail(status);
                    if (use_checkpoint_ && current_ < checkpoint_.replay_from) {
                        return take_covered(request.size);
                    }
                    if (request.size > kSegmentFileBytesMax) {
                        report_unreadable(request.size,
                                          fmt::format("{} bytes, over the {} a segment may hold",
                                                      request.size,
                                                      kSegmentFileBytesMax));
                        return open_next();
                    }
                    read(request.size);
                }};
        store_.disk_.file_size(size_);
    }

    void read(uint64_t file_bytes) {
        contents_ = Buffer(file_bytes);
        read_ = runtime::DiskRead{.file = file_,
                                  .offset = 0,
                                  .target = contents_.mutable_view(),
                                  .done = [this](runtime::DiskRead& request, const Status& status) {
                                      // One bad sector must not keep the node from starting.
                                      if (!status.is_ok()) {
                                          report_unreadable(contents_.size(), status.message());
                                          contents_ = Buffer();
                                          return open_next();
                                      }
                                      contents_.resize(request.read_bytes);
                                      scan();
                                  }};
        store_.disk_.read(read_);
    }

    void scan() {
        Result<SegmentScan> scanned = scan_segment(contents_.view());
        if (!scanned.is_ok() && next_ == sequences_.size() && is_all_zero(contents_.view())) {
            return remove_interrupted_segment();
        }
        if (!scanned.is_ok()) {
            report_unreadable(contents_.size(), scanned.status().message());
            contents_ = Buffer();
            return open_next();
        }
        const SegmentScan& segment = scanned.value();
        store_.counters_.segments_replayed += 1;
        store_.appended_since_checkpoint_ += contents_.size();
        store_.segments_.emplace(current_,
                                 Segment{.file = file_,
                                         .is_open = true,
                                         .bytes = contents_.size(),
                                         .live_bytes = 0,
                                         .filled_bytes = contents_.size()});
        for (const Record& record : segment.records) {
            apply(record);
        }
        for (const CorruptRange& range : segment.corrupt) {
            report_corrupt(range);
        }
        const bool is_last = next_ == sequences_.size();
        reusable_ = false;
        if (segment.tail == TailKind::kTorn && !is_last) {
            // Sealed segments are synced before the next is used: this is damage, not a crash.
            report_corrupt(CorruptRange{.offset = segment.end_offset,
                                        .bytes = contents_.size() - segment.end_offset,
                                        .reason = "a torn tail in a sealed segment"});
        }
        const uint64_t end_offset = segment.end_offset;
        const bool torn = segment.tail == TailKind::kTorn;
        contents_ = Buffer();
        if (is_last && segment.tail != TailKind::kCorrupt &&
            end_offset < store_.options_.segment_bytes) {
            reusable_ = true;
            reuse_offset_ = end_offset;
        }
        if (is_last && torn) return truncate_torn_tail(end_offset);
        open_next();
    }

    // The torn write was never acknowledged; cut it off, durably, before appending after it.
    void truncate_torn_tail(uint64_t end_offset) {
        store_.counters_.torn_tails += 1;
        store_.log_.warn("torn_tail_truncated segment={} offset={}", current_, end_offset);
        Segment& segment = store_.segments_.at(current_);
        segment.bytes = end_offset;
        segment.filled_bytes = end_offset;
        truncate_ = runtime::DiskTruncate{
                .file = file_,
                .size = end_offset,
                .done = [this](runtime::DiskTruncate&, const Status& status) {
                    if (!status.is_ok()) return fail(status);
                    sync_ = runtime::DiskSync{
                            .file = file_,
                            .done = [this](runtime::DiskSync&, const Status& synced) {
                                if (!synced.is_ok()) return fail(synced);
                                open_next();
                            }};
                    store_.disk_.sync(sync_);
                }};
        store_.disk_.truncate(truncate_);
    }

    void apply(const Record& record) {
        store_.lsn_last_ = std::max(store_.lsn_last_, to_u64(record.lsn));
        const RecordLocation location{
                .segment = current_,
                .offset = static_cast<uint64_t>(record.body.data() - contents_.data()) -
                          kRecordHeaderBytes,
                .record_bytes = static_cast<uint32_t>(record.bytes),
                .data_bytes = 0};
        Status status = Status::ok();
        switch (record.kind) {
            case RecordKind::kObjectPiece:
                status = apply_piece(record, location);
                break;
            case RecordKind::kObjectCommit:
                status = apply_commit(record, location);
                break;
            case RecordKind::kTombstone:
                status = apply_tombstone(record, location);
                break;
        }
        if (!status.is_ok()) {
            report_corrupt(CorruptRange{.offset = location.offset,
                                        .bytes = location.record_bytes,
                                        .reason = status.message()});
        }
    }

    Status apply_piece(const Record& record, RecordLocation location) {
        SHOAL_TRY_ASSIGN(const PieceBody piece, decode_piece_body(record.body));
        store_.put_last_ = std::max(store_.put_last_, to_u64(piece.put));
        location.data_bytes = static_cast<uint32_t>(piece.data.size());
        pieces_[piece.put][piece.index] = location;
        return Status::ok();
    }

    Status apply_commit(const Record& record, RecordLocation location) {
        SHOAL_TRY_ASSIGN(const CommitBody commit, decode_commit_body(record.body));
        store_.put_last_ = std::max(store_.put_last_, to_u64(commit.put));
        location.data_bytes = static_cast<uint32_t>(commit.inline_data.size());
        keep_latest(commit.key,
                    Latest{.is_tombstone = false,
                           .version = commit.version,
                           .location = location,
                           .put = commit.put,
                           .object_bytes = commit.object_bytes,
                           .digest = commit.digest,
                           .piece_count = commit.piece_count});
        return Status::ok();
    }

    Status apply_tombstone(const Record& record, RecordLocation location) {
        SHOAL_TRY_ASSIGN(const TombstoneBody tombstone, decode_tombstone_body(record.body));
        keep_latest(
                tombstone.key,
                Latest{.is_tombstone = true, .version = tombstone.version, .location = location});
        return Status::ok();
    }

    // A later record of the same version (a copy made by compaction) wins too.
    void keep_latest(std::string_view key, const Latest& latest) {
        auto found = latest_.find(key);
        if (found == latest_.end()) {
            latest_.emplace(std::string(key), latest);
        } else if (latest.version >= found->second.version) {
            found->second = latest;
        }
    }

    void report_corrupt(const CorruptRange& range) {
        store_.counters_.corrupt_ranges += 1;
        store_.counters_.corrupt_bytes += range.bytes;
        store_.log_.error("segment_corrupt segment={} offset={} bytes={} reason=\"{}\"",
                          current_,
                          range.offset,
                          range.bytes,
                          range.reason);
    }

    static bool is_all_zero(ByteView bytes) {
        return std::all_of(
                bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
    }

    // The last segment is empty or zeros: the node stopped between creating it and writing its
    // header, so nothing in it was ever acknowledged.
    void remove_interrupted_segment() {
        store_.disk_.close(file_);
        store_.log_.info(
                "segment_creation_interrupted segment={} bytes={}", current_, contents_.size());
        contents_ = Buffer();
        path_request_ = runtime::DiskPathRequest{
                .kind = runtime::DiskPathRequest::Kind::kRemove,
                .path = store_.segment_path(current_),
                .done = [this](runtime::DiskPathRequest&, const Status& status) {
                    if (!status.is_ok()) return fail(status);
                    sequences_.pop_back();
                    next_ -= 1;
                    open_next();
                }};
        store_.disk_.path_request(path_request_);
    }

    void report_unreadable(uint64_t file_bytes, std::string_view reason) {
        store_.disk_.close(file_);
        store_.counters_.corrupt_ranges += 1;
        store_.counters_.corrupt_bytes += file_bytes;
        store_.log_.error("segment_unreadable segment={} bytes={} reason=\"{}\"",
                          current_,
                          file_bytes,
                          reason);
    }

    std::shared_ptr<DiskObject> assemble(const Latest& latest) {
        auto object = std::make_shared<DiskObject>();
        object->version = latest.version;
        object->object_bytes = latest.object_bytes;
        object->digest = latest.digest;
        object->put = latest.put;
        object->commit = latest.location;
        object->damage = latest.damage;
        if (latest.piece_count == 0 || !latest.damage.empty()) return object;
        const auto found = pieces_.find(latest.put);
        uint64_t data_bytes = 0;
        for (uint32_t index = 0; index < latest.piece_count; ++index) {
            if (found == pieces_.end() || !found->second.contains(index)) {
                object->damage = fmt::format("storage: piece {} of {} was lost to corruption",
                                             index,
                                             latest.piece_count);
                continue;
            }
            object->pieces.push_back(found->second.at(index));
            data_bytes += object->pieces.back().data_bytes;
        }
        if (object->damage.empty() && data_bytes != latest.object_bytes) {
            object->damage = fmt::format("storage: the pieces hold {} bytes, the commit says {}",
                                         data_bytes,
                                         latest.object_bytes);
        }
        return object;
    }

    // What recovery found may have been only in the page cache of a process that was killed:
    // the segment it appends to and the directory are synced before anything new is
    // acknowledged on top of them. Earlier segments were synced before they were sealed.
    void finish() {
        const auto last = store_.segments_.empty() ? store_.segments_.end()
                                                   : std::prev(store_.segments_.end());
        if (last == store_.segments_.end()) return sync_directory();
        sync_ = runtime::DiskSync{.file = last->second.file,
                                  .done = [this](runtime::DiskSync&, const Status& status) {
                                      if (!status.is_ok()) return fail(status);
                                      sync_directory();
                                  }};
        store_.disk_.sync(sync_);
    }

    void sync_directory() {
        path_request_ = runtime::DiskPathRequest{
                .kind = runtime::DiskPathRequest::Kind::kSyncDirectory,
                .path = store_.options_.directory,
                .done = [this](runtime::DiskPathRequest&, const Status& status) {
                    if (!status.is_ok()) return fail(status);
                    measure_free_space();
                }};
        store_.disk_.path_request(path_request_);
    }

    // The disk reserve needs to know the free space before the first put.
    void measure_free_space() {
        path_request_ = runtime::DiskPathRequest{
                .kind = runtime::DiskPathRequest::Kind::kFreeSpace,
                .path = store_.options_.directory,
                .done = [this](runtime::DiskPathRequest& request, const Status& status) {
                    if (!status.is_ok()) return fail(status);
                    store_.free_bytes_ = request.free_bytes;
                    store_.total_bytes_ = request.total_bytes;
                    publish();
                }};
        store_.disk_.path_request(path_request_);
    }

    void publish() {
        if (use_checkpoint_) {
            if (Status consistent = check_consistency(); !consistent.is_ok()) {
                return fall_back(consistent.message());
            }
        }
        store_.counters_.recovered_from_checkpoint = use_checkpoint_;
        for (auto& [key, latest] : latest_) {
            if (latest.is_tombstone) {
                store_.publish_tombstone(key, latest.version, latest.location);
                continue;
            }
            std::shared_ptr<DiskObject> object = assemble(latest);
            if (!object->damage.empty()) {
                store_.log_.error("object_damaged put={} version={} reason=\"{}\"",
                                  to_u64(object->put),
                                  object->version.hlc,
                                  object->damage);
            }
            store_.publish_object(key, std::move(object));
        }
        const uint64_t sequence_max = sequences_.empty() ? 0 : sequences_.back();
        store_.append_segment_ = reusable_ ? sequence_max : sequence_max + 1;
        store_.append_offset_ = reusable_ ? reuse_offset_ : 0;
        store_.opened_ = true;
        store_.log_.info(
                "store_recovered directory={} segments={} replayed={} checkpoint={} objects={} "
                "lsn={}",
                store_.options_.directory,
                store_.segments_.size(),
                store_.counters_.segments_replayed,
                use_checkpoint_ ? "used" : "none",
                store_.objects_,
                store_.lsn_last_);
        complete(Status::ok());
    }

    void fail(const Status& status) {
        complete(Status::from_code(status.code(),
                                   fmt::format("storage: cannot recover {}: {}",
                                               store_.options_.directory,
                                               status.message())));
    }

    // The store destroys this recovery on a later turn.
    void complete(Status status) {
        store_.recovery_finished_ = true;
        Done done = std::move(done_);
        done(std::move(status));
    }

    DiskStore& store_;
    Done done_;
    DiskStoreStats counters_at_start_;
    bool use_checkpoint_ = false;
    CheckpointHeader checkpoint_;
    std::map<uint64_t, uint64_t> covered_;  // Segment to its size, as the checkpoint lists.
    std::vector<uint64_t> sequences_;       // Sorted: kList returns names in order.
    size_t next_ = 0;
    uint64_t current_ = 0;
    runtime::FileId file_{};
    runtime::FileId checkpoint_file_{};
    bool checkpoint_is_open_ = false;
    Buffer contents_;
    bool reusable_ = false;  // The last segment takes appends at reuse_offset_.
    uint64_t reuse_offset_ = 0;
    std::map<std::string, Latest, std::less<>> latest_;
    std::map<PutId, std::map<uint32_t, RecordLocation>> pieces_;
    runtime::DiskPathRequest path_request_;
    runtime::DiskOpen open_;
    runtime::DiskFileSize size_;
    runtime::DiskRead read_;
    runtime::DiskTruncate truncate_;
    runtime::DiskSync sync_;
};

void DiskStore::open(Done done) {
    SHOAL_ASSERT(!opened_);
    SHOAL_ASSERT(recovery_ == nullptr);
    recovery_.reset(
            new Recovery(*this, std::move(done)));  // NOLINT(cppcoreguidelines-owning-memory)
    recovery_->start();
}

void DiskStore::delete_recovery(Recovery* recovery) {
    delete recovery;  // NOLINT(cppcoreguidelines-owning-memory)
}

}  // namespace shoal::storage

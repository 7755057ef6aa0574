#include "shoal/storage/disk_store.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "shoal/base/coding.h"
#include "shoal/base/limits.h"
#include "shoal/base/units.h"
#include "shoal/storage/wal_record.h"
#include "storage/disk_store_state.h"

namespace shoal::storage {
namespace {

enum FlushStage : uint8_t {
    kOpenStage,
    kZeroFillStage,
    kWriteStage,
    kSyncStage,
    kSyncDirectoryStage,
    kDoneStage,
};

constexpr uint64_t kSegmentBytesMin = uint64_t{64} << 10;

// The largest batch buffer kept for the next flush: a turn of small puts fits, and a turn that
// took a big object does not pin its memory.
constexpr size_t kSpareBytesMax = size_t{4} << 20;

// Under fsync "always", small batches go into blocks zero-filled ahead of them: an fdatasync
// that neither grows the file nor allocates blocks writes no inode and costs about 40% less
// here (ext4). Big batches are left to extend the file, as zero fill would write them twice.
constexpr size_t kZeroFillAheadBytes = size_t{4} << 20;
constexpr size_t kZeroFillBatchBytesMax = size_t{256} << 10;

uint64_t align_up_to_block(uint64_t offset) {
    return (offset + runtime::kDiskBlockBytes - 1) / runtime::kDiskBlockBytes *
           runtime::kDiskBlockBytes;
}

// Object bytes are the tail of every record body that carries them (record_body.h).
ByteView record_data(ByteView record, uint32_t data_bytes) {
    const uint32_t body_bytes = decode_fixed32(record.data() + 8);
    SHOAL_ASSERT(body_bytes >= data_bytes);
    return record.subspan(kRecordHeaderBytes + body_bytes - data_bytes, data_bytes);
}

}  // namespace

std::string segment_file_name(uint64_t sequence) {
    return fmt::format("segment-{:016x}.wal", sequence);
}

uint64_t parse_segment_file_name(std::string_view name) {
    constexpr std::string_view kPrefix = "segment-";
    constexpr std::string_view kSuffix = ".wal";
    if (name.size() != kPrefix.size() + 16 + kSuffix.size()) return 0;
    if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return 0;
    const std::optional<uint64_t> sequence =
            parse_whole_number(name.substr(kPrefix.size(), 16), /*base=*/16);
    // Only the exact spelling the store writes (lowercase) names a segment.
    if (!sequence.has_value() || segment_file_name(*sequence) != name) return 0;
    return *sequence;
}

Result<FsyncSetting> parse_fsync_setting(std::string_view text) {
    if (text == "always") return FsyncSetting{.policy = FsyncPolicy::kAlways};
    if (text == "never") return FsyncSetting{.policy = FsyncPolicy::kNever};
    constexpr std::string_view kInterval = "interval:";
    if (text.starts_with(kInterval)) {
        const std::optional<uint64_t> milliseconds =
                parse_whole_number(text.substr(kInterval.size()));
        if (milliseconds.has_value() && *milliseconds > 0 && *milliseconds <= 60'000) {
            return FsyncSetting{.policy = FsyncPolicy::kInterval,
                                .interval_ms = static_cast<uint32_t>(*milliseconds)};
        }
    }
    return Status::invalid_argument(fmt::format(
            "storage.fsync: \"{}\" is not \"always\", \"never\" or \"interval:<1..60000 ms>\"",
            text));
}

Status DiskStore::Options::validate() const {
    if (directory.empty()) return Status::invalid_argument("storage.data_dir is empty");
    if (segment_bytes < kSegmentBytesMin || segment_bytes > kSegmentFileBytesMax) {
        return Status::invalid_argument(
                fmt::format("storage.segment_bytes: {} is not within {} and {}",
                            format_bytes(segment_bytes),
                            format_bytes(kSegmentBytesMin),
                            format_bytes(kSegmentFileBytesMax)));
    }
    if (segment_bytes % runtime::kDiskBlockBytes != 0) {
        return Status::invalid_argument(
                fmt::format("storage.segment_bytes: {} is not a multiple of {} bytes",
                            segment_bytes,
                            runtime::kDiskBlockBytes));
    }
    if (fsync.policy == FsyncPolicy::kInterval && fsync.interval_ms == 0) {
        return Status::invalid_argument("storage.fsync: the interval is 0 ms");
    }
    if (tick_ms == 0) return Status::invalid_argument("storage: tick_ms is 0");
    if (compaction_garbage_percent > 95) {
        return Status::invalid_argument(fmt::format(
                "storage.compaction_garbage_percent: {} is over 95 (0 turns compaction off)",
                compaction_garbage_percent));
    }
    if (write_backlog_bytes_max < uint64_t{2} * kRecordBodyBytesMax) {
        return Status::invalid_argument("storage: write_backlog_bytes_max is under 2 records");
    }
    return Status::ok();
}

DiskStore::DiskStore(const Options& options, runtime::Disk& disk, spdlog::logger& log)
    : options_(options), disk_(disk), log_(log), cache_(options.cache_bytes) {
    SHOAL_ASSERT(options.validate().is_ok());
}

DiskStore::~DiskStore() {
    for (auto& [sequence, segment] : segments_) {
        if (segment.is_open) disk_.close(segment.file);
    }
}

Status DiskStore::check_writable() const {
    SHOAL_ASSERT(opened_);
    return writes_stopped_;
}

Lsn DiskStore::next_lsn() {
    lsn_last_ += 1;
    return Lsn{lsn_last_};
}

Result<PutId> DiskStore::begin_put(std::string_view key,
                                   uint64_t object_bytes_hint,
                                   Temperature temperature) {
    SHOAL_TRY(check_writable());
    const uint64_t free_bytes = free_bytes_estimate();
    const uint64_t needed_bytes =
            object_bytes_hint > limits::kObjectBytesMax ? 0 : object_bytes_hint;
    if (free_bytes < reserve_bytes() || free_bytes - reserve_bytes() < needed_bytes) {
        return Status::resource_exhausted(
                fmt::format("storage: no space: {} free on the disk of {}, {} kept in reserve",
                            format_bytes(free_bytes),
                            options_.directory,
                            format_bytes(reserve_bytes())));
    }
    SHOAL_ASSERT(key.size() >= limits::kKeyBytesMin && key.size() <= limits::kStoreKeyBytesMax);
    put_last_ += 1;
    const PutId put{put_last_};
    const bool inserted =
            puts_.emplace(put, OpenPut{.key = std::string(key), .temperature = temperature}).second;
    SHOAL_ASSERT(inserted);
    return put;
}

void DiskStore::append(PutId put, ByteView data) {
    auto found = puts_.find(put);
    SHOAL_ASSERT(found != puts_.end());
    SHOAL_ASSERT(data.size() <= limits::kDataFrameBytesMax);
    if (!writes_stopped_.is_ok()) return;  // The commit will fail; nothing more is written.
    OpenPut& open = found->second;
    const PieceBody piece{.put = put, .index = static_cast<uint32_t>(open.pieces.size())};
    Buffer head;
    encode_piece_head(piece, head);
    const Lsn lsn = next_lsn();
    const RecordLocation location = append_record(
            lsn, RecordKind::kObjectPiece, head.view(), data, static_cast<uint32_t>(data.size()));
    open.pieces.push_back(location);
    open.object_bytes += data.size();
    if (open.temperature == Temperature::kCold) {
        note_uncached(location);
    } else {
        filling_.back().read_from_file = true;
    }
}

Status DiskStore::commit(
        PutId put, ByteView last_data, Version version, uint64_t digest, Done done) {
    auto found = puts_.find(put);
    SHOAL_ASSERT(found != puts_.end());
    if (Status writable = check_writable(); !writable.is_ok()) {
        puts_.erase(found);  // Closed either way.
        return writable;
    }
    if (!found->second.pieces.empty() && !last_data.empty()) append(put, last_data);
    OpenPut open = std::move(found->second);
    puts_.erase(found);

    auto object = std::make_shared<DiskObject>();
    object->version = version;
    object->digest = digest;
    object->put = put;
    const bool is_inline = open.pieces.empty();
    object->object_bytes = is_inline ? last_data.size() : open.object_bytes;
    CommitBody body{.put = put,
                    .version = version,
                    .object_bytes = object->object_bytes,
                    .digest = digest,
                    .piece_count = static_cast<uint32_t>(open.pieces.size()),
                    .key = open.key,
                    .inline_data = is_inline ? last_data : ByteView{}};
    Buffer head;
    encode_commit_head(body, head);
    object->commit = append_record(next_lsn(),
                                   RecordKind::kObjectCommit,
                                   head.view(),
                                   body.inline_data,
                                   static_cast<uint32_t>(body.inline_data.size()));
    object->pieces = std::move(open.pieces);
    // Until the commit is durable its object is not indexed: compaction must leave it alone.
    committing_keys_.insert(open.key);
    committing_segments_.insert(object->commit.segment);
    for (const RecordLocation& piece : object->pieces) {
        committing_segments_.insert(piece.segment);
    }
    // Small objects are kept hot from the start: they are what a cache is for.
    std::shared_ptr<const Buffer> cached;
    if (is_inline && is_cacheable(object->commit)) cached = appended_copy(object->commit);
    if (is_inline && cached == nullptr && !body.inline_data.empty()) {
        filling_.back().read_from_file = true;
    }
    filling_done_.push_back(Completion{
            .apply =
                    [this, key = std::move(open.key), object, cached]() mutable {
                        committing_keys_.erase(committing_keys_.find(key));
                        unpin_committing(object->commit.segment);
                        for (const RecordLocation& piece : object->pieces) {
                            unpin_committing(piece.segment);
                        }
                        const RecordLocation commit = object->commit;
                        // A stale commit (a newer version is in place) is dead: not cached.
                        if (publish_object(std::move(key), std::move(object)) &&
                            cached != nullptr) {
                            cache_.insert({commit.segment, commit.offset}, std::move(cached));
                        }
                    },
            .done = std::move(done),
    });
    return Status::ok();
}

void DiskStore::abandon(PutId put) {
    const size_t erased = puts_.erase(put);
    SHOAL_ASSERT(erased == 1);
}

Status DiskStore::remove(std::string_view key, Version version, Done done) {
    SHOAL_TRY(check_writable());
    // A put of the key committed in this or an earlier turn but not yet durable counts too.
    if (find(key) == nullptr && !committing_keys_.contains(key)) {
        return Status::not_found("no such object");
    }
    Buffer body;
    encode_tombstone_body(TombstoneBody{.version = version, .key = key}, body);
    const RecordLocation location =
            append_record(next_lsn(), RecordKind::kTombstone, body.view(), ByteView{}, 0);
    committing_segments_.insert(location.segment);
    filling_done_.push_back(Completion{
            .apply =
                    [this, key = std::string(key), version, location]() mutable {
                        unpin_committing(location.segment);
                        publish_tombstone(std::move(key), version, location);
                    },
            .done = std::move(done),
    });
    return Status::ok();
}

// A new batch takes the buffer of the last one written, so that a turn's appends do not grow
// a buffer from nothing, copying it a dozen times, on every flush. Under fsync "always" one
// that starts inside the tail block starts with that block's bytes, for writes_past_cache.
void DiskStore::open_batch(uint64_t segment, uint64_t offset, bool creates_segment) {
    Batch& batch = filling_.emplace_back(
            Batch{.segment = segment, .offset = offset, .creates_segment = creates_segment});
    batch.bytes = std::move(spare_bytes_);
    batch.bytes.resize(0);
    spare_bytes_ = Buffer();
    const TailBlock* tail = tail_block_.get();
    if (options_.fsync.policy == FsyncPolicy::kAlways && tail != nullptr &&
        tail->segment == segment && !tail->bytes.empty() &&
        tail->offset + tail->bytes.size() == offset) {
        batch.offset = tail->offset;
        batch.bytes.append(tail->bytes.view());
    }
}

// Called as a batch leaves for the disk, before any padding: its bytes are final.
void DiskStore::remember_tail_block(const Batch& batch) {
    const uint64_t end = batch.offset + batch.bytes.size();
    const uint64_t block = end / runtime::kDiskBlockBytes * runtime::kDiskBlockBytes;
    if (block >= batch.offset) {
        if (tail_block_ == nullptr) tail_block_ = std::make_unique<TailBlock>();
        tail_block_->segment = batch.segment;
        tail_block_->offset = block;
        tail_block_->bytes.resize(0);
        tail_block_->bytes.append(batch.bytes.view().subspan(block - batch.offset));
        return;
    }
    // The batch lies inside one block: it extends the tail known, or none is known.
    if (tail_block_ != nullptr && tail_block_->segment == batch.segment &&
        tail_block_->offset + tail_block_->bytes.size() == batch.offset) {
        tail_block_->bytes.append(batch.bytes.view());
        return;
    }
    tail_block_.reset();
}

// Under fsync "always" a batch that starts at a block (open_batch gave it the tail block's
// bytes) ends at one too, padded with zeros: a page written whole is never read from the disk
// first. Rewriting the block's earlier bytes is safe: they are the same bytes, and a torn
// write keeps whole sectors (docs/wal_format.md).
bool DiskStore::pads_to_block(const Batch& batch) const {
    return options_.fsync.policy == FsyncPolicy::kAlways && !batch.bytes.empty() &&
           batch.offset % runtime::kDiskBlockBytes == 0;
}

// Each such batch waits for the disk anyway, and one whose records gets never read from the
// file (they are cached, cold or tombstones) goes past the page cache: no copy into it and no
// fresh page per block, which on the VMs we measured cost the disk's thread several times the
// direct write.
bool DiskStore::writes_past_cache(const Batch& batch) const {
    return pads_to_block(batch) && !batch.read_from_file;
}

// What the file system had free when last asked, less what was written since.
uint64_t DiskStore::free_bytes_estimate() const {
    return free_bytes_ > appended_since_free_space_ ? free_bytes_ - appended_since_free_space_ : 0;
}

// Adjacent cold records make one range, so that the disk sees them as one big write.
void DiskStore::note_uncached(const RecordLocation& location) {
    Batch& batch = filling_.back();
    SHOAL_ASSERT(batch.segment == location.segment && location.offset >= batch.offset);
    const uint64_t offset = location.offset - batch.offset;
    if (!batch.uncached.empty() &&
        batch.uncached.back().offset + batch.uncached.back().bytes == offset) {
        batch.uncached.back().bytes += location.record_bytes;
        return;
    }
    batch.uncached.push_back(runtime::ByteRange{.offset = offset, .bytes = location.record_bytes});
}

bool DiskStore::is_cacheable(const RecordLocation& location) const {
    return options_.cache_record_bytes_max != 0 &&
           location.data_bytes <= options_.cache_record_bytes_max;
}

std::shared_ptr<const Buffer> DiskStore::appended_copy(const RecordLocation& location) const {
    SHOAL_ASSERT(!filling_.empty() && filling_.back().segment == location.segment);
    const Batch& batch = filling_.back();
    SHOAL_ASSERT(location.offset >= batch.offset);
    return std::make_shared<const Buffer>(
            batch.bytes.view().subspan(location.offset - batch.offset, location.record_bytes));
}

RecordLocation DiskStore::append_record(
        Lsn lsn, RecordKind kind, ByteView body_head, ByteView body_tail, uint32_t data_bytes) {
    SHOAL_ASSERT(opened_);
    const size_t bytes = record_bytes(body_head.size() + body_tail.size());
    if (append_offset_ > kSegmentHeaderBytes && append_offset_ + bytes > options_.segment_bytes) {
        // Seal the segment: whatever the policy, it is synced before the next one is used, so
        // that only the last segment can ever have a torn tail.
        if (filling_.empty() || filling_.back().segment != append_segment_) {
            open_batch(append_segment_, append_offset_, false);
        }
        filling_.back().sync = true;
        append_segment_ += 1;
        append_offset_ = 0;
    }
    if (append_offset_ == 0) {
        segments_.emplace(append_segment_, Segment{});
        open_batch(append_segment_, 0, true);
        encode_segment_header(SegmentHeader{.sequence = append_segment_}, filling_.back().bytes);
        append_offset_ = kSegmentHeaderBytes;
    } else if (filling_.empty() || filling_.back().segment != append_segment_) {
        open_batch(append_segment_, append_offset_, false);
    }
    Batch& batch = filling_.back();
    SHOAL_ASSERT(batch.offset + batch.bytes.size() == append_offset_);
    encode_record(lsn, kind, body_head, body_tail, batch.bytes);
    filling_bytes_ += bytes;
    counters_.write_backlog_bytes_peak =
            std::max(counters_.write_backlog_bytes_peak, filling_bytes_);
    const RecordLocation location{.segment = append_segment_,
                                  .offset = append_offset_,
                                  .record_bytes = static_cast<uint32_t>(bytes),
                                  .data_bytes = data_bytes};
    append_offset_ += bytes;
    // Records written over zero fill take no more of the disk.
    Segment& segment = segments_.at(append_segment_);
    appended_since_free_space_ +=
            append_offset_ - std::clamp(segment.filled_bytes, location.offset, append_offset_);
    appended_since_checkpoint_ += bytes;
    segment.bytes = std::max(segment.bytes, append_offset_);
    return location;
}

void DiskStore::on_turn_end() {
    if (recovery_finished_) {
        recovery_.reset();
        recovery_finished_ = false;
    }
    if (opened_) start_flush();
}

void DiskStore::on_tick() {
    if (!opened_) return;
    ticks_since_free_space_ += 1;
    if (ticks_since_free_space_ >= options_.free_space_refresh_ticks) refresh_free_space();
    drive_compaction();
    drive_checkpoint();
    if (options_.fsync.policy != FsyncPolicy::kInterval || !has_unsynced_) return;
    ticks_since_sync_ += 1;
    if (uint64_t{ticks_since_sync_} * options_.tick_ms >= options_.fsync.interval_ms) {
        sync_due_ = true;
    }
}

void DiskStore::start_flush() {
    if (flush_in_flight_ || !writes_stopped_.is_ok()) return;
    // A write that landed after quiesce() still has to be synced before the store is idle.
    if (quiescing_ && has_unsynced_) sync_due_ = true;
    if (sync_due_ && !segments_.contains(append_segment_)) sync_due_ = false;  // Nothing written.
    if (sync_due_) {
        if (filling_.empty()) open_batch(append_segment_, append_offset_, false);
        filling_.back().sync = true;
        sync_due_ = false;
    }
    if (filling_.empty()) return;
    if (options_.fsync.policy == FsyncPolicy::kAlways) {
        for (const Batch& batch : filling_) {
            remember_tail_block(batch);
        }
    }
    flushing_ = std::move(filling_);
    flushing_done_ = std::move(filling_done_);
    filling_bytes_ = 0;
    filling_.clear();
    filling_done_.clear();
    flush_index_ = 0;
    flush_stage_ = kOpenStage;
    flush_in_flight_ = true;
    flush_step();
}

// One request at a time, batch by batch: create (a new segment), write, sync, sync the
// directory (a new segment), then the next batch. Each completion calls flush_step_done, which
// moves on; a stage with nothing to do is skipped.
void DiskStore::flush_step() {
    while (flush_index_ < flushing_.size()) {
        Batch& batch = flushing_[flush_index_];
        const uint8_t stage = flush_stage_;
        flush_stage_ += 1;
        bool started = false;
        switch (stage) {
            case kOpenStage:
                started = start_create(batch);
                break;
            case kZeroFillStage:
                started = start_zero_fill(batch);
                break;
            case kWriteStage:
                started = start_write(batch);
                break;
            case kSyncStage:
                started = start_sync(batch);
                break;
            case kSyncDirectoryStage:
                started = start_directory_sync(batch);
                break;
            default:
                flush_index_ += 1;
                flush_stage_ = kOpenStage;
                break;
        }
        if (started) return;
    }
    finish_flush();
}

bool DiskStore::start_create(const Batch& batch) {
    if (!batch.creates_segment) return false;
    open_request_ = runtime::DiskOpen{
            .path = segment_path(batch.segment),
            .mode = runtime::OpenMode::kCreateExclusive,
            .done = [this](runtime::DiskOpen& open, const Status& status) {
                if (status.is_ok()) {
                    Segment& opened = segments_.at(flushing_[flush_index_].segment);
                    opened.file = open.file;
                    opened.is_open = true;
                }
                flush_step_done(status, "create");
            }};
    disk_.open(open_request_);
    return true;
}

// The zeros are synced with the batch: its write's sync covers every write completed before.
bool DiskStore::start_zero_fill(const Batch& batch) {
    Segment& segment = segments_.at(batch.segment);
    const uint64_t batch_end = batch.offset + batch.bytes.size();
    segment.filled_bytes = std::max(segment.filled_bytes, batch_end);
    // A sealed segment (batch.sync) takes no more records.
    if (options_.fsync.policy != FsyncPolicy::kAlways || zero_fill_off_ || batch.sync ||
        batch.bytes.empty() || batch.bytes.size() > kZeroFillBatchBytesMax ||
        segment.filled_bytes > batch_end) {
        return false;
    }
    // A padded batch fills its last block with zeros itself: whole blocks from there, which
    // the disk may write past its cache at any size.
    const bool whole_blocks = pads_to_block(batch);
    const uint64_t fill_begin = whole_blocks ? align_up_to_block(batch_end) : batch_end;
    uint64_t fill_end = std::min<uint64_t>(options_.segment_bytes, batch_end + kZeroFillAheadBytes);
    if (whole_blocks) fill_end = fill_end / runtime::kDiskBlockBytes * runtime::kDiskBlockBytes;
    // Zeros must never be what fills the disk: a write that fails stops all writes.
    const uint64_t free_bytes = free_bytes_estimate();
    if (fill_end <= fill_begin || free_bytes < reserve_bytes() ||
        free_bytes - reserve_bytes() < fill_end - batch_end) {
        return false;
    }
    if (zero_fill_.size() < fill_end - fill_begin) {
        zero_fill_ = Buffer(kZeroFillAheadBytes);  // Uninitialized until:
        std::fill(zero_fill_.data(), zero_fill_.data() + zero_fill_.size(), std::byte{0});
    }
    segment.filled_bytes = fill_end;
    segment.bytes = std::max(segment.bytes, fill_end);
    appended_since_free_space_ += fill_end - batch_end;
    // Nobody reads zeros: past the cache, where the disk can.
    zero_fill_range_ = runtime::ByteRange{.offset = 0, .bytes = fill_end - fill_begin};
    write_request_ = runtime::DiskWrite{.file = segment.file,
                                        .offset = fill_begin,
                                        .data = zero_fill_.view().first(fill_end - fill_begin),
                                        .uncached = {&zero_fill_range_, 1},
                                        .done = [this, sequence = batch.segment, batch_end](
                                                        runtime::DiskWrite&, const Status& status) {
                                            zero_fill_done(sequence, batch_end, status);
                                        }};
    disk_.write(write_request_);
    return true;
}

// Zeros are never needed: a failed zero fill (whatever it left is zeros, a clean end) turns
// zero fill off until a restart, and the batch is written as it would have been without it.
void DiskStore::zero_fill_done(uint64_t sequence, uint64_t batch_end, const Status& status) {
    counters_.zero_fill_writes += 1;
    if (!status.is_ok()) {
        zero_fill_off_ = true;
        Segment& segment = segments_.at(sequence);
        segment.filled_bytes = batch_end;
        segment.bytes = sequence == append_segment_ ? append_offset_ : batch_end;
        log_.warn("zero_fill_failed segment={} offset={} reason=\"{}\"",
                  sequence,
                  batch_end,
                  status.message());
    }
    flush_step();
}

bool DiskStore::needs_sync(const Batch& batch) const {
    return options_.fsync.policy == FsyncPolicy::kAlways || batch.sync || batch.creates_segment;
}

// A write that must be synced takes its sync along: one trip to the disk's thread, not two.
bool DiskStore::start_write(Batch& batch) {
    if (batch.bytes.empty()) return false;
    Segment& segment = segments_.at(batch.segment);
    SHOAL_ASSERT(segment.is_open);
    if (pads_to_block(batch)) {
        // Zeros to the block's end: what the log's clean end looks like (docs/wal_format.md).
        const uint64_t end = batch.offset + batch.bytes.size();
        const uint64_t padded_end = align_up_to_block(end);
        batch.bytes.resize(static_cast<size_t>(padded_end - batch.offset));
        std::fill(batch.bytes.data() + (end - batch.offset),
                  batch.bytes.data() + batch.bytes.size(),
                  std::byte{0});
        if (padded_end > segment.filled_bytes) {
            appended_since_free_space_ += padded_end - std::max(segment.filled_bytes, end);
            segment.filled_bytes = padded_end;
        }
        segment.bytes = std::max(segment.bytes, padded_end);
    }
    if (writes_past_cache(batch)) {
        batch.uncached.assign(1, runtime::ByteRange{.offset = 0, .bytes = batch.bytes.size()});
        counters_.uncached_writes += 1;
    }
    const bool sync = needs_sync(batch);
    write_request_ =
            runtime::DiskWrite{.file = segment.file,
                               .offset = batch.offset,
                               .data = batch.bytes.view(),
                               .sync = sync,
                               .uncached = batch.uncached,
                               .done = [this, sync](runtime::DiskWrite&, const Status& status) {
                                   counters_.writes += 1;
                                   has_unsynced_ = true;
                                   if (sync) {
                                       counters_.syncs += 1;
                                       if (status.is_ok()) sync_done();
                                   }
                                   flush_step_done(status, sync ? "write and sync" : "write");
                               }};
    disk_.write(write_request_);
    return true;
}

bool DiskStore::start_sync(const Batch& batch) {
    const Segment& segment = segments_.at(batch.segment);
    // A batch with bytes was synced by its write.
    if (!needs_sync(batch) || !batch.bytes.empty() || !segment.is_open) return false;
    sync_request_ = runtime::DiskSync{.file = segment.file,
                                      .done = [this](runtime::DiskSync&, const Status& status) {
                                          counters_.syncs += 1;
                                          if (status.is_ok()) sync_done();
                                          flush_step_done(status, "sync");
                                      }};
    disk_.sync(sync_request_);
    return true;
}

// A sync of the segment being appended to covers every write still unsynced.
void DiskStore::sync_done() {
    if (flushing_[flush_index_].segment != append_segment_) return;
    has_unsynced_ = false;
    ticks_since_sync_ = 0;
}

// A new segment's directory entry must be durable before anything in it is acknowledged.
bool DiskStore::start_directory_sync(const Batch& batch) {
    if (!batch.creates_segment) return false;
    directory_request_ = runtime::DiskPathRequest{
            .kind = runtime::DiskPathRequest::Kind::kSyncDirectory,
            .path = options_.directory,
            .done = [this](runtime::DiskPathRequest&, const Status& status) {
                flush_step_done(status, "directory sync");
            }};
    disk_.path_request(directory_request_);
    return true;
}

void DiskStore::flush_step_done(const Status& status, std::string_view operation) {
    SHOAL_ASSERT(flush_in_flight_);
    if (!status.is_ok()) {
        const uint64_t segment = flushing_[std::min(flush_index_, flushing_.size() - 1)].segment;
        stop_writes(Status::from_code(
                status.code(),
                fmt::format("failed {} of segment {}: {}", operation, segment, status.message())));
        return;
    }
    flush_step();
}

void DiskStore::finish_flush() {
    flush_in_flight_ = false;
    if (!flushing_.empty() && flushing_.back().bytes.capacity() <= kSpareBytesMax) {
        spare_bytes_ = std::move(flushing_.back().bytes);
    }
    flushing_.clear();
    std::vector<Completion> completions = std::move(flushing_done_);
    flushing_done_.clear();
    for (Completion& completion : completions) {
        completion.apply();
        completion.done(Status::ok());
    }
}

void DiskStore::stop_writes(const Status& cause) {
    writes_stopped_ = Status::io_error(fmt::format("storage: writes stopped: {}", cause.message()));
    counters_.writes_stopped = true;
    log_.error("storage_writes_stopped directory={} reason=\"{}\"",
               options_.directory,
               cause.message());
    flush_in_flight_ = false;
    flushing_.clear();
    filling_.clear();
    filling_bytes_ = 0;
    std::vector<Completion> completions = std::move(flushing_done_);
    for (Completion& completion : filling_done_) {
        completions.push_back(std::move(completion));
    }
    flushing_done_.clear();
    filling_done_.clear();
    for (Completion& completion : completions) {
        completion.done(writes_stopped_);
    }
}

bool DiskStore::publish_object(std::string key, std::shared_ptr<DiskObject> object) {
    hlc_max_ = std::max(hlc_max_, object->version.hlc);
    auto found = index_.find(key);
    // Stale: a later version is already in place, and the object's records are dead.
    if (found != index_.end() && found->second.version > object->version) return false;
    segments_.at(object->commit.segment).live_bytes += object->commit.record_bytes;
    for (const RecordLocation& piece : object->pieces) {
        segments_.at(piece.segment).live_bytes += piece.record_bytes;
    }
    if (!object->damage.empty()) counters_.damaged_objects += 1;
    objects_ += 1;
    object_bytes_ += object->object_bytes;
    IndexEntry entry{.object = std::move(object), .version = {}, .tombstone = {}};
    entry.version = entry.object->version;
    if (found == index_.end()) {
        index_.emplace(std::move(key), std::move(entry));
        return true;
    }
    if (found->second.object != nullptr) {
        retire_object(found->second.object);
    } else {
        retire(found->second.tombstone);
    }
    found->second = std::move(entry);
    return true;
}

void DiskStore::publish_tombstone(std::string key, Version version, RecordLocation location) {
    hlc_max_ = std::max(hlc_max_, version.hlc);
    auto found = index_.find(key);
    if (found != index_.end() && found->second.version > version) return;
    segments_.at(location.segment).live_bytes += location.record_bytes;
    IndexEntry entry{.object = nullptr, .version = version, .tombstone = location};
    if (found == index_.end()) {
        index_.emplace(std::move(key), entry);
        return;
    }
    if (found->second.object != nullptr) {
        retire_object(found->second.object);
    } else {
        retire(found->second.tombstone);
    }
    found->second = entry;
}

void DiskStore::retire(const RecordLocation& location) {
    auto segment = segments_.find(location.segment);
    SHOAL_ASSERT(segment != segments_.end());
    SHOAL_ASSERT(segment->second.live_bytes >= location.record_bytes);
    segment->second.live_bytes -= location.record_bytes;
    // A dead record is never asked for again: its cache room goes to live ones.
    cache_.erase({location.segment, location.offset});
}

// A get may still stream an object that left the index: its segments stay until it goes.
// Only the index holding it (the caller's reference) means no get does: nothing to track, and
// a weak reference kept anyway would hold the object's memory until a compaction looked.
void DiskStore::release(const DiskObjectRef& released) {
    if (released.use_count() <= 1) return;
    std::set<uint64_t> segments{released->commit.segment};
    for (const RecordLocation& piece : released->pieces) {
        segments.insert(piece.segment);
    }
    for (const uint64_t segment : segments) {
        segments_.at(segment).released.push_back(released);
    }
}

void DiskStore::retire_object(const DiskObjectRef& retired) {
    release(retired);
    const DiskObject& object = *retired;
    SHOAL_ASSERT(objects_ > 0);
    SHOAL_ASSERT(object_bytes_ >= object.object_bytes);
    objects_ -= 1;
    object_bytes_ -= object.object_bytes;
    if (!object.damage.empty()) {
        SHOAL_ASSERT(counters_.damaged_objects > 0);
        counters_.damaged_objects -= 1;
    }
    retire(object.commit);
    for (const RecordLocation& piece : object.pieces) {
        retire(piece);
    }
}

void DiskStore::unpin_committing(uint64_t segment) {
    auto pinned = committing_segments_.find(segment);
    SHOAL_ASSERT(pinned != committing_segments_.end());
    committing_segments_.erase(pinned);
}

bool DiskStore::is_segment_referenced(uint64_t sequence) {
    auto segment = segments_.find(sequence);
    if (segment == segments_.end()) return false;
    std::erase_if(segment->second.released,
                  [](const std::weak_ptr<const DiskObject>& object) { return object.expired(); });
    return !segment->second.released.empty();
}

DiskObjectRef DiskStore::find(std::string_view key) const {
    auto found = index_.find(key);
    return found == index_.end() ? nullptr : found->second.object;
}

DiskStore::ListPage DiskStore::list(std::string_view prefix,
                                    std::string_view start_after,
                                    size_t limit) const {
    ListPage page;
    auto entry = index_.upper_bound(start_after);
    if (start_after < prefix) entry = index_.lower_bound(prefix);
    for (; entry != index_.end() && entry->first.starts_with(prefix); ++entry) {
        if (entry->second.object == nullptr) continue;
        if (page.entries.size() == limit) {
            page.truncated = true;
            break;
        }
        page.entries.push_back(
                ListEntry{.key = entry->first, .object = entry->second.object.get()});
    }
    return page;
}

std::optional<PieceData> DiskStore::cached_piece(const DiskObject& object, size_t index) {
    SHOAL_ASSERT(index < object.piece_count());
    const RecordLocation& location = object.is_inline() ? object.commit : object.pieces[index];
    if (!is_cacheable(location)) return std::nullopt;  // Not a miss: it is never kept.
    std::shared_ptr<const Buffer> record = cache_.find({location.segment, location.offset});
    if (record == nullptr) {
        counters_.cache_misses += 1;
        return std::nullopt;
    }
    counters_.cache_hits += 1;
    const ByteView data = record_data(record->view(), location.data_bytes);
    return PieceData{.owner = std::move(record), .data = data};
}

Status DiskStore::read_piece(DiskObjectRef object, size_t index, ReadDone done) {
    SHOAL_ASSERT(object != nullptr);
    SHOAL_ASSERT(index < object->piece_count());
    if (!object->damage.empty()) {
        counters_.corrupt_reads += 1;
        return Status::corruption(object->damage);
    }
    const RecordLocation location = object->is_inline() ? object->commit : object->pieces[index];
    auto segment = segments_.find(location.segment);
    SHOAL_ASSERT(segment != segments_.end());
    SHOAL_ASSERT(segment->second.is_open);
    reads_.push_front(PendingRead{.object = std::move(object),
                                  .index = index,
                                  .location = location,
                                  .record = std::make_shared<Buffer>(location.record_bytes),
                                  .request = {},
                                  .done = std::move(done)});
    auto read = reads_.begin();
    read_bytes_in_flight_ += location.record_bytes;
    counters_.read_bytes_in_flight_peak =
            std::max(counters_.read_bytes_in_flight_peak, read_bytes_in_flight_);
    read->request = runtime::DiskRead{.file = segment->second.file,
                                      .offset = location.offset,
                                      .target = read->record->mutable_view(),
                                      .done = [this, read](runtime::DiskRead&, Status status) {
                                          read_piece_done(read, std::move(status));
                                      }};
    disk_.read(read->request);
    return Status::ok();
}

void DiskStore::read_piece_done(std::list<PendingRead>::iterator read, Status status) {
    PendingRead pending = std::move(*read);
    reads_.erase(read);
    SHOAL_ASSERT(read_bytes_in_flight_ >= pending.location.record_bytes);
    read_bytes_in_flight_ -= pending.location.record_bytes;
    const RecordLocation& location = pending.location;
    const std::string where = fmt::format("storage: piece {} at segment {} offset {}",
                                          pending.index,
                                          location.segment,
                                          location.offset);
    if (!status.is_ok()) {
        pending.done(
                Status::from_code(status.code(), fmt::format("{}: {}", where, status.message())));
        return;
    }
    status = pending.request.read_bytes == location.record_bytes
                     ? check_piece(*pending.object, pending.index, pending.record->view())
                     : Status::corruption("wal: record cut short by the end of its segment");
    if (!status.is_ok()) {
        counters_.corrupt_reads += 1;
        log_.warn("read_corrupt segment={} offset={} reason=\"{}\"",
                  location.segment,
                  location.offset,
                  status.message());
        pending.done(Status::corruption(fmt::format("{}: {}", where, status.message())));
        return;
    }
    if (is_cacheable(location)) {
        cache_.insert({location.segment, location.offset}, pending.record);
    }
    const ByteView data = record_data(pending.record->view(), location.data_bytes);
    pending.done(PieceData{.owner = std::move(pending.record), .data = data});
}

// The record must be the one the index says: whole, checksummed, of the right kind, put and
// index, and carrying the bytes expected.
Status DiskStore::check_piece(const DiskObject& object, size_t index, ByteView record_bytes) const {
    SHOAL_TRY_ASSIGN(const Record record, decode_record(record_bytes));
    if (object.is_inline()) {
        if (record.kind != RecordKind::kObjectCommit) {
            return Status::corruption("wal: not a commit");
        }
        SHOAL_TRY_ASSIGN(const CommitBody commit, decode_commit_body(record.body));
        if (commit.put != object.put || commit.inline_data.size() != object.object_bytes) {
            return Status::corruption("wal: the commit is not the object's");
        }
        return Status::ok();
    }
    if (record.kind != RecordKind::kObjectPiece) return Status::corruption("wal: not a piece");
    SHOAL_TRY_ASSIGN(const PieceBody piece, decode_piece_body(record.body));
    if (piece.put != object.put || piece.index != index ||
        piece.data.size() != object.pieces[index].data_bytes) {
        return Status::corruption("wal: the piece is not the object's");
    }
    return Status::ok();
}

bool DiskStore::is_backlogged() const {
    return filling_bytes_ > options_.write_backlog_bytes_max;
}

void DiskStore::quiesce() {
    quiescing_ = true;
    if (has_unsynced_) sync_due_ = true;
}

bool DiskStore::is_idle() const {
    if (quiescing_ && writes_stopped_.is_ok() && (has_unsynced_ || sync_due_)) return false;
    // Records appended this turn are not durable until the flush at its end.
    if (writes_stopped_.is_ok() && !(filling_.empty() && filling_done_.empty())) return false;
    return !flush_in_flight_ && !free_space_in_flight_ && reads_.empty() &&
           (recovery_ == nullptr || recovery_finished_) && !is_compaction_busy() &&
           !is_checkpoint_busy();
}

DiskStoreStats DiskStore::stats() const {
    DiskStoreStats stats = counters_;
    stats.objects = objects_;
    stats.object_bytes = object_bytes_;
    stats.segments = segments_.size();
    for (const auto& [sequence, segment] : segments_) {
        stats.log_bytes += segment.bytes;
        stats.live_bytes += segment.live_bytes;
    }
    stats.cache_bytes = cache_.used_bytes();
    return stats;
}

uint64_t DiskStore::reserve_bytes() const {
    const uint64_t share = total_bytes_ / 100 * options_.reserve_percent;
    return std::max(options_.reserve_bytes, share);
}

// Appends since the request started are counted against what it reports, so the estimate errs
// toward less free space.
void DiskStore::refresh_free_space() {
    if (free_space_in_flight_) return;
    free_space_in_flight_ = true;
    ticks_since_free_space_ = 0;
    const uint64_t appended_before = appended_since_free_space_;
    free_space_request_ = runtime::DiskPathRequest{
            .kind = runtime::DiskPathRequest::Kind::kFreeSpace,
            .path = options_.directory,
            .done = [this, appended_before](runtime::DiskPathRequest& request,
                                            const Status& status) {
                free_space_in_flight_ = false;
                if (!status.is_ok()) {
                    log_.warn("free_space_unknown directory={} reason=\"{}\"",
                              options_.directory,
                              status.message());
                    return;
                }
                free_bytes_ = request.free_bytes;
                total_bytes_ = request.total_bytes;
                appended_since_free_space_ -= std::min(appended_before, appended_since_free_space_);
            }};
    disk_.path_request(free_space_request_);
}

std::string DiskStore::segment_path(uint64_t sequence) const {
    return options_.directory + "/" + segment_file_name(sequence);
}

}  // namespace shoal::storage

// DiskStore: a node's objects in a log-structured store on disk (storage.mode = "disk").
//
// Append-only segment files are the WAL and the data at once (docs/wal_format.md): a put
// appends piece records as its bytes arrive and a commit record at the end; a delete appends a
// tombstone. An in-RAM index maps each key to where its records are; a RAM cache with a byte
// budget holds hot pieces. Writes are group-committed: everything appended during one loop
// turn goes out at the turn's end in one write, covered by one sync, and only then are the
// puts and deletes of that turn applied to the index and acknowledged (under the default fsync
// policy). A put is therefore visible exactly when it is durable, and a partial one never is.
//
// Recovery (open) loads the index checkpoint (index_checkpoint.h), if there is a usable one,
// and replays the segments written after it in order with the scanner (segment_scan.h); with
// no checkpoint, or one that does not match the segments, it replays them all. A torn tail
// is truncated; corruption before the tail is logged with its segment and offset, counted, and
// the objects that lose a piece to it are kept as damaged (a get fails with kCorruption naming
// what is missing), never returned and never silently dropped.
//
// Failure is fail-stop for writes: after any failed write, sync or segment creation the store
// accepts no more puts or deletes and fails the ones in flight with kIoError; reads go on. An
// fsync error is never retried, since what is durable is then unknown.
//
// Threading and IO: one thread; all IO through runtime::Disk, so the simulator can crash it.
// The store must outlive every request it has in flight: destroy it only once is_idle() holds
// (or after a simulated crash, whose requests never complete).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include "shoal/base/bytes.h"
#include "shoal/base/ids.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/runtime/disk.h"
#include "shoal/storage/read_cache.h"
#include "shoal/storage/record_body.h"
#include "shoal/storage/wal_record.h"

namespace shoal::storage {

struct CheckpointHeader;

enum class FsyncPolicy : uint8_t {
    kAlways,    // Acknowledge after the fdatasync that covers the write.
    kInterval,  // Acknowledge after the write; sync every fsync_interval_ticks.
    kNever,     // Acknowledge after the write; leave syncing to the kernel.
};

// Parses "always", "never" or "interval:<ms>"; the interval is returned in milliseconds.
struct FsyncSetting {
    FsyncPolicy policy = FsyncPolicy::kAlways;
    uint32_t interval_ms = 0;
};
Result<FsyncSetting> parse_fsync_setting(std::string_view text);

// The segment file name for a sequence, "segment-<16 hex digits>.wal", and back (0 for a name
// that is not a segment's).
std::string segment_file_name(uint64_t sequence);
uint64_t parse_segment_file_name(std::string_view name);

// Where a record lies: its segment, its offset in it, and its size with padding.
struct RecordLocation {
    uint64_t segment = 0;
    uint64_t offset = 0;
    uint32_t record_bytes = 0;
    uint32_t data_bytes = 0;  // Object bytes carried (a piece's data, or inline data).
};

// One visible object, as the index knows it. Immutable once published, shared with the gets
// that are streaming it.
struct DiskObject {
    Version version;
    uint64_t object_bytes = 0;
    uint64_t digest = 0;
    PutId put{};
    RecordLocation commit;
    std::vector<RecordLocation> pieces;  // Empty: the data is inline in the commit record.
    std::string damage;                  // Non-empty: a piece was lost to corruption.

    bool is_inline() const { return pieces.empty(); }
    // The number of reads that return the object's data: at least one, even when empty.
    size_t piece_count() const { return is_inline() ? 1 : pieces.size(); }
};

using DiskObjectRef = std::shared_ptr<const DiskObject>;

// A piece's bytes as read: `data` stays valid while `owner` lives.
struct PieceData {
    std::shared_ptr<const Buffer> owner;
    ByteView data;
};

struct DiskStoreStats {
    uint64_t objects = 0;
    uint64_t object_bytes = 0;
    uint64_t segments = 0;
    uint64_t log_bytes = 0;                  // Bytes in all segments.
    uint64_t live_bytes = 0;                 // Of which records that are still needed.
    uint64_t corrupt_ranges = 0;             // Damaged ranges found by recovery.
    uint64_t corrupt_bytes = 0;              // Their size.
    uint64_t corrupt_reads = 0;              // Reads whose bytes failed their checks.
    uint64_t damaged_objects = 0;            // Objects with a piece lost to corruption.
    uint64_t torn_tails = 0;                 // Torn tails truncated by recovery.
    uint64_t compactions = 0;                // Segments compacted and removed.
    uint64_t checkpoints = 0;                // Index checkpoints written.
    uint64_t segments_replayed = 0;          // Segments the last recovery scanned.
    bool recovered_from_checkpoint = false;  // The last recovery started from a checkpoint.
    uint64_t checkpoints_set_aside = 0;      // Found unusable: the segments were scanned.
    uint64_t write_backlog_bytes_peak = 0;   // The most ever appended and waiting for a flush.
    uint64_t read_bytes_in_flight_peak = 0;  // The most piece reads ever held at once.
    uint64_t compaction_bytes_copied = 0;
    uint64_t writes = 0;
    uint64_t zero_fill_writes = 0;  // Zeros written ahead of small synced batches.
    uint64_t uncached_writes = 0;   // Batches of whole blocks sent past the page cache.
    uint64_t syncs = 0;
    uint64_t cache_bytes = 0;
    uint64_t cache_hits = 0;
    uint64_t cache_misses = 0;  // Of records the cache may hold (see cache_record_bytes_max).
    bool writes_stopped = false;
};

// How soon a put's data will likely be read. Parity is cold: only a degraded read or a repair
// reads it, so it is kept out of the page cache, which is left to data that gets read.
enum class Temperature : uint8_t { kWarm, kCold };

class DiskStore {
public:
    struct Options {
        std::string directory;                        // storage.data_dir.
        uint64_t segment_bytes = uint64_t{64} << 20;  // storage.segment_bytes.
        uint64_t cache_bytes = uint64_t{256} << 20;   // storage.cache_bytes.
        // storage.cache_record_bytes_max: records whose data is larger (chunks of big objects,
        // big manifests) are never cached, whether read or newly written; 0 caches nothing.
        // The kernel's page cache holds them anyway, and copying one out of it costs little
        // next to sending it, so a user-space copy would only double their RAM and let one
        // big read push out many small hot records.
        uint64_t cache_record_bytes_max = uint64_t{128} << 10;
        FsyncSetting fsync;                                     // storage.fsync.
        uint32_t tick_ms = 10;                                  // For the fsync interval.
        uint64_t write_backlog_bytes_max = uint64_t{64} << 20;  // Then is_backlogged().
        // storage.disk_reserve_bytes: new puts are refused once the file system's free space
        // would fall under the larger of these, so the disk never fills up under the log.
        uint64_t reserve_bytes = uint64_t{256} << 20;
        uint32_t reserve_percent = 0;
        uint32_t free_space_refresh_ticks = 100;  // How often free space is asked for.
        // storage.compaction_garbage_percent: a sealed segment with at least this share of dead
        // records is compacted (0: never). Checked every compaction_check_ticks.
        uint32_t compaction_garbage_percent = 50;
        uint32_t compaction_check_ticks = 100;
        // storage.checkpoint_interval_bytes: the index is checkpointed once the log has grown
        // by this much (and by 4x the last checkpoint's size) since the last one, so a restart
        // scans only what came after it (0: never; recovery then scans every segment).
        uint64_t checkpoint_interval_bytes = uint64_t{256} << 20;

        Status validate() const;
    };

    using Done = std::function<void(Status status)>;
    using ReadDone = std::function<void(Result<PieceData> piece)>;

    // `disk` and `log` must outlive the store.
    DiskStore(const Options& options, runtime::Disk& disk, spdlog::logger& log);
    ~DiskStore();
    DiskStore(const DiskStore&) = delete;
    DiskStore& operator=(const DiskStore&) = delete;
    DiskStore(DiskStore&&) = delete;
    DiskStore& operator=(DiskStore&&) = delete;

    // Creates the directory if needed and recovers what is in it. Nothing else may be called
    // until `done` has run with OK. Fails with kIoError or kCorruption only if the directory
    // cannot be used at all; damage inside segments is reported through stats and the log.
    void open(Done done);
    bool is_open() const { return opened_; }

    // Puts. begin_put fails with the write-stop status after a failure, and with
    // kResourceExhausted ("no space") if `object_bytes_hint` (the declared size, if known; else
    // 0) would eat into the disk reserve. A cold put's pieces are written past the page cache.
    Result<PutId> begin_put(std::string_view key,
                            uint64_t object_bytes_hint = 0,
                            Temperature temperature = Temperature::kWarm);
    // Appends a piece that is not the last. REQUIRES: `put` is open, data is at most one frame.
    void append(PutId put, ByteView data);
    // Appends the last piece and the commit; `done` runs once the put is durable (per the fsync
    // policy) and visible, or failed. The put is closed either way. Returns the write-stop
    // status, without calling `done`, if writes have stopped.
    Status commit(PutId put, ByteView last_data, Version version, uint64_t digest, Done done);
    // Forgets an unfinished put; its pieces become garbage.
    void abandon(PutId put);

    // Appends a tombstone; `done` runs once it is durable and the key is gone. Returns, without
    // calling `done`, kNotFound if nothing visible has the key, or the write-stop status.
    Status remove(std::string_view key, Version version, Done done);

    // The visible object, or nullptr.
    DiskObjectRef find(std::string_view key) const;
    // The piece from the cache, if it is there.
    std::optional<PieceData> cached_piece(const DiskObject& object, size_t index);
    // Reads piece `index` (0 for inline data) and checks it; `done` gets kCorruption, naming
    // the segment and offset, for bytes that fail, and runs on a later turn. Returns
    // kCorruption at once, without calling `done`, for an object recovery found damaged.
    // REQUIRES: the object came from find() and index < piece_count().
    Status read_piece(DiskObjectRef object, size_t index, ReadDone done);

    struct ListEntry {
        std::string_view key;
        const DiskObject* object;
    };
    struct ListPage {
        std::vector<ListEntry> entries;
        bool truncated = false;
    };
    // Visible keys that start with `prefix` and sort after `start_after`, in order, at most
    // `limit`. Views are valid until the store changes.
    ListPage list(std::string_view prefix, std::string_view start_after, size_t limit) const;

    // Once per loop turn: writes out what this turn appended.
    void on_turn_end();
    // Every tick: drives the fsync interval.
    void on_tick();

    // Appended bytes not yet written are over write_backlog_bytes_max: pause the clients.
    bool is_backlogged() const;
    // The bytes of piece reads in flight.
    uint64_t read_bytes_in_flight() const { return read_bytes_in_flight_; }
    // No request of this store is in flight at the disk, and nothing appended waits for one.
    bool is_idle() const;
    // For shutdown: starts no more background work (compaction) and syncs what the fsync
    // policy left unsynced, so that is_idle() comes soon and means everything is durable.
    void quiesce();
    // The largest HLC in the store, so that the node's clock starts past it.
    uint64_t hlc_max() const { return hlc_max_; }
    DiskStoreStats stats() const;

private:
    struct Segment;
    struct Batch;
    struct TailBlock;
    struct OpenPut;
    struct IndexEntry;
    struct PendingRead;
    struct Completion;
    class Recovery;
    class Compaction;
    class Checkpointer;

    void open_batch(uint64_t segment, uint64_t offset, bool creates_segment);
    // A copy of a record appended this turn, for the cache.
    std::shared_ptr<const Buffer> appended_copy(const RecordLocation& location) const;
    uint64_t free_bytes_estimate() const;
    void note_uncached(const RecordLocation& location);
    bool is_cacheable(const RecordLocation& location) const;
    RecordLocation append_record(
            Lsn lsn, RecordKind kind, ByteView body_head, ByteView body_tail, uint32_t data_bytes);
    Lsn next_lsn();
    Status check_writable() const;
    void start_flush();
    void flush_step();
    bool start_create(const Batch& batch);
    void remember_tail_block(const Batch& batch);
    bool pads_to_block(const Batch& batch) const;
    bool writes_past_cache(const Batch& batch) const;
    bool start_zero_fill(const Batch& batch);
    void zero_fill_done(uint64_t sequence, uint64_t batch_end, const Status& status);
    bool needs_sync(const Batch& batch) const;
    bool start_write(Batch& batch);
    bool start_sync(const Batch& batch);
    void sync_done();
    bool start_directory_sync(const Batch& batch);
    void flush_step_done(const Status& status, std::string_view operation);
    void finish_flush();
    void stop_writes(const Status& cause);
    void sync_interval();
    // False if a newer version is in place: the object's records are dead.
    bool publish_object(std::string key, std::shared_ptr<DiskObject> object);
    void publish_tombstone(std::string key, Version version, RecordLocation location);
    void retire(const RecordLocation& location);
    void retire_object(const DiskObjectRef& retired);
    void release(const DiskObjectRef& released);
    void unpin_committing(uint64_t segment);
    // Whether a get may still read an object that left the index from this segment.
    bool is_segment_referenced(uint64_t sequence);
    Status check_piece(const DiskObject& object, size_t index, ByteView record_bytes) const;
    void read_piece_done(std::list<PendingRead>::iterator read, Status status);
    std::string segment_path(uint64_t sequence) const;
    void refresh_free_space();
    uint64_t reserve_bytes() const;

    Options options_;
    runtime::Disk& disk_;
    spdlog::logger& log_;
    bool opened_ = false;

    std::map<uint64_t, Segment> segments_;
    std::map<std::string, IndexEntry, std::less<>> index_;
    std::map<PutId, OpenPut> puts_;
    ReadCache cache_;
    std::list<PendingRead> reads_;
    uint64_t read_bytes_in_flight_ = 0;

    // The log's end: where the next record goes.
    uint64_t append_segment_ = 0;
    uint64_t append_offset_ = 0;
    uint64_t lsn_last_ = 0;
    uint64_t put_last_ = 0;
    uint64_t hlc_max_ = 0;

    // Appended since the last flush began, one batch per segment touched.
    std::vector<Batch> filling_;
    uint64_t filling_bytes_ = 0;
    std::vector<Completion> filling_done_;
    Buffer spare_bytes_;  // The last flushed batch's buffer, emptied, for the next batch.
    // Being written and synced.
    std::vector<Batch> flushing_;
    std::vector<Completion> flushing_done_;
    size_t flush_index_ = 0;
    uint8_t flush_stage_ = 0;
    bool flush_in_flight_ = false;
    bool has_unsynced_ = false;  // kInterval/kNever: written, not yet synced.
    bool sync_due_ = false;      // kInterval: the next flush syncs even with nothing to write.
    uint32_t ticks_since_sync_ = 0;
    runtime::DiskOpen open_request_;
    runtime::DiskWrite write_request_;
    // fsync "always": the last partial block of the log, for the next batch (pads_to_block).
    std::unique_ptr<TailBlock> tail_block_;
    Buffer zero_fill_;                    // Zeros for start_zero_fill, made on first use.
    runtime::ByteRange zero_fill_range_;  // Its write's uncached range.
    bool zero_fill_off_ = false;          // A zero fill failed: none until a restart.
    runtime::DiskSync sync_request_;
    runtime::DiskPathRequest directory_request_;

    Status writes_stopped_;
    // What the file system had free when last asked, less what was appended since.
    uint64_t free_bytes_ = UINT64_MAX;
    uint64_t total_bytes_ = 0;
    uint64_t appended_since_free_space_ = 0;
    uint32_t ticks_since_free_space_ = 0;
    bool free_space_in_flight_ = false;
    runtime::DiskPathRequest free_space_request_;
    uint64_t objects_ = 0;
    uint64_t object_bytes_ = 0;
    DiskStoreStats counters_;
    // Kept until the turn after it finished: its last callback is still on the stack then.
    static void delete_recovery(Recovery* recovery);
    std::unique_ptr<Recovery, void (*)(Recovery*)> recovery_{nullptr, &delete_recovery};
    bool recovery_finished_ = false;

    std::optional<uint64_t> compaction_candidate() const;
    void drive_compaction();
    bool is_compaction_busy() const;
    uint64_t compaction_unindexed_segment() const;
    static void delete_compaction(Compaction* compaction);
    std::unique_ptr<Compaction, void (*)(Compaction*)> compaction_{nullptr, &delete_compaction};
    std::set<uint64_t> compaction_failed_segments_;  // Not tried again until a restart.
    // Segments holding pieces of commits not yet durable: their objects are not indexed yet.
    std::multiset<uint64_t> committing_segments_;
    std::multiset<std::string, std::less<>> committing_keys_;  // Of those commits.
    uint32_t ticks_since_compaction_check_ = 0;
    bool quiescing_ = false;

    CheckpointHeader checkpoint_header() const;
    void drive_checkpoint();
    bool is_checkpoint_busy() const;
    static void delete_checkpointer(Checkpointer* checkpointer);
    std::unique_ptr<Checkpointer, void (*)(Checkpointer*)> checkpointer_{nullptr,
                                                                         &delete_checkpointer};
    uint64_t appended_since_checkpoint_ = 0;
    uint64_t checkpoint_bytes_last_ = 0;
};

}  // namespace shoal::storage

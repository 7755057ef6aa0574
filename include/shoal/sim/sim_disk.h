// SimDisk: a simulated disk for the Runtime seam, with the failures real disks have.
//
// Files live in memory. Each keeps what reads see now and what would survive a crash: a
// write is durable once a sync of its file completes after it, a directory entry (a new file,
// a rename, a removal) once a sync of its directory does. crash() keeps the durable state plus
// a random in-order prefix of what was not yet synced, possibly tearing the last write at a
// sector boundary, as a power cut does; requests in flight never complete. Faults are chosen
// per seed: errors on a share of writes, syncs and reads, a capacity past which writes fail
// with "no space", one-off failures of a chosen operation, and bit flips in stored bytes.
//
// Every completion runs as a later event on the EventQueue, after a simulated latency.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/prng.h"
#include "shoal/runtime/disk.h"
#include "shoal/sim/event_queue.h"

namespace shoal::sim {

struct DiskFaults {
    uint32_t write_error_per_million = 0;  // kIoError, as EIO.
    uint32_t sync_error_per_million = 0;
    uint32_t read_error_per_million = 0;
    uint64_t capacity_bytes = UINT64_MAX;  // Past this, writes fail with kResourceExhausted.
    uint32_t tear_per_million = 500'000;   // Chance that a crash tears the last kept write.
    Duration latency_min = std::chrono::microseconds(20);
    Duration latency_jitter_max = std::chrono::microseconds(100);
    Duration sync_latency = std::chrono::microseconds(500);
};

struct DiskStats {
    uint64_t writes = 0;
    uint64_t syncs = 0;
    uint64_t reads = 0;
    uint64_t errors_injected = 0;
    uint64_t crashes = 0;
    uint64_t writes_lost_in_crash = 0;
    uint64_t writes_torn_in_crash = 0;
    uint64_t uncached_bytes = 0;  // Written with the `uncached` hint.
    // Writes whose uncached ranges are all whole blocks (runtime::kDiskBlockBytes), which a
    // real disk writes past its cache at any size.
    uint64_t whole_block_uncached_writes = 0;
};

class SimDisk final : public runtime::Disk {
public:
    enum class Operation : uint8_t { kOpen, kWrite, kRead, kSync, kTruncate, kPath };

    static constexpr size_t kSectorBytes = 512;

    SimDisk(EventQueue& events, uint64_t seed, DiskFaults faults = {});

    void open(runtime::DiskOpen& open) override;
    void close(runtime::FileId file) override;
    void write(runtime::DiskWrite& write) override;
    void read(runtime::DiskRead& read) override;
    void sync(runtime::DiskSync& sync) override;
    void truncate(runtime::DiskTruncate& truncate) override;
    void file_size(runtime::DiskFileSize& request) override;
    void path_request(runtime::DiskPathRequest& request) override;

    // A power cut: see the header comment. Every file id becomes invalid.
    void crash();
    // The process dies but the machine stays up (SIGKILL): requests in flight never complete
    // and file ids become invalid, but what was written stays, synced or not, in the page
    // cache, and may still be lost by a later crash() unless someone syncs it.
    void kill_process();
    // The next `operation` fails with `status` (one-off, in addition to the random faults).
    void fail_next(Operation operation, Status status);
    // Flips one bit of `path`'s stored bytes, durable and current alike. False if there is no
    // such byte.
    bool flip_bit(const std::string& path, uint64_t offset, uint8_t bit);

    // What reads of `path` see now, or nullopt if there is no such file.
    std::optional<Buffer> contents(const std::string& path) const;
    // Bytes in all files now.
    uint64_t used_bytes() const;
    const DiskStats& stats() const { return stats_; }

private:
    struct PendingChange {
        bool is_truncate = false;
        uint64_t offset = 0;  // The size, for a truncate.
        Buffer data;
    };
    struct Inode {
        Buffer current;
        Buffer durable;
        std::vector<PendingChange> unsynced;  // Since the last sync, in order.
    };
    struct OpenFile {
        std::shared_ptr<Inode> inode;
        std::string path;
        bool writable = false;
    };

    // Runs `action` after `delay`, unless a crash comes first.
    void complete_later(Duration delay, std::function<void()> action);
    Duration latency();
    // A one-off or random failure for `operation`, if one is due.
    std::optional<Status> injected(Operation operation, uint32_t per_million);
    Status path_operation(runtime::DiskPathRequest& request);
    void crash_inode(Inode& inode);
    // Makes the first `covered` unsynced changes durable, or fails as injected.
    Status sync_inode(Inode& inode, size_t covered);

    EventQueue& events_;
    Prng prng_;
    DiskFaults faults_;
    DiskStats stats_;
    uint64_t generation_ = 0;  // Bumped by a crash; completions of older requests are dropped.
    std::map<std::string, std::shared_ptr<Inode>> names_;          // What lookups see.
    std::map<std::string, std::shared_ptr<Inode>> names_durable_;  // What survives a crash.
    std::set<std::string> directories_;
    std::set<std::string> directories_durable_;
    std::map<runtime::FileId, OpenFile> open_files_;
    std::map<Operation, Status> fail_next_;
    uint64_t file_next_ = 1;
};

}  // namespace shoal::sim

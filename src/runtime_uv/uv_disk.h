// UvDisk: runtime::Disk on libuv's thread pool.
//
// Each request runs its blocking system calls (pread, pwrite, fdatasync, rename, ...) as one
// work item on the pool and completes on the loop thread. The work touches nothing but its own
// request, which the caller keeps unchanged until `done` runs, so no node state is shared
// with the pool.
#pragma once

#include <functional>
#include <map>

#include <uv.h>

#include "shoal/runtime/disk.h"

namespace shoal::runtime_uv {

class UvDisk final : public runtime::Disk {
public:
    explicit UvDisk(uv_loop_t& loop) : loop_(loop) {}
    ~UvDisk() override;
    UvDisk(const UvDisk&) = delete;
    UvDisk& operator=(const UvDisk&) = delete;
    UvDisk(UvDisk&&) = delete;
    UvDisk& operator=(UvDisk&&) = delete;

    void open(runtime::DiskOpen& open) override;
    void close(runtime::FileId file) override;
    void write(runtime::DiskWrite& write) override;
    void read(runtime::DiskRead& read) override;
    void sync(runtime::DiskSync& sync) override;
    void truncate(runtime::DiskTruncate& truncate) override;
    void file_size(runtime::DiskFileSize& request) override;
    void path_request(runtime::DiskPathRequest& request) override;

    // Requests whose `done` has not run yet; the loop must not end while any is pending.
    size_t pending() const { return pending_; }
    // Bytes of `uncached` ranges written past the page cache (O_DIRECT).
    uint64_t direct_bytes_written() const { return direct_bytes_written_; }

private:
    // Runs `work` on the pool, then `after` with its Status on the loop thread.
    void submit(std::function<Status()> work, std::function<void(Status)> after);
    // The descriptor of `file`, or -1.
    int descriptor(runtime::FileId file) const;

    uv_loop_t& loop_;
    std::map<runtime::FileId, int> files_;
    uint64_t direct_bytes_written_ = 0;
    uint64_t file_next_ = 1;
    size_t pending_ = 0;
};

}  // namespace shoal::runtime_uv

// Disk: the asynchronous file interface of the Runtime seam.
//
// Every disk access of node logic goes through here, so that the simulator can stand in a
// SimDisk that loses unsynced writes at a crash, tears the last write, flips bits and fails
// chosen operations (DESIGN.md, "The runtime seam"). runtime_uv binds it to uv_fs_* on libuv's
// thread pool.
//
// Requests follow libuv's ownership rule: the caller owns each request object and keeps it,
// and every byte it points to, alive and unchanged until its `done` has run. `done` always
// runs on a later turn of the loop, never inside the call that started the request, and runs
// exactly once, with the outcome. `done` is the last thing the disk does with a request, so a
// request may be reused, or reassigned, from inside its own `done` or at any time after.
//
// Durability: a write is durable only once a sync of its file has completed after it; a new,
// renamed or removed directory entry only once a sync of its directory has completed after it.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/ids.h"
#include "shoal/base/status.h"

namespace shoal::runtime {

enum class FileId : uint64_t {};

enum class OpenMode : uint8_t {
    kRead,             // Must exist.
    kReadWrite,        // Must exist.
    kCreate,           // Read-write; created (empty) if missing.
    kCreateExclusive,  // Read-write; fails with kInvalidArgument if it exists.
};

// Errors: kNotFound for a missing path; kResourceExhausted for ENOSPC/EDQUOT; kIoError for
// EIO and every other failure of the device; kInvalidArgument for a misuse the OS refused
// (EEXIST, ENOTDIR, a bad file id). Messages name the path and the operation.
struct DiskOpen {
    std::string path;
    OpenMode mode = OpenMode::kRead;
    FileId file{};  // Set when done runs with OK.
    std::function<void(DiskOpen& open, Status status)> done;
};

// The block that writes past the cache (O_DIRECT) align to: the logical block size of every
// device we expect, and the page size, so a write that goes past the cache covers whole pages.
inline constexpr uint64_t kDiskBlockBytes = 4096;

// A part of a write's data: `bytes` from `offset` into it.
struct ByteRange {
    uint64_t offset = 0;
    uint64_t bytes = 0;
};

// Writes all of `data` at `offset`, or fails; a failed write may have written a prefix. With
// `sync`, then makes the file durable as a DiskSync would (covering this write and every one
// completed before it) before `done` runs: one trip to the disk's thread instead of two.
// `uncached` names parts of `data` unlikely to be read soon (parity, for one), in order and
// apart: a hint that the disk may write them past its cache. Durability is the same. A range
// whose file offset and size are multiples of kDiskBlockBytes may go past the cache at any
// size; others only if big.
struct DiskWrite {
    FileId file{};
    uint64_t offset = 0;
    ByteView data;
    bool sync = false;
    std::span<const ByteRange> uncached;
    std::function<void(DiskWrite& write, Status status)> done;
};

// Reads up to target.size() bytes at `offset`; fewer only at the end of the file.
struct DiskRead {
    FileId file{};
    uint64_t offset = 0;
    MutableByteView target;
    size_t read_bytes = 0;  // Set when done runs with OK.
    std::function<void(DiskRead& read, Status status)> done;
};

// Makes every write to `file` completed before the sync started durable (fdatasync).
struct DiskSync {
    FileId file{};
    std::function<void(DiskSync& sync, Status status)> done;
};

// Sets the file's size; a shrink drops the bytes past it, a growth reads back as zeros.
struct DiskTruncate {
    FileId file{};
    uint64_t size = 0;
    std::function<void(DiskTruncate& truncate, Status status)> done;
};

struct DiskFileSize {
    FileId file{};
    uint64_t size = 0;  // Set when done runs with OK.
    std::function<void(DiskFileSize& request, Status status)> done;
};

// Directory operations, by path.
struct DiskPathRequest {
    enum class Kind : uint8_t {
        kMakeDirectory,  // One level; OK if it already exists as a directory.
        kList,           // The names in `path`, sorted, without "." and "..".
        kRemove,         // A file.
        kRename,         // `path` to `target_path`, atomically replacing it.
        kSyncDirectory,  // Makes the directory's entries durable.
        kFreeSpace,      // The file system holding `path`: sets free_bytes and total_bytes.
    };
    Kind kind = Kind::kList;
    std::string path;
    std::string target_path;         // kRename only.
    std::vector<std::string> names;  // kList: set when done runs with OK.
    uint64_t free_bytes = 0;         // kFreeSpace: what an unprivileged writer may still use.
    uint64_t total_bytes = 0;        // kFreeSpace.
    std::function<void(DiskPathRequest& request, Status status)> done;
};

class Disk {
public:
    virtual ~Disk() = default;

    virtual void open(DiskOpen& open) = 0;
    // Releases the id at once; unsynced writes stay as they are (not made durable).
    virtual void close(FileId file) = 0;
    virtual void write(DiskWrite& write) = 0;
    virtual void read(DiskRead& read) = 0;
    virtual void sync(DiskSync& sync) = 0;
    virtual void truncate(DiskTruncate& truncate) = 0;
    virtual void file_size(DiskFileSize& request) = 0;
    virtual void path_request(DiskPathRequest& request) = 0;
};

}  // namespace shoal::runtime

// LocalStore: one node's records behind one interface, whatever its storage mode.
//
// The cluster data path keeps chunk records and manifests in a node's store under store keys
// (docs/object_format.md). It needs the same few operations from both stores: write a record
// made of a small head and a body, read it back whole, learn its version, remove it, and list
// a key range. LocalStore gives them over MemoryStore or DiskStore, so the peer service has
// one code path.
//
// Completions never run inside the call that started them (libuv's rule, which the disk store
// keeps): in memory mode they run at the next on_turn_end(). A call that returns an error never
// calls back.
//
// Single-threaded, like the stores under it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/storage/disk_store.h"
#include "shoal/storage/memory_store.h"

namespace shoal::storage {

// A record as read: its pieces in order, each kept alive by its owner.
struct LocalRecord {
    Version version;
    uint64_t record_bytes = 0;
    std::vector<PieceData> pieces;

    // The record's bytes in one buffer (a copy when it has more than one piece).
    Buffer join() const;
};

// What a put writes under its key: `head` followed by `body`, with their version and digest.
// `temperature` is a hint for the disk store; memory mode ignores it.
struct LocalWrite {
    ByteView head;
    ByteView body;
    Version version;
    uint64_t digest = 0;
    Temperature temperature = Temperature::kWarm;
};

struct LocalListEntry {
    std::string_view key;  // Valid until the store changes.
    Version version;
    uint64_t record_bytes = 0;
};

struct LocalListPage {
    std::vector<LocalListEntry> entries;
    bool truncated = false;  // More keys match after the last entry.
};

class LocalStore {
public:
    using Done = std::function<void(Status status)>;
    using ReadDone = std::function<void(Result<LocalRecord> record)>;

    // Exactly one of the stores is used; it must outlive this.
    explicit LocalStore(MemoryStore& memory);
    explicit LocalStore(DiskStore& disk);

    ~LocalStore() = default;
    LocalStore(const LocalStore&) = delete;
    LocalStore& operator=(const LocalStore&) = delete;
    LocalStore(LocalStore&&) = delete;
    LocalStore& operator=(LocalStore&&) = delete;

    // Writes the record of `key`, replacing any older one; `done` runs once it is durable (disk
    // mode, by the fsync policy) or visible (memory mode). Returns at once, without calling
    // `done`, kResourceExhausted when the store is full and the write-stop status when the
    // disk store has stopped writes.
    Status put(std::string_view key, const LocalWrite& write, Done done);

    // Removes `key`'s record. kNotFound at once if there is none.
    Status remove(std::string_view key, Version version, Done done);

    // The version of `key`'s visible record, if there is one.
    std::optional<Version> version_of(std::string_view key) const;

    // Reads `key`'s whole record; `done` gets kNotFound, or kCorruption for bytes that failed
    // their checks. REQUIRES: nothing; a missing key is reported through `done` like the rest.
    void read(std::string_view key, ReadDone done);

    LocalListPage list(std::string_view prefix, std::string_view start_after, size_t limit) const;

    // Runs memory mode's completions. The node calls it once per loop turn.
    void on_turn_end();

private:
    struct DiskRead;

    void read_disk(std::string_view key, ReadDone done);
    void defer(std::function<void()> completion);

    MemoryStore* memory_ = nullptr;
    DiskStore* disk_ = nullptr;
    std::vector<std::function<void()>> deferred_;
};

}  // namespace shoal::storage

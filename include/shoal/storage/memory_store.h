// MemoryStore: a node's objects held in RAM under a byte budget (storage.mode = "memory").
//
// Objects are immutable once committed and shared: a get that is streaming an object keeps
// it alive even if a put replaces it or a delete removes it meanwhile, and its bytes count
// against the budget until the last reader lets go. A put builds its object on the side
// (ObjectBuilder) and commits it whole, so a partial object is never visible.
//
// The budget covers object bytes, in-flight put bytes and a fixed per-object overhead, so that
// neither large objects nor millions of tiny ones can push the process into an out-of-memory
// crash: over budget, a put fails with kResourceExhausted ("no space").
//
// Pure: no IO, no clock, single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"

namespace shoal::storage {

// Bytes in use against a fixed maximum. Shared by the store and every object and builder, so
// whichever is destroyed last still returns its bytes.
class ByteBudget {
public:
    explicit ByteBudget(uint64_t bytes_max) : bytes_max_(bytes_max) {}

    // Takes `bytes` if they fit; else kResourceExhausted naming the budget.
    Status acquire(uint64_t bytes);
    void release(uint64_t bytes);

    uint64_t used_bytes() const { return used_bytes_; }
    uint64_t max_bytes() const { return bytes_max_; }
    uint64_t free_bytes() const { return bytes_max_ - used_bytes_; }

private:
    uint64_t bytes_max_;
    uint64_t used_bytes_ = 0;
};

// A committed object: its metadata and its bytes in pieces of at most kDataFrameBytesMax.
struct StoredObject {
    Version version;
    uint64_t object_bytes = 0;
    uint64_t digest = 0;  // xxh3-64 of the whole object.
    std::vector<Buffer> pieces;
};

using ObjectRef = std::shared_ptr<const StoredObject>;

// Assembles one object from the pieces of a put, charging the budget as bytes arrive.
// Dropping an unfinished builder returns its bytes.
class ObjectBuilder {
public:
    ObjectBuilder(std::shared_ptr<ByteBudget> budget, uint64_t overhead_bytes);
    ~ObjectBuilder();
    ObjectBuilder(ObjectBuilder&& other) noexcept;
    ObjectBuilder& operator=(ObjectBuilder&& other) = delete;
    ObjectBuilder(const ObjectBuilder&) = delete;
    ObjectBuilder& operator=(const ObjectBuilder&) = delete;

    // Copies `data` in. kResourceExhausted if the budget cannot take it; the builder then
    // holds what it had.
    Status append(ByteView data);
    uint64_t object_bytes() const { return object_bytes_; }

    // The finished object. The builder is empty afterwards.
    ObjectRef finish(Version version, uint64_t digest);

private:
    std::shared_ptr<ByteBudget> budget_;
    std::vector<Buffer> pieces_;
    uint64_t object_bytes_ = 0;
    uint64_t charged_bytes_ = 0;
};

struct StoreStats {
    uint64_t objects = 0;
    uint64_t object_bytes = 0;  // Sum of the sizes of visible objects.
    uint64_t budget_used_bytes = 0;
    uint64_t budget_max_bytes = 0;
};

class MemoryStore {
public:
    struct Options {
        uint64_t memory_bytes = uint64_t{1} << 30;  // storage.memory_bytes: 1 GiB.

        Status validate() const;
    };

    // Charged per object on top of its bytes: the key, the map node, the metadata.
    static constexpr uint64_t kObjectOverheadBytes = 128;

    explicit MemoryStore(const Options& options);

    // A builder charged kObjectOverheadBytes + key size up front, so that empty objects cost
    // budget too. kResourceExhausted if even that does not fit, or if `object_bytes_hint`
    // (the size the client declared, if any) cannot fit in what is free.
    Result<ObjectBuilder> begin_put(std::string_view key, uint64_t object_bytes_hint);

    // Makes `object` the visible version of `key`, replacing any older one.
    void commit(std::string_view key, ObjectRef object);

    // The visible object, or nullptr.
    ObjectRef find(std::string_view key) const;

    // Removes `key`; false if it was not there.
    bool remove(std::string_view key);

    struct ListEntry {
        std::string_view key;
        const StoredObject* object;
    };
    struct ListPage {
        std::vector<ListEntry> entries;
        bool truncated = false;  // More keys match after the last entry.
    };
    // Keys that start with `prefix` and sort after `start_after`, in order, at most `limit`.
    // Views are valid until the store changes.
    ListPage list(std::string_view prefix, std::string_view start_after, size_t limit) const;

    StoreStats stats() const;

private:
    std::shared_ptr<ByteBudget> budget_;
    // Ordered, so that list() walks a prefix in key order.
    std::map<std::string, ObjectRef, std::less<>> objects_;
    uint64_t object_bytes_ = 0;
};

}  // namespace shoal::storage

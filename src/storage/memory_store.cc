#include "shoal/storage/memory_store.h"

#include <algorithm>

#include <fmt/format.h>

#include "shoal/base/limits.h"

namespace shoal::storage {

Status ByteBudget::acquire(uint64_t bytes) {
    if (bytes > free_bytes()) {
        return Status::resource_exhausted(
                fmt::format("no space: storage.memory_bytes budget of {} bytes is full ({} used, "
                            "{} more needed)",
                            bytes_max_,
                            used_bytes_,
                            bytes));
    }
    used_bytes_ += bytes;
    SHOAL_ASSERT(used_bytes_ <= bytes_max_);
    return Status::ok();
}

void ByteBudget::release(uint64_t bytes) {
    SHOAL_ASSERT(bytes <= used_bytes_);
    used_bytes_ -= bytes;
}

ObjectBuilder::ObjectBuilder(std::shared_ptr<ByteBudget> budget, uint64_t overhead_bytes)
    : budget_(std::move(budget)), charged_bytes_(overhead_bytes) {
    SHOAL_ASSERT(budget_ != nullptr);
}

ObjectBuilder::~ObjectBuilder() {
    if (budget_ != nullptr) budget_->release(charged_bytes_);
}

ObjectBuilder::ObjectBuilder(ObjectBuilder&& other) noexcept
    : budget_(std::move(other.budget_)),
      pieces_(std::move(other.pieces_)),
      object_bytes_(std::exchange(other.object_bytes_, 0)),
      charged_bytes_(std::exchange(other.charged_bytes_, 0)) {}

Status ObjectBuilder::append(ByteView data) {
    SHOAL_ASSERT(budget_ != nullptr);
    if (data.empty()) return Status::ok();
    SHOAL_TRY(budget_->acquire(data.size()));
    charged_bytes_ += data.size();
    object_bytes_ += data.size();
    // Small pieces are merged so that an object streamed in tiny frames does not cost a
    // Buffer per frame; pieces never exceed one data frame, which is what get sends.
    if (!pieces_.empty() && pieces_.back().size() + data.size() <= limits::kDataFrameBytesMax) {
        pieces_.back().append(data);
    } else {
        pieces_.emplace_back(data);
    }
    return Status::ok();
}

ObjectRef ObjectBuilder::finish(Version version, uint64_t digest) {
    SHOAL_ASSERT(budget_ != nullptr);
    auto* object = new StoredObject{
            .version = version,
            .object_bytes = object_bytes_,
            .digest = digest,
            .pieces = std::move(pieces_),
    };
    // The object carries the charge from here on and returns it when its last reader lets go.
    ObjectRef ref(object,
                  [budget = std::move(budget_), charged = charged_bytes_](StoredObject* dead) {
                      delete dead;
                      budget->release(charged);
                  });
    pieces_.clear();
    object_bytes_ = 0;
    charged_bytes_ = 0;
    return ref;
}

Status MemoryStore::Options::validate() const {
    if (memory_bytes < kObjectOverheadBytes + limits::kStoreKeyBytesMax) {
        return Status::invalid_argument(fmt::format(
                "storage.memory_bytes = {} is too small to hold even one object", memory_bytes));
    }
    return Status::ok();
}

MemoryStore::MemoryStore(const Options& options)
    : budget_(std::make_shared<ByteBudget>(options.memory_bytes)) {
    SHOAL_ASSERT(options.validate().is_ok());
}

Result<ObjectBuilder> MemoryStore::begin_put(std::string_view key, uint64_t object_bytes_hint) {
    const uint64_t overhead_bytes = kObjectOverheadBytes + key.size();
    const uint64_t free_bytes = budget_->free_bytes();
    if (object_bytes_hint != UINT64_MAX && object_bytes_hint > free_bytes) {
        // Known too big: say so before the client sends the bytes.
        return Status::resource_exhausted(fmt::format(
                "no space: the object of {} bytes does not fit in the {} bytes left of the "
                "storage.memory_bytes budget of {}",
                object_bytes_hint,
                free_bytes,
                budget_->max_bytes()));
    }
    SHOAL_TRY(budget_->acquire(overhead_bytes));
    return ObjectBuilder(budget_, overhead_bytes);
}

void MemoryStore::commit(std::string_view key, ObjectRef object) {
    SHOAL_ASSERT(object != nullptr);
    object_bytes_ += object->object_bytes;
    auto found = objects_.find(key);
    if (found == objects_.end()) {
        objects_.emplace(std::string(key), std::move(object));
        return;
    }
    SHOAL_ASSERT(object_bytes_ >= found->second->object_bytes);
    object_bytes_ -= found->second->object_bytes;
    found->second = std::move(object);
}

ObjectRef MemoryStore::find(std::string_view key) const {
    auto found = objects_.find(key);
    return found == objects_.end() ? nullptr : found->second;
}

bool MemoryStore::remove(std::string_view key) {
    auto found = objects_.find(key);
    if (found == objects_.end()) return false;
    SHOAL_ASSERT(object_bytes_ >= found->second->object_bytes);
    object_bytes_ -= found->second->object_bytes;
    objects_.erase(found);
    return true;
}

MemoryStore::ListPage MemoryStore::list(std::string_view prefix,
                                        std::string_view start_after,
                                        size_t limit) const {
    SHOAL_ASSERT(limit > 0);
    ListPage page;
    auto position =
            start_after < prefix ? objects_.lower_bound(prefix) : objects_.upper_bound(start_after);
    for (; position != objects_.end(); ++position) {
        const std::string_view key = position->first;
        if (!key.starts_with(prefix)) break;
        if (page.entries.size() == limit) {
            page.truncated = true;
            break;
        }
        page.entries.push_back(ListEntry{position->first, position->second.get()});
    }
    return page;
}

StoreStats MemoryStore::stats() const {
    return StoreStats{
            .objects = objects_.size(),
            .object_bytes = object_bytes_,
            .budget_used_bytes = budget_->used_bytes(),
            .budget_max_bytes = budget_->max_bytes(),
    };
}

}  // namespace shoal::storage

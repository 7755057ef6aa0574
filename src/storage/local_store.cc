#include "shoal/storage/local_store.h"

#include <memory>
#include <utility>

#include <fmt/format.h>

namespace shoal::storage {

Buffer LocalRecord::join() const {
    Buffer joined;
    joined.reserve(record_bytes);
    for (const PieceData& piece : pieces) {
        joined.append(piece.data);
    }
    return joined;
}

LocalStore::LocalStore(MemoryStore& memory) : memory_(&memory) {}

LocalStore::LocalStore(DiskStore& disk) : disk_(&disk) {}

Status LocalStore::put(std::string_view key, const LocalWrite& write, Done done) {
    const ByteView head = write.head;
    const ByteView body = write.body;
    const Version version = write.version;
    const uint64_t digest = write.digest;
    SHOAL_ASSERT(head.size() <= limits::kDataFrameBytesMax);
    SHOAL_ASSERT(body.size() <= limits::kDataFrameBytesMax);
    const uint64_t record_bytes = head.size() + body.size();
    if (memory_ != nullptr) {
        Result<ObjectBuilder> builder = memory_->begin_put(key, record_bytes);
        SHOAL_TRY(builder.status());
        SHOAL_TRY(builder.value().append(head));
        SHOAL_TRY(builder.value().append(body));
        memory_->commit(key, builder.value().finish(version, digest));
        defer([done = std::move(done)]() { done(Status::ok()); });
        return Status::ok();
    }
    Result<PutId> put = disk_->begin_put(key, record_bytes, write.temperature);
    SHOAL_TRY(put.status());
    // An empty head would make an empty first piece: the body alone is then the record.
    if (!head.empty() && !body.empty()) {
        disk_->append(put.value(), head);
        return disk_->commit(put.value(), body, version, digest, std::move(done));
    }
    return disk_->commit(put.value(), head.empty() ? body : head, version, digest, std::move(done));
}

Status LocalStore::remove(std::string_view key, Version version, Done done) {
    if (memory_ != nullptr) {
        if (!memory_->remove(key)) return Status::not_found("no such record");
        defer([done = std::move(done)]() { done(Status::ok()); });
        return Status::ok();
    }
    return disk_->remove(key, version, std::move(done));
}

std::optional<Version> LocalStore::version_of(std::string_view key) const {
    if (memory_ != nullptr) {
        const ObjectRef object = memory_->find(key);
        if (object == nullptr) return std::nullopt;
        return object->version;
    }
    const DiskObjectRef object = disk_->find(key);
    if (object == nullptr) return std::nullopt;
    return object->version;
}

void LocalStore::read(std::string_view key, ReadDone done) {
    if (disk_ != nullptr) {
        read_disk(key, std::move(done));
        return;
    }
    ObjectRef object = memory_->find(key);
    if (object == nullptr) {
        defer([done = std::move(done)]() { done(Status::not_found("no such record")); });
        return;
    }
    LocalRecord record{.version = object->version, .record_bytes = object->object_bytes};
    record.pieces.reserve(object->pieces.size());
    for (const Buffer& piece : object->pieces) {
        // Aliasing: the piece lives as long as its object does.
        record.pieces.push_back(PieceData{.owner = std::shared_ptr<const Buffer>(object, &piece),
                                          .data = piece.view()});
    }
    defer([done = std::move(done), record = std::move(record)]() mutable {
        done(std::move(record));
    });
}

// The pieces of one disk record being read, in flight together.
struct LocalStore::DiskRead {
    LocalRecord record;
    size_t pieces_pending = 0;
    Status failure;
    ReadDone done;
};

void LocalStore::read_disk(std::string_view key, ReadDone done) {
    DiskObjectRef object = disk_->find(key);
    if (object == nullptr) {
        defer([done = std::move(done)]() { done(Status::not_found("no such record")); });
        return;
    }
    std::optional<PieceData> first = disk_->cached_piece(*object, 0);
    // The common case, a small record in the cache, needs none of the bookkeeping below.
    if (first.has_value() && object->piece_count() == 1) {
        LocalRecord record{.version = object->version, .record_bytes = object->object_bytes};
        record.pieces.push_back(std::move(*first));
        defer([done = std::move(done), record = std::move(record)]() mutable {
            done(std::move(record));
        });
        return;
    }
    auto read = std::make_shared<DiskRead>();
    read->record.version = object->version;
    read->record.record_bytes = object->object_bytes;
    read->record.pieces.resize(object->piece_count());
    read->pieces_pending = object->piece_count();
    read->done = std::move(done);
    for (size_t index = 0; index < object->piece_count(); ++index) {
        const auto piece_done = [read, index](Result<PieceData> piece) {
            if (piece.is_ok()) {
                read->record.pieces[index] = std::move(piece).value();
            } else if (read->failure.is_ok()) {
                read->failure = piece.status();
            }
            read->pieces_pending -= 1;
            if (read->pieces_pending > 0) return;
            if (read->failure.is_ok()) {
                read->done(std::move(read->record));
            } else {
                read->done(read->failure);
            }
        };
        std::optional<PieceData> cached = index == 0 ? std::exchange(first, std::nullopt)
                                                     : disk_->cached_piece(*object, index);
        if (cached.has_value()) {
            defer([piece_done, piece = std::move(*cached)]() mutable {
                piece_done(std::move(piece));
            });
            continue;
        }
        if (Status started = disk_->read_piece(object, index, piece_done); !started.is_ok()) {
            defer([piece_done, started]() { piece_done(started); });
        }
    }
}

LocalListPage LocalStore::list(std::string_view prefix,
                               std::string_view start_after,
                               size_t limit) const {
    LocalListPage page;
    const auto fill = [&page](const auto& store_page) {
        page.truncated = store_page.truncated;
        page.entries.reserve(store_page.entries.size());
        for (const auto& entry : store_page.entries) {
            page.entries.push_back(LocalListEntry{.key = entry.key,
                                                  .version = entry.object->version,
                                                  .record_bytes = entry.object->object_bytes});
        }
    };
    if (memory_ != nullptr) {
        fill(memory_->list(prefix, start_after, limit));
    } else {
        fill(disk_->list(prefix, start_after, limit));
    }
    return page;
}

void LocalStore::defer(std::function<void()> completion) {
    deferred_.push_back(std::move(completion));
}

// Completions may defer more (a read started from a completion): those wait for the next turn.
void LocalStore::on_turn_end() {
    std::vector<std::function<void()>> ready = std::move(deferred_);
    deferred_.clear();
    for (std::function<void()>& completion : ready) {
        completion();
    }
}

}  // namespace shoal::storage

#include "shoal/node/peer_service.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "shoal/base/limits.h"
#include "shoal/object/chunk_header.h"
#include "shoal/object/layout.h"
#include "shoal/object/manifest.h"

namespace shoal::node {
namespace {

// LocalStore keeps each piece of a record within one data frame.
static_assert(wire::kChunkBytesMax <= limits::kDataFrameBytesMax);
static_assert(object::kChunkHeaderBytesMax <= limits::kDataFrameBytesMax);
static_assert(wire::kManifestBytesMax <= limits::kDataFrameBytesMax);
static_assert(object::kChunkHeaderBytesMax + wire::kChunkBytesMax <= wire::kChunkRecordBytesMax,
              "every chunk record stored fits a chunk get's reply");

template <typename Reply>
runtime::OutFrame reply_frame(RequestId id, const Reply& reply) {
    runtime::OutFrame frame;
    wire::encode_reply(id, reply, frame.head);
    return frame;
}

std::string describe(const object::ChunkId& chunk) {
    return fmt::format("chunk key_hash={:016x} version={}.{} stripe={} chunk={}",
                       chunk.key_hash,
                       chunk.version.hlc,
                       to_u64(chunk.version.node),
                       chunk.stripe_index,
                       chunk.chunk_index);
}

// The record's bytes in one view: its only piece, or a copy of all of them in `joined`.
ByteView contiguous(const storage::LocalRecord& record, Buffer& joined) {
    if (record.pieces.size() == 1) return record.pieces[0].data;
    joined = record.join();
    return joined.view();
}

Status check_list_bounds(std::string_view prefix, std::string_view start_after, uint32_t limit) {
    if (prefix.size() > limits::kPrefixBytesMax) {
        return Status::invalid_argument(
                fmt::format("manifest list: a prefix of {} bytes", prefix.size()));
    }
    if (start_after.size() > limits::kKeyBytesMax) {
        return Status::invalid_argument(
                fmt::format("manifest list: a start key of {} bytes", start_after.size()));
    }
    if (limit == 0 || limit > limits::kListEntriesMax) {
        return Status::invalid_argument(fmt::format(
                "manifest list: limit {} is outside 1..{}", limit, limits::kListEntriesMax));
    }
    return Status::ok();
}

}  // namespace

object::ChunkId to_object_chunk_id(const wire::ChunkId& chunk) {
    return object::ChunkId{.key_hash = chunk.key_hash,
                           .version = chunk.version,
                           .stripe_index = chunk.stripe_index,
                           .chunk_index = chunk.chunk_index};
}

wire::ChunkId to_wire_chunk_id(const object::ChunkId& chunk) {
    return wire::ChunkId{.key_hash = chunk.key_hash,
                         .version = chunk.version,
                         .stripe_index = chunk.stripe_index,
                         .chunk_index = chunk.chunk_index};
}

// One list being answered: the entries the store listed, read a window at a time.
struct PeerService::List {
    struct Slot {
        std::string store_key;
        uint64_t record_bytes = 0;
        std::optional<wire::ManifestListEntry> entry;  // Once read and decoded.
    };
    std::vector<Slot> slots;
    bool truncated = false;
    std::string scanned_through;  // The last slot's key; see wire::ManifestListReply.
    size_t read_next = 0;
    size_t reads_in_flight = 0;
    uint64_t read_bytes_in_flight = 0;
    Status failure;
    bool finished = false;
    ListDone done;
};

PeerService::PeerService(storage::LocalStore& store, spdlog::logger& log)
    : store_(store), log_(log) {}

void PeerService::put_chunk(ByteView record, Done done) {
    if (record.empty() || record.size() > wire::kChunkRecordBytesMax) {
        defer_status(std::move(done),
                     Status::invalid_argument(
                             fmt::format("chunk put: a record of {} bytes", record.size())));
        return;
    }
    Result<object::DecodedChunkHeader> decoded = object::decode_chunk_header(record);
    if (!decoded.is_ok()) {
        refuse_chunk(decoded.status(), std::move(done));
        return;
    }
    const size_t data_offset = decoded.value().data_offset;
    SHOAL_ASSERT(data_offset <= record.size());
    store_chunk(decoded.value().header,
                record.first(data_offset),
                record.subspan(data_offset),
                std::move(done));
}

void PeerService::put_chunk(ByteView header, ByteView data, Done done) {
    Result<object::DecodedChunkHeader> decoded = object::decode_chunk_header(header);
    if (!decoded.is_ok()) {
        refuse_chunk(decoded.status(), std::move(done));
        return;
    }
    if (decoded.value().data_offset != header.size()) {
        defer_status(std::move(done),
                     Status::invalid_argument(
                             fmt::format("chunk put: {} header bytes for a header of {}",
                                         header.size(),
                                         decoded.value().data_offset)));
        return;
    }
    store_chunk(decoded.value().header, header, data, std::move(done));
}

// Bytes that fail their checks are never stored; the sender hears kCorruption: send another
// copy, or count this chunk as lost.
void PeerService::refuse_chunk(const Status& reason, Done done) {
    SHOAL_ASSERT(reason.code() == Code::kCorruption);
    stats_.chunks_refused_corrupt += 1;
    log_.warn("chunk_refused reason=\"{}\"", reason.message());
    defer_status(std::move(done), reason);
}

// A write the store refuses at once never calls its callback, so `done` is shared between the
// callback and the refusal.
template <typename Start>
void PeerService::write(Start&& start, Done done) {
    auto shared = std::make_shared<Done>(std::move(done));
    Status started = start([this, shared](Status status) {
        if (!status.is_ok()) stats_.writes_failed += 1;
        (*shared)(std::move(status));
    });
    if (started.is_ok()) return;
    stats_.writes_failed += 1;
    SPDLOG_LOGGER_DEBUG(&log_, "peer_write_refused reason=\"{}\"", started.message());
    defer([shared, started = std::move(started)]() { (*shared)(started); });
}

void PeerService::store_chunk(const object::ChunkHeader& header,
                              ByteView head,
                              ByteView data,
                              Done done) {
    // Checked before the checksum, so an oversized chunk costs no hashing.
    if (data.size() > wire::kChunkBytesMax) {
        defer_status(
                std::move(done),
                Status::invalid_argument(fmt::format(
                        "chunk put: {} data bytes, over {}", data.size(), wire::kChunkBytesMax)));
        return;
    }
    if (Status verified = object::verify_chunk(header, data); !verified.is_ok()) {
        refuse_chunk(verified, std::move(done));
        return;
    }
    const object::ChunkId id = object::chunk_id_of(header);
    const std::string key = object::chunk_store_key(id);
    // A chunk's store key is its whole identity and a chunk never changes, so the one held is
    // this one.
    if (store_.version_of(key).has_value()) {
        stats_.chunks_already_held += 1;
        defer_status(std::move(done), Status::ok());
        return;
    }
    const uint64_t data_bytes = data.size();
    // Reads take data chunks first: parity (and every copy but the first) is read only when
    // one of them is missing.
    const storage::Temperature temperature = header.chunk_index >= header.scheme.k
                                                     ? storage::Temperature::kCold
                                                     : storage::Temperature::kWarm;
    write(
            [&](storage::LocalStore::Done stored) {
                return store_.put(key,
                                  storage::LocalWrite{.head = head,
                                                      .body = data,
                                                      .version = header.version,
                                                      .digest = header.chunk_checksum,
                                                      .temperature = temperature},
                                  std::move(stored));
            },
            [this, data_bytes, id, done = std::move(done)](Status status) {
                if (status.is_ok()) {
                    stats_.chunks_stored += 1;
                    stats_.chunk_bytes_stored += data_bytes;
                    if (chunk_stored_) chunk_stored_(id);
                }
                done(std::move(status));
            });
}

void PeerService::get_chunk(const object::ChunkId& chunk, ChunkDone done) {
    SHOAL_ASSERT(done != nullptr);
    stats_.chunk_gets += 1;
    store_.read(object::chunk_store_key(chunk),
                [this, chunk, done = std::move(done)](Result<storage::LocalRecord> record) {
                    if (!record.is_ok() && record.status().code() == Code::kNotFound) {
                        stats_.chunk_gets_not_found += 1;
                        done(Status::not_found(describe(chunk) + " is not held"));
                        return;
                    }
                    done(std::move(record));
                });
}

void PeerService::delete_chunk(const object::ChunkId& chunk, Done done) {
    SHOAL_ASSERT(done != nullptr);
    const std::string key = object::chunk_store_key(chunk);
    // The removal carries the version held: the disk store ignores a removal older than the
    // record it would remove.
    const std::optional<Version> held = store_.version_of(key);
    if (!held.has_value()) {
        defer_status(std::move(done), Status::ok());  // Gone already: the same answer.
        return;
    }
    write(
            [&](storage::LocalStore::Done removed) {
                return store_.remove(key, *held, std::move(removed));
            },
            [this, done = std::move(done)](Status status) {
                if (status.is_ok()) stats_.chunks_deleted += 1;
                done(std::move(status));
            });
}

void PeerService::put_manifest(ByteView manifest_bytes, ManifestPutDone done) {
    SHOAL_ASSERT(done != nullptr);
    if (manifest_bytes.empty() || manifest_bytes.size() > wire::kManifestBytesMax) {
        defer_status(std::move(done),
                     Status::invalid_argument(fmt::format("manifest put: a manifest of {} bytes",
                                                          manifest_bytes.size())));
        return;
    }
    Result<object::Manifest> decoded = object::decode_manifest(manifest_bytes);
    if (!decoded.is_ok()) {
        accept_manifest(decoded.status(), manifest_bytes, std::move(done));
        return;
    }
    object::Manifest& manifest = decoded.value();
    accept_manifest(object::ManifestHead{.kind = manifest.kind,
                                         .key = std::move(manifest.key),
                                         .version = manifest.version,
                                         .object_bytes = manifest.object_bytes,
                                         .object_digest = manifest.object_digest},
                    manifest_bytes,
                    std::move(done));
}

void PeerService::put_own_manifest(ByteView manifest_bytes, ManifestPutDone done) {
    SHOAL_ASSERT(done != nullptr);
    SHOAL_ASSERT_EXPENSIVE(object::decode_manifest(manifest_bytes).is_ok());
    accept_manifest(object::decode_manifest_head(manifest_bytes), manifest_bytes, std::move(done));
}

void PeerService::accept_manifest(Result<object::ManifestHead> head,
                                  ByteView bytes,
                                  ManifestPutDone done) {
    if (!head.is_ok()) {
        stats_.manifests_refused_corrupt += 1;
        log_.warn("manifest_refused reason=\"{}\"", head.status().message());
        defer_status(std::move(done), head.status());
        return;
    }
    const object::ManifestHead& manifest = head.value();
    if (version_seen_) version_seen_(manifest.version);
    std::string key = object::manifest_store_key(manifest.key);
    const std::optional<Version> held = store_.version_of(key);
    if (held.has_value() && manifest.version <= *held) {
        stats_.manifests_superseded += 1;
        const wire::ManifestPutReply reply{.outcome = wire::ManifestPutOutcome::kSuperseded,
                                           .current = *held};
        defer([done = std::move(done), reply]() { done(reply); });
        return;
    }
    // A newer write in flight supersedes this put only once it is durable: if it fails, this
    // put must not have been answered as if a newer version were held.
    auto writes = manifest_writes_.find(key);
    if (writes != manifest_writes_.end() && manifest.version <= writes->second.back().version) {
        writes->second.back().superseded.push_back(std::move(done));
        return;
    }
    store_manifest(key, manifest, bytes, std::move(done));
}

// The write is registered before it starts, so that puts of older versions wait for it; one the
// store refuses at once leaves the register again when its refusal is delivered.
void PeerService::store_manifest(const std::string& store_key,
                                 const object::ManifestHead& manifest,
                                 ByteView bytes,
                                 ManifestPutDone done) {
    const Version version = manifest.version;
    std::vector<ManifestWrite>& writes = manifest_writes_[store_key];
    SHOAL_ASSERT(writes.empty() || writes.back().version < version);
    writes.push_back(ManifestWrite{.version = version, .superseded = {}});
    write(
            [&](storage::LocalStore::Done stored) {
                // The manifest's bytes are the whole record: a get sends them as they are.
                return store_.put(store_key,
                                  storage::LocalWrite{.body = bytes,
                                                      .version = version,
                                                      .digest = manifest.object_digest},
                                  std::move(stored));
            },
            [this, store_key, version, done = std::move(done)](Status status) {
                if (status.is_ok()) stats_.manifests_stored += 1;
                manifest_written(store_key, version, status);
                if (!status.is_ok()) {
                    done(std::move(status));
                    return;
                }
                done(wire::ManifestPutReply{.outcome = wire::ManifestPutOutcome::kStored,
                                            .current = version});
            });
}

// Answers the puts that waited for this write. Writes of one key may finish in any order; the
// store keeps the newest whatever the order, so what it holds afterwards is the version held.
void PeerService::manifest_written(const std::string& store_key,
                                   Version version,
                                   const Status& status) {
    auto writes = manifest_writes_.find(store_key);
    SHOAL_ASSERT(writes != manifest_writes_.end());
    auto write = std::find_if(
            writes->second.begin(), writes->second.end(), [version](const ManifestWrite& each) {
                return each.version == version;
            });
    SHOAL_ASSERT(write != writes->second.end());
    std::vector<ManifestPutDone> superseded = std::move(write->superseded);
    writes->second.erase(write);
    if (writes->second.empty()) manifest_writes_.erase(writes);
    if (!status.is_ok()) {
        for (ManifestPutDone& waiting : superseded) {
            waiting(status);
        }
        return;
    }
    const Version held = std::max(store_.version_of(store_key).value_or(version), version);
    for (ManifestPutDone& waiting : superseded) {
        stats_.manifests_superseded += 1;
        waiting(wire::ManifestPutReply{.outcome = wire::ManifestPutOutcome::kSuperseded,
                                       .current = held});
    }
}

void PeerService::get_manifest(std::string_view key, ManifestDone done) {
    SHOAL_ASSERT(done != nullptr);
    read_manifest(key,
                  [done = std::move(done)](Result<std::optional<storage::LocalRecord>> record) {
                      if (!record.is_ok()) {
                          done(record.status());
                      } else if (!record.value().has_value()) {
                          done(std::optional<Buffer>());
                      } else {
                          done(std::optional<Buffer>(record.value()->join()));
                      }
                  });
}

void PeerService::read_manifest(std::string_view key, ManifestRecordDone done) {
    SHOAL_ASSERT(done != nullptr);
    if (Status valid = object::check_key(key); !valid.is_ok()) {
        defer_status(std::move(done), valid);
        return;
    }
    stats_.manifest_gets += 1;
    store_.read(object::manifest_store_key(key),
                [this, done = std::move(done)](Result<storage::LocalRecord> record) {
                    if (record.is_ok()) {
                        done(std::optional<storage::LocalRecord>(std::move(record).value()));
                        return;
                    }
                    if (record.status().code() != Code::kNotFound) {
                        done(record.status());
                        return;
                    }
                    stats_.manifest_gets_not_found += 1;
                    done(std::optional<storage::LocalRecord>());
                });
}

void PeerService::list_manifests(std::string_view prefix,
                                 std::string_view start_after,
                                 uint32_t limit,
                                 ListDone done) {
    SHOAL_ASSERT(done != nullptr);
    if (Status bounds = check_list_bounds(prefix, start_after, limit); !bounds.is_ok()) {
        defer_status(std::move(done), bounds);
        return;
    }
    stats_.lists += 1;
    // The store key of start_after is its namespace byte and the key, as for any manifest; it
    // need not be a valid key to bound a listing.
    const std::string store_start =
            start_after.empty() ? std::string() : object::manifest_store_prefix(start_after);
    const storage::LocalListPage page =
            store_.list(object::manifest_store_prefix(prefix), store_start, limit);
    auto list = std::make_shared<List>();
    list->truncated = page.truncated;
    list->done = std::move(done);
    list->slots.reserve(page.entries.size());
    size_t reply_bytes = 0;
    for (const storage::LocalListEntry& entry : page.entries) {
        SHOAL_ASSERT(!entry.key.empty());
        reply_bytes += wire::manifest_list_entry_bytes(entry.key.substr(1));
        if (reply_bytes > wire::kManifestListEntriesBytesMax) {
            list->truncated = true;  // The coordinator asks again from the last key it got.
            break;
        }
        // The keys are views into the store, valid only until it changes: copied.
        list->slots.push_back(List::Slot{.store_key = std::string(entry.key),
                                         .record_bytes = entry.record_bytes,
                                         .entry = std::nullopt});
    }
    // The last listed key a requester will accept as a cursor: one that the key rule refuses
    // (a store key damaged past its checksum) must not end up on the wire.
    for (auto slot = list->slots.rbegin(); slot != list->slots.rend(); ++slot) {
        const std::string_view key = std::string_view{slot->store_key}.substr(1);
        if (object::check_key(key).is_ok()) {
            list->scanned_through = std::string(key);
            break;
        }
    }
    if (list->truncated && list->scanned_through.empty()) {
        defer_status(std::move(list->done),
                     Status::corruption("manifest list: no listed key is a valid key to go on "
                                        "after"));
        return;
    }
    if (list->slots.empty()) {
        defer([this, list]() { finish_list(*list); });
        return;
    }
    read_listed(list);
}

// Starts reads while the window has room; at least one is always in flight until all are done.
void PeerService::read_listed(const std::shared_ptr<List>& list) {
    while (list->read_next < list->slots.size()) {
        const List::Slot& slot = list->slots[list->read_next];
        if (list->reads_in_flight > 0 &&
            list->read_bytes_in_flight + slot.record_bytes > kListReadBytesInFlightMax) {
            return;
        }
        const size_t index = list->read_next;
        list->read_next += 1;
        list->reads_in_flight += 1;
        list->read_bytes_in_flight += slot.record_bytes;
        store_.read(slot.store_key, [this, list, index](Result<storage::LocalRecord> record) {
            listed_read(list, index, std::move(record));
        });
    }
}

// A manifest that is gone (replaced between the listing and the read keeps its key, so only a
// removal does that), unreadable or corrupt is left out: the coordinator merges the lists of
// every owner, so one owner's bad copy costs no entry. Any other failure fails the list.
void PeerService::listed_read(const std::shared_ptr<List>& list,
                              size_t index,
                              Result<storage::LocalRecord> record) {
    List::Slot& slot = list->slots[index];
    SHOAL_ASSERT(list->reads_in_flight > 0);
    list->reads_in_flight -= 1;
    list->read_bytes_in_flight -= slot.record_bytes;
    Status status = record.status();
    if (status.is_ok()) {
        Buffer joined;
        Result<object::Manifest> manifest =
                object::decode_manifest(contiguous(record.value(), joined));
        status = manifest.status();
        if (status.is_ok() && manifest.value().key != slot.store_key.substr(1)) {
            status = Status::corruption("manifest: stored under another key");
        }
        if (status.is_ok()) {
            const object::Manifest& held = manifest.value();
            slot.entry = wire::ManifestListEntry{.key = held.key,
                                                 .version = held.version,
                                                 .object_bytes = held.object_bytes,
                                                 .digest = held.object_digest,
                                                 .tombstone = held.is_tombstone()};
        }
    }
    if (status.code() == Code::kNotFound) {
        stats_.list_manifests_skipped += 1;
    } else if (status.code() == Code::kCorruption) {
        stats_.list_manifests_skipped += 1;
        log_.warn("listed_manifest_skipped store_key_bytes={} reason=\"{}\"",
                  slot.store_key.size(),
                  status.message());
    } else if (!status.is_ok() && list->failure.is_ok()) {
        list->failure = status;
    }
    if (list->failure.is_ok()) read_listed(list);
    const bool all_read = list->read_next == list->slots.size();
    if (list->reads_in_flight == 0 && (all_read || !list->failure.is_ok())) finish_list(*list);
}

void PeerService::finish_list(List& list) {
    SHOAL_ASSERT(!list.finished);
    SHOAL_ASSERT(list.reads_in_flight == 0);
    list.finished = true;
    if (!list.failure.is_ok()) {
        list.done(list.failure);
        return;
    }
    wire::ManifestListReply reply;
    reply.truncated = list.truncated;
    reply.scanned_through = std::move(list.scanned_through);
    reply.entries.reserve(list.slots.size());
    for (List::Slot& slot : list.slots) {
        if (slot.entry.has_value()) reply.entries.push_back(std::move(*slot.entry));
    }
    stats_.list_entries += reply.entries.size();
    list.done(std::move(reply));
}

bool PeerService::is_peer_request(const wire::Request& request) {
    return std::holds_alternative<wire::ChunkPutRequest>(request) ||
           std::holds_alternative<wire::ChunkGetRequest>(request) ||
           std::holds_alternative<wire::ChunkDeleteRequest>(request) ||
           std::holds_alternative<wire::ManifestPutRequest>(request) ||
           std::holds_alternative<wire::ManifestGetRequest>(request) ||
           std::holds_alternative<wire::ManifestListRequest>(request);
}

void PeerService::serve(const wire::Request& request, RequestId id, Reply reply) {
    SHOAL_ASSERT(is_peer_request(request));
    SHOAL_ASSERT(reply != nullptr);
    if (std::holds_alternative<wire::ChunkPutRequest>(request) ||
        std::holds_alternative<wire::ChunkGetRequest>(request) ||
        std::holds_alternative<wire::ChunkDeleteRequest>(request)) {
        serve_chunk(request, id, reply);
    } else {
        serve_manifest(request, id, reply);
    }
}

void PeerService::serve_chunk(const wire::Request& request, RequestId id, Reply& reply) {
    if (const auto* put = std::get_if<wire::ChunkPutRequest>(&request)) {
        put_chunk(put->record, [id, reply = std::move(reply)](const Status& status) {
            reply(status.is_ok() ? reply_frame(id, wire::ChunkPutReply{})
                                 : error_reply(id, wire::Opcode::kChunkPut, status));
        });
    } else if (const auto* get = std::get_if<wire::ChunkGetRequest>(&request)) {
        get_chunk(to_object_chunk_id(get->chunk),
                  [id, reply = std::move(reply)](Result<storage::LocalRecord> record) {
                      reply(record.is_ok()
                                    ? chunk_get_reply(id, record.value())
                                    : error_reply(id, wire::Opcode::kChunkGet, record.status()));
                  });
    } else {
        const auto& remove = std::get<wire::ChunkDeleteRequest>(request);
        delete_chunk(to_object_chunk_id(remove.chunk),
                     [id, reply = std::move(reply)](const Status& status) {
                         reply(status.is_ok()
                                       ? reply_frame(id, wire::ChunkDeleteReply{})
                                       : error_reply(id, wire::Opcode::kChunkDelete, status));
                     });
    }
}

void PeerService::serve_manifest(const wire::Request& request, RequestId id, Reply& reply) {
    if (const auto* put = std::get_if<wire::ManifestPutRequest>(&request)) {
        put_manifest(
                put->manifest,
                [id, reply = std::move(reply)](Result<wire::ManifestPutReply> answer) {
                    reply(answer.is_ok()
                                  ? reply_frame(id, answer.value())
                                  : error_reply(id, wire::Opcode::kManifestPut, answer.status()));
                });
    } else if (const auto* get = std::get_if<wire::ManifestGetRequest>(&request)) {
        get_manifest(
                get->key, [id, reply = std::move(reply)](Result<std::optional<Buffer>> manifest) {
                    reply(manifest.is_ok()
                                  ? manifest_get_reply(id, std::move(manifest).value())
                                  : error_reply(id, wire::Opcode::kManifestGet, manifest.status()));
                });
    } else {
        const auto& list = std::get<wire::ManifestListRequest>(request);
        list_manifests(
                list.prefix,
                list.start_after,
                list.limit,
                [id, reply = std::move(reply)](Result<wire::ManifestListReply> page) {
                    reply(page.is_ok()
                                  ? reply_frame(id, page.value())
                                  : error_reply(id, wire::Opcode::kManifestList, page.status()));
                });
    }
}

// A record whose size is out of bounds cannot have been stored by this service; it is reported
// as a bad copy rather than trusted.
runtime::OutFrame PeerService::chunk_get_reply(RequestId id, const storage::LocalRecord& record) {
    size_t record_bytes = 0;
    for (const storage::PieceData& piece : record.pieces) {
        record_bytes += piece.data.size();
    }
    if (record_bytes == 0 || record_bytes > wire::kChunkRecordBytesMax) {
        return error_reply(id,
                           wire::Opcode::kChunkGet,
                           Status::corruption(fmt::format("chunk get: a stored record of {} bytes",
                                                          record_bytes)));
    }
    runtime::OutFrame frame;
    wire::encode_chunk_get_reply_prefix(id, record_bytes, frame.head);
    // The last piece is the chunk's data (disk mode), or the whole record (memory mode, which
    // merges small pieces); either way the bulk of the bytes is sent from where it is stored.
    for (size_t index = 0; index + 1 < record.pieces.size(); index++) {
        frame.head.append(record.pieces[index].data);
    }
    frame.payload = record.pieces.back().data;
    frame.payload_owner = record.pieces.back().owner;
    SHOAL_ASSERT(frame.size() == wire::kFrameHeaderBytes + record_bytes);
    return frame;
}

runtime::OutFrame PeerService::manifest_get_reply(RequestId id, std::optional<Buffer> manifest) {
    if (!manifest.has_value()) return reply_frame(id, wire::ManifestGetReply{.found = false});
    if (manifest->empty() || manifest->size() > wire::kManifestBytesMax) {
        return error_reply(
                id,
                wire::Opcode::kManifestGet,
                Status::corruption(fmt::format("manifest get: a stored manifest of {} bytes",
                                               manifest->size())));
    }
    auto owner = std::make_shared<const Buffer>(std::move(*manifest));
    runtime::OutFrame frame;
    wire::encode_manifest_get_reply_prefix(id, owner->size(), frame.head);
    frame.payload = owner->view();
    frame.payload_owner = std::move(owner);
    return frame;
}

runtime::OutFrame PeerService::error_reply(RequestId id,
                                           wire::Opcode opcode,
                                           const Status& status) {
    SHOAL_ASSERT(!status.is_ok());
    runtime::OutFrame frame;
    wire::encode_error(id,
                       opcode,
                       wire::ErrorReply{.code = status.code(), .message = status.message()},
                       frame.head);
    return frame;
}

void PeerService::on_turn_end() {
    std::vector<std::function<void()>> ready = std::move(deferred_);
    deferred_.clear();
    for (std::function<void()>& completion : ready) {
        completion();
    }
}

size_t PeerService::manifest_writes_in_flight() const {
    size_t writes = 0;
    for (const auto& [key, key_writes] : manifest_writes_) {
        writes += key_writes.size();
    }
    return writes;
}

void PeerService::defer(std::function<void()> completion) {
    deferred_.push_back(std::move(completion));
}

}  // namespace shoal::node

// Goal: the disk store never loses an acknowledged put or delete and never returns bytes that
// fail their checks, whatever the disk does: a crash at any moment (unsynced writes lost, the
// last one torn), bits flipped in the log, EIO and a full disk. Recovery tells a torn tail from
// corruption in the middle of the log.
//
// Method: a DiskStore on SimDisk runs a seeded random workload of puts (inline and multi-piece,
// across segment rotations), overwrites and deletes. At a random event it is crashed and
// reopened over the same disk, and a checker compares what is visible with a model: each key
// shows its last acknowledged state or a later one that was in flight, byte for byte.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <spdlog/logger.h>

#include "shoal/base/hash.h"
#include "shoal/base/prng.h"
#include "shoal/sim/error_counting_sink.h"
#include "shoal/sim/sim_disk.h"
#include "shoal/storage/disk_store.h"

namespace shoal::sim {
namespace {

using storage::DiskObjectRef;
using storage::DiskStore;
using storage::PieceData;

// One put or delete of the workload, as the model knows it.
struct Operation {
    Version version;
    bool is_delete = false;
    std::shared_ptr<const Buffer> content;  // Puts only.
};

// What a key may show after a crash: its last acknowledged operation, or one issued after it.
struct KeyModel {
    std::optional<Operation> acknowledged;
    std::vector<Operation> in_flight;  // Issued, not acknowledged (or failed: may have landed).
};

class StoreHarness {
public:
    StoreHarness(uint64_t seed, DiskFaults faults, DiskStore::Options options)
        : disk_(events_, seed, faults),
          sink_(std::make_shared<ErrorCountingSink>()),
          log_("sim.store", sink_),
          options_(std::move(options)) {}

    EventQueue& events() { return events_; }
    SimDisk& disk() { return disk_; }
    DiskStore& store() { return *store_; }
    uint64_t error_logs() const { return sink_->errors(); }

    // A new store over the disk, recovered. REQUIRES: the previous one crashed or is idle.
    Status open() {
        store_ = std::make_unique<DiskStore>(options_, disk_, log_);
        std::optional<Status> outcome;
        store_->open([&](Status status) { outcome = std::move(status); });
        run_until([&] { return outcome.has_value(); });
        store_->on_turn_end();
        return outcome.value_or(Status::timeout("open never finished"));
    }

    void crash() {
        disk_.crash();
        store_.reset();
    }

    // Runs events, ending each instant's work with the store's turn end, until `done`.
    template <typename Predicate>
    void run_until(Predicate done) {
        for (uint32_t step = 0; step < 1'000'000 && !done(); ++step) {
            if (store_ != nullptr) store_->on_turn_end();
            if (!events_.run_next()) break;
        }
    }

    // The object's bytes, every piece read and checked, or the first failure.
    Result<Buffer> read_all(const DiskObjectRef& object) {
        Buffer bytes;
        for (size_t index = 0; index < object->piece_count(); ++index) {
            std::optional<Result<PieceData>> piece;
            const Status started = store_->read_piece(
                    object, index, [&](Result<PieceData> read) { piece = std::move(read); });
            if (!started.is_ok()) return started;
            run_until([&] { return piece.has_value(); });
            if (!piece.has_value()) return Status::timeout("read never finished");
            if (!piece->is_ok()) return piece->status();
            bytes.append(piece->value().data);
        }
        return bytes;
    }

private:
    EventQueue events_;
    SimDisk disk_;
    std::shared_ptr<ErrorCountingSink> sink_;
    spdlog::logger log_;
    DiskStore::Options options_;
    std::unique_ptr<DiskStore> store_;
};

// Pieces as a client's frames would cut them, smaller than the 1 MiB maximum to keep the runs
// quick; segments are small so that objects straddle rotations.
constexpr size_t kPieceBytes = 64 * 1024;
constexpr uint64_t kSegmentBytes = 256 * 1024;

std::shared_ptr<const Buffer> random_content(Prng& prng) {
    const uint64_t shape = prng.below(100);
    uint64_t bytes = 0;
    if (shape < 40) {
        bytes = prng.below(100);
    } else if (shape < 85) {
        bytes = prng.below(8192);
    } else {
        bytes = prng.below(kPieceBytes * 5 / 2);  // Several pieces, and segment rotations.
    }
    auto content = std::make_shared<Buffer>(bytes);
    prng.fill(content->data(), content->size());
    return content;
}

class Workload {
public:
    static constexpr uint32_t kKeys = 8;

    Workload(StoreHarness& harness, uint64_t seed) : harness_(harness), prng_(seed) {}

    // Issues operations and runs events until `events` have run, then stops where it is.
    void run_for(uint64_t events) {
        for (uint64_t step = 0; step < events; ++step) {
            if (in_flight_ < 4 && prng_.below(3) == 0) issue();
            harness_.store().on_turn_end();
            if (prng_.below(8) == 0) harness_.store().on_tick();
            if (!harness_.events().run_next() && in_flight_ == 0) issue();
        }
    }

    // After a restart: every key shows an allowed state, byte-exact. That state becomes the
    // new acknowledged one.
    void check() {
        for (uint32_t key_index = 0; key_index < kKeys; ++key_index) {
            const std::string key = key_name(key_index);
            CAPTURE(key);
            KeyModel& model = keys_[key_index];
            const DiskObjectRef object = harness_.store().find(key);
            const Operation* shown = allowed_state(model, object);
            CAPTURE(object == nullptr ? uint64_t{0} : object->version.hlc);
            CAPTURE(model.acknowledged ? model.acknowledged->version.hlc : uint64_t{0});
            CAPTURE(model.acknowledged && model.acknowledged->is_delete);
            CAPTURE(model.in_flight.size());
            REQUIRE(shown != nullptr);
            if (object != nullptr) {
                Result<Buffer> bytes = harness_.read_all(object);
                INFO(bytes.status().message());
                REQUIRE(bytes.is_ok());
                REQUIRE(equal_bytes(bytes.value().view(), shown->content->view()));
                REQUIRE(object->digest == hash64(shown->content->view()));
            }
            const Operation kept = *shown;
            model.acknowledged = kept;
            model.in_flight.clear();
        }
        in_flight_ = 0;
    }

    uint64_t acknowledged() const { return acknowledged_; }

private:
    static std::string key_name(uint32_t index) { return "key/" + std::to_string(index); }

    // What the store shows must be the acknowledged state or an in-flight one after it.
    static const Operation* allowed_state(const KeyModel& model, const DiskObjectRef& object) {
        static const Operation kAbsent{.version = {}, .is_delete = true, .content = nullptr};
        const Version floor = model.acknowledged ? model.acknowledged->version : Version{};
        auto matches = [&](const Operation& operation) {
            if (object == nullptr) return operation.is_delete;
            return !operation.is_delete && operation.version == object->version;
        };
        if (model.acknowledged && matches(*model.acknowledged)) return &*model.acknowledged;
        if (!model.acknowledged && object == nullptr) return &kAbsent;
        for (const Operation& operation : model.in_flight) {
            if (operation.version > floor && matches(operation)) return &operation;
        }
        return nullptr;
    }

    void issue() {
        const auto key_index = static_cast<uint32_t>(prng_.below(kKeys));
        const std::string key = key_name(key_index);
        hlc_ += 1;
        const Version version{.hlc = hlc_, .node = NodeId{1}};
        DiskStore& store = harness_.store();
        if (prng_.below(10) < 3) {
            const Status status = store.remove(key, version, [this, key_index, version](Status s) {
                finished(key_index, version, s);
            });
            if (status.is_ok()) {
                keys_[key_index].in_flight.push_back(
                        Operation{.version = version, .is_delete = true});
                in_flight_ += 1;
            }
            return;
        }
        // Cold puts (parity) carry the disk's cache hint; the log is the same either way.
        const storage::Temperature temperature =
                prng_.below(2) == 0 ? storage::Temperature::kCold : storage::Temperature::kWarm;
        Result<storage::PutId> put = store.begin_put(key, 0, temperature);
        if (!put.is_ok()) return;
        std::shared_ptr<const Buffer> content = random_content(prng_);
        ByteView rest = content->view();
        while (rest.size() > kPieceBytes) {
            store.append(put.value(), rest.first(kPieceBytes));
            rest = rest.subspan(kPieceBytes);
        }
        const Status status = store.commit(
                put.value(),
                rest,
                version,
                hash64(content->view()),
                [this, key_index, version](Status s) { finished(key_index, version, s); });
        if (status.is_ok()) {
            keys_[key_index].in_flight.push_back(
                    Operation{.version = version, .is_delete = false, .content = content});
            in_flight_ += 1;
        }
    }

    void finished(uint32_t key_index, Version version, const Status& status) {
        SHOAL_ASSERT(in_flight_ > 0);
        in_flight_ -= 1;
        if (!status.is_ok()) return;  // It may or may not have landed: it stays in flight.
        acknowledged_ += 1;
        KeyModel& model = keys_[key_index];
        for (auto operation = model.in_flight.begin(); operation != model.in_flight.end();
             ++operation) {
            if (operation->version != version) continue;
            if (!model.acknowledged || model.acknowledged->version < version) {
                model.acknowledged = *operation;
            }
            break;
        }
        // Older in-flight operations can no longer show: the acknowledged one is later.
        std::erase_if(model.in_flight, [&](const Operation& operation) {
            return operation.version <= model.acknowledged->version;
        });
    }

    StoreHarness& harness_;
    Prng prng_;
    KeyModel keys_[kKeys];
    uint64_t hlc_ = 0;
    uint32_t in_flight_ = 0;
    uint64_t acknowledged_ = 0;
};

DiskStore::Options small_store_options() {
    DiskStore::Options options{
            .directory = "/data", .segment_bytes = kSegmentBytes, .cache_bytes = kSegmentBytes};
    options.compaction_check_ticks = 1;  // Compact as soon as a segment qualifies.
    return options;
}

// Checkpoints often enough that the crash points fall before, inside and after them.
DiskStore::Options checkpointing_store_options() {
    DiskStore::Options options = small_store_options();
    options.checkpoint_interval_bytes = 48 * 1024;
    return options;
}

TEST_CASE("disk store: acknowledged puts and deletes survive crashes at random points",
          "[sim][disk_store]") {
    constexpr uint64_t kSeeds = 200;
    constexpr uint32_t kCrashesPerSeed = 10;
    uint64_t torn_tails = 0;
    uint64_t acknowledged = 0;
    uint64_t compactions = 0;
    uint64_t checkpoints = 0;
    uint64_t recoveries_from_checkpoint = 0;
    for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
        CAPTURE(seed);
        StoreHarness harness(seed, DiskFaults{}, checkpointing_store_options());
        Workload workload(harness, seed * 7919);
        Prng prng(seed);
        REQUIRE(harness.open().is_ok());
        for (uint32_t crash = 0; crash < kCrashesPerSeed; ++crash) {
            CAPTURE(crash);
            workload.run_for(prng.below(400));
            compactions += harness.store().stats().compactions;
            checkpoints += harness.store().stats().checkpoints;
            harness.crash();
            REQUIRE(harness.open().is_ok());
            const storage::DiskStoreStats stats = harness.store().stats();
            if (stats.recovered_from_checkpoint) recoveries_from_checkpoint += 1;
            // A checkpoint written while the store ran, crashed or not, is always usable.
            REQUIRE(stats.checkpoints_set_aside == 0);
            REQUIRE(stats.corrupt_ranges == 0);  // A crash tears; it never corrupts.
            REQUIRE(stats.damaged_objects == 0);
            torn_tails += stats.torn_tails;
            workload.check();
        }
        REQUIRE(harness.error_logs() == 0);
        acknowledged += workload.acknowledged();
    }
    // The crash points did hit writes in progress, and the workload did real work.
    REQUIRE(torn_tails > 0);
    REQUIRE(acknowledged > kSeeds * kCrashesPerSeed);
    REQUIRE(compactions > 0);  // Crashes also hit compactions in progress.
    REQUIRE(checkpoints > 0);
    REQUIRE(recoveries_from_checkpoint > kSeeds);  // Most restarts started from a checkpoint.
    REQUIRE(recoveries_from_checkpoint < kSeeds * kCrashesPerSeed);
}

// Puts `count` inline objects and waits for all of them to be durable.
void put_durably(StoreHarness& harness,
                 uint32_t count,
                 uint64_t object_bytes,
                 uint64_t hlc_base = 0) {
    uint32_t done = 0;
    for (uint32_t index = 0; index < count; ++index) {
        Buffer content(object_bytes);
        for (size_t offset = 0; offset < object_bytes; ++offset) {
            content[offset] = static_cast<std::byte>((index * 31 + offset) & 0xff);
        }
        Result<storage::PutId> put = harness.store().begin_put("object/" + std::to_string(index));
        REQUIRE(put.is_ok());
        ByteView rest = content.view();
        while (rest.size() > kPieceBytes) {
            harness.store().append(put.value(), rest.first(kPieceBytes));
            rest = rest.subspan(kPieceBytes);
        }
        REQUIRE(harness.store()
                        .commit(put.value(),
                                rest,
                                Version{.hlc = hlc_base + index + 1u, .node = NodeId{1}},
                                hash64(content.view()),
                                [&](Status status) {
                                    REQUIRE(status.is_ok());
                                    done += 1;
                                })
                        .is_ok());
        harness.store().on_turn_end();
    }
    harness.run_until([&] { return done == count; });
    REQUIRE(done == count);
}

TEST_CASE("disk store: a flipped bit in the log is reported, and the rest reads fine",
          "[sim][disk_store]") {
    const uint64_t object_bytes = GENERATE(uint64_t{200}, uint64_t{3} * kPieceBytes);
    CAPTURE(object_bytes);
    StoreHarness harness(/*seed=*/3, DiskFaults{.tear_per_million = 0}, small_store_options());
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 3, object_bytes);
    const DiskObjectRef victim = harness.store().find("object/1");
    REQUIRE(victim != nullptr);
    const storage::RecordLocation target = victim->is_inline() ? victim->commit : victim->pieces[1];
    harness.crash();
    const std::string path = "/data/" + storage::segment_file_name(target.segment);
    REQUIRE(harness.disk().flip_bit(path, target.offset + target.record_bytes / 2, 3));

    REQUIRE(harness.open().is_ok());
    const storage::DiskStoreStats stats = harness.store().stats();
    REQUIRE(stats.corrupt_ranges == 1);
    REQUIRE(stats.torn_tails == 0);
    for (const char* intact : {"object/0", "object/2"}) {
        const DiskObjectRef object = harness.store().find(intact);
        REQUIRE(object != nullptr);
        Result<Buffer> bytes = harness.read_all(object);
        REQUIRE(bytes.is_ok());
        REQUIRE(hash64(bytes.value().view()) == object->digest);
    }
    const DiskObjectRef damaged = harness.store().find("object/1");
    if (victim->is_inline()) {
        REQUIRE(damaged == nullptr);  // Its only record is gone: never returned in part.
    } else {
        REQUIRE(damaged != nullptr);
        REQUIRE(stats.damaged_objects == 1);
        Result<Buffer> bytes = harness.read_all(damaged);
        REQUIRE(bytes.status().code() == Code::kCorruption);
    }
    REQUIRE(harness.error_logs() > 0);  // The damage was logged as an error.
}

TEST_CASE("disk store: a bit flipped under a running store fails the read, counted",
          "[sim][disk_store]") {
    DiskStore::Options options = small_store_options();
    options.cache_bytes = 0;
    StoreHarness harness(/*seed=*/4, DiskFaults{}, options);
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 2, 5000);
    const DiskObjectRef object = harness.store().find("object/0");
    const std::string path = "/data/" + storage::segment_file_name(object->commit.segment);
    REQUIRE(harness.disk().flip_bit(path, object->commit.offset + 100, 0));
    Result<Buffer> bytes = harness.read_all(object);
    REQUIRE(bytes.status().code() == Code::kCorruption);
    REQUIRE(bytes.status().message().find("checksum") != std::string::npos);
    REQUIRE(harness.store().stats().corrupt_reads == 1);
    REQUIRE(harness.read_all(harness.store().find("object/1")).is_ok());
}

TEST_CASE("disk store: a failed write or sync stops writes, and reads and acked data stay",
          "[sim][disk_store]") {
    const SimDisk::Operation failing =
            GENERATE(SimDisk::Operation::kWrite, SimDisk::Operation::kSync);
    const Status cause = GENERATE(Status::io_error("injected EIO"),
                                  Status::resource_exhausted("injected ENOSPC"));
    CAPTURE(static_cast<int>(failing), cause.message());
    StoreHarness harness(/*seed=*/5, DiskFaults{}, small_store_options());
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 2, 1000);

    harness.disk().fail_next(failing, cause);
    Result<storage::PutId> put = harness.store().begin_put("object/late");
    REQUIRE(put.is_ok());
    std::optional<Status> outcome;
    REQUIRE(harness.store()
                    .commit(put.value(),
                            as_bytes("late"),
                            Version{.hlc = 100, .node = NodeId{1}},
                            hash64(as_bytes("late")),
                            [&](Status status) { outcome = std::move(status); })
                    .is_ok());
    harness.run_until([&] { return outcome.has_value(); });
    REQUIRE(outcome.has_value());
    REQUIRE(outcome->code() == Code::kIoError);
    REQUIRE(outcome->message().find(std::string(cause.message())) != std::string::npos);
    REQUIRE(harness.store().stats().writes_stopped);
    REQUIRE(harness.store().find("object/late") == nullptr);
    REQUIRE(harness.store().begin_put("object/later").status().code() == Code::kIoError);
    REQUIRE(harness.store()
                    .remove("object/0", Version{.hlc = 101, .node = NodeId{1}}, [](Status) {})
                    .code() == Code::kIoError);
    REQUIRE(harness.read_all(harness.store().find("object/0")).is_ok());

    harness.crash();
    REQUIRE(harness.open().is_ok());
    for (const char* key : {"object/0", "object/1"}) {
        REQUIRE(harness.store().find(key) != nullptr);
        REQUIRE(harness.read_all(harness.store().find(key)).is_ok());
    }
}

TEST_CASE("disk store: puts are refused before the disk is full, and nothing fails",
          "[sim][disk_store]") {
    constexpr uint64_t kCapacityBytes = 3 << 20;
    DiskStore::Options options = small_store_options();
    options.reserve_bytes = 1 << 20;
    StoreHarness harness(/*seed=*/8, DiskFaults{.capacity_bytes = kCapacityBytes}, options);
    REQUIRE(harness.open().is_ok());
    const uint64_t object_bytes = 50'000;
    Buffer content(object_bytes);
    Prng(8).fill(content.data(), content.size());
    uint32_t stored = 0;
    Status refused;
    for (uint32_t index = 0; index < 100 && refused.is_ok(); ++index) {
        Result<storage::PutId> put =
                harness.store().begin_put("object/" + std::to_string(index), object_bytes);
        if (!put.is_ok()) {
            refused = put.status();
            break;
        }
        std::optional<Status> outcome;
        REQUIRE(harness.store()
                        .commit(put.value(),
                                content.view(),
                                Version{.hlc = index + 1u, .node = NodeId{1}},
                                hash64(content.view()),
                                [&](Status status) { outcome = std::move(status); })
                        .is_ok());
        harness.run_until([&] { return outcome.has_value(); });
        REQUIRE(outcome.has_value());
        REQUIRE(outcome->is_ok());
        stored += 1;
    }
    CAPTURE(stored);
    REQUIRE(refused.code() == Code::kResourceExhausted);
    REQUIRE(refused.message().find("no space") != std::string::npos);
    REQUIRE(stored * object_bytes >= kCapacityBytes - (3u << 20) / 2);  // It used the room it had.
    REQUIRE_FALSE(harness.store().stats().writes_stopped);
    REQUIRE(harness.disk().used_bytes() <= kCapacityBytes - options.reserve_bytes);
    for (uint32_t index = 0; index < stored; ++index) {
        REQUIRE(harness.read_all(harness.store().find("object/" + std::to_string(index))).is_ok());
    }
}

TEST_CASE("disk store: what recovery finds in the page cache is synced before it is built on",
          "[sim][disk_store]") {
    DiskStore::Options options = small_store_options();
    options.fsync = storage::FsyncSetting{.policy = storage::FsyncPolicy::kNever};
    StoreHarness harness(/*seed=*/9, DiskFaults{.tear_per_million = 0}, options);
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 4, 3000);  // Acknowledged after the write, never synced.
    harness.disk().kill_process();
    REQUIRE(harness.open().is_ok());
    for (int index = 0; index < 4; ++index) {
        REQUIRE(harness.store().find("object/" + std::to_string(index)) != nullptr);
    }
    harness.crash();  // A power cut now loses nothing recovery has seen.
    REQUIRE(harness.open().is_ok());
    for (int index = 0; index < 4; ++index) {
        const DiskObjectRef object = harness.store().find("object/" + std::to_string(index));
        REQUIRE(object != nullptr);
        REQUIRE(harness.read_all(object).is_ok());
    }
}

TEST_CASE("disk store: an empty last segment is an interrupted creation, not corruption",
          "[sim][disk_store]") {
    StoreHarness harness(/*seed=*/10, DiskFaults{}, small_store_options());
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 2, 100);
    harness.crash();
    // As if the node died between creating segment 2 and writing its header.
    runtime::DiskOpen create{.path = "/data/" + storage::segment_file_name(2),
                             .mode = runtime::OpenMode::kCreateExclusive};
    std::optional<Status> created;
    create.done = [&](runtime::DiskOpen&, const Status& status) {
        created = status;
    };
    harness.disk().open(create);
    harness.run_until([&] { return created.has_value(); });
    REQUIRE(created.has_value());
    INFO(created->message());
    REQUIRE(created->is_ok());
    REQUIRE(harness.open().is_ok());
    REQUIRE(harness.store().stats().corrupt_ranges == 0);
    REQUIRE(harness.error_logs() == 0);
    REQUIRE(harness.store().find("object/1") != nullptr);
    put_durably(harness, 3, 100);  // The store goes on, in a new segment 2.
    harness.crash();
    REQUIRE(harness.open().is_ok());
    REQUIRE(harness.store().find("object/2") != nullptr);
}

TEST_CASE("disk store: a segment that cannot be read is reported, and the node still opens",
          "[sim][disk_store]") {
    StoreHarness harness(/*seed=*/11, DiskFaults{}, small_store_options());
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 2, 100);
    harness.crash();
    harness.disk().fail_next(SimDisk::Operation::kRead, Status::io_error("injected EIO"));
    REQUIRE(harness.open().is_ok());
    REQUIRE(harness.store().stats().corrupt_ranges == 1);
    REQUIRE(harness.error_logs() > 0);
}

// Every visible key with its version and the digest of its bytes as read back.
std::map<std::string, std::pair<uint64_t, uint64_t>> visible_objects(StoreHarness& harness) {
    std::map<std::string, std::pair<uint64_t, uint64_t>> visible;
    const DiskStore::ListPage page = harness.store().list("", "", 100'000);
    REQUIRE_FALSE(page.truncated);
    for (const DiskStore::ListEntry& entry : page.entries) {
        const DiskObjectRef object = harness.store().find(entry.key);
        Result<Buffer> bytes = harness.read_all(object);
        REQUIRE(bytes.is_ok());
        REQUIRE(hash64(bytes.value().view()) == object->digest);
        visible.emplace(std::string(entry.key), std::pair{object->version.hlc, object->digest});
    }
    return visible;
}

// Runs ticks (and their disk work) until the store has written `count` checkpoints.
void checkpoint(StoreHarness& harness, uint64_t count) {
    for (uint32_t tick = 0; tick < 10'000 && harness.store().stats().checkpoints < count; ++tick) {
        harness.store().on_tick();
        harness.run_until([&] { return harness.store().is_idle(); });
    }
    REQUIRE(harness.store().stats().checkpoints == count);
}

Status remove_file(StoreHarness& harness, const std::string& path) {
    std::optional<Status> outcome;
    runtime::DiskPathRequest request{.kind = runtime::DiskPathRequest::Kind::kRemove,
                                     .path = path,
                                     .done = [&](runtime::DiskPathRequest&, Status status) {
                                         outcome = std::move(status);
                                     }};
    harness.disk().path_request(request);
    harness.run_until([&] { return outcome.has_value(); });
    return outcome.value_or(Status::timeout("remove never finished"));
}

// Many objects over several segments, a checkpoint, then overwrites and deletes after it.
void fill_and_checkpoint(StoreHarness& harness) {
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 300, 3000);
    checkpoint(harness, 1);
    put_durably(harness, 40, 5000, /*hlc_base=*/1000);
    for (uint32_t index = 100; index < 120; ++index) {
        bool removed = false;
        REQUIRE(harness.store()
                        .remove("object/" + std::to_string(index),
                                Version{.hlc = 2000 + index, .node = NodeId{1}},
                                [&](Status status) { removed = status.is_ok(); })
                        .is_ok());
        harness.run_until([&] { return removed; });
        REQUIRE(removed);
    }
}

TEST_CASE("disk store: a restart from the checkpoint finds what a scan of every segment finds",
          "[sim][disk_store]") {
    DiskStore::Options options = small_store_options();
    options.checkpoint_interval_bytes = 64 * 1024;
    options.compaction_garbage_percent = 0;  // Keep every segment, so the scan has more to do.
    StoreHarness harness(/*seed=*/11, DiskFaults{.tear_per_million = 0}, options);
    fill_and_checkpoint(harness);
    harness.crash();

    REQUIRE(harness.open().is_ok());
    const storage::DiskStoreStats from_checkpoint = harness.store().stats();
    REQUIRE(from_checkpoint.recovered_from_checkpoint);
    REQUIRE(from_checkpoint.segments_replayed < from_checkpoint.segments);
    const auto with_checkpoint = visible_objects(harness);
    REQUIRE(with_checkpoint.size() == 300 - 20);
    REQUIRE(with_checkpoint.at("object/5").first == 1006);  // Overwritten after it.
    REQUIRE_FALSE(with_checkpoint.contains("object/110"));  // Deleted after it.
    harness.crash();

    REQUIRE(remove_file(harness, "/data/index.checkpoint").is_ok());
    REQUIRE(harness.open().is_ok());
    const storage::DiskStoreStats scanned = harness.store().stats();
    REQUIRE_FALSE(scanned.recovered_from_checkpoint);
    REQUIRE(scanned.segments_replayed == scanned.segments);
    REQUIRE(visible_objects(harness) == with_checkpoint);
    REQUIRE(scanned.objects == from_checkpoint.objects);
    REQUIRE(scanned.live_bytes == from_checkpoint.live_bytes);
    REQUIRE(harness.error_logs() == 0);
}

TEST_CASE("disk store: a damaged checkpoint, or one the segments disagree with, is set aside",
          "[sim][disk_store]") {
    DiskStore::Options options = small_store_options();
    options.checkpoint_interval_bytes = 64 * 1024;
    options.compaction_garbage_percent = 0;
    StoreHarness harness(/*seed=*/12, DiskFaults{.tear_per_million = 0}, options);
    fill_and_checkpoint(harness);
    const auto before = visible_objects(harness);
    harness.crash();

    SECTION("a flipped bit in the checkpoint") {
        REQUIRE(harness.disk().flip_bit("/data/index.checkpoint", 1000, 2));
        REQUIRE(harness.open().is_ok());
        REQUIRE(harness.error_logs() == 0);  // Only slower: nothing is lost.
    }
    SECTION("a segment the checkpoint covers has changed size") {
        const std::string path = "/data/" + storage::segment_file_name(1);
        const std::optional<Buffer> contents = harness.disk().contents(path);
        REQUIRE(contents.has_value());
        runtime::DiskOpen open{.path = path, .mode = runtime::OpenMode::kReadWrite};
        std::optional<Status> outcome;
        open.done = [&](runtime::DiskOpen&, Status status) {
            outcome = std::move(status);
        };
        harness.disk().open(open);
        harness.run_until([&] { return outcome.has_value(); });
        REQUIRE(outcome->is_ok());
        // Zeros appended past the end: a clean end to a scan, but not what the checkpoint says.
        const Buffer zeros(512);
        runtime::DiskWrite write{
                .file = open.file, .offset = contents->size(), .data = zeros.view()};
        outcome.reset();
        write.done = [&](runtime::DiskWrite&, Status status) {
            outcome = std::move(status);
        };
        harness.disk().write(write);
        harness.run_until([&] { return outcome.has_value(); });
        REQUIRE(outcome->is_ok());
        harness.disk().close(open.file);
        REQUIRE(harness.open().is_ok());
    }
    const storage::DiskStoreStats stats = harness.store().stats();
    REQUIRE_FALSE(stats.recovered_from_checkpoint);
    REQUIRE(stats.checkpoints_set_aside == 1);
    REQUIRE(stats.segments_replayed == stats.segments);
    REQUIRE(visible_objects(harness) == before);
}

TEST_CASE("disk store: compaction keeps the log near the live data under overwrites and deletes",
          "[sim][disk_store]") {
    StoreHarness harness(/*seed=*/12, DiskFaults{}, small_store_options());
    REQUIRE(harness.open().is_ok());
    Workload workload(harness, 12);
    const auto tick_and_drain = [&](int ticks) {
        for (int tick = 0; tick < ticks; ++tick) {
            harness.store().on_tick();
            harness.run_until([] { return false; });  // Runs what the tick started.
        }
    };
    for (int round = 0; round < 40; ++round) {
        workload.run_for(500);
        tick_and_drain(20);  // Compaction runs beside the load.
    }
    tick_and_drain(1000);  // And catches up once the load stops.
    const storage::DiskStoreStats stats = harness.store().stats();
    CAPTURE(stats.log_bytes, stats.live_bytes, stats.segments, stats.compactions);
    REQUIRE(stats.compactions > 0);
    // Each sealed segment is at least half live, or about to be compacted.
    REQUIRE(stats.log_bytes <= 3 * stats.live_bytes + 3 * kSegmentBytes);
    REQUIRE(harness.error_logs() == 0);
    harness.crash();
    REQUIRE(harness.open().is_ok());
    workload.check();  // Compacted or not, every acknowledged state reads back byte-exact.
}

TEST_CASE("disk store: a get streaming an object keeps its segment through a compaction",
          "[sim][disk_store]") {
    StoreHarness harness(/*seed=*/13, DiskFaults{}, small_store_options());
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 1, 3 * kPieceBytes);  // object/0, in segment 1.
    const DiskObjectRef streaming = harness.store().find("object/0");
    // Overwrite object/0 and fill segments until segment 1 is garbage and sealed.
    for (int round = 0; round < 8; ++round)
        put_durably(harness, 1, 3 * kPieceBytes);
    for (int tick = 0; tick < 10; ++tick) {
        harness.store().on_tick();
        harness.run_until([] { return false; });
    }
    REQUIRE(harness.disk().contents("/data/" + storage::segment_file_name(1)).has_value());
    Result<Buffer> bytes = harness.read_all(streaming);  // The old version, still whole.
    REQUIRE(bytes.is_ok());
    REQUIRE(hash64(bytes.value().view()) == streaming->digest);
}

// The cache's budget goes to live records: an overwritten object's record leaves it at once,
// and a record that compaction moves stays cached at its new place, so gets of a hot working
// set never read from disk because the log was tidied.
TEST_CASE("disk store: the cache holds live records only, and keeps them through a compaction",
          "[sim][disk_store]") {
    constexpr uint64_t kSmall = 1000;  // Inline: one commit record, cached from the put.
    StoreHarness harness(/*seed=*/14, DiskFaults{}, small_store_options());
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 4, kSmall);  // object/0 to object/3, in segment 1.
    const uint64_t four_records = harness.store().stats().cache_bytes;
    REQUIRE(four_records >= 4 * kSmall);
    put_durably(harness, 4, kSmall, /*hlc_base=*/100);
    CHECK(harness.store().stats().cache_bytes == four_records);
    // Versions older than those in place: stale on arrival, dead, not cached.
    put_durably(harness, 2, kSmall, /*hlc_base=*/40);
    CHECK(harness.store().stats().cache_bytes == four_records);

    // object/0 grows and is overwritten until segment 1 holds only object/1 to 3 alive.
    for (uint64_t round = 0; round < 8; ++round) {
        put_durably(harness, 1, 3 * kPieceBytes, /*hlc_base=*/1000 + 10 * round);
    }
    for (int tick = 0; tick < 20; ++tick) {
        harness.store().on_tick();
        harness.run_until([] { return false; });
    }
    REQUIRE(harness.store().stats().compactions > 0);
    REQUIRE_FALSE(harness.disk().contents("/data/" + storage::segment_file_name(1)).has_value());
    const uint64_t misses = harness.store().stats().cache_misses;
    for (uint32_t index = 1; index < 4; ++index) {
        CAPTURE(index);
        const DiskObjectRef object = harness.store().find("object/" + std::to_string(index));
        REQUIRE(object != nullptr);
        CHECK(object->commit.segment != 1);
        const std::optional<PieceData> cached = harness.store().cached_piece(*object, 0);
        REQUIRE(cached.has_value());
        REQUIRE(cached->data.size() == kSmall);
        CHECK(hash64(cached->data) == object->digest);
    }
    CHECK(harness.store().stats().cache_misses == misses);
    CHECK(harness.error_logs() == 0);
}

// Chunks of big objects and big manifests are left to the kernel's page cache: neither reading
// one nor writing one grows the cache, which keeps its budget for small records.
TEST_CASE("disk store: records with more data than cache_record_bytes_max are never cached",
          "[sim][disk_store]") {
    constexpr size_t kLimit = 32 * 1024;
    DiskStore::Options options = small_store_options();
    options.cache_bytes = 4 * kSegmentBytes;  // A quarter of it would take a 64 KiB piece.
    options.cache_record_bytes_max = kLimit;
    StoreHarness harness(/*seed=*/17, DiskFaults{}, options);
    REQUIRE(harness.open().is_ok());
    // Commits `key` with `pieces` pieces of `piece_bytes` each; one piece is an inline object.
    auto put = [&](std::string_view key, size_t pieces, size_t piece_bytes, uint64_t hlc) {
        Buffer data(piece_bytes);
        Result<storage::PutId> id = harness.store().begin_put(key);
        REQUIRE(id.is_ok());
        for (size_t piece = 1; piece < pieces; ++piece)
            harness.store().append(id.value(), data.view());
        std::optional<Status> committed;
        REQUIRE(harness.store()
                        .commit(id.value(),
                                data.view(),
                                Version{.hlc = hlc, .node = NodeId{1}},
                                hash64(Buffer(pieces * piece_bytes).view()),
                                [&](Status status) { committed = std::move(status); })
                        .is_ok());
        harness.run_until([&] { return committed.has_value(); });
        REQUIRE(committed->is_ok());
    };
    put_durably(harness, 1, 3 * kPieceBytes);  // object/0: three 64 KiB pieces.
    put("small", 2, 16 * 1024, 50);
    put("at-limit", 1, kLimit, 51);
    put("over-limit", 1, kLimit + 1, 52);

    // Newly written inline objects: cached up to the limit only.
    const DiskObjectRef at_limit = harness.store().find("at-limit");
    const DiskObjectRef over_limit = harness.store().find("over-limit");
    REQUIRE(at_limit != nullptr);
    REQUIRE(over_limit != nullptr);
    REQUIRE(over_limit->is_inline());
    CHECK(harness.store().cached_piece(*at_limit, 0).has_value());
    const uint64_t misses = harness.store().stats().cache_misses;
    CHECK_FALSE(harness.store().cached_piece(*over_limit, 0).has_value());
    CHECK(harness.store().stats().cache_misses == misses);  // Never kept: not a miss.

    harness.crash();  // The cache starts empty.
    REQUIRE(harness.open().is_ok());
    REQUIRE(harness.store().stats().cache_bytes == 0);
    for (int pass = 0; pass < 2; ++pass) {
        const DiskObjectRef big = harness.store().find("object/0");
        REQUIRE(big != nullptr);
        Result<Buffer> bytes = harness.read_all(big);
        REQUIRE(bytes.is_ok());
        REQUIRE(hash64(bytes.value().view()) == big->digest);
        CHECK(harness.store().stats().cache_bytes == 0);
        for (size_t piece = 0; piece < big->piece_count(); ++piece) {
            CHECK_FALSE(harness.store().cached_piece(*big, piece).has_value());
        }
    }
    CHECK(harness.store().stats().cache_misses == 0);

    const DiskObjectRef object = harness.store().find("small");
    REQUIRE(object != nullptr);
    REQUIRE(object->piece_count() == 2);
    REQUIRE(harness.read_all(object).is_ok());
    CHECK(harness.store().stats().cache_bytes >= 32 * 1024);
    REQUIRE(harness.store().cached_piece(*object, 0).has_value());
    REQUIRE(harness.store().cached_piece(*object, 1).has_value());
}

// 0 turns the cache off: not even a small inline object is kept.
TEST_CASE("disk store: cache_record_bytes_max 0 caches nothing", "[sim][disk_store]") {
    DiskStore::Options options = small_store_options();
    options.cache_record_bytes_max = 0;
    StoreHarness harness(/*seed=*/18, DiskFaults{}, options);
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 4, 5000);  // Inline objects.
    CHECK(harness.store().stats().cache_bytes == 0);
    const DiskObjectRef object = harness.store().find("object/0");
    REQUIRE(object != nullptr);
    REQUIRE(harness.read_all(object).is_ok());
    CHECK(harness.store().stats().cache_bytes == 0);
    CHECK_FALSE(harness.store().cached_piece(*object, 0).has_value());
}

TEST_CASE("disk store: a delete right after a put of the same key, in one turn, deletes it",
          "[sim][disk_store]") {
    StoreHarness harness(/*seed=*/14, DiskFaults{}, small_store_options());
    REQUIRE(harness.open().is_ok());
    Result<storage::PutId> put = harness.store().begin_put("fresh");
    REQUIRE(put.is_ok());
    std::optional<Status> put_done;
    std::optional<Status> delete_done;
    REQUIRE(harness.store()
                    .commit(put.value(),
                            as_bytes("new"),
                            Version{.hlc = 1, .node = NodeId{1}},
                            hash64(as_bytes("new")),
                            [&](Status status) { put_done = std::move(status); })
                    .is_ok());
    REQUIRE(harness.store()
                    .remove("fresh",
                            Version{.hlc = 2, .node = NodeId{1}},
                            [&](Status status) { delete_done = std::move(status); })
                    .is_ok());
    REQUIRE(harness.store()
                    .remove("never-put", Version{.hlc = 3, .node = NodeId{1}}, [](Status) {})
                    .code() == Code::kNotFound);
    harness.run_until([&] { return put_done.has_value() && delete_done.has_value(); });
    REQUIRE(put_done->is_ok());
    REQUIRE(delete_done->is_ok());
    REQUIRE(harness.store().find("fresh") == nullptr);
    harness.crash();
    REQUIRE(harness.open().is_ok());
    REQUIRE(harness.store().find("fresh") == nullptr);
}

// A segment sealed by an abandoned put holds only dead records, and its creation, write and
// seal sync may still be waiting for the flush when compaction looks for work.
TEST_CASE("disk store: compaction leaves alone a segment whose flush has not finished",
          "[sim][disk_store]") {
    StoreHarness harness(/*seed=*/15, DiskFaults{}, small_store_options());
    REQUIRE(harness.open().is_ok());
    DiskStore& store = harness.store();
    Result<storage::PutId> put = store.begin_put("abandoned");
    REQUIRE(put.is_ok());
    Buffer piece(kPieceBytes);
    for (int index = 0; index < 5; ++index) {  // Fills segment 1 and seals it.
        store.append(put.value(), piece.view());
    }
    store.abandon(put.value());
    store.on_turn_end();  // The flush of segments 1 and 2 starts...
    for (int tick = 0; tick < 3; ++tick) {
        store.on_tick();  // ...and compaction looks, while the first request is in flight.
    }
    harness.run_until([&] { return store.is_idle(); });
    REQUIRE(store.is_idle());
    CHECK(harness.error_logs() == 0);
    REQUIRE(store.stats().segments == 2);

    // Once the flush is done, the dead segment goes, and the store takes puts as before.
    for (int tick = 0; tick < 10; ++tick) {
        store.on_tick();
        harness.run_until([] { return false; });
    }
    CHECK(store.stats().compactions == 1);
    CHECK_FALSE(harness.disk().contents("/data/" + storage::segment_file_name(1)).has_value());
    put_durably(harness, 2, 3 * kPieceBytes);
    harness.crash();
    REQUIRE(harness.open().is_ok());
    REQUIRE(harness.store().find("object/1") != nullptr);
    CHECK(harness.error_logs() == 0);
}

// Shutdown quiesces the store and waits for is_idle(), which must mean every acknowledged
// write is durable, even one that arrived after quiesce() under a policy that does not sync.
TEST_CASE("disk store: a put acknowledged after quiesce() is synced before the store is idle",
          "[sim][disk_store]") {
    DiskStore::Options options = small_store_options();
    options.fsync = storage::FsyncSetting{.policy = storage::FsyncPolicy::kNever};
    StoreHarness harness(/*seed=*/16, DiskFaults{}, options);
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 1, 1000);  // Creates the segment, which is synced.
    harness.store().quiesce();
    put_durably(harness, 1, 1000, /*hlc_base=*/10);
    harness.run_until([&] { return harness.store().is_idle(); });
    REQUIRE(harness.store().is_idle());
    harness.crash();  // Loses whatever was never synced.
    REQUIRE(harness.open().is_ok());
    const DiskObjectRef object = harness.store().find("object/0");
    REQUIRE(object != nullptr);
    REQUIRE(object->version.hlc == 11);
}

// A piece appended this turn waits for the flush at the turn's end: the store is not idle
// until then, so a caller that stops on is_idle() cannot drop it.
TEST_CASE("disk store: a record appended this turn keeps the store from being idle",
          "[sim][disk_store]") {
    StoreHarness harness(/*seed=*/19, DiskFaults{}, small_store_options());
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 1, 1000);
    harness.run_until([&] { return harness.store().is_idle(); });
    REQUIRE(harness.store().is_idle());
    Result<storage::PutId> put = harness.store().begin_put("pending");
    REQUIRE(put.is_ok());
    harness.store().append(put.value(), Buffer(4096).view());
    CHECK_FALSE(harness.store().is_idle());
    harness.store().abandon(put.value());
    harness.run_until([&] { return harness.store().is_idle(); });
    REQUIRE(harness.store().is_idle());
}

bool all_zero(ByteView bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

// Under fsync "always" a small batch lands in zeros written ahead of it, so that its fdatasync
// need not write the inode; at a restart the zeros are the log's clean end.
TEST_CASE("disk store: small synced batches land in zero fill, a clean end at a restart",
          "[sim][disk_store]") {
    const DiskStore::Options options = small_store_options();
    const std::string segment = options.directory + "/" + storage::segment_file_name(1);
    StoreHarness harness(/*seed=*/19, DiskFaults{}, options);
    REQUIRE(harness.open().is_ok());
    put_durably(harness, 3, 1000);
    CHECK(harness.store().stats().zero_fill_writes == 1);
    std::optional<Buffer> contents = harness.disk().contents(segment);
    REQUIRE(contents.has_value());
    REQUIRE(contents->size() == kSegmentBytes);  // Filled to the segment's end.
    CHECK(all_zero(contents->view().subspan(kSegmentBytes / 2)));

    harness.crash();
    REQUIRE(harness.open().is_ok());
    CHECK(harness.store().stats().corrupt_ranges == 0);
    CHECK(harness.store().stats().torn_tails == 0);
    // The log goes on over the zeros: the file neither grows nor is filled again.
    put_durably(harness, 3, 1000, /*hlc_base=*/10);
    CHECK(harness.store().stats().zero_fill_writes == 0);
    CHECK(harness.disk().contents(segment)->size() == kSegmentBytes);
    for (uint32_t index = 0; index < 3; ++index) {
        const DiskObjectRef object = harness.store().find("object/" + std::to_string(index));
        REQUIRE(object != nullptr);
        CHECK(object->version.hlc == 10 + index + 1);
        Result<Buffer> bytes = harness.read_all(object);
        REQUIRE(bytes.is_ok());
        CHECK(hash64(bytes.value().view()) == object->digest);
    }
    CHECK(harness.error_logs() == 0);
}

// Zeros are an optimization: a zero fill that fails must not fail the put behind it.
TEST_CASE("disk store: a failed zero fill turns zero fill off and the put still lands",
          "[sim][disk_store]") {
    const DiskStore::Options options = small_store_options();
    StoreHarness harness(/*seed=*/22, DiskFaults{}, options);
    REQUIRE(harness.open().is_ok());
    // The first flush creates the segment, then zero-fills: that write fails.
    harness.disk().fail_next(SimDisk::Operation::kWrite, Status::io_error("disk: injected EIO"));
    put_durably(harness, 1, 1000);
    CHECK(harness.store().stats().zero_fill_writes == 1);
    CHECK_FALSE(harness.store().stats().writes_stopped);
    put_durably(harness, 2, 1000, /*hlc_base=*/10);
    CHECK(harness.store().stats().zero_fill_writes == 1);  // Off until a restart.
    const std::optional<Buffer> contents =
            harness.disk().contents(options.directory + "/" + storage::segment_file_name(1));
    REQUIRE(contents.has_value());
    CHECK(contents->size() < 8192);
    CHECK(harness.error_logs() == 0);

    harness.crash();
    REQUIRE(harness.open().is_ok());
    CHECK(harness.store().stats().corrupt_ranges == 0);
    for (uint32_t index = 0; index < 2; ++index) {
        const DiskObjectRef object = harness.store().find("object/" + std::to_string(index));
        REQUIRE(object != nullptr);
        Result<Buffer> bytes = harness.read_all(object);
        REQUIRE(bytes.is_ok());
        CHECK(hash64(bytes.value().view()) == object->digest);
    }
}

// Zero fill would write a big batch twice, and without a sync per batch it buys nothing.
TEST_CASE("disk store: big batches and unsynced policies get no zero fill", "[sim][disk_store]") {
    DiskStore::Options options = small_store_options();
    options.segment_bytes = 4 << 20;
    const bool never = GENERATE(false, true);
    CAPTURE(never);
    if (never) options.fsync = storage::FsyncSetting{.policy = storage::FsyncPolicy::kNever};
    StoreHarness harness(/*seed=*/20, DiskFaults{}, options);
    REQUIRE(harness.open().is_ok());
    // One turn's puts: 600 KiB in one batch, or small ones under "never".
    put_durably(harness, 1, never ? 1000 : 600 * 1024);
    CHECK(harness.store().stats().zero_fill_writes == 0);
    const std::optional<Buffer> contents =
            harness.disk().contents(options.directory + "/" + storage::segment_file_name(1));
    REQUIRE(contents.has_value());
    CHECK(contents->size() < (never ? 4096 : 700 * 1024));
}

// One put of `bytes` bytes under `key`, in a turn and a batch of its own, acknowledged.
void put_alone(StoreHarness& harness, const std::string& key, uint64_t bytes, uint64_t hlc) {
    Buffer content(bytes);
    Prng(hlc).fill(content.data(), content.size());
    Result<storage::PutId> put = harness.store().begin_put(key);
    REQUIRE(put.is_ok());
    std::optional<Status> committed;
    REQUIRE(harness.store()
                    .commit(put.value(),
                            content.view(),
                            Version{.hlc = hlc, .node = NodeId{1}},
                            hash64(content.view()),
                            [&](Status status) { committed = std::move(status); })
                    .is_ok());
    harness.store().on_turn_end();
    harness.run_until([&] { return committed.has_value(); });
    REQUIRE(committed.has_value());
    REQUIRE(committed->is_ok());
}

// Under fsync "always" a batch whose records the cache keeps is written as whole blocks, the
// tail block's earlier records again, and the disk may take it past its page cache. Batches
// of many small records one after the other each rewrite the block the last one ended in:
// every record must survive that, and a crash, byte for byte.
TEST_CASE(
        "disk store: synced batches of cached records are whole blocks that keep what was "
        "there",
        "[sim][disk_store]") {
    enum class Setting { kCached, kNothingCached, kNever };
    const Setting setting = GENERATE(Setting::kCached, Setting::kNothingCached, Setting::kNever);
    CAPTURE(static_cast<int>(setting));
    DiskStore::Options options = small_store_options();
    options.segment_bytes = 1 << 20;
    if (setting == Setting::kNothingCached) options.cache_record_bytes_max = 0;
    if (setting == Setting::kNever) {
        options.fsync = storage::FsyncSetting{.policy = storage::FsyncPolicy::kNever};
    }
    StoreHarness harness(/*seed=*/23, DiskFaults{}, options);
    REQUIRE(harness.open().is_ok());
    constexpr uint32_t kPuts = 40;  // About 13 records to a block.
    const auto key = [](uint32_t index) {
        return "small/" + std::to_string(index);
    };
    for (uint32_t index = 0; index < kPuts / 2; ++index) {
        put_alone(harness, key(index), 300, index + 1);
    }
    const uint64_t uncached_writes = harness.store().stats().uncached_writes;
    if (setting == Setting::kCached) {
        CHECK(uncached_writes == kPuts / 2);
    } else {
        // Records read from the file want the page cache; unsynced writes must be quick.
        CHECK(uncached_writes == 0);
    }
    // Every batch named uncached, and every zero fill after a padded batch, is whole blocks.
    CHECK(harness.disk().stats().whole_block_uncached_writes ==
          uncached_writes + harness.store().stats().zero_fill_writes);

    // "never" loses unsynced writes to a crash, rightly: it restarts over what was written.
    const auto restart = [&] {
        if (setting != Setting::kNever) harness.crash();
        REQUIRE(harness.open().is_ok());
    };
    restart();
    // After a restart the tail block is not known until a batch has crossed into a new one.
    for (uint32_t index = kPuts / 2; index < kPuts; ++index) {
        put_alone(harness, key(index), 300, index + 1);
    }
    if (setting == Setting::kCached) {
        const uint64_t after_restart = harness.store().stats().uncached_writes;
        CHECK(after_restart > 0);
        CHECK(after_restart < kPuts / 2);
    }
    restart();
    CHECK(harness.store().stats().corrupt_ranges == 0);
    for (uint32_t index = 0; index < kPuts; ++index) {
        CAPTURE(index);
        const DiskObjectRef object = harness.store().find(key(index));
        REQUIRE(object != nullptr);
        CHECK(object->version.hlc == index + 1);
        Result<Buffer> bytes = harness.read_all(object);
        REQUIRE(bytes.is_ok());
        Buffer expected(300);
        Prng(index + 1).fill(expected.data(), expected.size());
        CHECK(equal_bytes(bytes.value().view(), expected.view()));
    }
    CHECK(harness.error_logs() == 0);
}

// Cold puts (parity chunks) name their pieces to the disk, which may write them past its
// cache; commits and warm puts are not named.
// Under "always" the synced tail and the zero fill are named too (the test above), so only
// "never" shows exactly what the put asks for.
TEST_CASE("disk store: a cold put's pieces carry the disk's uncached hint", "[sim][disk_store]") {
    const bool always = GENERATE(false, true);
    CAPTURE(always);
    DiskStore::Options options = small_store_options();
    if (!always) options.fsync = storage::FsyncSetting{.policy = storage::FsyncPolicy::kNever};
    StoreHarness harness(/*seed=*/21, DiskFaults{}, options);
    REQUIRE(harness.open().is_ok());
    Buffer data(3 * kPieceBytes);
    Prng(21).fill(data.data(), data.size());
    auto put = [&](std::string_view key, storage::Temperature temperature, uint64_t hlc) {
        Result<storage::PutId> id = harness.store().begin_put(key, data.size(), temperature);
        REQUIRE(id.is_ok());
        harness.store().append(id.value(), data.view().first(kPieceBytes));
        harness.store().append(id.value(), data.view().subspan(kPieceBytes, kPieceBytes));
        std::optional<Status> committed;
        REQUIRE(harness.store()
                        .commit(id.value(),
                                data.view().subspan(2 * kPieceBytes),
                                Version{.hlc = hlc, .node = NodeId{1}},
                                hash64(data.view()),
                                [&](Status status) { committed = std::move(status); })
                        .is_ok());
        harness.run_until([&] { return committed.has_value(); });
        REQUIRE(committed.has_value());
        REQUIRE(committed->is_ok());
    };
    put("warm", storage::Temperature::kWarm, 1);
    const uint64_t warm = harness.disk().stats().uncached_bytes;
    if (!always) CHECK(warm == 0);
    put("cold", storage::Temperature::kCold, 2);
    const uint64_t uncached = harness.disk().stats().uncached_bytes - warm;
    CHECK(uncached >= data.size());
    if (!always) CHECK(uncached < data.size() + 3 * 64);  // Three piece records; no commit.

    if (always) harness.crash();  // "never" would rightly lose its unsynced writes.
    REQUIRE(harness.open().is_ok());
    for (const char* key : {"warm", "cold"}) {
        const DiskObjectRef object = harness.store().find(key);
        REQUIRE(object != nullptr);
        Result<Buffer> bytes = harness.read_all(object);
        REQUIRE(bytes.is_ok());
        CHECK(equal_bytes(bytes.value().view(), data.view()));
    }
}

TEST_CASE("disk store: the fsync setting parses and names what is wrong", "[sim][disk_store]") {
    REQUIRE(storage::parse_fsync_setting("always").value().policy == storage::FsyncPolicy::kAlways);
    REQUIRE(storage::parse_fsync_setting("never").value().policy == storage::FsyncPolicy::kNever);
    const auto interval = storage::parse_fsync_setting("interval:250");
    REQUIRE(interval.value().policy == storage::FsyncPolicy::kInterval);
    REQUIRE(interval.value().interval_ms == 250);
    for (const char* bad : {"", "sometimes", "interval:", "interval:0", "interval:12x"}) {
        CAPTURE(bad);
        REQUIRE(storage::parse_fsync_setting(bad).status().code() == Code::kInvalidArgument);
    }
}

}  // namespace
}  // namespace shoal::sim

// Goal: LocalStore behaves the same over either store: a record written as head and body reads
// back whole and byte-exact, carries its version, is replaced by a later write, can be removed
// and listed, survives a restart in disk mode, and never completes inside the call.
#include <memory>
#include <optional>
#include <string>

#include <catch2/catch.hpp>
#include <spdlog/logger.h>

#include "shoal/base/prng.h"
#include "shoal/sim/error_counting_sink.h"
#include "shoal/sim/sim_disk.h"
#include "shoal/storage/local_store.h"

namespace shoal::sim {
namespace {

using storage::DiskStore;
using storage::LocalRecord;
using storage::LocalStore;
using storage::MemoryStore;

class Harness {
public:
    explicit Harness(bool disk_mode) : disk_(events_, 7), log_("sim.local", sink_) {
        options_.directory = "/data";
        options_.segment_bytes = 4 << 20;
        if (disk_mode) {
            reopen();
        } else {
            local_ = std::make_unique<LocalStore>(memory_);
        }
    }

    LocalStore& local() { return *local_; }
    uint64_t error_logs() const { return sink_->errors(); }

    void reopen() {
        local_.reset();
        disk_store_ = std::make_unique<DiskStore>(options_, disk_, log_);
        std::optional<Status> opened;
        disk_store_->open([&](Status status) { opened = std::move(status); });
        run_until([&] { return opened.has_value(); });
        REQUIRE(opened.has_value());
        REQUIRE(opened->is_ok());
        local_ = std::make_unique<LocalStore>(*disk_store_);
    }

    template <typename Predicate>
    void run_until(Predicate done) {
        for (uint32_t step = 0; step < 100'000 && !done(); ++step) {
            if (disk_store_ != nullptr) disk_store_->on_turn_end();
            if (local_ != nullptr) local_->on_turn_end();
            if (!events_.run_next() && !done()) {
                if (local_ != nullptr) local_->on_turn_end();
            }
        }
    }

    Status put(std::string_view key, ByteView head, ByteView body, Version version) {
        std::optional<Status> outcome;
        SHOAL_TRY(local_->put(key,
                              storage::LocalWrite{.head = head, .body = body, .version = version},
                              [&](Status status) { outcome = std::move(status); }));
        REQUIRE_FALSE(outcome.has_value());  // Never inside the call.
        run_until([&] { return outcome.has_value(); });
        return outcome.value_or(Status::timeout("put never finished"));
    }

    Result<LocalRecord> read(std::string_view key) {
        std::optional<Result<LocalRecord>> outcome;
        local_->read(key, [&](Result<LocalRecord> record) { outcome = std::move(record); });
        REQUIRE_FALSE(outcome.has_value());
        run_until([&] { return outcome.has_value(); });
        if (!outcome.has_value()) return Status::timeout("read never finished");
        return std::move(*outcome);
    }

private:
    EventQueue events_;
    SimDisk disk_;
    std::shared_ptr<ErrorCountingSink> sink_ = std::make_shared<ErrorCountingSink>();
    spdlog::logger log_;
    DiskStore::Options options_;
    MemoryStore memory_{MemoryStore::Options{}};
    std::unique_ptr<DiskStore> disk_store_;
    std::unique_ptr<LocalStore> local_;
};

Buffer random_bytes(Prng& prng, size_t size) {
    Buffer bytes(size);
    prng.fill(bytes.data(), bytes.size());
    return bytes;
}

Buffer concat(ByteView head, ByteView body) {
    Buffer joined(head);
    joined.append(body);
    return joined;
}

TEST_CASE("LocalStore writes, reads, replaces, lists and removes records in either mode",
          "[sim][storage]") {
    const bool disk_mode = GENERATE(false, true);
    INFO("disk mode: " << disk_mode);
    Harness harness(disk_mode);
    Prng prng(11);
    // A chunk-sized record (a head and a full 1 MiB body: two pieces) and a small one.
    const Buffer head = random_bytes(prng, 200);
    const Buffer body = random_bytes(prng, limits::kDataFrameBytesMax);
    const Version first{.hlc = 10, .node = NodeId{1}};
    REQUIRE(harness.put("c/one", head.view(), body.view(), first).is_ok());
    REQUIRE(harness.put("m/two", ByteView{}, as_bytes("manifest"), first).is_ok());

    Result<LocalRecord> record = harness.read("c/one");
    REQUIRE(record.is_ok());
    CHECK(record.value().version == first);
    CHECK(record.value().record_bytes == head.size() + body.size());
    CHECK(equal_bytes(record.value().join().view(), concat(head.view(), body.view()).view()));
    CHECK(harness.local().version_of("c/one") == first);

    const Version second{.hlc = 20, .node = NodeId{2}};
    REQUIRE(harness.put("m/two", ByteView{}, as_bytes("newer"), second).is_ok());
    record = harness.read("m/two");
    REQUIRE(record.is_ok());
    CHECK(record.value().version == second);
    CHECK(as_string_view(record.value().join().view()) == "newer");

    const storage::LocalListPage page = harness.local().list("m/", "", 10);
    REQUIRE(page.entries.size() == 1);
    CHECK(page.entries[0].key == "m/two");
    CHECK(page.entries[0].version == second);
    CHECK_FALSE(page.truncated);

    if (disk_mode) {
        harness.reopen();
        record = harness.read("c/one");
        REQUIRE(record.is_ok());
        CHECK(equal_bytes(record.value().join().view(), concat(head.view(), body.view()).view()));
    }

    std::optional<Status> removed;
    const Version third{.hlc = 30, .node = NodeId{1}};
    REQUIRE(harness.local()
                    .remove("c/one", third, [&](Status status) { removed = std::move(status); })
                    .is_ok());
    harness.run_until([&] { return removed.has_value(); });
    REQUIRE(removed.has_value());
    CHECK(removed->is_ok());
    CHECK_FALSE(harness.local().version_of("c/one").has_value());
    CHECK(harness.read("c/one").status().code() == Code::kNotFound);
    CHECK(harness.local().remove("c/one", third, [](Status) {}).code() == Code::kNotFound);
    CHECK(harness.error_logs() == 0);
}

TEST_CASE("LocalStore takes store keys of a namespace byte and a whole user key, NULs included",
          "[sim][storage]") {
    const bool disk_mode = GENERATE(false, true);
    INFO("disk mode: " << disk_mode);
    Harness harness(disk_mode);
    std::string key(limits::kStoreKeyBytesMax, 'k');
    key[0] = '\x01';
    key[7] = '\0';
    const Version version{.hlc = 5, .node = NodeId{3}};
    REQUIRE(harness.put(key, ByteView{}, as_bytes("value"), version).is_ok());
    if (disk_mode) harness.reopen();
    Result<LocalRecord> record = harness.read(key);
    REQUIRE(record.is_ok());
    CHECK(as_string_view(record.value().join().view()) == "value");
    const storage::LocalListPage page = harness.local().list(std::string(1, '\x01'), "", 10);
    REQUIRE(page.entries.size() == 1);
    CHECK(page.entries[0].key == key);
}

}  // namespace
}  // namespace shoal::sim

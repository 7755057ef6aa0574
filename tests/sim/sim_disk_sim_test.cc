// Goal: SimDisk keeps exactly the promises of runtime/disk.h and fails the way real disks do,
// so that crash tests built on it mean something: synced writes and synced directory entries
// survive a crash, unsynced ones may not (an in-order prefix, the last perhaps torn at a
// sector boundary), injected errors and a full disk surface as Statuses, and requests in
// flight at a crash never complete.
//
// Method: drive SimDisk by hand on an EventQueue, run each request to completion, crash, and
// read back; tearing is checked over many seeds.
#include <string>

#include <catch2/catch.hpp>

#include "shoal/sim/sim_disk.h"

namespace shoal::sim {
namespace {

using runtime::DiskOpen;
using runtime::DiskPathRequest;
using runtime::DiskRead;
using runtime::DiskSync;
using runtime::DiskWrite;
using runtime::FileId;
using runtime::OpenMode;
using Kind = DiskPathRequest::Kind;

// Runs the simulated disk's requests one at a time, to completion.
class Driver {
public:
    explicit Driver(uint64_t seed, DiskFaults faults = {}) : disk(events, seed, faults) {}

    template <typename Request>
    Status finish(Request& request) {
        bool done = false;
        Status outcome;
        request.done = [&](Request&, Status status) {
            done = true;
            outcome = std::move(status);
        };
        REQUIRE(events.run_until(events.now() + std::chrono::seconds(1), [&] { return done; }));
        return outcome;
    }

    Result<FileId> open(const std::string& path, OpenMode mode) {
        DiskOpen open{.path = path, .mode = mode};
        disk.open(open);
        SHOAL_TRY(finish(open));
        return open.file;
    }

    Status write(FileId file, uint64_t offset, std::string_view text) {
        DiskWrite write{.file = file, .offset = offset, .data = as_bytes(text)};
        disk.write(write);
        return finish(write);
    }

    Status write_and_sync(FileId file, uint64_t offset, std::string_view text) {
        DiskWrite write{.file = file, .offset = offset, .data = as_bytes(text), .sync = true};
        disk.write(write);
        return finish(write);
    }

    Status sync(FileId file) {
        DiskSync sync{.file = file};
        disk.sync(sync);
        return finish(sync);
    }

    Status path(Kind kind, const std::string& path, const std::string& target = "") {
        DiskPathRequest request{.kind = kind, .path = path, .target_path = target};
        disk.path_request(request);
        return finish(request);
    }

    std::string contents(const std::string& path) {
        std::optional<Buffer> bytes = disk.contents(path);
        return bytes.has_value() ? std::string(as_string_view(bytes->view())) : "<none>";
    }

    EventQueue events;
    SimDisk disk;
};

TEST_CASE("sim disk: synced data survives a crash and reads see writes at once", "[sim][disk]") {
    Driver driver(/*seed=*/1, {.tear_per_million = 0});
    REQUIRE(driver.path(Kind::kMakeDirectory, "/data").is_ok());
    REQUIRE(driver.path(Kind::kSyncDirectory, "").is_ok());
    Result<FileId> file = driver.open("/data/log", OpenMode::kCreate);
    REQUIRE(file.is_ok());
    REQUIRE(driver.path(Kind::kSyncDirectory, "/data").is_ok());
    REQUIRE(driver.write(file.value(), 0, "durable").is_ok());
    REQUIRE(driver.sync(file.value()).is_ok());
    REQUIRE(driver.write(file.value(), 7, "+maybe").is_ok());
    REQUIRE(driver.contents("/data/log") == "durable+maybe");

    driver.disk.crash();
    const std::string after = driver.contents("/data/log");
    REQUIRE((after == "durable" || after == "durable+maybe"));
    REQUIRE(driver.disk.stats().crashes == 1);
    // Ids from before the crash are gone.
    REQUIRE(driver.write(file.value(), 0, "x").code() == Code::kInvalidArgument);
}

TEST_CASE("sim disk: a write that asks for a sync is durable when it completes, not before",
          "[sim][disk]") {
    Driver driver(/*seed=*/3, {.tear_per_million = 0});
    REQUIRE(driver.path(Kind::kMakeDirectory, "/data").is_ok());
    Result<FileId> file = driver.open("/data/log", OpenMode::kCreate);
    REQUIRE(file.is_ok());
    REQUIRE(driver.path(Kind::kSyncDirectory, "/data").is_ok());
    REQUIRE(driver.write(file.value(), 0, "earlier+").is_ok());
    REQUIRE(driver.write_and_sync(file.value(), 8, "synced").is_ok());
    REQUIRE(driver.disk.stats().syncs == 1);
    driver.disk.crash();
    REQUIRE(driver.contents("/data/log") == "earlier+synced");  // The earlier write too.

    // A crash between the write landing and its sync finds it unsynced: it may be lost.
    file = driver.open("/data/log", OpenMode::kReadWrite);
    REQUIRE(file.is_ok());
    DiskWrite write{.file = file.value(), .offset = 14, .data = as_bytes("+late"), .sync = true};
    bool done = false;
    write.done = [&](DiskWrite&, const Status&) {
        done = true;
    };
    driver.disk.write(write);
    REQUIRE(driver.events.run_until(driver.events.now() + std::chrono::seconds(1), [&] {
        return driver.contents("/data/log") == "earlier+synced+late";
    }));
    REQUIRE_FALSE(done);
    driver.disk.crash();
    const std::string after = driver.contents("/data/log");
    REQUIRE((after == "earlier+synced" || after == "earlier+synced+late"));
    REQUIRE_FALSE(done);  // Never acknowledged as durable.
}

TEST_CASE("sim disk: a directory entry is durable only after its directory is synced",
          "[sim][disk]") {
    Driver driver(/*seed=*/2);
    Result<FileId> file = driver.open("/new", OpenMode::kCreateExclusive);
    REQUIRE(file.is_ok());
    REQUIRE(driver.write(file.value(), 0, "data").is_ok());
    REQUIRE(driver.sync(file.value()).is_ok());  // The data, not the name.

    SECTION("without a directory sync the file is gone after a crash") {
        driver.disk.crash();
        REQUIRE(driver.contents("/new") == "<none>");
    }
    SECTION("with one it stays, and a later rename is undone by a crash until synced") {
        REQUIRE(driver.path(Kind::kSyncDirectory, "").is_ok());
        REQUIRE(driver.path(Kind::kRename, "/new", "/final").is_ok());
        REQUIRE(driver.contents("/final") == "data");
        REQUIRE(driver.contents("/new") == "<none>");
        driver.disk.crash();
        REQUIRE(driver.contents("/new") == "data");
        REQUIRE(driver.contents("/final") == "<none>");
    }
    SECTION("a synced rename survives") {
        REQUIRE(driver.path(Kind::kSyncDirectory, "").is_ok());
        REQUIRE(driver.path(Kind::kRename, "/new", "/final").is_ok());
        REQUIRE(driver.path(Kind::kSyncDirectory, "").is_ok());
        driver.disk.crash();
        REQUIRE(driver.contents("/final") == "data");
        REQUIRE(driver.contents("/new") == "<none>");
    }
}

TEST_CASE("sim disk: a crash keeps an in-order prefix of unsynced writes, torn at sectors",
          "[sim][disk]") {
    const std::string base(SimDisk::kSectorBytes, 'a');
    const std::string update(4 * SimDisk::kSectorBytes, 'b');
    int torn = 0;
    int lost = 0;
    int whole = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        CAPTURE(seed);
        Driver driver(seed);
        Result<FileId> file = driver.open("/f", OpenMode::kCreate);
        REQUIRE(file.is_ok());
        REQUIRE(driver.path(Kind::kSyncDirectory, "").is_ok());
        REQUIRE(driver.write(file.value(), 0, base).is_ok());
        REQUIRE(driver.sync(file.value()).is_ok());
        REQUIRE(driver.write(file.value(), 100, update).is_ok());  // Not sector-aligned.
        driver.disk.crash();
        const std::string after = driver.contents("/f");
        // The synced base always survives; of the update, a prefix that ends at a sector
        // boundary of the file (or at its own end).
        REQUIRE(after.substr(0, 100) == base.substr(0, 100));
        const size_t kept =
                after.size() <= base.size() && after.substr(100).find('b') == std::string::npos
                        ? 0
                        : after.find_last_of('b') + 1 - 100;
        REQUIRE(after.substr(100, kept) == update.substr(0, kept));
        if (kept == 0) {
            REQUIRE(after == base);
            lost += 1;
        } else if (kept == update.size()) {
            whole += 1;
        } else {
            REQUIRE((100 + kept) % SimDisk::kSectorBytes == 0);
            torn += 1;
        }
    }
    // Each outcome must actually happen, or the property above was not exercised.
    REQUIRE(torn > 10);
    REQUIRE(lost > 10);
    REQUIRE(whole > 10);
}

TEST_CASE("sim disk: faults surface as Statuses", "[sim][disk]") {
    Driver driver(/*seed=*/3, {.capacity_bytes = 1000});
    Result<FileId> file = driver.open("/f", OpenMode::kCreate);
    REQUIRE(file.is_ok());

    SECTION("a full disk refuses a write that grows a file") {
        REQUIRE(driver.write(file.value(), 0, std::string(900, 'x')).is_ok());
        const Status full = driver.write(file.value(), 900, std::string(200, 'y'));
        REQUIRE(full.code() == Code::kResourceExhausted);
        REQUIRE(driver.contents("/f").size() == 900);
        REQUIRE(driver.write(file.value(), 0, "overwrite fits").is_ok());
    }
    SECTION("a chosen operation fails once") {
        driver.disk.fail_next(SimDisk::Operation::kSync, Status::io_error("disk: EIO"));
        REQUIRE(driver.write(file.value(), 0, "x").is_ok());
        REQUIRE(driver.sync(file.value()).code() == Code::kIoError);
        REQUIRE(driver.sync(file.value()).is_ok());
        REQUIRE(driver.disk.stats().errors_injected == 1);
    }
    SECTION("missing files and bad modes are refused") {
        REQUIRE(driver.open("/missing", OpenMode::kRead).status().code() == Code::kNotFound);
        REQUIRE(driver.open("/f", OpenMode::kCreateExclusive).status().code() ==
                Code::kInvalidArgument);
        REQUIRE(driver.open("/nodir/f", OpenMode::kCreate).status().code() == Code::kNotFound);
        Result<FileId> reader = driver.open("/f", OpenMode::kRead);
        REQUIRE(reader.is_ok());
        REQUIRE(driver.write(reader.value(), 0, "x").code() == Code::kInvalidArgument);
    }
    SECTION("a flipped bit shows in reads") {
        REQUIRE(driver.write(file.value(), 0, "A").is_ok());
        REQUIRE(driver.disk.flip_bit("/f", 0, 1));
        REQUIRE(driver.contents("/f") == "C");
        REQUIRE_FALSE(driver.disk.flip_bit("/f", 5, 0));
    }
}

TEST_CASE("sim disk: requests in flight at a crash never complete", "[sim][disk]") {
    Driver driver(/*seed=*/4);
    Result<FileId> file = driver.open("/f", OpenMode::kCreate);
    REQUIRE(file.is_ok());
    bool completed = false;
    DiskWrite write{.file = file.value(),
                    .offset = 0,
                    .data = as_bytes(std::string_view("lost")),
                    .done = [&](DiskWrite&, Status) {
                        completed = true;
                    }};
    driver.disk.write(write);
    REQUIRE_FALSE(completed);  // Never inside the call that started it.
    driver.disk.crash();
    driver.events.run_until(driver.events.now() + std::chrono::seconds(1));
    REQUIRE_FALSE(completed);
}

TEST_CASE("sim disk: list names a directory's entries in order", "[sim][disk]") {
    Driver driver(/*seed=*/5);
    REQUIRE(driver.path(Kind::kMakeDirectory, "/d").is_ok());
    REQUIRE(driver.path(Kind::kMakeDirectory, "/d").is_ok());  // Again: fine.
    for (const char* name : {"/d/b", "/d/a", "/d/c"}) {
        REQUIRE(driver.open(name, OpenMode::kCreate).is_ok());
    }
    REQUIRE(driver.path(Kind::kRemove, "/d/c").is_ok());
    REQUIRE(driver.path(Kind::kRemove, "/d/c").code() == Code::kNotFound);
    DiskPathRequest list{.kind = Kind::kList, .path = "/d"};
    driver.disk.path_request(list);
    REQUIRE(driver.finish(list).is_ok());
    REQUIRE(list.names == std::vector<std::string>{"a", "b"});
}

TEST_CASE("sim disk: free space is the capacity less what the files hold", "[sim][disk]") {
    Driver driver(/*seed=*/6, {.capacity_bytes = 10'000});
    REQUIRE(driver.path(Kind::kMakeDirectory, "/d").is_ok());
    Result<FileId> file = driver.open("/d/f", OpenMode::kCreate);
    REQUIRE(file.is_ok());
    REQUIRE(driver.write(file.value(), 0, std::string(3000, 'x')).is_ok());
    DiskPathRequest space{.kind = Kind::kFreeSpace, .path = "/d"};
    driver.disk.path_request(space);
    REQUIRE(driver.finish(space).is_ok());
    REQUIRE(space.total_bytes == 10'000);
    REQUIRE(space.free_bytes == 7'000);
}

}  // namespace
}  // namespace shoal::sim

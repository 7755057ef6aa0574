// Goal: UvDisk does on a real file system what runtime/disk.h promises, and reports failures
// with the codes a caller reacts to.
//
// Method: a UvRuntime runs a script of disk requests in a temporary directory, each started
// from the previous one's completion, then stops; the test checks every outcome and the files
// left behind.
#include "runtime_uv/uv_disk.h"

#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include "shoal/base/prng.h"
#include "shoal/runtime_uv/uv_runtime.h"
#include "support.h"

namespace shoal::integration {
namespace {

using runtime::DiskPathRequest;
using Kind = DiskPathRequest::Kind;

// Runs `script` on the loop from the first tick; `script` calls `finish` when it is done.
class ScriptHandler final : public runtime::Handler {
public:
    ScriptHandler(runtime_uv::UvRuntime& runtime, std::function<void(std::function<void()>)> script)
        : runtime_(runtime), script_(std::move(script)) {}

    void on_tick() override {
        if (started_) return;
        started_ = true;
        script_([this] { runtime_.stop(); });
    }
    void on_turn_end() override {}
    void on_accepted(runtime::ConnectionId, const std::string&) override {}
    void on_frame(runtime::ConnectionId, ByteView) override {}
    void on_send_ready(runtime::ConnectionId) override {}
    void on_closed(runtime::ConnectionId, const Status&) override {}

private:
    runtime_uv::UvRuntime& runtime_;
    std::function<void(std::function<void()>)> script_;
    bool started_ = false;
};

TEST_CASE("integration: UvDisk writes, syncs, reads, lists, renames and removes real files",
          "[integration][disk]") {
    TempDir directory;
    const std::string data_directory = directory.file("data");
    auto sink = std::make_shared<spdlog::sinks::null_sink_st>();
    spdlog::logger log("test.runtime", sink);
    runtime_uv::UvRuntime runtime(log);
    runtime::Disk& disk = runtime.disk();

    DiskPathRequest make{.kind = Kind::kMakeDirectory, .path = data_directory};
    runtime::DiskOpen open{.path = data_directory + "/segment-1",
                           .mode = runtime::OpenMode::kCreateExclusive};
    const std::string text = "hello, disk";
    runtime::DiskWrite write{.offset = 4096, .data = as_bytes(text), .sync = true};
    runtime::DiskSync sync;
    Buffer target(8192);
    runtime::DiskRead read{.offset = 4090, .target = target.mutable_view()};
    runtime::DiskTruncate truncate{.size = 4096 + 5};
    runtime::DiskFileSize size;
    DiskPathRequest rename{.kind = Kind::kRename,
                           .path = data_directory + "/segment-1",
                           .target_path = data_directory + "/segment-2"};
    DiskPathRequest sync_directory{.kind = Kind::kSyncDirectory, .path = data_directory};
    DiskPathRequest list{.kind = Kind::kList, .path = data_directory};
    runtime::DiskOpen missing{.path = data_directory + "/nope", .mode = runtime::OpenMode::kRead};
    runtime::DiskOpen exclusive{.path = data_directory + "/segment-2",
                                .mode = runtime::OpenMode::kCreateExclusive};
    std::vector<std::string> outcomes;
    const auto record = [&](std::string_view step, const Status& status) {
        outcomes.push_back(std::string(step) + "=" + std::string(code_name(status.code())));
    };

    ScriptHandler handler(runtime, [&](std::function<void()> finish) {
        make.done = [&](DiskPathRequest&, Status status) {
            record("mkdir", status);
            disk.open(open);
        };
        open.done = [&](runtime::DiskOpen&, Status status) {
            record("open", status);
            write.file = sync.file = read.file = truncate.file = size.file = open.file;
            disk.write(write);
        };
        write.done = [&](runtime::DiskWrite&, Status status) {
            record("write", status);
            disk.sync(sync);
        };
        sync.done = [&](runtime::DiskSync&, Status status) {
            record("sync", status);
            disk.read(read);
        };
        read.done = [&](runtime::DiskRead&, Status status) {
            record("read", status);
            disk.truncate(truncate);
        };
        truncate.done = [&](runtime::DiskTruncate&, Status status) {
            record("truncate", status);
            disk.file_size(size);
        };
        size.done = [&](runtime::DiskFileSize&, Status status) {
            record("size", status);
            disk.close(open.file);
            disk.path_request(rename);
        };
        rename.done = [&](DiskPathRequest&, Status status) {
            record("rename", status);
            disk.path_request(sync_directory);
        };
        sync_directory.done = [&](DiskPathRequest&, Status status) {
            record("sync_directory", status);
            disk.path_request(list);
        };
        list.done = [&](DiskPathRequest&, Status status) {
            record("list", status);
            disk.open(missing);
        };
        missing.done = [&](runtime::DiskOpen&, Status status) {
            record("open_missing", status);
            disk.open(exclusive);
        };
        exclusive.done = [&, finish](runtime::DiskOpen&, Status status) {
            record("open_exclusive", status);
            finish();
        };
        disk.path_request(make);
    });
    runtime.run(handler);

    REQUIRE(outcomes == std::vector<std::string>{"mkdir=ok",
                                                 "open=ok",
                                                 "write=ok",
                                                 "sync=ok",
                                                 "read=ok",
                                                 "truncate=ok",
                                                 "size=ok",
                                                 "rename=ok",
                                                 "sync_directory=ok",
                                                 "list=ok",
                                                 "open_missing=not found",
                                                 "open_exclusive=invalid argument"});
    // A read past a hole: six zero bytes, then the text, then the end of the file.
    REQUIRE(read.read_bytes == 6 + text.size());
    REQUIRE(as_string_view(target.view().subspan(6, text.size())) == text);
    REQUIRE(target[0] == std::byte{0});
    REQUIRE(size.size == 4096 + 5);
    REQUIRE(list.names == std::vector<std::string>{"segment-2"});
    REQUIRE(std::filesystem::file_size(data_directory + "/segment-2") == 4096 + 5);
}

// Whether the file system under `directory` takes O_DIRECT (tmpfs does not).
bool takes_direct_io(const std::string& directory) {
    const std::string probe = directory + "/direct-probe";
    const int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_DIRECT | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
    ::unlink(probe.c_str());
    return fd >= 0;
}

TEST_CASE("integration: UvDisk writes uncached ranges past the page cache, byte for byte",
          "[integration][disk]") {
    TempDir directory;
    auto sink = std::make_shared<spdlog::sinks::null_sink_st>();
    spdlog::logger log("test.runtime", sink);
    runtime_uv::UvRuntime runtime(log);
    auto& disk = dynamic_cast<runtime_uv::UvDisk&>(runtime.disk());

    // Unaligned everywhere: the file offset, the big range's ends, the data's memory.
    constexpr uint64_t kOffset = 4096 + 100;
    Buffer data(3 << 20);
    Prng(3).fill(data.data(), data.size());
    const std::vector<runtime::ByteRange> uncached{{.offset = 1000, .bytes = (3 << 19) + 7},
                                                   {.offset = 2 << 20, .bytes = 100 << 10}};
    const std::vector<runtime::ByteRange> out_of_order{{.offset = 2 << 20, .bytes = 10},
                                                       {.offset = 1000, .bytes = 10}};
    runtime::DiskOpen open{.path = directory.file("segment"), .mode = runtime::OpenMode::kCreate};
    runtime::DiskWrite before{.offset = 0, .data = data.view().first(kOffset)};
    runtime::DiskWrite write{.offset = kOffset,
                             .data = data.view().subspan(kOffset),
                             .sync = true,
                             .uncached = uncached};
    runtime::DiskWrite refused{.offset = 0, .data = data.view(), .uncached = out_of_order};
    Buffer target(data.size() + 4096);
    runtime::DiskRead read{.offset = 0, .target = target.mutable_view()};
    std::vector<Status> outcomes;
    ScriptHandler handler(runtime, [&](std::function<void()> finish) {
        open.done = [&](runtime::DiskOpen&, Status status) {
            outcomes.push_back(std::move(status));
            before.file = write.file = refused.file = read.file = open.file;
            disk.write(before);
        };
        before.done = [&](runtime::DiskWrite&, Status status) {
            outcomes.push_back(std::move(status));
            disk.write(write);
        };
        write.done = [&](runtime::DiskWrite&, Status status) {
            outcomes.push_back(std::move(status));
            disk.write(refused);
        };
        refused.done = [&](runtime::DiskWrite&, Status status) {
            outcomes.push_back(std::move(status));
            disk.read(read);
        };
        read.done = [&, finish](runtime::DiskRead&, Status status) {
            outcomes.push_back(std::move(status));
            disk.close(open.file);
            finish();
        };
        disk.open(open);
    });
    runtime.run(handler);

    REQUIRE(outcomes.size() == 5);
    for (const size_t step : {size_t{0}, size_t{1}, size_t{2}, size_t{4}}) {
        INFO(step << ": " << outcomes[step].message());
        REQUIRE(outcomes[step].is_ok());
    }
    REQUIRE(outcomes[3].code() == Code::kInvalidArgument);
    REQUIRE(read.read_bytes == data.size());
    REQUIRE(equal_bytes(target.view().first(data.size()), data.view()));
    // The big range's whole blocks went direct; the small range, too small, did not.
    if (takes_direct_io(directory.path())) {
        const uint64_t begin = kOffset + 1000;
        const uint64_t end = begin + (3 << 19) + 7;
        CHECK(disk.direct_bytes_written() == end / 4096 * 4096 - (begin + 4095) / 4096 * 4096);
    } else {
        WARN("no O_DIRECT under " << directory.path() << ": the page cache took every write");
        CHECK(disk.direct_bytes_written() == 0);
    }
}

TEST_CASE("integration: UvDisk writes small ranges of whole blocks past the page cache",
          "[integration][disk]") {
    TempDir directory;
    auto sink = std::make_shared<spdlog::sinks::null_sink_st>();
    spdlog::logger log("test.runtime", sink);
    runtime_uv::UvRuntime runtime(log);
    auto& disk = dynamic_cast<runtime_uv::UvDisk&>(runtime.disk());

    // Four blocks through the page cache, then two of them again past it (the log's tail block
    // rewritten), then a small range that is not whole blocks, which must stay in the cache.
    constexpr uint64_t kBlock = runtime::kDiskBlockBytes;
    Buffer expected(4 * kBlock);
    Prng(5).fill(expected.data(), expected.size());
    Buffer aligned(2 * kBlock);
    Prng(6).fill(aligned.data(), aligned.size());
    Buffer unaligned(2 * kBlock);
    Prng(7).fill(unaligned.data(), unaligned.size());
    const std::vector<runtime::ByteRange> whole{{.offset = 0, .bytes = aligned.size()}};
    const std::vector<runtime::ByteRange> partial{{.offset = 0, .bytes = unaligned.size()}};
    runtime::DiskOpen open{.path = directory.file("segment"), .mode = runtime::OpenMode::kCreate};
    runtime::DiskWrite first{.offset = 0, .data = expected.view()};
    runtime::DiskWrite direct{
            .offset = kBlock, .data = aligned.view(), .sync = true, .uncached = whole};
    runtime::DiskWrite cached{
            .offset = kBlock / 2, .data = unaligned.view(), .sync = true, .uncached = partial};
    Buffer target(expected.size());
    runtime::DiskRead read{.offset = 0, .target = target.mutable_view()};
    std::vector<Status> outcomes;
    std::vector<uint64_t> direct_bytes;
    ScriptHandler handler(runtime, [&](std::function<void()> finish) {
        open.done = [&](runtime::DiskOpen&, Status status) {
            outcomes.push_back(std::move(status));
            first.file = direct.file = cached.file = read.file = open.file;
            disk.write(first);
        };
        first.done = [&](runtime::DiskWrite&, Status status) {
            outcomes.push_back(std::move(status));
            disk.write(direct);
        };
        direct.done = [&](runtime::DiskWrite&, Status status) {
            outcomes.push_back(std::move(status));
            direct_bytes.push_back(disk.direct_bytes_written());
            disk.write(cached);
        };
        cached.done = [&](runtime::DiskWrite&, Status status) {
            outcomes.push_back(std::move(status));
            direct_bytes.push_back(disk.direct_bytes_written());
            disk.read(read);
        };
        read.done = [&, finish](runtime::DiskRead&, Status status) {
            outcomes.push_back(std::move(status));
            disk.close(open.file);
            finish();
        };
        disk.open(open);
    });
    runtime.run(handler);

    REQUIRE(outcomes.size() == 5);
    for (size_t step = 0; step < outcomes.size(); ++step) {
        INFO(step << ": " << outcomes[step].message());
        REQUIRE(outcomes[step].is_ok());
    }
    std::copy(aligned.data(), aligned.data() + aligned.size(), expected.data() + kBlock);
    std::copy(unaligned.data(), unaligned.data() + unaligned.size(), expected.data() + kBlock / 2);
    REQUIRE(read.read_bytes == expected.size());
    REQUIRE(equal_bytes(target.view(), expected.view()));
    REQUIRE(direct_bytes.size() == 2);
    if (takes_direct_io(directory.path())) {
        CHECK(direct_bytes[0] == aligned.size());
        CHECK(direct_bytes[1] == aligned.size());  // The unaligned range took the page cache.
    } else {
        WARN("no O_DIRECT under " << directory.path() << ": the page cache took every write");
        CHECK(direct_bytes[1] == 0);
    }
}

TEST_CASE("integration: UvDisk tells the free and total space of a file system",
          "[integration][disk]") {
    TempDir directory;
    auto sink = std::make_shared<spdlog::sinks::null_sink_st>();
    spdlog::logger log("test.runtime", sink);
    runtime_uv::UvRuntime runtime(log);
    DiskPathRequest space{.kind = Kind::kFreeSpace, .path = directory.path()};
    DiskPathRequest missing{.kind = Kind::kFreeSpace, .path = directory.file("nope")};
    Status space_status = Status::timeout("not run");
    Status missing_status = Status::timeout("not run");
    ScriptHandler handler(runtime, [&](std::function<void()> finish) {
        space.done = [&](DiskPathRequest&, Status status) {
            space_status = std::move(status);
            runtime.disk().path_request(missing);
        };
        missing.done = [&, finish](DiskPathRequest&, Status status) {
            missing_status = std::move(status);
            finish();
        };
        runtime.disk().path_request(space);
    });
    runtime.run(handler);
    REQUIRE(space_status.is_ok());
    const std::filesystem::space_info expected = std::filesystem::space(directory.path());
    REQUIRE(space.total_bytes == expected.capacity);
    REQUIRE(space.free_bytes > 0);
    REQUIRE(space.free_bytes <= space.total_bytes);
    REQUIRE(missing_status.code() == Code::kNotFound);
}

}  // namespace
}  // namespace shoal::integration

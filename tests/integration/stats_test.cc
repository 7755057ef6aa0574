// Goal: `shoal stats` shows a user what a node has counted: damage the disk store found in its
// segments (a byte flipped on disk shows up as a corrupt range and one damaged object), and in
// memory mode the objects held, with every disk figure 0; text and --json say the same, and
// the exit codes are the documented ones.
//
// Method: real shoald processes and the real CLI. For the disk store, three objects are put,
// the node is stopped, a byte in the middle of the segment (inside the second object) is
// flipped, and the node restarted over the same directory before `shoal --json stats` runs.
// The JSON object is read field by field by name, as a script would.
#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support.h"

namespace shoal::integration {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitCannotConnect = 4;
constexpr int kExitServerError = 5;

// Runs `shoal --json stats` and returns its one line, checked to be one JSON object.
std::string json_stats(const NodeProcess& node) {
    const RunResult stats = node.cli({"--json", "stats"});
    INFO(stats.err);
    REQUIRE(stats.exit_code == kExitOk);
    REQUIRE(stats.out.starts_with("{"));
    REQUIRE(stats.out.ends_with("}\n"));
    REQUIRE(stats.out.find('\n') == stats.out.size() - 1);
    return stats.out;
}

// The middle byte of the records, which zero fill may follow.
void flip_middle_byte(const std::string& path) {
    const std::string bytes = read_file(path);
    REQUIRE(!bytes.empty());
    const size_t middle = (bytes.find_last_not_of('\0') + 1) / 2;
    FILE* file = std::fopen(path.c_str(), "r+b");
    REQUIRE(file != nullptr);
    REQUIRE(std::fseek(file, static_cast<long>(middle), SEEK_SET) == 0);
    REQUIRE(std::fputc(static_cast<unsigned char>(bytes[middle]) ^ 0x10, file) != EOF);
    REQUIRE(std::fclose(file) == 0);
}

TEST_CASE("integration: shoal stats reports the corruption the disk store found",
          "[integration][stats]") {
    // With one copy, stripes are 1 MiB: each object is a manifest and three chunk records.
    constexpr uint64_t kObjectBytes = 3 << 20;
    constexpr uint64_t kRecords = 3 * (1 + 3);
    TempDir directory;
    {
        NodeProcess node(directory, {"--storage", "disk"});
        for (uint64_t index = 0; index < 3; ++index) {
            const std::string file = directory.file("in" + std::to_string(index));
            write_random_file(file, kObjectBytes, /*seed=*/70 + index);
            REQUIRE(node.cli({"put", "object/" + std::to_string(index), file}).exit_code ==
                    kExitOk);
        }
        const std::string clean = json_stats(node);
        CHECK(json_field(clean, "storage_mode") == "\"disk\"");
        CHECK(json_counter(clean, "records") == kRecords);
        CHECK(json_counter(clean, "corrupt_ranges") == 0);
        CHECK(json_counter(clean, "damaged_records") == 0);
        CHECK(json_counter(clean, "segments") >= 1);
        CHECK(json_counter(clean, "log_bytes") > 3 * kObjectBytes);
        REQUIRE(node.terminate() == 0);
    }
    // The three objects follow each other in the segment: the middle byte is in the second.
    flip_middle_byte(directory.file("data/segment-0000000000000001.wal"));

    NodeProcess node(directory, {"--storage", "disk"});
    const std::string damaged = json_stats(node);
    CHECK(json_field(damaged, "storage_mode") == "\"disk\"");
    CHECK(json_counter(damaged, "corrupt_ranges") >= 1);
    CHECK(json_counter(damaged, "corrupt_bytes") >= 1);
    CHECK(json_counter(damaged, "damaged_records") == 1);
    CHECK(json_counter(damaged, "records") == kRecords);
    CHECK(json_counter(damaged, "corrupt_reads") == 0);
    CHECK(json_field(damaged, "writes_stopped") == "false");

    // A get of the damaged object fails, and the refused read is counted.
    REQUIRE(node.cli({"get", "object/1", "-o", directory.file("out1")}).exit_code ==
            kExitServerError);
    const std::string after_get = json_stats(node);
    CHECK(json_counter(after_get, "corrupt_reads") >= 1);
    CHECK(json_counter(after_get, "requests_failed") >= 1);
    CHECK(json_counter(after_get, "damaged_records") == 1);

    // The table says the same, one figure per line.
    const RunResult table = node.cli({"stats"});
    INFO(table.err);
    REQUIRE(table.exit_code == kExitOk);
    CHECK(table.out.find("storage_mode     disk\n") != std::string::npos);
    CHECK(table.out.find("damaged_records  1\n") != std::string::npos);
    CHECK(table.out.find("writes_stopped   no\n") != std::string::npos);
}

TEST_CASE("integration: shoal stats on a memory node counts its records, disk figures 0",
          "[integration][stats]") {
    TempDir directory;
    NodeProcess node(directory);
    write_random_file(directory.file("small"), 1234, /*seed=*/11);
    write_random_file(directory.file("large"), 5000, /*seed=*/12);
    REQUIRE(node.cli({"put", "a", directory.file("small")}).exit_code == kExitOk);
    REQUIRE(node.cli({"put", "b", directory.file("large")}).exit_code == kExitOk);

    const std::string stats = json_stats(node);
    CHECK(json_field(stats, "storage_mode") == "\"memory\"");
    // The small object is inline in its manifest; the large one is a manifest and a chunk.
    CHECK(json_counter(stats, "records") == 3);
    const uint64_t record_bytes = json_counter(stats, "record_bytes");
    CHECK(record_bytes > 1234 + 5000);
    CHECK(record_bytes < 1234 + 5000 + 3 * 1024);  // Headers, not copies.
    CHECK(json_counter(stats, "bytes_received") == 1234 + 5000);
    CHECK(json_counter(stats, "requests") == 3);  // Two puts and this stats request.
    CHECK(json_counter(stats, "requests_failed") == 0);
    for (const char* disk_figure : {"segments", "log_bytes", "corrupt_ranges", "damaged_records"}) {
        CHECK(json_counter(stats, disk_figure) == 0);
    }
    CHECK(json_field(stats, "writes_stopped") == "false");

    const RunResult table = node.cli({"stats"});
    REQUIRE(table.exit_code == kExitOk);
    CHECK(table.out.find("storage_mode     memory\n") != std::string::npos);
    CHECK(table.out.find("records          3\n") != std::string::npos);
    CHECK(table.out.find(fmt::format("record_bytes     {} (", record_bytes)) != std::string::npos);
}

TEST_CASE("integration: shoal stats has help and the documented exit codes",
          "[integration][stats]") {
    const RunResult help = run({shoal_path(), "stats", "--help"});
    REQUIRE(help.exit_code == kExitOk);
    CHECK(help.out.find("corrupt_ranges") != std::string::npos);
    CHECK(help.out.find("Exit codes") != std::string::npos);

    TempDir directory;
    std::optional<uint16_t> port;
    {
        NodeProcess node(directory);
        port = node.port();
        REQUIRE(node.terminate() == 0);
    }
    const RunResult unreachable =
            run({shoal_path(), "--node", "127.0.0.1:" + std::to_string(*port), "stats"});
    CHECK(unreachable.exit_code == kExitCannotConnect);
    CHECK(unreachable.err.find("cannot connect") != std::string::npos);
}

}  // namespace
}  // namespace shoal::integration

// Goal: what a user does with the shoal CLI against a real shoald works end to end, byte for
// byte, and every failure gets its documented exit code and a message in plain words.
//
// Method: each test starts its own memory-mode shoald on 127.0.0.1 (OS-chosen port) and runs
// the real `shoal` binary against it, with random files in a temporary directory.
#include <signal.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support.h"
#include <sys/stat.h>

namespace shoal::integration {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitNotFound = 3;
constexpr int kExitCannotConnect = 4;
constexpr int kExitServerError = 5;

TEST_CASE("integration: put and get round-trip files byte-exact", "[integration][cli]") {
    const uint64_t bytes = GENERATE(
            uint64_t{0}, uint64_t{1}, uint64_t{4096}, uint64_t{1} << 20, uint64_t{100} << 20);
    CAPTURE(bytes);
    TempDir directory;
    NodeProcess node(directory);
    write_random_file(directory.file("in"), bytes, /*seed=*/bytes + 1);

    const RunResult put = node.cli({"put", "objects/file", directory.file("in")});
    INFO(put.err);
    REQUIRE(put.exit_code == kExitOk);
    const RunResult get = node.cli({"get", "objects/file", "-o", directory.file("out")});
    INFO(get.err);
    REQUIRE(get.exit_code == kExitOk);
    REQUIRE(files_equal(directory.file("in"), directory.file("out")));
}

TEST_CASE("integration: put reads stdin and get writes stdout", "[integration][cli]") {
    TempDir directory;
    NodeProcess node(directory);
    write_random_file(directory.file("in"), 3 * 1024 * 1024 + 17, /*seed=*/5);

    const RunResult put = node.cli({"put", "piped"}, directory.file("in"));
    INFO(put.err);
    REQUIRE(put.exit_code == kExitOk);
    const RunResult get = node.cli({"get", "piped"});
    INFO(get.err);
    REQUIRE(get.exit_code == kExitOk);
    REQUIRE(get.out == read_file(directory.file("in")));

    const RunResult dash = node.cli({"put", "dashed", "-"}, directory.file("in"));
    REQUIRE(dash.exit_code == kExitOk);
    REQUIRE(node.cli({"get", "dashed"}).out == read_file(directory.file("in")));
}

TEST_CASE("integration: stat, ls with a prefix and rm", "[integration][cli]") {
    TempDir directory;
    NodeProcess node(directory);
    write_random_file(directory.file("small"), 1234, /*seed=*/9);
    for (const char* key : {"photos/cat.jpg", "photos/dog.jpg", "docs/readme"}) {
        REQUIRE(node.cli({"put", key, directory.file("small")}).exit_code == kExitOk);
    }

    const RunResult stat = node.cli({"--json", "stat", "photos/cat.jpg"});
    REQUIRE(stat.exit_code == kExitOk);
    REQUIRE(stat.out.find("1234") != std::string::npos);

    const RunResult list = node.cli({"ls", "photos/"});
    REQUIRE(list.exit_code == kExitOk);
    REQUIRE(list.out.find("photos/cat.jpg") != std::string::npos);
    REQUIRE(list.out.find("photos/dog.jpg") != std::string::npos);
    REQUIRE(list.out.find("docs/readme") == std::string::npos);
    REQUIRE(list.out.find("photos/cat.jpg") < list.out.find("photos/dog.jpg"));

    const RunResult limited = node.cli({"--json", "ls", "--limit", "1"});
    REQUIRE(limited.exit_code == kExitOk);
    REQUIRE(limited.out.find("docs/readme") != std::string::npos);
    REQUIRE(limited.out.find("photos/") == std::string::npos);

    REQUIRE(node.cli({"rm", "photos/cat.jpg"}).exit_code == kExitOk);
    const RunResult gone = node.cli({"get", "photos/cat.jpg"});
    REQUIRE(gone.exit_code == kExitNotFound);
    REQUIRE(node.cli({"rm", "photos/cat.jpg"}).exit_code == kExitNotFound);
    REQUIRE(node.cli({"stat", "photos/cat.jpg"}).exit_code == kExitNotFound);
    const RunResult after = node.cli({"ls", "photos/"});
    REQUIRE(after.out.find("photos/cat.jpg") == std::string::npos);
    REQUIRE(after.out.find("photos/dog.jpg") != std::string::npos);
}

TEST_CASE("integration: get -o writes a device in place and never replaces it",
          "[integration][cli]") {
    TempDir directory;
    NodeProcess node(directory);
    write_random_file(directory.file("in"), 100'000, /*seed=*/21);
    REQUIRE(node.cli({"put", "k", directory.file("in")}).exit_code == kExitOk);
    REQUIRE(mkfifo(directory.file("pipe").c_str(), 0600) == 0);
    // A reader on the pipe, so the get can open it for writing.
    const pid_t reader = spawn({"/bin/cat", directory.file("pipe")},
                               Redirects{.stdout_path = directory.file("out")});
    const RunResult get = node.cli({"get", "k", "-o", directory.file("pipe")});
    INFO(get.err);
    REQUIRE(get.exit_code == kExitOk);
    REQUIRE(wait_exit(reader, milliseconds(10'000)) == 0);
    REQUIRE(files_equal(directory.file("in"), directory.file("out")));
    struct stat after {};
    REQUIRE(stat(directory.file("pipe").c_str(), &after) == 0);
    REQUIRE(S_ISFIFO(after.st_mode));
}

TEST_CASE("integration: put --ec and --replicas choose the object's code", "[integration][cli]") {
    TempDir directory;
    NodeProcess node(directory);  // One node: only codes of one chunk per stripe fit it.
    write_random_file(directory.file("in"), 100'000, /*seed=*/21);

    REQUIRE(node.cli({"put", "one", directory.file("in"), "--replicas", "1"}).exit_code == kExitOk);
    REQUIRE(node.cli({"put", "also-one", directory.file("in"), "--ec", "1+0"}).exit_code ==
            kExitOk);
    REQUIRE(node.cli({"get", "also-one", "-o", directory.file("out")}).exit_code == kExitOk);
    CHECK(files_equal(directory.file("in"), directory.file("out")));

    // A wider code cannot place its chunks on distinct nodes: the put fails and says why.
    const RunResult wide = node.cli({"put", "wide", directory.file("in"), "--ec", "4+2"});
    CHECK(wide.exit_code == kExitServerError);
    CHECK(wide.err.find("5 needed") != std::string::npos);
    CHECK(node.cli({"stat", "wide"}).exit_code == kExitNotFound);

    // Malformed codes are usage errors, told before anything is sent.
    for (const char* text : {"4", "4+", "+2", "0+2", "4+2x", "300+1"}) {
        CAPTURE(text);
        const RunResult bad = node.cli({"put", "bad", directory.file("in"), "--ec", text});
        CHECK(bad.exit_code == kExitUsage);
        CHECK(bad.err.find("--ec") != std::string::npos);
    }
    CHECK(node.cli({"put", "bad", directory.file("in"), "--ec", "2+1", "--replicas", "2"})
                  .exit_code == kExitUsage);
}

TEST_CASE("integration: a missing key exits 3 and says so", "[integration][cli]") {
    TempDir directory;
    NodeProcess node(directory);
    const RunResult get = node.cli({"get", "no/such/key", "-o", directory.file("out")});
    REQUIRE(get.exit_code == kExitNotFound);
    REQUIRE(get.err.find("no such object") != std::string::npos);
    REQUIRE(access(directory.file("out").c_str(), F_OK) != 0);  // No empty file left behind.
}

TEST_CASE("integration: a node that cannot be reached exits 4", "[integration][cli]") {
    TempDir directory;
    std::optional<uint16_t> port;
    {
        NodeProcess node(directory);
        port = node.port();
        REQUIRE(node.terminate() == 0);
    }
    const RunResult ping =
            run({shoal_path(), "--node", "127.0.0.1:" + std::to_string(*port), "ping"});
    REQUIRE(ping.exit_code == kExitCannotConnect);
    REQUIRE_FALSE(ping.err.empty());
}

TEST_CASE("integration: over the memory budget a put fails with no space", "[integration][cli]") {
    TempDir directory;
    NodeProcess node(directory, {"--memory-bytes", "4MiB"});
    write_random_file(directory.file("big"), 8 * 1024 * 1024, /*seed=*/3);

    SECTION("from a file, whose size is declared up front") {
        const RunResult put = node.cli({"put", "big", directory.file("big")});
        REQUIRE(put.exit_code == kExitServerError);
        REQUIRE(put.err.find("no space") != std::string::npos);
    }
    SECTION("from stdin, found out midway") {
        const RunResult put = node.cli({"put", "big"}, directory.file("big"));
        REQUIRE(put.exit_code == kExitServerError);
        REQUIRE(put.err.find("no space") != std::string::npos);
    }
    REQUIRE(node.cli({"stat", "big"}).exit_code == kExitNotFound);
    // The refused bytes were returned: a put that fits still goes through.
    write_random_file(directory.file("fits"), 3 * 1024 * 1024, /*seed=*/4);
    REQUIRE(node.cli({"put", "fits", directory.file("fits")}).exit_code == kExitOk);
}

TEST_CASE("integration: a client killed mid-put leaves no visible object", "[integration][cli]") {
    signal(SIGPIPE, SIG_IGN);
    TempDir directory;
    NodeProcess node(directory);
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);
    const pid_t client =
            spawn({shoal_path(), "--node", node.address(), "put", "half", "-"},
                  Redirects{.stderr_path = directory.file("client.err"), .stdin_fd = pipe_fds[0]});
    close(pipe_fds[0]);
    // Writing 3 MiB into a 64 KiB pipe returns only once the client has read most of it, so
    // the client has begun the put when it is killed.
    std::vector<char> data(3 * 1024 * 1024, 'x');
    size_t written = 0;
    while (written < data.size()) {
        const ssize_t result = write(pipe_fds[1], data.data() + written, data.size() - written);
        REQUIRE(result > 0);
        written += static_cast<size_t>(result);
    }
    REQUIRE(kill(client, SIGKILL) == 0);
    REQUIRE(wait_exit(client, milliseconds(5000)) == 128 + SIGKILL);
    close(pipe_fds[1]);

    // Bounded wait for the node to notice the dead connection.
    REQUIRE(node.wait_for_log("puts_abandoned"));
    REQUIRE(node.cli({"stat", "half"}).exit_code == kExitNotFound);
    REQUIRE(node.cli({"ls"}).out.find("half") == std::string::npos);
}

TEST_CASE("integration: SIGTERM stops the node cleanly", "[integration][cli]") {
    TempDir directory;
    NodeProcess node(directory);
    REQUIRE(node.cli({"ping"}).exit_code == kExitOk);
    REQUIRE(node.terminate() == 0);
    REQUIRE(node.log().find("shutdown_drained") != std::string::npos);
    REQUIRE(node.log().find("node_stopped") != std::string::npos);
}

}  // namespace
}  // namespace shoal::integration

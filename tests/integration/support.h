// Support for process tests: temporary directories, child processes with redirected streams,
// a real shoald on 127.0.0.1, the real shoal CLI, raw sockets and random files.
//
// Every wait is bounded: a helper polls for a condition with a deadline and fails the test
// when it passes, never sleeps and hopes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shoal/wire/frame.h"
#include <sys/types.h>

namespace shoal::integration {

using std::chrono::milliseconds;

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    TempDir(TempDir&&) = delete;
    TempDir& operator=(TempDir&&) = delete;

    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

struct Redirects {
    std::string stdin_path = "/dev/null";
    std::string stdout_path = "/dev/null";
    std::string stderr_path = "/dev/null";
    int stdin_fd = -1;  // If set, used instead of stdin_path (the child gets a dup).
};

// Starts `argv[0]` with `argv`. Returns the pid; fails the test if it cannot start.
pid_t spawn(const std::vector<std::string>& argv, const Redirects& redirects);

// The exit status (0..255, or 128+signal), or nullopt if still running at the deadline.
std::optional<int> wait_exit(pid_t pid, milliseconds timeout);

struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs a command to completion (at most `timeout`), capturing stdout and stderr.
RunResult run(const std::vector<std::string>& argv,
              const std::string& stdin_path = "/dev/null",
              milliseconds timeout = milliseconds(120'000));

std::string read_file(const std::string& path);
void write_random_file(const std::string& path, uint64_t bytes, uint64_t seed);
bool files_equal(const std::string& left, const std::string& right);

const char* shoald_path();
const char* shoal_path();

// Who a NodeProcess is: its name and listen address (port 0: the OS picks one).
struct NodeSpec {
    std::string name = "itest";
    std::string listen = "127.0.0.1:0";
};

// A shoald on 127.0.0.1 with an OS-chosen port (or as `spec` says), its data in `directory`,
// stopped (SIGTERM, then SIGKILL if it does not stop in time) when the object goes. Memory
// mode unless `extra_flags` names a --storage mode.
class NodeProcess {
public:
    explicit NodeProcess(const TempDir& directory,
                         std::vector<std::string> extra_flags = {},
                         const NodeSpec& spec = {});
    ~NodeProcess();
    NodeProcess(const NodeProcess&) = delete;
    NodeProcess& operator=(const NodeProcess&) = delete;
    NodeProcess(NodeProcess&&) = delete;
    NodeProcess& operator=(NodeProcess&&) = delete;

    uint16_t port() const { return port_; }
    std::string address() const { return host_ + ":" + std::to_string(port_); }
    pid_t pid() const { return pid_; }
    std::string log() const { return read_file(log_path_); }

    // Sends SIGTERM and returns the exit status, or nullopt if it did not stop in time.
    std::optional<int> terminate(milliseconds timeout = milliseconds(10'000));
    // Waits for the node to exit by itself; the exit status, or nullopt at the deadline.
    std::optional<int> wait(milliseconds timeout);

    // True once the node's log contains `text`, polling until `timeout`.
    bool wait_for_log(const std::string& text, milliseconds timeout = milliseconds(10'000)) const;

    // Runs the shoal CLI against this node.
    RunResult cli(std::vector<std::string> arguments,
                  const std::string& stdin_path = "/dev/null") const;

private:
    std::string log_path_;
    std::string host_;
    pid_t pid_ = -1;
    uint16_t port_ = 0;
};

// Polls `condition` until it holds or `timeout` passes; whether it held.
bool poll_for(milliseconds timeout, const std::function<bool()>& condition);

// The raw text of `"name":` in the flat JSON object `json` (one line of `shoal --json`), up
// to the next comma or brace; nullopt if it has no such field.
std::optional<std::string> json_field(const std::string& json, const std::string& name);
// That field as an unsigned number. REQUIRES (checked): it is one.
uint64_t json_counter(const std::string& json, const std::string& name);

// A blocking TCP connection to 127.0.0.1:port for hand-made frames.
class RawSocket {
public:
    explicit RawSocket(uint16_t port);
    ~RawSocket();
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;
    RawSocket(RawSocket&&) = delete;
    RawSocket& operator=(RawSocket&&) = delete;

    // False if the peer has closed or reset the connection.
    bool send_all(const void* data, size_t size);
    // True once the node closed the connection (EOF or reset) within `timeout`; bytes it
    // sends before closing are read and discarded.
    bool closed_by_peer(milliseconds timeout);
    // Drops the connection with a reset, as a killed client does.
    void reset();
    // The next whole frame from the node, or nullopt if none came within `timeout` or the
    // connection closed.
    std::optional<std::pair<wire::FrameHeader, std::string>> read_frame(milliseconds timeout);

private:
    int fd_ = -1;
    wire::FrameDecoder decoder_;
};

}  // namespace shoal::integration

#include "support.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <random>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

extern char** environ;

namespace shoal::integration {
namespace {

// Polls `condition` every few milliseconds until it holds or `timeout` passes.
template <typename Condition>
bool poll_until(milliseconds timeout, Condition&& condition) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(milliseconds(5));
    }
    return condition();
}

}  // namespace

bool poll_for(milliseconds timeout, const std::function<bool()>& condition) {
    return poll_until(timeout, condition);
}

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/shoal-test-XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

pid_t spawn(const std::vector<std::string>& argv, const Redirects& redirects) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (redirects.stdin_fd >= 0) {
        posix_spawn_file_actions_adddup2(&actions, redirects.stdin_fd, 0);
    } else {
        posix_spawn_file_actions_addopen(&actions, 0, redirects.stdin_path.c_str(), O_RDONLY, 0);
    }
    posix_spawn_file_actions_addopen(
            &actions, 1, redirects.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(
            &actions, 2, redirects.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> arguments;
    for (const std::string& argument : argv)
        arguments.push_back(const_cast<char*>(argument.c_str()));
    arguments.push_back(nullptr);
    pid_t pid = -1;
    const int error = posix_spawn(&pid, arguments[0], &actions, nullptr, arguments.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    INFO("spawn " << argv[0] << ": " << std::strerror(error));
    REQUIRE(error == 0);
    return pid;
}

std::optional<int> wait_exit(pid_t pid, milliseconds timeout) {
    int status = 0;
    pid_t done = 0;
    poll_until(timeout, [&] {
        done = waitpid(pid, &status, WNOHANG);
        return done != 0;
    });
    if (done != pid) return std::nullopt;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

RunResult run(const std::vector<std::string>& argv,
              const std::string& stdin_path,
              milliseconds timeout) {
    TempDir capture;
    const pid_t pid = spawn(argv,
                            Redirects{.stdin_path = stdin_path,
                                      .stdout_path = capture.file("out"),
                                      .stderr_path = capture.file("err")});
    std::optional<int> code = wait_exit(pid, timeout);
    if (!code.has_value()) {
        kill(pid, SIGKILL);
        wait_exit(pid, milliseconds(5000));
    }
    INFO("command did not finish in time: " << argv[0]);
    REQUIRE(code.has_value());
    return RunResult{.exit_code = *code,
                     .out = read_file(capture.file("out")),
                     .err = read_file(capture.file("err"))};
}

std::string read_file(const std::string& path) {
    std::ifstream stream(path, std::ios::binary);
    std::stringstream contents;
    contents << stream.rdbuf();
    return contents.str();
}

void write_random_file(const std::string& path, uint64_t bytes, uint64_t seed) {
    std::mt19937_64 random(seed);
    std::ofstream stream(path, std::ios::binary);
    std::vector<uint64_t> block(64 * 1024);
    while (bytes > 0) {
        for (uint64_t& word : block)
            word = random();
        const uint64_t chunk = std::min<uint64_t>(bytes, block.size() * 8);
        stream.write(reinterpret_cast<const char*>(block.data()),
                     static_cast<std::streamsize>(chunk));
        bytes -= chunk;
    }
    REQUIRE(stream.good());
}

bool files_equal(const std::string& left, const std::string& right) {
    return read_file(left) == read_file(right);
}

const char* shoald_path() {
    return SHOALD_PATH;
}
const char* shoal_path() {
    return SHOAL_CLI_PATH;
}

NodeProcess::NodeProcess(const TempDir& directory,
                         std::vector<std::string> extra_flags,
                         const NodeSpec& spec)
    : log_path_(directory.file("shoald.log")),
      host_(spec.listen.substr(0, spec.listen.rfind(':'))) {
    std::vector<std::string> argv{shoald_path(),
                                  "--name",
                                  spec.name,
                                  "--listen",
                                  spec.listen,
                                  "--data",
                                  directory.file("data")};
    // Memory mode unless the test asks for a mode: most process tests are about the protocol.
    if (std::find(extra_flags.begin(), extra_flags.end(), "--storage") == extra_flags.end()) {
        argv.insert(argv.end(), {"--storage", "memory"});
    }
    // One copy unless the test asks for a code: a node alone cannot place RS 4+2.
    if (std::find(extra_flags.begin(), extra_flags.end(), "--redundancy") == extra_flags.end()) {
        argv.insert(argv.end(), {"--redundancy", "replicas:1"});
    }
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    // A restarted node over the same directory must not be taken for its predecessor.
    std::filesystem::remove(log_path_);
    pid_ = spawn(argv, Redirects{.stderr_path = log_path_});
    // The node logs the port it bound; wait for that line, bounded.
    std::string text;
    size_t port_at = std::string::npos;
    bool exited = false;
    const bool up = poll_until(milliseconds(10'000), [&] {
        text = read_file(log_path_);
        int status = 0;
        exited = exited || waitpid(pid_, &status, WNOHANG) == pid_;
        if (exited) return true;
        const size_t started = text.find("node_started");
        if (started == std::string::npos) return false;
        port_at = text.find(" port=", started);
        return port_at != std::string::npos;
    });
    INFO("shoald did not start; its log:\n" << text);
    if (exited) pid_ = -1;
    REQUIRE(up);
    REQUIRE_FALSE(exited);
    port_ = static_cast<uint16_t>(std::stoi(text.substr(port_at + 6)));
}

NodeProcess::~NodeProcess() {
    if (pid_ <= 0) return;
    if (!terminate().has_value()) {
        kill(pid_, SIGKILL);
        wait_exit(pid_, milliseconds(5000));
    }
}

std::optional<int> NodeProcess::terminate(milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    kill(pid_, SIGTERM);
    return wait(timeout);
}

std::optional<int> NodeProcess::wait(milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    std::optional<int> code = wait_exit(pid_, timeout);
    if (code.has_value()) pid_ = -1;
    return code;
}

bool NodeProcess::wait_for_log(const std::string& text, milliseconds timeout) const {
    return poll_until(timeout, [&] { return log().find(text) != std::string::npos; });
}

RunResult NodeProcess::cli(std::vector<std::string> arguments,
                           const std::string& stdin_path) const {
    arguments.insert(arguments.begin(), {shoal_path(), "--node", address()});
    return run(arguments, stdin_path);
}

RawSocket::RawSocket(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
}

RawSocket::~RawSocket() {
    if (fd_ >= 0) close(fd_);
}

bool RawSocket::send_all(const void* data, size_t size) {
    const auto* bytes = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t sent = ::send(fd_, bytes, size, MSG_NOSIGNAL);
        if (sent <= 0) return false;
        bytes += sent;
        size -= static_cast<size_t>(sent);
    }
    return true;
}

bool RawSocket::closed_by_peer(milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char sink[4096];
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd poll_fd{.fd = fd_, .events = POLLIN, .revents = 0};
        if (poll(&poll_fd, 1, 50) <= 0) continue;
        const ssize_t got = recv(fd_, sink, sizeof(sink), 0);
        if (got <= 0) return true;
    }
    return false;
}

void RawSocket::reset() {
    linger option{.l_onoff = 1, .l_linger = 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
    close(fd_);
    fd_ = -1;
}

}  // namespace shoal::integration

namespace shoal::integration {

std::optional<std::pair<wire::FrameHeader, std::string>> RawSocket::read_frame(
        milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        Result<std::optional<wire::Frame>> next = decoder_.next();
        REQUIRE(next.is_ok());
        if (next.value().has_value()) {
            return std::pair{next.value()->header, std::string(as_string_view(next.value()->body))};
        }
        const auto left = std::chrono::duration_cast<milliseconds>(
                deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd poll_fd{.fd = fd_, .events = POLLIN, .revents = 0};
        if (poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
        MutableByteView space = decoder_.prepare(64 * 1024);
        const ssize_t got = recv(fd_, space.data(), space.size(), 0);
        decoder_.commit(got > 0 ? static_cast<size_t>(got) : 0);
        if (got <= 0) return std::nullopt;
    }
}

std::optional<std::string> json_field(const std::string& json, const std::string& name) {
    const std::string marker = "\"" + name + "\":";
    const size_t start = json.find(marker);
    if (start == std::string::npos) return std::nullopt;
    const size_t value = start + marker.size();
    const size_t end = json.find_first_of(",}", value);
    if (end == std::string::npos) return std::nullopt;
    return json.substr(value, end - value);
}

uint64_t json_counter(const std::string& json, const std::string& name) {
    CAPTURE(name, json);
    const std::optional<std::string> text = json_field(json, name);
    REQUIRE(text.has_value());
    uint64_t value = 0;
    const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
    REQUIRE(error == std::errc());
    REQUIRE(end == text->data() + text->size());
    return value;
}

}  // namespace shoal::integration

// The shoal client library: one blocking TCP connection to one node.
//
// Used by the `shoal` CLI and by tests; it depends on wire and base only. Objects stream: put
// reads from a Source and get writes to a Sink piece by piece (1 MiB), so memory stays at a
// few MiB whatever the object's size. Every object's xxh3-64 digest is checked end to end: a
// put sends the client's digest for the node to check, and a get checks the node's.
//
// Not thread-safe: one Connection is used by one thread at a time. Blocking, with a timeout
// on every wait (Options::io_timeout).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/wire/frame.h"
#include "shoal/wire/messages.h"

namespace shoal::client {

struct Options {
    std::string address = "127.0.0.1:7400";  // HOST:PORT of any node.
    std::chrono::milliseconds connect_timeout{5'000};
    std::chrono::milliseconds io_timeout{60'000};  // Longest wait for the node to move.
};

// Where the bytes of a put come from. read() fills up to target.size() bytes and returns how
// many; 0 means the end. A failure is reported as a Status (kIoError).
class Source {
public:
    virtual ~Source() = default;
    virtual Result<size_t> read(MutableByteView target) = 0;
};

// Where the bytes of a get go.
class Sink {
public:
    virtual ~Sink() = default;
    virtual Status write(ByteView bytes) = 0;
};

// A file descriptor as a Source or Sink; `name` is for messages. Neither closes the fd.
class FdSource final : public Source {
public:
    FdSource(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    Result<size_t> read(MutableByteView target) override;

private:
    int fd_;
    std::string name_;
};

class FdSink final : public Sink {
public:
    FdSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    Status write(ByteView bytes) override;

private:
    int fd_;
    std::string name_;
};

// Called as bytes move: bytes done so far, and the total if known.
using Progress = std::function<void(uint64_t bytes_done, std::optional<uint64_t> bytes_total)>;

// Which side a failure came from, so a caller can react (the CLI picks its exit code).
enum class FailureSource : uint8_t {
    kNone,        // The last call succeeded.
    kConnection,  // Could not connect, or the connection failed or timed out.
    kNode,        // The node answered with an error (the Status carries its Code).
    kLocal,       // The Source or Sink failed.
    kProtocol,    // The node sent something that breaks the protocol, or a bad digest.
};

class Connection {
public:
    // Resolves and connects. On failure the Status says to what and why.
    static Result<Connection> connect(const Options& options);

    Connection(Connection&& other) noexcept;
    Connection& operator=(Connection&& other) noexcept;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    // Streams `source` to `key`. `size`, if known, is declared to the node up front (so it can
    // refuse an object that does not fit before the bytes are sent) and must be exact.
    // `redundancy` asks for a code other than the cluster's default.
    Result<wire::ObjectInfo> put(std::string_view key,
                                 Source& source,
                                 std::optional<uint64_t> size,
                                 const Progress& progress = {},
                                 wire::PutRedundancy redundancy = {});
    // Streams `key` into `sink`; the digest is checked once the last byte arrived.
    Result<wire::ObjectInfo> get(std::string_view key, Sink& sink, const Progress& progress = {});
    Result<wire::ObjectInfo> stat(std::string_view key);
    Result<Version> remove(std::string_view key);
    Result<wire::ListReply> list(std::string_view prefix,
                                 std::string_view start_after,
                                 uint32_t limit);
    Status ping();
    // The node's counters since it started and its store's figures, among them the damage the
    // disk store found (corrupt ranges, damaged objects). Disk figures are 0 in memory mode.
    Result<wire::StatsReply> stats();
    // The node's member list as it sees it now (shoal status), in the node's order (by id).
    Result<wire::MembersReply> members();

    // Where the last failure came from.
    FailureSource failure_source() const { return failure_source_; }
    const std::string& address() const { return options_.address; }

private:
    Connection(int fd, Options options);

    RequestId next_request() { return RequestId{request_next_++}; }
    // Sends a one-frame request and returns its response frame (kError becomes a Status).
    template <typename Request>
    Result<wire::Frame> call(const Request& request, wire::Opcode opcode);
    Status send_all(ByteView head, ByteView payload);
    // The next frame of `request`; frames of other requests are a protocol error here.
    Result<wire::Frame> read_frame(RequestId request);
    // True if a frame can be read without waiting (an early answer during a put).
    bool frame_ready() const;
    Result<wire::Frame> expect_response(RequestId request, wire::Opcode opcode);
    template <typename T>
    Result<T> fail(FailureSource source, Status status);
    Status node_error(const wire::Frame& frame);
    // What one put sends, besides its bytes.
    struct PutHead {
        RequestId request;
        std::string_view key;
        std::optional<uint64_t> size;
        wire::PutRedundancy redundancy;
    };
    Status put_stream(const PutHead& head, Source& source, Buffer& piece, const Progress& progress);

    int fd_ = -1;
    Options options_;
    wire::FrameDecoder decoder_;
    uint64_t request_next_ = 1;
    FailureSource failure_source_ = FailureSource::kNone;
};

}  // namespace shoal::client

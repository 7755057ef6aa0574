// LoadGenerator: the engine of shoal-bench. One thread, one epoll loop, many non-blocking
// connections to one node (or spread over several), each with up to `depth` requests in flight.
//
// The generator must measure the node, not itself, so its hot path does little:
// - Payloads are precomputed: one random block of at most one data frame, reused for every
//   piece of every put, with the digest of the whole object computed once (Payload).
// - A put's data is never copied: a piece is a small header in a per-connection scratch
//   buffer plus a slice of the block, written with one sendmsg() (a writev) per connection
//   per loop turn, batching every request queued during that turn.
// - Replies are read in big reads straight into wire::FrameDecoder; get data is counted and
//   dropped (or hashed, with `verify`).
// - Per-request state lives in fixed slots, found from the request id; buffers are reused,
//   so a steady run does no allocation per operation.
//
// Threading: single-threaded; nothing here is shared. Linux only (epoll).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "latency_histogram.h"
#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include <netinet/in.h>
#include <sys/socket.h>

namespace shoal::bench {

using Clock = std::chrono::steady_clock;

enum class OpKind : uint8_t { kPut = 0, kGet = 1 };
inline constexpr size_t kOpKindCount = 2;

// What a phase of load does.
enum class Workload : uint8_t {
    kPut,
    kGet,
    kMixed,  // Gets with probability get_percent, puts otherwise.
};

// The object a put sends: `object_bytes` long, made of repeats of one random block of at most
// one data frame (every piece but the last is the whole block), and its xxh3-64 digest.
class Payload {
public:
    Payload(uint64_t object_bytes, uint64_t seed);

    uint64_t object_bytes() const { return object_bytes_; }
    uint64_t digest() const { return digest_; }
    size_t piece_bytes_max() const { return block_.size(); }
    // The data of piece `index` (0-based); every piece starts at the beginning of the block.
    ByteView piece(uint64_t index) const;
    uint64_t piece_count() const { return piece_count_; }

private:
    uint64_t object_bytes_;
    uint64_t piece_count_;
    Buffer block_;
    uint64_t digest_ = 0;
};

struct Target {
    sockaddr_storage address{};
    socklen_t address_bytes = 0;
    std::string text;  // As the user wrote it, for messages.
};

// Resolves "host:port" (a name or a numeric address) to a TCP endpoint.
Result<Target> resolve_target(std::string_view host_port);

struct GeneratorOptions {
    uint32_t connections = 50;
    uint32_t depth = 1;    // Requests in flight per connection.
    uint64_t keys = 1000;  // Keys "bench/0" .. "bench/<keys - 1>".
    bool verify = false;   // Hash get data and compare it with the reply's digest.
    uint64_t seed = 1;
    // A phase fails with kTimeout when no reply arrives for this long.
    Clock::duration stall_timeout = std::chrono::seconds(30);
};

struct PhaseOptions {
    Workload workload = Workload::kPut;
    uint32_t get_percent = 50;  // For kMixed.
    // Pick keys in order, wrapping, instead of at random: with ops_max = keys, every key
    // once (prefill).
    bool keys_in_order = false;
    uint64_t ops_max = 0;             // 0: no limit.
    Clock::duration duration_max{0};  // 0: no limit. At least one limit must be set.
};

// What one kind of operation did in a phase.
struct OpStats {
    uint64_t ops_ok = 0;
    uint64_t ops_failed = 0;
    uint64_t object_bytes = 0;  // Bytes moved by successful operations.
    LatencyHistogram latency;   // Of successful operations.
    // Failed operations by the node's error code (index = Code), and [0] for operations lost
    // to a broken connection or a stall, or whose reply was malformed or did not match.
    std::array<uint64_t, kCodeMax + 1> failures_by_code{};
    std::array<std::string, kCodeMax + 1> first_message{};

    void merge(const OpStats& other);
};

struct PhaseResult {
    std::array<OpStats, kOpKindCount> by_kind;
    Clock::duration elapsed{0};  // From the first request to the last reply.
    double cpu_seconds = 0;      // This process's user + system CPU over the phase.
    uint32_t connections_lost = 0;
    // Not OK when the phase could not run to its end (every connection lost, a stall).
    Status status;

    OpStats total() const;
};

class LoadGenerator {
public:
    // `payload` must outlive the generator.
    LoadGenerator(const GeneratorOptions& options, const Payload& payload);
    ~LoadGenerator();
    LoadGenerator(const LoadGenerator&) = delete;
    LoadGenerator& operator=(const LoadGenerator&) = delete;

    // Opens every connection to `target`. kUnavailable, naming the target, when one cannot
    // be opened.
    Status connect(const Target& target);
    // Opens every connection, connection i to targets[i % targets.size()]: round-robin, so
    // each node gets an equal share of the connections, within one.
    Status connect(std::span<const Target> targets);

    // Runs one phase of load to its limit, then waits for the requests still in flight.
    // Connections stay open between phases.
    PhaseResult run(const PhaseOptions& phase);

private:
    struct Connection;
    struct Loop;

    GeneratorOptions options_;
    const Payload& payload_;
    std::vector<std::string> keys_;
    std::vector<std::unique_ptr<Connection>> connections_;
    int epoll_fd_ = -1;
    uint64_t phases_run_ = 0;  // Seeds each phase's key and operation choices apart.
};

}  // namespace shoal::bench

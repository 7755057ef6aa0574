#include "load_generator.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <unistd.h>

#include <fmt/format.h>

#include "shoal/base/address.h"
#include "shoal/base/coding.h"
#include "shoal/base/hash.h"
#include "shoal/base/ids.h"
#include "shoal/base/limits.h"
#include "shoal/base/prng.h"
#include "shoal/wire/frame.h"
#include "shoal/wire/messages.h"
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/uio.h>

namespace shoal::bench {
namespace {

// Linux's IOV_MAX: the most slices one sendmsg() takes.
constexpr size_t kIovecsMax = 1024;
// Bytes asked of the decoder per read: big enough that a streamed get costs few syscalls.
constexpr size_t kReadBytes = size_t{256} * 1024;
// Reads of one connection per loop turn before the others get theirs.
constexpr int kReadsPerTurnMax = 4;
// A put at most this large is copied into its frame; a larger one is sent from the block.
constexpr size_t kInlinePutBytesMax = size_t{16} * 1024;
// Scratch bytes already sent that are worth moving the unsent rest to the front for.
constexpr size_t kScratchCompactBytesMin = size_t{64} * 1024;
// A request id is (sequence << kSlotBits) | slot, so a reply finds its slot in O(1) and a
// stale id (a reused slot) is told apart by its sequence.
constexpr uint32_t kSlotBits = 16;
constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1;
constexpr int kEpollEventsMax = 256;
// Index 0 of failures_by_code (Code::kOk is never a failure): lost to a broken connection, a
// bad reply or a digest mismatch found by the generator.
constexpr size_t kFailureProtocol = 0;
// What complete() is told for an operation that succeeded.
constexpr size_t kSucceeded = SIZE_MAX;

static_assert(limits::kConnectionRequestsMax <= kSlotMask + 1);

uint64_t cpu_microseconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto micros = [](const timeval& time) {
        return static_cast<uint64_t>(time.tv_sec) * 1'000'000 + static_cast<uint64_t>(time.tv_usec);
    };
    return micros(usage.ru_utime) + micros(usage.ru_stime);
}

// The first frame of a put, without its data: a PutRequest whose header counts `data_bytes`
// more body bytes. The data is the last field of the body (docs/wire_format.md), so the frame
// is this prefix followed by the data, sent from wherever the data lives.
void encode_put_request_prefix(RequestId id,
                               const wire::PutRequest& request,
                               size_t data_bytes,
                               Buffer& target) {
    SHOAL_ASSERT(request.piece.data.empty());
    const size_t header_offset = target.size();
    wire::encode_request(id, request, target);
    std::byte* header = target.data() + header_offset;
    encode_fixed32(header, decode_fixed32(header) + static_cast<uint32_t>(data_bytes));
}

// Checks once, at start-up, that a put prefix plus its data is byte for byte the frame the
// codec writes, so the gathered write can never send a frame the node would reject.
void check_put_prefix_layout(ByteView data) {
    const wire::PutRequest request{.key = "bench/check", .object_bytes = data.size()};
    Buffer whole;
    wire::PutRequest with_data = request;
    with_data.piece.data = data;
    wire::encode_request(RequestId{7}, with_data, whole);
    Buffer gathered;
    encode_put_request_prefix(RequestId{7}, request, data.size(), gathered);
    gathered.append(data);
    SHOAL_ASSERT(equal_bytes(whole.view(), gathered.view()));
}

}  // namespace

Payload::Payload(uint64_t object_bytes, uint64_t seed)
    : object_bytes_(object_bytes),
      piece_count_(std::max<uint64_t>(
              1, (object_bytes + limits::kDataFrameBytesMax - 1) / limits::kDataFrameBytesMax)),
      block_(static_cast<size_t>(std::min<uint64_t>(object_bytes, limits::kDataFrameBytesMax))) {
    Prng prng(seed);
    prng.fill(block_.data(), block_.size());
    Hasher64 hasher;
    for (uint64_t index = 0; index < piece_count_; index++) {
        hasher.update(piece(index));
    }
    digest_ = hasher.digest();
    check_put_prefix_layout(piece(0));
}

ByteView Payload::piece(uint64_t index) const {
    SHOAL_ASSERT(index < piece_count_);
    const uint64_t offset = index * block_.size();
    return block_.view().first(
            static_cast<size_t>(std::min<uint64_t>(block_.size(), object_bytes_ - offset)));
}

Result<Target> resolve_target(std::string_view host_port) {
    SHOAL_TRY_ASSIGN(HostPort parsed, parse_host_port(host_port));
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(parsed.port);
    const int error = getaddrinfo(parsed.host.c_str(), port.c_str(), &hints, &found);
    if (error != 0 || found == nullptr) {
        return Status::invalid_argument(
                fmt::format("--node {}: cannot resolve: {}", host_port, gai_strerror(error)));
    }
    Target target;
    std::memcpy(&target.address, found->ai_addr, found->ai_addrlen);
    target.address_bytes = found->ai_addrlen;
    target.text = std::string(host_port);
    freeaddrinfo(found);
    return target;
}

void OpStats::merge(const OpStats& other) {
    ops_ok += other.ops_ok;
    ops_failed += other.ops_failed;
    object_bytes += other.object_bytes;
    latency.merge(other.latency);
    for (size_t code = 0; code < failures_by_code.size(); code++) {
        failures_by_code[code] += other.failures_by_code[code];
        if (first_message[code].empty()) first_message[code] = other.first_message[code];
    }
}

OpStats PhaseResult::total() const {
    OpStats sum;
    for (const OpStats& kind : by_kind) {
        sum.merge(kind);
    }
    return sum;
}

// One slice of bytes waiting to be sent: in the connection's scratch buffer, or borrowed
// (a payload block, which outlives every connection).
struct Segment {
    const std::byte* borrowed = nullptr;  // nullptr: the bytes are in scratch.
    uint64_t scratch_offset = 0;          // Logical offset (see Connection::scratch_base).
    size_t bytes = 0;
};

// One request in flight.
struct Slot {
    bool busy = false;
    OpKind kind = OpKind::kPut;
    RequestId id{};
    Clock::time_point start;
    bool replied = false;              // A get's first frame (its GetReply) has arrived.
    uint64_t object_bytes = 0;         // A get's size, from its reply.
    uint64_t received_bytes = 0;       // A get's data so far.
    uint64_t digest = 0;               // A get's digest, from its reply.
    std::unique_ptr<Hasher64> hasher;  // With verify only.
};

struct LoadGenerator::Connection {
    int fd = -1;
    bool open = false;
    bool write_blocked = false;  // The kernel took less than offered; wait for EPOLLOUT.
    bool dirty = false;          // On the loop's list of connections to flush.
    bool read_pending = false;   // On the loop's list of connections to read again.
    wire::FrameDecoder decoder;

    // Bytes to send: segments[segments_head..] in order, the first partly sent.
    std::vector<Segment> segments;
    size_t segments_head = 0;
    size_t front_sent_bytes = 0;
    // Frame heads (and small puts whole). Offsets are logical: scratch[0] is at scratch_base,
    // so dropping sent bytes from the front does not move a queued segment's offset.
    Buffer scratch;
    uint64_t scratch_base = 0;
    uint64_t scratch_sent_end = 0;  // Logical offset up to which scratch has been sent.

    std::vector<Slot> slots;
    std::vector<uint32_t> slots_free;
    uint64_t sequence_next = 1;

    uint32_t in_flight() const { return static_cast<uint32_t>(slots.size() - slots_free.size()); }
    bool has_unsent() const { return segments_head < segments.size(); }

    uint64_t scratch_end() const { return scratch_base + scratch.size(); }

    // Queues scratch bytes appended since logical offset `begin`, merging with the segment
    // before when that one ends there, so a turn's small requests go out as one slice.
    void queue_scratch(uint64_t begin) {
        const size_t bytes = static_cast<size_t>(scratch_end() - begin);
        if (bytes == 0) return;
        if (has_unsent()) {
            Segment& last = segments.back();
            if (last.borrowed == nullptr && last.scratch_offset + last.bytes == begin) {
                last.bytes += bytes;
                return;
            }
        }
        segments.push_back(Segment{.scratch_offset = begin, .bytes = bytes});
    }

    void queue_borrowed(ByteView bytes) {
        if (bytes.empty()) return;
        segments.push_back(Segment{.borrowed = bytes.data(), .bytes = bytes.size()});
    }

    const std::byte* segment_data(const Segment& segment) const {
        if (segment.borrowed != nullptr) return segment.borrowed;
        SHOAL_ASSERT(segment.scratch_offset >= scratch_base);
        return scratch.data() + (segment.scratch_offset - scratch_base);
    }

    // Forgets `bytes` just sent, and reclaims scratch space that is no longer needed.
    void on_sent(size_t bytes) {
        while (bytes > 0) {
            SHOAL_ASSERT(has_unsent());
            const Segment& front = segments[segments_head];
            const size_t rest = front.bytes - front_sent_bytes;
            if (bytes < rest) {
                front_sent_bytes += bytes;
                return;
            }
            bytes -= rest;
            if (front.borrowed == nullptr) scratch_sent_end = front.scratch_offset + front.bytes;
            segments_head += 1;
            front_sent_bytes = 0;
        }
        if (!has_unsent()) {
            segments.clear();
            segments_head = 0;
            scratch_base = scratch_end();
            scratch_sent_end = scratch_base;
            scratch.clear();
            return;
        }
        if (segments_head >= 256 && segments_head * 2 >= segments.size()) {
            segments.erase(segments.begin(),
                           segments.begin() + static_cast<std::ptrdiff_t>(segments_head));
            segments_head = 0;
        }
        const size_t sent = static_cast<size_t>(scratch_sent_end - scratch_base);
        if (sent >= kScratchCompactBytesMin && sent * 2 >= scratch.size()) {
            scratch.consume_front(sent);
            scratch_base += sent;
        }
    }

    void reset_output() {
        segments.clear();
        segments_head = 0;
        front_sent_bytes = 0;
        scratch_base = scratch_end();
        scratch_sent_end = scratch_base;
        scratch.clear();
    }
};

// The state of one phase: its limits, its counters and the loop's work lists.
struct LoadGenerator::Loop {
    LoadGenerator& generator;
    const PhaseOptions& phase;
    Prng prng;
    PhaseResult result;
    Clock::time_point start;
    Clock::time_point deadline;
    Clock::time_point last_progress;
    Clock::time_point last_completion;
    uint64_t issued = 0;
    uint64_t key_next = 0;
    uint64_t in_flight = 0;
    bool stopped = false;  // No more requests are issued (a stall, or every connection lost).
    std::vector<Connection*> dirty;
    std::vector<Connection*> read_again;
    std::vector<Connection*> read_again_now;
    std::vector<iovec> iovecs = std::vector<iovec>(kIovecsMax);
    std::array<epoll_event, kEpollEventsMax> events{};

    Loop(LoadGenerator& owner, const PhaseOptions& options, uint64_t seed)
        : generator(owner), phase(options), prng(seed) {}

    bool may_issue(Clock::time_point now) const {
        if (stopped) return false;
        if (phase.ops_max != 0 && issued >= phase.ops_max) return false;
        if (phase.duration_max.count() != 0 && now >= deadline) return false;
        return true;
    }

    void mark_dirty(Connection& connection) {
        if (connection.dirty) return;
        connection.dirty = true;
        dirty.push_back(&connection);
    }

    void issue(Connection& connection, Clock::time_point now);
    void issue_put(Connection& connection, RequestId id, std::string_view key);
    void flush(Connection& connection);
    void on_readable(Connection& connection);
    // Both return false when the frame broke the connection.
    bool on_frame(Connection& connection, const wire::Frame& frame, Clock::time_point now);
    bool on_get_frame(Connection& connection,
                      Slot& slot,
                      const wire::Frame& frame,
                      Clock::time_point now);
    // Ends an operation. `failure_code` indexes OpStats::failures_by_code, or is kSucceeded.
    void complete(Connection& connection,
                  Slot& slot,
                  size_t failure_code,
                  std::string_view message,
                  Clock::time_point now);
    void fail_connection(Connection& connection, std::string_view reason);
    // Waits for socket events (briefly) and handles them; false if epoll failed.
    bool poll();
    void run();
};

void LoadGenerator::Loop::issue(Connection& connection, Clock::time_point now) {
    SHOAL_ASSERT(connection.open);
    SHOAL_ASSERT(!connection.slots_free.empty());
    const uint32_t slot_index = connection.slots_free.back();
    connection.slots_free.pop_back();
    Slot& slot = connection.slots[slot_index];
    SHOAL_ASSERT(!slot.busy);

    OpKind kind = OpKind::kPut;
    if (phase.workload == Workload::kGet) kind = OpKind::kGet;
    if (phase.workload == Workload::kMixed && prng.below(100) < phase.get_percent) {
        kind = OpKind::kGet;
    }
    const uint64_t key_index = phase.keys_in_order ? key_next++ % generator.keys_.size()
                                                   : prng.below(generator.keys_.size());
    const std::string& key = generator.keys_[key_index];
    const RequestId id{(connection.sequence_next << kSlotBits) | slot_index};
    connection.sequence_next += 1;
    slot.busy = true;
    slot.kind = kind;
    slot.id = id;
    slot.start = now;
    slot.replied = false;
    slot.object_bytes = 0;
    slot.received_bytes = 0;
    slot.digest = 0;
    slot.hasher.reset();

    if (kind == OpKind::kGet) {
        const uint64_t begin = connection.scratch_end();
        wire::encode_request(id, wire::GetRequest{.key = key}, connection.scratch);
        connection.queue_scratch(begin);
    } else {
        issue_put(connection, id, key);
    }
    issued += 1;
    in_flight += 1;
    mark_dirty(connection);
}

void LoadGenerator::Loop::issue_put(Connection& connection, RequestId id, std::string_view key) {
    const Payload& payload = generator.payload_;
    const uint64_t piece_count = payload.piece_count();
    wire::PutRequest request{
            .key = key,
            .object_bytes = payload.object_bytes(),
            .piece = {.last = piece_count == 1, .digest = piece_count == 1 ? payload.digest() : 0},
    };
    const ByteView first = payload.piece(0);
    uint64_t begin = connection.scratch_end();
    if (first.size() <= kInlinePutBytesMax) {
        request.piece.data = first;
        wire::encode_request(id, request, connection.scratch);
        connection.queue_scratch(begin);
    } else {
        encode_put_request_prefix(id, request, first.size(), connection.scratch);
        connection.queue_scratch(begin);
        connection.queue_borrowed(first);
    }
    for (uint64_t index = 1; index < piece_count; index++) {
        const bool last = index + 1 == piece_count;
        const wire::PutPiece piece{
                .last = last, .digest = last ? payload.digest() : 0, .data = payload.piece(index)};
        begin = connection.scratch_end();
        wire::encode_put_piece_prefix(id, piece, connection.scratch);
        connection.queue_scratch(begin);
        connection.queue_borrowed(piece.data);
    }
}

void LoadGenerator::Loop::flush(Connection& connection) {
    while (connection.open && connection.has_unsent() && !connection.write_blocked) {
        size_t iovec_count = 0;
        size_t offered_bytes = 0;
        for (size_t index = connection.segments_head;
             index < connection.segments.size() && iovec_count < kIovecsMax;
             index++) {
            const Segment& segment = connection.segments[index];
            const size_t skip = index == connection.segments_head ? connection.front_sent_bytes : 0;
            // iovec is not const-correct; sendmsg() only reads.
            iovecs[iovec_count].iov_base =
                    const_cast<std::byte*>(connection.segment_data(segment) + skip);
            iovecs[iovec_count].iov_len = segment.bytes - skip;
            offered_bytes += segment.bytes - skip;
            iovec_count += 1;
        }
        msghdr message{};
        message.msg_iov = iovecs.data();
        message.msg_iovlen = iovec_count;
        const ssize_t sent = sendmsg(connection.fd, &message, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                connection.write_blocked = true;
                return;
            }
            fail_connection(connection, fmt::format("send: {}", std::strerror(errno)));
            return;
        }
        connection.on_sent(static_cast<size_t>(sent));
        // Edge-triggered: a short write means the socket is full, and EPOLLOUT will say when
        // it has room again.
        if (static_cast<size_t>(sent) < offered_bytes) connection.write_blocked = true;
    }
}

void LoadGenerator::Loop::on_readable(Connection& connection) {
    for (int reads = 0; reads < kReadsPerTurnMax; reads++) {
        if (!connection.open) return;
        const MutableByteView space = connection.decoder.prepare(kReadBytes);
        const ssize_t received = read(connection.fd, space.data(), space.size());
        if (received <= 0) {
            const int error = errno;
            connection.decoder.commit(0);
            if (received < 0 && (error == EAGAIN || error == EWOULDBLOCK)) return;
            if (received < 0 && error == EINTR) continue;
            fail_connection(connection,
                            received == 0 ? "connection closed by the node"
                                          : fmt::format("read: {}", std::strerror(error)));
            return;
        }
        connection.decoder.commit(static_cast<size_t>(received));
        const Clock::time_point now = Clock::now();
        while (connection.open) {
            Result<std::optional<wire::Frame>> frame = connection.decoder.next();
            if (!frame.is_ok()) {
                fail_connection(connection, fmt::format("bad frame: {}", frame.status().message()));
                return;
            }
            if (!frame.value().has_value()) break;
            if (!on_frame(connection, *frame.value(), now)) return;
        }
        // Edge-triggered: a short read emptied the socket, and new bytes will raise an event.
        if (static_cast<size_t>(received) < space.size()) return;
    }
    if (connection.open && !connection.read_pending) {
        connection.read_pending = true;
        read_again.push_back(&connection);
    }
}

bool LoadGenerator::Loop::on_frame(Connection& connection,
                                   const wire::Frame& frame,
                                   Clock::time_point now) {
    const uint64_t id = to_u64(frame.header.request_id);
    const uint64_t slot_index = id & kSlotMask;
    if (slot_index >= connection.slots.size() || !connection.slots[slot_index].busy ||
        connection.slots[slot_index].id != frame.header.request_id) {
        fail_connection(connection, fmt::format("a reply for request {} not in flight", id));
        return false;
    }
    Slot& slot = connection.slots[slot_index];
    const wire::Opcode expected =
            slot.kind == OpKind::kPut ? wire::Opcode::kPut : wire::Opcode::kGet;
    if (frame.header.opcode != expected || frame.header.kind == wire::FrameKind::kRequest) {
        fail_connection(connection, fmt::format("request {}: a reply of the wrong kind", id));
        return false;
    }
    if (frame.header.kind == wire::FrameKind::kError) {
        Result<wire::ErrorReply> error = wire::decode_error(frame.body);
        if (!error.is_ok()) {
            fail_connection(connection, error.status().message());
            return false;
        }
        complete(connection,
                 slot,
                 static_cast<size_t>(error.value().code),
                 error.value().message,
                 now);
        return true;
    }
    if (slot.kind == OpKind::kGet) return on_get_frame(connection, slot, frame, now);

    Result<wire::PutReply> reply =
            frame.header.kind == wire::FrameKind::kResponse
                    ? wire::decode_put_reply(frame.body)
                    : Result<wire::PutReply>(Status::invalid_argument("put: data from the node"));
    if (!reply.is_ok()) {
        fail_connection(connection, fmt::format("request {}: {}", id, reply.status().message()));
        return false;
    }
    const Payload& payload = generator.payload_;
    const bool matches = reply.value().info.object_bytes == payload.object_bytes() &&
                         reply.value().info.digest == payload.digest();
    complete(connection,
             slot,
             matches ? kSucceeded : kFailureProtocol,
             "put reply: size or digest differs from what was sent",
             now);
    return true;
}

bool LoadGenerator::Loop::on_get_frame(Connection& connection,
                                       Slot& slot,
                                       const wire::Frame& frame,
                                       Clock::time_point now) {
    const uint64_t id = to_u64(slot.id);
    if (frame.header.kind == wire::FrameKind::kResponse) {
        if (slot.replied) {
            fail_connection(connection, fmt::format("request {}: a second get reply", id));
            return false;
        }
        Result<wire::GetReply> reply = wire::decode_get_reply(frame.body);
        if (!reply.is_ok()) {
            fail_connection(connection,
                            fmt::format("request {}: {}", id, reply.status().message()));
            return false;
        }
        slot.replied = true;
        slot.object_bytes = reply.value().info.object_bytes;
        slot.digest = reply.value().info.digest;
        slot.received_bytes = reply.value().data.size();
        if (generator.options_.verify) {
            slot.hasher = std::make_unique<Hasher64>();
            slot.hasher->update(reply.value().data);
        }
    } else {
        SHOAL_ASSERT(frame.header.kind == wire::FrameKind::kData);
        if (!slot.replied || frame.body.size() > slot.object_bytes - slot.received_bytes) {
            fail_connection(connection, fmt::format("request {}: unexpected get data", id));
            return false;
        }
        slot.received_bytes += frame.body.size();
        if (slot.hasher != nullptr) slot.hasher->update(frame.body);
    }
    if (slot.received_bytes == slot.object_bytes) {
        const bool matches = slot.hasher == nullptr || slot.hasher->digest() == slot.digest;
        complete(connection,
                 slot,
                 matches ? kSucceeded : kFailureProtocol,
                 "get: data does not match the digest in the reply",
                 now);
    }
    return true;
}

void LoadGenerator::Loop::complete(Connection& connection,
                                   Slot& slot,
                                   size_t failure_code,
                                   std::string_view message,
                                   Clock::time_point now) {
    SHOAL_ASSERT(slot.busy);
    OpStats& stats = result.by_kind[static_cast<size_t>(slot.kind)];
    if (failure_code == kSucceeded) {
        stats.ops_ok += 1;
        stats.object_bytes +=
                slot.kind == OpKind::kPut ? generator.payload_.object_bytes() : slot.object_bytes;
        const auto latency = std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.start);
        stats.latency.record(static_cast<uint64_t>(std::max<int64_t>(0, latency.count())));
    } else {
        SHOAL_ASSERT(failure_code < stats.failures_by_code.size());
        stats.ops_failed += 1;
        stats.failures_by_code[failure_code] += 1;
        if (stats.first_message[failure_code].empty()) {
            stats.first_message[failure_code] = std::string(message);
        }
    }
    slot.busy = false;
    slot.hasher.reset();
    const auto slot_index = static_cast<uint32_t>(to_u64(slot.id) & kSlotMask);
    connection.slots_free.push_back(slot_index);
    SHOAL_ASSERT(in_flight > 0);
    in_flight -= 1;
    last_progress = now;
    last_completion = now;
    if (connection.open && may_issue(now)) issue(connection, now);
}

void LoadGenerator::Loop::fail_connection(Connection& connection, std::string_view reason) {
    if (!connection.open) return;
    connection.open = false;
    close(connection.fd);  // Also takes it out of the epoll set.
    connection.fd = -1;
    connection.reset_output();
    result.connections_lost += 1;
    const Clock::time_point now = Clock::now();
    for (Slot& slot : connection.slots) {
        if (slot.busy) complete(connection, slot, kFailureProtocol, reason, now);
    }
    const bool any_open = std::any_of(generator.connections_.begin(),
                                      generator.connections_.end(),
                                      [](const auto& other) { return other->open; });
    if (!any_open) {
        stopped = true;
        result.status = Status::unavailable(
                fmt::format("every connection to the node was lost; the last: {}", reason));
    }
}

bool LoadGenerator::Loop::poll() {
    // Every completion issues the next request itself, so the wait needs no deadline of its
    // own; waking now and then only checks for a stall.
    const int timeout_ms = read_again.empty() ? 100 : 0;
    const int ready = epoll_wait(generator.epoll_fd_, events.data(), kEpollEventsMax, timeout_ms);
    if (ready < 0) {
        if (errno == EINTR) return true;
        result.status = Status::unavailable(fmt::format("epoll_wait: {}", std::strerror(errno)));
        return false;
    }
    read_again_now.swap(read_again);
    read_again.clear();
    for (Connection* connection : read_again_now) {
        connection->read_pending = false;
        on_readable(*connection);
    }
    read_again_now.clear();
    for (size_t index = 0; index < static_cast<size_t>(ready); index++) {
        auto* connection = static_cast<Connection*>(events[index].data.ptr);
        if (!connection->open) continue;
        const uint32_t flags = events[index].events;
        if ((flags & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0) on_readable(*connection);
        if ((flags & EPOLLOUT) != 0 && connection->open) {
            connection->write_blocked = false;
            if (connection->has_unsent()) mark_dirty(*connection);
        }
    }
    return true;
}

void LoadGenerator::Loop::run() {
    start = Clock::now();
    deadline = start + phase.duration_max;
    last_progress = start;
    last_completion = start;
    const uint64_t cpu_start = cpu_microseconds();

    // Fill every pipeline, one request per connection at a time, so a small --count still
    // spreads over the connections.
    for (uint32_t round = 0; round < generator.options_.depth; round++) {
        for (const auto& connection : generator.connections_) {
            if (connection->open && may_issue(start)) issue(*connection, start);
        }
    }

    while (true) {
        for (Connection* connection : dirty) {
            connection->dirty = false;
            flush(*connection);
        }
        dirty.clear();
        const Clock::time_point now = Clock::now();
        if (in_flight == 0 && !may_issue(now)) break;
        if (now - last_progress > generator.options_.stall_timeout) {
            stopped = true;
            result.status = Status::timeout(fmt::format(
                    "no reply for {} s with {} requests in flight",
                    std::chrono::duration_cast<std::chrono::seconds>(now - last_progress).count(),
                    in_flight));
            break;
        }
        if (!poll()) break;
    }
    // After a stall, what is still in flight is written off, and the connections with it:
    // late replies must not land in the next phase.
    if (!result.status.is_ok()) {
        for (const auto& connection : generator.connections_) {
            if (connection->open && connection->in_flight() > 0) {
                fail_connection(*connection, result.status.message());
            }
        }
    }
    result.elapsed = last_completion - start;
    result.cpu_seconds = static_cast<double>(cpu_microseconds() - cpu_start) / 1e6;
}

LoadGenerator::LoadGenerator(const GeneratorOptions& options, const Payload& payload)
    : options_(options), payload_(payload) {
    SHOAL_ASSERT(options.connections > 0);
    SHOAL_ASSERT(options.depth > 0 && options.depth <= limits::kConnectionRequestsMax);
    SHOAL_ASSERT(options.keys > 0);
    keys_.reserve(options.keys);
    for (uint64_t index = 0; index < options.keys; index++) {
        keys_.push_back(fmt::format("bench/{}", index));
    }
}

LoadGenerator::~LoadGenerator() {
    for (const auto& connection : connections_) {
        if (connection->fd >= 0) close(connection->fd);
    }
    if (epoll_fd_ >= 0) close(epoll_fd_);
}

Status LoadGenerator::connect(const Target& target) {
    return connect(std::span<const Target>(&target, 1));
}

Status LoadGenerator::connect(std::span<const Target> targets) {
    SHOAL_ASSERT(connections_.empty());
    SHOAL_ASSERT(!targets.empty());
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return Status::unavailable(fmt::format("epoll: {}", std::strerror(errno)));
    for (uint32_t index = 0; index < options_.connections; index++) {
        const Target& target = targets[index % targets.size()];
        auto connection = std::make_unique<Connection>();
        connection->slots.resize(options_.depth);
        for (uint32_t slot = options_.depth; slot > 0; slot--) {
            connection->slots_free.push_back(slot - 1);
        }
        const int fd = socket(target.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return Status::unavailable(fmt::format("socket: {}", std::strerror(errno)));
        connection->fd = fd;
        connections_.push_back(std::move(connection));
        // A blocking connect keeps start-up simple; the loop only ever sees open sockets.
        if (::connect(fd,
                      reinterpret_cast<const sockaddr*>(&target.address),
                      target.address_bytes) != 0) {
            return Status::unavailable(fmt::format("connect to {} (connection {} of {}): {}",
                                                   target.text,
                                                   index + 1,
                                                   options_.connections,
                                                   std::strerror(errno)));
        }
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        const int flags = fcntl(fd, F_GETFL, 0);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
            return Status::unavailable(fmt::format("fcntl: {}", std::strerror(errno)));
        }
        epoll_event event{};
        event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        event.data.ptr = connections_.back().get();
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
            return Status::unavailable(fmt::format("epoll_ctl: {}", std::strerror(errno)));
        }
        connections_.back()->open = true;
    }
    return Status::ok();
}

PhaseResult LoadGenerator::run(const PhaseOptions& phase) {
    SHOAL_ASSERT(phase.ops_max != 0 || phase.duration_max.count() != 0);
    SHOAL_ASSERT(!connections_.empty());
    phases_run_ += 1;
    Loop loop(*this, phase, options_.seed * 1'000'003 + phases_run_);
    for (const auto& connection : connections_) {
        connection->write_blocked = false;
        SHOAL_ASSERT(connection->in_flight() == 0);
    }
    loop.run();
    return std::move(loop.result);
}

}  // namespace shoal::bench

#include "shoal/client/client.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <fmt/format.h>

#include "shoal/base/address.h"
#include "shoal/base/hash.h"
#include "shoal/base/limits.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace shoal::client {
namespace {

constexpr size_t kPieceBytes = limits::kDataFrameBytesMax;

std::string errno_text(int error) {
    return std::strerror(error);
}

int timeout_ms(std::chrono::milliseconds timeout) {
    return static_cast<int>(std::min<int64_t>(timeout.count(), INT32_MAX));
}

// Connects one address within the timeout; returns the fd or the errno.
Result<int> connect_address(const addrinfo& address, std::chrono::milliseconds timeout) {
    const int fd = socket(address.ai_family, address.ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::unavailable(errno_text(errno));
    const int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int error = 0;
    if (::connect(fd, address.ai_addr, address.ai_addrlen) != 0) {
        error = errno;
        if (error == EINPROGRESS) {
            pollfd poll_fd{.fd = fd, .events = POLLOUT, .revents = 0};
            const int ready = poll(&poll_fd, 1, timeout_ms(timeout));
            socklen_t length = sizeof(error);
            if (ready == 0) {
                error = ETIMEDOUT;
            } else if (ready < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
                error = errno;
            }
        }
    }
    if (error != 0) {
        close(fd);
        return Status::unavailable(errno_text(error));
    }
    fcntl(fd, F_SETFL, flags);
    const int enable = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &enable, sizeof(enable));
    return fd;
}

// Reads until `target` is full or the source ends.
Result<size_t> read_full(Source& source, MutableByteView target) {
    size_t filled = 0;
    while (filled < target.size()) {
        SHOAL_TRY_ASSIGN(const size_t got, source.read(target.subspan(filled)));
        if (got == 0) break;
        filled += got;
    }
    return filled;
}

}  // namespace

Result<size_t> FdSource::read(MutableByteView target) {
    while (true) {
        const ssize_t got = ::read(fd_, target.data(), target.size());
        if (got >= 0) return static_cast<size_t>(got);
        if (errno != EINTR) {
            return Status::io_error(fmt::format("cannot read {}: {}", name_, errno_text(errno)));
        }
    }
}

Status FdSink::write(ByteView bytes) {
    while (!bytes.empty()) {
        const ssize_t done = ::write(fd_, bytes.data(), bytes.size());
        if (done < 0) {
            if (errno == EINTR) continue;
            return Status::io_error(fmt::format("cannot write {}: {}", name_, errno_text(errno)));
        }
        bytes = bytes.subspan(static_cast<size_t>(done));
    }
    return Status::ok();
}

Result<Connection> Connection::connect(const Options& options) {
    SHOAL_TRY_ASSIGN(const HostPort address, parse_host_port(options.address));
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(address.port);
    if (const int error = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found)) {
        return Status::unavailable(
                fmt::format("cannot connect to {}: {}", options.address, gai_strerror(error)));
    }
    Status last = Status::unavailable("no address");
    for (const addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
        Result<int> fd = connect_address(*candidate, options.connect_timeout);
        if (fd.is_ok()) {
            freeaddrinfo(found);
            return Connection(fd.value(), options);
        }
        last = fd.status();
    }
    freeaddrinfo(found);
    return Status::unavailable(
            fmt::format("cannot connect to {}: {}", options.address, last.message()));
}

Connection::Connection(int fd, Options options) : fd_(fd), options_(std::move(options)) {
    timeval send_timeout{};
    send_timeout.tv_sec = options_.io_timeout.count() / 1000;
    send_timeout.tv_usec = (options_.io_timeout.count() % 1000) * 1000;
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
}

Connection::Connection(Connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      options_(std::move(other.options_)),
      decoder_(std::move(other.decoder_)),
      request_next_(other.request_next_),
      failure_source_(other.failure_source_) {}

Connection& Connection::operator=(Connection&& other) noexcept {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    options_ = std::move(other.options_);
    decoder_ = std::move(other.decoder_);
    request_next_ = other.request_next_;
    failure_source_ = other.failure_source_;
    return *this;
}

Connection::~Connection() {
    if (fd_ >= 0) close(fd_);
}

template <typename T>
Result<T> Connection::fail(FailureSource source, Status status) {
    failure_source_ = source;
    if (source == FailureSource::kConnection && fd_ >= 0) {
        close(fd_);  // A broken stream cannot be resynchronized.
        fd_ = -1;
    }
    return status;
}

Status Connection::send_all(ByteView head, ByteView payload) {
    if (fd_ < 0) return Status::unavailable("the connection is closed");
    iovec vectors[2] = {
            {const_cast<std::byte*>(head.data()), head.size()},
            {const_cast<std::byte*>(payload.data()), payload.size()},
    };
    msghdr message{};
    message.msg_iov = vectors;
    message.msg_iovlen = payload.empty() ? 1 : 2;
    size_t remaining = head.size() + payload.size();
    while (remaining > 0) {
        const ssize_t sent = sendmsg(fd_, &message, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            const std::string why = errno == EAGAIN ? "timed out" : errno_text(errno);
            return Status::unavailable(
                    fmt::format("lost the connection to {}: {}", options_.address, why));
        }
        remaining -= static_cast<size_t>(sent);
        auto advance = static_cast<size_t>(sent);
        while (advance > 0 && message.msg_iovlen > 0) {
            iovec& first = message.msg_iov[0];
            const size_t step = std::min(advance, first.iov_len);
            first.iov_base = static_cast<std::byte*>(first.iov_base) + step;
            first.iov_len -= step;
            advance -= step;
            if (first.iov_len == 0) {
                message.msg_iov += 1;
                message.msg_iovlen -= 1;
            }
        }
    }
    return Status::ok();
}

Result<wire::Frame> Connection::read_frame(RequestId request) {
    if (fd_ < 0) return Status::unavailable("the connection is closed");
    while (true) {
        Result<std::optional<wire::Frame>> next = decoder_.next();
        if (!next.is_ok()) return fail<wire::Frame>(FailureSource::kProtocol, next.status());
        if (next.value().has_value()) {
            const wire::Frame frame = *next.value();
            if (frame.header.request_id != request) {
                return fail<wire::Frame>(
                        FailureSource::kProtocol,
                        Status::invalid_argument("the node answered a request never sent"));
            }
            return frame;
        }
        pollfd poll_fd{.fd = fd_, .events = POLLIN, .revents = 0};
        const int ready = poll(&poll_fd, 1, timeout_ms(options_.io_timeout));
        if (ready == 0) {
            return fail<wire::Frame>(
                    FailureSource::kConnection,
                    Status::timeout(fmt::format("{} did not answer within {} s",
                                                options_.address,
                                                options_.io_timeout.count() / 1000)));
        }
        MutableByteView space = decoder_.prepare(size_t{64} * 1024);
        const ssize_t got = ready < 0 ? -1 : recv(fd_, space.data(), space.size(), 0);
        const int error = errno;
        decoder_.commit(got > 0 ? static_cast<size_t>(got) : 0);
        if (got == 0) {
            return fail<wire::Frame>(
                    FailureSource::kConnection,
                    Status::unavailable(fmt::format("{} closed the connection", options_.address)));
        }
        if (got < 0 && error != EINTR) {
            return fail<wire::Frame>(
                    FailureSource::kConnection,
                    Status::unavailable(fmt::format(
                            "lost the connection to {}: {}", options_.address, errno_text(error))));
        }
    }
}

bool Connection::frame_ready() const {
    pollfd poll_fd{.fd = fd_, .events = POLLIN, .revents = 0};
    return poll(&poll_fd, 1, 0) > 0;
}

Status Connection::node_error(const wire::Frame& frame) {
    Result<wire::ErrorReply> error = wire::decode_error(frame.body);
    if (!error.is_ok()) {
        failure_source_ = FailureSource::kProtocol;
        return error.status();
    }
    failure_source_ = FailureSource::kNode;
    return Status::from_code(error.value().code, error.value().message);
}

Result<wire::Frame> Connection::expect_response(RequestId request, wire::Opcode opcode) {
    SHOAL_TRY_ASSIGN(const wire::Frame frame, read_frame(request));
    if (frame.header.kind == wire::FrameKind::kError) return node_error(frame);
    if (frame.header.kind != wire::FrameKind::kResponse || frame.header.opcode != opcode) {
        return fail<wire::Frame>(FailureSource::kProtocol,
                                 Status::invalid_argument("the node sent an unexpected frame"));
    }
    return frame;
}

Result<wire::ObjectInfo> Connection::put(std::string_view key,
                                         Source& source,
                                         std::optional<uint64_t> size,
                                         const Progress& progress,
                                         wire::PutRedundancy redundancy) {
    failure_source_ = FailureSource::kNone;
    const RequestId request = next_request();
    Buffer piece(kPieceBytes);
    const Status streamed =
            put_stream({.request = request, .key = key, .size = size, .redundancy = redundancy},
                       source,
                       piece,
                       progress);
    if (!streamed.is_ok()) {
        if (failure_source_ == FailureSource::kNone) failure_source_ = FailureSource::kConnection;
        if (failure_source_ == FailureSource::kConnection && fd_ >= 0) {
            close(fd_);
            fd_ = -1;
        }
        return streamed;
    }
    SHOAL_TRY_ASSIGN(const wire::Frame frame, expect_response(request, wire::Opcode::kPut));
    Result<wire::PutReply> reply = wire::decode_put_reply(frame.body);
    if (!reply.is_ok()) return fail<wire::ObjectInfo>(FailureSource::kProtocol, reply.status());
    return reply.value().info;
}

// Sends the request and every piece. Stops early, with the node's error, if the node answers
// before the last piece (for example: no space).
Status Connection::put_stream(const PutHead& put_head,
                              Source& source,
                              Buffer& piece,
                              const Progress& progress) {
    const RequestId request = put_head.request;
    const std::string_view key = put_head.key;
    const std::optional<uint64_t> size = put_head.size;
    Hasher64 hasher;
    uint64_t sent_bytes = 0;
    bool first = true;
    bool last = false;
    while (!last) {
        const size_t want =
                size.has_value()
                        ? static_cast<size_t>(std::min<uint64_t>(*size - sent_bytes, kPieceBytes))
                        : kPieceBytes;
        Result<size_t> got = read_full(source, piece.mutable_view().subspan(0, want));
        if (!got.is_ok()) {
            failure_source_ = FailureSource::kLocal;
            return got.status();
        }
        if (size.has_value() && got.value() < want) {
            failure_source_ = FailureSource::kLocal;
            return Status::io_error(fmt::format("the input ended after {} bytes of the {} expected",
                                                sent_bytes + got.value(),
                                                *size));
        }
        const ByteView data = piece.view().subspan(0, got.value());
        sent_bytes += data.size();
        last = size.has_value() ? sent_bytes == *size : data.size() < kPieceBytes;
        hasher.update(data);
        const wire::PutPiece put_piece{
                .last = last, .digest = last ? hasher.digest() : 0, .data = data};
        Buffer head;
        if (first) {
            wire::encode_request(
                    request,
                    wire::PutRequest{.key = key,
                                     .object_bytes = size.value_or(wire::kObjectBytesUnknown),
                                     .redundancy = put_head.redundancy,
                                     .piece = put_piece},
                    head);
            SHOAL_TRY(send_all(head.view(), {}));
            first = false;
        } else {
            // An answer before the end can only be an error: stop sending and report it.
            if (frame_ready()) {
                SHOAL_TRY_ASSIGN(const wire::Frame frame, read_frame(request));
                if (frame.header.kind == wire::FrameKind::kError) return node_error(frame);
                failure_source_ = FailureSource::kProtocol;
                return Status::invalid_argument("the node answered a put before its end");
            }
            wire::encode_put_piece_prefix(request, put_piece, head);
            SHOAL_TRY(send_all(head.view(), data));
        }
        if (progress) progress(sent_bytes, size);
    }
    return Status::ok();
}

Result<wire::ObjectInfo> Connection::get(std::string_view key,
                                         Sink& sink,
                                         const Progress& progress) {
    SHOAL_TRY_ASSIGN(const wire::Frame first,
                     call(wire::GetRequest{.key = key}, wire::Opcode::kGet));
    const RequestId request = first.header.request_id;
    Result<wire::GetReply> reply = wire::decode_get_reply(first.body);
    if (!reply.is_ok()) return fail<wire::ObjectInfo>(FailureSource::kProtocol, reply.status());
    const wire::ObjectInfo info = reply.value().info;
    Hasher64 hasher;
    uint64_t received_bytes = 0;
    ByteView data = reply.value().data;
    while (true) {
        hasher.update(data);
        received_bytes += data.size();
        if (Status written = sink.write(data); !written.is_ok()) {
            return fail<wire::ObjectInfo>(FailureSource::kLocal, written);
        }
        if (progress) progress(received_bytes, info.object_bytes);
        if (received_bytes == info.object_bytes) break;
        SHOAL_TRY_ASSIGN(const wire::Frame frame, read_frame(request));
        if (frame.header.kind == wire::FrameKind::kError) return node_error(frame);
        if (frame.header.kind != wire::FrameKind::kData ||
            frame.body.size() > info.object_bytes - received_bytes) {
            return fail<wire::ObjectInfo>(
                    FailureSource::kProtocol,
                    Status::invalid_argument("the node sent more or other than the object"));
        }
        data = frame.body;
    }
    if (hasher.digest() != info.digest) {
        return fail<wire::ObjectInfo>(
                FailureSource::kProtocol,
                Status::corruption(fmt::format("the bytes received do not match the object's "
                                               "digest {:016x}: damaged in transit",
                                               info.digest)));
    }
    return info;
}

template <typename Request>
Result<wire::Frame> Connection::call(const Request& request, wire::Opcode opcode) {
    failure_source_ = FailureSource::kNone;
    const RequestId id = next_request();
    Buffer head;
    wire::encode_request(id, request, head);
    if (Status sent = send_all(head.view(), {}); !sent.is_ok()) {
        return fail<wire::Frame>(FailureSource::kConnection, sent);
    }
    return expect_response(id, opcode);
}

Result<wire::ObjectInfo> Connection::stat(std::string_view key) {
    SHOAL_TRY_ASSIGN(const wire::Frame frame,
                     call(wire::StatRequest{.key = key}, wire::Opcode::kStat));
    Result<wire::StatReply> reply = wire::decode_stat_reply(frame.body);
    if (!reply.is_ok()) return fail<wire::ObjectInfo>(FailureSource::kProtocol, reply.status());
    return reply.value().info;
}

Result<Version> Connection::remove(std::string_view key) {
    SHOAL_TRY_ASSIGN(const wire::Frame frame,
                     call(wire::DeleteRequest{.key = key}, wire::Opcode::kDelete));
    Result<wire::DeleteReply> reply = wire::decode_delete_reply(frame.body);
    if (!reply.is_ok()) return fail<Version>(FailureSource::kProtocol, reply.status());
    return reply.value().version;
}

Result<wire::ListReply> Connection::list(std::string_view prefix,
                                         std::string_view start_after,
                                         uint32_t limit) {
    SHOAL_TRY_ASSIGN(
            const wire::Frame frame,
            call(wire::ListRequest{.prefix = prefix, .start_after = start_after, .limit = limit},
                 wire::Opcode::kList));
    Result<wire::ListReply> reply = wire::decode_list_reply(frame.body);
    if (!reply.is_ok()) return fail<wire::ListReply>(FailureSource::kProtocol, reply.status());
    return std::move(reply).value();
}

Status Connection::ping() {
    Result<wire::Frame> frame = call(wire::PingRequest{}, wire::Opcode::kPing);
    return frame.status();
}

Result<wire::StatsReply> Connection::stats() {
    SHOAL_TRY_ASSIGN(const wire::Frame frame, call(wire::StatsRequest{}, wire::Opcode::kStats));
    Result<wire::StatsReply> reply = wire::decode_stats_reply(frame.body);
    if (!reply.is_ok()) return fail<wire::StatsReply>(FailureSource::kProtocol, reply.status());
    return reply.value();
}

Result<wire::MembersReply> Connection::members() {
    SHOAL_TRY_ASSIGN(const wire::Frame frame, call(wire::MembersRequest{}, wire::Opcode::kMembers));
    Result<wire::MembersReply> reply = wire::decode_members_reply(frame.body);
    if (!reply.is_ok()) return fail<wire::MembersReply>(FailureSource::kProtocol, reply.status());
    return std::move(reply).value();
}

}  // namespace shoal::client

#include "runtime_uv/uv_datagram.h"

#include <fmt/format.h>

#include <netinet/in.h>

namespace shoal::runtime_uv {
namespace {

constexpr uint64_t kWarnIntervalMs = 1000;

uv_buf_t buffer_of(ByteView bytes) {
    // libuv only reads from send buffers; its struct is not const-correct.
    return uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(bytes.data())),
                       static_cast<unsigned>(bytes.size()));
}

}  // namespace

Status UvDatagram::bind(const HostPort& address, Deliver deliver) {
    SHOAL_ASSERT(!bind_attempted_);
    bind_attempted_ = true;
    uv_getaddrinfo_t resolve{};
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE;
    const std::string port = std::to_string(address.port);
    int error =
            uv_getaddrinfo(&loop_, &resolve, nullptr, address.host.c_str(), port.c_str(), &hints);
    if (error != 0) {
        return Status::unavailable(
                fmt::format("resolve {}: {}", address.to_string(), uv_strerror(error)));
    }
    SHOAL_ASSERT(uv_udp_init(&loop_, &udp_) == 0);
    udp_.data = this;
    error = uv_udp_bind(&udp_, resolve.addrinfo->ai_addr, 0);
    uv_freeaddrinfo(resolve.addrinfo);
    if (error == 0) {
        receive_buffer_ = std::make_unique<std::byte[]>(runtime::kDatagramBytesMax);
        error = uv_udp_recv_start(
                &udp_,
                [](uv_handle_t* handle, size_t, uv_buf_t* buffer) {
                    auto* self = static_cast<UvDatagram*>(handle->data);
                    *buffer = uv_buf_init(reinterpret_cast<char*>(self->receive_buffer_.get()),
                                          runtime::kDatagramBytesMax);
                },
                [](uv_udp_t* handle,
                   ssize_t bytes_read,
                   const uv_buf_t*,
                   const sockaddr* from,
                   unsigned flags) {
                    static_cast<UvDatagram*>(handle->data)->on_receive(bytes_read, from, flags);
                });
    }
    if (error != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&udp_), nullptr);
        return Status::unavailable(
                fmt::format("bind datagrams to {}: {}", address.to_string(), uv_strerror(error)));
    }
    deliver_ = std::move(deliver);
    bound_ = true;
    return Status::ok();
}

uint16_t UvDatagram::port() const {
    SHOAL_ASSERT(bound_);
    sockaddr_storage address{};
    int length = sizeof(address);
    SHOAL_ASSERT(uv_udp_getsockname(&udp_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    return host_port_of(*reinterpret_cast<const sockaddr*>(&address)).port;
}

void UvDatagram::send(const HostPort& to, ByteView bytes) {
    if (bytes.size() > runtime::kDatagramBytesMax) {
        stats_.send_rejected += 1;
        warn("datagram_rejected",
             to,
             fmt::format(
                     "{} bytes, over the {} byte limit", bytes.size(), runtime::kDatagramBytesMax));
        return;
    }
    if (!bound_) {
        stats_.send_failed += 1;
        warn("datagram_not_sent", to, "no datagram socket is bound");
        return;
    }
    if (std::optional<SocketAddress> address = resolver_.find(to)) {
        send_to(*address, to, bytes);
        return;
    }
    // A host name not yet resolved: the datagram waits for the answer, as a copy.
    auto copy = std::make_shared<Buffer>(bytes);
    const bool waiting = resolver_.resolve(to, [this, to, copy](Result<SocketAddress> address) {
        if (!address.is_ok()) {
            stats_.send_failed += 1;
            warn("datagram_not_sent", to, address.status().message());
            return;
        }
        if (!bound_) {
            stats_.send_failed += 1;  // Closed while the lookup ran.
            return;
        }
        send_to(address.value(), to, copy->view());
    });
    if (!waiting) {
        stats_.send_failed += 1;
        warn("datagram_not_sent", to, "too many host lookups in flight");
    }
}

void UvDatagram::send_to(const SocketAddress& address, const HostPort& to, ByteView bytes) {
    const uv_buf_t buffer = buffer_of(bytes);
    const int sent = uv_udp_try_send(&udp_, &buffer, 1, address.get());
    if (sent >= 0) {
        stats_.sent += 1;
        return;
    }
    if (sent != UV_EAGAIN && sent != UV_ENOBUFS) {
        stats_.send_failed += 1;
        warn("datagram_not_sent", to, uv_strerror(sent));
        return;
    }
    // The socket buffer is full, or sends are already queued (try_send keeps their order).
    if (queued_bytes_ + bytes.size() > kSendQueueBytesMax) {
        stats_.send_failed += 1;
        warn("datagram_not_sent", to, "the send queue is full");
        return;
    }
    auto* send = new SendRequest{};
    send->owner = this;
    send->bytes = Buffer(bytes);
    const uv_buf_t copy = buffer_of(send->bytes.view());
    const int error = uv_udp_send(
            &send->request, &udp_, &copy, 1, address.get(), [](uv_udp_send_t* request, int status) {
                auto* done = reinterpret_cast<SendRequest*>(request);
                done->owner->on_send_done(done, status);
            });
    if (error != 0) {
        delete send;
        stats_.send_failed += 1;
        warn("datagram_not_sent", to, uv_strerror(error));
        return;
    }
    queued_bytes_ += bytes.size();
}

void UvDatagram::on_send_done(SendRequest* send, int status) {
    SHOAL_ASSERT(queued_bytes_ >= send->bytes.size());
    queued_bytes_ -= send->bytes.size();
    delete send;
    if (status < 0) {
        stats_.send_failed += 1;
        if (status != UV_ECANCELED) warn("datagram_not_sent", HostPort{}, uv_strerror(status));
        return;
    }
    stats_.sent += 1;
}

void UvDatagram::on_receive(ssize_t bytes_read, const sockaddr* from, unsigned flags) {
    if (bytes_read == 0 && from == nullptr) return;  // The socket has nothing more to read.
    if (bytes_read < 0) {
        stats_.receive_dropped += 1;
        warn("datagram_receive_failed", HostPort{}, uv_strerror(static_cast<int>(bytes_read)));
        return;
    }
    SHOAL_ASSERT(from != nullptr);
    if ((flags & UV_UDP_PARTIAL) != 0) {
        stats_.receive_dropped += 1;
        warn("datagram_dropped",
             host_port_of(*from),
             fmt::format("over the {} byte limit", runtime::kDatagramBytesMax));
        return;
    }
    if (bytes_read == 0) {
        stats_.receive_dropped += 1;
        return;
    }
    SHOAL_ASSERT(static_cast<size_t>(bytes_read) <= runtime::kDatagramBytesMax);
    stats_.received += 1;
    deliver_(host_port_of(*from), ByteView(receive_buffer_.get(), static_cast<size_t>(bytes_read)));
}

void UvDatagram::close() {
    if (!bound_) return;
    bound_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&udp_), nullptr);
}

void UvDatagram::warn(std::string_view event, const HostPort& peer, std::string_view reason) {
    const uint64_t now_ms = uv_now(&loop_);
    if (warned_ && now_ms - warned_last_ms_ < kWarnIntervalMs) {
        warnings_suppressed_ += 1;
        return;
    }
    log_.warn("{} peer={} reason=\"{}\" suppressed={}",
              event,
              peer.host.empty() ? "-" : peer.to_string(),
              reason,
              warnings_suppressed_);
    warned_ = true;
    warned_last_ms_ = now_ms;
    warnings_suppressed_ = 0;
}

}  // namespace shoal::runtime_uv

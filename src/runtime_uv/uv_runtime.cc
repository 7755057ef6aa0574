#include "shoal/runtime_uv/uv_runtime.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include "runtime_uv/uv_datagram.h"
#include "runtime_uv/uv_disk.h"
#include "runtime_uv/uv_resolver.h"
#include "shoal/base/limits.h"
#include "shoal/wire/frame.h"
#include <netinet/in.h>

namespace shoal::runtime_uv {
namespace {

using runtime::ConnectionId;
using runtime::OutFrame;

// After stop(), connections get this long to write out what is queued before they are cut.
constexpr uint64_t kStopFlushMs = 2000;
// A connection's read buffer beyond this is freed once it holds no partial frame.
constexpr size_t kIdleReadBufferBytesMax = size_t{256} * 1024;
// Buffers per uv_write: a write gathers many small replies, well under the kernel's IOV_MAX.
constexpr size_t kWriteBuffersMax = 512;
constexpr int kListenBacklog = 511;
constexpr size_t kSendReadyBytes = limits::kConnectionSendQueueBytesMax / 2;
constexpr uint64_t kConnectTimeoutMs = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(runtime::kConnectTimeout).count());

Status uv_status(int error, std::string_view what) {
    return Status::unavailable(fmt::format("{}: {}", what, uv_strerror(error)));
}

std::string peer_name(const uv_tcp_t* tcp) {
    sockaddr_storage address{};
    int length = sizeof(address);
    if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "?";
    return host_port_of(*reinterpret_cast<const sockaddr*>(&address)).to_string();
}

struct UvConnection {
    uv_tcp_t tcp{};
    uv_connect_t connect_request{};  // Outbound only; live until the handle is closed.
    ConnectionId id{};
    std::string peer;
    uint64_t connect_deadline_ms = 0;  // Outbound, while `connecting`: uv_now() to give up at.
    wire::FrameDecoder decoder;
    std::vector<OutFrame> pending;  // Sent this turn; written by the check hook.
    size_t queued_bytes = 0;        // Pending plus handed to uv_write and not yet done.
    Status close_reason;
    bool closing = false;
    bool paused = false;
    bool notify_send_ready = false;
    bool frames_waiting = false;  // Whole frames buffered while paused.
    bool shutdown_when_flushed = false;
    bool connecting = false;  // Outbound and not yet established: nothing is read or written.
};

struct WriteRequest {
    uv_write_t request{};
    UvConnection* connection = nullptr;
    std::vector<OutFrame> frames;
    std::vector<uv_buf_t> buffers;
    size_t bytes = 0;
};

uv_buf_t buffer_of(ByteView bytes) {
    // libuv only reads from write buffers; its struct is not const-correct.
    return uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(bytes.data())),
                       static_cast<unsigned>(bytes.size()));
}

}  // namespace

struct UvRuntime::Loop final : public runtime::Network {
    Loop(UvRuntime& owner_runtime, spdlog::logger& logger) : owner(owner_runtime), log(logger) {
        SHOAL_ASSERT(uv_loop_init(&loop) == 0);
        loop.data = this;
        disk = std::make_unique<UvDisk>(loop);
    }

    ~Loop() override {
        // run() closes every handle before it returns; a loop that never ran (a start-up
        // failure) may still hold the listener or signal watchers.
        uv_walk(
                &loop,
                [](uv_handle_t* handle, void*) {
                    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
                },
                nullptr);
        uv_run(&loop, UV_RUN_DEFAULT);
        disk.reset();
        SHOAL_ASSERT(uv_loop_close(&loop) == 0);
    }

    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;
    Loop(Loop&&) = delete;
    Loop& operator=(Loop&&) = delete;

    // Network.
    void send(ConnectionId id, OutFrame frame) override;
    size_t send_queue_bytes(ConnectionId id) const override;
    void pause_receiving(ConnectionId id) override;
    void resume_receiving(ConnectionId id) override;
    void close(ConnectionId id) override;
    ConnectionId connect(const HostPort& to) override;
    void send_datagram(const HostPort& to, ByteView bytes) override { datagram.send(to, bytes); }
    runtime::DatagramStats datagram_stats() const override { return datagram.stats(); }

    UvConnection* find(ConnectionId id) const {
        auto found = connections.find(id);
        return found == connections.end() ? nullptr : found->second.get();
    }

    void on_new_connection(int status);
    void start_connect(UvConnection& connection, const SocketAddress& address);
    void on_connect_done(UvConnection& connection, int status);
    void expire_connects();
    void start_reading(UvConnection& connection);
    void on_read(UvConnection& connection, ssize_t bytes_read);
    void dispatch_frames(UvConnection& connection);
    void on_turn_end();
    void flush(UvConnection& connection);
    // False if the connection closed.
    bool write_directly(UvConnection& connection, size_t& written_bytes);
    void on_write_done(WriteRequest* write, int status);
    void close_connection(UvConnection& connection, Status reason);
    void on_connection_closed(UvConnection& connection);
    void begin_stop();
    void finish_stop_if_idle();

    UvRuntime& owner;
    spdlog::logger& log;
    uv_loop_t loop{};
    std::unique_ptr<UvDisk> disk;
    UvResolver resolver{loop};
    UvDatagram datagram{loop, resolver, log};
    uv_tcp_t listener{};
    uv_timer_t tick{};
    uv_check_t check{};
    uv_timer_t stop_timer{};
    uv_signal_t signal_interrupt{};
    uv_signal_t signal_terminate{};
    bool listening = false;
    bool signals_watched = false;
    bool stopping = false;
    bool stopped = false;
    runtime::Handler* handler = nullptr;
    std::function<void(int)> on_signal;
    std::map<ConnectionId, std::unique_ptr<UvConnection>> connections;
    std::vector<ConnectionId> dirty;    // Connections with pending frames or waiting frames.
    std::set<ConnectionId> connecting;  // Outbound connections not yet established.
    uint64_t connection_next = 1;
    std::vector<uv_buf_t> direct_buffers;  // write_directly's, kept to spare an allocation.
};

void UvRuntime::Loop::send(ConnectionId id, OutFrame frame) {
    UvConnection* connection = find(id);
    if (connection == nullptr || connection->closing) return;
    connection->queued_bytes += frame.size();
    if (connection->queued_bytes >= kSendReadyBytes) connection->notify_send_ready = true;
    if (connection->pending.empty()) dirty.push_back(id);
    connection->pending.push_back(std::move(frame));
}

size_t UvRuntime::Loop::send_queue_bytes(ConnectionId id) const {
    const UvConnection* connection = find(id);
    return connection == nullptr ? 0 : connection->queued_bytes;
}

void UvRuntime::Loop::pause_receiving(ConnectionId id) {
    UvConnection* connection = find(id);
    if (connection == nullptr || connection->closing || connection->paused) return;
    connection->paused = true;
    if (!connection->connecting) uv_read_stop(reinterpret_cast<uv_stream_t*>(&connection->tcp));
}

void UvRuntime::Loop::resume_receiving(ConnectionId id) {
    UvConnection* connection = find(id);
    if (connection == nullptr || connection->closing || !connection->paused) return;
    connection->paused = false;
    if (connection->connecting) return;  // Reading starts once it is established.
    // Frames that arrived before the pause are delivered on this turn's end, not inside
    // the caller's stack.
    if (connection->frames_waiting) dirty.push_back(id);
    start_reading(*connection);
}

void UvRuntime::Loop::start_reading(UvConnection& connection) {
    const int error = uv_read_start(
            reinterpret_cast<uv_stream_t*>(&connection.tcp),
            [](uv_handle_t* handle, size_t suggested_bytes, uv_buf_t* buffer) {
                auto* self = static_cast<UvConnection*>(handle->data);
                MutableByteView space = self->decoder.prepare(suggested_bytes);
                *buffer = uv_buf_init(reinterpret_cast<char*>(space.data()),
                                      static_cast<unsigned>(space.size()));
            },
            [](uv_stream_t* stream, ssize_t bytes_read, const uv_buf_t*) {
                auto* self = static_cast<UvConnection*>(stream->data);
                static_cast<Loop*>(stream->loop->data)->on_read(*self, bytes_read);
            });
    if (error != 0) close_connection(connection, uv_status(error, "read start"));
}

void UvRuntime::Loop::close(ConnectionId id) {
    UvConnection* connection = find(id);
    if (connection == nullptr) return;
    close_connection(*connection, Status::ok());
}

void UvRuntime::Loop::on_new_connection(int status) {
    if (status < 0) {
        log.warn("accept_failed reason=\"{}\"", uv_strerror(status));
        return;
    }
    auto connection = std::make_unique<UvConnection>();
    SHOAL_ASSERT(uv_tcp_init(&loop, &connection->tcp) == 0);
    connection->tcp.data = connection.get();
    auto* stream = reinterpret_cast<uv_stream_t*>(&connection->tcp);
    if (const int error = uv_accept(reinterpret_cast<uv_stream_t*>(&listener), stream); error) {
        log.warn("accept_failed reason=\"{}\"", uv_strerror(error));
        uv_close(reinterpret_cast<uv_handle_t*>(&connection->tcp),
                 [](uv_handle_t* handle) { delete static_cast<UvConnection*>(handle->data); });
        static_cast<void>(connection.release());  // Now owned by the close callback.
        return;
    }
    connection->id = ConnectionId{connection_next++};
    connection->peer = peer_name(&connection->tcp);
    uv_tcp_nodelay(&connection->tcp, 1);
    UvConnection& accepted = *connection;
    connections.emplace(accepted.id, std::move(connection));
    if (connections.size() > limits::kConnectionsMax || stopping) {
        log.warn("connection_refused peer={} connections={} stopping={}",
                 accepted.peer,
                 connections.size(),
                 stopping);
        accepted.closing = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&accepted.tcp), [](uv_handle_t* handle) {
            auto* self = static_cast<UvConnection*>(handle->data);
            auto* owner_loop = static_cast<Loop*>(handle->loop->data);
            owner_loop->connections.erase(self->id);
            owner_loop->finish_stop_if_idle();
        });
        return;
    }
    handler->on_accepted(accepted.id, accepted.peer);
    accepted.paused = true;
    resume_receiving(accepted.id);
}

// Every failure, even one known here, goes through close_connection(): its uv_close callback
// is what reports on_closed(), always on a later turn.
ConnectionId UvRuntime::Loop::connect(const HostPort& to) {
    auto owned = std::make_unique<UvConnection>();
    SHOAL_ASSERT(uv_tcp_init(&loop, &owned->tcp) == 0);
    owned->tcp.data = owned.get();
    owned->id = ConnectionId{connection_next++};
    owned->peer = to.to_string();
    owned->connecting = true;
    owned->connect_deadline_ms = uv_now(&loop) + kConnectTimeoutMs;
    UvConnection& connection = *owned;
    connections.emplace(connection.id, std::move(owned));
    connecting.insert(connection.id);
    if (to.host.empty() || to.port == 0) {
        close_connection(connection,
                         Status::invalid_argument(fmt::format("connect to \"{}\": no host or port",
                                                              connection.peer)));
    } else if (stopping) {
        close_connection(connection, Status::unavailable("connect: the node is stopping"));
    } else if (connections.size() > limits::kConnectionsMax) {
        close_connection(
                connection,
                Status::resource_exhausted(fmt::format("connect to {}: {} connections are open",
                                                       connection.peer,
                                                       limits::kConnectionsMax)));
    } else if (std::optional<SocketAddress> address = resolver.find(to)) {
        start_connect(connection, *address);
    } else {
        const ConnectionId id = connection.id;
        const bool waiting = resolver.resolve(to, [this, id](Result<SocketAddress> resolved) {
            UvConnection* later = find(id);
            if (later == nullptr || later->closing) return;  // Closed or timed out meanwhile.
            if (!resolved.is_ok()) {
                close_connection(*later, resolved.status());
                return;
            }
            start_connect(*later, resolved.value());
        });
        if (!waiting) {
            close_connection(
                    connection,
                    Status::unavailable(fmt::format(
                            "connect to {}: too many host lookups in flight", connection.peer)));
        }
    }
    return connection.id;
}

void UvRuntime::Loop::start_connect(UvConnection& connection, const SocketAddress& address) {
    SHOAL_ASSERT(connection.connecting);
    const int error = uv_tcp_connect(
            &connection.connect_request,
            &connection.tcp,
            address.get(),
            [](uv_connect_t* request, int status) {
                auto* self = static_cast<UvConnection*>(request->handle->data);
                static_cast<Loop*>(request->handle->loop->data)->on_connect_done(*self, status);
            });
    if (error != 0) {
        close_connection(connection,
                         uv_status(error, fmt::format("connect to {}", connection.peer)));
    }
}

void UvRuntime::Loop::on_connect_done(UvConnection& connection, int status) {
    if (connection.closing) return;  // Cancelled (UV_ECANCELED): the close reports why.
    SHOAL_ASSERT(connection.connecting);
    if (status < 0) {
        close_connection(connection,
                         uv_status(status, fmt::format("connect to {}", connection.peer)));
        return;
    }
    connection.connecting = false;
    connecting.erase(connection.id);
    uv_tcp_nodelay(&connection.tcp, 1);
    const ConnectionId id = connection.id;
    handler->on_connected(id);
    // The handler may have closed or paused it; frames sent so far leave at this turn's end.
    UvConnection* established = find(id);
    if (established == nullptr || established->closing) return;
    if (!established->pending.empty()) dirty.push_back(id);
    if (!established->paused) start_reading(*established);
}

void UvRuntime::Loop::expire_connects() {
    if (connecting.empty()) return;
    const uint64_t now_ms = uv_now(&loop);
    const std::vector<ConnectionId> waiting(connecting.begin(), connecting.end());
    for (ConnectionId id : waiting) {
        UvConnection* connection = find(id);
        if (connection == nullptr || connection->closing) continue;
        if (connection->connect_deadline_ms > now_ms) continue;
        close_connection(*connection,
                         Status::timeout(fmt::format("connect to {}: no answer within {} ms",
                                                     connection->peer,
                                                     kConnectTimeoutMs)));
    }
}

void UvRuntime::Loop::on_read(UvConnection& connection, ssize_t bytes_read) {
    connection.decoder.commit(bytes_read > 0 ? static_cast<size_t>(bytes_read) : 0);
    if (bytes_read == UV_EOF) {
        close_connection(connection, Status::ok());
        return;
    }
    if (bytes_read < 0) {
        close_connection(connection, uv_status(static_cast<int>(bytes_read), "read"));
        return;
    }
    dispatch_frames(connection);
}

void UvRuntime::Loop::dispatch_frames(UvConnection& connection) {
    connection.frames_waiting = false;
    while (!connection.closing) {
        if (connection.paused) {
            connection.frames_waiting = true;
            return;
        }
        Result<std::optional<wire::Frame>> next = connection.decoder.next();
        if (!next.is_ok()) {
            log.warn("frame_rejected connection={} peer={} reason=\"{}\"",
                     to_u64(connection.id),
                     connection.peer,
                     next.status().message());
            close_connection(connection, next.status());
            return;
        }
        if (!next.value().has_value()) {
            connection.decoder.shrink_if_idle(kIdleReadBufferBytesMax);
            return;
        }
        const wire::Frame& frame = *next.value();
        const ByteView whole(frame.body.data() - wire::kFrameHeaderBytes,
                             wire::kFrameHeaderBytes + frame.body.size());
        handler->on_frame(connection.id, whole);
    }
}

void UvRuntime::Loop::on_turn_end() {
    handler->on_turn_end();
    // Swapped out: flushing can run callbacks that send again, onto a fresh list.
    std::vector<ConnectionId> work;
    work.swap(dirty);
    for (ConnectionId id : work) {
        UvConnection* connection = find(id);
        if (connection == nullptr || connection->closing || connection->connecting) continue;
        if (connection->frames_waiting && !connection->paused) dispatch_frames(*connection);
        if (!connection->closing) flush(*connection);
    }
    if (stopping) {
        for (auto& [id, connection] : connections) {
            if (connection->closing || connection->shutdown_when_flushed) continue;
            connection->shutdown_when_flushed = true;
            auto* request = new uv_shutdown_t{};
            const int error =
                    uv_shutdown(request,
                                reinterpret_cast<uv_stream_t*>(&connection->tcp),
                                [](uv_shutdown_t* done, int) {
                                    auto* self = static_cast<UvConnection*>(done->handle->data);
                                    delete done;
                                    static_cast<Loop*>(self->tcp.loop->data)
                                            ->close_connection(*self, Status::ok());
                                });
            if (error != 0) {
                delete request;
                close_connection(*connection, Status::ok());
            }
        }
    }
}

// Most turns' frames fit in the socket's buffer at once: written with uv_try_write they need
// no request, no callback and no change to the poller (a uv_write that completes at once still
// costs an epoll_ctl on the next poll). Whole frames written leave `pending`; `written_bytes`
// is how much of the first one left went out.
bool UvRuntime::Loop::write_directly(UvConnection& connection, size_t& written_bytes) {
    written_bytes = 0;
    // A connection waiting to tell its handler of room is left to on_write_done, which does.
    if (connection.pending.empty() || connection.notify_send_ready) return true;
    direct_buffers.clear();
    size_t bytes = 0;
    for (const OutFrame& frame : connection.pending) {
        if (direct_buffers.size() + 2 > kWriteBuffersMax) break;
        direct_buffers.push_back(buffer_of(frame.head.view()));
        if (!frame.payload.empty()) direct_buffers.push_back(buffer_of(frame.payload));
        bytes += frame.size();
    }
    const int result = uv_try_write(reinterpret_cast<uv_stream_t*>(&connection.tcp),
                                    direct_buffers.data(),
                                    static_cast<unsigned>(direct_buffers.size()));
    // EAGAIN: the socket is full, or a queued write must go first.
    if (result == UV_EAGAIN) return true;
    if (result < 0) {
        close_connection(connection, uv_status(result, "write"));
        return false;
    }
    size_t left = static_cast<size_t>(result);
    SHOAL_ASSERT(left <= bytes && left <= connection.queued_bytes);
    connection.queued_bytes -= left;
    size_t done = 0;
    while (done < connection.pending.size() && connection.pending[done].size() <= left) {
        left -= connection.pending[done].size();
        done += 1;
    }
    connection.pending.erase(connection.pending.begin(),
                             connection.pending.begin() + static_cast<ptrdiff_t>(done));
    written_bytes = left;
    return true;
}

void UvRuntime::Loop::flush(UvConnection& connection) {
    size_t skip = 0;  // Of the first pending frame, already written.
    if (!write_directly(connection, skip)) return;
    while (!connection.pending.empty()) {
        auto* write = new WriteRequest{};
        write->connection = &connection;
        size_t taken = 0;
        const auto add = [&](ByteView bytes) {
            const size_t skipped = std::min(skip, bytes.size());
            skip -= skipped;
            if (skipped < bytes.size()) write->buffers.push_back(buffer_of(bytes.subspan(skipped)));
            write->bytes += bytes.size() - skipped;
        };
        for (OutFrame& frame : connection.pending) {
            if (write->buffers.size() + 2 > kWriteBuffersMax) break;
            add(frame.head.view());
            if (!frame.payload.empty()) add(frame.payload);
            taken += 1;
        }
        write->frames.reserve(taken);
        for (size_t index = 0; index < taken; index++) {
            write->frames.push_back(std::move(connection.pending[index]));
        }
        connection.pending.erase(connection.pending.begin(),
                                 connection.pending.begin() + static_cast<ptrdiff_t>(taken));
        const int error = uv_write(
                &write->request,
                reinterpret_cast<uv_stream_t*>(&connection.tcp),
                write->buffers.data(),
                static_cast<unsigned>(write->buffers.size()),
                [](uv_write_t* request, int status) {
                    auto* done = reinterpret_cast<WriteRequest*>(request);
                    static_cast<Loop*>(request->handle->loop->data)->on_write_done(done, status);
                });
        if (error != 0) {
            connection.queued_bytes -= write->bytes;
            delete write;
            close_connection(connection, uv_status(error, "write"));
            return;
        }
    }
}

void UvRuntime::Loop::on_write_done(WriteRequest* write, int status) {
    UvConnection& connection = *write->connection;
    SHOAL_ASSERT(connection.queued_bytes >= write->bytes);
    connection.queued_bytes -= write->bytes;
    delete write;  // Releases the payloads it kept alive.
    if (status < 0) {
        if (status != UV_ECANCELED) close_connection(connection, uv_status(status, "write"));
        return;
    }
    if (connection.notify_send_ready && connection.queued_bytes < kSendReadyBytes &&
        !connection.closing) {
        connection.notify_send_ready = false;
        handler->on_send_ready(connection.id);
        if (!connection.pending.empty()) dirty.push_back(connection.id);
    }
}

void UvRuntime::Loop::close_connection(UvConnection& connection, Status reason) {
    if (connection.closing) return;
    connection.closing = true;
    connection.close_reason = std::move(reason);
    if (connection.connecting) connecting.erase(connection.id);
    connection.queued_bytes -= std::min(connection.queued_bytes, [&] {
        size_t bytes = 0;
        for (const OutFrame& frame : connection.pending) {
            bytes += frame.size();
        }
        return bytes;
    }());
    connection.pending.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&connection.tcp), [](uv_handle_t* handle) {
        auto* self = static_cast<UvConnection*>(handle->data);
        static_cast<Loop*>(handle->loop->data)->on_connection_closed(*self);
    });
}

void UvRuntime::Loop::on_connection_closed(UvConnection& connection) {
    const ConnectionId id = connection.id;
    const Status reason = connection.close_reason;
    connections.erase(id);  // Destroys `connection`.
    // No handler only when the loop is torn down without having run.
    if (handler != nullptr) handler->on_closed(id, reason);
    finish_stop_if_idle();
}

void UvRuntime::Loop::begin_stop() {
    if (stopping) return;
    stopping = true;
    log.info("runtime_stopping connections={}", connections.size());
    if (listening) {
        uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
        listening = false;
    }
    const std::vector<ConnectionId> outbound(connecting.begin(), connecting.end());
    for (ConnectionId id : outbound) {
        UvConnection* connection = find(id);
        SHOAL_ASSERT(connection != nullptr);  // `connecting` holds only live connections.
        close_connection(*connection, Status::unavailable("connect: the node stopped"));
    }
    SHOAL_ASSERT(uv_timer_init(&loop, &stop_timer) == 0);
    stop_timer.data = this;
    uv_timer_start(
            &stop_timer,
            [](uv_timer_t* timer) {
                auto* self = static_cast<Loop*>(timer->data);
                for (auto& [id, connection] : self->connections) {
                    self->close_connection(*connection, Status::unavailable("the node stopped"));
                }
            },
            kStopFlushMs,
            0);
    // Ensures the check hook runs to start the flush even on an otherwise idle loop.
    uv_check_start(&check, [](uv_check_t* hook) { static_cast<Loop*>(hook->data)->on_turn_end(); });
    finish_stop_if_idle();
}

void UvRuntime::Loop::finish_stop_if_idle() {
    if (!stopping || stopped || !connections.empty()) return;
    stopped = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&check), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_timer), nullptr);
    datagram.close();
    if (signals_watched) {
        uv_close(reinterpret_cast<uv_handle_t*>(&signal_interrupt), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&signal_terminate), nullptr);
    }
    log.info("runtime_stopped");
}

UvRuntime::UvRuntime(spdlog::logger& log) : loop_(std::make_unique<Loop>(*this, log)) {
    if (uv_random(nullptr, nullptr, &seed_, sizeof(seed_), 0, nullptr) != 0) {
        seed_ = uv_hrtime();  // Randomness only spreads ids apart; a weak seed is no danger.
    }
}

UvRuntime::~UvRuntime() = default;

Status UvRuntime::listen(const HostPort& address) {
    SHOAL_ASSERT(!loop_->listening);
    uv_getaddrinfo_t resolve{};
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    const std::string port = std::to_string(address.port);
    int error = uv_getaddrinfo(
            &loop_->loop, &resolve, nullptr, address.host.c_str(), port.c_str(), &hints);
    if (error != 0) return uv_status(error, fmt::format("resolve {}", address.to_string()));
    SHOAL_ASSERT(uv_tcp_init(&loop_->loop, &loop_->listener) == 0);
    loop_->listener.data = loop_.get();
    loop_->listening = true;
    error = uv_tcp_bind(&loop_->listener, resolve.addrinfo->ai_addr, 0);
    uv_freeaddrinfo(resolve.addrinfo);
    if (error == 0) {
        error = uv_listen(reinterpret_cast<uv_stream_t*>(&loop_->listener),
                          kListenBacklog,
                          [](uv_stream_t* server, int status) {
                              static_cast<Loop*>(server->data)->on_new_connection(status);
                          });
    }
    if (error != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&loop_->listener), nullptr);
        loop_->listening = false;
        return uv_status(error, fmt::format("listen on {}", address.to_string()));
    }
    return Status::ok();
}

Status UvRuntime::bind_datagram(const HostPort& address) {
    Loop* loop = loop_.get();
    return loop_->datagram.bind(address, [loop](const HostPort& from, ByteView bytes) {
        if (loop->handler != nullptr && !loop->stopped) loop->handler->on_datagram(from, bytes);
    });
}

uint16_t UvRuntime::datagram_port() const {
    return loop_->datagram.port();
}

uint16_t UvRuntime::listening_port() const {
    SHOAL_ASSERT(loop_->listening);
    sockaddr_storage address{};
    int length = sizeof(address);
    SHOAL_ASSERT(uv_tcp_getsockname(
                         &loop_->listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    if (address.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
    }
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

void UvRuntime::watch_signals(std::function<void(int signal)> on_signal) {
    SHOAL_ASSERT(!loop_->signals_watched);
    loop_->on_signal = std::move(on_signal);
    loop_->signals_watched = true;
    for (auto [handle, number] : {std::pair{&loop_->signal_interrupt, SIGINT},
                                  std::pair{&loop_->signal_terminate, SIGTERM}}) {
        SHOAL_ASSERT(uv_signal_init(&loop_->loop, handle) == 0);
        handle->data = loop_.get();
        SHOAL_ASSERT(uv_signal_start(
                             handle,
                             [](uv_signal_t* signal, int signal_number) {
                                 static_cast<Loop*>(signal->data)->on_signal(signal_number);
                             },
                             number) == 0);
    }
}

void UvRuntime::run(runtime::Handler& handler) {
    SHOAL_ASSERT(loop_->handler == nullptr);
    loop_->handler = &handler;
    SHOAL_ASSERT(uv_timer_init(&loop_->loop, &loop_->tick) == 0);
    loop_->tick.data = loop_.get();
    const auto tick_ms = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(kTickDuration).count());
    uv_timer_start(
            &loop_->tick,
            [](uv_timer_t* timer) {
                auto* self = static_cast<Loop*>(timer->data);
                self->expire_connects();
                self->handler->on_tick();
            },
            tick_ms,
            tick_ms);
    SHOAL_ASSERT(uv_check_init(&loop_->loop, &loop_->check) == 0);
    loop_->check.data = loop_.get();
    uv_check_start(&loop_->check,
                   [](uv_check_t* hook) { static_cast<Loop*>(hook->data)->on_turn_end(); });
    uv_run(&loop_->loop, UV_RUN_DEFAULT);
    SHOAL_ASSERT(loop_->stopped);
}

Instant UvRuntime::now() const {
    return Instant(Duration(uv_hrtime()));
}

uint64_t UvRuntime::wall_clock_ms() const {
    uv_timeval64_t time{};
    SHOAL_ASSERT(uv_gettimeofday(&time) == 0);
    return static_cast<uint64_t>(time.tv_sec) * 1000 + static_cast<uint64_t>(time.tv_usec) / 1000;
}

runtime::Network& UvRuntime::network() {
    return *loop_;
}

runtime::Disk& UvRuntime::disk() {
    return *loop_->disk;
}

void UvRuntime::stop() {
    loop_->begin_stop();
}

}  // namespace shoal::runtime_uv

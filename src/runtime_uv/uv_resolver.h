// UvResolver: from HostPort to socket address, for outbound connections and datagrams.
//
// A numeric address (127.0.0.5, ::1) is parsed on the spot. A host name (a docker-compose
// service name) is resolved by getaddrinfo on libuv's thread pool, and the answer is kept for
// kAnswerTtlMs so that datagrams to a named peer do not each cost a lookup; a stale answer is
// still used while a fresh lookup runs in the background, so a DNS blip does not cut a peer
// off. An IPv4 answer is preferred to an IPv6 one. Lookups share the thread pool with the disk, so
// few run at once, and few callers may wait on each; past either bound resolve() refuses, and the
// caller fails its operation.
//
// Threading: the loop thread only. Private to runtime_uv.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <uv.h>

#include "shoal/base/address.h"
#include "shoal/base/status.h"

namespace shoal::runtime_uv {

struct SocketAddress {
    sockaddr_storage storage{};

    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// The numeric host and the port of an IPv4 or IPv6 socket address.
HostPort host_port_of(const sockaddr& address);

// `to` as a socket address if its host is a numeric IPv4 or IPv6 address.
std::optional<SocketAddress> parse_numeric(const HostPort& to);

class UvResolver {
public:
    using Done = std::function<void(Result<SocketAddress> address)>;

    static constexpr uint64_t kAnswerTtlMs = 30'000;
    static constexpr size_t kAnswersMax = 1024;
    static constexpr size_t kLookupsInFlightMax = 2;  // Of libuv's 4 pool threads.
    static constexpr size_t kWaitersPerLookupMax = 64;

    // `loop` must outlive the resolver, and must have run until every lookup finished before
    // the resolver is destroyed.
    explicit UvResolver(uv_loop_t& loop) : loop_(loop) {}
    ~UvResolver();
    UvResolver(const UvResolver&) = delete;
    UvResolver& operator=(const UvResolver&) = delete;
    UvResolver(UvResolver&&) = delete;
    UvResolver& operator=(UvResolver&&) = delete;

    // The address of `to` now, if its host is numeric or an answer for it is cached. A stale
    // answer is returned too, and a fresh lookup starts in the background.
    std::optional<SocketAddress> find(const HostPort& to);

    // Looks `to` up and calls `done` on a later turn with its address, or kUnavailable with
    // the resolver's reason. Returns false, and never calls `done`, when too many lookups or
    // waiters are pending.
    [[nodiscard]] bool resolve(const HostPort& to, Done done);

private:
    struct Answer {
        SocketAddress address;  // Port 0; each use sets its own.
        uint64_t resolved_ms = 0;
    };
    struct Lookup {
        uv_getaddrinfo_t request{};
        UvResolver* owner = nullptr;
        std::string host;
        std::vector<std::pair<uint16_t, Done>> waiting;  // Port and callback.
    };

    Lookup* start_lookup(const std::string& host);
    void lookup_done(Lookup* lookup, int status, addrinfo* result);

    uv_loop_t& loop_;
    std::map<std::string, Answer> answers_;
    std::map<std::string, Lookup*> lookups_;  // In flight, by host; each owns itself.
};

}  // namespace shoal::runtime_uv

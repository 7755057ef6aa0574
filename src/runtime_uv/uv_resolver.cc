#include "runtime_uv/uv_resolver.h"

#include <cstring>

#include <fmt/format.h>

#include <netinet/in.h>

namespace shoal::runtime_uv {
namespace {

void set_port(SocketAddress& address, uint16_t port) {
    if (address.storage.ss_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port = htons(port);
    } else {
        reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port = htons(port);
    }
}

}  // namespace

HostPort host_port_of(const sockaddr& address) {
    char host[INET6_ADDRSTRLEN] = {};
    if (address.sa_family == AF_INET6) {
        const auto& ipv6 = reinterpret_cast<const sockaddr_in6&>(address);
        uv_ip6_name(&ipv6, host, sizeof(host));
        return HostPort{.host = host, .port = ntohs(ipv6.sin6_port)};
    }
    const auto& ipv4 = reinterpret_cast<const sockaddr_in&>(address);
    uv_ip4_name(&ipv4, host, sizeof(host));
    return HostPort{.host = host, .port = ntohs(ipv4.sin_port)};
}

std::optional<SocketAddress> parse_numeric(const HostPort& to) {
    SocketAddress address;
    if (uv_ip4_addr(to.host.c_str(), to.port, reinterpret_cast<sockaddr_in*>(&address.storage)) ==
        0) {
        return address;
    }
    if (uv_ip6_addr(to.host.c_str(), to.port, reinterpret_cast<sockaddr_in6*>(&address.storage)) ==
        0) {
        return address;
    }
    return std::nullopt;
}

UvResolver::~UvResolver() {
    SHOAL_ASSERT(lookups_.empty());
}

std::optional<SocketAddress> UvResolver::find(const HostPort& to) {
    if (std::optional<SocketAddress> numeric = parse_numeric(to)) return numeric;
    auto found = answers_.find(to.host);
    if (found == answers_.end()) return std::nullopt;
    SocketAddress address = found->second.address;
    if (uv_now(&loop_) - found->second.resolved_ms >= kAnswerTtlMs) {
        static_cast<void>(start_lookup(to.host));  // If none can start now, a later use retries.
    }
    set_port(address, to.port);
    return address;
}

bool UvResolver::resolve(const HostPort& to, Done done) {
    Lookup* lookup = start_lookup(to.host);
    if (lookup == nullptr || lookup->waiting.size() >= kWaitersPerLookupMax) return false;
    lookup->waiting.emplace_back(to.port, std::move(done));
    return true;
}

UvResolver::Lookup* UvResolver::start_lookup(const std::string& host) {
    if (auto found = lookups_.find(host); found != lookups_.end()) return found->second;
    if (lookups_.size() >= kLookupsInFlightMax) return nullptr;
    auto* lookup = new Lookup{};
    lookup->owner = this;
    lookup->host = host;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;  // One entry per address; UDP uses the same addresses.
    hints.ai_flags = AI_ADDRCONFIG;
    const int error = uv_getaddrinfo(
            &loop_,
            &lookup->request,
            [](uv_getaddrinfo_t* request, int status, addrinfo* result) {
                auto* done = reinterpret_cast<Lookup*>(request);
                done->owner->lookup_done(done, status, result);
            },
            lookup->host.c_str(),
            nullptr,
            &hints);
    if (error != 0) {
        delete lookup;
        return nullptr;
    }
    lookups_.emplace(host, lookup);
    return lookup;
}

void UvResolver::lookup_done(Lookup* lookup, int status, addrinfo* result) {
    lookups_.erase(lookup->host);
    // IPv4 first: docker networks are IPv4, and a socket bound to an IPv4 address cannot send
    // to an IPv6 one ("localhost" often lists ::1 first).
    const addrinfo* chosen = nullptr;
    for (const addrinfo* entry = status == 0 ? result : nullptr; entry != nullptr;
         entry = entry->ai_next) {
        if (entry->ai_addrlen > sizeof(sockaddr_storage)) continue;
        if (chosen == nullptr || (entry->ai_family == AF_INET && chosen->ai_family != AF_INET)) {
            chosen = entry;
        }
    }
    std::optional<SocketAddress> address;
    if (chosen != nullptr) {
        address.emplace();
        std::memcpy(&address->storage, chosen->ai_addr, chosen->ai_addrlen);
    }
    uv_freeaddrinfo(result);
    const std::string reason = fmt::format("resolve {}: {}",
                                           lookup->host,
                                           status == 0 ? "no usable address" : uv_strerror(status));
    if (address.has_value()) {
        if (!answers_.contains(lookup->host) && answers_.size() >= kAnswersMax) {
            answers_.erase(answers_.begin());  // Any one: the bound matters, not the choice.
        }
        answers_[lookup->host] = Answer{.address = *address, .resolved_ms = uv_now(&loop_)};
    }
    // A failed refresh keeps the stale answer: the next use tries again.
    std::vector<std::pair<uint16_t, Done>> waiting = std::move(lookup->waiting);
    delete lookup;
    for (auto& [port, done] : waiting) {
        if (!address.has_value()) {
            done(Status::unavailable(reason));
            continue;
        }
        SocketAddress with_port = *address;
        set_port(with_port, port);
        done(with_port);
    }
}

}  // namespace shoal::runtime_uv

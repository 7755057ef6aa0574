#include "shoal/base/address.h"

#include <charconv>

#include <fmt/format.h>

namespace shoal {

std::string HostPort::to_string() const {
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

Result<HostPort> parse_host_port(std::string_view text, PortZero port_zero) {
    const auto invalid = [&](std::string_view why) {
        return Status::invalid_argument(
                fmt::format("address \"{}\" is not HOST:PORT: {}", text, why));
    };
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return invalid("no port");
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (host.starts_with('[')) {
        if (!host.ends_with(']')) return invalid("unbalanced brackets");
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
        return invalid("an IPv6 host needs brackets, as in [::1]:7400");
    }
    if (host.empty()) return invalid("no host");
    unsigned port = 0;
    const auto [end, error] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    const unsigned port_min = port_zero == PortZero::kAllowed ? 0 : 1;
    if (error != std::errc() || end != port_text.data() + port_text.size() || port < port_min ||
        port > 65535) {
        return invalid(port_zero == PortZero::kAllowed
                               ? "the port must be a number in 0..65535 (0: any free port)"
                               : "the port must be a number in 1..65535");
    }
    return HostPort{.host = std::string(host), .port = static_cast<uint16_t>(port)};
}

}  // namespace shoal

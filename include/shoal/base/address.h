// Network addresses as users write them: "host:port", "[v6-host]:port".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shoal/base/status.h"

namespace shoal {

struct HostPort {
    std::string host;
    uint16_t port = 0;

    std::string to_string() const;
};

// Whether port 0 ("any free port", for listening) is accepted.
enum class PortZero : uint8_t { kRejected, kAllowed };

// Parses "host:port" or "[host]:port" with a port in 1..65535 (or 0 if allowed);
// kInvalidArgument otherwise, with a message that quotes the input.
Result<HostPort> parse_host_port(std::string_view text, PortZero port_zero = PortZero::kRejected);

}  // namespace shoal

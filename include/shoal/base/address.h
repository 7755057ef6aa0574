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

// Parses "host:port" or "[host]:port" with a port in 1..65535; kInvalidArgument otherwise,
// with a message that quotes the input.
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace shoal

// Goal: addresses parse as users write them (host:port, [v6]:port) and print back the same
// way; anything ambiguous or out of range is refused with a message that quotes the input.
//
// Method: table-driven accepted and rejected inputs, and a print-parse round trip.
#include "shoal/base/address.h"

#include <string_view>

#include <catch2/catch.hpp>

namespace shoal {
namespace {

TEST_CASE("address: host and port parse, with brackets for IPv6", "[unit][address]") {
    struct Case {
        std::string_view text;
        std::string_view host;
        uint16_t port;
    };
    const Case cases[] = {
            {"127.0.0.1:7400", "127.0.0.1", 7400},
            {"node-1.example:1", "node-1.example", 1},
            {"[::1]:65535", "::1", 65535},
            {"[fe80::1%eth0]:80", "fe80::1%eth0", 80},
    };
    for (const Case& expected : cases) {
        CAPTURE(expected.text);
        const Result<HostPort> parsed = parse_host_port(expected.text);
        REQUIRE(parsed.is_ok());
        CHECK(parsed.value().host == expected.host);
        CHECK(parsed.value().port == expected.port);
        CHECK(parsed.value().to_string() == expected.text);
    }
}

TEST_CASE("address: malformed addresses are refused", "[unit][address]") {
    const std::string_view cases[] = {
            "",
            "localhost",
            ":7400",
            "host:",
            "host:0",
            "host:65536",
            "host:80x",
            "::1:7400",
            "[::1:7400",
            "[]:7400",
    };
    for (const std::string_view text : cases) {
        CAPTURE(text);
        const Result<HostPort> parsed = parse_host_port(text);
        REQUIRE_FALSE(parsed.is_ok());
        CHECK(parsed.status().code() == Code::kInvalidArgument);
        CHECK(parsed.status().message().find(std::string(text)) != std::string::npos);
    }
}

}  // namespace
}  // namespace shoal

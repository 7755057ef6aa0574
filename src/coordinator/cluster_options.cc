#include "shoal/coordinator/cluster_options.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "shoal/base/limits.h"
#include "shoal/coordinator/get_operation.h"
#include "shoal/coordinator/put_operation.h"

namespace shoal::coordinator {
namespace {

bool parse_number(std::string_view text, uint32_t& value) {
    const char* end = text.data() + text.size();
    auto [ptr, error] = std::from_chars(text.data(), end, value);
    return error == std::errc() && ptr == end && !text.empty();
}

Status bad_redundancy(std::string_view text, std::string_view why) {
    return Status::invalid_argument(
            fmt::format("redundancy \"{}\": {} (use \"ec:K+M\" or \"replicas:N\")", text, why));
}

}  // namespace

Result<object::Scheme> parse_redundancy(std::string_view text) {
    uint32_t k = 0;
    uint32_t m = 0;
    if (text.starts_with("replicas:")) {
        uint32_t copies = 0;
        if (!parse_number(text.substr(9), copies) || copies == 0) {
            return bad_redundancy(text, "the copy count is not a positive number");
        }
        k = 1;
        m = copies - 1;
    } else {
        const std::string_view code = text.starts_with("ec:") ? text.substr(3) : text;
        const size_t plus = code.find('+');
        if (plus == std::string_view::npos || !parse_number(code.substr(0, plus), k) ||
            !parse_number(code.substr(plus + 1), m)) {
            return bad_redundancy(text, "not a code");
        }
    }
    if (k == 0 || k + m > object::kChunksPerStripeMax) {
        return bad_redundancy(text,
                              fmt::format("k must be at least 1 and k + m at most {}",
                                          object::kChunksPerStripeMax));
    }
    const object::Scheme scheme{.k = static_cast<uint8_t>(k), .m = static_cast<uint8_t>(m)};
    SHOAL_TRY(object::check_scheme(scheme));
    return scheme;
}

std::string redundancy_name(object::Scheme scheme) {
    if (scheme.k == 1) return fmt::format("replicas:{}", scheme.m + 1);
    return fmt::format("ec:{}+{}", scheme.k, scheme.m);
}

uint32_t stripe_bytes_for(object::Scheme scheme, uint32_t stripe_bytes) {
    const uint64_t fitting = uint64_t{limits::kDataFrameBytesMax} * scheme.k;
    return static_cast<uint32_t>(
            std::max<uint64_t>(object::kStripeBytesMin, std::min<uint64_t>(stripe_bytes, fitting)));
}

uint32_t gets_active_max(const ClusterOptions& options) {
    const uint64_t per_get = uint64_t{GetOperation::kStripesAheadMax + 1} *
                             stripe_bytes_for(options.scheme, options.stripe_bytes);
    return static_cast<uint32_t>(std::clamp<uint64_t>(
            options.get_buffer_bytes / per_get, 2, limits::kConnectionRequestsMax));
}

uint32_t puts_active_max(const ClusterOptions& options) {
    const uint64_t stripe_bytes = stripe_bytes_for(options.scheme, options.stripe_bytes);
    const uint64_t encoded_bytes = stripe_bytes * options.scheme.chunk_count() / options.scheme.k;
    const uint64_t per_put = PutOperation::kStripesInFlightMax * encoded_bytes + stripe_bytes;
    return static_cast<uint32_t>(std::clamp<uint64_t>(
            options.put_buffer_bytes / per_put, 2, limits::kConnectionRequestsMax));
}

Status ClusterOptions::validate() const {
    if (partitions == 0 || partitions > placement::kPartitionCountMax) {
        return Status::invalid_argument(fmt::format("cluster.partitions: {} is not in 1..{}",
                                                    partitions,
                                                    placement::kPartitionCountMax));
    }
    if (Status status = object::check_scheme(scheme); !status.is_ok()) {
        return Status::invalid_argument(fmt::format("cluster.redundancy: {}", status.message()));
    }
    if (Status status = object::check_stripe_bytes(stripe_bytes); !status.is_ok()) {
        return Status::invalid_argument(fmt::format("cluster.stripe_bytes: {}", status.message()));
    }
    if (inline_bytes_max > object::kInlineBytesMax) {
        return Status::invalid_argument(fmt::format(
                "cluster.inline_bytes: {} is over {}", inline_bytes_max, object::kInlineBytesMax));
    }
    if (peer_timeout_ticks == 0) {
        return Status::invalid_argument("cluster.peer_timeout_ms: must be at least one tick");
    }
    return Status::ok();
}

}  // namespace shoal::coordinator

// ClusterOptions: the settings every node of a cluster must agree on ([cluster] in the TOML).
//
// The partition count is fixed at cluster creation; the default redundancy, stripe size and
// inline threshold apply to puts that do not ask for their own. The manifest's owners are the
// default code's k + m, so nodes that disagree on it would look for manifests in different
// places: configs/ keeps them alike, and `shoal status` shows each node's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shoal/base/status.h"
#include "shoal/object/layout.h"
#include "shoal/object/limits.h"
#include "shoal/placement/partition.h"

namespace shoal::coordinator {

struct ClusterOptions {
    uint32_t partitions = placement::kPartitionCountDefault;  // cluster.partitions
    object::Scheme scheme{.k = 4, .m = 2};                    // cluster.redundancy: "ec:4+2"
    uint32_t stripe_bytes = 4 << 20;                          // cluster.stripe_bytes: 4 MiB
    uint32_t inline_bytes_max = object::kInlineBytesMax;      // cluster.inline_bytes
    // A peer call with no answer within this long fails with kTimeout (cluster.peer_timeout_ms).
    uint32_t peer_timeout_ticks = 500;
    // The stripes a node's gets may hold at once: over it, new gets wait their turn.
    uint64_t get_buffer_bytes = uint64_t{256} << 20;
    // The same for puts' stripes, encoded: over it, new puts wait their turn.
    uint64_t put_buffer_bytes = uint64_t{256} << 20;

    // kInvalidArgument naming the field: a partition count out of range, a code the object
    // format refuses, a stripe size out of range or whose chunks under the default code would
    // not fit one message, an inline threshold over the format's.
    Status validate() const;
};

// "ec:K+M" (or just "K+M") for Reed-Solomon with K data and M parity chunks, "replicas:N" for
// N whole copies (K = 1, M = N - 1). kInvalidArgument quoting the text otherwise.
Result<object::Scheme> parse_redundancy(std::string_view text);
// The inverse: "ec:4+2", or "replicas:3" for K = 1.
std::string redundancy_name(object::Scheme scheme);

// The largest stripe whose chunks under `scheme` fit one message: stripe_bytes is cut to this
// for codes with few data chunks (replication sends whole 1 MiB stripes, not 4 MiB ones).
uint32_t stripe_bytes_for(object::Scheme scheme, uint32_t stripe_bytes);

// How many gets a node runs at once: each holds up to GetOperation::kStripesAheadMax stripes
// fetched and about one more in its client's send queue. At least two, so gets always flow.
uint32_t gets_active_max(const ClusterOptions& options);

// How many puts a node runs at once: each holds up to PutOperation::kStripesInFlightMax stripes
// encoded (data and parity) and one filling. At least two.
uint32_t puts_active_max(const ClusterOptions& options);

}  // namespace shoal::coordinator

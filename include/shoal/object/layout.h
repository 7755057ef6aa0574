// Stripe layout: how an object's bytes are cut into stripes and each stripe into chunks.
//
// A striped object of object_bytes is cut into ceil(object_bytes / stripe_bytes) stripes; every
// stripe but the last holds stripe_bytes, the last the rest. A stripe of plain_bytes is encoded
// by the erasure module into k data and m parity chunks of chunk_bytes = ceil(plain_bytes / k)
// each; the last data chunk is padded with zeros up to chunk_bytes. Any k of the k + m chunks
// restore the stripe. Pure arithmetic and checks, shared by the manifest and chunk-header
// codecs (docs/object_format.md).
#pragma once

#include <cstdint>
#include <string_view>

#include "shoal/base/status.h"
#include "shoal/object/limits.h"

namespace shoal::object {

// A code: k data chunks and m parity chunks per stripe. Replication to N copies is {1, N - 1}.
struct Scheme {
    uint8_t k = 0;
    uint8_t m = 0;

    uint32_t chunk_count() const { return uint32_t{k} + m; }
    bool operator==(const Scheme&) const = default;
};

// kInvalidArgument unless 1 <= k and k + m <= kChunksPerStripeMax.
Status check_scheme(Scheme scheme);
// kInvalidArgument unless stripe_bytes is in [kStripeBytesMin, kStripeBytesMax].
Status check_stripe_bytes(uint32_t stripe_bytes);
// kInvalidArgument unless the key is 1..kKeyBytesMax bytes without a NUL: the rule of
// wire::validate_key, repeated here because object sits below wire.
Status check_key(std::string_view key);

// ceil(object_bytes / stripe_bytes). REQUIRES: stripe_bytes > 0.
uint64_t stripe_count(uint64_t object_bytes, uint32_t stripe_bytes);
// The plain bytes of stripe `stripe_index`: stripe_bytes, or the rest for the last one.
// REQUIRES: stripe_index < stripe_count(object_bytes, stripe_bytes).
uint32_t stripe_plain_bytes(uint64_t object_bytes, uint32_t stripe_bytes, uint32_t stripe_index);
// Where stripe `stripe_index` starts in the object.
uint64_t stripe_offset(uint32_t stripe_bytes, uint32_t stripe_index);
// ceil(plain_bytes / k): the size of each of a stripe's k + m chunks. REQUIRES: k >= 1.
uint32_t chunk_bytes_of(uint32_t plain_bytes, uint8_t k);

// The largest striped object a manifest can describe under `scheme` with `stripe_bytes`, with
// every allowance at its largest (a 1024-byte key, a full node table), capped at
// limits::kObjectBytesMax. A coordinator refuses larger puts with a clear error.
// REQUIRES: check_scheme(scheme) and check_stripe_bytes(stripe_bytes) hold.
uint64_t striped_object_bytes_max(Scheme scheme, uint32_t stripe_bytes);

}  // namespace shoal::object

#include "shoal/object/layout.h"

#include <algorithm>

#include <fmt/format.h>

#include "shoal/base/bytes.h"
#include "shoal/base/limits.h"

namespace shoal::object {

Status check_scheme(Scheme scheme) {
    if (scheme.k < kChunksDataMin) return Status::invalid_argument("scheme: k is 0");
    if (scheme.chunk_count() > kChunksPerStripeMax) {
        return Status::invalid_argument(fmt::format("scheme: {}+{} is over {} chunks per stripe",
                                                    scheme.k,
                                                    scheme.m,
                                                    kChunksPerStripeMax));
    }
    return Status::ok();
}

Status check_stripe_bytes(uint32_t stripe_bytes) {
    if (stripe_bytes < kStripeBytesMin || stripe_bytes > kStripeBytesMax) {
        return Status::invalid_argument(fmt::format("stripe size {} is outside [{}, {}]",
                                                    stripe_bytes,
                                                    kStripeBytesMin,
                                                    kStripeBytesMax));
    }
    return Status::ok();
}

Status check_key(std::string_view key) {
    if (key.size() < limits::kKeyBytesMin) return Status::invalid_argument("key is empty");
    if (key.size() > limits::kKeyBytesMax) {
        return Status::invalid_argument(fmt::format(
                "key is {} bytes, over the limit of {}", key.size(), limits::kKeyBytesMax));
    }
    if (key.find('\0') != std::string_view::npos) {
        return Status::invalid_argument("key contains a NUL byte");
    }
    return Status::ok();
}

uint64_t stripe_count(uint64_t object_bytes, uint32_t stripe_bytes) {
    SHOAL_ASSERT(stripe_bytes > 0);
    // Written so that it cannot overflow for any object_bytes.
    return object_bytes / stripe_bytes + (object_bytes % stripe_bytes != 0 ? 1 : 0);
}

uint32_t stripe_plain_bytes(uint64_t object_bytes, uint32_t stripe_bytes, uint32_t stripe_index) {
    SHOAL_ASSERT(stripe_index < stripe_count(object_bytes, stripe_bytes));
    const uint64_t rest = object_bytes - stripe_offset(stripe_bytes, stripe_index);
    return static_cast<uint32_t>(std::min<uint64_t>(rest, stripe_bytes));
}

uint64_t stripe_offset(uint32_t stripe_bytes, uint32_t stripe_index) {
    return uint64_t{stripe_index} * stripe_bytes;
}

uint32_t chunk_bytes_of(uint32_t plain_bytes, uint8_t k) {
    SHOAL_ASSERT(k >= 1);
    return plain_bytes / k + (plain_bytes % k != 0 ? 1 : 0);
}

uint64_t striped_object_bytes_max(Scheme scheme, uint32_t stripe_bytes) {
    SHOAL_ASSERT(check_scheme(scheme).is_ok());
    SHOAL_ASSERT(check_stripe_bytes(stripe_bytes).is_ok());
    // The manifest's fixed part, the longest key, the fullest node table and the checksum;
    // what is left is shared by the stripes, each a digest and a u16 hint per chunk.
    constexpr uint64_t kOverheadBytes = kManifestFixedBytes + limits::kKeyBytesMax +
                                        uint64_t{kManifestNodesMax} * kNodeKeyBytes +
                                        kChecksumBytes;
    static_assert(kOverheadBytes < kManifestBytesMax);
    const uint64_t stripe_entry_bytes = 8 + 2 * uint64_t{scheme.chunk_count()};
    const uint64_t stripes_max = (kManifestBytesMax - kOverheadBytes) / stripe_entry_bytes;
    return std::min(limits::kObjectBytesMax, stripes_max * stripe_bytes);
}

}  // namespace shoal::object

// Stripe layout: how a stripe's bytes are cut into k data chunks, and joined back.
//
// The padding rule, part of the on-disk data model (docs/erasure.md): a stripe of S bytes has
// data chunks of L = ceil(S / k) bytes, and data chunk i holds stripe bytes
// [i * L, min((i + 1) * L, S)) followed by zeros up to L. Only chunks at the tail hold padding,
// and some may be nothing but padding: S = 5, k = 4 gives L = 2 and chunks "ab" "cd" "e0" "00".
// S = 0 gives L = 0. Parity is the code of the padded chunks. A chunk does not say where its
// padding starts; the manifest's stripe size does.
//
// Pure: no IO.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/erasure/codec.h"

namespace shoal::erasure {

struct StripeLayout {
    uint64_t stripe_bytes = 0;
    uint32_t k = 0;  // REQUIRES: 1 <= k <= kChunksMax.

    // L = ceil(stripe_bytes / k), the length of every chunk of the stripe.
    uint64_t chunk_bytes() const;
    // How many of data chunk `index`'s bytes are stripe bytes; the rest are padding.
    // REQUIRES: index < k.
    uint64_t payload_bytes(uint32_t index) const;
};

// The k data chunks of a stripe, ready for Codec::encode(). Chunks that lie wholly inside the
// stripe are views of it, not copies; only the chunks that reach past its end are copied,
// zero-padded, into a buffer this object owns (fewer than L + k bytes). The stripe must stay
// alive and unchanged while the chunks are in use.
class StripeChunks {
public:
    // REQUIRES: 1 <= k <= kChunksMax.
    StripeChunks(ByteView stripe, uint32_t k);

    std::span<const ByteView> chunks() const { return {chunks_.data(), k_}; }
    uint64_t chunk_bytes() const { return chunk_bytes_; }

private:
    std::array<ByteView, kChunksMax> chunks_{};
    uint32_t k_;
    uint64_t chunk_bytes_;
    Buffer padded_;  // The tail chunks, back to back.
};

// Appends the stripe held by `data` (its k data chunks, in order) to `target`: the first
// `stripe_bytes` bytes of their concatenation. kCorruption, with nothing appended, if a padding
// byte is not zero: the chunks then do not belong to a stripe of that size.
// REQUIRES: 1 <= data.size() <= kChunksMax; every chunk is
// StripeLayout{stripe_bytes, data.size()}.chunk_bytes() long.
Status join_stripe(std::span<const ByteView> data, uint64_t stripe_bytes, Buffer& target);

// The same check without the copy: the stripe's bytes as views of `data`, in order (the
// padding cut off; a chunk that holds only padding contributes none), so a reader can send
// them as they are. Same REQUIRES as join_stripe.
Result<std::vector<ByteView>> stripe_payloads(std::span<const ByteView> data,
                                              uint64_t stripe_bytes);

}  // namespace shoal::erasure

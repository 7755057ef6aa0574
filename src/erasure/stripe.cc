#include "shoal/erasure/stripe.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "shoal/base/assert.h"

namespace shoal::erasure {

uint64_t StripeLayout::chunk_bytes() const {
    SHOAL_ASSERT(k >= 1);
    SHOAL_ASSERT(k <= kChunksMax);
    return stripe_bytes / k + (stripe_bytes % k == 0 ? 0 : 1);
}

uint64_t StripeLayout::payload_bytes(uint32_t index) const {
    SHOAL_ASSERT(index < k);
    const uint64_t chunk = chunk_bytes();
    const uint64_t start = uint64_t{index} * chunk;
    if (start >= stripe_bytes) return 0;
    return std::min(chunk, stripe_bytes - start);
}

StripeChunks::StripeChunks(ByteView stripe, uint32_t k)
    : k_(k), chunk_bytes_(StripeLayout{.stripe_bytes = stripe.size(), .k = k}.chunk_bytes()) {
    const StripeLayout layout{.stripe_bytes = stripe.size(), .k = k};
    // Chunks wholly inside the stripe come first; with L = 0 every chunk is (empty and) whole.
    uint32_t whole = 0;
    while (whole < k && layout.payload_bytes(whole) == chunk_bytes_) {
        whole += 1;
    }
    for (uint32_t index = 0; index < whole; index++) {
        chunks_[index] = stripe.subspan(index * chunk_bytes_, chunk_bytes_);
    }

    const uint64_t tail_offset = uint64_t{whole} * chunk_bytes_;
    const uint64_t tail_bytes = stripe.size() - tail_offset;
    SHOAL_ASSERT(tail_bytes < chunk_bytes_ || tail_bytes == 0);  // Less than one chunk is left.
    padded_.resize((k - whole) * chunk_bytes_);
    if (!padded_.empty()) std::memset(padded_.data(), 0, padded_.size());
    if (tail_bytes > 0) std::memcpy(padded_.data(), stripe.data() + tail_offset, tail_bytes);
    for (uint32_t index = whole; index < k; index++) {
        chunks_[index] = padded_.view().subspan((index - whole) * chunk_bytes_, chunk_bytes_);
    }
    SHOAL_ASSERT(padded_.size() < chunk_bytes_ + k);
}

Result<std::vector<ByteView>> stripe_payloads(std::span<const ByteView> data,
                                              uint64_t stripe_bytes) {
    SHOAL_ASSERT(!data.empty());
    SHOAL_ASSERT(data.size() <= kChunksMax);
    const StripeLayout layout{.stripe_bytes = stripe_bytes,
                              .k = static_cast<uint32_t>(data.size())};
    const uint64_t chunk_bytes = layout.chunk_bytes();
    std::vector<ByteView> payloads;
    payloads.reserve(layout.k);
    for (uint32_t index = 0; index < layout.k; index++) {
        SHOAL_ASSERT(data[index].size() == chunk_bytes);
        const uint64_t payload_bytes = layout.payload_bytes(index);
        const ByteView padding = data[index].subspan(payload_bytes);
        const bool zero = std::all_of(padding.begin(), padding.end(), [](std::byte value) {
            return value == std::byte{0};
        });
        if (!zero) {
            return Status::corruption(
                    fmt::format("erasure: data chunk {} of a {}-byte stripe has nonzero padding",
                                index,
                                stripe_bytes));
        }
        if (payload_bytes > 0) payloads.push_back(data[index].first(payload_bytes));
    }
    return payloads;
}

Status join_stripe(std::span<const ByteView> data, uint64_t stripe_bytes, Buffer& target) {
    SHOAL_TRY_ASSIGN(const std::vector<ByteView> payloads, stripe_payloads(data, stripe_bytes));
    const size_t target_bytes = target.size();
    target.reserve(target_bytes + stripe_bytes);
    for (const ByteView payload : payloads) {
        target.append(payload);
    }
    SHOAL_ASSERT(target.size() == target_bytes + stripe_bytes);
    return Status::ok();
}

}  // namespace shoal::erasure

#include "shoal/base/hash.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace shoal {

struct Hasher64::State {
    XXH3_state_t xxh3;
};

uint64_t hash64(ByteView bytes, uint64_t seed) {
    return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
}

Hasher64::Hasher64() : state_(std::make_unique<State>()) {
    XXH3_64bits_reset(&state_->xxh3);
}

Hasher64::~Hasher64() = default;
Hasher64::Hasher64(Hasher64&& other) noexcept = default;
Hasher64& Hasher64::operator=(Hasher64&& other) noexcept = default;

void Hasher64::update(ByteView bytes) {
    SHOAL_ASSERT(state_ != nullptr);
    XXH3_64bits_update(&state_->xxh3, bytes.data(), bytes.size());
}

uint64_t Hasher64::digest() const {
    SHOAL_ASSERT(state_ != nullptr);
    return XXH3_64bits_digest(&state_->xxh3);
}

}  // namespace shoal

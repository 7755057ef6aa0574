#include "shoal/base/prng.h"

#include <cstring>

#include "shoal/base/assert.h"

namespace shoal {
namespace {

uint64_t splitmix64(uint64_t& state) {
    state += 0x9e3779b97f4a7c15;
    uint64_t mixed = state;
    mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9;
    mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111eb;
    return mixed ^ (mixed >> 31);
}

uint64_t rotate_left(uint64_t value, int bits) {
    return (value << bits) | (value >> (64 - bits));
}

}  // namespace

Prng::Prng(uint64_t seed) {
    uint64_t mixer = seed;
    for (uint64_t& word : state_) {
        word = splitmix64(mixer);
    }
}

uint64_t Prng::next_u64() {
    const uint64_t result = rotate_left(state_[1] * 5, 7) * 9;
    const uint64_t shifted = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= shifted;
    state_[3] = rotate_left(state_[3], 45);
    return result;
}

uint64_t Prng::below(uint64_t bound) {
    SHOAL_ASSERT(bound > 0);
    // Rejection sampling removes the modulo bias.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t value = next_u64();
    while (value >= limit) {
        value = next_u64();
    }
    return value % bound;
}

uint64_t Prng::between(uint64_t min, uint64_t max) {
    SHOAL_ASSERT(min <= max);
    if (min == 0 && max == UINT64_MAX) return next_u64();
    return min + below(max - min + 1);
}

bool Prng::chance(uint64_t numerator, uint64_t denominator) {
    SHOAL_ASSERT(denominator > 0);
    SHOAL_ASSERT(numerator <= denominator);
    return below(denominator) < numerator;
}

void Prng::fill(std::byte* target, size_t size) {
    while (size >= 8) {
        const uint64_t word = next_u64();
        std::memcpy(target, &word, 8);
        target += 8;
        size -= 8;
    }
    if (size > 0) {
        const uint64_t word = next_u64();
        std::memcpy(target, &word, size);
    }
}

}  // namespace shoal

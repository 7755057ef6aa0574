// Prng: the only source of randomness in node logic (xoshiro256**, seeded via splitmix64).
//
// Deterministic for a seed, so a simulation run replays exactly. Not for cryptography.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace shoal {

class Prng {
public:
    explicit Prng(uint64_t seed);

    uint64_t next_u64();
    // Uniform in [0, bound). REQUIRES: bound > 0.
    uint64_t below(uint64_t bound);
    // Uniform in [min, max]. REQUIRES: min <= max.
    uint64_t between(uint64_t min, uint64_t max);
    // True with probability numerator / denominator.
    bool chance(uint64_t numerator, uint64_t denominator);
    void fill(std::byte* target, size_t size);

private:
    std::array<uint64_t, 4> state_{};
};

}  // namespace shoal

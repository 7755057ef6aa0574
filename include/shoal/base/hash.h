// Hashing: xxh3, the one hash for checksums and object digests.
//
// Pinned: these values are stored and sent, so tests/unit/base/hash_test.cc fixes test
// vectors. Never std::hash for anything that leaves the process.
#pragma once

#include <cstdint>
#include <memory>

#include "shoal/base/bytes.h"

namespace shoal {

uint64_t hash64(ByteView bytes, uint64_t seed = 0);

// A streaming xxh3-64 over bytes fed in pieces; equal to hash64() of their concatenation.
class Hasher64 {
public:
    Hasher64();
    ~Hasher64();
    Hasher64(Hasher64&& other) noexcept;
    Hasher64& operator=(Hasher64&& other) noexcept;
    Hasher64(const Hasher64&) = delete;
    Hasher64& operator=(const Hasher64&) = delete;

    void update(ByteView bytes);
    uint64_t digest() const;

private:
    struct State;
    // Hands a state to this thread's spares rather than to free().
    struct Recycle {
        void operator()(State* state) const;
    };
    std::unique_ptr<State, Recycle> state_;
};

}  // namespace shoal

#include "shoal/base/hash.h"

#include <array>

#define XXH_INLINE_ALL
#include <xxhash.h>

#ifdef SHOAL_XXH_DISPATCH
// libxxhash's entries that pick the widest SIMD the CPU has at run time (xxh_x86dispatch.h,
// which cannot be included under XXH_INLINE_ALL). Same hashes as the inline code, bit for bit.
// NOLINTBEGIN(readability-identifier-naming): libxxhash's names.
extern "C" {
XXH64_hash_t XXH3_64bits_withSeed_dispatch(const void* input, size_t length, XXH64_hash_t seed);
XXH_errorcode XXH3_64bits_update_dispatch(XXH3_state_t* state, const void* input, size_t length);
}
// NOLINTEND(readability-identifier-naming)
#endif

namespace shoal {
namespace {

// Up to this many bytes XXH3 does not use SIMD: the inline code, without a call, is faster.
constexpr size_t kInlineBytesMax = 240;

constexpr size_t kSpareStatesMax = 64;

}  // namespace

struct Hasher64::State {
    XXH3_state_t xxh3;
    // Freed states kept for reuse: every put makes a hasher, and malloc serves the 64-byte
    // alignment a state needs slowly. A fixed array, so that giving one back (in a noexcept
    // destructor) never allocates.
    struct Spares {
        std::array<std::unique_ptr<State>, kSpareStatesMax> states;
        size_t count = 0;
    };
    static thread_local Spares spares;
};

thread_local Hasher64::State::Spares Hasher64::State::spares;

void Hasher64::Recycle::operator()(State* state) const {
    std::unique_ptr<State> owned(state);
    State::Spares& spares = State::spares;
    if (spares.count < kSpareStatesMax) spares.states[spares.count++] = std::move(owned);
}

uint64_t hash64(ByteView bytes, uint64_t seed) {
#ifdef SHOAL_XXH_DISPATCH
    if (bytes.size() > kInlineBytesMax) {
        return XXH3_64bits_withSeed_dispatch(bytes.data(), bytes.size(), seed);
    }
#endif
    return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
}

Hasher64::Hasher64() {
    State::Spares& spares = State::spares;
    if (spares.count == 0) {
        state_.reset(std::make_unique<State>().release());
    } else {
        spares.count -= 1;
        state_.reset(spares.states[spares.count].release());
    }
    XXH3_64bits_reset(&state_->xxh3);
}

Hasher64::~Hasher64() = default;
Hasher64::Hasher64(Hasher64&& other) noexcept = default;
Hasher64& Hasher64::operator=(Hasher64&& other) noexcept = default;

void Hasher64::update(ByteView bytes) {
    SHOAL_ASSERT(state_ != nullptr);
#ifdef SHOAL_XXH_DISPATCH
    if (bytes.size() > kInlineBytesMax) {
        XXH3_64bits_update_dispatch(&state_->xxh3, bytes.data(), bytes.size());
        return;
    }
#endif
    XXH3_64bits_update(&state_->xxh3, bytes.data(), bytes.size());
}

uint64_t Hasher64::digest() const {
    SHOAL_ASSERT(state_ != nullptr);
    return XXH3_64bits_digest(&state_->xxh3);
}

}  // namespace shoal

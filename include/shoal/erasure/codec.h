// Codec: systematic Reed–Solomon erasure coding over GF(2^8), on ISA-L (docs/erasure.md).
//
// A stripe's k data chunks, all of one length L, are encoded into m parity chunks of length L;
// any k of the k + m chunks restore the others. Chunk i < k is data chunk i unchanged; parity
// chunk k + p is row k + p of ISA-L's Cauchy generator (gf_gen_cauchy1_matrix) applied to the
// data, except that for k = 1 every parity chunk is a copy of the data (replication). Every
// k x k submatrix of that generator is invertible, so every pattern of up to m lost chunks is
// recoverable. The matrix fixes the bytes of every parity chunk ever stored: changing it makes
// old data unreadable (tests/unit/erasure/codec_test.cc pins it).
//
// Pure: no IO. Bytes are worked on in place in the caller's spans; encode never allocates, and
// reconstruct only when it builds the decode tables of a loss pattern it has not cached. Both
// operations can be applied to a byte range of the chunks, so a caller on the event loop can slice
// a large stripe into pieces (a 4 MiB stripe encodes in well under 1 ms here). Single-threaded:
// reconstruct() updates the codec's cache of decode tables.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"

namespace shoal::erasure {

// At most this many chunks (k + m) per stripe. ISA-L's field allows 255; 32 covers every code
// the cluster offers (16+4 and beyond) and lets a ChunkMask be one word.
inline constexpr uint32_t kChunksMax = 32;
// Decode tables kept per codec, one per erasure pattern seen lately. At 16+4 one costs at most
// 2 KiB, and building it (a k x k inversion) costs about as much as decoding 20 KiB.
inline constexpr uint32_t kDecodingsCachedMax = 16;

// Bit i set: chunk i (data for i < k, parity for i >= k) is present.
using ChunkMask = uint32_t;
static_assert(sizeof(ChunkMask) * 8 >= kChunksMax, "a mask has one bit per chunk");

inline constexpr ChunkMask chunk_bit(uint32_t index) {
    return ChunkMask{1} << index;
}

// A byte range of every chunk of a stripe: [offset, offset + bytes).
struct ChunkRange {
    size_t offset = 0;
    size_t bytes = 0;
};

class Codec {
public:
    // kInvalidArgument unless 1 <= k and k + m <= kChunksMax. m = 0 is plain striping.
    static Result<Codec> make(uint32_t k, uint32_t m);

    uint32_t k() const { return k_; }  // Data chunks.
    uint32_t m() const { return m_; }  // Parity chunks.
    uint32_t chunk_count() const { return k_ + m_; }
    // The mask with a bit for each of the chunk_count() chunks.
    ChunkMask all_chunks() const {
        return chunk_count() == kChunksMax ? ~ChunkMask{0} : chunk_bit(chunk_count()) - 1;
    }

    // Computes the m parity chunks from the k data chunks.
    // REQUIRES: data.size() == k, parity.size() == m, every span of one length; parity spans
    // do not overlap data spans or each other.
    void encode(std::span<const ByteView> data, std::span<const MutableByteView> parity) const;
    // As encode(), for bytes `range` of every chunk only; the rest of the parity is untouched.
    // Encoding a stripe range by range gives the same bytes as encoding it whole.
    // REQUIRES: as encode(), and range inside the chunks.
    void encode_range(std::span<const ByteView> data,
                      std::span<const MutableByteView> parity,
                      ChunkRange range) const;

    // Restores every chunk absent from `present`, data or parity, from k present ones. Present
    // chunks are only read. Returns kUnavailable (retry once more chunks are reachable) if
    // fewer than k are present; then no chunk is written.
    // REQUIRES: chunks.size() == chunk_count(), every span of one length, no bit in `present`
    // beyond chunk_count().
    Status reconstruct(std::span<const MutableByteView> chunks, ChunkMask present);
    // As reconstruct(), for bytes `range` of every chunk only.
    Status reconstruct_range(std::span<const MutableByteView> chunks,
                             ChunkMask present,
                             ChunkRange range);

    // Decode tables currently cached (at most kDecodingsCachedMax).
    size_t decodings_cached() const { return decodings_.size(); }

private:
    // How to rebuild the chunks absent from one `present` mask: from which k chunks, into
    // which ones, with which ISA-L tables.
    struct Decoding {
        ChunkMask present = 0;
        std::array<uint8_t, kChunksMax> sources{};
        std::array<uint8_t, kChunksMax> targets{};
        uint32_t target_count = 0;
        std::vector<uint8_t> rows;    // target_count x k coefficients over the sources.
        std::vector<uint8_t> tables;  // ec_init_tables() of the k x target_count rows.
        uint64_t used_tick = 0;       // For least-recently-used replacement.
    };

    Codec(uint32_t k, uint32_t m);

    const Decoding& decoding_for(ChunkMask present);
    Decoding build_decoding(ChunkMask present) const;

    uint32_t k_;
    uint32_t m_;
    std::vector<uint8_t> matrix_;         // (k + m) x k generator, row-major; top k rows: I.
    std::vector<uint8_t> encode_tables_;  // ec_init_tables() of the m parity rows.
    std::vector<Decoding> decodings_;     // At most kDecodingsCachedMax, in no order.
    uint64_t decodings_tick_ = 0;
};

}  // namespace shoal::erasure

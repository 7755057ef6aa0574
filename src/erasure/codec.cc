#include "shoal/erasure/codec.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <isa-l/erasure_code.h>

#include "shoal/base/assert.h"

namespace shoal::erasure {
namespace {

// ISA-L's tables hold 32 bytes per coefficient (two 16-entry nibble lookup tables).
constexpr size_t kTableBytesPerCoefficient = 32;
// ISA-L takes lengths as int; longer ranges go through in pieces of this many bytes.
constexpr size_t kCallBytesMax = size_t{1} << 30;

using Matrix = std::array<uint8_t, size_t{kChunksMax} * kChunksMax>;

// ISA-L declares its sources and tables as unsigned char* (not const); it only reads them.
unsigned char* isal_bytes(const std::byte* bytes) {
    return const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(bytes));
}
unsigned char* isal_bytes(const uint8_t* bytes) {
    return const_cast<unsigned char*>(bytes);
}

// The generator, (k + m) x k. gf_gen_cauchy1_matrix puts I on top and 1 / (i ^ j) in parity
// row i, column j: a Cauchy matrix, so every square submatrix of the parity rows, and hence
// every k x k submatrix of the whole, is invertible for any k + m <= 256. gf_gen_rs_matrix
// (Vandermonde) is not: here, 5+6 and 6+5 already have singular submatrices
// (docs/erasure.md). For k = 1 any nonzero parity row works; ones make parity a plain copy.
std::vector<uint8_t> generator_matrix(uint32_t k, uint32_t m) {
    const uint32_t chunks = k + m;
    std::vector<uint8_t> matrix(size_t{chunks} * k);
    gf_gen_cauchy1_matrix(matrix.data(), static_cast<int>(chunks), static_cast<int>(k));
    if (k == 1) std::fill(matrix.begin(), matrix.end(), uint8_t{1});
    return matrix;
}

// Applies ISA-L's `tables` (rows of coefficients over `sources`) to bytes `range` of the
// sources, writing one target per row.
void apply_tables(const std::vector<uint8_t>& tables,
                  std::span<const std::byte* const> sources,
                  std::span<std::byte* const> targets,
                  ChunkRange range) {
    SHOAL_ASSERT(tables.size() == kTableBytesPerCoefficient * sources.size() * targets.size());
    SHOAL_ASSERT(sources.size() <= kChunksMax);
    SHOAL_ASSERT(targets.size() <= kChunksMax);
    if (targets.empty()) return;
    std::array<unsigned char*, kChunksMax> source_pointers{};
    std::array<unsigned char*, kChunksMax> target_pointers{};
    for (size_t done_bytes = 0; done_bytes < range.bytes;) {
        const size_t piece_bytes = std::min(range.bytes - done_bytes, kCallBytesMax);
        const size_t offset = range.offset + done_bytes;
        for (size_t index = 0; index < sources.size(); index++) {
            source_pointers[index] = isal_bytes(sources[index] + offset);
        }
        for (size_t index = 0; index < targets.size(); index++) {
            target_pointers[index] = reinterpret_cast<unsigned char*>(targets[index] + offset);
        }
        // Any length works: below 64 bytes ISA-L runs its scalar code, above it the vector
        // kernels finish with an overlapping last vector. No alignment is needed.
        ec_encode_data(static_cast<int>(piece_bytes),
                       static_cast<int>(sources.size()),
                       static_cast<int>(targets.size()),
                       isal_bytes(tables.data()),
                       source_pointers.data(),
                       target_pointers.data());
        done_bytes += piece_bytes;
    }
}

// Whether the vector kernels wrote, at the first and last byte of `range`, what plain GF(2^8)
// arithmetic gives for each target: row t of `rows` (targets x sources) dotted with the sources.
bool kernels_agree(const uint8_t* rows,
                   std::span<const std::byte* const> sources,
                   std::span<std::byte* const> targets,
                   ChunkRange range) {
    if (range.bytes == 0) return true;
    for (const size_t column : {range.offset, range.offset + range.bytes - 1}) {
        for (size_t target = 0; target < targets.size(); target++) {
            uint8_t sum = 0;
            for (size_t source = 0; source < sources.size(); source++) {
                const auto value = static_cast<uint8_t>(sources[source][column]);
                sum ^= gf_mul(rows[target * sources.size() + source], value);
            }
            if (static_cast<uint8_t>(targets[target][column]) != sum) return false;
        }
    }
    return true;
}

// product = row (1 x k) times square (k x k), in GF(2^8).
void multiply_row(const uint8_t* row, const uint8_t* square, uint32_t k, uint8_t* product) {
    for (uint32_t column = 0; column < k; column++) {
        uint8_t sum = 0;
        for (uint32_t index = 0; index < k; index++) {
            sum ^= gf_mul(row[index], square[size_t{index} * k + column]);
        }
        product[column] = sum;
    }
}

// Every chunk has the length of the first, and `range` lies inside it.
template <typename Span>
void check_chunks(std::span<const Span> chunks, size_t chunk_bytes, ChunkRange range) {
    for (const Span& chunk : chunks) {
        SHOAL_ASSERT(chunk.size() == chunk_bytes);
    }
    SHOAL_ASSERT(range.offset <= chunk_bytes);
    SHOAL_ASSERT(range.bytes <= chunk_bytes - range.offset);
}

}  // namespace

Result<Codec> Codec::make(uint32_t k, uint32_t m) {
    if (k == 0) return Status::invalid_argument("erasure: k must be at least 1 data chunk");
    const uint64_t chunks = uint64_t{k} + m;
    if (chunks > kChunksMax) {
        return Status::invalid_argument(
                fmt::format("erasure: {}+{} makes {} chunks per stripe, more than the {} allowed",
                            k,
                            m,
                            chunks,
                            kChunksMax));
    }
    return Codec(k, m);
}

Codec::Codec(uint32_t k, uint32_t m)
    : k_(k),
      m_(m),
      matrix_(generator_matrix(k, m)),
      encode_tables_(kTableBytesPerCoefficient * k * m) {
    SHOAL_ASSERT(k >= 1);
    SHOAL_ASSERT(k + m <= kChunksMax);
    if (m > 0) {
        ec_init_tables(static_cast<int>(k),
                       static_cast<int>(m),
                       &matrix_[size_t{k} * k],
                       encode_tables_.data());
    }
}

void Codec::encode(std::span<const ByteView> data, std::span<const MutableByteView> parity) const {
    SHOAL_ASSERT(!data.empty());
    encode_range(data, parity, {.offset = 0, .bytes = data[0].size()});
}

void Codec::encode_range(std::span<const ByteView> data,
                         std::span<const MutableByteView> parity,
                         ChunkRange range) const {
    SHOAL_ASSERT(data.size() == k_);
    SHOAL_ASSERT(parity.size() == m_);
    check_chunks(data, data[0].size(), range);
    check_chunks(parity, data[0].size(), range);

    std::array<const std::byte*, kChunksMax> sources{};
    std::array<std::byte*, kChunksMax> targets{};
    for (uint32_t index = 0; index < k_; index++) {
        sources[index] = data[index].data();
    }
    for (uint32_t index = 0; index < m_; index++) {
        targets[index] = parity[index].data();
    }
    const std::span<const std::byte* const> source_view(sources.data(), k_);
    const std::span<std::byte* const> target_view(targets.data(), m_);
    apply_tables(encode_tables_, source_view, target_view, range);
    SHOAL_ASSERT_EXPENSIVE(
            kernels_agree(&matrix_[size_t{k_} * k_], source_view, target_view, range));
}

Status Codec::reconstruct(std::span<const MutableByteView> chunks, ChunkMask present) {
    SHOAL_ASSERT(!chunks.empty());
    return reconstruct_range(chunks, present, {.offset = 0, .bytes = chunks[0].size()});
}

Status Codec::reconstruct_range(std::span<const MutableByteView> chunks,
                                ChunkMask present,
                                ChunkRange range) {
    SHOAL_ASSERT(chunks.size() == chunk_count());
    SHOAL_ASSERT((present & ~all_chunks()) == 0);
    check_chunks(chunks, chunks[0].size(), range);

    const auto present_count = static_cast<uint32_t>(std::popcount(present));
    if (present_count < k_) {
        return Status::unavailable(
                fmt::format("erasure: {} of {} chunks present, {} needed to reconstruct",
                            present_count,
                            chunk_count(),
                            k_));
    }
    if (present == all_chunks()) return Status::ok();

    const Decoding& decoding = decoding_for(present);
    std::array<const std::byte*, kChunksMax> sources{};
    std::array<std::byte*, kChunksMax> targets{};
    for (uint32_t index = 0; index < k_; index++) {
        sources[index] = chunks[decoding.sources[index]].data();
    }
    for (uint32_t index = 0; index < decoding.target_count; index++) {
        targets[index] = chunks[decoding.targets[index]].data();
    }
    const std::span<const std::byte* const> source_view(sources.data(), k_);
    const std::span<std::byte* const> target_view(targets.data(), decoding.target_count);
    apply_tables(decoding.tables, source_view, target_view, range);
    SHOAL_ASSERT_EXPENSIVE(kernels_agree(decoding.rows.data(), source_view, target_view, range));
    return Status::ok();
}

// A linear scan: the cache is tiny, and a hit costs far less than the decode it serves.
const Codec::Decoding& Codec::decoding_for(ChunkMask present) {
    decodings_tick_ += 1;
    for (Decoding& decoding : decodings_) {
        if (decoding.present != present) continue;
        decoding.used_tick = decodings_tick_;
        return decoding;
    }
    Decoding built = build_decoding(present);
    built.used_tick = decodings_tick_;
    if (decodings_.size() < kDecodingsCachedMax) {
        // Reserved on the first decode, not at construction: every put makes a codec, and
        // most never decode.
        decodings_.reserve(kDecodingsCachedMax);
        decodings_.push_back(std::move(built));
        return decodings_.back();
    }
    auto oldest = std::min_element(
            decodings_.begin(), decodings_.end(), [](const Decoding& left, const Decoding& right) {
                return left.used_tick < right.used_tick;
            });
    *oldest = std::move(built);
    SHOAL_ASSERT(decodings_.size() == kDecodingsCachedMax);
    return *oldest;
}

// The sources are the first k present chunks, so data chunks are preferred: with every data
// chunk present nothing needs inverting beyond I, and the choice is a pure function of the mask.
Codec::Decoding Codec::build_decoding(ChunkMask present) const {
    Decoding decoding{.present = present};
    uint32_t source_count = 0;
    for (uint32_t index = 0; index < chunk_count(); index++) {
        if ((present & chunk_bit(index)) == 0) {
            decoding.targets[decoding.target_count] = static_cast<uint8_t>(index);
            decoding.target_count += 1;
        } else if (source_count < k_) {
            decoding.sources[source_count] = static_cast<uint8_t>(index);
            source_count += 1;
        }
    }
    SHOAL_ASSERT(source_count == k_);
    SHOAL_ASSERT(decoding.target_count >= 1);

    // The generator's rows for the sources map the data to the sources; their inverse maps the
    // sources back to the data, and a parity row times the inverse maps them to that parity.
    Matrix chosen{};
    Matrix inverse{};
    for (uint32_t row = 0; row < k_; row++) {
        std::memcpy(&chosen[size_t{row} * k_], &matrix_[size_t{decoding.sources[row]} * k_], k_);
    }
    const int singular = gf_invert_matrix(chosen.data(), inverse.data(), static_cast<int>(k_));
    SHOAL_ASSERT(singular == 0);  // The Cauchy generator has no singular k x k submatrix.

    decoding.rows.resize(size_t{decoding.target_count} * k_);
    for (uint32_t target = 0; target < decoding.target_count; target++) {
        uint8_t* row = &decoding.rows[size_t{target} * k_];
        const uint32_t chunk = decoding.targets[target];
        if (chunk < k_) {
            std::memcpy(row, &inverse[size_t{chunk} * k_], k_);
        } else {
            multiply_row(&matrix_[size_t{chunk} * k_], inverse.data(), k_, row);
        }
    }
    decoding.tables.resize(kTableBytesPerCoefficient * k_ * decoding.target_count);
    ec_init_tables(static_cast<int>(k_),
                   static_cast<int>(decoding.target_count),
                   decoding.rows.data(),
                   decoding.tables.data());
    return decoding;
}

}  // namespace shoal::erasure

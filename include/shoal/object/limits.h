// The bounds of the object data model: stripe sizes, codes, the inline threshold, the manifest.
//
// These are format limits (docs/object_format.md): a decoder refuses anything past them, so
// raising one is a format change that old nodes reject. Cluster settings (the default stripe
// size, the code, the inline threshold a coordinator uses) are chosen within them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shoal/base/limits.h"

namespace shoal::object {

// Objects of at most this many bytes may be carried whole inside their manifest, with no
// stripes. A coordinator may use a lower threshold (down to 0: every non-empty object is
// striped), never a higher one. 4 KiB keeps an inline manifest within one small frame and one
// WAL record while sparing small objects the k+m chunk writes.
inline constexpr uint32_t kInlineBytesMax = 4096;

// Any stripe size in this range, not only powers of two. Below 64 KiB the per-chunk overheads
// (a header, a record, a message) dominate; above 64 MiB one stripe's encode would stall the
// loop and its chunks (up to 64 MiB each under replication) are too big to retry cheaply.
inline constexpr uint32_t kStripeBytesMin = 64 * 1024;
inline constexpr uint32_t kStripeBytesMax = 64 * 1024 * 1024;

// k data + m parity chunks per stripe. Replication to N copies is k = 1, m = N - 1.
inline constexpr uint32_t kChunksDataMin = 1;
inline constexpr uint32_t kChunksPerStripeMax = 32;

// An encoded manifest, everything included: one data frame, so that a manifest always travels
// in one message (wire::kManifestBytesMax). That bounds an object under RS 4+2 with 4 MiB
// stripes to 191 GiB; striped_object_bytes_max() gives the limit for every code and stripe size.
inline constexpr uint32_t kManifestBytesMax = 1024 * 1024;
// Distinct nodes named by one manifest's location hints. At least the membership module's
// member limit (1024), so a manifest never runs out of names before a cluster does.
inline constexpr uint32_t kManifestNodesMax = 4096;

// The fixed part of a manifest before its key, and of a chunk header before its key; each is
// followed by the key and, at the end, a u64 checksum.
inline constexpr size_t kManifestFixedBytes = 64;
inline constexpr size_t kChunkHeaderFixedBytes = 96;
inline constexpr size_t kChecksumBytes = 8;
inline constexpr size_t kNodeKeyBytes = 16;
inline constexpr size_t kChunkHeaderBytesMax =
        kChunkHeaderFixedBytes + limits::kKeyBytesMax + kChecksumBytes;

// Store keys (store_key.h): a namespace byte and then the user key, or a fixed-size chunk id.
inline constexpr size_t kChunkStoreKeyBytes = 1 + 8 + 8 + 8 + 4 + 1;
inline constexpr size_t kStoreKeyBytesMax = limits::kStoreKeyBytesMax;

static_assert(kStripeBytesMin <= kStripeBytesMax);
static_assert(kChunksPerStripeMax <= UINT8_MAX, "k and m are u8 fields");
static_assert(kManifestNodesMax <= UINT16_MAX, "a location hint is a u16 index into the table");
static_assert(kInlineBytesMax + kManifestFixedBytes + limits::kKeyBytesMax + kChecksumBytes <=
                      limits::kDataFrameBytesMax,
              "an inline manifest fits one data frame");
static_assert(kChunkHeaderBytesMax <= UINT16_MAX);
static_assert(kChunkStoreKeyBytes <= kStoreKeyBytesMax);
static_assert(limits::kObjectBytesMax / kStripeBytesMin < UINT32_MAX, "a stripe count is a u32");

}  // namespace shoal::object

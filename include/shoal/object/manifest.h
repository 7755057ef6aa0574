// Manifest: the replicated record that describes one version of one object.
//
// A put makes a new version of a key (an HLC timestamp and the node id, base/version.h); the
// manifest of that version names the object's size and digest and either carries its bytes
// (inline, for objects of at most kInlineBytesMax) or describes its stripes: the code {k, m},
// the stripe size, each stripe's digest, and, for each chunk, a hint of which node holds it.
// A delete writes a tombstone: a manifest with a version and no object. The manifest is
// replicated on the owners of the key's partition (DESIGN.md "Data model and placement");
// the newest version wins, tombstones included.
//
// Pure values and codecs: no IO. The decoder takes untrusted bytes: it checks the length and
// the checksum first, then every field and count against its bound before it allocates, and
// returns kCorruption naming the first thing wrong. Byte layout: docs/object_format.md;
// tests/fuzz/object_fuzz.cc fuzzes the decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/base/version.h"
#include "shoal/object/layout.h"
#include "shoal/object/limits.h"

namespace shoal::object {

inline constexpr uint32_t kManifestMagic = 0x4e414d53;  // The bytes "SMAN".
inline constexpr uint8_t kManifestFormat = 1;

// A node's 128-bit id as a location hint. The membership module's MemberId has the same
// shape; the node layer converts, since object sits below membership. Zero means unknown.
struct NodeKey {
    uint64_t high = 0;
    uint64_t low = 0;

    bool is_zero() const { return high == 0 && low == 0; }
    bool operator==(const NodeKey&) const = default;
    // Written out rather than defaulted <=>, which trips clang 14 (see base/time.h).
    bool operator<(const NodeKey& other) const {
        return high != other.high ? high < other.high : low < other.low;
    }
};

// The numbers are stored: never renumber them.
enum class ManifestKind : uint8_t {
    kInline = 1,     // An object carried whole in the manifest; no stripes.
    kStriped = 2,    // An object in stripes of k + m chunks held by nodes.
    kTombstone = 3,  // A delete: a version, and no object.
};

// Fields that do not apply to a kind are zero or empty (check_manifest insists), so that
// every manifest has exactly one encoding.
struct Manifest {
    ManifestKind kind = ManifestKind::kInline;
    std::string key;
    Version version;
    uint64_t created_ms = 0;  // Wall-clock time of the put or delete, for humans.

    // Objects only.
    uint64_t object_bytes = 0;
    uint64_t object_digest = 0;  // xxh3-64 of the whole value (base/hash.h).

    // kInline only: the whole value; object_bytes long.
    std::vector<std::byte> inline_data;

    // kStriped only.
    Scheme scheme;
    uint32_t stripe_bytes = 0;
    std::vector<uint64_t> stripe_digests;  // xxh3-64 of each stripe's plain bytes.
    // Stripe-major: chunk_nodes[stripe * chunk_count + chunk] is the node that durably
    // acknowledged that chunk (which may be a fallback after hinted handoff), or zero.
    std::vector<NodeKey> chunk_nodes;

    bool is_tombstone() const { return kind == ManifestKind::kTombstone; }
    uint32_t stripe_count() const { return static_cast<uint32_t>(stripe_digests.size()); }
    NodeKey chunk_node(uint32_t stripe_index, uint32_t chunk_index) const;
    void set_chunk_node(uint32_t stripe_index, uint32_t chunk_index, NodeKey node);

    bool operator==(const Manifest&) const = default;
};

// True if `a` supersedes `b`: a later version, whatever either kind. Versions are unique per
// put (one clock per node, the node id as tie-break), so equal versions are copies of one put.
bool newer(const Manifest& a, const Manifest& b);

// An inline manifest for `data`, its digest computed. REQUIRES: data.size() <= kInlineBytesMax.
Manifest inline_manifest(std::string key, Version version, uint64_t created_ms, ByteView data);
// The same with the digest already known (checked as the bytes arrived): no second pass over
// them. REQUIRES: digest == hash64(data).
Manifest inline_manifest(
        std::string key, Version version, uint64_t created_ms, ByteView data, uint64_t digest);
// What a striped manifest is made from; the stripes are derived from these.
struct StripedParameters {
    std::string key;
    Version version;
    uint64_t created_ms = 0;
    uint64_t object_bytes = 0;
    uint64_t object_digest = 0;
    Scheme scheme;
    uint32_t stripe_bytes = 0;
};
// A striped manifest with its stripe digests zero and no location hints, to be filled in as
// the stripes are encoded and acknowledged. REQUIRES: the key, version, scheme and stripe size
// pass check_manifest, and 1 <= object_bytes <= striped_object_bytes_max(scheme, stripe_bytes).
Manifest striped_manifest(StripedParameters parameters);
Manifest tombstone_manifest(std::string key, Version version, uint64_t created_ms);

// kInvalidArgument ("manifest: ...") naming the first rule `manifest` breaks: the key's, the
// version's (hlc 0 is no version), the kind's fields, the bounds, the inline digest, and the
// encoded size (at most kManifestBytesMax, at most kManifestNodesMax distinct nodes).
Status check_manifest(const Manifest& manifest);

// The exact size encode_manifest will append. REQUIRES: check_manifest(manifest) holds.
size_t encoded_manifest_bytes(const Manifest& manifest);

// Appends the encoding. REQUIRES: check_manifest(manifest) holds.
void encode_manifest(const Manifest& manifest, Buffer& target);

// The fields a store of manifests files one under, from its fixed part.
struct ManifestHead {
    ManifestKind kind = ManifestKind::kInline;
    std::string key;
    Version version;
    uint64_t object_bytes = 0;
    uint64_t object_digest = 0;
};

// Checks what decode_manifest checks of the length, magic, format, checksum and fixed part,
// and reads the head; not the stripes or the inline data. For bytes this node encoded itself,
// which encode_manifest checked whole: a node never takes a peer's manifest on its head.
Result<ManifestHead> decode_manifest_head(ByteView source);

// Decodes exactly one manifest that fills `source`. kCorruption ("manifest: ...") for
// anything else: a wrong length, magic, format or checksum, an unknown kind, a field or count
// out of bounds, a node table out of order, a hint past the table, or an inline digest that
// does not match. A manifest that decodes passes check_manifest.
Result<Manifest> decode_manifest(ByteView source);

}  // namespace shoal::object

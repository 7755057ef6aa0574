#include "shoal/object/manifest.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "shoal/base/coding.h"
#include "shoal/base/hash.h"

namespace shoal::object {
namespace {

// The fixed part, read before anything that depends on it (docs/object_format.md).
struct FixedPart {
    uint8_t format = 0;
    uint8_t kind = 0;
    uint16_t key_bytes = 0;
    uint32_t manifest_bytes = 0;
    Scheme scheme;
    uint16_t node_count = 0;
    uint32_t stripe_bytes = 0;
    uint32_t stripe_count = 0;
    Version version;
    uint64_t created_ms = 0;
    uint64_t object_bytes = 0;
    uint64_t object_digest = 0;
};

size_t stripe_entry_bytes(Scheme scheme) {
    return 8 + 2 * size_t{scheme.chunk_count()};
}

Status invalid(std::string_view rule) {
    return Status::invalid_argument(fmt::format("manifest: {}", rule));
}

Status corrupt(std::string_view reason) {
    return Status::corruption(fmt::format("manifest: {}", reason));
}

// The distinct non-zero nodes the hints name, in order: the node table. Built by insertion
// into a sorted vector, so that millions of hints cost a binary search each and no copy; it
// stops one past kManifestNodesMax, which is enough to tell that a manifest names too many.
std::vector<NodeKey> node_table(const Manifest& manifest) {
    std::vector<NodeKey> nodes;
    NodeKey previous;
    for (const NodeKey& node : manifest.chunk_nodes) {
        // Neighbouring hints often name the same node; skip the search for those.
        if (node.is_zero() || node == previous) continue;
        previous = node;
        const auto found = std::lower_bound(nodes.begin(), nodes.end(), node);
        if (found != nodes.end() && *found == node) continue;
        nodes.insert(found, node);
        if (nodes.size() > kManifestNodesMax) break;
    }
    return nodes;
}

size_t manifest_bytes(const Manifest& manifest, size_t node_count) {
    size_t bytes = kManifestFixedBytes + manifest.key.size() + kChecksumBytes;
    if (manifest.kind == ManifestKind::kInline) bytes += manifest.inline_data.size();
    if (manifest.kind == ManifestKind::kStriped) {
        bytes += node_count * kNodeKeyBytes +
                 size_t{manifest.stripe_count()} * stripe_entry_bytes(manifest.scheme);
    }
    return bytes;
}

// The fields of the other kinds are zero or empty, so each manifest has one encoding.
bool has_no_stripes(const Manifest& manifest) {
    return manifest.scheme == Scheme{} && manifest.stripe_bytes == 0 &&
           manifest.stripe_digests.empty() && manifest.chunk_nodes.empty();
}

// The digest is checked apart: it reads every byte, and the encoders check only the fields in
// release builds (the manifests they get were built, not received).
Status check_inline(const Manifest& manifest) {
    if (!has_no_stripes(manifest)) return invalid("an inline object has stripe fields");
    if (manifest.object_bytes != manifest.inline_data.size()) {
        return invalid("inline data is not object_bytes long");
    }
    if (manifest.object_bytes > kInlineBytesMax) {
        return invalid(fmt::format(
                "{} bytes is over the inline limit of {}", manifest.object_bytes, kInlineBytesMax));
    }
    return Status::ok();
}

Status check_inline_digest(const Manifest& manifest) {
    if (manifest.kind == ManifestKind::kInline &&
        manifest.object_digest != hash64(manifest.inline_data)) {
        return invalid("inline data does not match the object digest");
    }
    return Status::ok();
}

Status check_striped(const Manifest& manifest) {
    if (!manifest.inline_data.empty()) return invalid("a striped object has inline data");
    if (Status status = check_scheme(manifest.scheme); !status.is_ok()) {
        return invalid(status.message());
    }
    if (Status status = check_stripe_bytes(manifest.stripe_bytes); !status.is_ok()) {
        return invalid(status.message());
    }
    if (manifest.object_bytes == 0) return invalid("a striped object is empty");
    const uint64_t bytes_max = striped_object_bytes_max(manifest.scheme, manifest.stripe_bytes);
    if (manifest.object_bytes > bytes_max) {
        return invalid(
                fmt::format("{} bytes is over the {} a manifest can describe with {}+{} "
                            "and {}-byte stripes",
                            manifest.object_bytes,
                            bytes_max,
                            manifest.scheme.k,
                            manifest.scheme.m,
                            manifest.stripe_bytes));
    }
    const uint64_t stripes = stripe_count(manifest.object_bytes, manifest.stripe_bytes);
    if (manifest.stripe_digests.size() != stripes) {
        return invalid(fmt::format(
                "{} stripe digests for {} stripes", manifest.stripe_digests.size(), stripes));
    }
    if (manifest.chunk_nodes.size() != stripes * manifest.scheme.chunk_count()) {
        return invalid("chunk_nodes is not stripe count x (k + m) long");
    }
    if (node_table(manifest).size() > kManifestNodesMax) {
        return invalid(fmt::format("hints name over {} nodes", kManifestNodesMax));
    }
    return Status::ok();
}

Status check_tombstone(const Manifest& manifest) {
    if (!has_no_stripes(manifest) || !manifest.inline_data.empty() || manifest.object_bytes != 0 ||
        manifest.object_digest != 0) {
        return invalid("a tombstone has object fields");
    }
    return Status::ok();
}

void write_fixed(const Manifest& manifest, size_t node_count, size_t bytes, Writer& writer) {
    writer.u32(kManifestMagic);
    writer.u8(kManifestFormat);
    writer.u8(static_cast<uint8_t>(manifest.kind));
    writer.u16(static_cast<uint16_t>(manifest.key.size()));
    writer.u32(static_cast<uint32_t>(bytes));
    writer.u8(manifest.scheme.k);
    writer.u8(manifest.scheme.m);
    writer.u16(static_cast<uint16_t>(node_count));
    writer.u32(manifest.stripe_bytes);
    writer.u32(manifest.stripe_count());
    writer.u64(manifest.version.hlc);
    writer.u64(to_u64(manifest.version.node));
    writer.u64(manifest.created_ms);
    writer.u64(manifest.object_bytes);
    writer.u64(manifest.object_digest);
    writer.bytes(as_bytes(manifest.key));
}

// A hint is 0 for unknown, else 1 + the node's place in the table.
uint16_t hint_of(const std::vector<NodeKey>& nodes, NodeKey node) {
    if (node.is_zero()) return 0;
    const auto found = std::lower_bound(nodes.begin(), nodes.end(), node);
    SHOAL_ASSERT(found != nodes.end());
    SHOAL_ASSERT(*found == node);
    return static_cast<uint16_t>(1 + (found - nodes.begin()));
}

void write_stripes(const Manifest& manifest, const std::vector<NodeKey>& nodes, Writer& writer) {
    for (const NodeKey& node : nodes) {
        writer.u64(node.low);
        writer.u64(node.high);
    }
    const uint32_t chunk_count = manifest.scheme.chunk_count();
    for (uint32_t stripe = 0; stripe < manifest.stripe_count(); stripe++) {
        writer.u64(manifest.stripe_digests[stripe]);
        for (uint32_t chunk = 0; chunk < chunk_count; chunk++) {
            writer.u16(hint_of(nodes, manifest.chunk_node(stripe, chunk)));
        }
    }
}

FixedPart read_fixed(Reader& reader) {
    FixedPart fixed;
    reader.u32();  // The magic, already checked.
    fixed.format = reader.u8();
    fixed.kind = reader.u8();
    fixed.key_bytes = reader.u16();
    fixed.manifest_bytes = reader.u32();
    fixed.scheme.k = reader.u8();
    fixed.scheme.m = reader.u8();
    fixed.node_count = reader.u16();
    fixed.stripe_bytes = reader.u32();
    fixed.stripe_count = reader.u32();
    fixed.version.hlc = reader.u64();
    fixed.version.node = NodeId{reader.u64()};
    fixed.created_ms = reader.u64();
    fixed.object_bytes = reader.u64();
    fixed.object_digest = reader.u64();
    return fixed;
}

// The length, magic, format and checksum: everything that says whether the bytes are a whole,
// undamaged manifest of this format, before any field is believed.
Status check_envelope(ByteView source) {
    if (source.size() < kManifestFixedBytes + kChecksumBytes) {
        return corrupt(fmt::format("{} bytes is shorter than any manifest", source.size()));
    }
    if (decode_fixed32(source.data()) != kManifestMagic) return corrupt("bad magic");
    const auto format = static_cast<uint8_t>(source[4]);
    if (format != kManifestFormat) {
        return corrupt(fmt::format("format {} is not readable by this build", format));
    }
    if (source.size() > kManifestBytesMax) {
        return corrupt(
                fmt::format("{} bytes is over the limit of {}", source.size(), kManifestBytesMax));
    }
    const uint32_t manifest_bytes = decode_fixed32(source.data() + 8);
    if (manifest_bytes != source.size()) {
        return corrupt(fmt::format("{} bytes where it says {}", source.size(), manifest_bytes));
    }
    const size_t body_bytes = source.size() - kChecksumBytes;
    if (decode_fixed64(source.data() + body_bytes) != hash64(source.first(body_bytes))) {
        return corrupt("checksum mismatch");
    }
    return Status::ok();
}

Status check_fixed(const FixedPart& fixed, size_t source_bytes) {
    if (fixed.kind < static_cast<uint8_t>(ManifestKind::kInline) ||
        fixed.kind > static_cast<uint8_t>(ManifestKind::kTombstone)) {
        return corrupt(fmt::format("unknown kind {}", fixed.kind));
    }
    if (fixed.key_bytes < limits::kKeyBytesMin || fixed.key_bytes > limits::kKeyBytesMax) {
        return corrupt(fmt::format("key of {} bytes", fixed.key_bytes));
    }
    if (kManifestFixedBytes + fixed.key_bytes + kChecksumBytes > source_bytes) {
        return corrupt(fmt::format("a key of {} bytes in {} bytes", fixed.key_bytes, source_bytes));
    }
    if (fixed.version.hlc == 0) return corrupt("version 0");
    if (static_cast<ManifestKind>(fixed.kind) == ManifestKind::kStriped) return Status::ok();
    if (fixed.scheme != Scheme{} || fixed.node_count != 0 || fixed.stripe_bytes != 0 ||
        fixed.stripe_count != 0) {
        return corrupt("stripe fields in a manifest without stripes");
    }
    if (static_cast<ManifestKind>(fixed.kind) == ManifestKind::kTombstone &&
        (fixed.object_bytes != 0 || fixed.object_digest != 0)) {
        return corrupt("object fields in a tombstone");
    }
    if (static_cast<ManifestKind>(fixed.kind) == ManifestKind::kInline &&
        fixed.object_bytes > kInlineBytesMax) {
        return corrupt(fmt::format("{} inline bytes", fixed.object_bytes));
    }
    return Status::ok();
}

// Every count of a striped manifest against its bound and against the bytes there are, so
// that what is allocated next is at most what arrived.
Status check_striped_counts(const FixedPart& fixed, size_t source_bytes) {
    if (Status status = check_scheme(fixed.scheme); !status.is_ok()) {
        return corrupt(status.message());
    }
    if (Status status = check_stripe_bytes(fixed.stripe_bytes); !status.is_ok()) {
        return corrupt(status.message());
    }
    if (fixed.object_bytes == 0 ||
        fixed.object_bytes > striped_object_bytes_max(fixed.scheme, fixed.stripe_bytes)) {
        return corrupt(fmt::format("striped object of {} bytes", fixed.object_bytes));
    }
    if (fixed.stripe_count != stripe_count(fixed.object_bytes, fixed.stripe_bytes)) {
        return corrupt(
                fmt::format("{} stripes for {} bytes", fixed.stripe_count, fixed.object_bytes));
    }
    if (fixed.node_count > kManifestNodesMax) {
        return corrupt(fmt::format("{} nodes, over {}", fixed.node_count, kManifestNodesMax));
    }
    const size_t expected_bytes =
            kManifestFixedBytes + fixed.key_bytes + size_t{fixed.node_count} * kNodeKeyBytes +
            size_t{fixed.stripe_count} * stripe_entry_bytes(fixed.scheme) + kChecksumBytes;
    if (expected_bytes != source_bytes) {
        return corrupt(
                fmt::format("{} bytes where its counts make {}", source_bytes, expected_bytes));
    }
    return Status::ok();
}

Status read_node_table(Reader& reader, uint16_t node_count, std::vector<NodeKey>& nodes) {
    nodes.resize(node_count);
    for (uint16_t index = 0; index < node_count; index++) {
        NodeKey& node = nodes[index];
        node.low = reader.u64();
        node.high = reader.u64();
        if (node.is_zero()) return corrupt(fmt::format("node {} of the table is zero", index));
        // Strictly ascending: sorted, no duplicate, so there is one encoding.
        if (index > 0 && !(nodes[index - 1] < node)) {
            return corrupt(fmt::format("node {} of the table is out of order", index));
        }
    }
    return Status::ok();
}

Status read_stripes(Reader& reader, const FixedPart& fixed, Manifest& manifest) {
    std::vector<NodeKey> nodes;
    SHOAL_TRY(read_node_table(reader, fixed.node_count, nodes));
    std::vector<bool> used(nodes.size(), false);
    const uint32_t chunk_count = fixed.scheme.chunk_count();
    manifest.stripe_digests.resize(fixed.stripe_count);
    manifest.chunk_nodes.resize(size_t{fixed.stripe_count} * chunk_count);
    for (uint32_t stripe = 0; stripe < fixed.stripe_count; stripe++) {
        manifest.stripe_digests[stripe] = reader.u64();
        for (uint32_t chunk = 0; chunk < chunk_count; chunk++) {
            const uint16_t hint = reader.u16();
            if (hint == 0) continue;
            if (hint > nodes.size()) {
                return corrupt(fmt::format("stripe {} chunk {} names node {} of a table of {}",
                                           stripe,
                                           chunk,
                                           hint,
                                           nodes.size()));
            }
            used[hint - 1] = true;
            manifest.set_chunk_node(stripe, chunk, nodes[hint - 1]);
        }
    }
    if (std::find(used.begin(), used.end(), false) != used.end()) {
        return corrupt("a node in the table is named by no hint");
    }
    return Status::ok();
}

Status read_body(Reader& reader, const FixedPart& fixed, size_t source_bytes, Manifest& manifest) {
    if (manifest.kind == ManifestKind::kStriped) {
        SHOAL_TRY(check_striped_counts(fixed, source_bytes));
        return read_stripes(reader, fixed, manifest);
    }
    const size_t data_bytes = manifest.kind == ManifestKind::kInline ? fixed.object_bytes : 0;
    const size_t expected_bytes =
            kManifestFixedBytes + fixed.key_bytes + data_bytes + kChecksumBytes;
    if (expected_bytes != source_bytes) {
        return corrupt(
                fmt::format("{} bytes where its counts make {}", source_bytes, expected_bytes));
    }
    const ByteView data = reader.bytes(data_bytes);
    manifest.inline_data.assign(data.begin(), data.end());
    if (manifest.kind == ManifestKind::kInline && hash64(data) != fixed.object_digest) {
        return corrupt("inline data does not match the object digest");
    }
    return Status::ok();
}

// Every rule of check_manifest but the inline digest.
Status check_manifest_fields(const Manifest& manifest) {
    if (Status status = check_key(manifest.key); !status.is_ok()) {
        return invalid(status.message());
    }
    if (manifest.version.hlc == 0) return invalid("version 0");
    switch (manifest.kind) {
        case ManifestKind::kInline:
            return check_inline(manifest);
        case ManifestKind::kStriped:
            return check_striped(manifest);
        case ManifestKind::kTombstone:
            return check_tombstone(manifest);
    }
    return invalid(fmt::format("unknown kind {}", static_cast<uint8_t>(manifest.kind)));
}

}  // namespace

NodeKey Manifest::chunk_node(uint32_t stripe_index, uint32_t chunk_index) const {
    SHOAL_ASSERT(stripe_index < stripe_count());
    SHOAL_ASSERT(chunk_index < scheme.chunk_count());
    return chunk_nodes[size_t{stripe_index} * scheme.chunk_count() + chunk_index];
}

void Manifest::set_chunk_node(uint32_t stripe_index, uint32_t chunk_index, NodeKey node) {
    SHOAL_ASSERT(stripe_index < stripe_count());
    SHOAL_ASSERT(chunk_index < scheme.chunk_count());
    chunk_nodes[size_t{stripe_index} * scheme.chunk_count() + chunk_index] = node;
}

bool newer(const Manifest& a, const Manifest& b) {
    return a.version > b.version;
}

Manifest inline_manifest(std::string key, Version version, uint64_t created_ms, ByteView data) {
    return inline_manifest(std::move(key), version, created_ms, data, hash64(data));
}

Manifest inline_manifest(
        std::string key, Version version, uint64_t created_ms, ByteView data, uint64_t digest) {
    SHOAL_ASSERT(data.size() <= kInlineBytesMax);
    SHOAL_ASSERT_EXPENSIVE(digest == hash64(data));
    Manifest manifest{.kind = ManifestKind::kInline,
                      .key = std::move(key),
                      .version = version,
                      .created_ms = created_ms,
                      .object_bytes = data.size(),
                      .object_digest = digest};
    manifest.inline_data.assign(data.begin(), data.end());
    return manifest;
}

Manifest striped_manifest(StripedParameters parameters) {
    Manifest manifest{.kind = ManifestKind::kStriped,
                      .key = std::move(parameters.key),
                      .version = parameters.version,
                      .created_ms = parameters.created_ms,
                      .object_bytes = parameters.object_bytes,
                      .object_digest = parameters.object_digest,
                      .scheme = parameters.scheme,
                      .stripe_bytes = parameters.stripe_bytes};
    SHOAL_ASSERT(check_scheme(manifest.scheme).is_ok());
    SHOAL_ASSERT(check_stripe_bytes(manifest.stripe_bytes).is_ok());
    SHOAL_ASSERT(manifest.object_bytes >= 1);
    SHOAL_ASSERT(manifest.object_bytes <=
                 striped_object_bytes_max(manifest.scheme, manifest.stripe_bytes));
    const uint64_t stripes = stripe_count(manifest.object_bytes, manifest.stripe_bytes);
    manifest.stripe_digests.resize(stripes);
    manifest.chunk_nodes.resize(stripes * manifest.scheme.chunk_count());
    return manifest;
}

Manifest tombstone_manifest(std::string key, Version version, uint64_t created_ms) {
    return Manifest{.kind = ManifestKind::kTombstone,
                    .key = std::move(key),
                    .version = version,
                    .created_ms = created_ms};
}

Status check_manifest(const Manifest& manifest) {
    SHOAL_TRY(check_manifest_fields(manifest));
    return check_inline_digest(manifest);
}

size_t encoded_manifest_bytes(const Manifest& manifest) {
    SHOAL_ASSERT(check_manifest_fields(manifest).is_ok());
    return manifest_bytes(manifest, node_table(manifest).size());
}

void encode_manifest(const Manifest& manifest, Buffer& target) {
    SHOAL_ASSERT(check_manifest_fields(manifest).is_ok());
    SHOAL_ASSERT_EXPENSIVE(check_inline_digest(manifest).is_ok());
    const std::vector<NodeKey> nodes = node_table(manifest);
    SHOAL_ASSERT(nodes.size() <= kManifestNodesMax);
    const size_t bytes = manifest_bytes(manifest, nodes.size());
    SHOAL_ASSERT(bytes <= kManifestBytesMax);
    const size_t offset = target.size();
    target.reserve(offset + bytes);
    Writer writer(target);
    write_fixed(manifest, nodes.size(), bytes, writer);
    if (manifest.kind == ManifestKind::kInline) writer.bytes(manifest.inline_data);
    if (manifest.kind == ManifestKind::kStriped) write_stripes(manifest, nodes, writer);
    writer.u64(hash64(target.view().subspan(offset)));
    SHOAL_ASSERT(target.size() - offset == bytes);
    // Paired assertion: what is stored or sent decodes back.
    SHOAL_ASSERT_EXPENSIVE(decode_manifest(target.view().subspan(offset)).is_ok());
}

Result<Manifest> decode_manifest(ByteView source) {
    SHOAL_TRY(check_envelope(source));
    Reader reader(source.first(source.size() - kChecksumBytes));
    const FixedPart fixed = read_fixed(reader);
    SHOAL_TRY(check_fixed(fixed, source.size()));
    Manifest manifest{.kind = static_cast<ManifestKind>(fixed.kind),
                      .key = std::string(as_string_view(reader.bytes(fixed.key_bytes))),
                      .version = fixed.version,
                      .created_ms = fixed.created_ms,
                      .object_bytes = fixed.object_bytes,
                      .object_digest = fixed.object_digest,
                      .scheme = fixed.scheme,
                      .stripe_bytes = fixed.stripe_bytes};
    if (Status status = check_key(manifest.key); !status.is_ok()) {
        return corrupt(status.message());
    }
    SHOAL_TRY(read_body(reader, fixed, source.size(), manifest));
    SHOAL_ASSERT(!reader.failed());
    SHOAL_ASSERT(reader.remaining() == 0);
    // The counts were checked against the bytes, so what decoded is a manifest we could write.
    SHOAL_ASSERT_EXPENSIVE(check_manifest(manifest).is_ok());
    return manifest;
}

Result<ManifestHead> decode_manifest_head(ByteView source) {
    SHOAL_TRY(check_envelope(source));
    Reader reader(source.first(source.size() - kChecksumBytes));
    const FixedPart fixed = read_fixed(reader);
    SHOAL_TRY(check_fixed(fixed, source.size()));
    ManifestHead head{.kind = static_cast<ManifestKind>(fixed.kind),
                      .key = std::string(as_string_view(reader.bytes(fixed.key_bytes))),
                      .version = fixed.version,
                      .object_bytes = fixed.object_bytes,
                      .object_digest = fixed.object_digest};
    if (Status status = check_key(head.key); !status.is_ok()) return corrupt(status.message());
    return head;
}

}  // namespace shoal::object

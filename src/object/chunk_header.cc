#include "shoal/object/chunk_header.h"

#include <fmt/format.h>

#include "shoal/base/coding.h"
#include "shoal/base/hash.h"
#include "shoal/base/key_hash.h"

namespace shoal::object {
namespace {

// Flags: which of the object-wide facts the header knows. Every other bit is 0.
constexpr uint8_t kFlagSizeKnown = 0x01;
constexpr uint8_t kFlagDigestKnown = 0x02;
constexpr uint8_t kFlagsKnown = kFlagSizeKnown | kFlagDigestKnown;

constexpr size_t kKeyBytesOffset = 6;

Status invalid(std::string_view rule) {
    return Status::invalid_argument(fmt::format("chunk: {}", rule));
}

Status corrupt(std::string_view reason) {
    return Status::corruption(fmt::format("chunk: {}", reason));
}

Status check_identity(const ChunkHeader& header) {
    if (Status status = check_key(header.key); !status.is_ok()) {
        return invalid(status.message());
    }
    if (header.key_hash != key_hash(header.key)) return invalid("key hash does not match the key");
    if (header.version.hlc == 0) return invalid("version 0");
    if (Status status = check_scheme(header.scheme); !status.is_ok()) {
        return invalid(status.message());
    }
    if (Status status = check_stripe_bytes(header.stripe_bytes); !status.is_ok()) {
        return invalid(status.message());
    }
    if (header.chunk_index >= header.scheme.chunk_count()) {
        return invalid(fmt::format("chunk index {} of a {}+{} code",
                                   header.chunk_index,
                                   header.scheme.k,
                                   header.scheme.m));
    }
    return Status::ok();
}

// The stripe's place and sizes: the padding rule, the stripe index against the object's size
// if known (else against the largest object the code allows), and the last stripe's facts.
Status check_extent(const ChunkHeader& header) {
    if (header.stripe_plain_bytes == 0 || header.stripe_plain_bytes > header.stripe_bytes) {
        return invalid(fmt::format("stripe of {} bytes with {}-byte stripes",
                                   header.stripe_plain_bytes,
                                   header.stripe_bytes));
    }
    if (header.chunk_bytes != chunk_bytes_of(header.stripe_plain_bytes, header.scheme.k)) {
        return invalid(fmt::format("{}-byte chunks for a {}-byte stripe under k = {}",
                                   header.chunk_bytes,
                                   header.stripe_plain_bytes,
                                   header.scheme.k));
    }
    const uint64_t bytes_max = striped_object_bytes_max(header.scheme, header.stripe_bytes);
    const uint64_t stripe_end =
            stripe_offset(header.stripe_bytes, header.stripe_index) + header.stripe_plain_bytes;
    if (stripe_end > bytes_max) return invalid("stripe past the largest object a manifest takes");
    if (header.object_digest.has_value() && !header.object_bytes.has_value()) {
        return invalid("the digest is known but not the size");
    }
    bool is_last = header.stripe_plain_bytes < header.stripe_bytes;
    if (header.object_bytes.has_value()) {
        const uint64_t object_bytes = *header.object_bytes;
        if (object_bytes == 0 || object_bytes > bytes_max) {
            return invalid(fmt::format("object of {} bytes", object_bytes));
        }
        const uint32_t stripes = header.stripe_count();
        if (header.stripe_index >= stripes) {
            return invalid(fmt::format("stripe {} of {}", header.stripe_index, stripes));
        }
        if (header.stripe_plain_bytes !=
            stripe_plain_bytes(object_bytes, header.stripe_bytes, header.stripe_index)) {
            return invalid(fmt::format("stripe {} of a {}-byte object is not {} bytes",
                                       header.stripe_index,
                                       object_bytes,
                                       header.stripe_plain_bytes));
        }
        is_last = header.stripe_index + 1 == stripes;
    }
    // The last stripe is encoded only once the put has ended, when both are known.
    if (is_last && !header.object_digest.has_value()) {
        return invalid("the last stripe's chunk does not carry the size and digest");
    }
    return Status::ok();
}

struct FixedPart {
    uint8_t flags = 0;
    uint16_t key_bytes = 0;
    uint8_t reserved = 0;
    uint32_t stripe_count = 0;
    uint64_t object_bytes = 0;
    uint64_t object_digest = 0;
};

// Reads the fixed part into `header`, and the fields whose meaning depends on flags into
// `fixed`. The magic and format were checked before.
FixedPart read_fixed(Reader& reader, ChunkHeader& header) {
    FixedPart fixed;
    reader.u32();
    reader.u8();
    fixed.flags = reader.u8();
    fixed.key_bytes = reader.u16();
    header.scheme.k = reader.u8();
    header.scheme.m = reader.u8();
    header.chunk_index = reader.u8();
    fixed.reserved = reader.u8();
    header.stripe_index = reader.u32();
    fixed.stripe_count = reader.u32();
    header.stripe_bytes = reader.u32();
    header.stripe_plain_bytes = reader.u32();
    header.chunk_bytes = reader.u32();
    header.version.hlc = reader.u64();
    header.version.node = NodeId{reader.u64()};
    header.created_ms = reader.u64();
    header.key_hash = reader.u64();
    fixed.object_bytes = reader.u64();
    fixed.object_digest = reader.u64();
    header.stripe_digest = reader.u64();
    header.chunk_checksum = reader.u64();
    return fixed;
}

// The optional fields: absent ones are zero, so each header has one encoding.
Status apply_flags(const FixedPart& fixed, ChunkHeader& header) {
    if ((fixed.flags & ~kFlagsKnown) != 0 || fixed.reserved != 0) {
        return corrupt(fmt::format(
                "unknown flags {:#x} or reserved byte {:#x}", fixed.flags, fixed.reserved));
    }
    if ((fixed.flags & kFlagSizeKnown) != 0) {
        header.object_bytes = fixed.object_bytes;
    } else if (fixed.object_bytes != 0) {
        return corrupt("an unknown size that is not 0");
    }
    if ((fixed.flags & kFlagDigestKnown) != 0) {
        header.object_digest = fixed.object_digest;
    } else if (fixed.object_digest != 0) {
        return corrupt("an unknown digest that is not 0");
    }
    if (!header.object_bytes.has_value() && fixed.stripe_count != 0) {
        return corrupt("a stripe count without a size");
    }
    return Status::ok();
}

}  // namespace

uint32_t ChunkHeader::stripe_count() const {
    if (!object_bytes.has_value() || stripe_bytes == 0) return 0;
    return static_cast<uint32_t>(object::stripe_count(*object_bytes, stripe_bytes));
}

ChunkHeader chunk_header_for(const Manifest& manifest,
                             uint32_t stripe_index,
                             uint8_t chunk_index,
                             uint64_t chunk_checksum) {
    SHOAL_ASSERT(manifest.kind == ManifestKind::kStriped);
    SHOAL_ASSERT(stripe_index < manifest.stripe_count());
    SHOAL_ASSERT(chunk_index < manifest.scheme.chunk_count());
    const uint32_t plain_bytes =
            stripe_plain_bytes(manifest.object_bytes, manifest.stripe_bytes, stripe_index);
    return ChunkHeader{.key = manifest.key,
                       .key_hash = key_hash(manifest.key),
                       .version = manifest.version,
                       .created_ms = manifest.created_ms,
                       .scheme = manifest.scheme,
                       .stripe_bytes = manifest.stripe_bytes,
                       .stripe_index = stripe_index,
                       .stripe_plain_bytes = plain_bytes,
                       .chunk_bytes = chunk_bytes_of(plain_bytes, manifest.scheme.k),
                       .chunk_index = chunk_index,
                       .stripe_digest = manifest.stripe_digests[stripe_index],
                       .chunk_checksum = chunk_checksum,
                       .object_bytes = manifest.object_bytes,
                       .object_digest = manifest.object_digest};
}

Status check_chunk_header(const ChunkHeader& header) {
    SHOAL_TRY(check_identity(header));
    return check_extent(header);
}

size_t encoded_chunk_header_bytes(const ChunkHeader& header) {
    return kChunkHeaderFixedBytes + header.key.size() + kChecksumBytes;
}

void encode_chunk_header(const ChunkHeader& header, Buffer& target) {
    SHOAL_ASSERT(check_chunk_header(header).is_ok());
    const size_t offset = target.size();
    const size_t bytes = encoded_chunk_header_bytes(header);
    target.reserve(offset + bytes);
    Writer writer(target);
    const uint8_t flags = (header.object_bytes.has_value() ? kFlagSizeKnown : 0) |
                          (header.object_digest.has_value() ? kFlagDigestKnown : 0);
    writer.u32(kChunkMagic);
    writer.u8(kChunkFormat);
    writer.u8(flags);
    writer.u16(static_cast<uint16_t>(header.key.size()));
    writer.u8(header.scheme.k);
    writer.u8(header.scheme.m);
    writer.u8(header.chunk_index);
    writer.u8(0);  // Reserved.
    writer.u32(header.stripe_index);
    writer.u32(header.stripe_count());
    writer.u32(header.stripe_bytes);
    writer.u32(header.stripe_plain_bytes);
    writer.u32(header.chunk_bytes);
    writer.u64(header.version.hlc);
    writer.u64(to_u64(header.version.node));
    writer.u64(header.created_ms);
    writer.u64(header.key_hash);
    writer.u64(header.object_bytes.value_or(0));
    writer.u64(header.object_digest.value_or(0));
    writer.u64(header.stripe_digest);
    writer.u64(header.chunk_checksum);
    writer.bytes(as_bytes(header.key));
    writer.u64(hash64(target.view().subspan(offset)));
    SHOAL_ASSERT(target.size() - offset == bytes);
    // Paired assertion: what is stored decodes back.
    SHOAL_ASSERT_EXPENSIVE(decode_chunk_header(target.view().subspan(offset)).is_ok());
}

Result<DecodedChunkHeader> decode_chunk_header(ByteView stored) {
    constexpr size_t kHeaderBytesMin =
            kChunkHeaderFixedBytes + limits::kKeyBytesMin + kChecksumBytes;
    if (stored.size() < kHeaderBytesMin) {
        return corrupt(fmt::format("{} bytes is shorter than any header", stored.size()));
    }
    if (decode_fixed32(stored.data()) != kChunkMagic) return corrupt("bad magic");
    const auto format = static_cast<uint8_t>(stored[4]);
    if (format != kChunkFormat) {
        return corrupt(fmt::format("format {} is not readable by this build", format));
    }
    const uint16_t key_bytes = decode_fixed16(stored.data() + kKeyBytesOffset);
    if (key_bytes < limits::kKeyBytesMin || key_bytes > limits::kKeyBytesMax) {
        return corrupt(fmt::format("key of {} bytes", key_bytes));
    }
    const size_t checked_bytes = kChunkHeaderFixedBytes + key_bytes;
    const size_t header_bytes = checked_bytes + kChecksumBytes;
    if (stored.size() < header_bytes) {
        return corrupt(fmt::format(
                "{} bytes is shorter than its {}-byte header", stored.size(), header_bytes));
    }
    if (decode_fixed64(stored.data() + checked_bytes) != hash64(stored.first(checked_bytes))) {
        return corrupt("header checksum mismatch");
    }
    Reader reader(stored.first(checked_bytes));
    DecodedChunkHeader decoded{.data_offset = header_bytes};
    ChunkHeader& header = decoded.header;
    const FixedPart fixed = read_fixed(reader, header);
    header.key = std::string(as_string_view(reader.bytes(key_bytes)));
    SHOAL_ASSERT(!reader.failed());
    SHOAL_ASSERT(reader.remaining() == 0);
    SHOAL_TRY(apply_flags(fixed, header));
    if (Status status = check_chunk_header(header); !status.is_ok()) {
        return Status::corruption(status.message());
    }
    // Only now is the size known to be in bounds, so that the count derived from it is sound.
    if (fixed.stripe_count != header.stripe_count()) {
        return corrupt(
                fmt::format("{} stripes for {} bytes", fixed.stripe_count, fixed.object_bytes));
    }
    return decoded;
}

Status verify_chunk(const ChunkHeader& header, ByteView data) {
    if (data.size() != header.chunk_bytes) {
        return corrupt(fmt::format("stripe {} chunk {}: {} bytes where the header says {}",
                                   header.stripe_index,
                                   header.chunk_index,
                                   data.size(),
                                   header.chunk_bytes));
    }
    if (hash64(data) != header.chunk_checksum) {
        return corrupt(fmt::format(
                "stripe {} chunk {}: checksum mismatch", header.stripe_index, header.chunk_index));
    }
    return Status::ok();
}

Status check_chunk_matches(const ChunkHeader& header,
                           const Manifest& manifest,
                           uint32_t stripe_index,
                           uint8_t chunk_index) {
    SHOAL_ASSERT(manifest.kind == ManifestKind::kStriped);
    SHOAL_ASSERT(stripe_index < manifest.stripe_count());
    const ChunkHeader expected =
            chunk_header_for(manifest, stripe_index, chunk_index, header.chunk_checksum);
    const auto mismatch = [&](std::string_view field) {
        return corrupt(fmt::format("stripe {} chunk {}: {} does not match its manifest",
                                   stripe_index,
                                   chunk_index,
                                   field));
    };
    if (header.key != expected.key) return mismatch("key");
    if (header.version != expected.version) return mismatch("version");
    if (header.created_ms != expected.created_ms) return mismatch("creation time");
    if (header.scheme != expected.scheme) return mismatch("code");
    if (header.stripe_bytes != expected.stripe_bytes) return mismatch("stripe size");
    if (header.stripe_index != stripe_index) return mismatch("stripe index");
    if (header.chunk_index != chunk_index) return mismatch("chunk index");
    if (header.stripe_plain_bytes != expected.stripe_plain_bytes) return mismatch("stripe length");
    if (header.stripe_digest != expected.stripe_digest) return mismatch("stripe digest");
    if (header.object_bytes.value_or(manifest.object_bytes) != manifest.object_bytes) {
        return mismatch("object size");
    }
    if (header.object_digest.value_or(manifest.object_digest) != manifest.object_digest) {
        return mismatch("object digest");
    }
    return Status::ok();
}

ChunkId chunk_id_of(const ChunkHeader& header) {
    return ChunkId{.key_hash = header.key_hash,
                   .version = header.version,
                   .stripe_index = header.stripe_index,
                   .chunk_index = header.chunk_index};
}

}  // namespace shoal::object

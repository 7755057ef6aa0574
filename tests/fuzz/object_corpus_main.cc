// Writes the seed corpus for object_fuzz: manifests of each kind, stored chunks of a declared
// and a streaming put, store keys of both namespaces, and malformed inputs near the edges the
// decoders check, each behind the mode byte object_fuzz reads first (0 manifest, 1 chunk,
// 2 store key; 3 and 4 the same as 0 and 1 with the checksums rewritten by the harness).
//
// Usage: object_corpus_generate <directory>   (the committed corpus is tests/fuzz/corpus/object)
// Not a test: run it when the object formats change and commit what it writes.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "shoal/base/bytes.h"
#include "shoal/base/coding.h"
#include "shoal/base/hash.h"
#include "shoal/object/chunk_header.h"
#include "shoal/object/manifest.h"
#include "shoal/object/store_key.h"

namespace shoal::object {
namespace {

namespace fs = std::filesystem;

constexpr Version kVersion{.hlc = (uint64_t{1'700'000'000'000} << 16) + 7, .node = NodeId{42}};
constexpr uint32_t kStripe = kStripeBytesMin;

void write_one(const fs::path& path, uint8_t mode, ByteView bytes) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.put(static_cast<char>(mode));
    file.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    if (!file) {
        fmt::print(stderr, "object_corpus_generate: cannot write {}\n", path.string());
        std::exit(1);
    }
}

// Manifests and chunks are written twice: as they are, and behind the mode that has the
// harness reseal them, from which the fuzzer mutates fields without breaking the checksum.
void write_file(const fs::path& path, uint8_t mode, ByteView bytes) {
    write_one(path, mode, bytes);
    if (mode <= 1) write_one(path.string() + "_resealed", static_cast<uint8_t>(mode + 3), bytes);
}

Manifest striped() {
    Manifest manifest = striped_manifest({.key = "photos/cat.jpg",
                                          .version = kVersion,
                                          .created_ms = 1'700'000'000'000,
                                          .object_bytes = 2 * kStripe + 100,
                                          .object_digest = 0x0123456789abcdef,
                                          .scheme = {.k = 4, .m = 2},
                                          .stripe_bytes = kStripe});
    for (uint32_t stripe = 0; stripe < manifest.stripe_count(); stripe++) {
        manifest.stripe_digests[stripe] = 0x1111111111111111 * (stripe + 1);
        for (uint32_t chunk = 0; chunk < 6; chunk++) {
            if (chunk == 5) continue;  // Unknown.
            manifest.set_chunk_node(stripe, chunk, {.high = chunk % 3, .low = 1 + stripe});
        }
    }
    return manifest;
}

// Recomputes the trailing checksum, so the decoder's checks behind it are reached.
Buffer resealed(const Buffer& bytes, size_t checksum_offset) {
    Buffer copy = bytes.clone();
    encode_fixed64(copy.data() + checksum_offset, hash64(copy.view().first(checksum_offset)));
    return copy;
}

void write_manifests(const fs::path& directory) {
    Buffer bytes;
    encode_manifest(striped(), bytes);
    write_file(directory / "manifest_striped", 0, bytes.view());
    write_file(directory / "manifest_truncated", 0, bytes.view().first(bytes.size() - 1));
    Buffer count = bytes.clone();
    encode_fixed16(count.data() + 14, 0xFFFF);  // node_count over its limit.
    write_file(directory / "manifest_node_count_over", 0, resealed(count, count.size() - 8).view());
    Buffer stripes = bytes.clone();
    encode_fixed32(stripes.data() + 20, 1000);
    write_file(directory / "manifest_stripe_count_wrong",
               0,
               resealed(stripes, stripes.size() - 8).view());

    const std::string text = "the quick brown fox";
    Buffer inline_bytes;
    encode_manifest(inline_manifest("notes/fox.txt", kVersion, 77, as_bytes(text)), inline_bytes);
    write_file(directory / "manifest_inline", 0, inline_bytes.view());
    Buffer empty_bytes;
    encode_manifest(inline_manifest("empty", kVersion, 0, {}), empty_bytes);
    write_file(directory / "manifest_inline_empty", 0, empty_bytes.view());
    Buffer tombstone;
    encode_manifest(tombstone_manifest("photos/cat.jpg", kVersion, 78), tombstone);
    write_file(directory / "manifest_tombstone", 0, tombstone.view());
    Buffer kind = tombstone.clone();
    kind[5] = std::byte{1};  // An inline object with no data.
    write_file(directory / "manifest_kind_changed", 0, resealed(kind, kind.size() - 8).view());
}

void write_chunks(const fs::path& directory) {
    const Manifest manifest = striped();
    for (const auto& [name, stripe, chunk] : {std::tuple{"chunk_first", 0u, uint8_t{0}},
                                              std::tuple{"chunk_last_parity", 2u, uint8_t{5}}}) {
        ChunkHeader header = chunk_header_for(manifest, stripe, chunk, 0);
        const std::vector<std::byte> data(header.chunk_bytes, std::byte{0x5a});
        header.chunk_checksum = hash64(data);
        Buffer bytes;
        encode_chunk_header(header, bytes);
        bytes.append(data);
        write_file(directory / name, 1, bytes.view());
        write_file(directory / fmt::format("{}_header_only", name),
                   1,
                   bytes.view().first(encoded_chunk_header_bytes(header)));
    }
    ChunkHeader streaming = chunk_header_for(manifest, 1, 2, 0);
    streaming.object_bytes.reset();
    streaming.object_digest.reset();
    Buffer bytes;
    encode_chunk_header(streaming, bytes);
    write_file(directory / "chunk_streaming", 1, bytes.view());
    const size_t checksum_offset = bytes.size() - 8;
    Buffer flags = bytes.clone();
    flags[5] = std::byte{0x80};
    write_file(directory / "chunk_unknown_flags", 1, resealed(flags, checksum_offset).view());
    Buffer padding = bytes.clone();
    encode_fixed32(padding.data() + 28, 16385);  // Not ceil(plain / k): refused.
    write_file(directory / "chunk_padding_wrong", 1, resealed(padding, checksum_offset).view());
}

void write_store_keys(const fs::path& directory) {
    write_file(directory / "store_key_manifest", 2, as_bytes(manifest_store_key("photos/cat.jpg")));
    const ChunkId chunk{.key_hash = 0x0102030405060708,
                        .version = kVersion,
                        .stripe_index = 3,
                        .chunk_index = 5};
    const std::string key = chunk_store_key(chunk);
    write_file(directory / "store_key_chunk", 2, as_bytes(key));
    write_file(directory / "store_key_chunk_short", 2, as_bytes(key).first(key.size() - 1));
    write_file(directory / "store_key_unknown", 2, as_bytes(std::string_view("\x07key")));
}

}  // namespace
}  // namespace shoal::object

int main(int argc, char** argv) {
    if (argc != 2) {
        fmt::print(stderr, "usage: object_corpus_generate <directory>\n");
        return 2;
    }
    const std::filesystem::path directory(argv[1]);
    std::filesystem::create_directories(directory);
    shoal::object::write_manifests(directory);
    shoal::object::write_chunks(directory);
    shoal::object::write_store_keys(directory);
    return 0;
}

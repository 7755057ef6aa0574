#include "shoal/coordinator/collect.h"

#include "shoal/base/key_hash.h"
#include "shoal/object/layout.h"

namespace shoal::coordinator {
namespace {

void count_collection(OperationStats& stats, const Status& status) {
    if (status.is_ok()) {
        stats.chunks_collected += 1;
    } else {
        stats.chunk_collections_failed += 1;
    }
}

}  // namespace

void collect_chunk(Peers& peers,
                   const NodeKey& node,
                   const object::ChunkId& chunk,
                   OperationStats& stats) {
    peers.delete_chunk(
            node, chunk, [&stats](const Status& status) { count_collection(stats, status); });
}

void collect_chunks(Peers& peers,
                    const Layout& layout,
                    const object::Manifest& superseded,
                    OperationStats& stats) {
    if (superseded.kind != object::ManifestKind::kStriped) return;
    const uint64_t key_hash = shoal::key_hash(superseded.key);
    for (uint32_t stripe = 0; stripe < superseded.stripe_count(); ++stripe) {
        const std::vector<NodeKey> candidates = layout.stripe_candidates(superseded.key, stripe);
        for (uint32_t chunk = 0; chunk < superseded.scheme.chunk_count(); ++chunk) {
            const NodeKey named = node_key_of(superseded.chunk_node(stripe, chunk));
            // A handed-off chunk may have gone back to its owner since (HandBack): ask both.
            const NodeKey owner =
                    chunk < layout.table().owners_per_partition() && chunk < candidates.size()
                            ? candidates[chunk]
                            : NodeKey{};
            const object::ChunkId id{.key_hash = key_hash,
                                     .version = superseded.version,
                                     .stripe_index = stripe,
                                     .chunk_index = static_cast<uint8_t>(chunk)};
            if (named != NodeKey{}) collect_chunk(peers, named, id, stats);
            if (owner != NodeKey{} && owner != named) collect_chunk(peers, owner, id, stats);
        }
    }
}

}  // namespace shoal::coordinator

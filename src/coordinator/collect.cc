#include "shoal/coordinator/collect.h"

#include <memory>
#include <utility>
#include <vector>

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

// Where each chunk of a striped manifest may be: the node it names and its owner.
std::vector<std::pair<NodeKey, object::ChunkId>> deletes_of(const Layout& layout,
                                                            const object::Manifest& superseded) {
    std::vector<std::pair<NodeKey, object::ChunkId>> deletes;
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
            if (named != NodeKey{}) deletes.emplace_back(named, id);
            if (owner != NodeKey{} && owner != named) deletes.emplace_back(owner, id);
        }
    }
    return deletes;
}

struct Waiting {
    size_t deletes = 0;
    std::function<void()> answered;
};

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
                    OperationStats& stats,
                    std::function<void()> answered) {
    std::vector<std::pair<NodeKey, object::ChunkId>> deletes;
    if (superseded.kind == object::ManifestKind::kStriped) deletes = deletes_of(layout, superseded);
    if (deletes.empty()) {
        if (answered) answered();
        return;
    }
    auto waiting = std::make_shared<Waiting>(
            Waiting{.deletes = deletes.size(), .answered = std::move(answered)});
    for (const auto& [node, id] : deletes) {
        peers.delete_chunk(node, id, [&stats, waiting](const Status& status) {
            count_collection(stats, status);
            waiting->deletes -= 1;
            if (waiting->deletes == 0 && waiting->answered) waiting->answered();
        });
    }
}

}  // namespace shoal::coordinator

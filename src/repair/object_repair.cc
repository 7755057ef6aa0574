#include "shoal/repair/object_repair.h"

#include <algorithm>
#include <bit>
#include <span>
#include <utility>

#include "shoal/base/hash.h"
#include "shoal/base/key_hash.h"
#include "shoal/coordinator/collect.h"
#include "shoal/erasure/stripe.h"
#include "shoal/object/chunk_header.h"

namespace shoal::repair {

using coordinator::node_key_of;
using coordinator::NodeKey;

void ObjectRepair::start(coordinator::Peers& peers,
                         std::shared_ptr<const coordinator::Layout> layout,
                         Target target,
                         RepairStats& stats,
                         Pace pace,
                         Done done) {
    auto repair = std::make_shared<ObjectRepair>(
            peers, std::move(layout), std::move(target), stats, std::move(pace), std::move(done));
    repair->read_manifests();
}

ObjectRepair::ObjectRepair(coordinator::Peers& peers,
                           std::shared_ptr<const coordinator::Layout> layout,
                           Target target,
                           RepairStats& stats,
                           Pace pace,
                           Done done)
    : peers_(peers),
      layout_(std::move(layout)),
      key_(std::move(target.key)),
      holder_(target.holder),
      stats_(stats),
      pace_(std::move(pace)),
      done_(std::move(done)) {}

// Every owner is asked, not a quorum: the point is to find those that lag. The holder, if
// no owner, is asked last: after a layout change it may be the only one with a copy.
void ObjectRepair::read_manifests() {
    stats_.objects_checked += 1;
    std::vector<NodeKey> asked = layout_->manifest_owners(key_);
    SHOAL_ASSERT(!asked.empty());
    if (holder_.has_value() && std::find(asked.begin(), asked.end(), *holder_) == asked.end()) {
        asked.push_back(*holder_);
    }
    auto answers = std::make_shared<std::vector<Result<std::optional<object::Manifest>>>>(
            asked.size(), Status::unavailable("not answered"));
    auto waiting = std::make_shared<size_t>(asked.size());
    for (size_t index = 0; index < asked.size(); ++index) {
        peers_.get_manifest(asked[index],
                            key_,
                            [self = shared_from_this(), answers, waiting, index](
                                    Result<std::optional<object::Manifest>> manifest) {
                                (*answers)[index] = std::move(manifest);
                                *waiting -= 1;
                                if (*waiting == 0) self->on_manifests(*answers);
                            });
    }
}

void ObjectRepair::on_manifests(
        const std::vector<Result<std::optional<object::Manifest>>>& answers) {
    for (const auto& answer : answers) {
        if (!answer.is_ok() || !answer.value().has_value()) continue;
        if (!manifest_.has_value() || object::newer(*answer.value(), *manifest_)) {
            manifest_ = *answer.value();
        }
    }
    if (!manifest_.has_value()) {
        call_done();
        return;
    }
    const std::vector<NodeKey> owners = layout_->manifest_owners(key_);
    note_superseded(std::span(answers).first(std::min(owners.size(), answers.size())));
    // A holder outside the owners keeps a copy from another layout, which a node still on that
    // layout may read: nothing is collected while one answers.
    if (answers.size() > owners.size() && answers.back().is_ok() &&
        answers.back().value().has_value()) {
        owners_current_ = false;
    }
    auto encoded = std::make_shared<Buffer>();
    object::encode_manifest(*manifest_, *encoded);
    for (size_t index = 0; index < owners.size() && index < answers.size(); ++index) {
        const auto& answer = answers[index];
        // An owner that did not answer may hold it: it is left for the next pass. One whose
        // copy failed its checks lacks it.
        if (!answer.is_ok() && answer.status().code() != Code::kCorruption) {
            owners_current_ = false;
            continue;
        }
        if (answer.is_ok() && answer.value().has_value() &&
            !object::newer(*manifest_, *answer.value())) {
            continue;
        }
        in_flight_ += 1;
        peers_.put_manifest(
                owners[index], encoded, [self = shared_from_this()](const Status& status) {
                    self->in_flight_ -= 1;
                    if (status.is_ok()) {
                        self->stats_.manifests_repaired += 1;
                    } else {
                        self->owners_current_ = false;
                    }
                    self->start_stripe();
                });
    }
    if (in_flight_ == 0) start_stripe();
}

// The older striped versions among the answers, each once. Inline ones and tombstones have
// no chunks.
void ObjectRepair::note_superseded(
        std::span<const Result<std::optional<object::Manifest>>> answers) {
    for (const auto& answer : answers) {
        if (!answer.is_ok() || !answer.value().has_value()) continue;
        const object::Manifest& held = *answer.value();
        if (held.kind != object::ManifestKind::kStriped || !object::newer(*manifest_, held)) {
            continue;
        }
        const bool seen = std::any_of(
                superseded_.begin(), superseded_.end(), [&](const object::Manifest& other) {
                    return other.version == held.version;
                });
        if (!seen) superseded_.push_back(held);
    }
}

// Stripes go one at a time, each once the calls of the one before are answered.
void ObjectRepair::start_stripe() {
    if (in_flight_ > 0) return;
    if (manifest_->kind != object::ManifestKind::kStriped || stripe_ >= manifest_->stripe_count()) {
        finish();
        return;
    }
    if (!codec_.has_value()) {
        Result<erasure::Codec> codec =
                erasure::Codec::make(manifest_->scheme.k, manifest_->scheme.m);
        if (!codec.is_ok()) {
            call_done();
            return;
        }
        codec_.emplace(std::move(codec).value());
    }
    if (pace_ && !paced_) {
        const uint32_t plain_bytes = object::stripe_plain_bytes(
                manifest_->object_bytes, manifest_->stripe_bytes, stripe_);
        const uint64_t bytes = uint64_t{manifest_->scheme.chunk_count()} *
                               object::chunk_bytes_of(plain_bytes, manifest_->scheme.k);
        const bool now = pace_(bytes, [self = shared_from_this()] {
            self->paced_ = true;
            self->start_stripe();
        });
        if (!now) return;
    }
    paced_ = false;
    candidates_ = layout_->stripe_candidates(key_, stripe_);
    chunks_.clear();
    chunks_.resize(manifest_->scheme.chunk_count());
    for (uint32_t index = 0; index < manifest_->scheme.chunk_count(); ++index) {
        NodeKey node = node_key_of(manifest_->chunk_node(stripe_, index));
        if (node == NodeKey{} && index < candidates_.size()) node = candidates_[index];
        ask_chunk(index, node);
    }
    if (in_flight_ == 0) on_stripe_read();
}

void ObjectRepair::ask_chunk(uint32_t chunk_index, const NodeKey& node) {
    ChunkRead& read = chunks_[chunk_index];
    read.node = node;
    if (node == NodeKey{}) {
        read.found = Found::kUnknown;
        return;
    }
    in_flight_ += 1;
    peers_.get_chunk(node,
                     chunk_id(chunk_index),
                     [self = shared_from_this(), chunk_index](Result<Buffer> record) {
                         self->in_flight_ -= 1;
                         self->on_chunk(chunk_index, std::move(record));
                         if (self->in_flight_ == 0) self->on_stripe_read();
                     });
}

// A chunk the node the manifest names lacks, or cannot give, is asked of its owner under the
// current layout, as a get does: it may have been handed back, or that node may be gone.
void ObjectRepair::on_chunk(uint32_t chunk_index, Result<Buffer> record) {
    ChunkRead& read = chunks_[chunk_index];
    if (record.is_ok()) {
        stats_.bytes_read += record.value().size();
        read.record = std::move(record).value();
        read.found = check_chunk(chunk_index, read);
        if (read.found == Found::kGood) return;
    } else {
        read.found = found_of(record.status());
    }
    const bool has_owner = chunk_index < layout_->table().owners_per_partition() &&
                           chunk_index < candidates_.size();
    if (has_owner && !read.asked_owner && candidates_[chunk_index] != read.node) {
        read.asked_owner = true;
        read.found = Found::kAsking;
        ask_chunk(chunk_index, candidates_[chunk_index]);
    }
}

// The store refuses a record whose own checksums fail with kCorruption: that copy is bad,
// not merely out of reach.
ObjectRepair::Found ObjectRepair::found_of(const Status& failure) {
    switch (failure.code()) {
        case Code::kNotFound:
            return Found::kMissing;
        case Code::kCorruption:
            return Found::kCorrupt;
        default:
            return Found::kUnknown;
    }
}

ObjectRepair::Found ObjectRepair::check_chunk(uint32_t chunk_index, ChunkRead& read) const {
    Result<object::DecodedChunkHeader> decoded = object::decode_chunk_header(read.record.view());
    if (!decoded.is_ok()) return Found::kCorrupt;
    const object::ChunkHeader& header = decoded.value().header;
    Status status = object::check_chunk_matches(
            header, *manifest_, stripe_, static_cast<uint8_t>(chunk_index));
    if (status.is_ok()) {
        status = object::verify_chunk(header,
                                      read.record.view().subspan(decoded.value().data_offset));
    }
    if (!status.is_ok()) return Found::kCorrupt;
    read.data_offset = decoded.value().data_offset;
    return Found::kGood;
}

void ObjectRepair::on_stripe_read() {
    erasure::ChunkMask good = 0;
    erasure::ChunkMask bad = 0;
    for (uint32_t index = 0; index < chunks_.size(); ++index) {
        const Found found = chunks_[index].found;
        if (found == Found::kGood) good |= erasure::chunk_bit(index);
        if (found == Found::kMissing || found == Found::kCorrupt) bad |= erasure::chunk_bit(index);
        if (found == Found::kUnknown) {
            stats_.chunks_unknown += 1;
            newest_whole_ = false;
        }
    }
    stats_.chunks_checked += static_cast<uint64_t>(std::popcount(good));
    auto rebuilt = std::make_shared<std::vector<Buffer>>(chunks_.size());
    if (bad != 0 && static_cast<uint32_t>(std::popcount(good)) < manifest_->scheme.k) {
        stats_.stripes_unrecoverable += 1;
        newest_whole_ = false;
    } else if (bad != 0) {
        if (rebuild(*rebuilt, good).is_ok()) {
            write_rebuilt(rebuilt);
        } else {
            stats_.chunk_rebuilds_failed += static_cast<uint64_t>(std::popcount(bad));
            newest_whole_ = false;
        }
    }
    if (in_flight_ > 0) return;
    stripe_ += 1;
    start_stripe();
}

// Every chunk not good, from the good ones; the data must match the stripe's digest, so that
// nothing is written from chunks that agree with their checksums but not with each other.
Status ObjectRepair::rebuild(std::vector<Buffer>& rebuilt, erasure::ChunkMask good) {
    const uint32_t k = manifest_->scheme.k;
    const uint32_t plain_bytes =
            object::stripe_plain_bytes(manifest_->object_bytes, manifest_->stripe_bytes, stripe_);
    const size_t chunk_bytes = object::chunk_bytes_of(plain_bytes, manifest_->scheme.k);
    std::vector<MutableByteView> views(chunks_.size());
    for (uint32_t index = 0; index < chunks_.size(); ++index) {
        if ((good & erasure::chunk_bit(index)) != 0) {
            views[index] = chunks_[index].record.mutable_view().subspan(chunks_[index].data_offset,
                                                                        chunk_bytes);
        } else {
            rebuilt[index].resize(chunk_bytes);
            views[index] = rebuilt[index].mutable_view();
        }
    }
    SHOAL_TRY(codec_->reconstruct(views, good));
    const std::vector<ByteView> data(views.begin(), views.begin() + k);
    SHOAL_TRY_ASSIGN(const std::vector<ByteView> pieces,
                     erasure::stripe_payloads(data, plain_bytes));
    Hasher64 digest;
    for (const ByteView piece : pieces) {
        digest.update(piece);
    }
    if (digest.digest() != manifest_->stripe_digests[stripe_]) {
        return Status::corruption("repair: the rebuilt stripe fails its digest");
    }
    return Status::ok();
}

// A chunk goes to its owner under the current layout; one past the owners (a code wider than
// the cluster's) back to where it was looked for.
void ObjectRepair::write_rebuilt(const std::shared_ptr<std::vector<Buffer>>& rebuilt) {
    const uint32_t owners = layout_->table().owners_per_partition();
    for (uint32_t index = 0; index < chunks_.size(); ++index) {
        const ChunkRead& read = chunks_[index];
        if (read.found != Found::kMissing && read.found != Found::kCorrupt) continue;
        const NodeKey owner =
                index < owners && index < candidates_.size() ? candidates_[index] : read.node;
        if (read.found == Found::kMissing) {
            write_chunk(index, owner, rebuilt);
            continue;
        }
        // A store keeps the copy it holds of a chunk id: the corrupt one must go first.
        in_flight_ += 1;
        peers_.delete_chunk(
                read.node,
                chunk_id(index),
                [self = shared_from_this(), index, owner, rebuilt](const Status& status) {
                    if (status.is_ok()) {
                        self->write_chunk(index, owner, rebuilt);
                    } else {
                        self->stats_.chunk_rebuilds_failed += 1;
                        self->newest_whole_ = false;
                    }
                    self->write_answered();
                });
    }
}

void ObjectRepair::write_chunk(uint32_t chunk_index,
                               const NodeKey& owner,
                               const std::shared_ptr<std::vector<Buffer>>& rebuilt) {
    const ByteView data = (*rebuilt)[chunk_index].view();
    const object::ChunkHeader header = object::chunk_header_for(
            *manifest_, stripe_, static_cast<uint8_t>(chunk_index), hash64(data));
    auto encoded = std::make_shared<Buffer>();
    object::encode_chunk_header(header, *encoded);
    in_flight_ += 1;
    peers_.put_chunk(owner,
                     coordinator::OutgoingChunk{.id = chunk_id(chunk_index),
                                                .header = std::move(encoded),
                                                .data = data,
                                                .owner = rebuilt},
                     [self = shared_from_this()](const Status& status) {
                         if (status.is_ok()) {
                             self->stats_.chunks_rebuilt += 1;
                         } else {
                             self->stats_.chunk_rebuilds_failed += 1;
                             self->newest_whole_ = false;
                         }
                         self->write_answered();
                     });
}

// The stripe is done once its last write is answered.
void ObjectRepair::write_answered() {
    in_flight_ -= 1;
    if (in_flight_ > 0) return;
    stripe_ += 1;
    start_stripe();
}

// Last, once the stripes are done: every manifest put has been answered, so whether every
// owner holds the newest, and whether it is whole, is known.
void ObjectRepair::finish() {
    if (finishing_) return;
    finishing_ = true;
    // A read may still choose one of them; or the newest is not whole, and an older version
    // may hold the only good copy of some bytes.
    if (!owners_current_ || !newest_whole_) superseded_.clear();
    collect_superseded();
}

void ObjectRepair::collect_superseded() {
    if (superseded_.empty()) {
        call_done();
        return;
    }
    const object::Manifest superseded = std::move(superseded_.back());
    superseded_.pop_back();
    stats_.versions_collected += 1;
    coordinator::collect_chunks(
            peers_, *layout_, superseded, collections_, [self = shared_from_this()] {
                self->stats_.chunks_collected +=
                        std::exchange(self->collections_.chunks_collected, 0);
                self->stats_.chunk_collections_failed +=
                        std::exchange(self->collections_.chunk_collections_failed, 0);
                self->collect_superseded();
            });
}

void ObjectRepair::call_done() {
    if (!done_) return;
    Done done = std::move(done_);
    done_ = nullptr;
    done();
}

object::ChunkId ObjectRepair::chunk_id(uint32_t chunk_index) const {
    return object::ChunkId{.key_hash = shoal::key_hash(key_),
                           .version = manifest_->version,
                           .stripe_index = stripe_,
                           .chunk_index = static_cast<uint8_t>(chunk_index)};
}

}  // namespace shoal::repair

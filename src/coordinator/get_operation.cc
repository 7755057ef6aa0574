#include "shoal/coordinator/get_operation.h"

#include <bit>

#include <fmt/format.h>

#include "shoal/base/key_hash.h"
#include "shoal/coordinator/manifest_quorum.h"
#include "shoal/erasure/stripe.h"
#include "shoal/object/chunk_header.h"

namespace shoal::coordinator {

// One stripe being read: the chunks asked for, those that came back good, and the stripe's
// plain bytes once assembled.
struct GetOperation::StripeRead {
    uint32_t index = 0;
    uint32_t plain_bytes = 0;
    std::vector<NodeKey> candidates;
    std::vector<Buffer> records;       // Per chunk index; the good ones hold their record.
    std::vector<size_t> data_offsets;  // Where each good record's data starts.
    erasure::ChunkMask asked = 0;      // Chunks asked for, answered or not.
    erasure::ChunkMask good = 0;       // Chunks that passed every check.
    erasure::ChunkMask at_owner = 0;   // Asked of the owner after the named node lacked them.
    uint32_t in_flight = 0;
    std::optional<Status> first_failure;
    std::shared_ptr<const Assembled> plain;  // Set once assembled.
};

// A stripe's plain bytes as views of the chunk records (and of any chunks rebuilt), which it
// keeps alive: the client is sent these views, with no copy into one buffer.
struct GetOperation::Assembled {
    std::vector<Buffer> records;
    std::vector<Buffer> rebuilt;
    std::vector<ByteView> pieces;
};

GetOperation::GetOperation(Peers& peers,
                           std::shared_ptr<const Layout> layout,
                           std::string key,
                           OperationStats& stats,
                           GetSink& sink)
    : peers_(peers), layout_(std::move(layout)), key_(std::move(key)), stats_(stats), sink_(sink) {}

std::string GetOperation::what() const {
    return fmt::format("get {}", key_);
}

void GetOperation::start() {
    read_manifest(peers_,
                  *layout_,
                  key_,
                  what(),
                  stats_,
                  [self = shared_from_this()](Result<std::optional<object::Manifest>> newest) {
                      self->on_manifest(std::move(newest));
                  });
}

void GetOperation::resume() {
    if (!finished_) deliver();
}

void GetOperation::cancel() {
    finished_ = true;
}

void GetOperation::on_manifest(Result<std::optional<object::Manifest>> newest) {
    if (finished_) return;
    if (!newest.is_ok()) {
        fail(newest.status());
        return;
    }
    if (!newest.value().has_value() || newest.value()->is_tombstone()) {
        fail(Status::not_found(fmt::format("{}: no such object", what())));
        return;
    }
    manifest_ = std::move(*newest.value());
    sink_.on_manifest(*manifest_);
    if (finished_) return;
    if (manifest_->kind == object::ManifestKind::kInline) {
        auto owner = std::make_shared<const object::Manifest>(*manifest_);
        const ByteView bytes(owner->inline_data.data(), owner->inline_data.size());
        finished_ = true;
        sink_.on_bytes(bytes, owner);
        sink_.on_end();
        return;
    }
    // One stripe holds the whole object: its digest is the object's, so one hash pass does.
    single_stripe_ = manifest_->stripe_count() == 1 && manifest_->stripe_digests.size() == 1 &&
                     manifest_->stripe_digests[0] == manifest_->object_digest;
    Result<erasure::Codec> codec = erasure::Codec::make(manifest_->scheme.k, manifest_->scheme.m);
    if (!codec.is_ok()) {
        fail(codec.status());
        return;
    }
    codec_.emplace(std::move(codec).value());
    fetch_ahead();
}

void GetOperation::fetch_ahead() {
    while (!finished_ && next_fetch_ < manifest_->stripe_count() &&
           reads_.size() < kStripesAheadMax) {
        auto stripe = std::make_shared<StripeRead>();
        stripe->index = next_fetch_;
        next_fetch_ += 1;
        stripe->plain_bytes = object::stripe_plain_bytes(
                manifest_->object_bytes, manifest_->stripe_bytes, stripe->index);
        stripe->candidates = layout_->stripe_candidates(key_, stripe->index);
        stripe->records.resize(manifest_->scheme.chunk_count());
        stripe->data_offsets.resize(manifest_->scheme.chunk_count());
        reads_.push_back(stripe);
        for (uint32_t index = 0; index < manifest_->scheme.k; ++index) {
            request_chunk(stripe, index);
        }
    }
}

// A chunk is asked of the node that acknowledged it, else of the candidate placement names.
void GetOperation::request_chunk(const std::shared_ptr<StripeRead>& stripe, uint32_t chunk_index) {
    stripe->asked |= erasure::chunk_bit(chunk_index);
    NodeKey node = node_key_of(manifest_->chunk_node(stripe->index, chunk_index));
    if (node == NodeKey{} && chunk_index < stripe->candidates.size()) {
        node = stripe->candidates[chunk_index];
    }
    fetch_chunk(stripe, chunk_index, node);
}

// The node the manifest names may have handed the chunk back to its owner (HandBack), or be
// gone from the cluster with the chunk rebuilt or moved to a new owner (repair): then the
// owner is asked before the chunk counts as missing.
bool GetOperation::ask_owner_instead(const std::shared_ptr<StripeRead>& stripe,
                                     uint32_t chunk_index,
                                     const Status& status) {
    if (status.is_ok() || chunk_index >= stripe->candidates.size() ||
        chunk_index >= layout_->table().owners_per_partition() ||
        (stripe->at_owner & erasure::chunk_bit(chunk_index)) != 0) {
        return false;
    }
    // With no node named, request_chunk asked the owner already.
    const NodeKey named = node_key_of(manifest_->chunk_node(stripe->index, chunk_index));
    const NodeKey owner = stripe->candidates[chunk_index];
    if (named == NodeKey{} || owner == named) return false;
    stripe->at_owner |= erasure::chunk_bit(chunk_index);
    fetch_chunk(stripe, chunk_index, owner);
    return true;
}

void GetOperation::fetch_chunk(const std::shared_ptr<StripeRead>& stripe,
                               uint32_t chunk_index,
                               const NodeKey& node) {
    if (node == NodeKey{}) {
        stats_.chunks_unavailable += 1;
        ask_for_more(stripe);
        return;
    }
    stripe->in_flight += 1;
    const object::ChunkId id{.key_hash = shoal::key_hash(key_),
                             .version = manifest_->version,
                             .stripe_index = stripe->index,
                             .chunk_index = static_cast<uint8_t>(chunk_index)};
    peers_.get_chunk(
            node, id, [self = shared_from_this(), stripe, chunk_index](Result<Buffer> record) {
                self->on_chunk(stripe, chunk_index, std::move(record));
            });
}

void GetOperation::on_chunk(const std::shared_ptr<StripeRead>& stripe,
                            uint32_t chunk_index,
                            Result<Buffer> record) {
    stripe->in_flight -= 1;
    if (finished_ || stripe->plain != nullptr) return;  // A spare answer: k came first.
    Status status = record.status();
    if (status.is_ok()) {
        Result<object::DecodedChunkHeader> decoded =
                object::decode_chunk_header(record.value().view());
        status = decoded.status();
        if (status.is_ok()) {
            const object::ChunkHeader& header = decoded.value().header;
            status = object::check_chunk_matches(
                    header, *manifest_, stripe->index, static_cast<uint8_t>(chunk_index));
            if (status.is_ok()) {
                status = object::verify_chunk(
                        header, record.value().view().subspan(decoded.value().data_offset));
            }
            stripe->data_offsets[chunk_index] = decoded.value().data_offset;
        }
    }
    if (status.is_ok()) {
        stats_.chunks_read += 1;
        stripe->good |= erasure::chunk_bit(chunk_index);
        stripe->records[chunk_index] = std::move(record).value();
        if (static_cast<uint32_t>(std::popcount(stripe->good)) == manifest_->scheme.k) {
            if (Status assembled = assemble(*stripe); !assembled.is_ok()) {
                fail(assembled);
                return;
            }
            deliver();
            return;
        }
    } else {
        if (ask_owner_instead(stripe, chunk_index, status)) return;
        if (status.code() == Code::kCorruption) {
            stats_.chunks_corrupt += 1;
        } else {
            stats_.chunks_unavailable += 1;
        }
        if (!stripe->first_failure.has_value()) stripe->first_failure = status;
    }
    ask_for_more(stripe);
}

// More chunks while those good and in flight cannot make k: the next not yet asked for,
// parity after data. With none left and nothing in flight, the stripe cannot be read.
void GetOperation::ask_for_more(const std::shared_ptr<StripeRead>& stripe) {
    if (stripe->plain != nullptr) return;
    const uint32_t good = static_cast<uint32_t>(std::popcount(stripe->good));
    const uint32_t k = manifest_->scheme.k;
    if (good + stripe->in_flight >= k) return;
    for (uint32_t index = 0; index < manifest_->scheme.chunk_count(); ++index) {
        if ((stripe->asked & erasure::chunk_bit(index)) != 0) continue;
        request_chunk(stripe, index);
        return;
    }
    if (stripe->in_flight > 0) return;  // Too few even if all land, but their answers count.
    fail(Status::unavailable(fmt::format(
            "{}: stripe {}: {} of {} chunks readable, {} needed{}",
            what(),
            stripe->index,
            good,
            manifest_->scheme.chunk_count(),
            k,
            stripe->first_failure.has_value()
                    ? fmt::format("; first failure: {}", stripe->first_failure->to_string())
                    : "")));
}

// The stripe's plain bytes from its k good chunks, rebuilt through the code if a data chunk
// is among the missing, and checked against the manifest's digest.
Status GetOperation::assemble(StripeRead& stripe) {
    const uint32_t k = manifest_->scheme.k;
    const uint32_t chunk_count = manifest_->scheme.chunk_count();
    const size_t chunk_bytes = object::chunk_bytes_of(stripe.plain_bytes, manifest_->scheme.k);
    std::vector<Buffer> rebuilt(chunk_count);
    std::vector<MutableByteView> chunks(chunk_count);
    for (uint32_t index = 0; index < chunk_count; ++index) {
        if ((stripe.good & erasure::chunk_bit(index)) != 0) {
            chunks[index] = stripe.records[index].mutable_view().subspan(stripe.data_offsets[index],
                                                                         chunk_bytes);
        } else {
            rebuilt[index].resize(chunk_bytes);
            chunks[index] = rebuilt[index].mutable_view();
        }
    }
    const erasure::ChunkMask data_mask = erasure::chunk_bit(k) - 1;
    if ((stripe.good & data_mask) != data_mask) {
        stats_.stripes_degraded += 1;
        SHOAL_TRY(codec_->reconstruct(chunks, stripe.good));
    }
    std::vector<ByteView> data(chunks.begin(), chunks.begin() + k);
    auto plain = std::make_shared<Assembled>();
    SHOAL_TRY_ASSIGN(plain->pieces, erasure::stripe_payloads(data, stripe.plain_bytes));
    Hasher64 digest;
    for (const ByteView piece : plain->pieces) {
        digest.update(piece);
    }
    if (digest.digest() != manifest_->stripe_digests[stripe.index]) {
        return Status::corruption(
                fmt::format("{}: stripe {}: the bytes rebuilt from {} chunks fail the stripe "
                            "digest",
                            what(),
                            stripe.index,
                            k));
    }
    // The views point into these buffers' heap storage, which moving them keeps in place.
    plain->records = std::move(stripe.records);
    plain->rebuilt = std::move(rebuilt);
    stripe.plain = std::move(plain);
    return Status::ok();
}

void GetOperation::deliver() {
    while (!finished_ && !reads_.empty() && reads_.front()->plain != nullptr &&
           sink_.wants_bytes()) {
        std::shared_ptr<const Assembled> plain = reads_.front()->plain;
        reads_.pop_front();
        for (const ByteView piece : plain->pieces) {
            // A one-stripe object's digest is its stripe's, checked in assemble().
            if (!single_stripe_) hasher_.update(piece);
            sink_.on_bytes(piece, plain);
        }
        fetch_ahead();
    }
    if (finished_ || !reads_.empty() || next_fetch_ < manifest_->stripe_count()) return;
    finished_ = true;
    if (!single_stripe_ && hasher_.digest() != manifest_->object_digest) {
        sink_.on_failure(
                Status::corruption(fmt::format("{}: the object's bytes fail its digest", what())));
        return;
    }
    sink_.on_end();
}

void GetOperation::fail(Status status) {
    if (finished_) return;
    finished_ = true;
    sink_.on_failure(std::move(status));
}

}  // namespace shoal::coordinator

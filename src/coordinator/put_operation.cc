#include "shoal/coordinator/put_operation.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "shoal/base/hash.h"
#include "shoal/base/key_hash.h"
#include "shoal/coordinator/collect.h"
#include "shoal/coordinator/manifest_quorum.h"
#include "shoal/erasure/stripe.h"
#include "shoal/object/chunk_header.h"
#include "shoal/object/store_key.h"
#include "shoal/wire/peer_messages.h"

namespace shoal::coordinator {

// The object format's bounds and the messages that carry it must agree: a manifest and a
// chunk record each travel in one frame.
static_assert(object::kManifestBytesMax <= wire::kManifestBytesMax);
static_assert(object::kChunkHeaderBytesMax + wire::kChunkBytesMax <= wire::kChunkRecordBytesMax);

// Where one chunk of a stripe stands.
struct PutOperation::ChunkSlot {
    std::shared_ptr<const Buffer> header;
    ByteView data;
    NodeKey node;  // Where it went last.
};

// One sealed stripe: its plain bytes, its parity and where each chunk stands. The chunks sent
// are views of these buffers, which the peer calls keep alive.
struct PutOperation::Stripe {
    uint32_t index = 0;
    Buffer plain;
    std::optional<erasure::StripeChunks> data;
    std::vector<Buffer> parity;
    std::vector<ChunkSlot> chunks;
    std::vector<NodeKey> candidates;
    size_t next_candidate = 0;  // The first candidate no chunk of this stripe has tried.
    uint32_t durable = 0;
    uint32_t in_flight = 0;
    std::optional<Status> first_failure;
    bool written = false;
};

Result<std::shared_ptr<PutOperation>> PutOperation::start(Peers& peers,
                                                          std::shared_ptr<const Layout> layout,
                                                          Parameters parameters,
                                                          OperationStats& stats,
                                                          Done done,
                                                          std::function<void()> resume) {
    SHOAL_TRY(object::check_key(parameters.key));
    SHOAL_TRY(object::check_scheme(parameters.scheme));
    SHOAL_TRY(object::check_stripe_bytes(parameters.stripe_bytes));
    // A chunk travels in one frame.
    const uint32_t chunk_bytes_max =
            object::chunk_bytes_of(parameters.stripe_bytes, parameters.scheme.k);
    if (chunk_bytes_max > limits::kDataFrameBytesMax) {
        return Status::invalid_argument(fmt::format(
                "put {}: stripes of {} bytes make chunks of {} bytes under {}+{}; at most {} fit "
                "one message",
                parameters.key,
                parameters.stripe_bytes,
                chunk_bytes_max,
                parameters.scheme.k,
                parameters.scheme.m,
                limits::kDataFrameBytesMax));
    }
    const uint64_t object_bytes_max =
            object::striped_object_bytes_max(parameters.scheme, parameters.stripe_bytes);
    if (parameters.declared_bytes.has_value() && *parameters.declared_bytes > object_bytes_max) {
        return Status::invalid_argument(
                fmt::format("put {}: {} bytes declared; at most {} under {}+{} with {}-byte "
                            "stripes",
                            parameters.key,
                            *parameters.declared_bytes,
                            object_bytes_max,
                            parameters.scheme.k,
                            parameters.scheme.m,
                            parameters.stripe_bytes));
    }
    SHOAL_TRY_ASSIGN(erasure::Codec codec,
                     erasure::Codec::make(parameters.scheme.k, parameters.scheme.m));
    auto operation = std::make_shared<PutOperation>(peers,
                                                    std::move(layout),
                                                    std::move(parameters),
                                                    std::move(codec),
                                                    stats,
                                                    std::move(done),
                                                    std::move(resume));
    operation->read_prior();
    return operation;
}

PutOperation::PutOperation(Peers& peers,
                           std::shared_ptr<const Layout> layout,
                           Parameters parameters,
                           erasure::Codec codec,
                           OperationStats& stats,
                           Done done,
                           std::function<void()> resume)
    : peers_(peers),
      layout_(std::move(layout)),
      parameters_(std::move(parameters)),
      codec_(std::move(codec)),
      stats_(stats),
      done_(std::move(done)),
      resume_(std::move(resume)) {}

std::string PutOperation::what() const {
    return fmt::format("put {}", parameters_.key);
}

// A stripe's buffer holds what is known to come, so that a small object does not pay for a
// whole stripe (1 MiB to 4 MiB, which malloc takes from the top of the heap and gives back).
size_t PutOperation::stripe_capacity(uint64_t bytes_before) const {
    const uint64_t stripe = parameters_.stripe_bytes;
    if (!parameters_.declared_bytes.has_value()) return stripe;
    const uint64_t declared = *parameters_.declared_bytes;
    return static_cast<size_t>(declared > bytes_before ? std::min(stripe, declared - bytes_before)
                                                       : stripe);
}

Status PutOperation::on_data(ByteView data) {
    if (finished_) return Status::unavailable(fmt::format("{}: already failed", what()));
    received_bytes_ += data.size();
    const uint64_t object_bytes_max =
            object::striped_object_bytes_max(parameters_.scheme, parameters_.stripe_bytes);
    if (received_bytes_ > object_bytes_max) {
        Status too_big = Status::invalid_argument(
                fmt::format("{}: over {} bytes, the most one manifest describes under {}+{} "
                            "with {}-byte stripes",
                            what(),
                            object_bytes_max,
                            parameters_.scheme.k,
                            parameters_.scheme.m,
                            parameters_.stripe_bytes));
        // The caller replies with it: `done` must not run inside this call, where the caller
        // still holds the put.
        finished_ = true;
        discard_chunks();
        return too_big;
    }
    while (!data.empty()) {
        if (filling_.capacity() == 0) {
            filling_.reserve(stripe_capacity(received_bytes_ - data.size()));
        }
        const size_t room = parameters_.stripe_bytes - filling_.size();
        const size_t taken = std::min(room, data.size());
        filling_.append(data.first(taken));
        data = data.subspan(taken);
        // A full stripe waits for the next byte or the end: only then is it known whether
        // it is the last, which its chunks must say.
        if (filling_.size() == parameters_.stripe_bytes && !data.empty()) seal_stripe(false);
    }
    return Status::ok();
}

bool PutOperation::wants_data() const {
    return !finished_ && stripes_in_flight_ < kStripesInFlightMax && !waits_for_version();
}

bool PutOperation::waits_for_version() const {
    return !finished_ && !prior_known_ && (!sealed_.empty() || inline_ready_);
}

bool PutOperation::stripes_wait_for_version() const {
    return !finished_ && !prior_known_ && !sealed_.empty();
}

void PutOperation::on_end(uint64_t object_digest) {
    if (finished_) return;
    object_digest_ = object_digest;
    // An empty object is always inline: a stripe holds at least one byte.
    const bool small = received_bytes_ <= parameters_.inline_bytes_max || received_bytes_ == 0;
    if (stripes_sealed_ == 0 && small) {
        manifest_started_ = true;
        inline_ready_ = true;
        write_inline();
        return;
    }
    if (!filling_.empty()) seal_stripe(true);
    maybe_write_manifest();
}

void PutOperation::cancel() {
    finished_ = true;
    discard_chunks();
}

void PutOperation::write_inline() {
    if (finished_ || !inline_ready_ || !prior_known_) return;
    inline_ready_ = false;
    SHOAL_ASSERT(object_digest_.has_value());
    write_and_settle(object::inline_manifest(parameters_.key,
                                             parameters_.version,
                                             parameters_.created_ms,
                                             filling_.view(),
                                             *object_digest_));
}

void PutOperation::seal_stripe(bool is_last) {
    sealed_.push_back(SealedStripe{
            .plain = std::move(filling_), .index = stripes_sealed_, .is_last = is_last});
    filling_ = Buffer();
    stripes_sealed_ += 1;
    stripes_in_flight_ += 1;
    send_sealed();
}

// Chunks carry the put's version, so none leaves before read_prior has chosen it.
void PutOperation::send_sealed() {
    if (finished_ || !prior_known_) return;
    for (SealedStripe& sealed : sealed_) {
        send_stripe(std::move(sealed.plain), sealed.index, sealed.is_last);
    }
    sealed_.clear();
}

void PutOperation::send_stripe(Buffer plain, uint32_t stripe_index, bool is_last) {
    auto stripe = std::make_shared<Stripe>();
    stripe->index = stripe_index;
    stripe->plain = std::move(plain);
    // A one-stripe object's digest, checked as its bytes arrived, is its stripe's: no second
    // pass over the stripe.
    const uint64_t stripe_digest = is_last && stripe->index == 0 && object_digest_.has_value()
                                           ? *object_digest_
                                           : hash64(stripe->plain.view());
    stripe_digests_.push_back(stripe_digest);
    chunk_nodes_.resize(chunk_nodes_.size() + parameters_.scheme.chunk_count());

    stripe->data.emplace(stripe->plain.view(), parameters_.scheme.k);
    const size_t chunk_bytes = stripe->data->chunk_bytes();
    std::vector<MutableByteView> parity_views;
    for (uint32_t index = 0; index < parameters_.scheme.m; ++index) {
        stripe->parity.emplace_back(chunk_bytes);
        parity_views.push_back(stripe->parity.back().mutable_view());
    }
    codec_.encode(stripe->data->chunks(), parity_views);

    object::ChunkHeader header{
            .key = parameters_.key,
            .key_hash = shoal::key_hash(parameters_.key),
            .version = parameters_.version,
            .created_ms = parameters_.created_ms,
            .scheme = parameters_.scheme,
            .stripe_bytes = parameters_.stripe_bytes,
            .stripe_index = stripe->index,
            .stripe_plain_bytes = static_cast<uint32_t>(stripe->plain.size()),
            .chunk_bytes = static_cast<uint32_t>(chunk_bytes),
            .stripe_digest = stripe_digest,
    };
    if (is_last) {
        header.object_bytes = received_bytes_;
        header.object_digest = object_digest_;
    } else if (parameters_.declared_bytes.has_value()) {
        header.object_bytes = parameters_.declared_bytes;
    }
    for (uint32_t index = 0; index < parameters_.scheme.chunk_count(); ++index) {
        const ByteView data = index < parameters_.scheme.k
                                      ? stripe->data->chunks()[index]
                                      : stripe->parity[index - parameters_.scheme.k].view();
        header.chunk_index = static_cast<uint8_t>(index);
        header.chunk_checksum = hash64(data);
        auto encoded = std::make_shared<Buffer>();
        object::encode_chunk_header(header, *encoded);
        stripe->chunks.push_back(ChunkSlot{.header = std::move(encoded), .data = data});
    }
    stripe->candidates = layout_->stripe_candidates(parameters_.key, stripe->index);
    for (uint32_t index = 0; index < parameters_.scheme.chunk_count(); ++index) {
        send_chunk(stripe, index);
    }
    if (stripe->in_flight == 0) stripe_written(*stripe);  // No node at all to send to.
}

// Chunk `chunk_index` goes to its owner first, then to the fallbacks no chunk of the stripe
// has tried, one at a time; a chunk with no node left is lost to this stripe.
void PutOperation::send_chunk(const std::shared_ptr<Stripe>& stripe, uint32_t chunk_index) {
    ChunkSlot& slot = stripe->chunks[chunk_index];
    const size_t owners = layout_->table().owners_per_partition();
    NodeKey target;
    if (slot.node == NodeKey{} && chunk_index < owners) {
        target = stripe->candidates[chunk_index];
    } else {
        const size_t first_fallback = std::max(owners, stripe->next_candidate);
        if (first_fallback >= stripe->candidates.size()) {
            if (!discarding_) stats_.chunks_homeless += 1;
            return;
        }
        target = stripe->candidates[first_fallback];
        stripe->next_candidate = first_fallback + 1;
        if (slot.node != NodeKey{}) stats_.chunks_handed_off += 1;
    }
    slot.node = target;
    stripe->in_flight += 1;
    const OutgoingChunk chunk{
            .id = chunk_id(stripe->index, chunk_index),
            .header = slot.header,
            .data = slot.data,
            .owner = stripe,
    };
    peers_.put_chunk(
            target,
            chunk,
            [self = shared_from_this(), stripe, chunk_index, target](const Status& status) {
                self->on_chunk_written(stripe, chunk_index, target, status);
            });
}

void PutOperation::on_chunk_written(const std::shared_ptr<Stripe>& stripe,
                                    uint32_t chunk_index,
                                    const NodeKey& node,
                                    const Status& status) {
    stripe->in_flight -= 1;
    if (status.is_ok() && discarding_) {
        collect_chunk(peers_, node, chunk_id(stripe->index, chunk_index), stats_);
        return;
    }
    if (status.is_ok()) {
        stripe->durable += 1;
        stats_.chunks_written += 1;
        chunk_nodes_[size_t{stripe->index} * parameters_.scheme.chunk_count() + chunk_index] = node;
    } else {
        stats_.chunk_writes_failed += 1;
        if (!stripe->first_failure.has_value()) stripe->first_failure = status;
        // Even once the stripe has its quorum, the chunk goes to a fallback, which hands it
        // back to its owner later (HandBack): the stripe keeps all its redundancy.
        if (!discarding_) send_chunk(stripe, chunk_index);
    }
    if (finished_ || stripe->written) return;
    const uint32_t needed = write_quorum(parameters_.scheme);
    if (stripe->durable >= needed || stripe->in_flight == 0) stripe_written(*stripe);
}

// The stripe is decided: written if its quorum holds, else the put fails.
void PutOperation::stripe_written(Stripe& stripe) {
    stripe.written = true;
    const uint32_t needed = write_quorum(parameters_.scheme);
    if (stripe.durable < needed) {
        fail(Status::from_code(missed_quorum_code(stripe.first_failure),
                               fmt::format("{}: stripe {}: {} of {} chunks durable on distinct "
                                           "nodes, {} needed ({} nodes "
                                           "in the cluster){}",
                                           what(),
                                           stripe.index,
                                           stripe.durable,
                                           parameters_.scheme.chunk_count(),
                                           needed,
                                           layout_->table().nodes().size(),
                                           stripe.first_failure.has_value()
                                                   ? fmt::format("; first failure: {}",
                                                                 stripe.first_failure->to_string())
                                                   : "")));
        return;
    }
    stripes_in_flight_ -= 1;
    if (object_digest_.has_value()) {
        maybe_write_manifest();
    } else if (resume_ && wants_data()) {
        resume_();
    }
}

void PutOperation::maybe_write_manifest() {
    if (finished_ || manifest_started_ || stripes_in_flight_ > 0) return;
    manifest_started_ = true;
    object::Manifest manifest = object::striped_manifest(object::StripedParameters{
            .key = parameters_.key,
            .version = parameters_.version,
            .created_ms = parameters_.created_ms,
            .object_bytes = received_bytes_,
            .object_digest = *object_digest_,
            .scheme = parameters_.scheme,
            .stripe_bytes = parameters_.stripe_bytes,
    });
    manifest.stripe_digests = stripe_digests_;
    SHOAL_ASSERT(manifest.chunk_nodes.size() == chunk_nodes_.size());
    for (size_t index = 0; index < chunk_nodes_.size(); ++index) {
        manifest.chunk_nodes[index] = object_node_key(chunk_nodes_[index]);
    }
    write_and_settle(std::move(manifest));
}

// The manifest is kept here, not copied into the callback: an inline one carries the value.
void PutOperation::write_and_settle(object::Manifest manifest) {
    written_ = std::move(manifest);
    WriteCallbacks callbacks{
            .done =
                    [self = shared_from_this()](const Status& status) {
                        if (self->finished_) return;
                        self->finished_ = true;
                        if (status.is_ok()) {
                            self->done_(std::move(*self->written_));
                        } else {
                            self->done_(status);
                        }
                    },
            .settled =
                    [self = shared_from_this()](bool every_owner) {
                        self->settled_everywhere_ = every_owner;
                        self->maybe_collect();
                    },
    };
    write_manifest(peers_, *layout_, *written_, what(), stats_, std::move(callbacks));
}

// The newest version before this put: this put's version must be later (a put acknowledged
// before this one began is on a write quorum, which this read quorum meets, whatever the
// clocks say), and once this put's manifest is everywhere that version's chunks go.
void PutOperation::read_prior() {
    read_manifest(peers_,
                  *layout_,
                  parameters_.key,
                  what(),
                  stats_,
                  [self = shared_from_this()](Result<std::optional<object::Manifest>> newest) {
                      // Without the newest version this put's could be older than one
                      // acknowledged before it.
                      if (!newest.is_ok()) {
                          self->fail(newest.status());
                          return;
                      }
                      if (newest.value().has_value()) self->prior_ = std::move(*newest.value());
                      self->prior_known_ = true;
                      if (!self->choose_version()) {
                          self->fail(Status::unavailable(fmt::format(
                                  "{}: the key's newest version is past this node's clock",
                                  self->what())));
                          return;
                      }
                      self->send_sealed();
                      self->write_inline();
                      if (self->resume_) self->resume_();
                      self->maybe_collect();
                  });
}

// False if no later version can be had (a version from a broken or hostile peer's clock).
bool PutOperation::choose_version() {
    if (!prior_.has_value() || prior_->version < parameters_.version) return true;
    if (parameters_.version_after) {
        parameters_.version = parameters_.version_after(prior_->version);
    } else if (prior_->version.hlc < std::numeric_limits<uint64_t>::max()) {
        parameters_.version.hlc = prior_->version.hlc + 1;
    }
    return prior_->version < parameters_.version;
}

// Only a strictly older version, though choose_version has made sure of it.
void PutOperation::maybe_collect() {
    if (!prior_known_ || !settled_everywhere_ || !prior_.has_value()) return;
    if (!(prior_->version < parameters_.version)) return;
    collect_chunks(peers_, *layout_, *prior_, stats_);
    prior_.reset();
}

void PutOperation::fail(Status status) {
    if (finished_) return;
    finished_ = true;
    discard_chunks();
    done_(std::move(status));
}

// A put that ends before its manifest is sent leaves chunks no manifest names: they are
// deleted, those still in flight as they land, so a refused put gives its space back. Once
// the manifest is out, a read may find it, so its chunks stay.
void PutOperation::discard_chunks() {
    if (manifest_started_ || discarding_) return;
    discarding_ = true;
    const uint32_t chunk_count = parameters_.scheme.chunk_count();
    for (size_t index = 0; index < chunk_nodes_.size(); ++index) {
        if (chunk_nodes_[index] == NodeKey{}) continue;
        collect_chunk(peers_,
                      chunk_nodes_[index],
                      chunk_id(static_cast<uint32_t>(index / chunk_count),
                               static_cast<uint32_t>(index % chunk_count)),
                      stats_);
        chunk_nodes_[index] = NodeKey{};
    }
}

object::ChunkId PutOperation::chunk_id(uint32_t stripe_index, uint32_t chunk_index) const {
    return object::ChunkId{.key_hash = shoal::key_hash(parameters_.key),
                           .version = parameters_.version,
                           .stripe_index = stripe_index,
                           .chunk_index = static_cast<uint8_t>(chunk_index)};
}

}  // namespace shoal::coordinator

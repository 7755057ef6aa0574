// PutOperation: one client put, spread over the cluster (docs/cluster.md).
//
// The client's bytes fill a stripe; a full stripe is encoded into k + m chunks that go to the
// stripe's candidates (owners first, fallbacks for the owners that fail); once every stripe
// has k + ceil(m/2) chunks durable on distinct nodes, the manifest goes to the key's manifest
// owners, and the put is acknowledged once their write quorum holds it. An object of at most
// the inline threshold skips the stripes: its manifest carries it.
//
// Memory is bounded: at most kStripesInFlightMax encoded stripes wait for their quorums while
// one more fills; wants_data() tells the node to stop reading the client until one completes
// (the `resume` callback).
//
// The operation lives as long as a completion of its peer calls may still run (they hold it);
// after cancel() or its end it calls no callback of the node.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shoal/coordinator/layout.h"
#include "shoal/coordinator/peers.h"
#include "shoal/erasure/codec.h"
#include "shoal/object/manifest.h"

namespace shoal::coordinator {

class PutOperation : public std::enable_shared_from_this<PutOperation> {
public:
    struct Parameters {
        std::string key;
        std::optional<uint64_t> declared_bytes;  // If the client declared the size.
        object::Scheme scheme{.k = 4, .m = 2};
        uint32_t stripe_bytes = 4 << 20;
        uint32_t inline_bytes_max = object::kInlineBytesMax;
        // From the node's clock; raised past the key's newest version if that is not older.
        Version version;
        uint64_t created_ms = 0;
        // Raises `version` when the key's newest is not older. Unset: newest's hlc + 1.
        VersionAfter version_after;
    };

    // The manifest that was written: the object's version, size and digest.
    using Done = std::function<void(Result<object::Manifest> written)>;

    static constexpr uint32_t kStripesInFlightMax = 2;

    // kInvalidArgument for a scheme or stripe size the object format refuses, or a declared
    // size past what one manifest can describe. `peers`, `stats` must outlive the operation.
    static Result<std::shared_ptr<PutOperation>> start(Peers& peers,
                                                       std::shared_ptr<const Layout> layout,
                                                       Parameters parameters,
                                                       OperationStats& stats,
                                                       Done done,
                                                       std::function<void()> resume);

    // Takes the client's next bytes (copied into the stripe being filled). Returns the put's
    // failure if it has already failed (then `done` has run or will), or if these bytes take
    // it past what one manifest describes (then `done` never runs: the caller reports it).
    Status on_data(ByteView data);
    // The client's last byte has arrived and the object's digest checked.
    void on_end(uint64_t object_digest);
    // False while kStripesInFlightMax stripes wait for their quorums, or while the put waits
    // for its version.
    bool wants_data() const;
    // Whether bytes the client sent wait, unsent, for the version (chosen once the key's newest
    // version is read): the client should be paused, since nothing else bounds them.
    bool waits_for_version() const;
    // Whether whole stripes wait so: a complete put whose client should still be paused, since
    // its bytes reach the store (and its backlog check) only once the version is chosen. An
    // inline object's put holds at most one stripe buffer, which the put buffer counts.
    bool stripes_wait_for_version() const;
    // The client went away: nothing more is sent, `done` is not called.
    void cancel();

    PutOperation(Peers& peers,
                 std::shared_ptr<const Layout> layout,
                 Parameters parameters,
                 erasure::Codec codec,
                 OperationStats& stats,
                 Done done,
                 std::function<void()> resume);

private:
    struct Stripe;
    struct ChunkSlot;

    // A full stripe (or the last) waits in sealed_ until the version is chosen.
    struct SealedStripe {
        Buffer plain;
        uint32_t index = 0;
        bool is_last = false;
    };

    size_t stripe_capacity(uint64_t bytes_before) const;
    void write_inline();
    void seal_stripe(bool is_last);
    void send_sealed();
    void send_stripe(Buffer plain, uint32_t stripe_index, bool is_last);
    void send_chunk(const std::shared_ptr<Stripe>& stripe, uint32_t chunk_index);
    void on_chunk_written(const std::shared_ptr<Stripe>& stripe,
                          uint32_t chunk_index,
                          const NodeKey& node,
                          const Status& status);
    void stripe_written(Stripe& stripe);
    void maybe_write_manifest();
    void write_and_settle(object::Manifest manifest);
    void read_prior();
    bool choose_version();
    void maybe_collect();
    void fail(Status status);
    void discard_chunks();
    object::ChunkId chunk_id(uint32_t stripe_index, uint32_t chunk_index) const;
    std::string what() const;

    Peers& peers_;
    std::shared_ptr<const Layout> layout_;
    Parameters parameters_;
    erasure::Codec codec_;
    OperationStats& stats_;
    Done done_;
    std::function<void()> resume_;

    Buffer filling_;  // The stripe being filled.
    std::vector<SealedStripe> sealed_;
    bool inline_ready_ = false;  // An inline manifest waits for the version.
    uint64_t received_bytes_ = 0;
    uint32_t stripes_sealed_ = 0;
    uint32_t stripes_in_flight_ = 0;
    std::vector<uint64_t> stripe_digests_;
    std::vector<NodeKey> chunk_nodes_;       // Stripe-major, as the manifest keeps them.
    std::optional<uint64_t> object_digest_;  // Set by on_end.
    bool manifest_started_ = false;
    // The version this put supersedes, read as the put starts: this put's version is chosen
    // after it, and it is collected once every manifest owner holds this put's manifest.
    bool prior_known_ = false;
    std::optional<object::Manifest> prior_;
    std::optional<object::Manifest> written_;  // This put's, once complete; moved to done_.
    bool settled_everywhere_ = false;
    bool finished_ = false;    // Done ran, or cancelled.
    bool discarding_ = false;  // Failed before the manifest: chunks are deleted as they land.
};

}  // namespace shoal::coordinator

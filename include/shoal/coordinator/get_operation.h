// GetOperation: one client get, read back from the cluster (docs/cluster.md, "Reads").
//
// It reads the newest manifest by a read quorum of the key's manifest owners, then the stripes
// in order: each from its k data chunks, with parity asked for in place of every chunk that is
// missing, fails its checks, or whose node fails or times out. A stripe is reconstructed from
// any k good chunks and checked against its digest; the whole object against its digest at
// the end. Stripes are fetched at most kStripesAheadMax ahead of what the client has taken, so
// a get holds a bounded amount of memory however large the object.
//
// The sink is told the manifest once, then gets the object's bytes in order, then the end or
// a failure; a failure after bytes went out means the client must discard them (the node sends
// an error frame). Never a byte that failed a check.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "shoal/base/hash.h"
#include "shoal/coordinator/layout.h"
#include "shoal/coordinator/peers.h"
#include "shoal/erasure/codec.h"
#include "shoal/object/manifest.h"

namespace shoal::coordinator {

class GetSink {
public:
    virtual ~GetSink() = default;
    // The object exists: its manifest (never a tombstone). Bytes follow.
    virtual void on_manifest(const object::Manifest& manifest) = 0;
    // The next bytes of the object, alive while `owner` is.
    virtual void on_bytes(ByteView bytes, std::shared_ptr<const void> owner) = 0;
    virtual void on_end() = 0;
    // kNotFound before on_manifest for a key with no object; any failure, at any point.
    virtual void on_failure(Status status) = 0;
    // False while the client has too much unread: the operation waits for resume().
    virtual bool wants_bytes() const = 0;
};

class GetOperation : public std::enable_shared_from_this<GetOperation> {
public:
    static constexpr uint32_t kStripesAheadMax = 2;

    // `peers`, `stats` and `sink` must outlive the operation or cancel() it.
    GetOperation(Peers& peers,
                 std::shared_ptr<const Layout> layout,
                 std::string key,
                 OperationStats& stats,
                 GetSink& sink);

    void start();
    // The sink wants bytes again.
    void resume();
    // Nothing more reaches the sink.
    void cancel();

private:
    struct StripeRead;
    struct Assembled;

    void on_manifest(Result<std::optional<object::Manifest>> newest);
    void fetch_ahead();
    void fetch_chunk(const std::shared_ptr<StripeRead>& stripe,
                     uint32_t chunk_index,
                     const NodeKey& node);
    bool ask_owner_instead(const std::shared_ptr<StripeRead>& stripe,
                           uint32_t chunk_index,
                           const Status& status);
    void request_chunk(const std::shared_ptr<StripeRead>& stripe, uint32_t chunk_index);
    void on_chunk(const std::shared_ptr<StripeRead>& stripe,
                  uint32_t chunk_index,
                  Result<Buffer> record);
    void ask_for_more(const std::shared_ptr<StripeRead>& stripe);
    Status assemble(StripeRead& stripe);
    void deliver();
    void fail(Status status);
    std::string what() const;

    Peers& peers_;
    std::shared_ptr<const Layout> layout_;
    std::string key_;
    OperationStats& stats_;
    GetSink& sink_;
    std::optional<object::Manifest> manifest_;
    std::optional<erasure::Codec> codec_;
    std::deque<std::shared_ptr<StripeRead>> reads_;  // In stripe order, not yet delivered.
    uint32_t next_fetch_ = 0;                        // The next stripe to start reading.
    Hasher64 hasher_;             // The object's digest, over the stripes as they go out.
    bool single_stripe_ = false;  // Then the stripe digest is the object's.
    bool finished_ = false;
};

}  // namespace shoal::coordinator

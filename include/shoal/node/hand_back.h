// HandBack: the return half of hinted handoff (docs/cluster.md, "Hand-back").
//
// When a chunk's owner cannot take it, the put sends it to a fallback node, which keeps it
// for the owner. The fallback's peer service notes every chunk it stores for another node;
// HandBack then sends each one to its owner once membership sees the owner alive, and deletes
// its own copy once the owner holds it. A read that finds the chunk gone from the node the
// manifest names asks the owner (GetOperation), so the manifest need not change.
//
// Bounded: at most kHeldMax chunks are tracked (more are counted and stay where they are,
// for repair to find) and kInFlightMax are on their way at once; a failed attempt waits
// kRetryTicks before the next. The tracked set lives in memory; after a restart scan() walks
// the store's chunk keys, kScanPageKeys a tick, and notes again every chunk another node owns
// (a chunk's store key carries its key hash, and so its partition: no record is read).
// Placement is asked again before each hand-back, so a chunk noted under a view that changed
// goes where the current one says, or stays if it is now this node's.
//
// Single-threaded: every call and completion runs on the node's loop.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "shoal/coordinator/peers.h"
#include "shoal/node/peer_service.h"
#include "shoal/object/store_key.h"
#include "shoal/storage/local_store.h"

namespace shoal::node {

struct HandBackStats {
    uint64_t noted = 0;        // Chunks stored here for another node.
    uint64_t handed_back = 0;  // Sent to their owner and deleted here.
    uint64_t attempts_failed = 0;
    uint64_t not_tracked = 0;  // Noted with kHeldMax already tracked.
    uint64_t scanned = 0;      // Chunk keys looked at by scan().
};

class HandBack {
public:
    static constexpr size_t kHeldMax = 100'000;
    static constexpr size_t kInFlightMax = 4;
    static constexpr uint64_t kRetryTicks = 100;
    static constexpr size_t kScanPageKeys = 1024;

    // Who owns the chunk under the current layout; nullopt if this node does, or placement
    // names no owner for its index.
    using OwnerOf = std::function<std::optional<coordinator::NodeKey>(const object::ChunkId&)>;
    using IsAlive = std::function<bool(const coordinator::NodeKey& node)>;

    // `store` is the one `service` serves from.
    HandBack(PeerService& service,
             const storage::LocalStore& store,
             coordinator::Peers& peers,
             OwnerOf owner_of,
             IsAlive is_alive,
             spdlog::logger& log);

    // A chunk this node has just stored; tracked if placement gives it to another node.
    void note(const object::ChunkId& chunk);
    // Walks every chunk the store holds, over the next ticks, noting each as above: once the
    // node's view of the cluster is whole after a start, and at every layout change after.
    void scan();
    // Starts the hand-backs that are due, at most kInFlightMax at a time. Once per tick.
    void on_tick();

    size_t held() const { return held_.size(); }
    bool scanning() const { return scan_after_.has_value(); }
    const HandBackStats& stats() const { return stats_; }

private:
    struct Held {
        object::ChunkId id;
        uint64_t due_tick = 0;
        bool in_flight = false;
    };
    using HeldMap = std::map<std::string, Held>;  // By chunk store key.

    void scan_page();
    void start(HeldMap::iterator entry, const coordinator::NodeKey& owner);
    void sent(const std::string& store_key, const Status& status);
    void finish(const std::string& store_key, bool handed_back);

    PeerService& service_;
    const storage::LocalStore& store_;
    coordinator::Peers& peers_;
    OwnerOf owner_of_;
    IsAlive is_alive_;
    spdlog::logger& log_;
    HeldMap held_;
    std::optional<std::string> scan_after_;  // While scanning: the last chunk key looked at.
    size_t in_flight_ = 0;
    uint64_t tick_ = 0;
    HandBackStats stats_;
};

}  // namespace shoal::node

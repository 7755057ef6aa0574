// DataCluster: a cluster of real node::Node instances on SimRuntimes, one SimNetwork and one
// SimDisk per node, with the client calls a test needs (put, get, delete, stat), each bounded
// in simulated time.
//
// Node i (0-based) is n<i+1> at 10.0.0.<i+1>:7400, member id {0x5348, i+1}, node id i+1. Node 0
// starts alone and the others join it. In disk mode (the default) a node keeps its chunks and
// manifests on its SimDisk, so crash() (a power cut: the process and every unsynced write are
// gone) followed by restart() (a new SimRuntime at the same address, a new Node with the same
// identity over the same SimDisk, joining through every other node) loses nothing the node
// acknowledged. Memory mode is there for tests that never restart. A SimClient per node speaks
// the wire protocol to it directly (no address, so no cut link applies to it).
//
// A client call returns what the node answered; a node that answered nothing within the
// budget gives kTimeout, and a connection that broke first kUnavailable, both prefixed
// "client:" so a test can tell them from the node's own errors. Every call runs the whole
// cluster while it waits. Any error-level log line is counted (log_errors()).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "shoal/base/address.h"
#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/node/node.h"
#include "shoal/object/manifest.h"
#include "shoal/sim/error_counting_sink.h"
#include "shoal/sim/event_queue.h"
#include "shoal/sim/sim_client.h"
#include "shoal/sim/sim_disk.h"
#include "shoal/sim/sim_network.h"
#include "shoal/sim/sim_runtime.h"
#include "shoal/wire/messages.h"

namespace shoal::sim::testing {

// What a get returned: the object's info from the reply and every byte that followed it. The
// caller checks the bytes against info.digest.
struct ObjectRead {
    wire::ObjectInfo info;
    Buffer data;
};

class DataCluster {
public:
    using Configure = std::function<void(node::Node::Options&)>;

    struct Options {
        size_t nodes = 6;
        uint64_t seed = 1;
        node::StorageMode storage_mode = node::StorageMode::kDisk;
        NetworkOptions network;
        DiskFaults disk_faults;
        // Runs last on every node's options, at its first start and at each restart.
        Configure configure;
    };

    // How long a client call waits for its answer unless told otherwise.
    static constexpr Duration kCallBudget = std::chrono::seconds(30);

    explicit DataCluster(Options options);
    ~DataCluster();
    DataCluster(const DataCluster&) = delete;
    DataCluster& operator=(const DataCluster&) = delete;
    DataCluster(DataCluster&&) = delete;
    DataCluster& operator=(DataCluster&&) = delete;

    size_t size() const { return nodes_.size(); }
    // The node's process runs (it may still be recovering its store).
    bool up(size_t index) const { return nodes_[index].node != nullptr; }
    // The node's process runs and its store is open: it serves requests.
    bool serving(size_t index) const { return up(index) && nodes_[index].started_ok; }
    HostPort address(size_t index) const;
    SimClient& client(size_t index) { return *nodes_[index].client; }
    // A further client of node `index`, for tests that need several connections to one node.
    // It must go before the cluster does. REQUIRES: up(index).
    std::unique_ptr<SimClient> new_client(size_t index);
    node::Node& node(size_t index) { return *nodes_[index].node; }
    const node::Node& node(size_t index) const { return *nodes_[index].node; }
    const SimDisk& disk(size_t index) const { return *nodes_[index].disk; }
    EventQueue& events() { return events_; }
    Instant now() const { return events_.now(); }
    SimNetwork& network() { return network_; }
    uint64_t log_errors() const { return sink_->errors(); }
    // Times a restarted node's store failed to open (never, unless a disk broke).
    uint64_t failed_starts() const { return failed_starts_; }

    // A power cut on node `index`: its process, its connections and its unsynced writes are
    // gone; its SimDisk keeps the rest. REQUIRES: up(index). Safe to call from an event.
    void crash(size_t index);
    // Starts node `index` again over its SimDisk, with the same identity, joining through every
    // other node. It serves once its store has recovered. REQUIRES: !up(index).
    void restart(size_t index);

    // Runs the simulation until `done()` holds (checked after every event) or `budget` passes.
    bool run_until(Duration budget, const std::function<bool()>& done);
    void run_for(Duration duration) { events_.run_until(events_.now() + duration); }

    // Every node is up and lists every node, and all place by the same layout.
    bool converged() const;
    // Every node is serving and sees every member, itself included, alive.
    bool all_alive() const;

    // Client calls through node `through`. REQUIRES: up(through).
    Result<wire::PutReply> put(size_t through,
                               const std::string& key,
                               ByteView bytes,
                               Duration budget = kCallBudget);
    Result<ObjectRead> get(size_t through, const std::string& key, Duration budget = kCallBudget);
    // A get in two halves, for tests that keep several in flight on one connection: the
    // request is sent at once, and its answer awaited later.
    RequestId send_get(size_t through, const std::string& key);
    // A request id no call of this cluster has used, for frames a test sends itself.
    RequestId next_request() { return RequestId{request_next_++}; }
    Result<ObjectRead> await_get(size_t through, RequestId request, Duration budget = kCallBudget);
    Result<wire::DeleteReply> remove(size_t through,
                                     const std::string& key,
                                     Duration budget = kCallBudget);
    Result<wire::StatReply> stat(size_t through,
                                 const std::string& key,
                                 Duration budget = kCallBudget);

    // What node `index`'s own store holds for `key` (its peer service's answer), for a test
    // to explain a failure: the manifest, nullopt if none, or why it could not be asked.
    Result<std::optional<object::Manifest>> manifest_held(size_t index,
                                                          const std::string& key,
                                                          Duration budget = kCallBudget);

private:
    struct Member {
        std::unique_ptr<SimDisk> disk;
        std::unique_ptr<SimRuntime> runtime;  // Null while crashed.
        std::unique_ptr<spdlog::logger> log;
        std::unique_ptr<node::Node> node;  // Null while crashed.
        std::unique_ptr<SimClient> client;
        bool started_ok = false;
        uint64_t starts = 0;
    };

    node::Node::Options node_options(size_t index) const;
    void start(size_t index, std::vector<HostPort> join);
    // The client of node `through`, connected again if the node closed its connection.
    SimClient& connected_client(size_t through);
    // The call through `through`, sent while it ran its start number `starts`, can no longer
    // be answered: the node crashed (and maybe restarted) or closed the connection.
    bool broken(size_t through, uint64_t starts) const;
    // Waits for the first frame of `request`: the frame, or the error it carried.
    Result<ReceivedFrame> await_reply(size_t through, RequestId request, Duration budget);

    Options options_;
    EventQueue events_;
    SimNetwork network_;
    std::shared_ptr<ErrorCountingSink> sink_;
    // Runtimes of crashed processes: their queued events still refer to them.
    std::deque<std::unique_ptr<SimRuntime>> retired_;
    std::vector<Member> nodes_;
    uint64_t request_next_ = 1;
    uint64_t failed_starts_ = 0;
};

// A put's frames: the request with the first piece, then data frames, the last with the
// digest of the whole object. The cluster's default code unless `redundancy` names one.
void send_put(SimClient& client,
              RequestId request,
              const std::string& key,
              ByteView bytes,
              wire::PutRedundancy redundancy = {});

}  // namespace shoal::sim::testing

#include "data_cluster.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "shoal/base/hash.h"
#include "shoal/base/limits.h"

namespace shoal::sim::testing {

DataCluster::DataCluster(Options options)
    : options_(std::move(options)),
      network_(events_, options_.seed, options_.network),
      sink_(std::make_shared<ErrorCountingSink>()) {
    nodes_.resize(options_.nodes);
    for (size_t index = 0; index < options_.nodes; index++) {
        Member& member = nodes_[index];
        member.disk = std::make_unique<SimDisk>(
                events_, options_.seed * 1000 + 100 + index, options_.disk_faults);
        member.log = std::make_unique<spdlog::logger>(fmt::format("n{}.node", index + 1), sink_);
        member.client = std::make_unique<SimClient>(network_);
        std::vector<HostPort> join;
        if (index > 0) join.push_back(address(0));
        start(index, std::move(join));
    }
}

// Nodes go before the runtimes they use; the queue's pending events are never run.
DataCluster::~DataCluster() {
    for (Member& member : nodes_) {
        member.client.reset();
        member.node.reset();
    }
}

HostPort DataCluster::address(size_t index) const {
    return HostPort{.host = fmt::format("10.0.0.{}", index + 1), .port = 7400};
}

node::Node::Options DataCluster::node_options(size_t index) const {
    node::Node::Options options;
    options.name = fmt::format("n{}", index + 1);
    options.id = NodeId{index + 1};
    options.identity =
            membership::Identity{.id = membership::MemberId{.high = 0x5348, .low = index + 1},
                                 .name = options.name,
                                 .address = address(index),
                                 .zone = "default",
                                 .capacity_weight = 1};
    options.storage_mode = options_.storage_mode;
    options.disk.directory = "/data";
    options.disk.reserve_bytes = 0;
    options.disk.segment_bytes = uint64_t{1} << 20;
    options.disk.cache_bytes = uint64_t{1} << 20;
    options.disk.write_backlog_bytes_max = uint64_t{4} << 20;
    options.cluster.stripe_bytes = 64 * 1024;
    options.cluster.partitions = 64;
    options.cluster.peer_timeout_ticks = 100;
    if (options_.configure) options_.configure(options);
    return options;
}

void DataCluster::start(size_t index, std::vector<HostPort> join) {
    Member& member = nodes_[index];
    SHOAL_ASSERT(member.node == nullptr);
    member.starts += 1;
    member.started_ok = false;
    member.runtime = std::make_unique<SimRuntime>(
            events_,
            network_,
            *member.disk,
            SimRuntime::Options{.seed = options_.seed * 1000 + index + 10 * member.starts,
                                .address = address(index)});
    node::Node::Options options = node_options(index);
    options.join = std::move(join);
    member.node = std::make_unique<node::Node>(options, *member.runtime, *member.log);
    member.runtime->start(*member.node);
    // A crash may come before the store opens: the callback then finds a newer start, or none.
    const uint64_t starts = member.starts;
    member.node->start([this, index, starts](const Status& status) {
        Member& started = nodes_[index];
        if (started.starts != starts || started.node == nullptr) return;
        if (status.is_ok()) {
            started.started_ok = true;
        } else {
            failed_starts_ += 1;
        }
    });
    member.client->connect(*member.runtime);
}

void DataCluster::crash(size_t index) {
    Member& member = nodes_[index];
    SHOAL_ASSERT(member.node != nullptr);
    member.client->disconnect();
    member.runtime->crash();
    member.disk->crash();
    member.node.reset();
    member.started_ok = false;
    retired_.push_back(std::move(member.runtime));
}

void DataCluster::restart(size_t index) {
    std::vector<HostPort> join;
    for (size_t other = 0; other < size(); other++) {
        if (other != index) join.push_back(address(other));
    }
    start(index, std::move(join));
}

bool DataCluster::run_until(Duration budget, const std::function<bool()>& done) {
    if (done()) return true;
    return events_.run_until(events_.now() + budget, done);
}

bool DataCluster::converged() const {
    std::optional<uint64_t> epoch;
    for (size_t index = 0; index < size(); index++) {
        if (!up(index)) return false;
        const coordinator::Layout* layout = nodes_[index].node->layout();
        if (layout == nullptr || layout->table().nodes().size() != size()) return false;
        if (epoch.has_value() && *epoch != layout->table().fingerprint()) return false;
        epoch = layout->table().fingerprint();
    }
    return true;
}

bool DataCluster::all_alive() const {
    for (size_t index = 0; index < size(); index++) {
        if (!serving(index)) return false;
        const auto members = nodes_[index].node->swim().members();
        if (members.size() != size()) return false;
        const bool alive = std::all_of(members.begin(), members.end(), [](const auto& member) {
            return member.state == membership::MemberState::kAlive;
        });
        if (!alive) return false;
    }
    return converged();
}

std::unique_ptr<SimClient> DataCluster::new_client(size_t index) {
    SHOAL_ASSERT(up(index));
    auto client = std::make_unique<SimClient>(network_);
    client->connect(*nodes_[index].runtime);
    return client;
}

SimClient& DataCluster::connected_client(size_t through) {
    Member& member = nodes_[through];
    SHOAL_ASSERT(member.node != nullptr);
    if (member.client->was_closed_by_peer()) member.client->connect(*member.runtime);
    return *member.client;
}

bool DataCluster::broken(size_t through, uint64_t starts) const {
    const Member& member = nodes_[through];
    return member.node == nullptr || member.starts != starts || member.client->was_closed_by_peer();
}

Result<ReceivedFrame> DataCluster::await_reply(size_t through, RequestId request, Duration budget) {
    SimClient& client = *nodes_[through].client;
    const uint64_t starts = nodes_[through].starts;
    const bool answered = run_until(
            budget, [&] { return !client.frames(request).empty() || broken(through, starts); });
    const std::vector<ReceivedFrame>& frames = client.frames(request);
    if (frames.empty()) {
        client.forget(request);
        if (!answered) return Status::timeout("client: no answer within the budget");
        return Status::unavailable("client: the connection broke before the answer");
    }
    ReceivedFrame first{.header = frames[0].header, .body = frames[0].body.clone()};
    client.forget(request);
    if (first.header.kind == wire::FrameKind::kError) {
        Result<wire::ErrorReply> error = wire::decode_error(first.body.view());
        SHOAL_ASSERT(error.is_ok());
        return Status::from_code(error.value().code, error.value().message);
    }
    return first;
}

Result<wire::PutReply> DataCluster::put(size_t through,
                                        const std::string& key,
                                        ByteView bytes,
                                        Duration budget) {
    SimClient& client = connected_client(through);
    const RequestId request = next_request();
    send_put(client, request, key, bytes);
    SHOAL_TRY_ASSIGN(ReceivedFrame reply, await_reply(through, request, budget));
    Result<wire::PutReply> decoded = wire::decode_put_reply(reply.body.view());
    SHOAL_ASSERT(decoded.is_ok());
    return decoded;
}

Result<wire::DeleteReply> DataCluster::remove(size_t through,
                                              const std::string& key,
                                              Duration budget) {
    SimClient& client = connected_client(through);
    const RequestId request = next_request();
    Buffer frame;
    wire::encode_request(request, wire::DeleteRequest{.key = key}, frame);
    client.send(std::move(frame));
    SHOAL_TRY_ASSIGN(ReceivedFrame reply, await_reply(through, request, budget));
    Result<wire::DeleteReply> decoded = wire::decode_delete_reply(reply.body.view());
    SHOAL_ASSERT(decoded.is_ok());
    return decoded;
}

Result<wire::StatReply> DataCluster::stat(size_t through, const std::string& key, Duration budget) {
    SimClient& client = connected_client(through);
    const RequestId request = next_request();
    Buffer frame;
    wire::encode_request(request, wire::StatRequest{.key = key}, frame);
    client.send(std::move(frame));
    SHOAL_TRY_ASSIGN(ReceivedFrame reply, await_reply(through, request, budget));
    Result<wire::StatReply> decoded = wire::decode_stat_reply(reply.body.view());
    SHOAL_ASSERT(decoded.is_ok());
    return decoded;
}

Result<std::optional<object::Manifest>> DataCluster::manifest_held(size_t index,
                                                                   const std::string& key,
                                                                   Duration budget) {
    SimClient& client = connected_client(index);
    const RequestId request = next_request();
    Buffer frame;
    wire::encode_request(request, wire::ManifestGetRequest{.key = key}, frame);
    client.send(std::move(frame));
    SHOAL_TRY_ASSIGN(ReceivedFrame reply, await_reply(index, request, budget));
    SHOAL_TRY_ASSIGN(wire::ManifestGetReply held,
                     wire::decode_manifest_get_reply(reply.body.view()));
    if (!held.found) return std::optional<object::Manifest>();
    SHOAL_TRY_ASSIGN(object::Manifest manifest, object::decode_manifest(held.manifest));
    return std::optional<object::Manifest>(std::move(manifest));
}

namespace {

// A get's answer is whole once an error frame ends it or its bytes reach the object's size.
bool get_done(const std::vector<ReceivedFrame>& frames) {
    if (frames.empty()) return false;
    if (frames.back().header.kind == wire::FrameKind::kError) return true;
    if (frames[0].header.kind != wire::FrameKind::kResponse) return true;
    Result<wire::GetReply> reply = wire::decode_get_reply(frames[0].body.view());
    if (!reply.is_ok()) return true;
    size_t bytes = reply.value().data.size();
    for (size_t index = 1; index < frames.size(); ++index) {
        bytes += frames[index].body.size();
    }
    return bytes >= reply.value().info.object_bytes;
}

}  // namespace

Result<ObjectRead> DataCluster::get(size_t through, const std::string& key, Duration budget) {
    return await_get(through, send_get(through, key), budget);
}

RequestId DataCluster::send_get(size_t through, const std::string& key) {
    SimClient& client = connected_client(through);
    const RequestId request = next_request();
    Buffer frame;
    wire::encode_request(request, wire::GetRequest{.key = key}, frame);
    client.send(std::move(frame));
    return request;
}

Result<ObjectRead> DataCluster::await_get(size_t through, RequestId request, Duration budget) {
    SimClient& client = *nodes_[through].client;
    const uint64_t starts = nodes_[through].starts;
    const bool done = run_until(
            budget, [&] { return get_done(client.frames(request)) || broken(through, starts); });
    const std::vector<ReceivedFrame>& frames = client.frames(request);
    Status failure;
    if (!get_done(frames)) {
        failure = done ? Status::unavailable("client: the connection broke before the end")
                       : Status::timeout("client: the get did not end within the budget");
    } else if (frames.back().header.kind == wire::FrameKind::kError) {
        Result<wire::ErrorReply> error = wire::decode_error(frames.back().body.view());
        SHOAL_ASSERT(error.is_ok());
        failure = Status::from_code(error.value().code, error.value().message);
    }
    if (!failure.is_ok()) {
        client.forget(request);
        return failure;
    }
    Result<wire::GetReply> reply = wire::decode_get_reply(frames[0].body.view());
    SHOAL_ASSERT(reply.is_ok());
    ObjectRead read{.info = reply.value().info, .data = Buffer(reply.value().data)};
    for (size_t index = 1; index < frames.size(); ++index) {
        read.data.append(frames[index].body.view());
    }
    client.forget(request);
    return read;
}

void send_put(SimClient& client,
              RequestId request,
              const std::string& key,
              ByteView bytes,
              wire::PutRedundancy redundancy) {
    const size_t first = std::min<size_t>(bytes.size(), limits::kDataFrameBytesMax);
    const bool is_last = first == bytes.size();
    const uint64_t digest = hash64(bytes);
    Buffer frame;
    wire::encode_request(request,
                         wire::PutRequest{.key = key,
                                          .object_bytes = bytes.size(),
                                          .redundancy = redundancy,
                                          .piece = {.last = is_last,
                                                    .digest = is_last ? digest : 0,
                                                    .data = bytes.first(first)}},
                         frame);
    client.send(std::move(frame));
    for (size_t offset = first; offset < bytes.size(); offset += limits::kDataFrameBytesMax) {
        const size_t size = std::min<size_t>(bytes.size() - offset, limits::kDataFrameBytesMax);
        const bool last = offset + size == bytes.size();
        Buffer piece;
        wire::encode_put_piece(request,
                               wire::PutPiece{.last = last,
                                              .digest = last ? digest : 0,
                                              .data = bytes.subspan(offset, size)},
                               piece);
        client.send(std::move(piece));
    }
}

}  // namespace shoal::sim::testing

#include "shoal/sim/single_node_workload.h"

#include <map>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/logger.h>

#include "shoal/base/hash.h"
#include "shoal/base/prng.h"
#include "shoal/node/node.h"
#include "shoal/sim/error_counting_sink.h"
#include "shoal/sim/sim_client.h"
#include "shoal/sim/sim_runtime.h"
#include "shoal/wire/messages.h"

namespace shoal::sim {
namespace {

constexpr Duration kReplyDeadline = std::chrono::seconds(30);

// Counts error-level lines: any one fails the run (FoundationDB's SevError rule).
Status failed(std::string_view what) {
    return Status::corruption(fmt::format("sim: {}", what));
}

class Workload {
public:
    explicit Workload(const WorkloadOptions& options)
        : options_(options),
          prng_(options.seed),
          network_(events_, options.seed ^ 0x5eed),
          disk_(events_, options.seed ^ 0xd15c),
          runtime_(events_, network_, disk_, SimRuntime::Options{.seed = options.seed}),
          sink_(std::make_shared<ErrorCountingSink>()),
          log_("sim.node", sink_),
          node_(node_options(options), runtime_, log_),
          client_(network_) {
        runtime_.start(node_);
        node_.start([](const Status& status) { SHOAL_ASSERT(status.is_ok()); });
        client_.connect(runtime_);
    }

    WorkloadReport run();

private:
    static node::Node::Options node_options(const WorkloadOptions& options) {
        node::Node::Options node;
        node.name = "sim";
        node.id = NodeId{options.seed | 1};
        node.memory.memory_bytes = options.memory_bytes;
        node.cluster.scheme = {.k = 1, .m = 0};  // A cluster of one keeps one copy.
        return node;
    }

    Status step();
    Status put(bool abandon);
    void send_put(RequestId request, const std::string& key, ByteView object, bool abandon);
    Status get_many(size_t count);
    Status check_get(const std::string& key, RequestId request);
    Status remove();
    Status stat();
    Status list();
    Status check_budget();

    std::string random_key();
    Buffer random_object();
    RequestId next_request() { return RequestId{request_next_++}; }
    // Runs the simulation until `request` has its answer, or fails after the deadline.
    Status await(RequestId request, uint64_t data_bytes_expected = 0);
    Status expect_error(RequestId request, Code code, std::string_view what);
    void record(RequestId request);
    uint64_t charged_bytes() const;

    WorkloadOptions options_;
    Prng prng_;
    EventQueue events_;
    SimNetwork network_;
    SimDisk disk_;  // Unused by memory mode; every runtime has one.
    SimRuntime runtime_;
    std::shared_ptr<ErrorCountingSink> sink_;
    spdlog::logger log_;
    node::Node node_;
    SimClient client_;
    std::map<std::string, Buffer> model_;
    Version version_last_;
    uint64_t request_next_ = 1;
    Hasher64 trace_;
    WorkloadReport report_;
};

std::string Workload::random_key() {
    static constexpr std::array<std::string_view, 3> kPrefixes{"photos/", "docs/", ""};
    return fmt::format(
            "{}k{}", kPrefixes[prng_.below(kPrefixes.size())], prng_.below(options_.keys));
}

Buffer Workload::random_object() {
    uint64_t bytes = 0;
    switch (prng_.below(3)) {
        case 0:
            bytes = prng_.below(100);
            break;
        case 1:
            bytes = prng_.below(uint64_t{64} * 1024);
            break;
        default:
            bytes = prng_.below(options_.object_bytes_max + 1);
            break;
    }
    Buffer object(bytes);
    prng_.fill(object.data(), object.size());
    return object;
}

uint64_t Workload::charged_bytes() const {
    uint64_t bytes = 0;
    for (const auto& [key, object] : model_) {
        bytes += object.size() + storage::MemoryStore::kObjectOverheadBytes + key.size();
    }
    return bytes;
}

void Workload::record(RequestId request) {
    for (const ReceivedFrame& frame : client_.frames(request)) {
        trace_.update(frame.body.view());
    }
}

Status Workload::await(RequestId request, uint64_t data_bytes_expected) {
    const auto done = [&] {
        const std::vector<ReceivedFrame>& frames = client_.frames(request);
        if (frames.empty()) return false;
        if (frames.front().header.kind != wire::FrameKind::kResponse) return true;
        if (frames.front().header.opcode != wire::Opcode::kGet) return true;
        uint64_t bytes = frames.front().body.size() - 32;  // GetReply's info.
        for (size_t index = 1; index < frames.size(); index++) {
            bytes += frames[index].body.size();
        }
        return bytes >= data_bytes_expected || frames.back().header.kind == wire::FrameKind::kError;
    };
    if (!events_.run_until(events_.now() + kReplyDeadline, done)) {
        return failed(fmt::format("request {} got no answer in time", to_u64(request)));
    }
    record(request);
    return Status::ok();
}

Status Workload::expect_error(RequestId request, Code code, std::string_view what) {
    const std::vector<ReceivedFrame>& frames = client_.frames(request);
    if (frames.size() != 1 || frames[0].header.kind != wire::FrameKind::kError) {
        return failed(fmt::format("{}: expected one error frame", what));
    }
    Result<wire::ErrorReply> error = wire::decode_error(frames[0].body.view());
    if (!error.is_ok() || error.value().code != code) {
        return failed(fmt::format("{}: expected {}", what, code_name(code)));
    }
    return Status::ok();
}

// Pieces of random sizes, the first inside the request itself; an abandoned put never sends
// its last piece.
void Workload::send_put(RequestId request, const std::string& key, ByteView object, bool abandon) {
    const bool size_declared = prng_.chance(1, 2);
    const uint64_t digest = hash64(object);
    size_t offset = std::min<size_t>(object.size(), prng_.below(limits::kDataFrameBytesMax + 1));
    Buffer frame;
    wire::encode_request(
            request,
            wire::PutRequest{
                    .key = key,
                    .object_bytes = size_declared ? object.size() : wire::kObjectBytesUnknown,
                    .piece = {.last = offset == object.size() && !abandon,
                              .digest = digest,
                              .data = object.subspan(0, offset)},
            },
            frame);
    client_.send(std::move(frame));
    while (offset < object.size()) {
        const size_t bytes = std::min<size_t>(object.size() - offset,
                                              1 + prng_.below(limits::kDataFrameBytesMax));
        if (abandon && offset + bytes == object.size()) break;
        Buffer piece;
        wire::encode_put_piece(request,
                               wire::PutPiece{.last = offset + bytes == object.size(),
                                              .digest = digest,
                                              .data = object.subspan(offset, bytes)},
                               piece);
        client_.send(std::move(piece));
        offset += bytes;
    }
}

Status Workload::put(bool abandon) {
    const std::string key = random_key();
    Buffer object = random_object();
    const RequestId request = next_request();
    const uint64_t digest = hash64(object.view());
    send_put(request, key, object.view(), abandon);
    const uint64_t overhead = storage::MemoryStore::kObjectOverheadBytes + key.size();
    const bool fits = charged_bytes() + overhead + object.size() <= options_.memory_bytes;
    if (abandon) {
        // The client dies mid-put: whatever the node held must vanish with the connection.
        events_.run_until(events_.now() + std::chrono::milliseconds(5));
        client_.disconnect();
        client_.connect(runtime_);
        events_.run_until(events_.now() + std::chrono::milliseconds(5));
        report_.puts_abandoned += 1;
        return Status::ok();
    }
    SHOAL_TRY(await(request));
    if (!fits) {
        SHOAL_TRY(expect_error(request, Code::kResourceExhausted, "put over the budget"));
        report_.puts_refused_no_space += 1;
        return Status::ok();
    }
    const std::vector<ReceivedFrame>& frames = client_.frames(request);
    // The store holds more than the model (tombstones, and superseded chunks until garbage
    // collection), so a put the model says fits may still be refused for space; never with
    // any other error, and a refused put is not visible.
    if (frames.size() == 1 && frames[0].header.kind == wire::FrameKind::kError) {
        SHOAL_TRY(expect_error(request, Code::kResourceExhausted, "put refused"));
        report_.puts_refused_no_space += 1;
        return Status::ok();
    }
    if (frames.size() != 1 || frames[0].header.kind != wire::FrameKind::kResponse) {
        return failed(fmt::format("put {} of {} bytes was not acknowledged", key, object.size()));
    }
    Result<wire::PutReply> reply = wire::decode_put_reply(frames[0].body.view());
    if (!reply.is_ok() || reply.value().info.digest != digest ||
        reply.value().info.object_bytes != object.size()) {
        return failed(fmt::format("put {}: reply does not describe the object", key));
    }
    if (!(reply.value().info.version > version_last_)) {
        return failed(fmt::format("put {}: version did not increase", key));
    }
    version_last_ = reply.value().info.version;
    model_[key] = std::move(object);
    report_.puts_acknowledged += 1;
    client_.forget(request);
    return Status::ok();
}

Status Workload::check_get(const std::string& key, RequestId request) {
    const std::vector<ReceivedFrame>& frames = client_.frames(request);
    auto expected = model_.find(key);
    if (expected == model_.end()) return expect_error(request, Code::kNotFound, "get of absent");
    if (frames.empty() || frames[0].header.kind != wire::FrameKind::kResponse) {
        return failed(fmt::format("get {}: no reply", key));
    }
    Result<wire::GetReply> reply = wire::decode_get_reply(frames[0].body.view());
    if (!reply.is_ok()) return failed(fmt::format("get {}: bad reply", key));
    Buffer data(reply.value().data);
    for (size_t index = 1; index < frames.size(); index++) {
        if (frames[index].header.kind != wire::FrameKind::kData) {
            return failed(fmt::format("get {}: stream broke off", key));
        }
        data.append(frames[index].body.view());
    }
    const Buffer& object = expected->second;
    if (!equal_bytes(data.view(), object.view()) ||
        reply.value().info.digest != hash64(object.view())) {
        return failed(fmt::format("get {}: {} bytes read back differ from the {} acknowledged",
                                  key,
                                  data.size(),
                                  object.size()));
    }
    report_.gets_checked += 1;
    return Status::ok();
}

// Several gets at once: big ones fill the send queue, so the node must pause and resume.
Status Workload::get_many(size_t count) {
    std::vector<std::pair<std::string, RequestId>> gets;
    for (size_t index = 0; index < count; index++) {
        gets.emplace_back(random_key(), next_request());
        Buffer frame;
        wire::encode_request(gets.back().second, wire::GetRequest{.key = gets.back().first}, frame);
        client_.send(std::move(frame));
    }
    for (const auto& [key, request] : gets) {
        auto found = model_.find(key);
        SHOAL_TRY(await(request, found == model_.end() ? 0 : found->second.size()));
        SHOAL_TRY(check_get(key, request));
        client_.forget(request);
    }
    return Status::ok();
}

Status Workload::remove() {
    const std::string key = random_key();
    const RequestId request = next_request();
    Buffer frame;
    wire::encode_request(request, wire::DeleteRequest{.key = key}, frame);
    client_.send(std::move(frame));
    SHOAL_TRY(await(request));
    if (model_.erase(key) == 0) return expect_error(request, Code::kNotFound, "delete of absent");
    const std::vector<ReceivedFrame>& frames = client_.frames(request);
    if (frames.size() != 1 || frames[0].header.kind != wire::FrameKind::kResponse) {
        return failed(fmt::format("delete {} failed", key));
    }
    client_.forget(request);
    return Status::ok();
}

Status Workload::stat() {
    const std::string key = random_key();
    const RequestId request = next_request();
    Buffer frame;
    wire::encode_request(request, wire::StatRequest{.key = key}, frame);
    client_.send(std::move(frame));
    SHOAL_TRY(await(request));
    auto expected = model_.find(key);
    if (expected == model_.end()) return expect_error(request, Code::kNotFound, "stat of absent");
    Result<wire::StatReply> reply = wire::decode_stat_reply(client_.frames(request)[0].body.view());
    if (!reply.is_ok() || reply.value().info.object_bytes != expected->second.size()) {
        return failed(fmt::format("stat {}: wrong size", key));
    }
    client_.forget(request);
    return Status::ok();
}

Status Workload::list() {
    static constexpr std::array<std::string_view, 5> kPrefixes{"", "photos/", "docs/", "k1", "zz"};
    const std::string prefix(kPrefixes[prng_.below(kPrefixes.size())]);
    const std::string start_after = prng_.chance(1, 2) ? "" : random_key();
    const auto limit = static_cast<uint32_t>(1 + prng_.below(10));
    const RequestId request = next_request();
    Buffer frame;
    wire::encode_request(
            request,
            wire::ListRequest{.prefix = prefix, .start_after = start_after, .limit = limit},
            frame);
    client_.send(std::move(frame));
    SHOAL_TRY(await(request));
    Result<wire::ListReply> reply = wire::decode_list_reply(client_.frames(request)[0].body.view());
    if (!reply.is_ok()) return failed("list: bad reply");
    std::vector<std::string> expected;
    bool truncated = false;
    for (const auto& [key, object] : model_) {
        if (!key.starts_with(prefix) || key <= start_after) continue;
        if (expected.size() == limit) {
            truncated = true;
            break;
        }
        expected.push_back(key);
    }
    std::vector<std::string> actual;
    for (const wire::ListEntry& entry : reply.value().entries) {
        actual.push_back(entry.key);
    }
    // "Truncated" says more keys may follow: a list cut at a page of the store whose remaining
    // keys are all deleted says so and finds nothing on the next call. Never the reverse.
    if (actual != expected || (truncated && !reply.value().truncated)) {
        return failed(
                fmt::format("list prefix=\"{}\" after=\"{}\" limit={}: got {} keys, "
                            "expected {}",
                            prefix,
                            start_after,
                            limit,
                            actual.size(),
                            expected.size()));
    }
    report_.lists_checked += 1;
    client_.forget(request);
    return Status::ok();
}

// The store holds at least every live object's bytes under a manifest of its own. It may hold
// more: tombstones, and the chunks of overwritten and deleted versions, which stay until
// garbage collection (docs/cluster.md) collects them. An abandoned put leaves no manifest, so
// its object is never visible; the gets check that.
Status Workload::check_budget() {
    const storage::StoreStats stats = node_.store_stats();
    if (stats.objects < model_.size() || stats.budget_used_bytes < charged_bytes()) {
        return failed(
                fmt::format("store holds {} records and charges {} bytes; the model's {} "
                            "objects need at least {}",
                            stats.objects,
                            stats.budget_used_bytes,
                            model_.size(),
                            charged_bytes()));
    }
    return Status::ok();
}

Status Workload::step() {
    const uint64_t choice = prng_.below(100);
    if (choice < 35) return put(/*abandon=*/false);
    if (choice < 40) return put(/*abandon=*/true);
    if (choice < 65) return get_many(1 + prng_.below(4));
    if (choice < 75) return remove();
    if (choice < 85) return stat();
    return list();
}

WorkloadReport Workload::run() {
    for (uint32_t operation = 0; operation < options_.operations; operation++) {
        report_.status = step();
        if (!report_.status.is_ok()) break;
        if (operation % 16 == 0) report_.status = check_budget();
        if (!report_.status.is_ok()) break;
    }
    // Liveness at the end: with every client gone, the budget holds exactly the model.
    if (report_.status.is_ok()) {
        client_.disconnect();
        events_.run_until(events_.now() + std::chrono::milliseconds(10));
        report_.status = check_budget();
    }
    if (report_.status.is_ok() && sink_->errors() > 0) {
        report_.status = failed(fmt::format("{} error-level log lines", sink_->errors()));
    }
    report_.trace_digest = trace_.digest();
    report_.events_run = events_.events_run();
    return std::move(report_);
}

}  // namespace

WorkloadReport run_single_node_workload(const WorkloadOptions& options) {
    Workload workload(options);
    return workload.run();
}

}  // namespace shoal::sim

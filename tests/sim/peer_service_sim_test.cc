// Goal: the peer service keeps its contract over either storage mode: a chunk round-trips byte
// for byte and a corrupt one is never stored; a manifest is stored only if newer than every
// version held or in flight, and an older or equal one is answered kSuperseded with the version
// held; a list reports tombstones and truncates at its limit and at one reply frame; a delete
// is idempotent; serve() answers decoded peer requests with frames that decode; and nothing
// completes inside the call that started it.
//
// Method: a PeerService over a LocalStore, on a MemoryStore or on a DiskStore over SimDisk,
// driven by running the EventQueue and the turn ends by hand, with records built by the object
// module's encoders.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <spdlog/logger.h>

#include "shoal/base/coding.h"
#include "shoal/base/hash.h"
#include "shoal/node/peer_service.h"
#include "shoal/sim/error_counting_sink.h"
#include "shoal/sim/event_queue.h"
#include "shoal/sim/sim_disk.h"
#include "shoal/storage/disk_store.h"
#include "shoal/storage/local_store.h"
#include "shoal/storage/memory_store.h"
#include "sim/peer_support.h"

namespace shoal::sim {
namespace {

using node::PeerService;
using storage::LocalRecord;
using testing::chunk_of;
using testing::encoded;
using testing::inline_manifest_of;
using testing::striped_manifest_of;
using testing::TestChunk;
using testing::version_at;

class Harness {
public:
    explicit Harness(bool disk_mode) : disk_(events_, 5), log_("sim.peer", sink_) {
        options_.directory = "/data";
        options_.segment_bytes = 8 << 20;
        if (disk_mode) {
            reopen();
        } else {
            local_ = std::make_unique<storage::LocalStore>(memory_);
            service_ = std::make_unique<PeerService>(*local_, log_);
        }
    }

    PeerService& service() { return *service_; }
    SimDisk& disk() { return disk_; }
    // Disk mode only.
    storage::DiskStore& disk_store() { return *disk_store_; }
    storage::DiskStore::Options& options() { return options_; }
    uint64_t error_logs() const { return sink_->errors(); }

    // Disk mode: a restart over the same disk.
    void reopen() {
        service_.reset();
        local_.reset();
        disk_store_ = std::make_unique<storage::DiskStore>(options_, disk_, log_);
        std::optional<Status> opened;
        disk_store_->open([&](Status status) { opened = std::move(status); });
        run_until([&] { return opened.has_value(); });
        REQUIRE(opened.has_value());
        REQUIRE(opened->is_ok());
        local_ = std::make_unique<storage::LocalStore>(*disk_store_);
        service_ = std::make_unique<PeerService>(*local_, log_);
    }

    // Runs the simulated disk and the turn ends until `done` holds.
    template <typename Predicate>
    void run_until(Predicate done) {
        for (uint32_t step = 0; step < 100'000 && !done(); ++step) {
            turn_end();
            if (!events_.run_next()) turn_end();
        }
    }

    // Starts a call with a completion that records its answer, checks that the answer did not
    // come inside the call, and runs until it has come.
    template <typename Answer, typename Start>
    Answer call(Start start) {
        std::optional<Answer> answer;
        start([&answer](Answer given) { answer.emplace(std::move(given)); });
        REQUIRE_FALSE(answer.has_value());  // Never inside the call.
        run_until([&] { return answer.has_value(); });
        REQUIRE(answer.has_value());
        return std::move(*answer);
    }

    Status put_chunk(const TestChunk& chunk) {
        const Buffer record = chunk.record();
        return call<Status>([&](auto done) { service_->put_chunk(record.view(), done); });
    }
    Result<LocalRecord> get_chunk(const object::ChunkId& chunk) {
        return call<Result<LocalRecord>>([&](auto done) { service_->get_chunk(chunk, done); });
    }
    // `own`: as this node's coordinator puts one (put_own_manifest), not as a peer's request.
    Result<wire::ManifestPutReply> put_manifest(const object::Manifest& manifest,
                                                bool own = false) {
        const Buffer bytes = encoded(manifest);
        return call<Result<wire::ManifestPutReply>>([&](auto done) {
            if (own) {
                service_->put_own_manifest(bytes.view(), done);
            } else {
                service_->put_manifest(bytes.view(), done);
            }
        });
    }
    Result<std::optional<Buffer>> get_manifest(const std::string& key) {
        return call<Result<std::optional<Buffer>>>(
                [&](auto done) { service_->get_manifest(key, done); });
    }
    Result<wire::ManifestListReply> list(const std::string& prefix,
                                         const std::string& start_after,
                                         uint32_t limit) {
        return call<Result<wire::ManifestListReply>>(
                [&](auto done) { service_->list_manifests(prefix, start_after, limit, done); });
    }
    Status delete_chunk(const object::ChunkId& chunk) {
        return call<Status>([&](auto done) { service_->delete_chunk(chunk, done); });
    }

private:
    void turn_end() {
        if (disk_store_ != nullptr) disk_store_->on_turn_end();
        if (local_ != nullptr) local_->on_turn_end();
        if (service_ != nullptr) service_->on_turn_end();
    }

    EventQueue events_;
    SimDisk disk_;
    std::shared_ptr<ErrorCountingSink> sink_ = std::make_shared<ErrorCountingSink>();
    spdlog::logger log_;
    storage::DiskStore::Options options_;
    storage::MemoryStore memory_{storage::MemoryStore::Options{}};
    std::unique_ptr<storage::DiskStore> disk_store_;
    std::unique_ptr<storage::LocalStore> local_;
    std::unique_ptr<PeerService> service_;
};

Version version_of(const Result<wire::ManifestPutReply>& reply) {
    REQUIRE(reply.is_ok());
    return reply.value().current;
}

TEST_CASE("peer service: a chunk round-trips byte for byte, and a repeated put is a no-op",
          "[sim][peer]") {
    const bool disk_mode = GENERATE(false, true);
    INFO("disk mode: " << disk_mode);
    Harness harness(disk_mode);
    const object::Manifest manifest = striped_manifest_of("photos/cat.jpg", version_at(100));
    const TestChunk first = chunk_of(manifest, 0, 1);
    const TestChunk second = chunk_of(manifest, 1, 2);

    REQUIRE(harness.put_chunk(first).is_ok());
    // The coordinator's form: header and data apart.
    REQUIRE(harness.call<Status>([&](auto done) {
                       harness.service().put_chunk(
                               second.header->view(), second.data->view(), done);
                   })
                    .is_ok());
    REQUIRE(harness.put_chunk(first).is_ok());
    CHECK(harness.service().stats().chunks_stored == 2);
    CHECK(harness.service().stats().chunks_already_held == 1);
    CHECK(harness.service().stats().chunk_bytes_stored == first.data->size() + second.data->size());

    for (const TestChunk* chunk : {&first, &second}) {
        Result<LocalRecord> record = harness.get_chunk(chunk->id);
        REQUIRE(record.is_ok());
        CHECK(record.value().version == manifest.version);
        CHECK(equal_bytes(record.value().join().view(), chunk->record().view()));
        // The reply frame: the header and prefix copied, the bulk of the record sent from
        // where it is stored, and the whole decodes to the record.
        runtime::OutFrame frame = PeerService::chunk_get_reply(RequestId{7}, record.value());
        CHECK(frame.payload.size() >= chunk->data->size());
        CHECK(frame.payload_owner != nullptr);
        Buffer whole(frame.head.view());
        whole.append(frame.payload);
        Result<wire::ChunkGetReply> reply =
                wire::decode_chunk_get_reply(whole.view().subspan(wire::kFrameHeaderBytes));
        REQUIRE(reply.is_ok());
        CHECK(equal_bytes(reply.value().record, chunk->record().view()));
    }
    if (disk_mode) {
        harness.reopen();
        Result<LocalRecord> record = harness.get_chunk(second.id);
        REQUIRE(record.is_ok());
        CHECK(equal_bytes(record.value().join().view(), second.record().view()));
    }
    CHECK(harness.error_logs() == 0);
}

TEST_CASE("peer service: parity chunks are stored cold, data chunks warm", "[sim][peer]") {
    Harness harness(/*disk_mode=*/true);
    // Under "always" the store names its synced tail and zero fill uncached too.
    harness.options().fsync = storage::FsyncSetting{.policy = storage::FsyncPolicy::kNever};
    harness.reopen();
    const object::Manifest manifest = striped_manifest_of("photos/cat.jpg", version_at(100));
    REQUIRE(manifest.scheme.k == 2);
    const TestChunk data = chunk_of(manifest, 0, 1);
    const TestChunk parity = chunk_of(manifest, 0, 2);

    REQUIRE(harness.put_chunk(data).is_ok());
    CHECK(harness.disk().stats().uncached_bytes == 0);
    REQUIRE(harness.put_chunk(parity).is_ok());
    // The header and the data, as records: a little more than the chunk itself.
    const uint64_t parity_bytes = parity.header->size() + parity.data->size();
    CHECK(harness.disk().stats().uncached_bytes >= parity_bytes);
    CHECK(harness.disk().stats().uncached_bytes < parity_bytes + 256);
    harness.reopen();
    Result<LocalRecord> read = harness.get_chunk(parity.id);
    REQUIRE(read.is_ok());
    CHECK(equal_bytes(read.value().join().view(), parity.record().view()));
    CHECK(harness.error_logs() == 0);
}

TEST_CASE("peer service: a corrupt chunk is refused and never stored", "[sim][peer]") {
    const bool disk_mode = GENERATE(false, true);
    INFO("disk mode: " << disk_mode);
    Harness harness(disk_mode);
    const TestChunk chunk = chunk_of(striped_manifest_of("a/b", version_at(100)), 1, 0);
    Buffer record = chunk.record();

    SECTION("a flipped data byte") {
        record[record.size() - 10] ^= std::byte{0x40};
    }
    SECTION("a flipped header byte") {
        record[20] ^= std::byte{0x01};
    }
    SECTION("a record cut short") {
        record.resize(record.size() - 1);
    }
    SECTION("a record cut inside its header") {
        record.resize(50);
    }
    const Status put = harness.call<Status>(
            [&](auto done) { harness.service().put_chunk(record.view(), done); });
    CHECK(put.code() == Code::kCorruption);
    CHECK(harness.service().stats().chunks_refused_corrupt == 1);
    CHECK(harness.service().stats().chunks_stored == 0);
    CHECK(harness.get_chunk(chunk.id).status().code() == Code::kNotFound);
    CHECK(harness.service().stats().chunk_gets_not_found == 1);
}

TEST_CASE("peer service: a chunk header given apart must be exactly the header", "[sim][peer]") {
    Harness harness(/*disk_mode=*/false);
    const TestChunk chunk = chunk_of(striped_manifest_of("a/b", version_at(100)), 0, 0);
    const Buffer record = chunk.record();
    const size_t header_bytes = chunk.header->size();
    const Status put = harness.call<Status>([&](auto done) {
        harness.service().put_chunk(record.view().first(header_bytes + 1),
                                    record.view().subspan(header_bytes + 1),
                                    done);
    });
    CHECK(put.code() == Code::kInvalidArgument);
    CHECK(harness.get_chunk(chunk.id).status().code() == Code::kNotFound);
}

TEST_CASE("peer service: the newest manifest wins, and an older one is superseded", "[sim][peer]") {
    const bool disk_mode = GENERATE(false, true);
    const bool own = GENERATE(false, true);
    INFO("disk mode: " << disk_mode << ", own manifests: " << own);
    Harness harness(disk_mode);
    const std::string key = "photos/dog.jpg";

    Result<wire::ManifestPutReply> stored =
            harness.put_manifest(inline_manifest_of(key, version_at(20)), own);
    REQUIRE(stored.is_ok());
    CHECK(stored.value().outcome == wire::ManifestPutOutcome::kStored);
    CHECK(stored.value().current == version_at(20));

    for (const Version older : {version_at(10), version_at(20), version_at(20, 0)}) {
        Result<wire::ManifestPutReply> superseded =
                harness.put_manifest(inline_manifest_of(key, older, "older"), own);
        REQUIRE(superseded.is_ok());
        CHECK(superseded.value().outcome == wire::ManifestPutOutcome::kSuperseded);
        CHECK(superseded.value().current == version_at(20));
    }
    // A tombstone is a version like any other.
    const object::Manifest tombstone =
            object::tombstone_manifest(key, version_at(30), 1'700'000'000'000);
    CHECK(harness.put_manifest(tombstone, own).value().outcome ==
          wire::ManifestPutOutcome::kStored);

    Result<std::optional<Buffer>> held = harness.get_manifest(key);
    REQUIRE(held.is_ok());
    REQUIRE(held.value().has_value());
    CHECK(equal_bytes(held.value()->view(), encoded(tombstone).view()));
    CHECK(harness.get_manifest("photos/none").value() == std::nullopt);
    CHECK(harness.get_manifest("").status().code() == Code::kInvalidArgument);
    CHECK(harness.service().stats().manifests_stored == 2);
    CHECK(harness.service().stats().manifests_superseded == 3);
    if (disk_mode) {
        harness.reopen();
        CHECK(version_of(harness.put_manifest(inline_manifest_of(key, version_at(25)))) ==
              version_at(30));
    }
}

TEST_CASE("peer service: overlapping manifest puts of one key land newest last", "[sim][peer]") {
    const bool disk_mode = GENERATE(false, true);
    INFO("disk mode: " << disk_mode);
    Harness harness(disk_mode);
    const std::string key = "race";
    // Started in one turn, before any is durable; in disk mode the ones after the first see it
    // only as a write in flight.
    const std::vector<uint64_t> order = GENERATE(std::vector<uint64_t>{50, 40, 60, 60, 55},
                                                 std::vector<uint64_t>{40, 50, 60, 55, 45});
    std::vector<Buffer> manifests;
    manifests.reserve(order.size());
    for (const uint64_t hlc : order) {
        manifests.push_back(encoded(inline_manifest_of(key, version_at(hlc), std::to_string(hlc))));
    }
    std::vector<std::optional<Result<wire::ManifestPutReply>>> answers(order.size());
    for (size_t index = 0; index < order.size(); index++) {
        harness.service().put_manifest(manifests[index].view(),
                                       [&answers, index](Result<wire::ManifestPutReply> reply) {
                                           answers[index].emplace(std::move(reply));
                                       });
    }
    for (const auto& answer : answers) {
        REQUIRE_FALSE(answer.has_value());
    }
    // On disk nothing is durable yet, so every older put waits for the write that supersedes it.
    if (disk_mode) CHECK(harness.service().stats().manifests_superseded == 0);
    harness.run_until([&] {
        for (const auto& answer : answers) {
            if (!answer.has_value()) return false;
        }
        return true;
    });
    uint64_t newest_so_far = 0;
    for (size_t index = 0; index < order.size(); index++) {
        REQUIRE(answers[index].has_value());
        REQUIRE(answers[index]->is_ok());
        const wire::ManifestPutReply& reply = answers[index]->value();
        CAPTURE(index, order[index]);
        if (order[index] > newest_so_far) {
            CHECK(reply.outcome == wire::ManifestPutOutcome::kStored);
            CHECK(reply.current == version_at(order[index]));
            newest_so_far = order[index];
        } else {
            CHECK(reply.outcome == wire::ManifestPutOutcome::kSuperseded);
            CHECK(reply.current >= version_at(newest_so_far));
        }
    }
    CHECK(harness.service().manifest_writes_in_flight() == 0);
    Result<std::optional<Buffer>> held = harness.get_manifest(key);
    REQUIRE(held.is_ok());
    REQUIRE(held.value().has_value());
    CHECK(object::decode_manifest(held.value()->view()).value().version == version_at(60));
}

TEST_CASE("peer service: a corrupt manifest is refused", "[sim][peer]") {
    Harness harness(/*disk_mode=*/false);
    Buffer bytes = encoded(inline_manifest_of("k", version_at(5)));
    bytes[bytes.size() / 2] ^= std::byte{0x10};
    const Result<wire::ManifestPutReply> put = harness.call<Result<wire::ManifestPutReply>>(
            [&](auto done) { harness.service().put_manifest(bytes.view(), done); });
    CHECK(put.status().code() == Code::kCorruption);
    CHECK(harness.service().stats().manifests_refused_corrupt == 1);
    CHECK(harness.get_manifest("k").value() == std::nullopt);
}

// A peer's manifest is decoded whole, not on its head as the node's own are: damage under a
// valid checksum (a broken or hostile writer) is refused, not stored.
TEST_CASE("peer service: a peer's manifest whose inline data breaks its digest is refused",
          "[sim][peer]") {
    Harness harness(/*disk_mode=*/false);
    Buffer bytes = encoded(inline_manifest_of("k", version_at(5), "some inline bytes"));
    bytes[bytes.size() - 9] ^= std::byte{0x01};  // The last inline byte.
    const size_t body_bytes = bytes.size() - 8;
    encode_fixed64(bytes.data() + body_bytes, hash64(bytes.view().first(body_bytes)));
    REQUIRE(object::decode_manifest_head(bytes.view()).is_ok());  // The checksum holds.
    const Result<wire::ManifestPutReply> put = harness.call<Result<wire::ManifestPutReply>>(
            [&](auto done) { harness.service().put_manifest(bytes.view(), done); });
    CHECK(put.status().code() == Code::kCorruption);
    CHECK(put.status().message().find("digest") != std::string::npos);
    CHECK(harness.service().stats().manifests_refused_corrupt == 1);
    CHECK(harness.get_manifest("k").value() == std::nullopt);
}

TEST_CASE("peer service: a list reports tombstones in key order and truncates at its limit",
          "[sim][peer]") {
    const bool disk_mode = GENERATE(false, true);
    INFO("disk mode: " << disk_mode);
    Harness harness(disk_mode);
    for (const std::string key : {"a/1", "a/2", "a/4", "a/5", "b/1"}) {
        REQUIRE(harness.put_manifest(inline_manifest_of(key, version_at(10), key)).is_ok());
    }
    REQUIRE(harness.put_manifest(striped_manifest_of("a/3", version_at(11))).is_ok());
    REQUIRE(harness.put_manifest(
                           object::tombstone_manifest("a/2", version_at(12), 1'700'000'000'000))
                    .is_ok());

    Result<wire::ManifestListReply> all = harness.list("a/", "", 10);
    REQUIRE(all.is_ok());
    REQUIRE(all.value().entries.size() == 5);
    CHECK_FALSE(all.value().truncated);
    const std::vector<wire::ManifestListEntry>& entries = all.value().entries;
    CHECK(entries[0].key == "a/1");
    CHECK(entries[0].object_bytes == 3);
    CHECK(entries[0].digest == hash64(as_bytes("a/1")));
    CHECK_FALSE(entries[0].tombstone);
    CHECK(entries[1].key == "a/2");
    CHECK(entries[1].tombstone);
    CHECK(entries[1].version == version_at(12));
    CHECK(entries[2].key == "a/3");
    CHECK(entries[2].object_bytes == uint64_t{2} * 1024 * 1024);
    CHECK(entries[2].version == version_at(11));

    Result<wire::ManifestListReply> first = harness.list("a/", "", 2);
    REQUIRE(first.value().entries.size() == 2);
    CHECK(first.value().truncated);
    Result<wire::ManifestListReply> rest = harness.list("a/", "a/2", 10);
    REQUIRE(rest.value().entries.size() == 3);
    CHECK(rest.value().entries[0].key == "a/3");
    CHECK_FALSE(rest.value().truncated);
    CHECK(harness.list("", "", 100).value().entries.size() == 6);
    CHECK(harness.list("c", "", 100).value().entries.empty());
    CHECK(harness.list("a/", "", 0).status().code() == Code::kInvalidArgument);
    CHECK(harness.service().stats().list_manifests_skipped == 0);
}

TEST_CASE("peer service: a list page of only corrupt manifests still says where it ended",
          "[sim][peer]") {
    Harness harness(/*disk_mode=*/true);
    harness.options().cache_bytes = 0;  // Reads go to the disk, where the flips are.
    harness.reopen();
    for (const std::string key : {"a/1", "a/2", "a/3", "a/4", "a/5"}) {
        REQUIRE(harness.put_manifest(inline_manifest_of(key, version_at(10), key)).is_ok());
    }
    for (const std::string key : {"a/2", "a/3"}) {
        const storage::DiskObjectRef object =
                harness.disk_store().find(object::manifest_store_key(key));
        REQUIRE(object != nullptr);
        const std::string path = "/data/" + storage::segment_file_name(object->commit.segment);
        REQUIRE(harness.disk().flip_bit(path, object->commit.offset + 40, 1));
    }

    Result<wire::ManifestListReply> corrupt = harness.list("a/", "a/1", 2);
    REQUIRE(corrupt.is_ok());
    CHECK(corrupt.value().entries.empty());
    CHECK(corrupt.value().truncated);
    CHECK(corrupt.value().scanned_through == "a/3");
    CHECK(harness.service().stats().list_manifests_skipped == 2);

    Result<wire::ManifestListReply> rest = harness.list("a/", corrupt.value().scanned_through, 10);
    REQUIRE(rest.is_ok());
    REQUIRE(rest.value().entries.size() == 2);
    CHECK(rest.value().entries[0].key == "a/4");
    CHECK(rest.value().scanned_through == "a/5");
    CHECK_FALSE(rest.value().truncated);
    // It decodes as sent: the requester sees the same cursor.
    Buffer frame;
    wire::encode_reply(RequestId{1}, corrupt.value(), frame);
    const Result<wire::ManifestListReply> decoded =
            wire::decode_manifest_list_reply(frame.view().subspan(wire::kFrameHeaderBytes));
    REQUIRE(decoded.is_ok());
    CHECK(decoded.value().scanned_through == "a/3");
}

TEST_CASE("peer service: a list stops at one reply frame's worth of entries", "[sim][peer]") {
    Harness harness(/*disk_mode=*/false);
    // Keys of 1000 bytes: about 1030 entries fill a reply.
    const size_t keys = 1100;
    for (size_t index = 0; index < keys; index++) {
        const std::string key = fmt::format("{:04}", index) + std::string(996, 'k');
        REQUIRE(harness.put_manifest(inline_manifest_of(key, version_at(10))).is_ok());
    }
    Result<wire::ManifestListReply> page = harness.list("", "", limits::kListEntriesMax);
    REQUIRE(page.is_ok());
    CHECK(page.value().truncated);
    const size_t entries = page.value().entries.size();
    CHECK(entries < keys);
    CHECK(entries * wire::manifest_list_entry_bytes(page.value().entries[0].key) <=
          wire::kManifestListEntriesBytesMax);
    CHECK((entries + 1) * wire::manifest_list_entry_bytes(page.value().entries[0].key) >
          wire::kManifestListEntriesBytesMax);
    CHECK(page.value().scanned_through == page.value().entries.back().key);
    Buffer frame;
    wire::encode_reply(RequestId{1}, page.value(), frame);  // It fits one frame.
    CHECK(frame.size() <= wire::kFrameHeaderBytes + limits::kFrameBodyBytesMax);
}

TEST_CASE("peer service: deleting a chunk is idempotent", "[sim][peer]") {
    const bool disk_mode = GENERATE(false, true);
    INFO("disk mode: " << disk_mode);
    Harness harness(disk_mode);
    const TestChunk chunk = chunk_of(striped_manifest_of("gc/me", version_at(100)), 0, 2);
    CHECK(harness.delete_chunk(chunk.id).is_ok());  // Never held.
    REQUIRE(harness.put_chunk(chunk).is_ok());
    CHECK(harness.delete_chunk(chunk.id).is_ok());
    CHECK(harness.get_chunk(chunk.id).status().code() == Code::kNotFound);
    CHECK(harness.delete_chunk(chunk.id).is_ok());
    CHECK(harness.service().stats().chunks_deleted == 1);
    if (disk_mode) {
        harness.reopen();
        CHECK(harness.get_chunk(chunk.id).status().code() == Code::kNotFound);
    }
}

// A peer request as the node decodes it from a frame.
template <typename Request>
Buffer request_frame(const Request& request) {
    Buffer frame;
    wire::encode_request(RequestId{9}, request, frame);
    return frame;
}

// Serves one frame and returns the reply frame, checking it came on a later turn.
Buffer serve(Harness& harness, const Buffer& frame) {
    Result<wire::FrameHeader> header =
            wire::decode_frame_header(frame.view(), limits::kFrameBodyBytesMax);
    REQUIRE(header.is_ok());
    Result<wire::Request> request = wire::decode_request(
            {.header = header.value(), .body = frame.view().subspan(wire::kFrameHeaderBytes)});
    REQUIRE(request.is_ok());
    REQUIRE(PeerService::is_peer_request(request.value()));
    const runtime::OutFrame reply = harness.call<runtime::OutFrame>(
            [&](auto done) { harness.service().serve(request.value(), RequestId{9}, done); });
    Buffer whole(reply.head.view());
    whole.append(reply.payload);
    Result<wire::FrameHeader> reply_header =
            wire::decode_frame_header(whole.view(), limits::kFrameBodyBytesMax);
    REQUIRE(reply_header.is_ok());
    CHECK(reply_header.value().request_id == RequestId{9});
    CHECK(reply_header.value().opcode == header.value().opcode);
    CHECK(reply_header.value().body_bytes + wire::kFrameHeaderBytes == whole.size());
    return whole;
}

wire::FrameKind kind_of(const Buffer& frame) {
    return wire::decode_frame_header(frame.view(), limits::kFrameBodyBytesMax).value().kind;
}

ByteView body_of(const Buffer& frame) {
    return frame.view().subspan(wire::kFrameHeaderBytes);
}

TEST_CASE("peer service: serve() answers each peer request with a frame that decodes",
          "[sim][peer]") {
    Harness harness(/*disk_mode=*/true);
    const object::Manifest manifest = striped_manifest_of("served", version_at(70));
    const TestChunk chunk = chunk_of(manifest, 1, 1);
    const Buffer record = chunk.record();
    const Buffer manifest_bytes = encoded(manifest);
    const wire::ChunkId id = node::to_wire_chunk_id(chunk.id);

    Buffer reply = serve(harness, request_frame(wire::ChunkPutRequest{.record = record.view()}));
    CHECK(kind_of(reply) == wire::FrameKind::kResponse);
    CHECK(wire::decode_chunk_put_reply(body_of(reply)).is_ok());

    reply = serve(harness, request_frame(wire::ChunkGetRequest{.chunk = id}));
    REQUIRE(kind_of(reply) == wire::FrameKind::kResponse);
    CHECK(equal_bytes(wire::decode_chunk_get_reply(body_of(reply)).value().record, record.view()));

    reply = serve(harness,
                  request_frame(wire::ManifestPutRequest{.manifest = manifest_bytes.view()}));
    CHECK(wire::decode_manifest_put_reply(body_of(reply)).value().outcome ==
          wire::ManifestPutOutcome::kStored);
    reply = serve(harness, request_frame(wire::ManifestGetRequest{.key = "served"}));
    const wire::ManifestGetReply got = wire::decode_manifest_get_reply(body_of(reply)).value();
    CHECK(got.found);
    CHECK(equal_bytes(got.manifest, manifest_bytes.view()));
    reply = serve(harness, request_frame(wire::ManifestGetRequest{.key = "other"}));
    CHECK_FALSE(wire::decode_manifest_get_reply(body_of(reply)).value().found);
    reply = serve(
            harness,
            request_frame(wire::ManifestListRequest{.prefix = "s", .start_after = "", .limit = 5}));
    const wire::ManifestListReply listed = wire::decode_manifest_list_reply(body_of(reply)).value();
    REQUIRE(listed.entries.size() == 1);
    CHECK(listed.entries[0].key == "served");

    reply = serve(harness, request_frame(wire::ChunkDeleteRequest{.chunk = id}));
    CHECK(wire::decode_chunk_delete_reply(body_of(reply)).is_ok());
    // Failures are kError frames that keep their code.
    reply = serve(harness, request_frame(wire::ChunkGetRequest{.chunk = id}));
    REQUIRE(kind_of(reply) == wire::FrameKind::kError);
    CHECK(wire::decode_error(body_of(reply)).value().code == Code::kNotFound);
    Buffer corrupt = record.clone();
    corrupt[corrupt.size() - 1] ^= std::byte{1};
    reply = serve(harness, request_frame(wire::ChunkPutRequest{.record = corrupt.view()}));
    REQUIRE(kind_of(reply) == wire::FrameKind::kError);
    CHECK(wire::decode_error(body_of(reply)).value().code == Code::kCorruption);
}

}  // namespace
}  // namespace shoal::sim

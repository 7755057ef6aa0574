// Goal: HandBack's bounds and retries. It tracks at most kHeldMax chunks and counts the rest;
// nothing goes to an owner that is not alive; a failed hand-back keeps the chunk here and is
// tried again after kRetryTicks, not before; one that succeeds leaves the chunk on its owner,
// byte-exact, and gone here; a scan asked for during a scan starts over.
//
// Method: a HandBack over a PeerService on a MemoryStore, with coordinator::testing::FakePeers
// as the other nodes. The test ticks it, and runs the store's turn ends and the peers' calls
// until nothing is left to run.
#include <memory>
#include <optional>
#include <string>

#include <catch2/catch.hpp>
#include <spdlog/logger.h>

#include "shoal/node/hand_back.h"
#include "shoal/node/peer_service.h"
#include "shoal/sim/error_counting_sink.h"
#include "shoal/storage/local_store.h"
#include "shoal/storage/memory_store.h"
#include "sim/peer_support.h"
#include "unit/coordinator/fake_peers.h"

namespace shoal::sim {
namespace {

using node::HandBack;
using testing::chunk_of;
using testing::striped_manifest_of;
using testing::TestChunk;
using testing::version_at;

constexpr coordinator::NodeKey kOwner{.high = 0, .low = 2};

class Harness {
public:
    Harness()
        : log_("sim.hand_back", sink_),
          local_(memory_),
          service_(local_, log_),
          hand_back_(
                  service_,
                  local_,
                  peers_,
                  [this](const object::ChunkId& /*chunk*/) { return owner; },
                  [this](const coordinator::NodeKey& /*node*/) { return owner_alive; },
                  log_) {}

    HandBack& hand_back() { return hand_back_; }
    coordinator::testing::FakePeers& peers() { return peers_; }
    uint64_t error_logs() const { return sink_->errors(); }

    // Stores `chunk` here, as a put's fallback does, and notes it.
    void store(const TestChunk& chunk) {
        const Buffer record = chunk.record();
        std::optional<Status> stored;
        service_.put_chunk(record.view(), [&](Status status) { stored = std::move(status); });
        settle();
        REQUIRE(stored.has_value());
        REQUIRE(stored->is_ok());
        hand_back_.note(chunk.id);
    }
    // A record under the chunk's store key, not noted: what a restarted node finds in its
    // store. A scan reads only keys, so the record's bytes stand in for a chunk's.
    void store_unnoted(const object::ChunkId& chunk) {
        std::optional<Status> stored;
        const Status started =
                local_.put(object::chunk_store_key(chunk),
                           storage::LocalWrite{.head = as_bytes("chunk"), .version = chunk.version},
                           [&](Status status) { stored = std::move(status); });
        REQUIRE(started.is_ok());
        settle();
        REQUIRE(stored.has_value());
        REQUIRE(stored->is_ok());
    }
    bool held_here(const object::ChunkId& chunk) {
        std::optional<bool> found;
        service_.get_chunk(chunk,
                           [&](Result<storage::LocalRecord> record) { found = record.is_ok(); });
        settle();
        REQUIRE(found.has_value());
        return *found;
    }
    // One tick, and everything it started runs to its end.
    void tick() {
        hand_back_.on_tick();
        settle();
    }

    std::optional<coordinator::NodeKey> owner = kOwner;
    bool owner_alive = true;

private:
    // A hand-back is a read here, a send and a delete here: a few rounds see it through.
    void settle() {
        for (int round = 0; round < 8; ++round) {
            local_.on_turn_end();
            service_.on_turn_end();
            peers_.run();
        }
    }

    std::shared_ptr<ErrorCountingSink> sink_ = std::make_shared<ErrorCountingSink>();
    spdlog::logger log_;
    storage::MemoryStore memory_{storage::MemoryStore::Options{}};
    storage::LocalStore local_;
    node::PeerService service_;
    coordinator::testing::FakePeers peers_{6};
    HandBack hand_back_;
};

TEST_CASE("hand-back: a failed attempt keeps the chunk, and is retried after kRetryTicks",
          "[sim][hand_back]") {
    Harness harness;
    const TestChunk chunk = chunk_of(striped_manifest_of("photos/cat.jpg", version_at(100)), 0, 1);
    harness.store(chunk);
    REQUIRE(harness.hand_back().held() == 1);

    // Not while the owner is down in the member list.
    harness.owner_alive = false;
    for (int tick = 0; tick < 3; ++tick) {
        harness.tick();
    }
    CHECK(harness.peers().calls() == 0);

    // Alive in the member list, but the send fails: the chunk stays here.
    harness.owner_alive = true;
    harness.peers().node(kOwner).down = true;
    harness.tick();
    REQUIRE(harness.hand_back().stats().attempts_failed == 1);
    CHECK(harness.hand_back().held() == 1);
    CHECK(harness.held_here(chunk.id));

    const uint64_t calls = harness.peers().calls();
    harness.peers().node(kOwner).down = false;
    for (uint64_t tick = 1; tick < HandBack::kRetryTicks; ++tick) {
        harness.tick();
    }
    CHECK(harness.peers().calls() == calls);
    harness.tick();
    CHECK(harness.hand_back().stats().handed_back == 1);
    CHECK(harness.hand_back().held() == 0);
    CHECK_FALSE(harness.held_here(chunk.id));
    const auto& owned = harness.peers().node(kOwner).chunks;
    const auto given = owned.find(object::chunk_store_key(chunk.id));
    REQUIRE(given != owned.end());
    CHECK(equal_bytes(given->second.view(), chunk.record().view()));
    CHECK(harness.error_logs() == 0);
}

TEST_CASE("hand-back: at most kHeldMax chunks are tracked, and the rest are counted",
          "[sim][hand_back]") {
    Harness harness;
    const auto chunk_id = [](uint32_t stripe) {
        return object::ChunkId{.key_hash = 7,
                               .version = version_at(100),
                               .stripe_index = stripe,
                               .chunk_index = 0};
    };
    // A chunk this node owns is not tracked at all.
    harness.owner = std::nullopt;
    harness.hand_back().note(chunk_id(0));
    CHECK(harness.hand_back().stats().noted == 0);

    harness.owner = kOwner;
    for (uint32_t stripe = 0; stripe <= HandBack::kHeldMax; ++stripe) {
        harness.hand_back().note(chunk_id(stripe));
    }
    CHECK(harness.hand_back().held() == HandBack::kHeldMax);
    CHECK(harness.hand_back().stats().noted == HandBack::kHeldMax + 1);
    CHECK(harness.hand_back().stats().not_tracked == 1);
    // One already tracked is not counted as left out.
    harness.hand_back().note(chunk_id(0));
    CHECK(harness.hand_back().held() == HandBack::kHeldMax);
    CHECK(harness.hand_back().stats().not_tracked == 1);
}

// The layout changes while a scan is under way: what the scan has passed was judged by the old
// layout, so scan() starts it again from the first key.
TEST_CASE("hand-back: a scan asked for during a scan starts again from the first key",
          "[sim][hand_back]") {
    Harness harness;
    constexpr uint32_t kChunks = HandBack::kScanPageKeys + HandBack::kScanPageKeys / 2;
    for (uint32_t stripe = 0; stripe < kChunks; ++stripe) {
        harness.store_unnoted(
                object::ChunkId{.key_hash = 7, .version = version_at(100), .stripe_index = stripe});
    }
    // Under the first layout every chunk is this node's; the owner is down, so nothing that
    // gets noted leaves.
    harness.owner = std::nullopt;
    harness.owner_alive = false;
    harness.hand_back().scan();
    harness.tick();
    REQUIRE(harness.hand_back().scanning());
    REQUIRE(harness.hand_back().stats().scanned == HandBack::kScanPageKeys);
    CHECK(harness.hand_back().held() == 0);

    // The layout moves every chunk to the owner.
    harness.owner = kOwner;
    harness.hand_back().scan();
    for (int tick = 0; tick < 4 && harness.hand_back().scanning(); ++tick) {
        harness.tick();
    }
    REQUIRE_FALSE(harness.hand_back().scanning());
    CHECK(harness.hand_back().held() == kChunks);
    CHECK(harness.hand_back().stats().scanned == HandBack::kScanPageKeys + kChunks);
    CHECK(harness.peers().calls() == 0);
}

}  // namespace
}  // namespace shoal::sim

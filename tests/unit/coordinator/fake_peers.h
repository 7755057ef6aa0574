// FakePeers: a cluster of in-memory nodes behind coordinator::Peers, for the operations' unit
// tests. Calls complete only when the test runs them (run()), never inside the call, as the
// interface promises. A node can be down (calls fail with kUnavailable), full, or unable to read
// its manifests, and a stored chunk can be corrupted or dropped, to drive degraded reads.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "shoal/coordinator/layout.h"
#include "shoal/coordinator/peers.h"
#include "shoal/object/manifest.h"
#include "shoal/object/store_key.h"
#include "shoal/placement/partition_table.h"

namespace shoal::coordinator::testing {

struct FakeNode {
    std::map<std::string, Buffer> chunks;  // By chunk store key.
    std::map<std::string, object::Manifest> manifests;
    bool down = false;
    bool full = false;                  // Refuses writes for lack of space.
    bool fails_manifest_reads = false;  // Answers manifest reads with an error.
    // Chunks its store refuses to read, as a disk whose checksums failed does (kCorruption);
    // gone once deleted.
    std::set<std::string> unreadable;
    // Manifests, by key, that fail their read when listed: left out of a page, but looked at,
    // as PeerService does with a corrupt one.
    std::set<std::string> unlistable;
};

class FakePeers final : public Peers {
public:
    explicit FakePeers(uint32_t node_count) {
        for (uint32_t index = 0; index < node_count; ++index) {
            nodes_[NodeKey{.high = 0, .low = index + 1}] = FakeNode{};
        }
    }

    std::map<NodeKey, FakeNode>& nodes() { return nodes_; }
    FakeNode& node(const NodeKey& key) { return nodes_.at(key); }
    uint64_t calls() const { return calls_; }

    // A layout over every node, with RS 4+2 (or `scheme`) as the manifest's code.
    std::shared_ptr<const Layout> layout(object::Scheme scheme = {.k = 4, .m = 2},
                                         uint32_t partitions = 64) const {
        std::vector<placement::Node> view;
        for (const auto& [key, node] : nodes_)
            view.push_back({.id = key, .zone = "", .weight = 1});
        Result<placement::PartitionTable> table = placement::PartitionTable::build(
                view, {.partition_count = partitions, .owner_count = scheme.chunk_count()});
        SHOAL_ASSERT(table.is_ok());
        return std::make_shared<const Layout>(
                std::make_shared<const placement::PartitionTable>(std::move(table).value()),
                nodes_.begin()->first,
                scheme);
    }

    // Runs every queued completion, and those they queue, until none is left.
    void run() {
        for (uint32_t step = 0; step < 1'000'000 && !queue_.empty(); ++step) {
            std::function<void()> next = std::move(queue_.front());
            queue_.pop_front();
            next();
        }
    }
    // Runs only the completions queued so far.
    void run_once() {
        std::deque<std::function<void()>> ready = std::move(queue_);
        queue_.clear();
        for (std::function<void()>& next : ready)
            next();
    }
    bool idle() const { return queue_.empty(); }

    void put_chunk(const NodeKey& to, const OutgoingChunk& chunk, Done done) override {
        Buffer record(chunk.header->view());
        record.append(chunk.data);
        const std::string key = object::chunk_store_key(chunk.id);
        later([this, to, key, record = std::make_shared<Buffer>(std::move(record)), done]() {
            if (is_down(to)) return done(Status::unavailable("node down"));
            if (node(to).full) return done(Status::resource_exhausted("no space"));
            node(to).chunks[key] = std::move(*record);
            done(Status::ok());
        });
    }

    void get_chunk(const NodeKey& to, const object::ChunkId& chunk, ChunkDone done) override {
        const std::string key = object::chunk_store_key(chunk);
        later([this, to, key, done]() {
            if (is_down(to)) return done(Status::unavailable("node down"));
            if (node(to).unreadable.contains(key)) return done(Status::corruption("bad record"));
            auto found = node(to).chunks.find(key);
            if (found == node(to).chunks.end()) return done(Status::not_found("no chunk"));
            done(found->second.clone());
        });
    }

    void delete_chunk(const NodeKey& to, const object::ChunkId& chunk, Done done) override {
        const std::string key = object::chunk_store_key(chunk);
        later([this, to, key, done]() {
            if (is_down(to)) return done(Status::unavailable("node down"));
            node(to).chunks.erase(key);
            node(to).unreadable.erase(key);
            done(Status::ok());
        });
    }

    void put_manifest(const NodeKey& to,
                      std::shared_ptr<const Buffer> manifest,
                      Done done) override {
        later([this, to, manifest, done]() {
            if (is_down(to)) return done(Status::unavailable("node down"));
            if (node(to).full) return done(Status::resource_exhausted("no space"));
            Result<object::Manifest> decoded = object::decode_manifest(manifest->view());
            if (!decoded.is_ok()) return done(decoded.status());
            auto& held = node(to).manifests;
            auto found = held.find(decoded.value().key);
            if (found == held.end() || object::newer(decoded.value(), found->second)) {
                held[decoded.value().key] = decoded.value();
            }
            done(Status::ok());
        });
    }

    void get_manifest(const NodeKey& to, const std::string& key, ManifestDone done) override {
        later([this, to, key, done]() {
            if (is_down(to)) return done(Status::unavailable("node down"));
            if (node(to).fails_manifest_reads) return done(Status::io_error("manifest unreadable"));
            auto found = node(to).manifests.find(key);
            if (found == node(to).manifests.end()) {
                return done(std::optional<object::Manifest>());
            }
            done(std::optional<object::Manifest>(found->second));
        });
    }

    void list_manifests(const NodeKey& to,
                        const std::string& prefix,
                        const std::string& start_after,
                        uint32_t limit,
                        ListDone done) override {
        later([this, to, prefix, start_after, limit, done]() {
            if (is_down(to)) return done(Status::unavailable("node down"));
            ManifestPage page;
            uint32_t looked_at = 0;
            for (const auto& [key, manifest] : node(to).manifests) {
                if (key.compare(0, prefix.size(), prefix) != 0 || key <= start_after) continue;
                if (looked_at == limit) {
                    page.truncated = true;
                    break;
                }
                looked_at += 1;
                page.scanned_through = key;
                if (node(to).unlistable.contains(key)) continue;
                page.entries.push_back({.key = key,
                                        .version = manifest.version,
                                        .object_bytes = manifest.object_bytes,
                                        .object_digest = manifest.object_digest,
                                        .tombstone = manifest.is_tombstone()});
            }
            done(std::move(page));
        });
    }

private:
    bool is_down(const NodeKey& to) const { return nodes_.at(to).down; }
    void later(std::function<void()> completion) {
        calls_ += 1;
        queue_.push_back(std::move(completion));
    }

    std::map<NodeKey, FakeNode> nodes_;
    std::deque<std::function<void()>> queue_;
    uint64_t calls_ = 0;
};

}  // namespace shoal::coordinator::testing

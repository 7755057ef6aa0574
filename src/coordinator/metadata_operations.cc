#include "shoal/coordinator/metadata_operations.h"

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "shoal/coordinator/collect.h"
#include "shoal/coordinator/manifest_quorum.h"

namespace shoal::coordinator {
namespace {

// Rounds of a list cut short by tombstones or short node pages, before it returns what it
// has with truncated set.
constexpr uint32_t kListRoundsMax = 16;

struct ListRound {
    std::shared_ptr<const Layout> layout;
    std::string prefix;
    std::string start_after;
    uint32_t limit = 0;
    uint32_t rounds = 0;
    ListPage collected;  // The entries of the rounds so far.
    std::vector<ManifestPage> pages;
    uint32_t pending = 0;
    uint32_t failed = 0;
    std::optional<Status> first_failure;
    ListDone done;
};

void list_round(Peers& peers, const std::shared_ptr<ListRound>& round, OperationStats& stats);

void list_round_done(Peers& peers, const std::shared_ptr<ListRound>& round, OperationStats& stats) {
    const uint32_t nodes = static_cast<uint32_t>(round->layout->table().nodes().size());
    const uint32_t replicas = round->layout->manifest_replicas();
    const uint32_t read_quorum = round->layout->manifest_read_quorum();
    const uint32_t failures_allowed = replicas > read_quorum ? replicas - read_quorum : 0;
    if (round->failed > failures_allowed) {
        stats.manifest_reads_failed += 1;
        round->done(Status::unavailable(fmt::format(
                "ls {}: {} of {} nodes answered, {} needed{}",
                round->prefix,
                nodes - round->failed,
                nodes,
                nodes - failures_allowed,
                round->first_failure.has_value()
                        ? fmt::format("; first failure: {}", round->first_failure->to_string())
                        : "")));
        return;
    }
    const auto wanted = static_cast<uint32_t>(round->limit - round->collected.entries.size());
    ListPage merged = merge_pages(round->pages, wanted);
    round->rounds += 1;
    for (ManifestSummary& entry : merged.entries) {
        round->collected.entries.push_back(std::move(entry));
    }
    round->collected.truncated = merged.truncated;
    if (!merged.scanned_through.empty()) round->collected.scanned_through = merged.scanned_through;
    const bool full = round->collected.entries.size() == round->limit;
    if (full || !merged.truncated || round->rounds >= kListRoundsMax) {
        round->done(std::move(round->collected));
        return;
    }
    // Tombstones or a short node page cut this round short: go on from where it ended.
    round->start_after = merged.scanned_through;
    round->pages.clear();
    round->failed = 0;
    list_round(peers, round, stats);
}

void on_list_answer(Peers& peers,
                    const std::shared_ptr<ListRound>& round,
                    Result<ManifestPage> page,
                    OperationStats& stats) {
    if (page.is_ok()) {
        round->pages.push_back(std::move(page).value());
    } else {
        round->failed += 1;
        if (!round->first_failure.has_value()) round->first_failure = page.status();
    }
    round->pending -= 1;
    if (round->pending == 0) list_round_done(peers, round, stats);
}

void list_round(Peers& peers, const std::shared_ptr<ListRound>& round, OperationStats& stats) {
    const std::span<const placement::Node> nodes = round->layout->table().nodes();
    round->pending = static_cast<uint32_t>(nodes.size());
    for (const placement::Node& node : nodes) {
        peers.list_manifests(node.id,
                             round->prefix,
                             round->start_after,
                             round->limit,
                             [&peers, round, &stats](Result<ManifestPage> page) {
                                 on_list_answer(peers, round, std::move(page), stats);
                             });
    }
}

// Writes a tombstone over `deleted`; once it is on every owner, the deleted version's chunks
// go. The tombstone must beat the version it deletes, whatever the clocks say.
void write_tombstone(Peers& peers,
                     const std::shared_ptr<const Layout>& layout,
                     object::Manifest deleted,
                     const VersionAfter& version_after,
                     OperationStats& stats,
                     const DeleteDone& done) {
    const Version tombstone = version_after(deleted.version);
    if (!(deleted.version < tombstone)) {
        done(Status::unavailable(
                fmt::format("rm {}: its newest version is past this node's clock", deleted.key)));
        return;
    }
    const object::Manifest manifest = object::tombstone_manifest(
            deleted.key, tombstone, HybridClock::wall_clock_ms_of(tombstone.hlc));
    auto superseded = std::make_shared<const object::Manifest>(std::move(deleted));
    WriteCallbacks callbacks{
            .done =
                    [tombstone, done](const Status& status) {
                        if (status.is_ok()) {
                            done(tombstone);
                        } else {
                            done(status);
                        }
                    },
            .settled =
                    [&peers, layout, superseded, &stats](bool every_owner) {
                        if (every_owner) collect_chunks(peers, *layout, *superseded, stats);
                    },
    };
    write_manifest(peers,
                   *layout,
                   manifest,
                   fmt::format("rm {}", superseded->key),
                   stats,
                   std::move(callbacks));
}

}  // namespace

void delete_object(Peers& peers,
                   const std::shared_ptr<const Layout>& layout,
                   const std::string& key,
                   VersionAfter version_after,
                   OperationStats& stats,
                   DeleteDone done) {
    const std::string what = fmt::format("rm {}", key);
    read_manifest(
            peers,
            *layout,
            key,
            what,
            stats,
            [&peers,
             layout,
             version_after = std::move(version_after),
             what,
             &stats,
             done = std::move(done)](Result<std::optional<object::Manifest>> newest) {
                if (!newest.is_ok()) {
                    done(newest.status());
                    return;
                }
                if (!newest.value().has_value() || newest.value()->is_tombstone()) {
                    done(Status::not_found(fmt::format("{}: no such object", what)));
                    return;
                }
                write_tombstone(
                        peers, layout, std::move(*newest.value()), version_after, stats, done);
            });
}

void stat_object(Peers& peers,
                 const std::shared_ptr<const Layout>& layout,
                 const std::string& key,
                 OperationStats& stats,
                 StatDone done) {
    const std::string what = fmt::format("stat {}", key);
    read_manifest(peers,
                  *layout,
                  key,
                  what,
                  stats,
                  [what, done = std::move(done)](Result<std::optional<object::Manifest>> newest) {
                      if (!newest.is_ok()) {
                          done(newest.status());
                      } else if (!newest.value().has_value() || newest.value()->is_tombstone()) {
                          done(Status::not_found(fmt::format("{}: no such object", what)));
                      } else {
                          done(std::move(*newest.value()));
                      }
                  });
}

void list_objects(Peers& peers,
                  std::shared_ptr<const Layout> layout,
                  ListQuery query,
                  OperationStats& stats,
                  ListDone done) {
    SHOAL_ASSERT(query.limit >= 1 && query.limit <= limits::kListEntriesMax);
    auto round = std::make_shared<ListRound>(ListRound{
            .layout = std::move(layout),
            .prefix = std::move(query.prefix),
            .start_after = std::move(query.start_after),
            .limit = query.limit,
            .done = std::move(done),
    });
    list_round(peers, round, stats);
}

namespace {

// Where a node stopped looking: past it, that node's manifests are unknown.
std::optional<std::string_view> page_end(const ManifestPage& page) {
    if (!page.scanned_through.empty()) return page.scanned_through;
    if (!page.entries.empty()) return page.entries.back().key;
    return std::nullopt;
}

}  // namespace

ListPage merge_pages(const std::vector<ManifestPage>& pages, uint32_t limit) {
    std::optional<std::string_view> bound;
    for (const ManifestPage& page : pages) {
        if (!page.truncated) continue;
        const std::optional<std::string_view> end = page_end(page);
        if (end.has_value() && (!bound.has_value() || *end < *bound)) bound = end;
    }
    std::map<std::string_view, const ManifestSummary*> newest;
    for (const ManifestPage& page : pages) {
        for (const ManifestSummary& entry : page.entries) {
            if (bound.has_value() && entry.key > *bound) break;
            auto [found, inserted] = newest.emplace(entry.key, &entry);
            if (!inserted && found->second->version < entry.version) found->second = &entry;
        }
    }
    ListPage merged;
    merged.truncated = bound.has_value();
    bool cut_by_limit = false;
    for (const auto& [key, entry] : newest) {
        if (entry->tombstone) {
            merged.scanned_through = std::string(key);
            continue;
        }
        if (merged.entries.size() == limit) {
            merged.truncated = true;
            cut_by_limit = true;
            break;
        }
        merged.entries.push_back(*entry);
        merged.scanned_through = std::string(key);
    }
    // Every node looked up to the bound, so the keys there that no page lists (manifests that
    // failed their read) are passed too.
    if (bound.has_value() && !cut_by_limit && merged.scanned_through < *bound) {
        merged.scanned_through = std::string(*bound);
    }
    return merged;
}

}  // namespace shoal::coordinator

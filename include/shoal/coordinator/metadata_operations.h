// Delete, stat and list: the operations that touch manifests only.
//
// A delete reads the newest manifest (a key with no object is kNotFound, as on one node) and
// then writes a tombstone of a later version to the manifest owners' write quorum. Chunks of
// deleted and overwritten versions stay where they are until garbage collection, which may
// remove them only once the tombstone or newer manifest is on every owner.
//
// A list asks every node of the table for its manifests in the range, merges them (per key,
// the newest wins, tombstones included), drops the tombstones, and returns a sorted page. A
// node's page that is truncated bounds the merged page: past its last key that node's
// manifests are unknown. Up to manifest_replicas - read quorum nodes may fail: every key's
// newest completed manifest is then still among the answers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "shoal/coordinator/layout.h"
#include "shoal/coordinator/peers.h"

namespace shoal::coordinator {

// The tombstone's version, written; or why not.
using DeleteDone = std::function<void(Result<Version> tombstone)>;
// The tombstone's version is version_after(the deleted one); its creation time is that
// version's wall-clock part.
void delete_object(Peers& peers,
                   const std::shared_ptr<const Layout>& layout,
                   const std::string& key,
                   VersionAfter version_after,
                   OperationStats& stats,
                   DeleteDone done);

// The newest manifest; kNotFound for a key with no object.
using StatDone = std::function<void(Result<object::Manifest> manifest)>;
void stat_object(Peers& peers,
                 const std::shared_ptr<const Layout>& layout,
                 const std::string& key,
                 OperationStats& stats,
                 StatDone done);

struct ListPage {
    std::vector<ManifestSummary> entries;  // Objects only, in key order.
    bool truncated = false;                // More keys may follow the last entry.
    std::string scanned_through;           // The last key merged, tombstones included.
};
using ListDone = std::function<void(Result<ListPage> page)>;
struct ListQuery {
    std::string prefix;
    std::string start_after;  // Exclusive; empty starts at the first key.
    uint32_t limit = 0;       // 1..limits::kListEntriesMax.
};
void list_objects(Peers& peers,
                  std::shared_ptr<const Layout> layout,
                  ListQuery query,
                  OperationStats& stats,
                  ListDone done);

// The merge at the heart of list_objects, apart for tests: node pages in, one page out.
ListPage merge_pages(const std::vector<ManifestPage>& pages, uint32_t limit);

}  // namespace shoal::coordinator

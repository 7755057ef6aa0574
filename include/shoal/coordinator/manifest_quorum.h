// Manifest quorums: writing a manifest to its owners, and reading the newest one back.
//
// A write (a put's last step, or a delete's tombstone) sends the manifest to every manifest
// owner and succeeds once the write quorum holds it. A read asks every owner and decides once
// the read quorum has answered: the newest manifest among the answers is the key's newest
// completed version, since any read quorum meets any write quorum (docs/cluster.md).
// Answers that come after the decision are ignored. Failures explain themselves: "3 of 6
// manifest owners hold it, 5 needed".
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "shoal/coordinator/layout.h"
#include "shoal/coordinator/peers.h"
#include "shoal/object/manifest.h"

namespace shoal::coordinator {

using WriteDone = std::function<void(Status status)>;
// Once every owner has answered: whether every one of them holds the manifest (or a newer one).
using SettledDone = std::function<void(bool every_owner)>;
// nullopt: no owner that answered holds a manifest of the key.
using ReadDone = std::function<void(Result<std::optional<object::Manifest>> newest)>;

// What a manifest write tells: `done` at the quorum's decision, then `settled`, if set, once
// every owner has answered.
struct WriteCallbacks {
    WriteDone done;
    SettledDone settled;
};

// `what` names the operation in errors ("put photos/cat.jpg"). REQUIRES: check_manifest.
void write_manifest(Peers& peers,
                    const Layout& layout,
                    const object::Manifest& manifest,
                    std::string what,
                    OperationStats& stats,
                    WriteCallbacks callbacks);

void read_manifest(Peers& peers,
                   const Layout& layout,
                   const std::string& key,
                   std::string what,
                   OperationStats& stats,
                   ReadDone done);

}  // namespace shoal::coordinator

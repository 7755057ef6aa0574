#include "shoal/coordinator/manifest_quorum.h"

#include <fmt/format.h>

namespace shoal::coordinator {
namespace {

// The first failure's reason, for the error that explains a missed quorum.
std::string reason_of(const std::optional<Status>& failure) {
    return failure.has_value() ? fmt::format(" (first failure: {})", failure->to_string()) : "";
}

// A quorum larger than the owners is never met: the cluster has fewer nodes than its code
// needs, and retrying cannot help, so the error says what to change.
std::string shortfall_of(uint32_t owners, uint32_t needed) {
    if (owners >= needed) return "";
    return fmt::format(
            " (the cluster has {} node{}, too few for its redundancy: see "
            "cluster.redundancy)",
            owners,
            owners == 1 ? "" : "s");
}

struct WriteQuorum {
    std::string what;
    uint32_t owners = 0;
    uint32_t needed = 0;
    uint32_t stored = 0;
    uint32_t failed = 0;
    std::optional<Status> first_failure;
    bool decided = false;
    WriteDone done;
    SettledDone settled;
};

struct ReadQuorum {
    std::string what;
    uint32_t owners = 0;
    uint32_t needed = 0;
    uint32_t answered = 0;
    uint32_t failed = 0;
    std::optional<Status> first_failure;
    std::optional<object::Manifest> newest;
    bool decided = false;
    ReadDone done;
};

void on_read_answer(ReadQuorum& quorum,
                    Result<std::optional<object::Manifest>> answer,
                    OperationStats& stats) {
    if (answer.is_ok()) {
        quorum.answered += 1;
        std::optional<object::Manifest>& found = answer.value();
        if (found.has_value() &&
            (!quorum.newest.has_value() || object::newer(*found, *quorum.newest))) {
            quorum.newest = std::move(found);
        }
    } else {
        quorum.failed += 1;
        if (!quorum.first_failure.has_value()) quorum.first_failure = answer.status();
    }
    if (quorum.decided) return;
    if (quorum.answered >= quorum.needed) {
        quorum.decided = true;
        quorum.done(std::move(quorum.newest));
    } else if (quorum.answered + quorum.failed == quorum.owners) {
        quorum.decided = true;
        stats.manifest_reads_failed += 1;
        quorum.done(Status::unavailable(
                fmt::format("{}: {} of {} manifest owners answered, {} needed{}{}",
                            quorum.what,
                            quorum.answered,
                            quorum.owners,
                            quorum.needed,
                            shortfall_of(quorum.owners, quorum.needed),
                            reason_of(quorum.first_failure))));
    }
}

void decide_write(WriteQuorum& quorum, OperationStats& stats) {
    if (quorum.decided) return;
    if (quorum.stored >= quorum.needed) {
        quorum.decided = true;
        quorum.done(Status::ok());
    } else if (quorum.owners - quorum.failed < quorum.needed) {
        quorum.decided = true;
        stats.manifest_writes_failed += 1;
        quorum.done(
                Status::from_code(missed_quorum_code(quorum.first_failure),
                                  fmt::format("{}: {} of {} manifest owners hold it, {} needed{}{}",
                                              quorum.what,
                                              quorum.stored,
                                              quorum.owners,
                                              quorum.needed,
                                              shortfall_of(quorum.owners, quorum.needed),
                                              reason_of(quorum.first_failure))));
    }
}

}  // namespace

void write_manifest(Peers& peers,
                    const Layout& layout,
                    const object::Manifest& manifest,
                    std::string what,
                    OperationStats& stats,
                    WriteCallbacks callbacks) {
    auto bytes = std::make_shared<Buffer>();
    object::encode_manifest(manifest, *bytes);
    const std::vector<NodeKey> owners = layout.manifest_owners(manifest.key);
    auto quorum = std::make_shared<WriteQuorum>(WriteQuorum{
            .what = std::move(what),
            .owners = static_cast<uint32_t>(owners.size()),
            .needed = layout.manifest_write_quorum(),
            .done = std::move(callbacks.done),
            .settled = std::move(callbacks.settled),
    });
    if (quorum->owners < quorum->needed) {
        stats.manifest_writes_failed += 1;
        // Completions never run inside the call: the first owner's answer decides instead.
        quorum->first_failure = Status::unavailable(
                fmt::format("the cluster has {} nodes", layout.table().nodes().size()));
    }
    for (const NodeKey& owner : owners) {
        peers.put_manifest(owner, bytes, [quorum, &stats](const Status& status) {
            if (status.is_ok()) {
                quorum->stored += 1;
            } else {
                quorum->failed += 1;
                if (!quorum->first_failure.has_value()) quorum->first_failure = status;
            }
            decide_write(*quorum, stats);
            if (quorum->stored + quorum->failed == quorum->owners && quorum->settled) {
                quorum->settled(quorum->failed == 0);
            }
        });
    }
}

void read_manifest(Peers& peers,
                   const Layout& layout,
                   const std::string& key,
                   std::string what,
                   OperationStats& stats,
                   ReadDone done) {
    const std::vector<NodeKey> owners = layout.manifest_owners(key);
    auto quorum = std::make_shared<ReadQuorum>(ReadQuorum{
            .what = std::move(what),
            .owners = static_cast<uint32_t>(owners.size()),
            .needed = layout.manifest_read_quorum(),
            .done = std::move(done),
    });
    for (const NodeKey& owner : owners) {
        peers.get_manifest(
                owner, key, [quorum, &stats](Result<std::optional<object::Manifest>> answer) {
                    on_read_answer(*quorum, std::move(answer), stats);
                });
    }
}

}  // namespace shoal::coordinator

// A whole put over FakePeers, for tests that need objects in the fake cluster: the value fed
// in pieces, the peers run whenever the put stops taking data, then until it answers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>

#include "fake_peers.h"
#include "shoal/base/hash.h"
#include "shoal/coordinator/put_operation.h"

namespace shoal::coordinator::testing {

inline Result<object::Manifest> put_object(FakePeers& peers,
                                           const std::shared_ptr<const Layout>& layout,
                                           OperationStats& stats,
                                           PutOperation::Parameters parameters,
                                           ByteView value,
                                           size_t piece_bytes = SIZE_MAX) {
    std::optional<Result<object::Manifest>> outcome;
    auto started = PutOperation::start(
            peers,
            layout,
            std::move(parameters),
            stats,
            [&](Result<object::Manifest> written) { outcome = std::move(written); },
            nullptr);
    if (!started.is_ok()) return started.status();
    const std::shared_ptr<PutOperation> put = started.value();
    for (size_t offset = 0; offset < value.size(); offset += piece_bytes) {
        const Status fed =
                put->on_data(value.subspan(offset, std::min(piece_bytes, value.size() - offset)));
        if (!fed.is_ok()) break;
        if (!put->wants_data()) peers.run_once();
    }
    put->on_end(hash64(value));
    peers.run();
    if (!outcome.has_value()) return Status::timeout("put never finished");
    return std::move(*outcome);
}

}  // namespace shoal::coordinator::testing

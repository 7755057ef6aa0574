// A whole put over FakePeers, for tests that need objects in the fake cluster: the value in
// one piece at exactly the version given, run until the operation answers.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "fake_peers.h"
#include "shoal/base/hash.h"
#include "shoal/coordinator/put_operation.h"

namespace shoal::coordinator::testing {

inline Result<object::Manifest> put_object(FakePeers& peers,
                                           const std::shared_ptr<const Layout>& layout,
                                           OperationStats& stats,
                                           const std::string& key,
                                           ByteView value,
                                           Version version,
                                           uint32_t stripe_bytes) {
    std::optional<Result<object::Manifest>> outcome;
    auto started = PutOperation::start(
            peers,
            layout,
            {.key = key,
             .declared_bytes = value.size(),
             .stripe_bytes = stripe_bytes,
             .version = version},
            stats,
            [&](Result<object::Manifest> written) { outcome = std::move(written); },
            nullptr);
    if (!started.is_ok()) return started.status();
    if (Status fed = started.value()->on_data(value); !fed.is_ok()) return fed;
    started.value()->on_end(hash64(value));
    peers.run();
    if (!outcome.has_value()) return Status::timeout("put never finished");
    return std::move(*outcome);
}

}  // namespace shoal::coordinator::testing

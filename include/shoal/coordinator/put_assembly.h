// PutAssembly: the rules a streamed put must follow before its object may become visible.
//
// A put arrives as a PutRequest and then PutPieces (docs/wire_format.md). PutAssembly checks
// the sequence as it comes: no piece after the last, never more bytes than the client
// declared or than kObjectBytesMax, and at the end the declared size and the client's digest
// must match what arrived. It does not hold the bytes (the store does); it decides whether
// they form the object the client meant.
//
// Pure: no IO, no clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shoal/base/hash.h"
#include "shoal/base/status.h"
#include "shoal/wire/messages.h"

namespace shoal::coordinator {

class PutAssembly {
public:
    PutAssembly(std::string_view key, uint64_t object_bytes_declared);

    // Checks one piece and folds it into the digest. kInvalidArgument when the piece breaks a
    // rule; the put must then be abandoned.
    Status on_piece(const wire::PutPiece& piece);

    bool is_complete() const { return complete_; }
    const std::string& key() const { return key_; }
    // wire::kObjectBytesUnknown if the client did not declare it.
    uint64_t declared_bytes() const { return object_bytes_declared_; }
    uint64_t received_bytes() const { return received_bytes_; }
    // REQUIRES: is_complete().
    uint64_t digest() const;

private:
    std::string key_;
    uint64_t object_bytes_declared_;
    uint64_t received_bytes_ = 0;
    Hasher64 hasher_;
    uint64_t digest_ = 0;
    bool complete_ = false;
};

}  // namespace shoal::coordinator

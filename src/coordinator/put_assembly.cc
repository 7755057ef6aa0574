#include "shoal/coordinator/put_assembly.h"

#include <fmt/format.h>

#include "shoal/base/limits.h"

namespace shoal::coordinator {

PutAssembly::PutAssembly(std::string_view key, uint64_t object_bytes_declared)
    : key_(key), object_bytes_declared_(object_bytes_declared) {
    SHOAL_ASSERT(!key.empty());
}

Status PutAssembly::on_piece(const wire::PutPiece& piece) {
    if (complete_) return Status::invalid_argument("put: a piece arrived after the last one");
    const uint64_t bytes_max = object_bytes_declared_ == wire::kObjectBytesUnknown
                                       ? limits::kObjectBytesMax
                                       : object_bytes_declared_;
    if (piece.data.size() > bytes_max - received_bytes_) {
        return Status::invalid_argument(fmt::format(
                "put: more than the {} bytes {}",
                bytes_max,
                object_bytes_declared_ == wire::kObjectBytesUnknown ? "an object may hold"
                                                                    : "the client declared"));
    }
    received_bytes_ += piece.data.size();
    hasher_.update(piece.data);
    if (!piece.last) return Status::ok();

    if (object_bytes_declared_ != wire::kObjectBytesUnknown &&
        received_bytes_ != object_bytes_declared_) {
        return Status::invalid_argument(fmt::format("put: {} bytes arrived, {} were declared",
                                                    received_bytes_,
                                                    object_bytes_declared_));
    }
    digest_ = hasher_.digest();
    if (digest_ != piece.digest) {
        return Status::corruption(fmt::format(
                "put: the object's digest {:016x} does not match the client's {:016x}; the bytes "
                "were damaged in transit",
                digest_,
                piece.digest));
    }
    complete_ = true;
    return Status::ok();
}

uint64_t PutAssembly::digest() const {
    SHOAL_ASSERT(complete_);
    return digest_;
}

}  // namespace shoal::coordinator

// The node-side decoders of the peer requests (peer_messages.cc), which decode_request
// (messages.cc) calls for their opcodes. Each takes a kRequest frame's body.
#pragma once

#include "shoal/base/bytes.h"
#include "shoal/base/status.h"
#include "shoal/wire/messages.h"

namespace shoal::wire {

Result<Request> decode_chunk_put_request(ByteView body);
Result<Request> decode_chunk_get_request(ByteView body);
Result<Request> decode_manifest_put_request(ByteView body);
Result<Request> decode_manifest_get_request(ByteView body);
Result<Request> decode_manifest_list_request(ByteView body);
Result<Request> decode_chunk_delete_request(ByteView body);

}  // namespace shoal::wire

// Every message, queue and buffer has an upper bound, and all bounds live here, so that their
// relationships are checked by the compiler rather than discovered in production.
#pragma once

#include <cstdint>

namespace shoal::limits {

inline constexpr uint32_t kKeyBytesMin = 1;
inline constexpr uint32_t kKeyBytesMax = 1024;
inline constexpr uint32_t kPrefixBytesMax = kKeyBytesMax;
// A node's store holds records under store keys: a namespace byte, then a user key or a
// fixed-size chunk id (docs/object_format.md, "Store keys"). Any byte may appear in one.
inline constexpr uint32_t kStoreKeyBytesMax = kKeyBytesMax + 1;

// Objects stream in data frames of at most this many payload bytes.
inline constexpr uint32_t kDataFrameBytesMax = 1024 * 1024;
inline constexpr uint32_t kFrameHeaderBytes = 16;
inline constexpr uint32_t kFrameMetadataBytesMax = 4096 + kKeyBytesMax;
// A frame body: one data piece plus the metadata of the message that carries it.
inline constexpr uint32_t kFrameBodyBytesMax = kDataFrameBytesMax + kFrameMetadataBytesMax;

inline constexpr uint64_t kObjectBytesMax = uint64_t{1} << 40;  // 1 TiB.
inline constexpr uint32_t kListEntriesMax = 10'000;
inline constexpr uint32_t kListEntriesDefault = 1'000;
// A list reply carries at most this many bytes of entries, so it always fits one frame.
inline constexpr uint32_t kListReplyBytesMax = kFrameBodyBytesMax - 64;
inline constexpr uint32_t kErrorMessageBytesMax = 1024;

// Per connection: bytes queued for sending beyond which streaming pauses (get backpressure).
inline constexpr uint32_t kConnectionSendQueueBytesMax = 8 * 1024 * 1024;
// Per connection: requests in flight; one more is refused with kResourceExhausted.
inline constexpr uint32_t kConnectionRequestsMax = 1024;
inline constexpr uint32_t kConnectionsMax = 4096;

static_assert(kFrameBodyBytesMax > kDataFrameBytesMax, "a data piece and its metadata fit");
static_assert(kListEntriesDefault <= kListEntriesMax);
static_assert(kConnectionSendQueueBytesMax >= 2 * (kFrameHeaderBytes + kFrameBodyBytesMax),
              "a stream keeps at least two full frames in flight");

}  // namespace shoal::limits

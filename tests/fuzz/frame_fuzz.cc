// Fuzz target: FrameDecoder and every message decoder, client and peer, over bytes from a
// hostile peer.
//
// Goal: no input makes the frame decoder or a message decoder crash, leak, read out of
// bounds, hit undefined behaviour or allocate for a length it has not checked; how a stream is
// split into reads never changes the frames that come out of it; and whatever decodes is the
// canonical encoding of what it decoded to.
//
// Method: the input is a byte stream. It is decoded twice: once fed whole, once fed in pieces
// whose sizes come from a Prng seeded with the input's hash (some through feed(), some
// through prepare()/commit(), with shrink_if_idle() between reads), both with one body limit
// that is sometimes small. The two runs must yield the same frames and the same failure, and
// their frames laid end to end must be the input's prefix. Every frame's body goes through
// decode_request and every decode_*_reply; a message that decodes must re-encode to the same
// bytes. Built with -fsanitize=fuzzer under the fuzz preset, and replayed over the committed
// corpus by replay_main.cc under any compiler.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>

#include "shoal/base/assert.h"
#include "shoal/base/bytes.h"
#include "shoal/base/hash.h"
#include "shoal/base/limits.h"
#include "shoal/base/prng.h"
#include "shoal/wire/frame.h"
#include "shoal/wire/messages.h"
#include "shoal/wire/peer_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace shoal::wire {
namespace {

constexpr size_t kReadBytesMin = 64 * 1024;  // What FrameDecoder::prepare() offers at least.

// What one decoding run saw: its frames re-encoded end to end, and how it ended.
struct Transcript {
    Buffer frames;
    size_t frame_count = 0;
    std::optional<std::string> failure;
};

// The encoding of `frame` as it would be sent: its header, then its body.
Buffer frame_bytes(const Frame& frame) {
    Buffer bytes;
    encode_frame_header(frame.header, bytes);
    bytes.append(frame.body);
    return bytes;
}

// A request that decodes must re-encode to exactly the frame it came from.
void check_request(const Frame& frame) {
    const Result<Request> request = decode_request(frame);
    if (!request.is_ok()) return;
    Buffer encoded;
    std::visit(
            [&](const auto& message) {
                using Message = std::decay_t<decltype(message)>;
                if constexpr (std::is_same_v<Message, PutPiece>) {
                    encode_put_piece(frame.header.request_id, message, encoded);
                } else {
                    encode_request(frame.header.request_id, message, encoded);
                }
            },
            request.value());
    SHOAL_ASSERT(equal_bytes(encoded.view(), frame_bytes(frame).view()));
}

// A reply body that decodes must re-encode to exactly the same body.
template <typename Reply>
void check_reply(const Frame& frame, const Result<Reply>& reply) {
    if (!reply.is_ok()) return;
    Buffer encoded;
    if constexpr (std::is_same_v<Reply, ErrorReply>) {
        encode_error(frame.header.request_id, frame.header.opcode, reply.value(), encoded);
    } else {
        encode_reply(frame.header.request_id, reply.value(), encoded);
    }
    SHOAL_ASSERT(encoded.size() >= kFrameHeaderBytes);
    SHOAL_ASSERT(equal_bytes(encoded.view().subspan(kFrameHeaderBytes), frame.body));
}

void check_messages(const Frame& frame) {
    SHOAL_ASSERT(frame.header.version == kProtocolVersion);
    SHOAL_ASSERT(frame.body.size() == frame.header.body_bytes);
    check_request(frame);
    check_reply(frame, decode_put_reply(frame.body));
    check_reply(frame, decode_get_reply(frame.body));
    check_reply(frame, decode_delete_reply(frame.body));
    check_reply(frame, decode_stat_reply(frame.body));
    check_reply(frame, decode_list_reply(frame.body));
    check_reply(frame, decode_ping_reply(frame.body));
    check_reply(frame, decode_stats_reply(frame.body));
    check_reply(frame, decode_push_pull_reply(frame.body));
    check_reply(frame, decode_members_reply(frame.body));
    check_reply(frame, decode_chunk_put_reply(frame.body));
    check_reply(frame, decode_chunk_get_reply(frame.body));
    check_reply(frame, decode_manifest_put_reply(frame.body));
    check_reply(frame, decode_manifest_get_reply(frame.body));
    check_reply(frame, decode_manifest_list_reply(frame.body));
    check_reply(frame, decode_chunk_delete_reply(frame.body));
    check_reply(frame, decode_error(frame.body));
}

// Takes every frame the decoder has ready, recording it (and checking its messages if asked).
void drain(FrameDecoder& decoder, bool check, Transcript& transcript) {
    while (!transcript.failure.has_value()) {
        const Result<std::optional<Frame>> next = decoder.next();
        if (!next.is_ok()) {
            transcript.failure = next.status().message();
            // A failed decoder stays failed.
            SHOAL_ASSERT(!decoder.next().is_ok());
            return;
        }
        if (!next.value().has_value()) return;
        const Frame& frame = *next.value();
        transcript.frames.append(frame_bytes(frame).view());
        transcript.frame_count += 1;
        if (check) check_messages(frame);
    }
}

// The decoder holds at most what it was given plus room for one frame and one read: a length
// it has not checked against its limit must never make it allocate.
void check_capacity(const FrameDecoder& decoder, size_t fed_bytes, uint32_t body_bytes_max) {
    SHOAL_ASSERT(decoder.capacity_bytes() <=
                 2 * (fed_bytes + kReadBytesMin + kFrameHeaderBytes + body_bytes_max));
}

Transcript decode_whole(ByteView input, uint32_t body_bytes_max) {
    Transcript transcript;
    FrameDecoder decoder(body_bytes_max);
    decoder.feed(input);
    check_capacity(decoder, input.size(), body_bytes_max);
    drain(decoder, /*check=*/true, transcript);
    return transcript;
}

Transcript decode_split(ByteView input, uint32_t body_bytes_max, Prng& prng) {
    Transcript transcript;
    FrameDecoder decoder(body_bytes_max);
    const uint64_t piece_bytes_limits[] = {1, 7, 16, 100, 5000};
    const uint64_t piece_bytes_max = piece_bytes_limits[prng.below(5)];
    size_t offset = 0;
    while (offset < input.size()) {
        const size_t piece_bytes =
                std::min<size_t>(prng.between(0, piece_bytes_max), input.size() - offset);
        const ByteView piece = input.subspan(offset, piece_bytes);
        if (prng.chance(1, 2)) {
            decoder.feed(piece);
        } else {
            const MutableByteView space = decoder.prepare(piece.size());
            SHOAL_ASSERT(space.size() >= piece.size());
            if (!piece.empty()) std::memcpy(space.data(), piece.data(), piece.size());
            decoder.commit(piece.size());
        }
        offset += piece_bytes;
        check_capacity(decoder, offset, body_bytes_max);
        // Bytes keep arriving after a failure, as they would before the connection closes.
        if (prng.chance(3, 4)) drain(decoder, /*check=*/false, transcript);
        // An idle connection may give its buffer back at any point between reads.
        if (prng.chance(1, 8)) decoder.shrink_if_idle(prng.below(2 * kReadBytesMin));
    }
    drain(decoder, /*check=*/false, transcript);
    return transcript;
}

void fuzz_one(ByteView input) {
    Prng prng(hash64(input));
    const uint32_t body_bytes_max =
            prng.chance(1, 4) ? static_cast<uint32_t>(prng.below(300)) : limits::kFrameBodyBytesMax;
    const Transcript whole = decode_whole(input, body_bytes_max);
    const Transcript split = decode_split(input, body_bytes_max, prng);

    // Frames are the input cut at header-declared lengths, re-encoded byte for byte.
    SHOAL_ASSERT(whole.frames.size() <= input.size());
    SHOAL_ASSERT(equal_bytes(whole.frames.view(), input.first(whole.frames.size())));
    // The same stream split differently gives the same frames and the same end.
    SHOAL_ASSERT(whole.frame_count == split.frame_count);
    SHOAL_ASSERT(equal_bytes(whole.frames.view(), split.frames.view()));
    SHOAL_ASSERT(whole.failure == split.failure);
}

}  // namespace
}  // namespace shoal::wire

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // libFuzzer passes a null pointer with a zero size for the empty input.
    const shoal::ByteView input =
            size == 0 ? shoal::ByteView{}
                      : shoal::ByteView(reinterpret_cast<const std::byte*>(data), size);
    shoal::wire::fuzz_one(input);
    return 0;
}

// Goal: hostile or broken input from the network closes only the connection it came on; the
// node keeps serving everyone else and shows nothing half-written.
//
// Method: raw TCP sockets send hand-made frames (a 4 GiB length, garbage, a put cut off by a
// reset) to a real shoald while the real CLI checks that the node still answers.
#include <array>
#include <thread>

#include <catch2/catch.hpp>

#include "shoal/base/bytes.h"
#include "shoal/base/coding.h"
#include "shoal/wire/messages.h"
#include "support.h"

namespace shoal::integration {
namespace {

bool node_answers(const NodeProcess& node) {
    return node.cli({"ping"}).exit_code == 0;
}

TEST_CASE("integration: a frame header claiming 4 GiB closes only its connection",
          "[integration][protocol]") {
    TempDir directory;
    NodeProcess node(directory);
    RawSocket bystander(node.port());
    RawSocket hostile(node.port());
    Buffer header;
    wire::encode_frame_header(wire::FrameHeader{.body_bytes = 16, .opcode = wire::Opcode::kPut},
                              header);
    encode_fixed32(header.data(), 0xffffffff);  // 4 GiB, past every limit.
    REQUIRE(hostile.send_all(header.data(), header.size()));
    REQUIRE(hostile.closed_by_peer(milliseconds(5000)));

    REQUIRE(node_answers(node));
    Buffer ping;
    wire::encode_request(RequestId{1}, wire::PingRequest{}, ping);
    REQUIRE(bystander.send_all(ping.data(), ping.size()));
    REQUIRE_FALSE(bystander.closed_by_peer(milliseconds(200)));
    REQUIRE(node.log().find("frame_rejected") != std::string::npos);
}

TEST_CASE("integration: garbage bytes close only their connection", "[integration][protocol]") {
    TempDir directory;
    NodeProcess node(directory);
    RawSocket hostile(node.port());
    std::array<uint8_t, 64> garbage{};
    for (size_t index = 0; index < garbage.size(); index++) {
        garbage[index] = static_cast<uint8_t>(index * 37 + 11);
    }
    garbage[0] = 8;     // A small length, so the header is read at once...
    garbage[4] = 0x7f;  // ...and rejected for its protocol version.
    REQUIRE(hostile.send_all(garbage.data(), garbage.size()));
    REQUIRE(hostile.closed_by_peer(milliseconds(5000)));
    REQUIRE(node_answers(node));
}

TEST_CASE("integration: a put cut off by a reset leaves no visible object",
          "[integration][protocol]") {
    TempDir directory;
    NodeProcess node(directory);
    {
        RawSocket client(node.port());
        Buffer piece_data(512 * 1024);
        std::memset(piece_data.data(), 7, piece_data.size());
        Buffer frames;
        wire::encode_request(RequestId{1},
                             wire::PutRequest{.key = "cut",
                                              .object_bytes = 10 * 1024 * 1024,
                                              .piece = {.data = piece_data.view()}},
                             frames);
        wire::encode_put_piece(RequestId{1}, wire::PutPiece{.data = piece_data.view()}, frames);
        REQUIRE(client.send_all(frames.data(), frames.size()));
        REQUIRE(node_answers(node));  // The node has read what came before this ping.
        client.reset();
    }
    REQUIRE(node.wait_for_log("puts_abandoned"));
    REQUIRE(node.cli({"stat", "cut"}).exit_code == 3);
}

TEST_CASE("integration: a bad request gets an error reply and the connection stays",
          "[integration][protocol]") {
    TempDir directory;
    NodeProcess node(directory);
    RawSocket client(node.port());
    Buffer frame;
    // An empty key is well-framed but invalid: the node answers with kInvalidArgument.
    wire::encode_request(RequestId{5}, wire::GetRequest{.key = ""}, frame);
    wire::encode_request(RequestId{6}, wire::PingRequest{}, frame);
    REQUIRE(client.send_all(frame.data(), frame.size()));
    REQUIRE_FALSE(client.closed_by_peer(milliseconds(300)));
    REQUIRE(node_answers(node));
}

TEST_CASE("integration: a client that vanishes mid-get does not hurt the node",
          "[integration][protocol]") {
    TempDir directory;
    NodeProcess node(directory);
    write_random_file(directory.file("big"), 32 * 1024 * 1024, /*seed=*/11);
    REQUIRE(node.cli({"put", "big", directory.file("big")}).exit_code == 0);
    for (int attempt = 0; attempt < 3; attempt++) {
        RawSocket client(node.port());
        Buffer frame;
        wire::encode_request(RequestId{1}, wire::GetRequest{.key = "big"}, frame);
        REQUIRE(client.send_all(frame.data(), frame.size()));
        REQUIRE(client.read_frame(milliseconds(5000)).has_value());  // The stream has begun.
        client.reset();
    }
    REQUIRE(node_answers(node));
    const RunResult get = node.cli({"get", "big", "-o", directory.file("copy")});
    REQUIRE(get.exit_code == 0);
    REQUIRE(files_equal(directory.file("big"), directory.file("copy")));
}

}  // namespace
}  // namespace shoal::integration

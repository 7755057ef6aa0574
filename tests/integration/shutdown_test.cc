// Goal: SIGTERM stops a node without losing or half-showing anything: requests in flight
// finish within the grace period or fail with an explicit error, and the node exits 0.
//
// Method: a real shoald started from configs/single.toml (with its listen address and grace
// period overridden) gets SIGTERM while a raw socket holds a put open; the test then either
// finishes the put inside the grace period or lets the grace period run out.
#include <fstream>
#include <signal.h>

#include <catch2/catch.hpp>

#include "shoal/base/bytes.h"
#include "shoal/base/hash.h"
#include "shoal/wire/messages.h"
#include "support.h"

namespace shoal::integration {
namespace {

// configs/single.toml with its grace period changed.
std::string config_with_grace(const TempDir& directory, uint32_t grace_ms) {
    std::string text = read_file(SHOAL_SOURCE_DIR "/configs/single.toml");
    const std::string setting = "shutdown_grace_ms = 5000";
    const size_t at = text.find(setting);
    REQUIRE(at != std::string::npos);
    text.replace(at, setting.size(), "shutdown_grace_ms = " + std::to_string(grace_ms));
    const std::string path = directory.file("node.toml");
    std::ofstream(path) << text;
    return path;
}

Buffer put_begin(RequestId id, std::string_view key, const Buffer& data) {
    Buffer frame;
    wire::encode_request(
            id,
            wire::PutRequest{
                    .key = key, .object_bytes = 2 * data.size(), .piece = {.data = data.view()}},
            frame);
    return frame;
}

TEST_CASE("integration: the shipped single-node config starts a node", "[integration][shutdown]") {
    TempDir directory;
    NodeProcess node(directory, {"--config", SHOAL_SOURCE_DIR "/configs/single.toml"});
    REQUIRE(node.cli({"ping"}).exit_code == 0);
    REQUIRE(node.log().find("storage=memory") != std::string::npos);
}

TEST_CASE("integration: a put in flight at SIGTERM finishes within the grace period",
          "[integration][shutdown]") {
    TempDir directory;
    NodeProcess node(directory, {"--config", config_with_grace(directory, 10'000)});
    RawSocket client(node.port());
    Buffer data(64 * 1024);
    std::memset(data.data(), 'g', data.size());
    Buffer begin = put_begin(RequestId{1}, "graceful", data);
    REQUIRE(client.send_all(begin.data(), begin.size()));
    REQUIRE(node.cli({"ping"}).exit_code == 0);  // The node has read the put's start.

    REQUIRE(kill(node.pid(), SIGTERM) == 0);
    Buffer whole(2 * data.size());
    std::memset(whole.data(), 'g', whole.size());
    Buffer last;
    wire::encode_put_piece(
            RequestId{1},
            wire::PutPiece{.last = true, .digest = hash64(whole.view()), .data = data.view()},
            last);
    REQUIRE(client.send_all(last.data(), last.size()));
    const auto reply = client.read_frame(milliseconds(10'000));
    REQUIRE(reply.has_value());
    REQUIRE(reply->first.kind == wire::FrameKind::kResponse);
    const std::optional<int> exit_code = node.wait(milliseconds(10'000));
    INFO(node.log());
    REQUIRE(exit_code == 0);
    REQUIRE(node.log().find("shutdown_drained") != std::string::npos);
}

TEST_CASE("integration: a put still open when the grace period ends fails explicitly",
          "[integration][shutdown]") {
    TempDir directory;
    NodeProcess node(directory, {"--config", config_with_grace(directory, 300)});
    RawSocket client(node.port());
    Buffer data(64 * 1024);
    std::memset(data.data(), 'h', data.size());
    Buffer begin = put_begin(RequestId{7}, "unfinished", data);
    REQUIRE(client.send_all(begin.data(), begin.size()));
    REQUIRE(node.cli({"ping"}).exit_code == 0);

    REQUIRE(node.terminate(milliseconds(10'000)) == 0);
    const auto reply = client.read_frame(milliseconds(5'000));
    REQUIRE(reply.has_value());
    REQUIRE(reply->first.kind == wire::FrameKind::kError);
    REQUIRE(reply->first.request_id == RequestId{7});
    Result<wire::ErrorReply> error = wire::decode_error(as_bytes(reply->second));
    REQUIRE(error.is_ok());
    REQUIRE(error.value().code == Code::kUnavailable);
    INFO(node.log());
    REQUIRE(node.log().find("puts_failed_at_shutdown count=1") != std::string::npos);
}

}  // namespace
}  // namespace shoal::integration

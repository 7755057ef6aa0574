// Writes the seed corpus for gossip_fuzz: each kind of datagram with each kind of update, a
// push-pull request and reply, and malformed packets near the edges the decoders check, each
// behind the mode byte gossip_fuzz reads first (0 datagram, 1 push-pull, 2 the core).
//
// Usage: gossip_corpus_generate <directory>   (the committed corpus is tests/fuzz/corpus/gossip)
// Not a test: run it when the gossip format changes and commit what it writes.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "shoal/base/bytes.h"
#include "shoal/base/coding.h"
#include "shoal/membership/gossip.h"

namespace shoal::membership {
namespace {

namespace fs = std::filesystem;

constexpr MemberId kSender{.high = 2, .low = 2};
constexpr MemberId kTarget{.high = 1, .low = 1};

void write_file(const fs::path& path, uint8_t mode, ByteView bytes) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.put(static_cast<char>(mode));
    file.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    if (!file) {
        fmt::print(stderr, "gossip_corpus_generate: cannot write {}\n", path.string());
        std::exit(1);
    }
}

Packet packet_of(PacketKind kind) {
    Packet packet;
    packet.header = PacketHeader{.kind = kind,
                                 .cluster = cluster_hash("shoal"),
                                 .sender = kSender,
                                 .sender_incarnation = Incarnation{3}};
    packet.sequence = 77;
    packet.target = kTarget;
    packet.target_host = "10.0.0.1";
    packet.target_port = 7946;
    return packet;
}

MemberUpdate alive(uint64_t number) {
    return MemberUpdate{.state = MemberState::kAlive,
                        .member = MemberId{.high = number, .low = number},
                        .incarnation = Incarnation{number},
                        .name = "member",
                        .host = "10.0.0.9",
                        .port = 7946,
                        .zone = "rack-1",
                        .capacity_weight = 100};
}

MemberUpdate rumor(MemberState state, MemberId member) {
    return MemberUpdate{
            .state = state, .member = member, .incarnation = Incarnation{5}, .from = kSender};
}

Buffer datagram(PacketKind kind, const std::vector<MemberUpdate>& updates) {
    Buffer bytes;
    PacketWriter writer(packet_of(kind), kDatagramBytesMax, bytes);
    for (const MemberUpdate& update : updates) {
        Buffer encoded;
        encode_update(update, encoded);
        writer.add_update(encoded.view());
    }
    writer.finish();
    return bytes;
}

void write_datagrams(const fs::path& directory) {
    const std::vector<MemberUpdate> rumors{alive(7),
                                           rumor(MemberState::kSuspect, kTarget),
                                           rumor(MemberState::kDead, MemberId{.high = 8, .low = 8}),
                                           rumor(MemberState::kLeft, kSender)};
    const std::pair<const char*, PacketKind> kinds[] = {{"ping", PacketKind::kPing},
                                                        {"ack", PacketKind::kAck},
                                                        {"ping_request", PacketKind::kPingRequest},
                                                        {"nack", PacketKind::kNack},
                                                        {"gossip", PacketKind::kGossip}};
    for (const auto& [name, kind] : kinds) {
        const Buffer bare = datagram(kind, {});
        const Buffer full = datagram(kind, rumors);
        write_file(directory / fmt::format("{}_bare", name), 0, bare.view());
        write_file(directory / fmt::format("{}_updates", name), 0, full.view());
        write_file(directory / fmt::format("core_{}_updates", name), 2, full.view());
    }
    Buffer full = datagram(PacketKind::kGossip, rumors);
    write_file(directory / "gossip_truncated", 0, full.view().first(full.size() - 3));
    Buffer trailing = full.clone();
    trailing.append(std::string_view("x"));
    write_file(directory / "gossip_trailing_byte", 0, trailing.view());
    Buffer miscounted = full.clone();
    miscounted[kPacketHeaderBytes] = std::byte{200};  // More updates than there are.
    write_file(directory / "gossip_count_over", 0, miscounted.view());
    Buffer bad_magic = full.clone();
    bad_magic[0] = std::byte{0};
    write_file(directory / "bad_magic", 0, bad_magic.view());
    Buffer bad_kind = full.clone();
    bad_kind[3] = std::byte{9};
    write_file(directory / "bad_kind", 0, bad_kind.view());
    Buffer bad_state = full.clone();
    bad_state[kPacketHeaderBytes + 1] = std::byte{4};  // kDeparted is never sent.
    write_file(directory / "bad_update_state", 0, bad_state.view());
    write_file(directory / "header_only", 0, full.view().first(kPacketHeaderBytes));
}

void write_push_pulls(const fs::path& directory) {
    PushPull state{.header = packet_of(PacketKind::kPushPull).header, .join = true};
    state.header.kind = PacketKind::kPushPull;
    for (uint64_t number = 3; number < 7; number++) {
        MemberUpdate record = alive(number);
        record.state = static_cast<MemberState>(number % 4);
        state.members.push_back(record);
    }
    Buffer bytes;
    encode_push_pull(state, bytes);
    write_file(directory / "push_pull_join", 1, bytes.view());
    write_file(directory / "core_push_pull_join", 2, bytes.view());
    state.join = false;
    state.reply = true;
    encode_push_pull(state, bytes);
    write_file(directory / "push_pull_reply", 1, bytes.view());
    write_file(directory / "push_pull_truncated", 1, bytes.view().first(bytes.size() - 1));
    Buffer flags = bytes.clone();
    flags[kPacketHeaderBytes] = std::byte{0x80};
    write_file(directory / "push_pull_unknown_flags", 1, flags.view());
    Buffer count = bytes.clone();
    encode_fixed16(count.data() + kPacketHeaderBytes + 1, 0xFFFF);
    write_file(directory / "push_pull_count_over_limit", 1, count.view());
}

}  // namespace
}  // namespace shoal::membership

int main(int argc, char** argv) {
    if (argc != 2) {
        fmt::print(stderr, "usage: gossip_corpus_generate <directory>\n");
        return 2;
    }
    const std::filesystem::path directory(argv[1]);
    std::filesystem::create_directories(directory);
    shoal::membership::write_datagrams(directory);
    shoal::membership::write_push_pulls(directory);
    return 0;
}

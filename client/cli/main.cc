// shoal: the command-line client. Talks to any node; see `shoal --help` and README.md.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "exit_codes.h"
#include "local_files.h"
#include "output.h"
#include "progress.h"
#include "shoal/base/limits.h"
#include "shoal/client/client.h"
#include "shoal/wire/messages.h"

namespace shoal::cli {
namespace {

constexpr const char* kDefaultNode = "127.0.0.1:7400";

constexpr const char* kStatsHelp =
        "One figure per line: its name, then its value; with --json, one object with the same\n"
        "names. Counters run from the node's start; records and record_bytes (the manifests\n"
        "and chunks it holds for the cluster), segments, log_bytes, live_bytes and cache_bytes\n"
        "are what the node holds now. corrupt_ranges, corrupt_bytes, damaged_records and\n"
        "torn_tails are the damage the disk store found when it opened;\n"
        "corrupt_reads counts reads refused as corrupt. writes_stopped means a\n"
        "write or sync failed and the node refuses writes until restarted. In memory mode\n"
        "every disk figure is 0. docs/wire_format.md defines each one.";

constexpr const char* kStatusHelp =
        "First the asked node's layout: its epoch (nodes that show the same one place every\n"
        "chunk alike), its partitions and the owners of each. Then one row per member, sorted\n"
        "by name: name, the first 8 hex digits of its id, state (alive, suspect, dead, left,\n"
        "departed), zone, address, incarnation, how many ms ago the asked node last heard from\n"
        "it itself, the partitions it owns in that layout, and the bytes it holds (manifests\n"
        "and chunks, asked of each alive member itself; - if it does not answer). With --json,\n"
        "one object: {\"node\": ADDR, \"layout_epoch\", \"partitions\", \"owners\",\n"
        "\"members\": [{\"id\", \"name\", \"address\", \"zone\", \"state\", \"incarnation\",\n"
        "\"last_heard_ms\", \"partitions\", \"record_bytes\"}, ...]}.";

struct Arguments {
    std::string node;
    bool json = false;
    uint32_t timeout_seconds = 60;
    std::string key;
    std::string file;
    std::string output;
    std::string prefix;
    uint64_t limit = 1000;
    std::string ec;         // put --ec K+M
    uint32_t replicas = 0;  // put --replicas N
    wire::PutRedundancy redundancy;
};

// One count of a code, 1..255 (0 allowed for parity).
std::optional<uint8_t> parse_chunk_count(std::string_view text, uint32_t least) {
    uint32_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
        return std::nullopt;
    }
    if (value < least || value > 255) return std::nullopt;
    return static_cast<uint8_t>(value);
}

// --ec K+M or --replicas N into the put request's code; the node checks it against the
// object format's limits.
Status parse_put_redundancy(Arguments& arguments) {
    if (arguments.replicas != 0) {
        if (arguments.replicas > 256) {
            return Status::invalid_argument(
                    fmt::format("--replicas {}: at most 256 copies", arguments.replicas));
        }
        arguments.redundancy = {.data_chunks = 1,
                                .parity_chunks = static_cast<uint8_t>(arguments.replicas - 1)};
        return Status::ok();
    }
    if (arguments.ec.empty()) return Status::ok();
    const size_t plus = arguments.ec.find('+');
    const std::string_view text = arguments.ec;
    const std::optional<uint8_t> data =
            plus == std::string::npos ? std::nullopt : parse_chunk_count(text.substr(0, plus), 1);
    const std::optional<uint8_t> parity =
            plus == std::string::npos ? std::nullopt : parse_chunk_count(text.substr(plus + 1), 0);
    if (!data.has_value() || !parity.has_value()) {
        return Status::invalid_argument(fmt::format(
                "--ec {}: expected K+M, K data and M parity chunks, e.g. --ec 4+2", arguments.ec));
    }
    arguments.redundancy = {.data_chunks = *data, .parity_chunks = *parity};
    return Status::ok();
}

CLI::App* add_put_verb(CLI::App& cli, Arguments& arguments) {
    CLI::App* put = cli.add_subcommand("put", "store FILE (or stdin) as KEY");
    put->add_option("KEY", arguments.key, "the object's key")->required();
    put->add_option("FILE", arguments.file, "the file to store; - or none reads stdin");
    CLI::Option* ec =
            put->add_option("--ec",
                            arguments.ec,
                            "erasure-code it with K data and M parity chunks per stripe (K+M)");
    put->add_option("--replicas", arguments.replicas, "store N whole copies instead")
            ->check(CLI::Range(1, 256))
            ->excludes(ec);
    return put;
}

CLI::App* add_status_verb(CLI::App& cli) {
    CLI::App* status = cli.add_subcommand(
            "status", "show the cluster's members as the node sees them: state, address, ...");
    status->footer(fmt::format("{}\n\n{}", kStatusHelp, kExitCodesHelp));
    return status;
}

// --node, else $SHOAL_NODE, else the default.
std::string node_address(const std::string& flag) {
    if (!flag.empty()) return flag;
    const char* environment = std::getenv("SHOAL_NODE");
    return environment != nullptr && *environment != '\0' ? environment : kDefaultNode;
}

int report(const Status& status, int exit_code) {
    std::fputs(fmt::format("shoal: {}\n", status.message()).c_str(), stderr);
    return exit_code;
}

// Maps a failed call to its exit code, by where the failure came from.
int failed(const client::Connection& connection, const Status& status, std::string_view what) {
    // The cluster's errors already start with what failed ("get KEY: stripe 0: ...").
    const bool named = status.message().starts_with(fmt::format("{}: ", what));
    const Status described =
            named ? status
                  : Status::from_code(status.code(), fmt::format("{}: {}", what, status.message()));
    switch (connection.failure_source()) {
        case client::FailureSource::kConnection:
            return report(described, kExitCannotConnect);
        case client::FailureSource::kLocal:
            return report(described, kExitLocalFile);
        case client::FailureSource::kNode:
            return report(described,
                          status.code() == Code::kNotFound ? kExitNotFound : kExitNodeError);
        case client::FailureSource::kProtocol:
            return report(described, kExitNodeError);
        case client::FailureSource::kNone:
            break;
    }
    return report(described, kExitInternal);
}

void print(const std::string& line) {
    std::fputs((line + "\n").c_str(), stdout);
}

int put(client::Connection& connection, const Arguments& arguments) {
    Result<InputFile> input = open_input(arguments.file);
    if (!input.is_ok()) return report(input.status(), kExitLocalFile);
    client::FdSource source(input.value().fd, input.value().name);
    ProgressBar bar(fmt::format("put {}", arguments.key));
    Result<wire::ObjectInfo> info = connection.put(
            arguments.key,
            source,
            input.value().size,
            [&](uint64_t done, auto total) { bar.update(done, total); },
            arguments.redundancy);
    if (!info.is_ok()) {
        return failed(connection, info.status(), fmt::format("put {}", arguments.key));
    }
    print(describe_object(arguments.key, info.value(), arguments.json));
    return kExitOk;
}

int get(client::Connection& connection, const Arguments& arguments) {
    std::optional<OutputFile> output;
    if (!arguments.output.empty() && arguments.output != "-") {
        Result<OutputFile> created = OutputFile::create(arguments.output);
        if (!created.is_ok()) return report(created.status(), kExitLocalFile);
        output.emplace(std::move(created).value());
    }
    client::FdSink sink(output ? output->fd() : STDOUT_FILENO,
                        output ? output->path() : std::string("stdout"));
    ProgressBar bar(fmt::format("get {}", arguments.key));
    Result<wire::ObjectInfo> info = connection.get(
            arguments.key, sink, [&](uint64_t done, auto total) { bar.update(done, total); });
    if (!info.is_ok()) {
        return failed(connection, info.status(), fmt::format("get {}", arguments.key));
    }
    if (output) {
        if (Status committed = output->commit(); !committed.is_ok()) {
            return report(committed, kExitLocalFile);
        }
        if (arguments.json) print(describe_object(arguments.key, info.value(), true));
    }
    return kExitOk;
}

int stat(client::Connection& connection, const Arguments& arguments) {
    Result<wire::ObjectInfo> info = connection.stat(arguments.key);
    if (!info.is_ok()) {
        return failed(connection, info.status(), fmt::format("stat {}", arguments.key));
    }
    if (arguments.json) {
        print(describe_object(arguments.key, info.value(), true));
        return kExitOk;
    }
    print(fmt::format("key:     {}\nsize:    {}\nversion: {}\ndigest:  {}",
                      arguments.key,
                      info.value().object_bytes,
                      format_version(info.value().version),
                      format_digest(info.value().digest)));
    return kExitOk;
}

int remove(client::Connection& connection, const Arguments& arguments) {
    Result<Version> version = connection.remove(arguments.key);
    if (!version.is_ok()) {
        return failed(connection, version.status(), fmt::format("rm {}", arguments.key));
    }
    if (arguments.json) {
        print(fmt::format(R"({{"key":{},"deleted":true,"version":"{}"}})",
                          json_string(arguments.key),
                          format_version(version.value())));
    }
    return kExitOk;
}

// Pages through the node's answers until `limit` keys or the end.
int list(client::Connection& connection, const Arguments& arguments) {
    std::string start_after;
    uint64_t listed = 0;
    bool truncated = true;
    std::string json_entries;
    while (truncated && listed < arguments.limit) {
        const auto page_limit = static_cast<uint32_t>(
                std::min<uint64_t>(arguments.limit - listed, limits::kListEntriesMax));
        Result<wire::ListReply> reply = connection.list(arguments.prefix, start_after, page_limit);
        if (!reply.is_ok()) return failed(connection, reply.status(), "ls");
        for (const wire::ListEntry& entry : reply.value().entries) {
            if (arguments.json) {
                if (!json_entries.empty()) json_entries += ',';
                json_entries += describe_object(entry.key, entry.info, true);
            } else {
                print(describe_object(entry.key, entry.info, false));
            }
        }
        listed += reply.value().entries.size();
        truncated = reply.value().truncated;
        if (reply.value().entries.empty()) break;
        start_after = reply.value().entries.back().key;
    }
    if (arguments.json) {
        print(fmt::format(R"({{"entries":[{}],"truncated":{}}})", json_entries, truncated));
    }
    return kExitOk;
}

int stats(client::Connection& connection, const Arguments& arguments) {
    Result<wire::StatsReply> reply = connection.stats();
    if (!reply.is_ok()) return failed(connection, reply.status(), "stats");
    print(describe_stats(reply.value(), arguments.json));
    return kExitOk;
}

// What each reachable member holds, asked of the member itself: only it knows. Members
// known dead or gone are not tried, and one that does not answer within a few seconds is
// left out, so status stays quick when a node hangs.
std::map<std::string, uint64_t> held_by_members(const std::vector<wire::MemberEntry>& members) {
    constexpr std::chrono::seconds kMemberTimeout{3};
    std::map<std::string, uint64_t> held;
    for (const wire::MemberEntry& member : members) {
        if (member.state != wire::MemberStatus::kAlive &&
            member.state != wire::MemberStatus::kSuspect) {
            continue;
        }
        const std::string address = member.host.find(':') == std::string::npos
                                            ? fmt::format("{}:{}", member.host, member.port)
                                            : fmt::format("[{}]:{}", member.host, member.port);
        Result<client::Connection> connection =
                client::Connection::connect({.address = address,
                                             .connect_timeout = kMemberTimeout,
                                             .io_timeout = kMemberTimeout});
        if (!connection.is_ok()) continue;
        Result<wire::StatsReply> stats = connection.value().stats();
        if (stats.is_ok()) held[format_member_id(member)] = stats.value().record_bytes;
    }
    return held;
}

int status(client::Connection& connection, const Arguments& arguments) {
    Result<wire::MembersReply> reply = connection.members();
    if (!reply.is_ok()) return failed(connection, reply.status(), "status");
    const std::map<std::string, uint64_t> held = held_by_members(reply.value().members);
    print(describe_members(connection.address(), reply.value(), held, arguments.json));
    return kExitOk;
}

int ping(client::Connection& connection, const Arguments& arguments) {
    const Status pong = connection.ping();
    if (!pong.is_ok()) return failed(connection, pong, "ping");
    print(arguments.json
                  ? fmt::format(R"({{"node":{},"ok":true}})", json_string(connection.address()))
                  : fmt::format("{} is up", connection.address()));
    return kExitOk;
}

}  // namespace
}  // namespace shoal::cli

// CLI11 reports parse errors by throwing; they are caught below.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
    using namespace shoal::cli;    // NOLINT(google-build-using-namespace): main only.
    CLI::App cli("shoal: the command-line client of a shoal object store", "shoal");
    cli.footer(kExitCodesHelp);
    cli.require_subcommand(1);
    Arguments arguments;
    cli.add_option("--node",
                   arguments.node,
                   "HOST:PORT of any node (else $SHOAL_NODE, else 127.0.0.1:7400)");
    cli.add_flag("--json", arguments.json, "machine-readable output");
    cli.add_option("--timeout", arguments.timeout_seconds, "seconds to wait for the node to move")
            ->check(CLI::Range(1, 86400));

    CLI::App* put = add_put_verb(cli, arguments);
    CLI::App* get = cli.add_subcommand("get", "fetch KEY to stdout or a file");
    get->add_option("KEY", arguments.key, "the object's key")->required();
    get->add_option("-o,--output", arguments.output, "write to this file instead of stdout");
    CLI::App* remove = cli.add_subcommand("rm", "delete KEY");
    remove->add_option("KEY", arguments.key, "the object's key")->required();
    CLI::App* stat = cli.add_subcommand("stat", "show KEY's size, version and digest");
    stat->add_option("KEY", arguments.key, "the object's key")->required();
    CLI::App* list = cli.add_subcommand("ls", "list keys that start with PREFIX, in order");
    list->add_option("PREFIX", arguments.prefix, "only keys that start with this");
    list->add_option("--limit", arguments.limit, "at most this many keys")
            ->check(CLI::PositiveNumber);
    CLI::App* ping = cli.add_subcommand("ping", "check that the node answers");
    CLI::App* stats = cli.add_subcommand(
            "stats", "show the node's counters and its store's figures, corruption included");
    CLI::App* status = add_status_verb(cli);
    for (CLI::App* verb : {put, get, remove, stat, list, ping}) {
        verb->footer(kExitCodesHelp);
    }
    stats->footer(fmt::format("{}\n\n{}", kStatsHelp, kExitCodesHelp));

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = cli.exit(error);
        return code == 0 ? kExitOk : kExitUsage;
    }
    if (!ping->parsed() && !list->parsed() && !stats->parsed() && !status->parsed()) {
        if (shoal::Status valid = shoal::wire::validate_key(arguments.key); !valid.is_ok()) {
            return report(valid, kExitUsage);
        }
    }
    if (shoal::Status valid = shoal::cli::parse_put_redundancy(arguments); !valid.is_ok()) {
        return report(valid, kExitUsage);
    }
    shoal::client::Options options{.address = node_address(arguments.node),
                                   .io_timeout = std::chrono::seconds(arguments.timeout_seconds)};
    shoal::Result<shoal::client::Connection> connection =
            shoal::client::Connection::connect(options);
    if (!connection.is_ok()) {
        const bool usage = connection.status().code() == shoal::Code::kInvalidArgument;
        return report(connection.status(), usage ? kExitUsage : kExitCannotConnect);
    }
    shoal::client::Connection& node = connection.value();
    if (put->parsed()) return shoal::cli::put(node, arguments);
    if (get->parsed()) return shoal::cli::get(node, arguments);
    if (remove->parsed()) return shoal::cli::remove(node, arguments);
    if (stat->parsed()) return shoal::cli::stat(node, arguments);
    if (list->parsed()) return shoal::cli::list(node, arguments);
    if (stats->parsed()) return shoal::cli::stats(node, arguments);
    if (status->parsed()) return shoal::cli::status(node, arguments);
    return shoal::cli::ping(node, arguments);
}

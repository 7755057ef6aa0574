// shoald: the node daemon. The composition root: parses flags and the config file, opens the
// logs, and runs one Node on one UvRuntime until SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/config.h"
#include "app/logging.h"
#include "app/node_identity.h"
#include "shoal/node/node.h"
#include "shoal/runtime_uv/uv_runtime.h"
#include <sys/resource.h>

namespace shoal::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitConfig = 2;
constexpr int kExitStartup = 3;

struct Arguments {
    std::string config_path;
    ConfigOverrides overrides;
};

void add_flags(CLI::App& cli, Arguments& arguments) {
    ConfigOverrides& flags = arguments.overrides;
    cli.add_option("-c,--config", arguments.config_path, "TOML config file (configs/*.toml)")
            ->check(CLI::ExistingFile);
    cli.add_option("--name", flags.name, "node name, shown in logs (node.name)");
    cli.add_option("--listen", flags.listen, "HOST:PORT to serve clients on (node.listen)");
    cli.add_option("--data", flags.data_directory, "data directory (node.data)");
    cli.add_option("--storage", flags.storage_mode, "storage mode: disk or memory (storage.mode)");
    cli.add_option("--memory-bytes",
                   flags.memory_bytes,
                   "RAM budget for stored objects, e.g. 512MiB (storage.memory_bytes)");
    cli.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error (log.level)");
    cli.add_option("--log-file", flags.log_file, "append logs here instead of stderr (log.file)");
    cli.add_option("--join",
                   flags.join,
                   "HOST:PORT of a member to join through; repeatable (membership.join)");
    cli.add_option(
            "--advertise",
            flags.advertise,
            "HOST:PORT peers reach this node at; default the listen address (node.advertise)");
    cli.add_option("--zone", flags.zone, "failure zone, for placement (node.zone)");
    cli.add_option("--redundancy",
                   flags.redundancy,
                   "default code: ec:K+M or replicas:N (cluster.redundancy, ec:4+2)");
    cli.add_option("--weight", flags.weight, "capacity weight 1..65535 (node.weight)");
    cli.footer(
            "Flags override the config file. SIGINT or SIGTERM leaves the cluster gracefully,\n"
            "then stops; a second signal stops at once. Exit codes: 0 clean stop, 2 bad flags\n"
            "or config, 3 could not start (for example, the listen address is in use).");
}

void raise_open_files_limit() {
    struct rlimit limit {};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);  // Best effort: the old limit still works.
}

// Gossip shares the TCP listener's host and port, so one address names the node.
Status bind_network(const Config& config, runtime_uv::UvRuntime& runtime) {
    SHOAL_TRY(runtime.listen(config.listen));
    return runtime.bind_datagram(
            HostPort{.host = config.listen.host, .port = runtime.listening_port()});
}

node::Node::Options node_options(const Config& config,
                                 membership::MemberId member_id,
                                 uint16_t bound_port) {
    // Versions carry a 64-bit node id: the member id folded, never 0.
    const NodeId id{(member_id.high ^ member_id.low) | 1};
    node::Node::Options options = config.node_options(id);
    options.identity.id = member_id;
    options.identity.address = config.advertise_address(bound_port);
    return options;
}

int run_node(const Config& config) {
    Result<Logging> logging = Logging::open(config.name, config.log_level, config.log_file);
    if (!logging.is_ok()) {
        std::fprintf(stderr, "shoald: %s\n", logging.status().message().c_str());
        return kExitStartup;
    }
    std::shared_ptr<spdlog::logger> log = logging.value().logger("node");
    std::shared_ptr<spdlog::logger> runtime_log = logging.value().logger("runtime");

    runtime_uv::UvRuntime runtime(*runtime_log);
    // Memory mode keeps its id in the data directory too: a restarted node is the same member.
    Result<NodeIdentity> identity = load_or_create_node_id(config.data_directory, runtime.seed());
    if (!identity.is_ok()) {
        log->error("startup_failed reason=\"{}\"", identity.status().message());
        return kExitStartup;
    }
    const Status listening = bind_network(config, runtime);
    if (!listening.is_ok()) {
        log->error("startup_failed reason=\"{}\"", listening.message());
        return kExitStartup;
    }
    const membership::MemberId member_id = identity.value().id;
    const node::Node::Options options = node_options(config, member_id, runtime.listening_port());
    node::Node node(options, runtime, *log);
    runtime.watch_signals([&](int signal) {
        log->info("signal_received signal={}", signal == SIGINT ? "SIGINT" : "SIGTERM");
        if (node.is_shutting_down() || node.is_leaving()) {
            runtime.stop();  // A second signal: stop without waiting.
            return;
        }
        node.begin_leave();
    });
    int exit_code = kExitOk;
    node.start([&](const Status& status) {
        if (!status.is_ok()) {
            log->error("startup_failed reason=\"{}\"", status.message());
            exit_code = kExitStartup;
            runtime.stop();
            return;
        }
        log->info(
                "node_started listen={} port={} advertise={} storage={} data={} memory_bytes={} "
                "id={} id_created={} zone={} join={}",
                config.listen.to_string(),
                runtime.listening_port(),
                options.identity.address.to_string(),
                config.storage_mode,
                config.data_directory,
                config.memory_bytes,
                membership::to_string(member_id),
                identity.value().created,
                config.zone,
                config.join.size());
    });
    runtime.run(node);
    const node::NodeStats& stats = node.stats();
    log->info("node_stopped requests={} failed={} frames_rejected={} puts_abandoned={}",
              stats.requests,
              stats.requests_failed,
              stats.frames_rejected,
              stats.puts_abandoned);
    log->flush();
    return exit_code;
}

}  // namespace
}  // namespace shoal::app

// CLI11 reports parse errors by throwing; they are caught below. Anything else escaping is a
// bug, and terminating on it is the right end.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
    using namespace shoal::app;    // NOLINT(google-build-using-namespace): main only.
    CLI::App cli("shoald: a shoal storage node", "shoald");
    cli.set_version_flag("--version", "shoald 0.1.0");
    Arguments arguments;
    add_flags(cli, arguments);
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = cli.exit(error);
        return code == 0 ? kExitOk : kExitConfig;
    }
    // A peer that vanishes mid-write must cost a failed write (EPIPE), not the process.
    std::signal(SIGPIPE, SIG_IGN);
    // The disk store keeps every segment open and each client is a socket: take all the file
    // descriptors the system allows instead of the usual 1024.
    raise_open_files_limit();
    shoal::Result<Config> config = load_config(arguments.config_path, arguments.overrides);
    if (!config.is_ok()) {
        std::fprintf(stderr, "shoald: %s\n", config.status().message().c_str());
        return kExitConfig;
    }
    return run_node(config.value());
}

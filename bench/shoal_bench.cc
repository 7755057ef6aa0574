// shoal-bench: a load generator for one shoal node (or several: --nodes spreads the
// connections over them). Parses flags, optionally prefills the key space, runs one phase of
// puts, gets or a mix through LoadGenerator, and reports throughput, latency percentiles and
// failures by code, as text or JSON (bench/README.md).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "load_generator.h"
#include "shoal/base/limits.h"
#include "shoal/base/units.h"

namespace shoal::bench {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitOpsFailed = 1;  // The run finished, but some operations failed.
constexpr int kExitUsage = 2;
constexpr int kExitRunFailed = 3;  // Could not connect, or the run could not finish.

constexpr double kDurationDefaultSeconds = 10;

struct Arguments {
    std::string node = "127.0.0.1:7400";
    std::string nodes;  // --nodes, every value joined by newlines; when given, replaces `node`.
    bool nodes_given = false;
    uint32_t connections = 50;
    uint32_t depth = 1;
    std::string size_text = "1KiB";
    std::string op = "put";
    uint32_t get_percent = 50;
    uint64_t keys = 1000;
    uint64_t count = 0;
    double duration_seconds = 0;
    bool prefill = false;
    bool json = false;
    bool verify = false;
    uint64_t seed = 1;
    double stall_timeout_seconds = 30;
};

void add_flags(CLI::App& cli, Arguments& arguments) {
    CLI::Option* node =
            cli.add_option("--node", arguments.node, "the node's HOST:PORT")->capture_default_str();
    cli.add_option("--nodes",
                   arguments.nodes,
                   "nodes HOST:PORT,HOST:PORT,... (or the flag repeated): connections spread "
                   "round-robin over them")
            ->multi_option_policy(CLI::MultiOptionPolicy::Join)
            ->excludes(node);
    cli.add_option("--connections", arguments.connections, "TCP connections (with --nodes, in all)")
            ->check(CLI::Range(uint32_t{1}, limits::kConnectionsMax))
            ->capture_default_str();
    cli.add_option("--depth", arguments.depth, "requests in flight per connection")
            ->check(CLI::Range(uint32_t{1}, limits::kConnectionRequestsMax))
            ->capture_default_str();
    cli.add_option("--size", arguments.size_text, "object size: 1024, 4K, 1M, 64MiB, 1G")
            ->capture_default_str();
    cli.add_option("--op", arguments.op, "put, get or mixed")
            ->check(CLI::IsMember({"put", "get", "mixed"}))
            ->capture_default_str();
    cli.add_option("--get-percent", arguments.get_percent, "share of gets in --op mixed")
            ->check(CLI::Range(0, 100))
            ->capture_default_str();
    cli.add_option("--keys", arguments.keys, "key space: keys bench/0 .. bench/<N-1>")
            ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}))
            ->capture_default_str();
    CLI::Option* count =
            cli.add_option("--count", arguments.count, "total operations (default: a duration)")
                    ->check(CLI::PositiveNumber);
    cli.add_option("--duration",
                   arguments.duration_seconds,
                   "seconds to issue operations for (default 10 unless --count)")
            ->check(CLI::PositiveNumber)
            ->excludes(count);
    cli.add_flag("--prefill", arguments.prefill, "put every key once before the measured run");
    cli.add_flag("--json", arguments.json, "print the report as one JSON object");
    cli.add_flag("--verify", arguments.verify, "hash get data and check it against the digest");
    cli.add_option("--seed", arguments.seed, "seed for payload bytes and key choice")
            ->capture_default_str();
    cli.add_option("--stall-timeout",
                   arguments.stall_timeout_seconds,
                   "seconds without any reply before the run is abandoned")
            ->check(CLI::PositiveNumber)
            ->capture_default_str();
    cli.footer(
            "Exit codes: 0 every operation succeeded, 1 some operations failed, 2 bad flags,\n"
            "3 could not connect or the run could not finish.");
}

// The nodes loaded, in connection order: --nodes (split at commas and between repeats), or
// else --node. (A string option joining its repeats rather than a vector option: GCC 12 warns
// falsely, -Wnull-dereference, in CLI11's splitting of the latter, as src/app/CMakeLists.txt
// notes for shoald.)
std::vector<std::string> nodes_of(const Arguments& arguments) {
    if (!arguments.nodes_given) return {arguments.node};
    std::vector<std::string> nodes;
    size_t begin = 0;
    while (true) {
        const size_t end = arguments.nodes.find_first_of(",\n", begin);
        nodes.push_back(arguments.nodes.substr(begin, end - begin));
        if (end == std::string::npos) break;
        begin = end + 1;
    }
    return nodes;
}

std::string joined(const std::vector<std::string>& texts) {
    std::string all;
    for (const std::string& text : texts) {
        if (!all.empty()) all += ", ";
        all += text;
    }
    return all;
}

std::string_view workload_name(Workload workload) {
    switch (workload) {
        case Workload::kPut:
            return "put";
        case Workload::kGet:
            return "get";
        case Workload::kMixed:
            return "mixed";
    }
    return "?";
}

std::string_view failure_name(size_t code) {
    return code == 0 ? std::string_view("protocol") : code_name(static_cast<Code>(code));
}

// A JSON string literal: quotes, backslashes and control characters escaped.
std::string json_string(std::string_view text) {
    std::string quoted = "\"";
    for (const char character : text) {
        if (character == '"' || character == '\\') {
            quoted += '\\';
            quoted += character;
        } else if (static_cast<unsigned char>(character) < 0x20) {
            quoted += fmt::format("\\u{:04x}", static_cast<unsigned>(character));
        } else {
            quoted += character;
        }
    }
    quoted += '"';
    return quoted;
}

double seconds_of(Clock::duration duration) {
    return std::chrono::duration<double>(duration).count();
}

double micros_of(uint64_t nanoseconds) {
    return static_cast<double>(nanoseconds) / 1000.0;
}

struct Rates {
    double ops_per_second = 0;
    double megabytes_per_second = 0;  // 10^6 bytes.
};

Rates rates_of(const OpStats& stats, Clock::duration elapsed) {
    const double seconds = seconds_of(elapsed);
    if (seconds <= 0) return {};
    return Rates{
            .ops_per_second = static_cast<double>(stats.ops_ok) / seconds,
            .megabytes_per_second = static_cast<double>(stats.object_bytes) / seconds / 1e6,
    };
}

std::string json_stats(const OpStats& stats, Clock::duration elapsed) {
    const Rates rates = rates_of(stats, elapsed);
    std::string failures;
    for (size_t code = 0; code < stats.failures_by_code.size(); code++) {
        if (stats.failures_by_code[code] == 0) continue;
        if (!failures.empty()) failures += ", ";
        failures += fmt::format("\"{}\": {}", failure_name(code), stats.failures_by_code[code]);
    }
    const LatencyHistogram& latency = stats.latency;
    return fmt::format(
            "\"ops\": {}, \"ops_failed\": {}, \"bytes\": {}, \"ops_per_s\": {:.1f}, "
            "\"mb_per_s\": {:.1f}, \"latency_us\": {{\"p50\": {:.1f}, \"p99\": {:.1f}, "
            "\"p999\": {:.1f}, \"max\": {:.1f}, \"mean\": {:.1f}}}, \"failures\": {{{}}}",
            stats.ops_ok,
            stats.ops_failed,
            stats.object_bytes,
            rates.ops_per_second,
            rates.megabytes_per_second,
            micros_of(latency.percentile_ns(500'000)),
            micros_of(latency.percentile_ns(990'000)),
            micros_of(latency.percentile_ns(999'000)),
            micros_of(latency.max_ns()),
            micros_of(latency.mean_ns()),
            failures);
}

void print_json(const Arguments& arguments,
                Workload workload,
                uint64_t object_bytes,
                const PhaseResult* prefill,
                const PhaseResult& run) {
    const OpStats total = run.total();
    const double seconds = seconds_of(run.elapsed);
    std::string by_op;
    for (size_t kind = 0; kind < kOpKindCount; kind++) {
        const OpStats& stats = run.by_kind[kind];
        if (stats.ops_ok + stats.ops_failed == 0) continue;
        if (!by_op.empty()) by_op += ", ";
        by_op += fmt::format(
                "\"{}\": {{{}}}", kind == 0 ? "put" : "get", json_stats(stats, run.elapsed));
    }
    std::string prefill_json = "null";
    if (prefill != nullptr) {
        const OpStats prefill_total = prefill->total();
        prefill_json = fmt::format("{{\"ops\": {}, \"ops_failed\": {}, \"elapsed_s\": {:.3f}}}",
                                   prefill_total.ops_ok,
                                   prefill_total.ops_failed,
                                   seconds_of(prefill->elapsed));
    }
    std::string nodes_json;
    for (const std::string& node : nodes_of(arguments)) {
        if (!nodes_json.empty()) nodes_json += ", ";
        nodes_json += json_string(node);
    }
    fmt::print(
            "{{\"node\": {}, \"nodes\": [{}], \"op\": \"{}\", \"object_bytes\": {}, "
            "\"connections\": {}, \"depth\": {}, \"keys\": {}, \"elapsed_s\": {:.3f}, {}, "
            "\"bench_cpu_s\": {:.3f}, \"bench_cpu_percent\": {:.1f}, \"connections_lost\": {}, "
            "\"status\": {}, \"by_op\": {{{}}}, \"prefill\": {}}}\n",
            json_string(nodes_of(arguments).front()),
            nodes_json,
            workload_name(workload),
            object_bytes,
            arguments.connections,
            arguments.depth,
            arguments.keys,
            seconds,
            json_stats(total, run.elapsed),
            run.cpu_seconds,
            seconds > 0 ? 100.0 * run.cpu_seconds / seconds : 0.0,
            run.connections_lost,
            json_string(run.status.is_ok() ? "ok" : run.status.message()),
            by_op,
            prefill_json);
}

void print_row(std::string_view name, const OpStats& stats, Clock::duration elapsed) {
    const Rates rates = rates_of(stats, elapsed);
    const LatencyHistogram& latency = stats.latency;
    fmt::print("{:<6} {:>10} {:>12.1f} {:>10.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>8}\n",
               name,
               stats.ops_ok,
               rates.ops_per_second,
               rates.megabytes_per_second,
               micros_of(latency.percentile_ns(500'000)),
               micros_of(latency.percentile_ns(990'000)),
               micros_of(latency.percentile_ns(999'000)),
               micros_of(latency.max_ns()),
               stats.ops_failed);
}

void print_text(const Arguments& arguments,
                Workload workload,
                uint64_t object_bytes,
                const PhaseResult* prefill,
                const PhaseResult& run) {
    const std::vector<std::string> nodes = nodes_of(arguments);
    fmt::print("shoal-bench: {} of {} objects, {} connections x depth {}, {} keys, node{} {}\n",
               workload_name(workload),
               format_bytes(object_bytes),
               arguments.connections,
               arguments.depth,
               arguments.keys,
               nodes.size() > 1 ? "s" : "",
               joined(nodes));
    if (prefill != nullptr) {
        const OpStats total = prefill->total();
        fmt::print("prefill: {} puts ({} failed) in {:.2f} s\n",
                   total.ops_ok,
                   total.ops_failed,
                   seconds_of(prefill->elapsed));
    }
    fmt::print("{:<6} {:>10} {:>12} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8}\n",
               "op",
               "ops",
               "ops/s",
               "MB/s",
               "p50 us",
               "p99 us",
               "p999 us",
               "max us",
               "failed");
    size_t kinds_used = 0;
    for (size_t kind = 0; kind < kOpKindCount; kind++) {
        const OpStats& stats = run.by_kind[kind];
        if (stats.ops_ok + stats.ops_failed == 0) continue;
        print_row(kind == 0 ? "put" : "get", stats, run.elapsed);
        kinds_used += 1;
    }
    const OpStats total = run.total();
    if (kinds_used > 1) print_row("total", total, run.elapsed);
    for (size_t code = 0; code < total.failures_by_code.size(); code++) {
        if (total.failures_by_code[code] == 0) continue;
        fmt::print("failed with {}: {} (first: \"{}\")\n",
                   failure_name(code),
                   total.failures_by_code[code],
                   total.first_message[code]);
    }
    const double seconds = seconds_of(run.elapsed);
    fmt::print("elapsed {:.2f} s; shoal-bench used {:.2f} CPU-s ({:.0f}% of one core)\n",
               seconds,
               run.cpu_seconds,
               seconds > 0 ? 100.0 * run.cpu_seconds / seconds : 0.0);
    if (run.connections_lost > 0) fmt::print("connections lost: {}\n", run.connections_lost);
    if (!run.status.is_ok()) fmt::print("run failed: {}\n", run.status.message());
}

int run_bench(const Arguments& arguments) {
    Result<uint64_t> object_bytes = parse_bytes(arguments.size_text);
    if (!object_bytes.is_ok() || object_bytes.value() > limits::kObjectBytesMax) {
        fmt::print(stderr,
                   "shoal-bench: --size: {}\n",
                   object_bytes.is_ok() ? "over the object size limit"
                                        : object_bytes.status().message());
        return kExitUsage;
    }
    std::vector<Target> targets;
    for (const std::string& node : nodes_of(arguments)) {
        Result<Target> target = resolve_target(node);
        if (!target.is_ok()) {
            fmt::print(stderr, "shoal-bench: {}\n", target.status().message());
            return kExitUsage;
        }
        targets.push_back(std::move(target).value());
    }
    Workload workload = Workload::kPut;
    if (arguments.op == "get") workload = Workload::kGet;
    if (arguments.op == "mixed") workload = Workload::kMixed;

    const Payload payload(object_bytes.value(), arguments.seed);
    LoadGenerator generator(
            GeneratorOptions{
                    .connections = arguments.connections,
                    .depth = arguments.depth,
                    .keys = arguments.keys,
                    .verify = arguments.verify,
                    .seed = arguments.seed,
                    .stall_timeout = std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(arguments.stall_timeout_seconds)),
            },
            payload);
    const Status connected = generator.connect(targets);
    if (!connected.is_ok()) {
        fmt::print(stderr, "shoal-bench: {}\n", connected.message());
        return kExitRunFailed;
    }

    std::optional<PhaseResult> prefill;
    if (arguments.prefill) {
        prefill = generator.run(PhaseOptions{
                .workload = Workload::kPut,
                .keys_in_order = true,
                .ops_max = arguments.keys,
        });
        if (!prefill->status.is_ok() || prefill->total().ops_failed > 0) {
            print_text(arguments, Workload::kPut, object_bytes.value(), nullptr, *prefill);
            fmt::print(stderr, "shoal-bench: prefill failed\n");
            return kExitRunFailed;
        }
    }
    double duration_seconds = arguments.duration_seconds;
    if (arguments.count == 0 && duration_seconds == 0) duration_seconds = kDurationDefaultSeconds;
    const PhaseResult run = generator.run(PhaseOptions{
            .workload = workload,
            .get_percent = arguments.get_percent,
            .ops_max = arguments.count,
            .duration_max = std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(duration_seconds)),
    });
    const PhaseResult* prefill_result = prefill.has_value() ? &*prefill : nullptr;
    if (arguments.json) {
        print_json(arguments, workload, object_bytes.value(), prefill_result, run);
    } else {
        print_text(arguments, workload, object_bytes.value(), prefill_result, run);
    }
    if (!run.status.is_ok()) return kExitRunFailed;
    return run.total().ops_failed > 0 ? kExitOpsFailed : kExitOk;
}

}  // namespace
}  // namespace shoal::bench

// CLI11 reports parse errors by throwing; they are caught below.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
    using namespace shoal::bench;  // NOLINT(google-build-using-namespace): main only.
    CLI::App cli("shoal-bench: a pipelined load generator for shoal nodes", "shoal-bench");
    Arguments arguments;
    add_flags(cli, arguments);
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = cli.exit(error);
        return code == 0 ? kExitOk : kExitUsage;
    }
    arguments.nodes_given = cli.count("--nodes") > 0;
    return run_bench(arguments);
}

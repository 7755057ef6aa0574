#!/usr/bin/env bash
# compare_disk.sh: measures shoald's disk mode against references measured in the same run, on
# the same machine and the same file system, and prints shoal's figures, the references' and
# their ratios (bench/README.md):
#
#   1. 4 KiB puts, fsync always, 50 connections  vs  redis-server --appendfsync always
#   2. 64 MiB sequential puts, 1 connection      vs  dd bs=64M conv=fdatasync
#   3. 1 KiB gets served from the RAM cache      vs  a memory-mode shoald, same workload
#      (each on a node of its own that holds only the keys read; the same gets on the disk
#      node of 1 and 2, its compaction of their garbage running beside, are shown too)
#   4. restart of a store of RESTART_RECORDS 1 KiB records after SIGKILL, warm and cold
#
#   bench/compare_disk.sh                 uses build/release if its binaries are there, else
#                                         builds build/bench-release
#   BUILD_DIR=build/dev bench/compare_disk.sh    uses the binaries already built there
#
# Knobs (environment): ROUNDS of every measurement (default 3; medians are reported),
# PUT_COUNT 4 KiB puts per run (100000), BIG_COUNT 64 MiB puts per run and dd's block count
# (16), CACHE_KEYS 1 KiB keys of the cached working set (4000), GET_COUNT gets per run (300000),
# RESTART_RECORDS records in the restarted store (1000000), FILL_DEPTH requests in flight per
# connection while filling it (8), STEP_TIMEOUT seconds per step (180), FILL_TIMEOUT seconds
# for the fill (900), DATA_PARENT the directory the temporary directory is made in (every data
# directory, redis's --dir and dd's file live there, so on one file system; ${TMPDIR:-/tmp}).
# Exit status: 0 every target met, 1 a target missed, 2 a step failed.
#
# It starts servers only on 127.0.0.1 and free ports, and stops exactly those it started (by
# PID, on any exit). Every wait is bounded. The temporary directory is removed at exit (after
# a failed step its logs are kept and the data removed).
set -euo pipefail
export LC_ALL=C  # dd's report and $EPOCHREALTIME use '.' for the decimal point.

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

rounds="${ROUNDS:-3}"
put_count="${PUT_COUNT:-100000}"
big_count="${BIG_COUNT:-16}"
cache_keys="${CACHE_KEYS:-4000}"
get_count="${GET_COUNT:-300000}"
restart_records="${RESTART_RECORDS:-1000000}"
fill_depth="${FILL_DEPTH:-8}"
step_timeout="${STEP_TIMEOUT:-180}"
fill_timeout="${FILL_TIMEOUT:-900}"
data_parent="${DATA_PARENT:-${TMPDIR:-/tmp}}"

# Fixed for every disk-mode node of the run: the configs/single.toml defaults, spelled out.
cache_bytes_setting="256MiB"

work="$(mktemp -d "$data_parent/shoal-compare-disk.XXXXXX")"
started_pids=()

log() { echo "compare_disk: $*" >&2; }
fail() {
    log "$*"
    exit 2
}

stop_pid() {
    local pid="$1"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not stop in 10 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

forget_pid() {
    local kept=() pid
    for pid in "${started_pids[@]}"; do
        [ "$pid" = "$1" ] || kept+=("$pid")
    done
    started_pids=("${kept[@]}")
}

stop_started() {
    local pid
    for pid in "${started_pids[@]}"; do
        stop_pid "$pid"
    done
    started_pids=()
}

on_exit() {
    local status=$?
    stop_started
    if [ "$status" -ge 2 ]; then
        # Keep the logs to read, not the gigabytes of data.
        rm -rf "${work:?}/bin" "$work/disk-data" "$work/memory-data" "$work/redis" \
            "$work/restart-data" "$work/dd.bin"
        log "logs kept in $work"
    else
        rm -rf "$work"
    fi
}
trap on_exit EXIT
trap 'exit 2' INT TERM

# --- binaries ---------------------------------------------------------------------------------

if [ -z "${BUILD_DIR:-}" ]; then
    BUILD_DIR="$root/build/release"
    if [ ! -x "$BUILD_DIR/src/app/shoald" ] || [ ! -x "$BUILD_DIR/client/shoal" ] ||
        [ ! -x "$BUILD_DIR/bench/shoal-bench" ]; then
        # build/release belongs to whoever works in src/: build in a directory of our own.
        BUILD_DIR="$root/build/bench-release"
        if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
            log "configuring the release preset in $BUILD_DIR"
            (cd "$root" && cmake --preset release -B "$BUILD_DIR" >"$work/configure.log") ||
                fail "cmake --preset release failed (see $work/configure.log)"
        fi
        log "building shoald, shoal and shoal-bench in $BUILD_DIR"
        cmake --build "$BUILD_DIR" -j2 --target shoald shoal shoal-bench >"$work/build.log" ||
            fail "the build failed (see $work/build.log)"
    fi
fi
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
for binary in src/app/shoald client/shoal bench/shoal-bench; do
    [ -x "$BUILD_DIR/$binary" ] || fail "no $binary in $BUILD_DIR"
done
binaries_built="$(date -r "$BUILD_DIR/src/app/shoald" '+%Y-%m-%d %H:%M')"
source_state="HEAD $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
if [ -n "$(git -C "$root" status --porcelain -- src include client bench 2>/dev/null)" ]; then
    source_state="$source_state, with uncommitted changes the binaries may include"
fi
# Copies, so that a rebuild in BUILD_DIR during the run changes nothing in it.
mkdir "$work/bin"
cp "$BUILD_DIR/src/app/shoald" "$BUILD_DIR/client/shoal" "$BUILD_DIR/bench/shoal-bench" \
    "$work/bin/"
shoald="$work/bin/shoald"
shoal="$work/bin/shoal"
bench="$work/bin/shoal-bench"

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null ||
    ! command -v redis-cli >/dev/null; then
    log "installing redis-server and redis-tools"
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || fail "need root or sudo to apt-get install redis-server"
        as_root=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq >/dev/null
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends redis-server redis-tools \
        >/dev/null || fail "apt-get install redis-server failed"
fi

# --- room on the file system ------------------------------------------------------------------

# Nothing is compacted during the run: every round adds its puts to shoald's log and redis's
# AOF (rewritten now and then), dd's file is removed after each round, and the restarted store
# holds RESTART_RECORDS records of 1 KiB plus their headers.
needed_bytes=$((rounds * (2 * put_count * 4200 + 2 * big_count * (64 << 20) +
    2 * cache_keys * 1100) + restart_records * 1300 + (1 << 30)))
free_bytes=$(($(df --output=avail -B1 "$work" | tail -n 1)))
if [ "$free_bytes" -lt "$needed_bytes" ]; then
    fail "$work has $((free_bytes >> 20)) MiB free; the run needs about $((needed_bytes >> 20)) MiB"
fi
filesystem="$(df --output=source,fstype,target "$work" | tail -n 1 | tr -s ' ')"

# --- helpers ----------------------------------------------------------------------------------

clock_ticks="$(getconf CLK_TCK)"

# user + system CPU ticks of a process so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

now_seconds() { date +%s.%N; }
now_micros() { echo "${EPOCHREALTIME/./}"; }

# Bytes that a process's threads other than its main one have read with read/pread, page
# cache hits included (/proc/PID/task/TID/io rchar). shoald's main thread runs the event loop
# and reads the sockets; its disk IO runs on libuv's worker threads, so this is what the disk
# store read from its segment files.
worker_read_bytes() {
    local task total=0 bytes
    for task in "/proc/$1/task/"*; do
        [ "${task##*/}" = "$1" ] && continue
        bytes="$(awk '/^rchar:/ { print $2 }' "$task/io" 2>/dev/null)" || bytes=0
        total=$((total + ${bytes:-0}))
    done
    echo "$total"
}

# A TCP port on 127.0.0.1 that nothing listens on (bounded tries).
free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# The first value of a numeric field in a one-line JSON object (totals come before by_op).
json_number() { grep -o "\"$2\": [0-9.e+-]*" <<<"$1" | head -n 1 | awk '{ print $2 }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# Microseconds of CPU per operation: <ticks> <operations>.
micros_per_op() {
    awk -v ticks="$1" -v hz="$clock_ticks" -v ops="$2" \
        'BEGIN { if (ops > 0) printf "%.2f", 1e6 * ticks / hz / ops; else print "-" }'
}

server_percent() {
    awk -v ticks="$1" -v hz="$clock_ticks" -v seconds="$2" \
        'BEGIN { if (seconds > 0) printf "%.0f", 100 * ticks / hz / seconds; else print "-" }'
}

# run_step <server pid or -> <timeout s> <command...>: runs a step under a deadline, measuring
# the CPU that the server and the client spend during it. Sets step_output, step_seconds,
# step_server_ticks, step_server_percent and step_client_percent.
run_step() {
    local server_pid="$1" limit="$2"
    shift 2
    local ticks_before=0 ticks_after=0 started ended status=0 TIMEFORMAT='%R %U %S'
    [ "$server_pid" = - ] || ticks_before="$(cpu_ticks "$server_pid")"
    started="$(now_seconds)"
    step_output=""
    # bash's `time` counts every process the step waited for: the client's CPU.
    { time step_output="$(timeout "$limit" "$@" 2>"$work/step.err")"; } \
        2>"$work/step.time" || status=$?
    ended="$(now_seconds)"
    [ "$server_pid" = - ] || ticks_after="$(cpu_ticks "$server_pid")"
    step_client_percent="$(awk \
        '{ if ($1 > 0) printf "%.0f", 100 * ($2 + $3) / $1; else print "-" }' "$work/step.time")"
    if [ "$status" -ne 0 ]; then
        local why="exit $status"
        [ "$status" -eq 124 ] && why="timed out after $limit s"
        log "step failed ($why): $*"
        [ -n "$step_output" ] && echo "$step_output" >&2
        cat "$work/step.err" >&2
        exit 2
    fi
    step_seconds="$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.3f", b - a }')"
    step_server_ticks=$((ticks_after - ticks_before))
    step_server_percent="$(server_percent "$step_server_ticks" "$step_seconds")"
}

# --- servers ----------------------------------------------------------------------------------

cat >"$work/disk.toml" <<EOF
# compare_disk.sh: disk mode with the configs/single.toml settings.
[storage]
mode = "disk"
fsync = "always"
cache_bytes = "$cache_bytes_setting"
segment_bytes = "64MiB"
[cluster]
# One node: the default ec:4+2 would need five.
redundancy = "replicas:1"
EOF

# launch_shoald <log> <flags...>: starts shoald on a free port of 127.0.0.1. Sets
# launched_pid and launched_micros (just before the fork).
launch_shoald() {
    local log_file="$1"
    shift
    launched_micros="$(now_micros)"
    "$shoald" --listen 127.0.0.1:0 --log-level info "$@" >"$log_file" 2>&1 &
    launched_pid=$!
    started_pids+=("$launched_pid")
}

# wait_node_started <pid> <log> <timeout s>: polls the log every 10 ms for node_started, which
# shoald logs once its store is open (recovered) and it is listening. Sets started_port and
# started_micros (when the line was seen).
wait_node_started() {
    local pid="$1" log_file="$2" deadline line
    deadline=$(($(now_micros) + $3 * 1000000))
    started_port=""
    while :; do
        if line="$(grep -m 1 'node_started .* port=' "$log_file" 2>/dev/null)"; then
            started_micros="$(now_micros)"
            started_port="${line##*port=}"
            started_port="${started_port%% *}"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || fail "shoald exited: $(tail -n 5 "$log_file")"
        [ "$(now_micros)" -lt "$deadline" ] || fail "shoald did not start in $3 s ($log_file)"
        sleep 0.01
    done
}

start_shoald() {  # <log> <flags...>: sets shoald_started_pid, shoald_started_port
    local log_file="$1"
    launch_shoald "$@"
    wait_node_started "$launched_pid" "$log_file" 10
    (exec 3<>"/dev/tcp/127.0.0.1/$started_port") 2>/dev/null ||
        fail "shoald logged port $started_port but does not accept connections"
    shoald_started_pid="$launched_pid"
    shoald_started_port="$started_port"
}

log "starting a disk-mode shoald (fsync always) and a memory-mode shoald"
start_shoald "$work/disk.log" --config "$work/disk.toml" --data "$work/disk-data"
disk_pid="$shoald_started_pid"
disk_node="127.0.0.1:$shoald_started_port"
start_shoald "$work/memory.log" --storage memory --memory-bytes 1GiB --redundancy replicas:1 \
    --data "$work/memory-data"
memory_pid="$shoald_started_pid"
memory_node="127.0.0.1:$shoald_started_port"
start_shoald "$work/cache.log" --config "$work/disk.toml" --data "$work/cache-data"
cache_pid="$shoald_started_pid"
cache_node="127.0.0.1:$shoald_started_port"

mkdir "$work/redis"
redis_port=""
for _ in $(seq 1 3); do
    port="$(free_port)" || fail "no free port for redis"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly yes \
        --appendfsync always --dir "$work/redis" --daemonize no >"$work/redis.log" 2>&1 &
    redis_pid=$!
    started_pids+=("$redis_pid")
    for _ in $(seq 1 100); do
        kill -0 "$redis_pid" 2>/dev/null || break
        if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]; then
            redis_port="$port"
            break
        fi
        sleep 0.1
    done
    [ -n "$redis_port" ] && break
    # The port was taken after all, or redis failed: stop this one before the next try.
    stop_pid "$redis_pid"
    forget_pid "$redis_pid"
done
[ -n "$redis_port" ] || fail "redis-server did not start: $(tail -n 5 "$work/redis.log")"
redis_fsync="$(redis-cli -h 127.0.0.1 -p "$redis_port" config get appendfsync | tail -n 1)"
[ "$redis_fsync" = always ] || fail "redis reports appendfsync $redis_fsync"
[ "$(stat -c %d "$work/redis")" = "$(stat -c %d "$work/disk-data")" ] ||
    fail "redis's --dir and shoald's data are on different file systems"
log "disk shoald pid $disk_pid ($disk_node), memory shoald pid $memory_pid ($memory_node)," \
    "redis-server pid $redis_pid (port $redis_port), all under $work"

load_before="$(cut -d ' ' -f 1-3 /proc/loadavg)"

# --- rounds: puts, large puts, cached gets ----------------------------------------------------
#
# Each round runs every measurement once, shoal's and its reference's back to back, so a
# neighbour's load hits both alike; the order of the pair alternates from round to round. The
# report takes each figure's median over the rounds.

declare -A samples=()
add_sample() { samples[$1]="${samples[$1]:-} $2"; }
median() {
    # shellcheck disable=SC2086 # Word splitting of the sample list is intended.
    printf '%s\n' $1 | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'
}
figure() { median "${samples[$1]:-}"; }
last() {
    local values="${samples[$1]:-}"
    echo "${values##* }"
}
largest() {
    # shellcheck disable=SC2086 # Word splitting of the sample list is intended.
    printf '%s\n' ${samples[$1]:-} | sort -g | tail -n 1
}
smallest() {
    # shellcheck disable=SC2086 # Word splitting of the sample list is intended.
    printf '%s\n' ${samples[$1]:-} | sort -g | head -n 1
}

# CSV lines: "SET","rps","avg","min","p50","p95","p99","max" (latencies in milliseconds).
csv_field() { awk -F'"' -v test="$2" -v column="$3" '$2 == test { print $(2 * column) }' <<<"$1"; }
millis_to_micros() { awk -v ms="$1" 'BEGIN { printf "%.0f", ms * 1000 }'; }

# shoal_step <name> <pid> <node> <bench flags...>: one shoal-bench run, its figures added
# under <name>.
shoal_step() {
    local name="$1" pid="$2" node="$3"
    shift 3
    run_step "$pid" "$step_timeout" "$bench" --node "$node" --json "$@"
    add_sample "${name}_ops" "$(json_number "$step_output" ops_per_s)"
    add_sample "${name}_mbs" "$(json_number "$step_output" mb_per_s)"
    add_sample "${name}_p50" "$(json_number "$step_output" p50)"
    add_sample "${name}_server_cpu" "$step_server_percent"
    add_sample "${name}_client_cpu" "$step_client_percent"
    add_sample "${name}_server_us" \
        "$(micros_per_op "$step_server_ticks" "$(json_number "$step_output" ops)")"
}

redis_put_step() {
    run_step "$redis_pid" "$step_timeout" redis-benchmark -h 127.0.0.1 -p "$redis_port" -c 50 \
        -d 4096 -t set -n "$put_count" -q --csv
    local ops
    ops="$(csv_field "$step_output" SET 2)"
    [ -n "$ops" ] || fail "cannot read redis-benchmark's output: $step_output"
    add_sample redis_set_ops "$ops"
    add_sample redis_set_p50 "$(millis_to_micros "$(csv_field "$step_output" SET 5)")"
    add_sample redis_set_server_cpu "$step_server_percent"
    add_sample redis_set_client_cpu "$step_client_percent"
    add_sample redis_set_server_us "$(micros_per_op "$step_server_ticks" "$put_count")"
}

shoal_put_step() {
    shoal_step put_4k "$disk_pid" "$disk_node" --connections 50 --size 4K --op put \
        --count "$put_count"
}

shoal_big_step() {
    shoal_step put_64m "$disk_pid" "$disk_node" --connections 1 --size 64M --op put --keys 4 \
        --count "$big_count"
}

# The same bytes as shoal's step, in as many 64 MiB writes, then one fdatasync; dd's own
# figures (bytes and seconds) give the rate.
dd_step() {
    run_step - "$step_timeout" dd if=/dev/zero of="$work/dd.bin" bs=64M count="$big_count" \
        conv=fdatasync
    local line
    line="$(grep ' bytes .* copied, ' "$work/step.err" | tail -n 1)"
    rm -f "$work/dd.bin"
    [ -n "$line" ] || fail "cannot read dd's report: $(cat "$work/step.err")"
    add_sample dd_mbs "$(awk -F', ' '{ split($1, b, " "); split($(NF - 1), s, " ");
        if (s[1] > 0) printf "%.1f", b[1] / s[1] / 1e6 }' <<<"$line")"
    add_sample dd_client_cpu "$step_client_percent"
}

cached_get_flags=(--connections 50 --size 1K --op get --keys "$cache_keys" --prefill
    --count "$get_count")
memory_get_step() { shoal_step get_memory "$memory_pid" "$memory_node" "${cached_get_flags[@]}"; }
disk_get_step() {
    local read_before
    read_before="$(worker_read_bytes "$cache_pid")"
    shoal_step get_disk "$cache_pid" "$cache_node" "${cached_get_flags[@]}"
    add_sample get_disk_read_bytes $(($(worker_read_bytes "$cache_pid") - read_before))
}
# The same gets on the node that took the puts above: its compaction of their garbage runs
# beside them. Shown, not judged.
busy_get_step() {
    local read_before
    read_before="$(worker_read_bytes "$disk_pid")"
    shoal_step get_busy "$disk_pid" "$disk_node" "${cached_get_flags[@]}"
    add_sample get_busy_read_bytes $(($(worker_read_bytes "$disk_pid") - read_before))
}

for round in $(seq 1 "$rounds"); do
    log "round $round of $rounds: 4 KiB puts x $put_count, shoald (fsync always) and redis" \
        "(appendfsync always)"
    if [ $((round % 2)) -eq 1 ]; then
        redis_put_step
        shoal_put_step
    else
        shoal_put_step
        redis_put_step
    fi

    log "round $round of $rounds: 64 MiB puts x $big_count and dd bs=64M count=$big_count"
    if [ $((round % 2)) -eq 1 ]; then
        dd_step
        shoal_big_step
    else
        shoal_big_step
        dd_step
    fi

    log "round $round of $rounds: 1 KiB gets x $get_count of $cache_keys keys, disk and memory mode"
    if [ $((round % 2)) -eq 1 ]; then
        memory_get_step
        disk_get_step
        busy_get_step
    else
        busy_get_step
        disk_get_step
        memory_get_step
    fi

    # This round's ratios, to see how much of the spread the two runs of a pair shared.
    add_sample put_ratio "$(ratio "$(last put_4k_ops)" "$(last redis_set_ops)")"
    add_sample big_ratio "$(ratio "$(last put_64m_mbs)" "$(last dd_mbs)")"
    add_sample get_ratio "$(ratio "$(last get_disk_ops)" "$(last get_memory_ops)")"
    add_sample busy_get_ratio "$(ratio "$(last get_busy_ops)" "$(last get_memory_ops)")"
done

disk_store_bytes="$(du -sb "$work/disk-data" | cut -f 1)"
redis_rewrites="$(grep -c 'Background AOF rewrite finished successfully' "$work/redis.log")" ||
    true
stop_started
rm -rf "$work/disk-data" "$work/memory-data" "$work/cache-data" "$work/redis"

# --- restart of a large store ----------------------------------------------------------------

log "filling a new disk-mode store with $restart_records records of 1 KiB"
restart_data="$work/restart-data"
start_shoald "$work/restart-0.log" --config "$work/disk.toml" --data "$restart_data"
restart_pid="$shoald_started_pid"
# The prefill puts every key once, in order; the measured phase is a single put.
run_step "$restart_pid" "$fill_timeout" "$bench" --node "127.0.0.1:$shoald_started_port" --json \
    --connections 50 --depth "$fill_depth" --size 1K --op put --keys "$restart_records" \
    --prefill --count 1
fill_json="${step_output##*\"prefill\": }"
fill_ops="$(json_number "$fill_json" ops)"
fill_seconds="$(json_number "$fill_json" elapsed_s)"
[ "$fill_ops" = "$restart_records" ] || fail "the fill put $fill_ops records, not $restart_records"
restart_store_bytes="$(du -sb "$restart_data" | cut -f 1)"
restart_segments="$(find "$restart_data" -name '*.wal' | wc -l)"
log "filled in $fill_seconds s; the store holds $(mib "$restart_store_bytes") MiB in" \
    "$restart_segments segments"

resident_bytes() {  # of the store's files in the page cache (fincore), or - without fincore
    if command -v fincore >/dev/null; then
        find "$restart_data" -name '*.wal' -exec fincore --bytes --noheadings --output RES {} + |
            awk '{ total += $1 } END { print total + 0 }'
    else
        echo -
    fi
}

restart_index=0
# restart <warm|cold>: SIGKILLs the node, for cold drops its files from the page cache, then
# times a start on the same data directory until node_started.
restart() {
    local kind="$1"
    kill -KILL "$restart_pid" 2>/dev/null || true
    wait "$restart_pid" 2>/dev/null || true
    forget_pid "$restart_pid"
    if [ "$kind" = cold ]; then
        # POSIX_FADV_DONTNEED on each segment file: drops its (clean, synced) pages from the
        # page cache, and no other file's.
        find "$restart_data" -name '*.wal' -exec dd iflag=nocache count=0 status=none if={} \;
    fi
    add_sample "restart_${kind}_resident" "$(resident_bytes)"
    restart_index=$((restart_index + 1))
    local log_file="$work/restart-$restart_index.log"
    launch_shoald "$log_file" --config "$work/disk.toml" --data "$restart_data"
    restart_pid="$launched_pid"
    wait_node_started "$restart_pid" "$log_file" "$step_timeout"
    add_sample "restart_${kind}_s" \
        "$(awk -v a="$launched_micros" -v b="$started_micros" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')"
    local recovered
    recovered="$(grep -o 'store_recovered .* objects=[0-9]*' "$log_file" | sed 's/.*objects=//')"
    add_sample restart_recovered "${recovered:-0}"
    timeout 10 "$shoal" --node "127.0.0.1:$started_port" --timeout 5 ping >/dev/null ||
        fail "the restarted shoald does not answer shoal ping ($log_file)"
    add_sample restart_rss_kib "$(rss_kib "$restart_pid")"
}

for round in $(seq 1 "$rounds"); do
    log "round $round of $rounds: SIGKILL and restart, warm then cold"
    restart warm
    restart cold
done
stop_started
load_after="$(cut -d ' ' -f 1-3 /proc/loadavg)"

# --- report -----------------------------------------------------------------------------------

missed=0
verdict() {  # verdict <value> <target> <higher|lower>
    if [ "$1" != - ]; then
        if [ "$3" = higher ] && at_least "$1" "$2"; then echo ok; return; fi
        if [ "$3" = lower ] && ! at_least "$1" "$2"; then echo ok; return; fi
    fi
    missed=$((missed + 1))
    echo MISSED
}

put_ratio="$(ratio "$(figure put_4k_ops)" "$(figure redis_set_ops)")"
big_ratio="$(ratio "$(figure put_64m_mbs)" "$(figure dd_mbs)")"
get_ratio="$(ratio "$(figure get_disk_ops)" "$(figure get_memory_ops)")"
recovered_least="$(smallest restart_recovered)"
# Not in $(...): verdict counts misses in this shell.
verdict "$put_ratio" 1.0 higher >"$work/verdict" && v_put="$(<"$work/verdict")"
verdict "$big_ratio" 0.7 higher >"$work/verdict" && v_big="$(<"$work/verdict")"
verdict "$get_ratio" 0.9 higher >"$work/verdict" && v_get="$(<"$work/verdict")"
verdict "$(figure restart_warm_s)" 5 lower >"$work/verdict" && v_warm="$(<"$work/verdict")"
verdict "$(figure restart_cold_s)" 5 lower >"$work/verdict" && v_cold="$(<"$work/verdict")"
verdict "$recovered_least" "$restart_records" higher >"$work/verdict" &&
    v_recovered="$(<"$work/verdict")"

row() { printf '%-27s %11s %11s %6s %17s %8s\n' "$@"; }
echo
echo "shoald disk mode vs references on $(nproc) cores, $rounds rounds, medians; servers on" \
    "127.0.0.1"
echo "file system: $filesystem"
echo "binaries: $BUILD_DIR (shoald built $binaries_built; $source_state)"
echo "(load average before the run: $load_before; after: $load_after)"
row "measure" "shoal" "reference" "ratio" "target" "verdict"
row "4 KiB put|SET ops/s" "$(figure put_4k_ops)" "$(figure redis_set_ops)" "$put_ratio" \
    ">= 1.0x redis" "$v_put"
row "4 KiB put|SET p50 us" "$(figure put_4k_p50)" "$(figure redis_set_p50)" \
    "$(ratio "$(figure put_4k_p50)" "$(figure redis_set_p50)")" "-" "-"
row "4 KiB put|SET server us/op" "$(figure put_4k_server_us)" "$(figure redis_set_server_us)" \
    "$(ratio "$(figure put_4k_server_us)" "$(figure redis_set_server_us)")" "-" "-"
row "64 MiB put|dd MB/s" "$(figure put_64m_mbs)" "$(figure dd_mbs)" "$big_ratio" ">= 0.7x dd" \
    "$v_big"
row "1 KiB get disk|mem ops/s" "$(figure get_disk_ops)" "$(figure get_memory_ops)" \
    "$get_ratio" ">= 0.9x memory" "$v_get"
row "1 KiB get disk|mem p50 us" "$(figure get_disk_p50)" "$(figure get_memory_p50)" \
    "$(ratio "$(figure get_disk_p50)" "$(figure get_memory_p50)")" "-" "-"
row "1 KiB get server us/op" "$(figure get_disk_server_us)" "$(figure get_memory_server_us)" \
    "$(ratio "$(figure get_disk_server_us)" "$(figure get_memory_server_us)")" "-" "-"
row "  after puts, compacting" "$(figure get_busy_ops)" "$(figure get_memory_ops)" \
    "$(ratio "$(figure get_busy_ops)" "$(figure get_memory_ops)")" "-" "-"
row "restart warm s" "$(figure restart_warm_s)" "-" "-" "< 5" "$v_warm"
row "restart cold s" "$(figure restart_cold_s)" "-" "-" "< 5" "$v_cold"
row "records recovered (least)" "$recovered_least" "$restart_records" "-" "= all" "$v_recovered"
row "restart data dir MiB" "$(mib "$restart_store_bytes")" "-" "-" "-" "-"
row "RSS after restart MiB" "$(mib $(($(figure restart_rss_kib) * 1024)))" "-" "-" "-" "-"
echo
echo "every round (ops/s, MB/s or s):"
for name in redis_set_ops put_4k_ops dd_mbs put_64m_mbs get_memory_ops get_disk_ops \
    get_busy_ops restart_warm_s restart_cold_s; do
    printf '  %-15s%s\n' "$name" "${samples[$name]}"
done
echo "every round's ratio (put|SET, 64 MiB put|dd, get disk|mem, get after puts|mem):"
for name in put_ratio big_ratio get_ratio busy_get_ratio; do
    printf '  %-15s%s\n' "$name" "${samples[$name]}"
done
echo "CPU, medians, in % of one core over each step (a process near 100% is the limit):"
printf '  %-24s server %4s%%  client %4s%%\n' \
    "redis 4 KiB SET" "$(figure redis_set_server_cpu)" "$(figure redis_set_client_cpu)" \
    "shoal 4 KiB put" "$(figure put_4k_server_cpu)" "$(figure put_4k_client_cpu)" \
    "shoal 64 MiB put" "$(figure put_64m_server_cpu)" "$(figure put_64m_client_cpu)" \
    "dd 64 MiB blocks" "-" "$(figure dd_client_cpu)" \
    "shoal memory 1 KiB get" "$(figure get_memory_server_cpu)" "$(figure get_memory_client_cpu)" \
    "shoal disk 1 KiB get" "$(figure get_disk_server_cpu)" "$(figure get_disk_client_cpu)" \
    "  after puts" "$(figure get_busy_server_cpu)" "$(figure get_busy_client_cpu)"
echo "notes:"
echo "  cached gets: the disk store read $(largest get_disk_read_bytes) bytes from its segments" \
    "in the worst round (0: every get came from the ${cache_bytes_setting} cache); after the" \
    "puts, $(largest get_busy_read_bytes) bytes (compaction's reads and any misses)"
echo "  redis rewrote its AOF $redis_rewrites times (auto-aof-rewrite, default settings);" \
    "shoald's store held $(mib "$disk_store_bytes") MiB at the end (compaction runs beside the load)"
echo "  restart store: $restart_records records filled in $fill_seconds s (50 connections x" \
    "depth $fill_depth), $restart_segments segments; page-cache-resident before a warm" \
    "restart $(mib "$(smallest restart_warm_resident)") MiB, before a cold one" \
    "$(mib "$(largest restart_cold_resident)") MiB (most)"
echo "MB/s is 10^6 bytes per second. Ratios are shoal / reference (for p50 and us/op, above 1"
echo "is slower). Restart times run from starting shoald to its node_started log line."
[ "$(largest get_disk_read_bytes)" -eq 0 ] ||
    echo "warning: the disk-mode get runs read from the segment files: not every get was cached"
if [ "$missed" -gt 0 ]; then
    echo "targets missed: $missed"
    exit 1
fi
echo "every target met"

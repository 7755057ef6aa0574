#!/usr/bin/env bash
# compare_redis.sh: measures one memory-mode shoald against redis-server in the same run, on
# the same machine, and prints shoal's figures, redis's and their ratios (bench/README.md).
#
#   bench/compare_redis.sh                  builds the release preset (build/release) if needed
#   BUILD_DIR=build/dev bench/compare_redis.sh    uses the binaries already built there
#
# Knobs (environment): ROUNDS of every measurement (default 3; medians are reported),
# SMALL_COUNT operations per 1 KiB run (default 300000), BIG_COUNT 64 MiB operations per large
# run (default 64), BIG_CONNECTIONS (default 2), SHOALD_MEMORY (default 2GiB), STEP_TIMEOUT
# seconds per step (default 180). Exit status: 0 every target met, 1 a target missed,
# 2 a step failed (a server did not start, a run failed or timed out).
#
# It starts exactly two servers, on 127.0.0.1 and free ports, and stops exactly those (by
# PID, on any exit). Every wait is bounded.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

small_count="${SMALL_COUNT:-300000}"
big_count="${BIG_COUNT:-64}"
big_connections="${BIG_CONNECTIONS:-2}"
step_timeout="${STEP_TIMEOUT:-180}"
rounds="${ROUNDS:-3}"
shoald_memory="${SHOALD_MEMORY:-2GiB}"

work="$(mktemp -d "${TMPDIR:-/tmp}/shoal-compare.XXXXXX")"
started_pids=()

log() { echo "compare_redis: $*" >&2; }
fail() {
    log "$*"
    exit 2
}

stop_started() {
    local pid
    for pid in "${started_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${started_pids[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid did not stop in 5 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    started_pids=()
}

on_exit() {
    local status=$?
    stop_started
    if [ "$status" -ge 2 ]; then
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
    if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
        log "configuring the release preset"
        (cd "$root" && cmake --preset release >"$work/configure.log") ||
            fail "cmake --preset release failed (see $work/configure.log)"
    fi
    log "building shoald and shoal-bench in $BUILD_DIR"
    cmake --build "$BUILD_DIR" --target shoald shoal-bench >"$work/build.log" ||
        fail "the build failed (see $work/build.log)"
fi
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
shoald="$BUILD_DIR/src/app/shoald"
bench="$BUILD_DIR/bench/shoal-bench"
[ -x "$shoald" ] || fail "no shoald at $shoald"
[ -x "$bench" ] || fail "no shoal-bench at $bench"

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

# --- helpers ----------------------------------------------------------------------------------

clock_ticks="$(getconf CLK_TCK)"

# user + system CPU ticks of a process so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

now_seconds() { date +%s.%N; }

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

# Microseconds of CPU per operation: <ticks> <operations>.
micros_per_op() {
    awk -v ticks="$1" -v hz="$clock_ticks" -v ops="$2" \
        'BEGIN { if (ops > 0) printf "%.2f", 1e6 * ticks / hz / ops; else print "-" }'
}

server_percent() {
    awk -v ticks="$1" -v hz="$clock_ticks" -v seconds="$2" \
        'BEGIN { if (seconds > 0) printf "%.0f", 100 * ticks / hz / seconds; else print "-" }'
}

# Runs a step under a deadline, measuring the CPU that server `$1` and the client spend
# during it. Sets step_output, step_seconds, step_server_percent and step_client_percent.
run_step() {
    local server_pid="$1"
    shift
    local ticks_before ticks_after started ended status=0 TIMEFORMAT='%R %U %S'
    ticks_before="$(cpu_ticks "$server_pid")"
    started="$(now_seconds)"
    # bash's `time` counts every process the step waited for: the client's CPU.
    { time step_output="$(timeout "$step_timeout" "$@" 2>"$work/step.err")"; } \
        2>"$work/step.time" || status=$?
    ended="$(now_seconds)"
    ticks_after="$(cpu_ticks "$server_pid")"
    step_client_percent="$(awk \
        '{ if ($1 > 0) printf "%.0f", 100 * ($2 + $3) / $1; else print "-" }' "$work/step.time")"
    if [ "$status" -ne 0 ]; then
        log "step failed (exit $status): $*"
        [ -n "$step_output" ] && echo "$step_output" >&2
        cat "$work/step.err" >&2
        exit 2
    fi
    step_seconds="$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.3f", b - a }')"
    step_server_ticks=$((ticks_after - ticks_before))
    step_server_percent="$(server_percent "$step_server_ticks" "$step_seconds")"
}

# --- servers ----------------------------------------------------------------------------------

log "starting shoald (memory mode, $shoald_memory)"
"$shoald" --listen 127.0.0.1:0 --storage memory --memory-bytes "$shoald_memory" \
    --redundancy replicas:1 --log-level info >"$work/shoald.log" 2>&1 &
shoald_pid=$!
started_pids+=("$shoald_pid")
shoald_port=""
for _ in $(seq 1 100); do
    kill -0 "$shoald_pid" 2>/dev/null || fail "shoald exited: $(tail -n 5 "$work/shoald.log")"
    shoald_port="$(grep -o 'node_started .* port=[0-9]*' "$work/shoald.log" | head -n 1 |
        sed 's/.*port=//')" || true
    if [ -n "$shoald_port" ] && (exec 3<>"/dev/tcp/127.0.0.1/$shoald_port") 2>/dev/null; then
        break
    fi
    shoald_port=""
    sleep 0.1
done
[ -n "$shoald_port" ] || fail "shoald did not start listening in 10 s"

redis_port=""
for _ in $(seq 1 3); do
    port="$(free_port)" || fail "no free port for redis"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
        >"$work/redis.log" 2>&1 &
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
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    started_pids=("$shoald_pid")
done
[ -n "$redis_port" ] || fail "redis-server did not start: $(tail -n 5 "$work/redis.log")"
log "shoald pid $shoald_pid on port $shoald_port; redis-server pid $redis_pid on port $redis_port"

load_before="$(cut -d ' ' -f 1-3 /proc/loadavg)"
# Idle memory, before any load.
sleep 0.5
shoald_rss_kib="$(rss_kib "$shoald_pid")"
redis_rss_kib="$(rss_kib "$redis_pid")"

# --- the runs ---------------------------------------------------------------------------------
#
# Each round runs every measurement once, redis's and shoal's back to back, so a neighbour's
# load hits both alike; the report takes each figure's median over the rounds.

declare -A samples=()
add_sample() { samples[$1]="${samples[$1]:-} $2"; }
median() {
    # shellcheck disable=SC2086 # Word splitting of the sample list is intended.
    printf '%s\n' $1 | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'
}
figure() { median "${samples[$1]:-}"; }

node="127.0.0.1:$shoald_port"
# CSV lines: "SET","rps","avg","min","p50","p95","p99","max" (latencies in milliseconds).
csv_field() { awk -F'"' -v test="$2" -v column="$3" '$2 == test { print $(2 * column) }' <<<"$1"; }
millis_to_micros() { awk -v ms="$1" 'BEGIN { printf "%.0f", ms * 1000 }'; }

# shoal_step <name> <bench flags...>: one shoal-bench run, its figures added under <name>.
shoal_step() {
    local name="$1"
    shift
    run_step "$shoald_pid" "$bench" --node "$node" --json "$@"
    add_sample "${name}_ops" "$(json_number "$step_output" ops_per_s)"
    add_sample "${name}_mbs" "$(json_number "$step_output" mb_per_s)"
    add_sample "${name}_p50" "$(json_number "$step_output" p50)"
    add_sample "${name}_server_cpu" "$step_server_percent"
    add_sample "${name}_client_cpu" "$step_client_percent"
    add_sample "${name}_server_us" \
        "$(micros_per_op "$step_server_ticks" "$(json_number "$step_output" ops)")"
}

for round in $(seq 1 "$rounds"); do
    log "round $round of $rounds: redis-benchmark SET/GET 1 KiB x $small_count"
    run_step "$redis_pid" redis-benchmark -h 127.0.0.1 -p "$redis_port" -c 50 -d 1024 \
        -t set,get -n "$small_count" -q --csv
    for test in SET GET; do
        ops="$(csv_field "$step_output" "$test" 2)"
        [ -n "$ops" ] || fail "cannot read redis-benchmark's output: $step_output"
        add_sample "redis_${test}_ops" "$ops"
        add_sample "redis_${test}_p50" "$(millis_to_micros "$(csv_field "$step_output" "$test" 5)")"
    done
    add_sample redis_server_cpu "$step_server_percent"
    add_sample redis_client_cpu "$step_client_percent"
    add_sample redis_server_us "$(micros_per_op "$step_server_ticks" $((2 * small_count)))"

    log "round $round of $rounds: shoal-bench put and get 1 KiB x $small_count"
    shoal_step put_small --connections 50 --size 1K --op put --count "$small_count"
    shoal_step get_small --connections 50 --size 1K --op get --count "$small_count" --prefill

    # redis caps a value at 512 MB and is not built for this size: shoal alone, in MB/s.
    log "round $round of $rounds: shoal-bench put and get 64 MiB x $big_count"
    shoal_step put_big --connections "$big_connections" --size 64M --op put --keys 4 \
        --count "$big_count"
    shoal_step get_big --connections "$big_connections" --size 64M --op get --keys 4 \
        --count "$big_count" --prefill
done

stop_started

# --- report -----------------------------------------------------------------------------------

shoald_rss_mib="$(awk -v k="$shoald_rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')"
redis_rss_mib="$(awk -v k="$redis_rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')"

missed=0
verdict() {  # verdict <value> <target> <higher|lower>
    if [ "$3" = higher ] && at_least "$1" "$2"; then echo ok; return; fi
    if [ "$3" = lower ] && ! at_least "$1" "$2"; then echo ok; return; fi
    missed=$((missed + 1))
    echo MISSED
}

put_small_ratio="$(ratio "$(figure put_small_ops)" "$(figure redis_SET_ops)")"
get_small_ratio="$(ratio "$(figure get_small_ops)" "$(figure redis_GET_ops)")"
# Not in $(...): verdict counts misses in this shell.
verdict "$put_small_ratio" 1.0 higher >"$work/verdict" && v_put_small="$(<"$work/verdict")"
verdict "$get_small_ratio" 1.0 higher >"$work/verdict" && v_get_small="$(<"$work/verdict")"
verdict "$(figure put_big_mbs)" 1000 higher >"$work/verdict" && v_put_big="$(<"$work/verdict")"
verdict "$(figure get_big_mbs)" 1000 higher >"$work/verdict" && v_get_big="$(<"$work/verdict")"
verdict "$shoald_rss_mib" 20 lower >"$work/verdict" && v_rss="$(<"$work/verdict")"

row() { printf '%-22s %12s %12s %7s %15s %8s\n' "$@"; }
echo
echo "shoal vs redis on $(nproc) cores, $rounds rounds, medians; servers on 127.0.0.1"
echo "(load average before the run: $load_before)"
row "measure" "shoal" "redis" "ratio" "target" "verdict"
row "1 KiB put|SET ops/s" "$(figure put_small_ops)" "$(figure redis_SET_ops)" \
    "$put_small_ratio" ">= 1.0x redis" "$v_put_small"
row "1 KiB get|GET ops/s" "$(figure get_small_ops)" "$(figure redis_GET_ops)" \
    "$get_small_ratio" ">= 1.0x redis" "$v_get_small"
row "1 KiB put|SET p50 us" "$(figure put_small_p50)" "$(figure redis_SET_p50)" \
    "$(ratio "$(figure put_small_p50)" "$(figure redis_SET_p50)")" "-" "-"
row "1 KiB get|GET p50 us" "$(figure get_small_p50)" "$(figure redis_GET_p50)" \
    "$(ratio "$(figure get_small_p50)" "$(figure redis_GET_p50)")" "-" "-"
row "1 KiB put server us/op" "$(figure put_small_server_us)" "$(figure redis_server_us)" \
    "$(ratio "$(figure put_small_server_us)" "$(figure redis_server_us)")" "-" "-"
row "1 KiB get server us/op" "$(figure get_small_server_us)" "$(figure redis_server_us)" \
    "$(ratio "$(figure get_small_server_us)" "$(figure redis_server_us)")" "-" "-"
row "64 MiB put MB/s" "$(figure put_big_mbs)" "-" "-" ">= 1000" "$v_put_big"
row "64 MiB get MB/s" "$(figure get_big_mbs)" "-" "-" ">= 1000" "$v_get_big"
row "idle RSS MiB" "$shoald_rss_mib" "$redis_rss_mib" \
    "$(ratio "$shoald_rss_mib" "$redis_rss_mib")" "< 20" "$v_rss"
echo
echo "every round (ops/s or MB/s):"
for name in redis_SET_ops put_small_ops redis_GET_ops get_small_ops put_big_mbs get_big_mbs; do
    printf '  %-14s%s\n' "$name" "${samples[$name]}"
done
echo "CPU, medians, in % of one core over each step (a process near 100% is the limit):"
printf '  %-22s server %4s%%  client %4s%%\n' \
    "redis 1 KiB SET+GET" "$(figure redis_server_cpu)" "$(figure redis_client_cpu)" \
    "shoal 1 KiB put" "$(figure put_small_server_cpu)" "$(figure put_small_client_cpu)" \
    "shoal 1 KiB get" "$(figure get_small_server_cpu)" "$(figure get_small_client_cpu)" \
    "shoal 64 MiB put" "$(figure put_big_server_cpu)" "$(figure put_big_client_cpu)" \
    "shoal 64 MiB get" "$(figure get_big_server_cpu)" "$(figure get_big_client_cpu)"
echo "MB/s is 10^6 bytes of object data per second. Ratios are shoal / redis. Server us/op is"
echo "the server's CPU time per operation (redis: the mean over its SET and GET runs)."
if [ "$missed" -gt 0 ]; then
    echo "targets missed: $missed"
    exit 1
fi
echo "every target met"

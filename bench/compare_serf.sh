#!/usr/bin/env bash
# compare_serf.sh: shoal's membership (SWIM) against serf's LAN profile, both run on loopback
# in the same run, at each cluster size of NODE_COUNTS (default 8 and 32), and prints the
# figures of both, their ratios and a verdict per target (bench/README.md):
#
#   1. join: N-1 nodes converged, from the fork of node N until every node lists all N alive
#   2. failure detection: from SIGKILLing one node until every other node sees it failed/dead
#   3. steady-state gossip: bytes per second per node over a quiet window, from the loopback
#      interface's counters while only that cluster runs
#
#   bench/compare_serf.sh                 uses build/release if shoald and shoal are there and
#                                         newer than the last commit to their sources, else
#                                         builds build/bench-release (incrementally)
#   BUILD_DIR=build/dev bench/compare_serf.sh    uses the binaries already built there
#
# Knobs (environment): ROUNDS per cluster size (default 3; medians are reported), NODE_COUNTS
# the cluster sizes ("8 32"), SETTLE_S seconds of calm before the join and again before the
# quiet window (10),
# QUIET_S the quiet window in seconds (30: serf's push-pull period at these sizes), POLL_MS the
# pause between two polling sweeps (100), JOIN_TIMEOUT_S and DETECT_TIMEOUT_S bounds on each
# wait (60, 60), STEP_TIMEOUT seconds for a launcher or build step (120), SYSTEMS which sides to
# run ("serf shoal"; one alone prints its figures but judges no target), NETNS 1 to run in a
# network namespace of its own (the default, when unshare can make one) or 0 for the host's,
# SERF_PORT and SERF_RPC_PORT (7946, 7373), SHOAL_PORT (7400), SHOALD_FLAGS for every shoald
# ("--storage memory --memory-bytes 64MiB": serf stores nothing, so neither does shoal here),
# CLUSTER_SH the launcher (scripts/cluster.sh), BUILD_DIR, DATA_PARENT
# (${TMPDIR:-/tmp}).
# Exit status: 0 every target met, 1 a target missed (or not judged), 2 a step failed.
#
# serf's agents bind 127.0.0.101.., shoal's nodes 127.0.0.11.. (scripts/cluster.sh); the two
# clusters run one after the other, never at once. The script stops exactly the processes it
# started (by PID, on any exit), bounds every wait, and removes its temporary directory at exit
# (after a failed step the logs are kept).
set -euo pipefail
export LC_ALL=C  # $EPOCHREALTIME and awk use '.' for the decimal point.

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

rounds="${ROUNDS:-3}"
node_counts="${NODE_COUNTS:-8 32}"
settle_s="${SETTLE_S:-10}"
quiet_s="${QUIET_S:-30}"
poll_ms="${POLL_MS:-100}"
join_timeout_s="${JOIN_TIMEOUT_S:-60}"
detect_timeout_s="${DETECT_TIMEOUT_S:-60}"
step_timeout="${STEP_TIMEOUT:-120}"
systems="${SYSTEMS:-serf shoal}"
serf_port="${SERF_PORT:-7946}"
serf_rpc_port="${SERF_RPC_PORT:-7373}"
shoal_port="${SHOAL_PORT:-7400}"
data_parent="${DATA_PARENT:-${TMPDIR:-/tmp}}"
shoald_flags="${SHOALD_FLAGS---storage memory --memory-bytes 64MiB}"

log() { echo "compare_serf: $*" >&2; }

# shoal's addresses end at 127.0.0.(10 + N) and serf's start at 127.0.0.101: up to 89 nodes.
for count in $node_counts; do
    if ! [[ "$count" =~ ^[0-9]+$ ]] || [ "$count" -lt 2 ] || [ "$count" -gt 89 ]; then
        log "NODE_COUNTS: $count is not a cluster size from 2 to 89"
        exit 2
    fi
done

# --- packages (before the namespace: apt-get needs the network) -------------------------------

if ! command -v serf >/dev/null; then
    log "installing serf"
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { log "need root or sudo to apt-get install serf"; exit 2; }
        as_root=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq >/dev/null
    # The package's systemd unit is not started in a container without init; where it would
    # be, its agent binds 0.0.0.0:7946, which SERF_PORT can avoid.
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends serf >/dev/null ||
        { log "apt-get install serf failed"; exit 2; }
fi

# --- a network namespace of our own -----------------------------------------------------------
#
# In a new network namespace the loopback interface carries this script's traffic and nothing
# else, so its counters measure only the cluster under test, and no other program's 127.0.0.x
# addresses or ports can collide with ours. The script re-runs itself inside one (unshare keeps
# the PID, so signals still reach it); every process it starts inherits the namespace, which
# disappears with the last of them.
if [ "${NETNS:-1}" = 1 ] && [ "${COMPARE_SERF_INSIDE:-}" != 1 ]; then
    if unshare --net true 2>/dev/null && command -v ip >/dev/null; then
        COMPARE_SERF_INSIDE=1 exec unshare --net -- bash "$0" "$@"
    fi
    log "cannot make a network namespace (needs CAP_SYS_ADMIN and ip): using the host's"
fi
in_namespace=0
if [ "${COMPARE_SERF_INSIDE:-}" = 1 ]; then
    ip link set lo up
    in_namespace=1
fi

work="$(mktemp -d "$data_parent/shoal-compare-serf.XXXXXX")"
# Processes this script started directly (serf agents, a launcher in the background), by PID.
started_pids=()
# Set while a shoal cluster runs: scripts/cluster.sh started its nodes, and `down` stops them.
shoal_running=0

fail() {
    log "$*"
    exit 2
}

stop_pid() {  # SIGTERM, up to 10 s, then SIGKILL
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

stop_started() {
    local pid
    # SIGTERM to all at once, so a cluster of 32 stops in one wait rather than 32.
    for pid in "${started_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${started_pids[@]}"; do
        stop_pid "$pid"
    done
    started_pids=()
}

on_exit() {
    local status=$?
    [ "$shoal_running" = 1 ] && shoal_down
    stop_started
    if [ "$status" -ge 2 ]; then
        rm -rf "${work:?}/bin"
        log "logs kept in $work"
    else
        rm -rf "$work"
    fi
}
trap on_exit EXIT
trap 'exit 2' INT TERM

want() { [[ " $systems " == *" $1 "* ]]; }
want serf || want shoal || fail "SYSTEMS names neither serf nor shoal: $systems"

# --- binaries ---------------------------------------------------------------------------------

cluster_sh="${CLUSTER_SH:-$root/scripts/cluster.sh}"
binaries_note="-"
if want shoal; then
    [ -x "$cluster_sh" ] || fail "no local-cluster launcher at $cluster_sh"
    if [ -z "${BUILD_DIR:-}" ]; then
        BUILD_DIR="$root/build/release"
        # Binaries older than the last commit to the code they are built from may predate the
        # membership layer itself: then build/release is stale, and it is not ours to rebuild.
        source_time="$(git -C "$root" log -1 --format=%ct -- src include client CMakeLists.txt \
            cmake 2>/dev/null || echo 0)"
        if [ ! -x "$BUILD_DIR/src/app/shoald" ] || [ ! -x "$BUILD_DIR/client/shoal" ] ||
            [ "$(stat -c %Y "$BUILD_DIR/src/app/shoald")" -lt "${source_time:-0}" ] ||
            [ "$(stat -c %Y "$BUILD_DIR/client/shoal")" -lt "${source_time:-0}" ]; then
            # build/release belongs to whoever works in src/: build in a directory of our own.
            BUILD_DIR="$root/build/bench-release"
            if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
                log "configuring the release preset in $BUILD_DIR"
                (cd "$root" && timeout 600 cmake --preset release -B "$BUILD_DIR" \
                    >"$work/configure.log") ||
                    fail "cmake --preset release failed (see $work/configure.log)"
            fi
            log "building shoald and shoal in $BUILD_DIR"
            timeout 3600 cmake --build "$BUILD_DIR" -j2 --target shoald shoal \
                >"$work/build.log" || fail "the build failed (see $work/build.log)"
        fi
    fi
    BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
    for binary in src/app/shoald client/shoal; do
        [ -x "$BUILD_DIR/$binary" ] || fail "no $binary in $BUILD_DIR"
    done
    binaries_note="$BUILD_DIR (shoald built $(date -r "$BUILD_DIR/src/app/shoald" '+%Y-%m-%d %H:%M');"
    binaries_note="$binaries_note HEAD $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
    if [ -n "$(git -C "$root" status --porcelain -- src include client 2>/dev/null)" ]; then
        binaries_note="$binaries_note, with uncommitted changes the binaries may include"
    fi
    binaries_note="$binaries_note)"
    # Copies, so that a rebuild in BUILD_DIR during the run changes nothing in it.
    mkdir "$work/bin"
    cp "$BUILD_DIR/src/app/shoald" "$BUILD_DIR/client/shoal" "$work/bin/"
fi
shoald="$work/bin/shoald"
shoal="$work/bin/shoal"
serf_version="$(serf version 2>/dev/null | sed -n 1p)"

# --- helpers ----------------------------------------------------------------------------------

clock_ticks="$(getconf CLK_TCK)"
now_micros() { echo "${EPOCHREALTIME/./}"; }
seconds_between() {  # <from micros> <to micros>
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e6 }'
}
sleep_ms() { sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')"; }

# Bytes the loopback interface has sent: on lo every packet is sent and received once, so this
# is every byte of every datagram and segment between the nodes, IP headers included.
lo_sent_bytes() { sed -n 's/^ *lo: *//p' /proc/net/dev | awk '{ print $9 }'; }

# process_start_micros <pid>: when the process was forked, on the $EPOCHREALTIME clock. The
# kernel keeps it in clock ticks since boot (10 ms) and /proc/uptime gives the boot time to
# 10 ms, so it is good to about 20 ms. (The command name, in parentheses, may hold spaces: the
# fields are counted after it.)
process_start_micros() {
    local stat ticks uptime now
    stat="$(<"/proc/$1/stat")"
    now="$(now_micros)"
    read -r uptime _ </proc/uptime
    ticks="$(awk '{ print $20 }' <<<"${stat##*) }")"
    awk -v t="$ticks" -v hz="$clock_ticks" -v up="$uptime" -v now="$now" \
        'BEGIN { printf "%.0f", now - (up - t / hz) * 1e6 }'
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_ticks_of() {  # <pids...>: their user + system CPU ticks, summed
    local pid total=0
    for pid in "$@"; do
        total=$((total + $(cpu_ticks "$pid")))
    done
    echo "$total"
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b;
        else print "-" }'
}
at_most() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "-" && a <= b) }'; }

declare -A samples=()
add_sample() { samples[$1]="${samples[$1]:-} $2"; }
median() {
    [ -n "${1// /}" ] || { echo -; return; }
    # shellcheck disable=SC2086 # Word splitting of the sample list is intended.
    printf '%s\n' $1 | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'
}
figure() { median "${samples[$1]:-}"; }
largest() {
    [ -n "${samples[$1]:-}" ] || { echo -; return; }
    # shellcheck disable=SC2086 # Word splitting of the sample list is intended.
    printf '%s\n' ${samples[$1]:-} | sort -g | tail -n 1
}

# member_pairs <address key> <state key>: from a member list in JSON on stdin, one "address
# state" line per member. It pairs each string value of the first key with the next of the
# second, which holds for both serf's list and shoal's (each member's address comes before its
# state, and no other object has those keys). awk, not jq: jq takes 15 ms to start, which would
# slow every polling sweep by half a second at N=32.
member_pairs() {
    awk -v first_key="\"$1\"" -v second_key="\"$2\"" '
        { text = text $0 }
        END {
            while (match(text, /"[A-Za-z_]+"[ \t]*:[ \t]*"[^"]*"/)) {
                pair = substr(text, RSTART, RLENGTH)
                text = substr(text, RSTART + RLENGTH)
                key = pair
                sub(/[ \t]*:.*/, "", key)
                value = pair
                sub(/^[^:]*:[ \t]*"/, "", value)
                sub(/"$/, "", value)
                if (key == first_key) {
                    address = value
                } else if (key == second_key && address != "") {
                    print address, value
                    address = ""
                }
            }
        }'
}

# --- serf -------------------------------------------------------------------------------------

serf_host() { echo "127.0.0.$((100 + $1))"; }
serf_pids=()

# serf_view <i>: node i's member list, one "address state" line per member.
serf_view() {
    timeout 5 serf members -rpc-addr="$(serf_host "$1"):$serf_rpc_port" -format=json \
        2>/dev/null | member_pairs addr status
}

serf_launch() {  # <i> [join address]
    local host join=()
    host="$(serf_host "$1")"
    [ -n "${2:-}" ] && join=(-join="$2")
    serf agent -node="serf$1" -bind="$host:$serf_port" -rpc-addr="$host:$serf_rpc_port" \
        -profile=lan -log-level=info "${join[@]}" >"$work/serf$1.log" 2>&1 &
    serf_pids[$1]=$!
    started_pids+=("$!")
}

# serf_up <N>: the first agent, then (once its RPC answers, as -join gives up at once on a node
# that does not listen yet) the others, each joining the first.
serf_up() {
    local count="$1" deadline
    serf_pids=()
    serf_launch 1
    deadline=$(($(now_micros) + 10000000))
    until serf_view 1 >/dev/null; do
        kill -0 "${serf_pids[1]}" 2>/dev/null || fail "serf agent 1 exited: $(tail -n 5 "$work/serf1.log")"
        [ "$(now_micros)" -lt "$deadline" ] || fail "serf agent 1 did not answer in 10 s"
        sleep 0.01
    done
    for i in $(seq 2 "$count"); do
        serf_launch "$i" "$(serf_host 1):$serf_port"
    done
}

# serf_join <i>: starts agent i, joining the first; returns at once.
serf_join() { serf_launch "$1" "$(serf_host 1):$serf_port"; }
serf_join_wait() { :; }
serf_pid_of() { echo "${serf_pids[$1]}"; }

serf_node_pids() { echo "${serf_pids[@]}"; }  # (index 0 is never set)
serf_address() { echo "$(serf_host "$1"):$serf_port"; }

serf_kill() {
    kill -KILL "${serf_pids[$1]}"
    wait "${serf_pids[$1]}" 2>/dev/null || true
}

serf_down() {
    stop_started
    serf_pids=()
}

# --- shoal ------------------------------------------------------------------------------------

shoal_host() { echo "127.0.0.$((10 + $1))"; }
shoal_cluster_dir="$work/shoal-cluster"

cluster() {  # <verb> <args...>: scripts/cluster.sh under a deadline, its output in the log
    CLUSTER_DIR="$shoal_cluster_dir" SHOALD="$shoald" SHOAL="$shoal" PORT="$shoal_port" \
        SHOALD_FLAGS="$shoald_flags" timeout "$step_timeout" "$cluster_sh" "$@" \
        >>"$work/cluster.log" 2>&1
}

shoal_view() {
    timeout 5 "$shoal" --node "$(shoal_host "$1"):$shoal_port" --timeout 2 --json status \
        2>/dev/null | member_pairs address state
}

shoal_up() {
    shoal_running=1
    cluster up "$1" || fail "scripts/cluster.sh up $1 failed (see $work/cluster.log)"
}

# shoal_join <i>: `cluster.sh start i` (node i joins through the first live node, node 1) in the
# background, so that polling runs while the launcher does its bookkeeping; shoal_join_wait
# waits for the launcher to finish.
shoal_launcher_pid=""
shoal_join() {
    cluster start "$1" &
    shoal_launcher_pid=$!
    started_pids+=("$shoal_launcher_pid")
}
shoal_join_wait() {
    wait "$shoal_launcher_pid" ||
        fail "scripts/cluster.sh start failed (see $work/cluster.log)"
    local kept=() pid
    for pid in "${started_pids[@]}"; do
        [ "$pid" = "$shoal_launcher_pid" ] || kept+=("$pid")
    done
    started_pids=("${kept[@]}")
}
shoal_pid_of() { cat "$shoal_cluster_dir/node$1/pid"; }

shoal_node_pids() {
    local pid_file
    for pid_file in "$shoal_cluster_dir"/node*/pid; do
        if [ -f "$pid_file" ]; then cat "$pid_file"; fi
    done
}
shoal_address() { echo "$(shoal_host "$1"):$shoal_port"; }

shoal_kill() {
    cluster kill "$1" || fail "scripts/cluster.sh kill $1 failed (see $work/cluster.log)"
}

# Stops the cluster through the launcher; a node still running after that (the launcher
# failed) is stopped here, by the PID the launcher recorded, if it still runs our copy of
# shoald (a PID can be reused).
shoal_down() {
    local pid
    cluster down --purge || log "scripts/cluster.sh down failed (see $work/cluster.log)"
    for pid in $(shoal_node_pids 2>/dev/null); do
        if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$shoald" ]; then
            log "shoald pid $pid still runs after cluster.sh down; stopping it"
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$shoal_cluster_dir"
    shoal_running=0
}

# --- polling ----------------------------------------------------------------------------------
#
# A condition is checked on each node's own view. A sweep asks every node not yet satisfied,
# one after the other; sweeps repeat, POLL_MS apart, until every node has shown the condition.
# One more sweep over all nodes then confirms that it holds on all of them together (a node
# that lost it is asked again). A node reached the condition between its last answer without it
# (or t0) and its first answer with it: its time is the midpoint of the two, within half a
# sweep plus POLL_MS of the truth, whichever system answers faster. The figure is the latest of
# the nodes' times; the report prints the sweeps' lengths.

expect_count=0  # check_converged: members each view must list as alive
victim=""       # check_detected: the killed node's address
sweep_key=""    # poll_all: where the sweeps' lengths go

check_converged() { [ "$(grep -c ' alive$' <<<"$1")" -eq "$expect_count" ]; }

# Dead (serf: failed), departed after it, or gone from the list all mean "seen as failed".
check_detected() {
    local state
    [ -n "$1" ] || return 1  # A view always lists the node itself: this was no answer.
    state="$(awk -v a="$victim" '$1 == a { print $2 }' <<<"$1")"
    case "$state" in
    "" | failed | dead | departed) return 0 ;;
    *) return 1 ;;
    esac
}

# poll_all <system> <check> <timeout s> <t0 micros> <what> <nodes...>: polling starts at t0
# (no node has the condition before it); sets poll_latest, the time (micros) the last node
# reached the condition, and adds each sweep's length (ms) to the samples named by sweep_key.
poll_all() {
    local system="$1" check="$2" limit="$3" t0="$4" what="$5"
    shift 5
    local -A seen=() last_no=()
    local pending=("$@") still node view sweep_start deadline answered latest=0
    deadline=$(($(now_micros) + limit * 1000000))
    while :; do
        still=()
        sweep_start="$(now_micros)"
        for node in "${pending[@]}"; do
            if view="$("${system}_view" "$node")" && "$check" "$view"; then
                answered="$(now_micros)"
                [ -n "${seen[$node]:-}" ] ||
                    seen[$node]=$(((${last_no[$node]:-$t0} + answered) / 2))
            else
                last_no[$node]="$(now_micros)"
                unset "seen[$node]"
                still+=("$node")
            fi
        done
        add_sample "$sweep_key" $((($(now_micros) - sweep_start) / 1000))
        if [ ${#still[@]} -eq 0 ]; then
            if [ ${#pending[@]} -eq $# ]; then
                break  # That sweep asked every node: confirmed.
            fi
            pending=("$@")  # The confirming sweep, at once.
            continue
        fi
        pending=("${still[@]}")
        if [ "$(now_micros)" -ge "$deadline" ]; then
            log "$system: $what: not reached in $limit s; nodes ${pending[*]} still say:"
            for node in "${pending[@]}"; do
                log "  node $node: $("${system}_view" "$node" | tr '\n' ',' || true)"
            done
            exit 2
        fi
        sleep_ms "$poll_ms"
    done
    for node in "$@"; do
        if [ "${seen[$node]}" -gt "$latest" ]; then latest="${seen[$node]}"; fi
    done
    poll_latest="$latest"
}

# --- one measurement: start, join, quiet window, SIGKILL, detection, stop ---------------------

# measure <system> <N> <round>: adds <system>_<N>_{join_s,detect_s,bytes,cpu} samples.
#
# The join measured is one node's: N-1 nodes are started and converged first (not timed: how
# fast a launcher starts processes one after the other is not the protocol's business), then
# node N starts, joining node 1, and the time runs from its fork until every node, node N
# included, lists all N members alive.
measure() {
    local system="$1" count="$2" round="$3" t0 bytes_before bytes_after ticks_before ticks_after
    local window_start window_end pids seconds joiner_start
    log "round $round of $rounds: $system, $count nodes: starting $((count - 1))"

    expect_count=$((count - 1))
    sweep_key="${system}_${count}_start_sweep_ms"
    t0="$(now_micros)"
    "${system}_up" $((count - 1))
    poll_all "$system" check_converged "$join_timeout_s" "$t0" "start of $((count - 1)) nodes" \
        $(seq 1 $((count - 1)))
    log "  $((count - 1)) converged in $(seconds_between "$t0" "$poll_latest") s; settling" \
        "$settle_s s, then node $count joins"
    sleep "$settle_s"

    expect_count="$count"
    sweep_key="${system}_${count}_sweep_ms"
    t0="$(now_micros)"
    "${system}_join" "$count"
    poll_all "$system" check_converged "$join_timeout_s" "$t0" "join of node $count" \
        $(seq 1 "$count")
    "${system}_join_wait"
    joiner_start="$(process_start_micros "$("${system}_pid_of" "$count")")"
    add_sample "${system}_${count}_join_s" "$(seconds_between "$joiner_start" "$poll_latest")"
    log "  node $count joined in $(seconds_between "$joiner_start" "$poll_latest") s; settling" \
        "$settle_s s, then a quiet window of $quiet_s s"

    sleep "$settle_s"
    read -r -a pids <<<"$("${system}_node_pids" | tr '\n' ' ')"
    [ "${#pids[@]}" -eq "$count" ] || fail "$system: $count nodes started, ${#pids[@]} PIDs known"
    ticks_before="$(cpu_ticks_of "${pids[@]}")"
    bytes_before="$(lo_sent_bytes)"
    window_start="$(now_micros)"
    sleep "$quiet_s"
    bytes_after="$(lo_sent_bytes)"
    window_end="$(now_micros)"
    ticks_after="$(cpu_ticks_of "${pids[@]}")"
    seconds="$(seconds_between "$window_start" "$window_end")"
    add_sample "${system}_${count}_bytes" "$(awk -v b=$((bytes_after - bytes_before)) \
        -v s="$seconds" -v n="$count" 'BEGIN { printf "%.0f", b / s / n }')"
    add_sample "${system}_${count}_cpu" "$(awk -v t=$((ticks_after - ticks_before)) \
        -v hz="$clock_ticks" -v s="$seconds" -v n="$count" \
        'BEGIN { printf "%.2f", 100 * t / hz / s / n }')"

    # The victim is node N, the last to join: not the node the others joined through.
    victim="$("${system}_address" "$count")"
    t0="$(now_micros)"
    "${system}_kill" "$count"
    poll_all "$system" check_detected "$detect_timeout_s" "$t0" "detection of node $count" \
        $(seq 1 $((count - 1)))
    add_sample "${system}_${count}_detect_s" "$(seconds_between "$t0" "$poll_latest")"
    log "  node $count seen failed by all others in $(seconds_between "$t0" "$poll_latest") s;" \
        "stopping"
    "${system}_down"
}

# --- the runs ---------------------------------------------------------------------------------

background_bytes="-"
if [ "$in_namespace" = 0 ]; then
    # On the host's loopback other programs' traffic counts too: measure it with nothing of
    # ours running, to judge how much it can disturb the bytes rows.
    bytes_before="$(lo_sent_bytes)"
    sleep 5
    background_bytes="$(( ($(lo_sent_bytes) - bytes_before) / 5 ))"
    log "loopback traffic with no cluster of ours running: $background_bytes bytes/s"
fi
load_before="$(cut -d ' ' -f 1-3 /proc/loadavg)"

# Each round measures every size on both systems, back to back, so a neighbour's load hits both
# alike; which system goes first alternates from round to round. Only one cluster runs at a time.
for round in $(seq 1 "$rounds"); do
    for count in $node_counts; do
        order="serf shoal"
        [ $((round % 2)) -eq 0 ] && order="shoal serf"
        for system in $order; do
            if want "$system"; then measure "$system" "$count" "$round"; fi
        done
    done
done
load_after="$(cut -d ' ' -f 1-3 /proc/loadavg)"

# --- report -----------------------------------------------------------------------------------

missed=0
judged=0
verdict() {  # verdict <ratio>: ok when shoal's figure is at most serf's
    if [ "$1" = - ]; then
        echo "-"
        return
    fi
    judged=$((judged + 1))
    if at_most "$1" 1.0; then
        echo ok
        return
    fi
    missed=$((missed + 1))
    echo MISSED
}

row() { printf '%-27s %10s %10s %6s %14s %8s\n' "$@"; }
verdict_lines=()
echo
echo "shoal vs serf membership on $(nproc) cores, $rounds rounds, medians; loopback" \
    "$([ "$in_namespace" = 1 ] && echo "in a network namespace of its own" || echo "(the host's)")"
echo "serf: $serf_version, -profile=lan; shoal binaries: $binaries_note"
if want shoal; then echo "shoald flags: ${shoald_flags:-(none)}"; fi
echo "(load average before the run: $load_before; after: $load_after)"
row "measure" "shoal" "serf" "ratio" "target" "verdict"
for count in $node_counts; do
    for measure_name in join_s:"join s" detect_s:"detect s" bytes:"gossip bytes/s/node"; do
        key="${measure_name%%:*}"
        label="N=$count ${measure_name#*:}"
        shoal_value="$(figure "shoal_${count}_${key}")"
        serf_value="$(figure "serf_${count}_${key}")"
        value_ratio="$(ratio "$shoal_value" "$serf_value")"
        # Not in $(...): verdict counts in this shell.
        verdict "$value_ratio" >"$work/verdict"
        value_verdict="$(<"$work/verdict")"
        row "$label" "$shoal_value" "$serf_value" "$value_ratio" "<= 1.0x serf" "$value_verdict"
        verdict_lines+=("$label: shoal $shoal_value, serf $serf_value, ratio $value_ratio: $value_verdict")
    done
    row "N=$count idle CPU %/node" "$(figure "shoal_${count}_cpu")" "$(figure "serf_${count}_cpu")" \
        "$(ratio "$(figure "shoal_${count}_cpu")" "$(figure "serf_${count}_cpu")")" "-" "-"
done
echo
echo "every round:"
for count in $node_counts; do
    for key in join_s detect_s bytes cpu; do
        for system in serf shoal; do
            want "$system" || continue
            printf '  %-22s%s\n' "${system}_${count}_${key}" "${samples[${system}_${count}_${key}]:-}"
        done
    done
done
echo "verdicts:"
for line in "${verdict_lines[@]}"; do
    echo "  $line"
done
echo "notes:"
echo "  polling sweeps, median and longest (a node's time is within half a sweep plus" \
    "${poll_ms} ms of the truth):"
for count in $node_counts; do
    for system in serf shoal; do
        want "$system" || continue
        echo "    $system N=$count: $(figure "${system}_${count}_sweep_ms") ms," \
            "$(largest "${system}_${count}_sweep_ms") ms"
    done
done
echo "  join: N-1 nodes converged, from the fork of node N (joining node 1) until every node's"
echo "  view lists all N members alive; detect: from the SIGKILL of node N until every other"
echo "  node lists it failed (serf) or dead (shoal); bytes/s/node: loopback bytes sent (IP"
echo "  headers included) over a quiet window of $quiet_s s, $settle_s s after the join, divided"
echo "  by N; idle CPU: the nodes' user + system time over that window, per node, in % of one"
echo "  core."
if [ "$in_namespace" = 0 ]; then
    echo "  warning: the host's loopback, where other programs sent $background_bytes bytes/s" \
        "before the run; the bytes rows include whatever they sent during the windows"
fi
if [ "$judged" -eq 0 ]; then
    echo "no target judged (SYSTEMS=$systems)"
    exit 1
fi
if [ "$missed" -gt 0 ]; then
    echo "targets missed: $missed"
    exit 1
fi
echo "every target met"

#!/usr/bin/env bash
# A local shoal cluster on loopback addresses: one shoald per 127.0.0.x, each with its own data
# directory, log and pid file. Every wait is bounded; only PIDs this script recorded (and that
# still run shoald over their own data directory) are ever signalled.
#
# Usage: scripts/cluster.sh VERB [ARGS]
#   up N                    start nodes 1..N (a running one is left alone) and wait until each
#                           accepts connections; node 1 starts alone, the others join it
#   down [--purge]          SIGTERM every node, wait, SIGKILL what is left; --purge also
#                           deletes $CLUSTER_DIR (data and logs)
#   stop I                  SIGTERM node I: it leaves the cluster gracefully, then exits
#   kill I                  SIGKILL node I: the others must detect it
#   start I                 start node I again over its data, joining a live node
#   status [I] [--json]     `shoal status` through node I (default: the first live node)
#   wait-converged N [TIMEOUT_S]
#                           wait until every live node lists N alive members (default 30 s);
#                           exit 1 on timeout
#   pids                    print "I PID" for each live node
#
# Node I listens for TCP and UDP on 127.0.0.$((10 + I)):$PORT, keeps its data in
# $CLUSTER_DIR/nodeI/data, logs to $CLUSTER_DIR/nodeI/shoald.log and its pid in
# $CLUSTER_DIR/nodeI/pid.
#
# Environment: CLUSTER_DIR (./shoal-cluster), SHOALD (build/release/src/app/shoald), SHOAL
# (build/release/client/shoal), SHOALD_FLAGS (extra flags for every node, e.g.
# "--storage memory" or "--config my.toml"), PORT (7400).
#
# Exit status: 0 done, 1 a wait timed out or a node failed to start, 2 usage.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster_dir="${CLUSTER_DIR:-./shoal-cluster}"
shoald="${SHOALD:-$root/build/release/src/app/shoald}"
shoal="${SHOAL:-$root/build/release/client/shoal}"
port="${PORT:-7400}"
read -r -a extra_flags <<<"${SHOALD_FLAGS:-}"

start_timeout_s=20
stop_timeout_s=15

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}
usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

check_index() {
    if [[ ! "${1:-}" =~ ^[1-9][0-9]*$ ]] || [ "$1" -gt 244 ]; then
        echo "cluster.sh: node index must be 1..244, not '${1:-}'" >&2
        exit 2
    fi
}

host_of() { echo "127.0.0.$((10 + $1))"; }
address_of() { echo "$(host_of "$1"):$port"; }
node_dir() { echo "$cluster_dir/node$1"; }

# The pid of node I if it runs: the pid file's process, if it is shoald over node I's data.
live_pid() {
    local pid_file pid
    pid_file="$(node_dir "$1")/pid"
    [ -f "$pid_file" ] || return 1
    pid="$(cat "$pid_file")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--data $(node_dir "$1")/data " ||
        return 1
    echo "$pid"
}

# Node indexes that have a directory, in order.
known_nodes() {
    local dir
    [ -d "$cluster_dir" ] || return 0
    for dir in "$cluster_dir"/node*; do
        [ -d "$dir" ] || continue
        echo "${dir##*/node}"
    done | sort -n
}

live_nodes() {
    local index
    for index in $(known_nodes); do
        if live_pid "$index" >/dev/null; then echo "$index"; fi
    done
}

# Waits until `pid` has exited, polling, at most `timeout_s`. 1 if it still runs.
wait_gone() {
    local pid="$1" timeout_s="$2" deadline
    deadline=$((SECONDS + timeout_s))
    while kill -0 "$pid" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

wait_accepting() {
    local index="$1" pid="$2" deadline
    deadline=$((SECONDS + start_timeout_s))
    until "$shoal" --node "$(address_of "$index")" --timeout 2 ping >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || {
            tail -n 20 "$(node_dir "$index")/shoald.log" >&2
            die "node $index exited during startup (log: $(node_dir "$index")/shoald.log)"
        }
        [ "$SECONDS" -lt "$deadline" ] || die "node $index did not accept connections in time"
        sleep 0.05
    done
}

# Starts node I, joining through `join` (HOST:PORT) if not empty, and waits until it serves.
launch() {
    local index="$1" join="$2" dir pid
    dir="$(node_dir "$index")"
    mkdir -p "$dir/data"
    local flags=(--name "node$index" --listen "$(address_of "$index")" --data "$dir/data")
    if [ -n "$join" ]; then flags+=(--join "$join"); fi
    "$shoald" "${flags[@]}" "${extra_flags[@]}" >>"$dir/shoald.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/pid"
    wait_accepting "$index" "$pid"
    echo "node $index up: $(address_of "$index") pid $pid"
}

verb_up() {
    local count="${1:-}" index
    check_index "$count"
    [ -x "$shoald" ] || die "no shoald at $shoald (build it, or set SHOALD)"
    [ -x "$shoal" ] || die "no shoal at $shoal (build it, or set SHOAL)"
    for index in $(seq 1 "$count"); do
        if live_pid "$index" >/dev/null; then continue; fi
        if [ "$index" -eq 1 ]; then
            launch 1 ""
        else
            launch "$index" "$(address_of 1)"
        fi
    done
}

verb_down() {
    local purge=0 index pid pids=()
    if [ "${1:-}" = "--purge" ]; then purge=1; elif [ -n "${1:-}" ]; then usage; fi
    for index in $(live_nodes); do
        pid="$(live_pid "$index")" || continue
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$index:$pid")
    done
    for entry in "${pids[@]}"; do
        pid="${entry#*:}"
        if ! wait_gone "$pid" "$stop_timeout_s"; then
            echo "cluster.sh: node ${entry%%:*} ignored SIGTERM; SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || die "node ${entry%%:*} (pid $pid) survived SIGKILL"
        fi
    done
    for index in $(known_nodes); do rm -f "$(node_dir "$index")/pid"; done
    if [ "$purge" -eq 1 ] && [ -d "$cluster_dir" ]; then rm -rf "$cluster_dir"; fi
    echo "cluster down (${#pids[@]} nodes stopped)"
}

verb_stop() {
    local index="${1:-}" pid
    check_index "$index"
    pid="$(live_pid "$index")" || die "node $index is not running"
    kill -TERM "$pid"
    wait_gone "$pid" "$stop_timeout_s" || die "node $index (pid $pid) did not stop in time"
    rm -f "$(node_dir "$index")/pid"
    echo "node $index stopped"
}

verb_kill() {
    local index="${1:-}" pid
    check_index "$index"
    pid="$(live_pid "$index")" || die "node $index is not running"
    kill -KILL "$pid"
    wait_gone "$pid" 5 || die "node $index (pid $pid) survived SIGKILL"
    rm -f "$(node_dir "$index")/pid"
    echo "node $index killed"
}

verb_start() {
    local index="${1:-}" other join=""
    check_index "$index"
    if live_pid "$index" >/dev/null; then die "node $index is already running"; fi
    for other in $(live_nodes); do
        if [ "$other" != "$index" ]; then
            join="$(address_of "$other")"
            break
        fi
    done
    launch "$index" "$join"
}

verb_status() {
    local index="" json=()
    for argument in "$@"; do
        if [ "$argument" = "--json" ]; then json=(--json); else index="$argument"; fi
    done
    if [ -z "$index" ]; then
        local live=()
        read -r -a live <<<"$(live_nodes | tr '\n' ' ')"
        [ "${#live[@]}" -gt 0 ] || die "no node is running"
        index="${live[0]}"
    fi
    check_index "$index"
    "$shoal" --node "$(address_of "$index")" --timeout 5 "${json[@]}" status
}

# Every live node's own view lists `count` alive members.
verb_wait_converged() {
    local count="${1:-}" timeout_s="${2:-30}" deadline index alive lagging
    check_index "$count"
    [[ "$timeout_s" =~ ^[0-9]+$ ]] || usage
    deadline=$((SECONDS + timeout_s))
    while true; do
        lagging=""
        for index in $(live_nodes); do
            alive="$("$shoal" --node "$(address_of "$index")" --timeout 2 --json status \
                2>/dev/null | grep -o '"state":"alive"' | wc -l)" || alive=0
            if [ "$alive" -ne "$count" ]; then lagging+=" node$index($alive)"; fi
        done
        if [ -z "$lagging" ] && [ -n "$(live_nodes)" ]; then
            echo "converged: every live node lists $count alive members"
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "cluster.sh: not converged after ${timeout_s}s; alive counts:$lagging" >&2
            return 1
        fi
        sleep 0.1
    done
}

verb_pids() {
    local index
    for index in $(live_nodes); do echo "$index $(live_pid "$index")"; done
}

verb="${1:-}"
[ $# -gt 0 ] && shift
case "$verb" in
    up) verb_up "$@" ;;
    down) verb_down "$@" ;;
    stop) verb_stop "$@" ;;
    kill) verb_kill "$@" ;;
    start) verb_start "$@" ;;
    status) verb_status "$@" ;;
    wait-converged) verb_wait_converged "$@" ;;
    pids) verb_pids ;;
    *) usage ;;
esac

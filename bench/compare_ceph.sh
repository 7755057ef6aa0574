#!/usr/bin/env bash
# compare_ceph.sh: a local 6-node shoal cluster against a local Ceph cluster (Debian's Ceph 16,
# from ../shared/peers/ceph: 1 mon, 1 mgr, 6 memstore OSDs, EC pool k=4 m=2), the same
# workload on both in the same run, and prints both sides' figures, their ratios and a
# verdict per target (issue #5, bench/README.md):
#
#   1. 4 KiB puts, ops/s      shoal-bench --op put      vs  rados bench write     (>= 2x)
#   2. 4 KiB gets, ops/s      shoal-bench --op get      vs  rados bench seq|rand  (>= 2x)
#   3. 4 MiB puts, MB/s       as 1                                                (>= 2x)
#   4. 4 MiB gets, MB/s       as 2                                                (>= 1.5x)
#   5. peak RSS of every daemon, summed, with the same objects stored             (<= 1/4)
#
# Both sides keep 16 operations in flight: rados bench -t 16, and shoal-bench with
# SHOAL_CONNECTIONS x SHOAL_DEPTH = 16 x 1.
#
#   bench/compare_ceph.sh                 uses build/release if shoald, shoal and shoal-bench
#                                         are there and newer than the last commit to their
#                                         sources, else builds build/bench-release
#   BUILD_DIR=build/dev bench/compare_ceph.sh    uses the binaries already built there
#   SYSTEMS=ceph bench/compare_ceph.sh           one side alone (judges no target)
#
# Each round runs Ceph first (../shared/peers/ceph/up.sh, bench.sh, down.sh, called as they
# are), then shoal (scripts/cluster.sh up 6, every node in memory mode), so that shoal's key
# space can be the number of objects Ceph stored in that round: both then hold the same
# objects when their RSS is read. Only one system runs at a time.
#
# Knobs (environment): ROUNDS (1; medians are reported), DURATION_S seconds per measured
# phase (10), SYSTEMS ("ceph shoal"), SHOAL_CONNECTIONS (16), SHOAL_DEPTH (1),
# SHOAL_ENTRY_NODES how many nodes shoal-bench spreads its connections over (1: node 1 only;
# up to 6 with --nodes), SHOAL_PORT (7400), SHOAL_STORAGE the nodes' storage mode (memory, as
# Ceph's memstore; disk keeps the data out of RSS), SHOALD_EXTRA_FLAGS added to every shoald, CEPH_PORT
# the mon's port (40000; +1 too), CEPH_THREADS (16), CEPH_MAX_RAW_BYTES the raw bytes (after
# EC) one rados write may store (4 GiB; bench.sh's RAM guard), SMALL_KEYS and BIG_KEYS shoal's
# key spaces when Ceph did not run in the round (10000, 512), STEP_TIMEOUT seconds per
# measured step (300), CEPH_UP_TIMEOUT (900), CEPH_BENCH_TIMEOUT (1800), NETNS 1 to run in a
# network namespace of its own (default, when unshare can make one) or 0, CEPH_PEER_DIR
# (../shared/peers/ceph), CLUSTER_SH (scripts/cluster.sh), BUILD_DIR.
# Exit status: 0 every target met, 1 a target missed (or none judged), 2 a step failed.
#
# Everything listens on loopback only. The script stops exactly what it started: the shoal
# nodes through scripts/cluster.sh (by their recorded PIDs), Ceph's daemons through down.sh
# (by theirs), a running step by its PID, on any exit, Ctrl-C included. Every wait is bounded.
set -euo pipefail
export LC_ALL=C  # $EPOCHREALTIME and awk use '.' for the decimal point.

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

rounds="${ROUNDS:-1}"
duration_s="${DURATION_S:-10}"
systems="${SYSTEMS:-ceph shoal}"
shoal_connections="${SHOAL_CONNECTIONS:-16}"
shoal_depth="${SHOAL_DEPTH:-1}"
shoal_entry_nodes="${SHOAL_ENTRY_NODES:-1}"
shoal_port="${SHOAL_PORT:-7400}"
shoald_extra_flags="${SHOALD_EXTRA_FLAGS:-}"
shoal_storage="${SHOAL_STORAGE:-memory}"
ceph_port="${CEPH_PORT:-40000}"
ceph_threads="${CEPH_THREADS:-16}"
ceph_max_raw_bytes="${CEPH_MAX_RAW_BYTES:-4294967296}"
small_keys_default="${SMALL_KEYS:-10000}"
big_keys_default="${BIG_KEYS:-512}"
step_timeout="${STEP_TIMEOUT:-300}"
ceph_up_timeout="${CEPH_UP_TIMEOUT:-900}"
ceph_bench_timeout="${CEPH_BENCH_TIMEOUT:-1800}"
ceph_peer_dir="${CEPH_PEER_DIR:-$root/../shared/peers/ceph}"
cluster_sh="${CLUSTER_SH:-$root/scripts/cluster.sh}"

node_count=6  # RS 4+2 over 6 nodes; Ceph's side has 6 OSDs.
small_bytes=4096
big_bytes=4194304

log() { echo "compare_ceph: $*" >&2; }

want() { [[ " $systems " == *" $1 "* ]]; }
if ! want ceph && ! want shoal; then
    log "SYSTEMS names neither ceph nor shoal: $systems"
    exit 2
fi
for knob in rounds:"$rounds" duration_s:"$duration_s" shoal_connections:"$shoal_connections" \
    shoal_depth:"$shoal_depth" shoal_entry_nodes:"$shoal_entry_nodes" \
    ceph_threads:"$ceph_threads" small_keys:"$small_keys_default" big_keys:"$big_keys_default"; do
    if ! [[ "${knob#*:}" =~ ^[1-9][0-9]*$ ]]; then
        log "${knob%%:*} must be a positive integer, not '${knob#*:}'"
        exit 2
    fi
done
if [ "$shoal_entry_nodes" -gt "$node_count" ]; then
    log "SHOAL_ENTRY_NODES must be 1 to $node_count"
    exit 2
fi

# --- packages (before the namespace: apt-get needs the network) -------------------------------

if want ceph; then
    for script in up.sh bench.sh down.sh; do
        if [ ! -x "$ceph_peer_dir/$script" ]; then
            log "no Ceph peer script $script in $ceph_peer_dir (set CEPH_PEER_DIR)"
            exit 2
        fi
    done
    missing=0
    for binary in ceph-mon ceph-mgr ceph-osd ceph rados monmaptool ceph-authtool python3; do
        command -v "$binary" >/dev/null || missing=1
    done
    if [ "$missing" = 1 ]; then
        # The peer scripts install nothing; scripts/debian-packages.txt lists Ceph's packages.
        log "installing the missing Debian packages (scripts/install-deps.sh)"
        "$root/scripts/install-deps.sh" >&2 || { log "scripts/install-deps.sh failed"; exit 2; }
    fi
fi

# --- a network namespace of our own -----------------------------------------------------------
#
# Its loopback carries only this script's two clusters: no other program's 127.0.0.x ports can
# collide with the nodes', the mon's or the OSDs', and none of ours is reachable from outside.
# The script re-runs itself inside one (unshare keeps the PID, so signals still reach it);
# every process it starts inherits the namespace.
if [ "${NETNS:-1}" = 1 ] && [ "${COMPARE_CEPH_INSIDE:-}" != 1 ]; then
    if unshare --net true 2>/dev/null && command -v ip >/dev/null; then
        COMPARE_CEPH_INSIDE=1 exec unshare --net -- bash "$0" "$@"
    fi
    log "cannot make a network namespace (needs CAP_SYS_ADMIN and ip): using the host's loopback"
fi
in_namespace=0
if [ "${COMPARE_CEPH_INSIDE:-}" = 1 ]; then
    ip link set lo up
    in_namespace=1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/shoal-compare-ceph.XXXXXX")"
step_pid=""      # The bounded step running now (a `timeout` process), if any.
shoal_running=0  # scripts/cluster.sh started nodes; `down` stops them.
ceph_running=0   # up.sh ran (or was running); down.sh stops what it recorded.
ceph_dir="$work/cephpeer"

fail() {
    log "$*"
    exit 2
}

# Stops the running step: `timeout` passes the signal on to the step's process group.
stop_step() {
    [ -n "$step_pid" ] || return 0
    kill -TERM "$step_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
        kill -0 "$step_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$step_pid" 2>/dev/null || true
    wait "$step_pid" 2>/dev/null || true
    step_pid=""
}

on_exit() {
    local status=$?
    trap '' INT TERM
    stop_step
    [ "$shoal_running" = 1 ] && shoal_down
    [ "$ceph_running" = 1 ] && ceph_down
    if [ "$status" -ge 2 ]; then
        rm -rf "${work:?}/bin" "$ceph_dir" "$work/shoal-cluster"
        log "logs kept in $work"
    else
        rm -rf "$work"
    fi
}
trap on_exit EXIT
trap 'exit 2' INT TERM

# run_bounded <timeout s> <log> <command...>: runs a step in the background under `timeout`
# and waits for it, so that a signal to this script interrupts the wait at once (the EXIT trap
# then stops the step by its PID). Returns the step's status (124: timed out).
run_bounded() {
    local limit="$1" log_file="$2" status=0
    shift 2
    timeout --kill-after=10 "$limit" "$@" >"$log_file" 2>&1 </dev/null &
    step_pid=$!
    wait "$step_pid" || status=$?
    step_pid=""
    return "$status"
}

# --- binaries ---------------------------------------------------------------------------------

binaries_note="-"
if want shoal; then
    [ -x "$cluster_sh" ] || fail "no local-cluster launcher at $cluster_sh"
    if [ -z "${BUILD_DIR:-}" ]; then
        BUILD_DIR="$root/build/release"
        # build/release is another engineer's: use it only if it is newer than its sources.
        source_time="$(git -C "$root" log -1 --format=%ct -- src include client bench \
            CMakeLists.txt cmake 2>/dev/null || echo 0)"
        stale=0
        for binary in src/app/shoald client/shoal bench/shoal-bench; do
            if [ ! -x "$BUILD_DIR/$binary" ] ||
                [ "$(stat -c %Y "$BUILD_DIR/$binary")" -lt "${source_time:-0}" ]; then
                stale=1
            fi
        done
        if [ "$stale" = 1 ]; then
            BUILD_DIR="$root/build/bench-release"
            if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
                log "configuring the release preset in $BUILD_DIR"
                (cd "$root" && timeout 600 cmake --preset release -B "$BUILD_DIR" \
                    >"$work/configure.log" 2>&1) ||
                    fail "cmake --preset release failed (see $work/configure.log)"
            fi
            log "building shoald, shoal and shoal-bench in $BUILD_DIR"
            timeout 3600 cmake --build "$BUILD_DIR" -j2 --target shoald shoal shoal-bench \
                >"$work/build.log" 2>&1 || fail "the build failed (see $work/build.log)"
        fi
    fi
    BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
    for binary in src/app/shoald client/shoal bench/shoal-bench; do
        [ -x "$BUILD_DIR/$binary" ] || fail "no $binary in $BUILD_DIR"
    done
    binaries_note="$BUILD_DIR (shoald built $(date -r "$BUILD_DIR/src/app/shoald" '+%Y-%m-%d %H:%M');"
    binaries_note="$binaries_note HEAD $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
    if [ -n "$(git -C "$root" status --porcelain -- src include client bench 2>/dev/null)" ]; then
        binaries_note="$binaries_note, with uncommitted changes the binaries may include"
    fi
    binaries_note="$binaries_note)"
    # Copies, so that a rebuild in BUILD_DIR during the run changes nothing in it.
    mkdir "$work/bin"
    cp "$BUILD_DIR/src/app/shoald" "$BUILD_DIR/client/shoal" "$BUILD_DIR/bench/shoal-bench" \
        "$work/bin/"
fi
shoald="$work/bin/shoald"
shoal="$work/bin/shoal"
bench="$work/bin/shoal-bench"

# --- helpers ----------------------------------------------------------------------------------

clock_ticks="$(getconf CLK_TCK)"
now_micros() { echo "${EPOCHREALTIME/./}"; }

declare -A samples=()
add_sample() { samples[$1]="${samples[$1]:-} $2"; }
median() {
    [ -n "${1// /}" ] || { echo "-"; return; }
    # shellcheck disable=SC2086 # Word splitting of the sample list is intended.
    printf '%s\n' $1 | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'
}
figure() { median "${samples[$1]:-}"; }
last() {
    local values="${samples[$1]:-}"
    echo "${values##* }"
}

ratio() {
    awk -v a="$1" -v b="$2" \
        'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'
}
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
larger() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? a : b }'; }

# The first value of a numeric field in a one-line JSON object (totals come before by_op).
json_number() { grep -o "\"$2\": [0-9.e+-]*" <<<"$1" | head -n 1 | awk '{ print $2 }'; }

# Is something listening on HOST:PORT (TCP)?
listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

avail_mib() { awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo; }

# wait_for_memory <MiB> <what>: waits (at most 120 s) until the kernel reports that much
# available memory; a run that would push the box into the OOM killer stops instead.
wait_for_memory() {
    local deadline=$((SECONDS + 120))
    until [ "$(avail_mib)" -ge "$1" ]; do
        [ "$SECONDS" -lt "$deadline" ] ||
            fail "$2 needs about $1 MiB of memory; only $(avail_mib) MiB available after 120 s"
        sleep 5
    done
}

# Sums of a /proc/PID/status field (VmRSS, VmHWM) in KiB, and user + system CPU ticks, over
# a list of PIDs.
status_kib_sum() {
    local field="$1" total=0 pid value
    shift
    for pid in "$@"; do
        value="$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null)"
        total=$((total + ${value:-0}))
    done
    echo "$total"
}
cpu_ticks_sum() {
    local total=0 pid value
    for pid in "$@"; do
        value="$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null)"
        total=$((total + ${value:-0}))
    done
    echo "$total"
}
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

# --- Ceph: ../shared/peers/ceph, as it is -----------------------------------------------------

ceph_env=(CEPHPEER_DIR="$ceph_dir" CEPHPEER_PORT="$ceph_port" CEPHPEER_STORE=memstore
    CEPHPEER_OSDS="$node_count")
ceph_version="-"
ec_plugin="-"

ceph_down() {
    log "stopping Ceph (down.sh)"
    timeout 120 env "${ceph_env[@]}" "$ceph_peer_dir/down.sh" >>"$work/ceph-down.log" 2>&1 ||
        log "down.sh failed (see $work/ceph-down.log)"
    # down.sh removes its directory only under /tmp or /dev/shm.
    rm -rf "$ceph_dir"
    ceph_running=0
}

# The column of a results.tsv row (bench.sh): <file> <size> <phase> <column name>.
results_field() {
    awk -F'\t' -v size="$2" -v phase="$3" -v column="$4" '
        NR == 1 { for (i = 1; i <= NF; i++) index_of[$i] = i; next }
        $3 == size && $4 == phase { print $(index_of[column]) }' "$1"
}

# ceph_measure <round>: adds ceph_{4k,4m}_{put,seq,rand,get}_{ops,mbs}, ceph_{4k,4m}_objects,
# ceph_{idle,peak}_rss_mib and the daemons' CPU per phase.
ceph_measure() {
    local round="$1" out="$work/ceph-r$1" status=0 size tag phase results
    if [ "$in_namespace" = 0 ]; then
        if listening 127.0.0.1 "$ceph_port" || listening 127.0.0.1 $((ceph_port + 1)); then
            fail "127.0.0.1:$ceph_port or :$((ceph_port + 1)) is in use: set CEPH_PORT"
        fi
    fi
    log "round $round of $rounds: Ceph up (6 memstore OSDs, EC 4+2; up to $ceph_up_timeout s)"
    ceph_running=1
    run_bounded "$ceph_up_timeout" "$work/ceph-up-r$round.log" \
        env "${ceph_env[@]}" "$ceph_peer_dir/up.sh" || status=$?
    [ "$status" -eq 0 ] || fail "Ceph's up.sh failed (exit $status; see $work/ceph-up-r$round.log)"
    ec_plugin="$(cat "$ceph_dir/ec_plugin" 2>/dev/null || echo '?')"
    ceph_version="$(ceph --version 2>/dev/null | awk '{ print $3 }')"

    log "round $round of $rounds: rados bench -t $ceph_threads on ec42, 4 KiB then 4 MiB:" \
        "write, seq, rand, $duration_s s each"
    # bench.sh: write (--no-cleanup, --max-objects from MAX_RAW_BYTES), seq, rand, cleanup.
    run_bounded "$ceph_bench_timeout" "$work/ceph-bench-r$round.log" \
        env "${ceph_env[@]}" POOLS=ec42 SIZES="$small_bytes $big_bytes" REPS=1 \
        SECS="$duration_s" THREADS="$ceph_threads" MAX_RAW_BYTES="$ceph_max_raw_bytes" \
        OUT="$out" TAG="r$round" "$ceph_peer_dir/bench.sh" || status=$?
    [ "$status" -eq 0 ] || fail "Ceph's bench.sh failed (exit $status; see $work/ceph-bench-r$round.log)"
    results="$out/results.tsv"
    [ -f "$results" ] || fail "bench.sh left no $results"

    for size in "$small_bytes" "$big_bytes"; do
        tag=4k
        [ "$size" = "$big_bytes" ] && tag=4m
        for phase in write seq rand; do
            local ops seconds name="$phase"
            [ "$phase" = write ] && name=put
            ops="$(results_field "$results" "$size" "$phase" ops)"
            seconds="$(results_field "$results" "$size" "$phase" time_s)"
            if [ -z "$ops" ] || [ -z "$seconds" ]; then fail "no $size $phase row in $results"; fi
            # rados bench's own "MB/sec" is MiB/s: both rates come from its op count and time.
            add_sample "ceph_${tag}_${name}_ops" \
                "$(awk -v o="$ops" -v s="$seconds" 'BEGIN { printf "%.1f", o / s }')"
            add_sample "ceph_${tag}_${name}_mbs" \
                "$(awk -v o="$ops" -v s="$seconds" -v b="$size" 'BEGIN { printf "%.1f", o * b / s / 1e6 }')"
            add_sample "ceph_${tag}_${name}_cores" "$(awk -v a="$(results_field "$results" \
                "$size" "$phase" osd_cores)" -v b="$(results_field "$results" "$size" "$phase" \
                monmgr_cores)" 'BEGIN { printf "%.2f", a + b }')"
            add_sample "ceph_${tag}_${name}_client_cores" \
                "$(results_field "$results" "$size" "$phase" client_cores)"
            [ "$phase" = write ] && add_sample "ceph_${tag}_objects" "$ops"
        done
        # The get figure is Ceph's better read of the two (shoal-bench's gets pick keys at
        # random, like rand; seq reads each object once, in order).
        add_sample "ceph_${tag}_get_ops" \
            "$(larger "$(last "ceph_${tag}_seq_ops")" "$(last "ceph_${tag}_rand_ops")")"
        add_sample "ceph_${tag}_get_mbs" \
            "$(larger "$(last "ceph_${tag}_seq_mbs")" "$(last "ceph_${tag}_rand_mbs")")"
    done

    # bench.sh's RSS tables: every daemon (mon, mgr, osd.*) after up (rss-start: VmRSS, idle)
    # and at the end (VmHWM: the peak over the daemon's life, before the cleanups), in MiB.
    # (Its end-of-run VmRSS comes after the cleanups, so it is not comparable with shoal's.)
    add_sample ceph_idle_rss_mib "$(awk -F'\t' 'NR > 1 { s += $4 } END { print s }' \
        "$out/rss-start-r$round.tsv")"
    add_sample ceph_peak_rss_mib "$(awk -F'\t' 'NR > 1 { s += $3 } END { print s }' \
        "$out/rss-end-r$round.tsv")"
    ceph_daemons_note="$(awk -F'\t' 'NR > 1 { printf "%s%s %s", sep, $1, $3; sep = ", " }' \
        "$out/rss-end-r$round.tsv")"
    ceph_down
}

# --- shoal: scripts/cluster.sh, 6 nodes, memory mode unless SHOAL_STORAGE says disk ------------------------------------------

shoal_cluster_dir="$work/shoal-cluster"
shoald_flags=""  # set per round, from the key spaces
shoal_host() { echo "127.0.0.$((10 + $1))"; }

cluster() {  # <verb> <args...>: scripts/cluster.sh under a deadline, its output in the log
    CLUSTER_DIR="$shoal_cluster_dir" SHOALD="$shoald" SHOAL="$shoal" PORT="$shoal_port" \
        SHOALD_FLAGS="$shoald_flags" timeout 120 "$cluster_sh" "$@" >>"$work/cluster.log" 2>&1
}

shoal_node_pids() {
    local pid_file
    for pid_file in "$shoal_cluster_dir"/node*/pid; do
        if [ -f "$pid_file" ]; then cat "$pid_file"; fi
    done
}

# Stops the cluster through the launcher; a node still running after that (the launcher
# failed) is stopped here, by the PID the launcher recorded, if it still runs our shoald.
shoal_down() {
    local pid
    log "stopping the shoal cluster (cluster.sh down)"
    cluster down --purge || log "scripts/cluster.sh down failed (see $work/cluster.log)"
    for pid in $(shoal_node_pids 2>/dev/null); do
        if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$shoald" ]; then
            log "shoald pid $pid still runs after cluster.sh down; stopping it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$shoal_cluster_dir"
    shoal_running=0
}

shoal_targets=()  # shoal-bench's target flags
shoal_pids=()

# shoal_step <name> <bench flags...>: one shoal-bench run, bounded, its rates added under
# <name> with the nodes' CPU (all six, in cores) over the run.
shoal_step() {
    local name="$1" status=0 ticks_before ticks_after started ended output
    shift
    ticks_before="$(cpu_ticks_sum "${shoal_pids[@]}")"
    started="$(now_micros)"
    run_bounded "$step_timeout" "$work/$name.json" "$bench" "${shoal_targets[@]}" --json \
        --connections "$shoal_connections" --depth "$shoal_depth" "$@" || status=$?
    ended="$(now_micros)"
    ticks_after="$(cpu_ticks_sum "${shoal_pids[@]}")"
    output="$(grep '^{' "$work/$name.json" | tail -n 1 || true)"
    if [ "$status" -ne 0 ]; then
        local why="exit $status"
        [ "$status" -eq 124 ] && why="timed out after $step_timeout s"
        [ "$status" -eq 1 ] && why="some operations failed"
        cat "$work/$name.json" >&2
        fail "shoal-bench $name failed ($why): $bench ${shoal_targets[*]} $*"
    fi
    add_sample "shoal_${name}_ops" "$(json_number "$output" ops_per_s)"
    add_sample "shoal_${name}_mbs" "$(json_number "$output" mb_per_s)"
    add_sample "shoal_${name}_cores" "$(awk -v t=$((ticks_after - ticks_before)) \
        -v hz="$clock_ticks" -v us=$((ended - started)) 'BEGIN { printf "%.2f", t / hz / (us / 1e6) }')"
    add_sample "shoal_${name}_client_cores" "$(awk -v p="$(json_number "$output" \
        bench_cpu_percent)" 'BEGIN { printf "%.2f", p / 100 }')"
}

# shoal_fill <size> <keys>: puts every key once, in order (shoal-bench --prefill; its measured
# phase is a single put), so that the gets that follow find every key.
shoal_fill() {
    local status=0
    run_bounded "$step_timeout" "$work/fill-$1.json" "$bench" "${shoal_targets[@]}" --json \
        --connections "$shoal_connections" --depth "$shoal_depth" --op put --size "$1" \
        --keys "$2" --prefill --count 1 || status=$?
    [ "$status" -eq 0 ] || { cat "$work/fill-$1.json" >&2; fail "shoal-bench prefill of $2 x $1 failed (exit $status)"; }
}

# shoal_measure <round>: adds shoal_{4k,4m}_{put,get}_{ops,mbs}, shoal_{4k,4m}_objects and
# shoal_{idle,peak}_rss_mib.
shoal_measure() {
    local round="$1" small_keys big_keys memory_bytes index status=0
    # The objects Ceph stored in this round, when it ran: both then hold the same objects.
    small_keys="$(last ceph_4k_objects)"
    big_keys="$(last ceph_4m_objects)"
    [ -n "$small_keys" ] && [ "$small_keys" -gt 0 ] || small_keys="$small_keys_default"
    [ -n "$big_keys" ] && [ "$big_keys" -gt 0 ] || big_keys="$big_keys_default"
    add_sample shoal_4k_objects "$small_keys"
    add_sample shoal_4m_objects "$big_keys"
    # Each node's budget: twice every byte of the run, in case placement skews and an overwrite
    # holds the old and the new copy for a moment. A budget, not an allocation.
    memory_bytes=$((2 * (small_keys * small_bytes + big_keys * big_bytes) + (256 << 20)))
    shoald_flags="--storage $shoal_storage --memory-bytes $memory_bytes${shoald_extra_flags:+ $shoald_extra_flags}"

    if [ "$in_namespace" = 0 ]; then
        for index in $(seq 1 "$node_count"); do
            ! listening "$(shoal_host "$index")" "$shoal_port" ||
                fail "$(shoal_host "$index"):$shoal_port is in use: set SHOAL_PORT"
        done
    fi
    log "round $round of $rounds: shoal up ($node_count $shoal_storage-mode nodes)"
    shoal_running=1
    cluster up "$node_count" || fail "scripts/cluster.sh up $node_count failed (see $work/cluster.log)"
    cluster wait-converged "$node_count" 60 ||
        fail "the shoal cluster did not converge in 60 s (see $work/cluster.log)"
    read -r -a shoal_pids <<<"$(shoal_node_pids | tr '\n' ' ')"
    [ "${#shoal_pids[@]}" -eq "$node_count" ] ||
        fail "$node_count nodes started, ${#shoal_pids[@]} PIDs known"
    sleep 1
    add_sample shoal_idle_rss_mib "$(kib_to_mib "$(status_kib_sum VmRSS "${shoal_pids[@]}")")"

    if [ "$shoal_entry_nodes" -eq 1 ]; then
        shoal_targets=(--node "$(shoal_host 1):$shoal_port")
    else
        local list=""
        for index in $(seq 1 "$shoal_entry_nodes"); do
            list+="${list:+,}$(shoal_host "$index"):$shoal_port"
        done
        shoal_targets=(--nodes "$list")
    fi

    log "round $round of $rounds: shoal-bench 4 KiB put, get over $small_keys keys;" \
        "4 MiB put, get over $big_keys keys; $duration_s s each," \
        "$shoal_connections connections x depth $shoal_depth"
    shoal_step 4k_put --op put --size 4K --keys "$small_keys" --duration "$duration_s"
    shoal_fill 4K "$small_keys"
    shoal_step 4k_get --op get --size 4K --keys "$small_keys" --duration "$duration_s"
    wait_for_memory $((2 * big_keys * big_bytes / 1048576 + 1024)) "shoal's 4 MiB phase"
    shoal_step 4m_put --op put --size 4M --keys "$big_keys" --duration "$duration_s"
    shoal_fill 4M "$big_keys"
    shoal_step 4m_get --op get --size 4M --keys "$big_keys" --duration "$duration_s"

    add_sample shoal_peak_rss_mib "$(kib_to_mib "$(status_kib_sum VmHWM "${shoal_pids[@]}")")"
    shoal_nodes_note=""
    for index in $(seq 1 "$node_count"); do
        shoal_nodes_note+="${shoal_nodes_note:+, }node$index $(kib_to_mib \
            "$(status_kib_sum VmHWM "${shoal_pids[$((index - 1))]}")")"
    done
    shoal_down
}

# --- the runs ---------------------------------------------------------------------------------

load_before="$(cut -d ' ' -f 1-3 /proc/loadavg)"
ceph_daemons_note="-"
shoal_nodes_note="-"
for round in $(seq 1 "$rounds"); do
    if want ceph; then ceph_measure "$round"; fi
    if want shoal; then shoal_measure "$round"; fi
done
load_after="$(cut -d ' ' -f 1-3 /proc/loadavg)"

# --- report -----------------------------------------------------------------------------------

missed=0
judged=0
verdict() {  # verdict <ratio> <target> <higher|lower>
    if [ "$1" = - ]; then
        echo "-"
        return
    fi
    judged=$((judged + 1))
    if [ "$3" = higher ] && at_least "$1" "$2"; then echo ok; return; fi
    if [ "$3" = lower ] && at_least "$2" "$1"; then echo ok; return; fi
    missed=$((missed + 1))
    echo MISSED
}

row() { printf '%-26s %10s %10s %6s %14s %8s\n' "$@"; }
verdict_lines=()
# judged_row <label> <shoal key> <ceph key> <target> <higher|lower> <target text>
judged_row() {
    local shoal_value ceph_value value_ratio value_verdict
    shoal_value="$(figure "$2")"
    ceph_value="$(figure "$3")"
    value_ratio="$(ratio "$shoal_value" "$ceph_value")"
    # Not in $(...): verdict counts in this shell.
    verdict "$value_ratio" "$4" "$5" >"$work/verdict"
    value_verdict="$(<"$work/verdict")"
    row "$1" "$shoal_value" "$ceph_value" "$value_ratio" "$6" "$value_verdict"
    verdict_lines+=("$1: shoal $shoal_value, ceph $ceph_value, ratio $value_ratio: $value_verdict")
}
info_row() {  # <label> <shoal key> <ceph key>
    local shoal_value ceph_value
    shoal_value="$(figure "$2")"
    ceph_value="$(figure "$3")"
    row "$1" "$shoal_value" "$ceph_value" "$(ratio "$shoal_value" "$ceph_value")" "-" "-"
}

echo
echo "shoal vs Ceph on $(nproc) cores, $rounds round(s), medians; loopback" \
    "$([ "$in_namespace" = 1 ] && echo "in a network namespace of its own" || echo "(the host's)")"
if want ceph; then
    echo "ceph: $ceph_version, 1 mon, 1 mgr, $node_count memstore OSDs, pool ec42 (k=4 m=2," \
        "$ec_plugin), rados bench -t $ceph_threads, $duration_s s per phase"
fi
if want shoal; then
    echo "shoal: $node_count $shoal_storage-mode nodes (scripts/cluster.sh), shoal-bench" \
        "$shoal_connections connections x depth $shoal_depth through $shoal_entry_nodes" \
        "node(s), $duration_s s per phase"
    echo "shoal binaries: $binaries_note"
fi
echo "(load average before the run: $load_before; after: $load_after)"
row "measure" "shoal" "ceph" "ratio" "target" "verdict"
judged_row "4 KiB put ops/s" shoal_4k_put_ops ceph_4k_put_ops 2.0 higher ">= 2.0x ceph"
judged_row "4 KiB get ops/s" shoal_4k_get_ops ceph_4k_get_ops 2.0 higher ">= 2.0x ceph"
judged_row "4 MiB put MB/s" shoal_4m_put_mbs ceph_4m_put_mbs 2.0 higher ">= 2.0x ceph"
judged_row "4 MiB get MB/s" shoal_4m_get_mbs ceph_4m_get_mbs 1.5 higher ">= 1.5x ceph"
judged_row "peak RSS MiB (sum)" shoal_peak_rss_mib ceph_peak_rss_mib 0.25 lower "<= 0.25x ceph"
info_row "idle RSS MiB (sum)" shoal_idle_rss_mib ceph_idle_rss_mib
info_row "4 KiB objects stored" shoal_4k_objects ceph_4k_objects
info_row "4 MiB objects stored" shoal_4m_objects ceph_4m_objects
echo
echo "every round:"
for key in 4k_put_ops 4k_get_ops 4m_put_mbs 4m_get_mbs peak_rss_mib idle_rss_mib; do
    for system in ceph shoal; do
        want "$system" || continue
        printf '  %-24s%s\n' "${system}_$key" "${samples[${system}_$key]:-}"
    done
done
if want ceph; then
    for key in 4k_seq_ops 4k_rand_ops 4m_seq_mbs 4m_rand_mbs; do
        printf '  %-24s%s\n' "ceph_$key" "${samples[ceph_$key]:-}"
    done
fi
echo "server CPU, medians, in cores (of $(nproc)) during each measured phase; client's in ():"
if want shoal; then
    for key in 4k_put 4k_get 4m_put 4m_get; do
        printf '  %-24s%s (%s)\n' "shoal $key" "$(figure "shoal_${key}_cores")" \
            "$(figure "shoal_${key}_client_cores")"
    done
fi
if want ceph; then
    for key in 4k_put 4k_seq 4k_rand 4m_put 4m_seq 4m_rand; do
        printf '  %-24s%s (%s)\n' "ceph $key" "$(figure "ceph_${key}_cores")" \
            "$(figure "ceph_${key}_client_cores")"
    done
fi
echo "verdicts:"
for line in "${verdict_lines[@]}"; do
    echo "  $line"
done
echo "notes:"
echo "  ceph's get is the better of rados bench seq and rand; MB/s is 10^6 bytes/s on both sides"
echo "  (rados bench's own MB/sec is MiB/s; the rates here come from its op count and run time)."
echo "  RSS: peak is the sum over the daemons of each one's VmHWM, read after the last phase with"
echo "  the objects above stored; idle is the sum of VmRSS once the cluster is up, before load."
echo "  last round's peak RSS per daemon, MiB: ceph: $ceph_daemons_note"
echo "    shoal: $shoal_nodes_note"
if [ "$judged" -eq 0 ]; then
    echo "no target judged (SYSTEMS=$systems)"
    exit 1
fi
if [ "$missed" -gt 0 ]; then
    echo "targets missed: $missed"
    exit 1
fi
echo "every target met"

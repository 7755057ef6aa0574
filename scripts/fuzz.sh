#!/usr/bin/env bash
# Builds the libFuzzer targets with the `fuzz` preset (clang, ASan+UBSan) and runs each for a
# bounded time on a temporary copy of its seed corpus, so the committed corpus never changes.
#
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_BUILD_DIR build directory (default build/fuzz)
#   JOBS           build parallelism (default: all cores)
#
# Targets are found by name: tests/fuzz/<name>_fuzz.cc with its corpus in
# tests/fuzz/corpus/<name>/. Exits non-zero if any target finds a crash, leak, timeout or
# out-of-memory; the reproducer is kept in $FUZZ_BUILD_DIR/fuzz-artifacts/ and the last lines
# of the fuzzer's log are printed. Replay a reproducer with
#   build/dev/tests/fuzz/<name>_fuzz_replay <file>
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${FUZZ_SECONDS:-60}"
build="${FUZZ_BUILD_DIR:-$root/build/fuzz}"
jobs="${JOBS:-$(nproc)}"
artifacts="$build/fuzz-artifacts"

names=()
for source in tests/fuzz/*_fuzz.cc; do
    name="$(basename "$source" _fuzz.cc)"
    if [ ! -d "tests/fuzz/corpus/$name" ]; then
        echo "fuzz: $source has no corpus at tests/fuzz/corpus/$name" >&2
        exit 1
    fi
    names+=("$name")
done
if [ ${#names[@]} -eq 0 ]; then
    echo "fuzz: no fuzz targets found in tests/fuzz" >&2
    exit 1
fi

echo "fuzz: building ${names[*]} with the fuzz preset in $build"
cmake --preset fuzz -B "$build" >/dev/null
cmake --build "$build" -j "$jobs" --target "${names[@]/%/_fuzz}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

failed=()
for name in "${names[@]}"; do
    mkdir -p "$work/$name"
    cp -R "tests/fuzz/corpus/$name/." "$work/$name/"
    log="$work/$name.log"
    rm -f "$artifacts/${name}-"*  # Reproducers listed below are this run's.
    echo "fuzz: running ${name}_fuzz for ${seconds} s"
    # -timeout: one input running longer than this is a finding (a hang), not a slow machine.
    if "$build/tests/fuzz/${name}_fuzz" \
            -max_total_time="$seconds" \
            -timeout=10 \
            -rss_limit_mb=2048 \
            -print_final_stats=1 \
            -artifact_prefix="$artifacts/${name}-" \
            "$work/$name" >"$log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$log" |
                sed "s/^/fuzz: $name: /" || true
    else
        status=$?
        echo "fuzz: ${name}_fuzz FAILED (exit $status); the end of its log:" >&2
        tail -n 60 "$log" >&2
        echo "fuzz: reproducers in $artifacts:" >&2
        for artifact in "$artifacts/${name}-"*; do
            if [ -e "$artifact" ]; then echo "  $artifact" >&2; fi
        done
        failed+=("$name")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: findings in ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: no findings in ${names[*]} (${seconds} s each)"

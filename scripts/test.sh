#!/usr/bin/env bash
# The README's second command, and what CI runs (.ci/run): installs what is missing, then
#   1. dev build (ASan+UBSan, -Werror): unit, sim, fuzz-corpus replay and tidy tests;
#   2. clang-format and clang-tidy checks;
#   3. release build: integration tests (real shoald processes and the shoal CLI);
#   4. the libFuzzer targets for a bounded time (FUZZ_SECONDS, default 60; 0 skips).
# Ends with one line "N passed, N failed".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="${JOBS:-$(nproc)}"
passed=0
failed=0
failures=()

step() { echo; echo "==== $*"; }

# Runs ctest with the given arguments and adds its counts to the totals.
run_ctest() {
    local directory="$1"
    shift
    local log
    log="$(mktemp)"
    (cd "$directory" && ctest --output-on-failure --timeout 900 "$@") 2>&1 | tee "$log"
    local line
    line="$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)"
    if [ -z "$line" ]; then
        failed=$((failed + 1))
        failures+=("ctest $* ran no test")
    else
        local total fail
        total="$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")"
        fail="$(sed -E 's/.*, ([0-9]+) tests? failed.*/\1/' <<<"$line")"
        passed=$((passed + total - fail))
        failed=$((failed + fail))
        [ "$fail" -eq 0 ] || failures+=("ctest $*: $fail failed")
    fi
    rm -f "$log"
}

# Runs a check that is not ctest; it counts as one test.
run_check() {
    local name="$1"
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

step "installing missing Debian packages"
scripts/install-deps.sh || { echo "could not install dependencies"; echo "0 passed, 1 failed"; exit 1; }

step "dev build (Debug, ASan+UBSan, -Werror)"
if cmake --preset dev >/dev/null && cmake --build build/dev -j "$jobs"; then
    step "unit, sim, fuzz corpus replay and tidy tests"
    run_ctest build/dev -L 'unit|sim|fuzz|tidy' -j "$jobs"
else
    failed=$((failed + 1))
    failures+=("dev build")
fi

step "clang-format"
run_check "clang-format" scripts/format.sh --check

step "clang-tidy (src, client, bench)"
run_tidy() {
    local log
    log="$(mktemp)"
    find src client bench -name '*.cc' -print0 |
        xargs -0 -P "$jobs" -n 4 clang-tidy -p build/dev --quiet >"$log" 2>&1
    if grep -E '(warning|error):' "$log" | grep -v -E 'warnings? generated|Suppressed'; then
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}
run_check "clang-tidy" run_tidy

step "release build"
if cmake --preset release >/dev/null && cmake --build build/release -j "$jobs"; then
    step "integration tests"
    run_ctest build/release -L integration
else
    failed=$((failed + 1))
    failures+=("release build")
fi

if [ "${FUZZ_SECONDS:-60}" != "0" ]; then
    step "fuzzing for ${FUZZ_SECONDS:-60} s per target"
    run_check "fuzzing" scripts/fuzz.sh
fi

echo
for failure in "${failures[@]}"; do echo "FAILED: $failure"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Formats the C++ sources with the repository's .clang-format.
#   scripts/format.sh           rewrites files in place
#   scripts/format.sh --check   changes nothing; lists files that need formatting, exits 1 if any
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t files < <(find include src client tests bench \( -name '*.h' -o -name '*.cc' \) \
    -not -path 'tests/fuzz/corpus/*' | sort)
if [ "${1:-}" = "--check" ]; then
    bad=()
    for file in "${files[@]}"; do
        clang-format --dry-run --Werror "$file" >/dev/null 2>&1 || bad+=("$file")
    done
    if [ ${#bad[@]} -gt 0 ]; then
        echo "format: these files need scripts/format.sh:"
        printf '  %s\n' "${bad[@]}"
        exit 1
    fi
    echo "format: ${#files[@]} files clean"
    exit 0
fi
clang-format -i "${files[@]}"

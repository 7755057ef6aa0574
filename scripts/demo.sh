#!/usr/bin/env bash
# The README's first command: installs what is missing, builds a release, starts a local
# 6-node RS 4+2 cluster with scripts/cluster.sh (memory mode, 127.0.0.11..16), shows `shoal
# status` converged, puts through one node, SIGKILLs two nodes, gets the object back
# byte-exact through another, and tears down.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build build/release --target shoald shoal
bin="$root/build/release"
shoald="$bin/src/app/shoald"
shoal="$bin/client/shoal"

work="$(mktemp -d "${TMPDIR:-/tmp}/shoal-demo-XXXXXX")"
port="${SHOAL_DEMO_PORT:-7400}"
export CLUSTER_DIR="$work/cluster" SHOALD="$shoald" SHOAL="$shoal" PORT="$port"
export SHOALD_FLAGS="--storage memory"
cleanup() {
    scripts/cluster.sh down >/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== scripts/cluster.sh up 6: six nodes on 127.0.0.11..16:$port, joining node 1 (RS 4+2)"
scripts/cluster.sh up 6
scripts/cluster.sh wait-converged 6 30
echo "== shoal status (through node 1)"
scripts/cluster.sh status 1

export SHOAL_NODE="127.0.0.11:$port"
head -c $((8 * 1024 * 1024 + 123)) /dev/urandom > "$work/photo.bin"
echo "== shoal put demo/photo.bin through node 1 (8 MiB of random bytes: 3 stripes of 4+2 chunks)"
"$shoal" put demo/photo.bin "$work/photo.bin"
echo "hello from shoal" | "$shoal" put demo/hello.txt
echo "== shoal ls demo/"
"$shoal" ls demo/
echo "== scripts/cluster.sh kill 2 and kill 5: SIGKILL two of the six nodes"
scripts/cluster.sh kill 2
scripts/cluster.sh kill 5
export SHOAL_NODE="127.0.0.13:$port"
echo "== shoal get demo/photo.bin -o copy.bin, through node 3"
"$shoal" get demo/photo.bin -o "$work/copy.bin"
cmp "$work/photo.bin" "$work/copy.bin"
echo "== byte-exact with two nodes down: ok"
echo "== shoal stat demo/photo.bin"
"$shoal" stat demo/photo.bin
echo "== shoal get demo/hello.txt"
"$shoal" get demo/hello.txt
echo "== scripts/cluster.sh status 3"
scripts/cluster.sh status 3

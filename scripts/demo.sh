#!/usr/bin/env bash
# The README's first command: installs what is missing, builds a release, starts one shoald
# in memory mode on 127.0.0.1, and shows a put/get round trip with the shoal CLI.
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
node_pid=""
cleanup() {
    if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
        kill -TERM "$node_pid"
        wait "$node_pid" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port="${SHOAL_DEMO_PORT:-7400}"
"$shoald" --config configs/single.toml --listen "127.0.0.1:$port" --data "$work/data" \
    --log-file "$work/shoald.log" &
node_pid=$!
export SHOAL_NODE="127.0.0.1:$port"
for _ in $(seq 1 100); do
    "$shoal" ping >/dev/null 2>&1 && break
    kill -0 "$node_pid" 2>/dev/null || { cat "$work/shoald.log"; exit 1; }
    sleep 0.05
done
"$shoal" ping >/dev/null

echo "== a node is up on $SHOAL_NODE (log: $work/shoald.log)"
head -c $((8 * 1024 * 1024 + 123)) /dev/urandom > "$work/photo.bin"
echo "== shoal put demo/photo.bin (8 MiB of random bytes)"
"$shoal" put demo/photo.bin "$work/photo.bin"
echo "hello from shoal" | "$shoal" put demo/hello.txt
echo "== shoal ls demo/"
"$shoal" ls demo/
echo "== shoal stat demo/photo.bin"
"$shoal" stat demo/photo.bin
echo "== shoal get demo/photo.bin -o copy.bin"
"$shoal" get demo/photo.bin -o "$work/copy.bin"
cmp "$work/photo.bin" "$work/copy.bin"
echo "== byte-exact round trip: ok"
echo "== shoal get demo/hello.txt"
"$shoal" get demo/hello.txt
"$shoal" rm demo/hello.txt
echo "== shoal rm demo/hello.txt, then get: exit code $("$shoal" get demo/hello.txt >/dev/null 2>&1; echo $?) (3 = not found)"

#!/usr/bin/env bash
# Benchmark of the C API (prints figures, asserts nothing).
#
#   ffi-c/bench/run.sh [N]      (default N = 500000; the store ends with ~2 N records)
#
# Builds libmodsynclog and modsynclog-server in release (skipped when MSL_BENCH_NO_BUILD=1
# and the binaries exist), starts the server (--fsync never) on a free port in a temporary
# folder, runs `bench commit` (global SDK, then a producer), stops the server and runs
# `bench scan` over its folder twice (cold-ish, then warm page cache).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
N="${1:-500000}"
TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

if [[ -z "${MSL_BENCH_NO_BUILD:-}" || ! -f target/release/libmodsynclog.so ]]; then
    cargo build --release -p modsynclog-ffi
fi
if [[ -z "${MSL_BENCH_NO_BUILD:-}" || ! -x target/release/modsynclog-server ]]; then
    [[ -x target/release/modsynclog-server ]] || cargo build --release -p modsynclog-server --bin modsynclog-server
fi
LIBDIR="$ROOT/target/release"
gcc -std=c11 -Wall -Wextra -Werror -pedantic -O2 -Iffi-c/include -o "$TMP/bench" ffi-c/bench/bench.c \
    -L"$LIBDIR" -lmodsynclog -Wl,-rpath,"$LIBDIR"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$TMP/data"
target/release/modsynclog-server --data-dir "$TMP/data" --grpc-addr "127.0.0.1:$PORT" --sync-addr off \
    --fsync never --utc >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done

echo "libmodsynclog $(git rev-parse --short HEAD 2>/dev/null || echo '?') release, server release --fsync never," \
    "one C thread, 100-byte records, $(nproc) cores"
"$TMP/bench" commit "127.0.0.1:$PORT" "$N"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=""
du -sh "$TMP/data" | sed 's/^/store size: /'
"$TMP/bench" scan "$TMP/data"
"$TMP/bench" scan "$TMP/data"

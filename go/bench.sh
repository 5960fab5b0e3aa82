#!/usr/bin/env bash
# Benchmark of the Go SDK (prints figures, asserts nothing):
#
#   go/bench.sh [msl-go-bench flags]     e.g. go/bench.sh -n 1000000 -goroutines 1,8 -runs 3
#
# Builds libmodsynclog and modsynclog-server in release (skipped when MSL_BENCH_NO_BUILD=1
# and both exist), builds cmd/msl-go-bench linked against target/release/libmodsynclog,
# starts the server (--fsync never) on a free port in a temporary folder, runs the bench,
# stops the server. Prints `uptime` before and after: the machine's load matters.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
rel="$repo/target/release"
tmp="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

if [[ -z "${MSL_BENCH_NO_BUILD:-}" || ! -f "$rel/libmodsynclog.so" || ! -x "$rel/modsynclog-server" ]]; then
    (cd "$repo" && cargo build --release -p modsynclog-server -p modsynclog-ffi)
fi

# CGO_LDFLAGS come before the package's own flags (which point at target/debug).
(cd "$here" && CGO_LDFLAGS="-L$rel -Wl,-rpath,$rel" go build -o "$tmp/msl-go-bench" ./cmd/msl-go-bench)
if ! ldd "$tmp/msl-go-bench" | grep -q "$rel/libmodsynclog.so"; then
    echo "bench.sh: msl-go-bench is not linked against $rel/libmodsynclog.so:" >&2
    ldd "$tmp/msl-go-bench" >&2
    exit 1
fi

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$tmp/data"
env -i PATH="$PATH" "$rel/modsynclog-server" --data-dir "$tmp/data" \
    --grpc-addr "127.0.0.1:$port" --sync-addr off --fsync never --utc >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log"; exit 1; }
    sleep 0.05
done

echo "go SDK bench, $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'), server release --fsync never, $(nproc) cores"
echo "before: $(uptime)"
"$tmp/msl-go-bench" -addr "127.0.0.1:$port" "$@"
echo "after:  $(uptime)"
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=""
du -sh "$tmp/data" | sed 's/^/store size: /'

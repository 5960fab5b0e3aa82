#!/usr/bin/env bash
# SDK parity (issue 13): one table, same workload, same run, for Rust, C, Python, Node and
# Go. Prints figures, asserts nothing; not part of scripts/test.sh.
#
#   scripts/bench-sdk.sh          (MSL_BENCH_NO_BUILD=1: use the artifacts already built;
#                                  MSL_BENCH_N / MSL_BENCH_SCAN_N change the record counts)
#
# 1. Builds in release: server, libmodsynclog, modsynclog-bench (cargo), the Node addon
#    (npm run build), the Python package (pip install of its release wheel into the venv
#    target/pyenv-bench, apart from python/test.sh's dev build in target/pyenv), the C
#    bench (gcc) and the Go bench (go build), both into target/bench-sdk/.
# 2. Writes the scan store: 2,000,000 records of 100 bytes committed by the Rust SDK to a
#    server of its own, then stopped.
# 3. Commit: one release server (--fsync never, 127.0.0.1, a free port, a temporary
#    folder); each language in turn commits 1,000,000 records of 100 bytes from one
#    thread through a Producer with default options (after a warm-up of 10,000 records,
#    20,000 for Go, and a flush) and flushes: acknowledged/s = N / (first commit -> flush
#    returned). Node's commit never blocks: on QueueFull it awaits commitAsync.
# 4. Scan: the server stopped, each language reads the whole scan store with its reader
#    in one thread, summing the payload lengths; best of 3 passes each. Then the same
#    with the language's columns reader (Rust Reader::next_columns, C
#    msl_reader_next_columns, Python Reader.next_columns, Node reader.readColumns, Go
#    Reader.NextColumns; default limits), summing each batch's payload bytes.
# 5. Prints one markdown table, with the machine, the load and the date.
# Each language's bench prints a `RESULT commit|scan <rate>` line (the sdk modes of
# bench/src/sdk_bench.rs, ffi-c/bench/bench.c, python/bench.py, node/bench.mjs and
# go/cmd/msl-go-bench); their full output goes to stderr.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
N="${MSL_BENCH_N:-1000000}"
SCAN_N="${MSL_BENCH_SCAN_N:-2000000}"
PASSES=3
rel="$repo/target/release"
out="$repo/target/bench-sdk"
venv="$repo/target/pyenv-bench"
tmp="$(mktemp -d -t msl-bench-sdk.XXXXXX)"
server_pid=""
stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
trap 'stop_server; rm -rf "$tmp"' EXIT

if [[ -z "${MSL_BENCH_NO_BUILD:-}" ]]; then
    cargo build --release -p modsynclog-server -p modsynclog-ffi -p modsynclog-bench >&2
    (cd node && npm run build) >&2
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    env -u MATURIN_PEP517_ARGS "$venv/bin/pip" install --quiet --disable-pip-version-check "$repo/python" >&2
    mkdir -p "$out"
    gcc -std=c11 -Wall -Wextra -Werror -pedantic -O2 -Iffi-c/include -o "$out/msl-c-bench" ffi-c/bench/bench.c \
        -L"$rel" -lmodsynclog -Wl,-rpath,"$rel"
    # CGO_LDFLAGS come before the package's own flags (which point at target/debug).
    (cd go && CGO_LDFLAGS="-L$rel -Wl,-rpath,$rel" go build -o "$out/msl-go-bench" ./cmd/msl-go-bench)
fi

# start_server DIR: a release server on a free port over DIR; sets server_pid and addr.
start_server() {
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    mkdir -p "$1"
    "$rel/modsynclog-server" --data-dir "$1" --grpc-addr "127.0.0.1:$port" --sync-addr off \
        --fsync never --utc >"$tmp/server.log" 2>&1 &
    server_pid=$!
    addr="127.0.0.1:$port"
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
        sleep 0.05
    done
    echo "bench-sdk.sh: the server did not start" >&2
    exit 1
}

# result WHAT COMMAND...: runs a language's bench, its output to stderr; prints its rate.
result() {
    local what="$1" rate
    shift
    "$@" >"$tmp/run.log" 2>&1 || { cat "$tmp/run.log" >&2; exit 1; }
    sed 's/^/    /' "$tmp/run.log" >&2
    rate="$(awk -v w="$what" '$1 == "RESULT" && $2 == w { print $3 }' "$tmp/run.log")"
    [[ -n "$rate" ]] || { echo "bench-sdk.sh: no RESULT $what line" >&2; exit 1; }
    echo "$rate"
}

langs=(Rust C Python Node Go)
commit_cmd() {
    case "$1" in
    Rust) echo "$rel/modsynclog-bench" sdk commit --addr "$addr" --n "$N" ;;
    C) echo "$out/msl-c-bench" sdk-commit "$addr" "$N" ;;
    Python) echo "$venv/bin/python" python/bench.py --sdk-commit "$addr" --records "$N" ;;
    Node) echo env BENCH_N="$N" node node/bench.mjs --sdk-commit "$addr" ;;
    Go) echo "$out/msl-go-bench" -addr "$addr" -n "$N" -cases default -goroutines 1 -runs 1 -result ;;
    esac
}
scan_cmd() {
    case "$1" in
    Rust) echo "$rel/modsynclog-bench" sdk scan --dir "$tmp/scan" --passes "$PASSES" ;;
    C) echo "$out/msl-c-bench" sdk-scan "$tmp/scan" "$PASSES" ;;
    Python) echo "$venv/bin/python" python/bench.py --sdk-scan "$tmp/scan" --passes "$PASSES" ;;
    Node) echo node node/bench.mjs --sdk-scan "$tmp/scan" "$PASSES" ;;
    Go) echo "$out/msl-go-bench" -scan "$tmp/scan" -passes "$PASSES" ;;
    esac
}
# The columns scan: Rust, C and Go print it in their scan run; Python and Node run it apart.
columns_cmd() {
    case "$1" in
    Python) echo "$venv/bin/python" python/bench.py --sdk-scan-columns "$tmp/scan" --passes "$PASSES" ;;
    Node) echo node node/bench.mjs --sdk-scan-columns "$tmp/scan" "$PASSES" ;;
    esac
}

load_before="$(uptime | sed 's/.*load average: //')"
echo "scan store: $SCAN_N records of 100 B (Rust SDK)" >&2
start_server "$tmp/scan"
result commit "$rel/modsynclog-bench" sdk commit --addr "$addr" --n "$SCAN_N" --warm-up 0 >/dev/null
stop_server

declare -A commit scan columns
start_server "$tmp/data"
for l in "${langs[@]}"; do
    echo "commit: $l" >&2
    # shellcheck disable=SC2046 # the command's words (paths without spaces)
    commit[$l]="$(result commit $(commit_cmd "$l"))"
done
stop_server
for l in "${langs[@]}"; do
    echo "scan: $l" >&2
    # shellcheck disable=SC2046
    scan[$l]="$(result scan $(scan_cmd "$l"))"
    # C's table row is its batch reader; its one-call-per-record reader is noted below.
    if [[ $l == C ]]; then scan_one="$(awk '$1 == "RESULT" && $2 == "scan-one" { print $3 }' "$tmp/run.log")"; fi
    if [[ -n "$(columns_cmd "$l")" ]]; then
        # shellcheck disable=SC2046
        columns[$l]="$(result scan-columns $(columns_cmd "$l"))"
    else
        columns[$l]="$(awk '$1 == "RESULT" && $2 == "scan-columns" { print $3 }' "$tmp/run.log")"
    fi
done
load_after="$(uptime | sed 's/.*load average: //')"

fmt() { printf "%.0f" "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "SDK parity, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null || echo '?'):" \
    "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load $load_before before," \
    "$load_after after. One thread, 100-byte records; commit: $N records, default Producer," \
    "acknowledged/s; scan: $SCAN_N records, best of $PASSES passes."
echo
echo "| language | commit acked/s | scan records/s | scan / Rust scan | columns scan records/s | columns / Rust scan | commit / C commit |"
echo "|---|---|---|---|---|---|---|"
for l in "${langs[@]}"; do
    echo "| $l | $(fmt "${commit[$l]}") | $(fmt "${scan[$l]}") | $(ratio "${scan[$l]}" "${scan[Rust]}") |" \
        "$(fmt "${columns[$l]}") | $(ratio "${columns[$l]}" "${scan[Rust]}") | $(ratio "${commit[$l]}" "${commit[C]}") |"
done
echo
echo "C's scan is msl_reader_next_batch (1024 records a call); msl_reader_next, one call per" \
    "record: $(fmt "$scan_one") records/s ($(ratio "$scan_one" "${scan[Rust]}") of Rust's)."

#!/usr/bin/env bash
# One server, three SDKs at once: a C program, a Python script and a Node script commit
# concurrently; a native replica copies the store; readers in C, Python and Node read the
# replica back. Every reader must print the same records in the same order, byte for byte,
# each language's records complete and in commit order, and the replica must equal the
# master. Needs the Python venv (python/test.sh) and the Node addon (node/test.sh) built.
# Ends with the plain line `cross-language: N passed, M failed`.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
N="${N:-3000}"
bin="$root/target/debug"
py="$root/target/pyenv/bin/python"
export MODSYNCLOG_NODE="$root/node"
export RUST_LOG=warn

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $*"; }
bad() { failed=$((failed + 1)); echo "FAIL - $*"; }
tmp="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
finish() {
    echo "cross-language: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for f in "$bin/modsynclog-server" "$bin/libmodsynclog.so" "$py"; do
    [ -e "$f" ] || { bad "missing $f (build the workspace, run python/test.sh)"; finish; }
done
ls "$root"/node/*.node >/dev/null 2>&1 || { bad "the Node addon is not built (run node/test.sh)"; finish; }

cc=(gcc -std=c11 -Wall -Wextra -Werror -I "$root/ffi-c/include" -L "$bin" -Wl,-rpath,"$bin")
"${cc[@]}" -o "$tmp/writer" "$here/writer.c" -lmodsynclog && "${cc[@]}" -o "$tmp/reader" "$here/reader.c" -lmodsynclog \
    || { bad "compile the C programs"; finish; }

grpc=$(free_port)
sync=$(free_port)
"$bin/modsynclog-server" --data-dir "$tmp/master" --grpc-addr "127.0.0.1:$grpc" --sync-addr off --fsync never --utc &
server=$!
pids+=("$server")
"$bin/modsynclog-client" sync --server "127.0.0.1:$grpc" --dir "$tmp/replica" --utc &
pids+=($!)
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$grpc") 2>/dev/null && break; sleep 0.05; done

"$tmp/writer" "127.0.0.1:$grpc" "$N" & w1=$!
"$py" "$here/writer.py" "127.0.0.1:$grpc" "$N" & w2=$!
node "$here/writer.mjs" "127.0.0.1:$grpc" "$N" & w3=$!
for w in "$w1:C" "$w2:Python" "$w3:Node"; do
    if wait "${w%%:*}"; then ok "${w##*:} writer committed and flushed $N records"; else bad "${w##*:} writer failed"; fi
done

want=$((3 * N))
for _ in $(seq 600); do
    got=$("$bin/modsynclog-client" read --dir "$tmp/replica" 2>/dev/null | wc -l)
    [ "$got" -eq "$want" ] && break
    sleep 0.1
done
[ "$got" -eq "$want" ] && ok "the replica holds all $want records" || bad "the replica holds $got of $want records"

"$tmp/reader" "$tmp/replica" >"$tmp/out.c" && ok "C reader" || bad "C reader"
"$py" "$here/reader.py" "$tmp/replica" >"$tmp/out.py" && ok "Python reader" || bad "Python reader"
node "$here/reader.mjs" "$tmp/replica" >"$tmp/out.node" && ok "Node reader" || bad "Node reader"
"$tmp/reader" "$tmp/master" >"$tmp/out.master" && ok "C reader on the master" || bad "C reader on the master"
for o in py node master; do
    cmp -s "$tmp/out.c" "$tmp/out.$o" && ok "out.$o equals the C reader's output" || bad "out.$o differs from the C reader's"
done
"$py" "$here/check.py" "$tmp/out.c" "$N" && ok "$want records: each language's payloads exact and in commit order" \
    || bad "record check"
(cd "$tmp/master" && find . -path ./.modsynclog -prune -o -type f -print | sort | xargs sha256sum) >"$tmp/master.sum"
(cd "$tmp/replica" && find . -type f | sort | xargs sha256sum) >"$tmp/replica.sum"
cmp -s "$tmp/master.sum" "$tmp/replica.sum" && ok "replica folder byte-identical to the master" || bad "replica differs"
finish

#!/usr/bin/env bash
# A real full disk: the server's store on a small tmpfs, filled by five SDKs at once.
#
#   scripts/full-disk.sh            (as root: it mounts a tmpfs; otherwise it says why it
#                                    skips and exits 0)
#
# Mounts a 16 MiB tmpfs, puts a 10 MiB filler file on it, and starts
# target/debug/modsynclog-server (--fsync batch) with its store there, and a native replica
# (`modsynclog-client sync`) into a normal temporary folder. Five writers, one per SDK
# (Rust: core/examples/full_disk_writer.rs, C: scripts/full-disk/writer.c against
# target/debug/libmodsynclog.so, Python: target/pyenv, Node: node/, Go: go/cmd/msl-full-disk),
# start together and commit numbered records, flushing every FLUSH_EVERY records with
# batches of BATCH (so each has many batches in flight when the disk fills), until commit
# or flush reports NoSpace; each checks that it came at once (not after the flush's 60 s
# timeout) and prints how many records were acknowledged.
# While the disk is full: reads of the master work, the replica keeps up, the server does
# not loop on errors. Then the filler is deleted (the store is not touched) and every
# writer flushes until its kept records are delivered and commits 200 more. At the end
# every record of every writer is in the store exactly once and in order, `verify` is clean
# on master and replica, and the replica's day folders are byte-identical to the master's.
#
# Needs the debug server and client, libmodsynclog.so, the Python venv (python/test.sh) and
# the Node addon (node/test.sh); builds the Rust example (unless MSL_SKIP_BUILD=1) and the Go
# writer (skipped, with a note, when `go` is not installed). Always unmounts and stops what
# it started. Ends with `full-disk: N passed, M failed`; exits non-zero on failure.
#
# Env: FULL_DISK_BATCH (records per batch, default 50), FULL_DISK_FLUSH_EVERY (default
# 1000; 50 with the default batch puts a single batch in flight), FULL_DISK_PAD (payload
# bytes after the record's number, default 400), FULL_DISK_SIZE_MB / FULL_DISK_FILLER_MB
# (16 / 10), FULL_DISK_LOGS (a folder to copy the logs and outputs into).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
bin="$root/target/debug"
py="$root/target/pyenv/bin/python"
export MODSYNCLOG_NODE="$root/node"
SIZE_MB="${FULL_DISK_SIZE_MB:-16}"
FILLER_MB="${FULL_DISK_FILLER_MB:-10}"
PAD="${FULL_DISK_PAD:-400}"
BATCH="${FULL_DISK_BATCH:-50}"
FLUSH_EVERY="${FULL_DISK_FLUSH_EVERY:-1000}"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $*"; }
bad() { failed=$((failed + 1)); echo "FAIL - $*"; }
step() { printf '\n==> %s\n' "$*"; }
finish() {
    echo
    echo "full-disk: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
skip() {
    echo "full-disk: skipped: $*"
    exit 0
}

if [ "$(id -u)" != 0 ]; then
    skip "not running as root (uid $(id -u)): mounting a small tmpfs needs root"
fi

tmp="$(mktemp -d)"
disk="$tmp/disk"
mkdir -p "$disk"
mounted=""
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ -n "${FULL_DISK_LOGS:-}" ]; then
        mkdir -p "$FULL_DISK_LOGS" && cp "$tmp"/*.log "$tmp"/*.out "$tmp"/*.err "$tmp"/*.txt "$FULL_DISK_LOGS"/ 2>/dev/null
        cp -r "$disk/store" "$FULL_DISK_LOGS/master" 2>/dev/null
        cp -r "$tmp/replica" "$FULL_DISK_LOGS/replica" 2>/dev/null
    fi
    if [ -n "$mounted" ]; then
        umount "$disk" 2>/dev/null || umount -l "$disk" || echo "full-disk: could not unmount $disk"
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! mount_err="$(mount -t tmpfs -o "size=${SIZE_MB}m" tmpfs "$disk" 2>&1)"; then
    skip "mount -t tmpfs failed: $mount_err"
fi
mounted=1
echo "tmpfs of $SIZE_MB MiB on $disk"

step "build and check the writers"
for f in "$bin/modsynclog-server" "$bin/modsynclog-client" "$bin/libmodsynclog.so" "$py"; do
    [ -e "$f" ] || { bad "missing $f (build the workspace, run python/test.sh)"; finish; }
done
ls "$root"/node/*.node >/dev/null 2>&1 || { bad "the Node addon is not built (run node/test.sh)"; finish; }
if [ "${MSL_SKIP_BUILD:-0}" != 1 ]; then
    cargo build -q -p modsynclog-core --example full_disk_writer || { bad "cargo build --example full_disk_writer"; finish; }
fi
[ -x "$bin/examples/full_disk_writer" ] || { bad "missing $bin/examples/full_disk_writer"; finish; }
gcc -std=c11 -Wall -Wextra -Werror -pedantic -I "$root/ffi-c/include" -o "$tmp/writer-c" "$here/full-disk/writer.c" \
    -L "$bin" -lmodsynclog -Wl,-rpath,"$bin" || { bad "compile scripts/full-disk/writer.c"; finish; }
"$py" -c 'import modsynclog; modsynclog.NoSpaceError' 2>/dev/null \
    || { bad "$py has no modsynclog with NoSpaceError (run python/test.sh)"; finish; }
langs=(rust c python node)
if command -v go >/dev/null 2>&1; then
    (cd "$root/go" && go build -o "$tmp/writer-go" ./cmd/msl-full-disk) || { bad "go build ./cmd/msl-full-disk"; finish; }
    langs+=(go)
else
    echo "note: go is not installed: the Go SDK is not part of this run"
fi
ok "writers built: ${langs[*]}"

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
count() { "$bin/modsynclog-client" read --dir "$1" --format text 2>/dev/null | wc -l; }
# Waits up to $1 tenths of a second for the replica to hold as many records as the master
# (a producer's retry may still store a batch: the master is counted each time); sets
# `got` and `master_n`.
wait_replica() {
    for _ in $(seq "$1"); do
        master_n=$(count "$store")
        got=$(count "$replica")
        [ "$got" -eq "$master_n" ] && return
        sleep 0.1
    done
}
avail_kib() { df -k --output=avail "$disk" | tail -1 | tr -d ' '; }

step "fill the tmpfs: a $FILLER_MB MiB filler, then the store"
dd if=/dev/zero of="$disk/filler" bs=1M count="$FILLER_MB" status=none || { bad "write the filler"; finish; }
echo "free on the tmpfs before the server starts: $(avail_kib) KiB"
store="$disk/store"
replica="$tmp/replica"
grpc=$(free_port)
"$bin/modsynclog-server" --data-dir "$store" --grpc-addr "127.0.0.1:$grpc" --sync-addr off --fsync batch --utc \
    >"$tmp/server.log" 2>&1 &
server=$!
pids+=("$server")
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$grpc") 2>/dev/null && break; sleep 0.05; done
(exec 3<>"/dev/tcp/127.0.0.1/$grpc") 2>/dev/null || { cat "$tmp/server.log"; bad "the server did not start"; finish; }
"$bin/modsynclog-client" sync --server "127.0.0.1:$grpc" --dir "$replica" --utc >"$tmp/replica.log" 2>&1 &
pids+=($!)
echo "server pid $server on 127.0.0.1:$grpc, store $store; replica in $replica"

step "five SDKs commit until the server reports NoSpace (batches of $BATCH, a flush every $FLUSH_EVERY)"
signals="$tmp/signals"
mkdir -p "$signals"
declare -A wpid
for lang in "${langs[@]}"; do
    case $lang in
    rust) cmd=("$bin/examples/full_disk_writer") ;;
    c) cmd=("$tmp/writer-c") ;;
    python) cmd=("$py" "$here/full-disk/writer.py") ;;
    node) cmd=(node "$here/full-disk/writer.mjs") ;;
    go) cmd=("$tmp/writer-go") ;;
    esac
    "${cmd[@]}" "127.0.0.1:$grpc" "$lang" "$signals" "$PAD" "$BATCH" "$FLUSH_EVERY" >"$tmp/$lang.out" \
        2>"$tmp/$lang.err" &
    wpid[$lang]=$!
    pids+=($!)
done
# Waits up to $3 tenths of a second for writer $1 to print a line matching $2 (or FAIL),
# or to exit.
wait_writer() {
    for _ in $(seq "$3"); do
        grep -qE "$2|^FAIL" "$tmp/$1.out" && return
        kill -0 "${wpid[$1]}" 2>/dev/null || return
        sleep 0.1
    done
}
# All start at once: each says "ready" once its SDK is up, then waits for $signals/start.
for lang in "${langs[@]}"; do
    wait_writer "$lang" '^[a-z]+: ready' 600
    grep -qE '^[a-z]+: ready' "$tmp/$lang.out" || { cat "$tmp/$lang.out" "$tmp/$lang.err"; bad "$lang writer did not start"; }
done
touch "$signals/start"
# Each writer prints its NoSpace line (or FAIL, or exits) and then waits for $signals/freed.
for lang in "${langs[@]}"; do
    wait_writer "$lang" 'acknowledged before the error' 1800
    line="$(grep -E 'acknowledged before the error' "$tmp/$lang.out")"
    if [ -n "$line" ] && ! grep -q '^FAIL' "$tmp/$lang.out"; then
        ok "$line"
        sed -n 's/^[a-z]*: message: /    message: /p' "$tmp/$lang.out"
    else
        cat "$tmp/$lang.out" "$tmp/$lang.err"
        bad "$lang: no NoSpace from commit or flush"
    fi
done
echo "free on the tmpfs now: $(avail_kib) KiB"

step "while the disk is full: reads, the replica, the server"
master_n=$(count "$store")
if "$bin/modsynclog-client" read --dir "$store" --format text >"$tmp/read-full.txt" 2>"$tmp/read-full.err" \
    && [ "$master_n" -gt 0 ]; then
    ok "modsynclog-client read of the master prints its $master_n records (first: $(head -c 60 "$tmp/read-full.txt"))"
else
    cat "$tmp/read-full.err"
    bad "modsynclog-client read of the full master failed"
fi
wait_replica 300
[ "$got" -eq "$master_n" ] && ok "the replica keeps up: $got records, as many as the master" \
    || bad "the replica holds $got records, the master $master_n"
before=$(wc -l <"$tmp/server.log")
sleep 5
grown=$(($(wc -l <"$tmp/server.log") - before))
# Five producers retry at 1, 2, 4, 8, 10 s: a handful of failed appends in 5 s, not a loop.
[ "$grown" -le 60 ] && ok "no error loop: the server logged $grown lines in 5 s of full disk" \
    || { tail -20 "$tmp/server.log"; bad "the server logged $grown lines in 5 s of full disk"; }
kill -0 "$server" 2>/dev/null && ok "the server is running" || bad "the server died on the full disk"
n_nospace=$(grep -c "disk is full" "$tmp/server.log")
echo "server log: $n_nospace lines say the disk is full; the first:"
grep -m1 "disk is full" "$tmp/server.log" | cut -c1-300

step "free space (delete the filler) and resume"
rm -f "$disk/filler"
echo "free on the tmpfs: $(avail_kib) KiB"
touch "$signals/freed"
declare -A total
for lang in "${langs[@]}"; do
    waited=0
    while kill -0 "${wpid[$lang]}" 2>/dev/null && [ $waited -lt 1200 ]; do sleep 0.1; waited=$((waited + 1)); done
    kill -0 "${wpid[$lang]}" 2>/dev/null && { echo "$lang: still running after 120 s: killed"; kill -KILL "${wpid[$lang]}"; }
    wait "${wpid[$lang]}"
    rc=$?
    result="$(grep '^RESULT' "$tmp/$lang.out")"
    if [ $rc -eq 0 ] && [ -n "$result" ]; then
        ok "$(grep 'delivered the' "$tmp/$lang.out")"
        echo "    $result"
        total[$lang]="$(sed -E 's/.* total=([0-9]+).*/\1/' <<<"$result")"
    else
        cat "$tmp/$lang.out" "$tmp/$lang.err"
        bad "$lang: ingest did not resume (exit $rc)"
        total[$lang]=-1
    fi
done

step "every acknowledged record exactly once; verify; replica identical"
wait_replica 600
[ "$got" -eq "$master_n" ] && ok "the replica caught up: $got records" || bad "the replica holds $got of $master_n records"
"$bin/modsynclog-client" read --dir "$store" --format text >"$tmp/master.txt" || bad "read the master"
expect=""
for lang in "${langs[@]}"; do expect+="$lang=${total[$lang]} "; done
if "$py" - "$tmp/master.txt" "$PAD" $expect <<'EOF'; then
import sys
path, pad, wanted = sys.argv[1], int(sys.argv[2]), dict(a.split("=") for a in sys.argv[3:])
types = {"c": 11, "python": 12, "node": 13, "rust": 14, "go": 15}
fill = {"c": "c", "python": "p", "node": "n", "rust": "r", "go": "g"}
seen = {lang: [] for lang in wanted}
problems = []
for n, line in enumerate(open(path, encoding="utf-8"), 1):
    _date, _id, _time, ty, payload = line.rstrip("\n").split(" ", 4)
    lang, i, rest = payload.split(":", 2)
    if lang not in seen or int(ty) != types[lang] or rest != fill[lang] * pad:
        problems.append(f"line {n}: unexpected record {line[:80]!r}")
        continue
    seen[lang].append(int(i))
for lang, ids in seen.items():
    want = int(wanted[lang])
    if ids != list(range(want)):
        dups = len(ids) - len(set(ids))
        missing = sorted(set(range(max(want, 0))) - set(ids))
        problems.append(f"{lang}: {len(ids)} records stored, {want} acknowledged; {dups} duplicates; "
                        f"missing {missing[:10]}{'...' if len(missing) > 10 else ''}; in order: {ids == sorted(ids)}")
    else:
        print(f"{lang}: records 0..{want - 1} stored once each, in order")
for p in problems[:20]:
    print(p)
sys.exit(1 if problems else 0)
EOF
    ok "every acknowledged record of every SDK is in the store exactly once, in commit order"
else
    bad "the store does not hold exactly the acknowledged records"
fi
for dir in "$store" "$replica"; do
    if "$bin/modsynclog-client" verify --dir "$dir" >"$tmp/verify.log" 2>&1; then
        ok "modsynclog-client verify --dir $dir: clean"
    else
        cat "$tmp/verify.log"
        bad "modsynclog-client verify --dir $dir"
    fi
done
(cd "$store" && find . -path ./.modsynclog -prune -o -type f -print | sort | xargs sha256sum) >"$tmp/master.sum"
(cd "$replica" && find . -type f | sort | xargs sha256sum) >"$tmp/replica.sum"
if cmp -s "$tmp/master.sum" "$tmp/replica.sum"; then
    ok "the replica's day folders are byte-identical to the master's ($(wc -l <"$tmp/master.sum") files)"
else
    diff "$tmp/master.sum" "$tmp/replica.sum" | head
    bad "the replica differs from the master"
fi
drops=$(grep -c "native replica dropped" "$tmp/server.log")
if [ "$drops" -gt 0 ]; then
    echo "note: the sync service dropped the replica $drops times (it reconnected); the first:"
    grep -m1 "native replica dropped" "$tmp/server.log" | cut -c1-300
fi
if grep -q "panicked" "$tmp/server.log"; then
    grep -m3 -A3 "panicked" "$tmp/server.log"
    bad "the server panicked"
fi
kill -TERM "$server"
if wait "$server"; then ok "the server stopped cleanly"; else bad "the server exited with $?"; fi
finish

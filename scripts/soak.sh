#!/usr/bin/env bash
# kill -9 soak: one server (--fsync batch), three producers writing at once through the C,
# Python and Rust SDKs (each one exactly-once producer identity), and two replicas (native
# gRPC sync and the legacy sync socket) following it. The server is killed with SIGKILL
# ROUNDS times at random moments and restarted on the same ports and folder; the SDKs and
# the replicas reconnect and resend by themselves. At the end every record of every
# producer must be in the master exactly once and in commit order, both replicas' day
# folders must be byte-identical to the master's, and `verify` must be clean on all three.
#
# Usage: scripts/soak.sh ROUNDS [RECORDS_PER_PRODUCER]
#   ROUNDS                server kills (5: the short CI mode, well under 2 minutes)
#   RECORDS_PER_PRODUCER  the least each producer commits (default 3000); producers keep
#                         committing until the last kill is done, so every kill hits them
#                         while they write
# Environment: SOAK_RATE records per second per producer (default 2000); SOAK_SEED seeds
# the random crash points (default: random, printed); SOAK_KEEP=1 keeps the temp folder;
# SOAK_CHECK_EXTRA=C|PY|RS makes the checker expect one record more (to see it fail).
# Needs the debug build (`cargo build --workspace`) and the Python venv (python/test.sh).
# Ends with `soak: R kills, N records from 3 producers, ... passed` or a `soak: FAIL` line.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

rounds="${1:-}"
per="${2:-3000}"
if ! [[ "$rounds" =~ ^[0-9]+$ && "$per" =~ ^[0-9]+$ ]] || [ "$rounds" -lt 1 ]; then
    echo "usage: scripts/soak.sh ROUNDS [RECORDS_PER_PRODUCER]" >&2
    exit 2
fi
rate="${SOAK_RATE:-2000}"
seed="${SOAK_SEED:-$(( $(date +%s%N) % 32768 ))}"
RANDOM="$seed"
bin="$root/target/debug"
py="$root/target/pyenv/bin/python"
# The server logs at info (its recoveries and deduplicated resends are the soak's evidence),
# the clients at warn, the Rust producer at info (it reports its resends).
server_log_level="${SOAK_SERVER_LOG:-info}"
export RUST_LOG="${RUST_LOG:-warn}"
started_at=$(date +%s)

tmp="$(mktemp -d "${TMPDIR:-/tmp}/modsynclog-soak.XXXXXX")"
master="$tmp/master"
stop="$tmp/stop"
server=""
pids=()
declare -A role # pid -> what it is, for everything that must keep running between kills
cleanup() {
    [ -n "$server" ] && kill -KILL "$server" 2>/dev/null
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    [ -n "$server" ] && wait "$server" 2>/dev/null
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    if [ "${SOAK_KEEP:-0}" = 1 ]; then echo "soak: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'echo "soak: FAIL: interrupted"; exit 130' INT TERM

show_logs() {
    local f
    for f in "$tmp"/*.log; do
        [ -s "$f" ] || continue
        echo "---- $(basename "$f") (last 40 lines) ----"
        tail -n 40 "$f"
    done
}
fail() {
    echo "soak: FAIL: $*"
    show_logs
    echo "soak: FAIL: $* (seed $seed; SOAK_SEED=$seed SOAK_KEEP=1 to rerun and keep the files)"
    exit 1
}
note() { echo "soak: $*"; }

# Records in a store: the sum of its day folders' index sizes / 12 (whole entries only).
count() {
    local total=0 f
    for f in "$1"/[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]/index; do
        [ -f "$f" ] && total=$((total + $(stat -c %s "$f") / 12))
    done
    echo "$total"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# wait_for SECONDS COMMAND...: polls COMMAND every 20 ms; false when the bound runs out.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.02
    done
}
alive() { kill -0 "$1" 2>/dev/null; }
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Everything that must keep running between kills.
check_children() {
    local p
    for p in "${!role[@]}"; do
        alive "$p" || { wait "$p"; fail "${role[$p]} exited (status $?) while the soak was running"; }
    done
}

for f in "$bin/modsynclog-server" "$bin/modsynclog-client" "$bin/libmodsynclog.so" "$root/ffi-c/include/modsynclog.h" "$py"; do
    [ -e "$f" ] || fail "missing $f (run cargo build --workspace, then python/test.sh)"
done
"$py" -c 'import modsynclog' 2>/dev/null || fail "the modsynclog Python module is not installed in $py (run python/test.sh)"
# Private links to the binaries: a rebuild of target/ during the soak (cargo replaces the
# files) cannot mix two versions of the server across restarts.
mkdir "$tmp/bin"
for f in modsynclog-server modsynclog-client libmodsynclog.so; do
    ln "$bin/$f" "$tmp/bin/$f" 2>/dev/null || cp "$bin/$f" "$tmp/bin/$f" || fail "copy $bin/$f"
done
bin="$tmp/bin"
gcc -std=c11 -O1 -Wall -Wextra -Werror -I "$root/ffi-c/include" -L "$bin" -Wl,-rpath,"$bin" \
    -o "$tmp/producer-c" "$here/soak/producer.c" -lmodsynclog 2>"$tmp/gcc.log" || fail "compile scripts/soak/producer.c"

grpc=$(free_port)
sync=$(free_port)
while [ "$sync" = "$grpc" ]; do sync=$(free_port); done
addr="127.0.0.1:$grpc"
starts=0
start_server() {
    starts=$((starts + 1))
    echo "==== start $starts ($(date -u +%T.%N)) records=$(count "$master")" >>"$tmp/server.log"
    RUST_LOG="$server_log_level" "$bin/modsynclog-server" --data-dir "$master" --grpc-addr "$addr" --sync-addr "127.0.0.1:$sync" \
        --fsync batch --utc >>"$tmp/server.log" 2>&1 &
    server=$!
    server_up() {
        alive "$server" || return 0
        port_open "$grpc" && port_open "$sync"
    }
    wait_for 30 server_up || fail "server start $starts: its ports did not accept within 30 s"
    alive "$server" || { wait "$server"; fail "server start $starts: the server exited (status $?)"; }
}

note "seed $seed, $rounds rounds, at least $per records per producer at $rate/s each, in $tmp"
start_server
"$bin/modsynclog-client" sync --server "$addr" --dir "$tmp/replica-native" --utc >"$tmp/replica-native.log" 2>&1 &
pids+=($!); role[$!]="the native replica"
"$bin/modsynclog-client" sync --protocol legacy --server "127.0.0.1:$sync" --dir "$tmp/replica-legacy" --utc \
    >"$tmp/replica-legacy.log" 2>&1 &
pids+=($!); role[$!]="the legacy replica"

"$tmp/producer-c" "$addr" "$per" "$stop" "$tmp/count.C" "$rate" >"$tmp/producer-c.log" 2>&1 &
pc=$!; pids+=("$pc"); role[$pc]="the C producer"
PYTHONPATH="$here/soak" "$py" "$here/soak/producer.py" "$addr" "$per" "$stop" "$tmp/count.PY" "$rate" \
    >"$tmp/producer-py.log" 2>&1 &
ppy=$!; pids+=("$ppy"); role[$ppy]="the Python producer"
mkfifo "$tmp/rs.fifo"
PYTHONPATH="$here/soak" "$py" "$here/soak/lines.py" "$per" "$stop" "$tmp/count.RS" "$rate" >"$tmp/rs.fifo" 2>"$tmp/lines-rs.log" &
plines=$!; pids+=("$plines"); role[$plines]="the Rust producer's line feeder"
RUST_LOG=info "$bin/modsynclog-client" send --server "$addr" --type 23 "$tmp/rs.fifo" >"$tmp/producer-rs.log" 2>&1 &
prs=$!; pids+=("$prs"); role[$prs]="the Rust producer (modsynclog-client send)"

# The kills. Most rounds wait until the restarted server has stored new records (the
# producers reconnected and write again); every fourth waits only for its ports to accept
# (a crash during reconnects, resends and recovery). Then a random 0-300 ms, then SIGKILL.
kills=0
for ((r = 1; r <= rounds; r++)); do
    check_children
    before=$(count "$master")
    if ((r % 4 == 0)); then
        what="ports accept"
    else
        what="records grew past $before"
        grown() { [ "$(count "$master")" -gt "$before" ]; }
        wait_for 30 grown || fail "round $r: no new record stored within 30 s of restart $starts (still $(count "$master"))"
    fi
    delay=$((RANDOM % 301))
    sleep "$(printf '0.%03d' "$delay")"
    alive "$server" || { wait "$server"; fail "round $r: the server exited by itself (status $?)"; }
    kill -KILL "$server"
    wait "$server" 2>/dev/null
    kills=$((kills + 1))
    echo "==== kill $kills: after $what + ${delay} ms, records=$(count "$master")" >>"$tmp/server.log"
    start_server
done
killed_at=$(date +%s)
check_children
note "$kills kills done in $((killed_at - started_at)) s, $(count "$master") records stored; stopping the producers"

# The end: producers stop, flush and exit 0; the replicas catch up.
touch "$stop"
for p in "$pc" "$ppy" "$plines" "$prs"; do
    gone() { ! alive "$p"; }
    wait_for 180 gone || fail "${role[$p]} did not finish within 180 s of the stop"
    wait "$p"
    rc=$?
    [ "$rc" -eq 0 ] || fail "${role[$p]} exited with status $rc"
    unset "role[$p]"
done
alive "$server" || fail "the server exited after the last restart"
total=$(count "$master")
for r in native legacy; do
    caught_up() { [ "$(count "$tmp/replica-$r")" -eq "$total" ]; }
    wait_for 120 caught_up || fail "the $r replica has $(count "$tmp/replica-$r") of $total records after 120 s"
done
check_children
for p in "${!role[@]}"; do kill -TERM "$p"; wait "$p" 2>/dev/null; unset "role[$p]"; done
kill -TERM "$server"
wait "$server" 2>/dev/null
server=""
[ "$(count "$master")" -eq "$total" ] || fail "the master changed after the producers stopped: $total, then $(count "$master") records"

read -r nc <"$tmp/count.C" && read -r npy <"$tmp/count.PY" && read -r nrs <"$tmp/count.RS" \
    || fail "a producer did not write its count"
PYTHONPATH="$here/soak" "$py" "$here/soak/check.py" "$master" "C=$nc" "PY=$npy" "RS=$nrs" >"$tmp/check.log" 2>&1
rc=$?
sed 's/^/soak: /' "$tmp/check.log"
[ "$rc" -eq 0 ] || fail "the master store does not hold every record exactly once in commit order"
[ "$total" -eq $((nc + npy + nrs)) ] || fail "the master holds $total records, the producers committed $((nc + npy + nrs))"

days() { (cd "$1" && ls -d [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9] 2>/dev/null); }
mdays=$(days "$master")
[ -n "$mdays" ] || fail "the master has no day folder"
for r in native legacy; do
    [ "$(days "$tmp/replica-$r")" = "$mdays" ] || fail "the $r replica's day folders ($(days "$tmp/replica-$r" | xargs)) differ from the master's ($(echo $mdays))"
    for d in $mdays; do
        diff -r "$master/$d" "$tmp/replica-$r/$d" >"$tmp/diff-$r.log" 2>&1 || fail "the $r replica's $d differs from the master's: $(head -5 "$tmp/diff-$r.log")"
    done
done
for d in "$master" "$tmp/replica-native" "$tmp/replica-legacy"; do
    "$bin/modsynclog-client" verify --dir "$d" >"$tmp/verify.log" 2>&1 || fail "verify $d: $(cat "$tmp/verify.log")"
done

# What the kills exercised, from the server's log and the Rust producer's (the C and
# Python SDKs do not log).
sum_of() { grep -o "$1=[0-9]*" "$2" | awk -F= '{ s += $2 } END { print s + 0 }'; }
note "server: $(grep -c 'recovered:' "$tmp/server.log") torn tails cut at restart," \
    "$(grep -c 'restored from the journal' "$tmp/server.log") groups' index entries restored from the journal," \
    "$(sum_of dropped "$tmp/server.log") journal entries of unstored batches dropped," \
    "$(sum_of dup_batches "$tmp/server.log") resent batches ($(sum_of dup_records "$tmp/server.log") records) recognised as stored and not stored again;" \
    "Rust producer: $(grep 'resending unacknowledged' "$tmp/producer-rs.log" | sum_of batches -) batches resent after reconnects"

ended_at=$(date +%s)
bytes=$(cat "$master"/[0-9]*/* | wc -c)
note "$kills kills, $total records from 3 producers (C $nc, Python $npy, Rust $nrs), 0 duplicates, 0 missing," \
    "in commit order; native and legacy replicas byte-identical ($(echo $mdays | wc -w) day folders, $bytes bytes);" \
    "verify clean x3; $starts server starts, $((ended_at - started_at)) s: passed"

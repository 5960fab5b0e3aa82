#!/usr/bin/env bash
# Runs the examples of every language (quickstart, follower, producer in Rust, C, Python,
# Node and Go: core/examples, examples/c, python/examples, node/examples, go/examples)
# against one debug server on a free 127.0.0.1 port with a temporary folder, and checks
# what they did, not only their exit status:
#   quickstart  the store holds exactly 3 more records, the ones it committed;
#   follower    started first (ready once it printed `following`), it prints exactly the
#               20 records a producer commits meanwhile, as the store has them, then exits;
#               another one, stopped by SIGINT (Ctrl-C), exits 0;
#   producer    the store holds exactly its 20 records, in order; against a second server
#               with --token it stores with MODSYNCLOG_TOKEN right, and exits 3 (refused
#               credentials, final) with it wrong, storing nothing.
# Needs what the other steps of scripts/test.sh build: target/debug (cargo test
# --workspace: the server, the client, the Rust examples, libmodsynclog), the Python venv
# target/pyenv (python/test.sh), the Node addon (node/test.sh); Go when installed.
# Prints PASS/FAIL lines and `examples: N passed, M failed`; exits non-zero on a failure.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="$root/target/debug"
py="$root/target/pyenv/bin/python"
N=20
unset MODSYNCLOG_TOKEN MODSYNCLOG_CA MODSYNCLOG_DIR # the server and client read them too

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "PASS $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
    echo "examples: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
tmp="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_server NAME DATA [FLAGS...]: a server on a free port, waited for; sets $addr.
start_server() {
    local name="$1" data="$2" port
    shift 2
    port="$(free_port)"
    "$bin/modsynclog-server" --data-dir "$data" --grpc-addr "127.0.0.1:$port" --sync-addr off --fsync never \
        --utc "$@" >"$tmp/$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { cat "$tmp/$name.log"; bad "the $name server did not start"; finish; }
    addr="127.0.0.1:$port"
}

# The last COUNT records of a store, as the followers print them: `date id type len
# payload` (printable ASCII as text, else hex:...).
last_records() {
    "$bin/modsynclog-client" read --dir "$1" | tail -n "$2" | python3 -c '
import base64, json, sys
for line in sys.stdin:
    r = json.loads(line)
    d = base64.b64decode(r["data_b64"])
    text = d.decode() if all(0x20 <= b < 0x7F for b in d) else "hex:" + d.hex()
    print(r["date"], r["id"], r["type"], len(d), text)'
}
count() { "$bin/modsynclog-client" read --dir "$1" 2>/dev/null | wc -l; }

# wait_following PID ERRFILE: until the follower printed `following` (false if it died).
wait_following() {
    for _ in $(seq 300); do
        grep -q '^following' "$2" && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# wait_exit PID SECONDS: its exit status, or 124 (and killed) when it runs longer.
wait_exit() {
    timeout "$2" tail --pid="$1" -f /dev/null || { kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 124; }
    wait "$1"
}

# example LANG NAME ARGS...: runs that language's example. For one in the background,
# `command_of LANG NAME; "${cmd[@]}" ARGS... &` gives its own pid in $! (to signal it).
command_of() { # LANG NAME: sets the array $cmd
    case "$1" in
    rust) cmd=("$bin/examples/$2") ;;
    c) cmd=("$tmp/c/$2") ;;
    python) cmd=("$py" "python/examples/$2.py") ;;
    node) cmd=(node "node/examples/$2.mjs") ;;
    go) cmd=("$tmp/go/$2") ;;
    esac
}
example() {
    local cmd
    command_of "$1" "$2"
    shift 2
    "${cmd[@]}" "$@"
}

langs=()
for e in quickstart follower producer; do
    [ -x "$bin/examples/$e" ] || { bad "rust: missing $bin/examples/$e (cargo test --workspace builds it)"; finish; }
done
langs+=(rust)
mkdir -p "$tmp/c"
for e in quickstart follower producer; do
    gcc -std=c11 -Wall -Wextra -Werror -pedantic -I ffi-c/include -o "$tmp/c/$e" "examples/c/$e.c" \
        -L "$bin" -lmodsynclog -Wl,-rpath,"$bin" || { bad "c: compile examples/c/$e.c"; finish; }
done
langs+=(c)
[ -x "$py" ] || { bad "python: missing $py (run python/test.sh)"; finish; }
langs+=(python)
ls node/*.node >/dev/null 2>&1 || { bad "node: the addon is not built (run node/test.sh)"; finish; }
langs+=(node)
if command -v go >/dev/null; then
    (cd go && go build -o "$tmp/go/" ./examples/...) || { bad "go: go build ./examples/..."; finish; }
    langs+=(go)
else
    echo "go: not installed, its examples skipped"
fi

data="$tmp/data"
start_server main "$data"
main="$addr"
start_server token "$tmp/token-data" --token s3cret
token="$addr"
echo "servers: $main (data in $data), $token (--token)"

for lang in "${langs[@]}"; do
    log="$tmp/$lang"

    # quickstart: 3 more records, `hello from LANG i`, type 1101.
    before=$(count "$data")
    if example "$lang" quickstart "$main" >"$log.quickstart" 2>&1; then
        got="$(last_records "$data" 3 | cut -d' ' -f3,5-)"
        want="$(printf '1101 hello from %s %d\n' "$lang" 0 "$lang" 1 "$lang" 2)"
        if [ $(($(count "$data") - before)) -eq 3 ] && [ "$got" = "$want" ]; then
            ok "$lang quickstart: $(tail -1 "$log.quickstart"); the store has those 3 more records"
        else
            bad "$lang quickstart: the store has $(($(count "$data") - before)) more records, last: $got"
        fi
    else
        cat "$log.quickstart"
        bad "$lang quickstart exited with an error"
    fi

    # follower, while the producer commits N records.
    command_of "$lang" follower
    "${cmd[@]}" "$data" "$N" >"$log.follower" 2>"$log.follower.err" &
    follower=$!
    pids+=("$follower")
    wait_following "$follower" "$log.follower.err" || bad "$lang follower never printed 'following'"
    before=$(count "$data")
    if example "$lang" producer "$main" "$N" >"$log.producer" 2>&1; then
        got="$(last_records "$data" "$N" | cut -d' ' -f3,5-)"
        want="$(for i in $(seq 0 $((N - 1))); do printf '1201 {"lang":"%s","i":%d}\n' "$lang" "$i"; done)"
        if [ $(($(count "$data") - before)) -eq "$N" ] && [ "$got" = "$want" ]; then
            ok "$lang producer: $(tail -1 "$log.producer"); the store has exactly those $N records, in order"
        else
            bad "$lang producer: the store has $(($(count "$data") - before)) more records (want $N)"
        fi
    else
        cat "$log.producer"
        bad "$lang producer exited with an error"
    fi
    wait_exit "$follower" 30
    rc=$?
    if [ "$rc" -eq 0 ] && [ "$(cat "$log.follower")" = "$(last_records "$data" "$N")" ]; then
        ok "$lang follower: printed exactly the $N records committed while it ran, then stopped"
    else
        cat "$log.follower.err"
        bad "$lang follower: exit status $rc, printed $(wc -l <"$log.follower") lines (want the last $N records)"
    fi

    # follower without N, stopped by SIGINT (what Ctrl-C sends).
    command_of "$lang" follower
    "${cmd[@]}" "$data" >"$log.sigint" 2>"$log.sigint.err" &
    follower=$!
    pids+=("$follower")
    if wait_following "$follower" "$log.sigint.err" && kill -INT "$follower" && wait_exit "$follower" 10; then
        ok "$lang follower: SIGINT stops it ($(tail -1 "$log.sigint.err"))"
    else
        cat "$log.sigint.err"
        bad "$lang follower: not stopped cleanly by SIGINT"
    fi

    # producer against the --token server: the right token stores, a wrong one is final.
    before=$(count "$tmp/token-data")
    if MODSYNCLOG_TOKEN=s3cret example "$lang" producer "$token" 5 >"$log.token" 2>&1 &&
        [ $(($(count "$tmp/token-data") - before)) -eq 5 ]; then
        ok "$lang producer with MODSYNCLOG_TOKEN: 5 records stored"
    else
        cat "$log.token"
        bad "$lang producer with MODSYNCLOG_TOKEN: not stored"
    fi
    before=$(count "$tmp/token-data")
    MODSYNCLOG_TOKEN=wrong example "$lang" producer "$token" 5 >"$log.refused" 2>&1
    rc=$?
    if [ "$rc" -eq 3 ] && [ "$(count "$tmp/token-data")" -eq "$before" ]; then
        ok "$lang producer with a wrong token: exit 3 ($(tail -1 "$log.refused"))"
    else
        cat "$log.refused"
        bad "$lang producer with a wrong token: exit status $rc (want 3), $(($(count "$tmp/token-data") - before)) stored"
    fi
done
finish
